"""load_scenario / parse_scenario: valid files load with their defaults; malformed ones fail in one-line problems.

Each file in corpus/bad/ starts with ``# expect: line N: <text>`` (or ``# expect: file: <text>`` for a problem of the
whole file) comments: one per problem the loader must report, at that line, containing that text.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest

from sandbox import SandboxError, ScenarioError
from sandbox.scenarios.load import load_scenario, parse_scenario
from sandbox.scenarios.interventions import AddFacility, AddHousing, AddPark, AddTransitLine, AgePopulation, \
    CloseFacility, CloseStreets, RemoveBuildings

CORPUS = Path(__file__).parent / "corpus"
BAD = sorted((CORPUS / "bad").glob("*.yaml"))
GOOD = CORPUS / "good"
# Files that cannot carry an `# expect:` comment.
NO_COMMENT = {"empty.yaml": [(None, "the file is empty; expected a scenario with schema_version: 1, name and "
                                    "interventions")]}
EXPECT = re.compile(r"^# expect: (?:line (\d+)|file): (.+)$")


def expectations(path: Path) -> list[tuple[int | None, str]]:
    if path.name in NO_COMMENT:
        return NO_COMMENT[path.name]
    found = []
    for row in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if row.startswith("# expect:"):
            match = EXPECT.match(row)
            assert match, f"{path.name}: malformed expectation {row!r}"
            found.append((int(match.group(1)) if match.group(1) else None, match.group(2).strip()))
    return found


def problems_of(path: str | Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.problems


# --- the malformed corpus ---------------------------------------------------------------------------------------


def test_corpus_covers_enough_cases() -> None:
    assert len(BAD) >= 35
    assert sum(len(expectations(path)) >= 2 for path in BAD) >= 3
    assert all(expectations(path) for path in BAD)


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_bad_file_reports_every_problem_in_one_line(path: Path) -> None:
    where = str(path)
    problems = problems_of(path)
    shape = re.compile(rf"^{re.escape(where)}(:\d+)?: \S")
    for problem in problems:
        assert "\n" not in problem
        assert shape.match(problem), problem
    expected = expectations(path)
    for line, text in expected:
        prefix = f"{where}: " if line is None else f"{where}:{line}: "
        assert any(p.startswith(prefix) and text in p for p in problems), \
            f"no problem at {prefix!r} containing {text!r} in:\n" + "\n".join(problems)
    assert len(problems) == len(expected), "\n".join(problems)
    lines = [int(m.group(1)[1:]) for m in map(shape.match, problems) if m.group(1)]
    assert lines == sorted(lines)


def test_str_of_the_error_is_its_problems_one_per_line() -> None:
    path = CORPUS / "bad" / "many_problems_top.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == "\n".join(info.value.problems)
    assert len(info.value.problems) == 4
    assert isinstance(info.value, ValueError) and isinstance(info.value, SandboxError)


def test_problems_name_the_path_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    assert problems_of("bad/unknown_intervention_type.yaml") == [
        "bad/unknown_intervention_type.yaml:7: interventions[1].type: unknown 'close_street'; expected one of "
        "add_housing, remove_buildings, add_park, remove_park, add_facility, close_facility, close_streets, "
        "add_transit_stop, add_transit_line, change_service, close_stops, age_population, flood"]


def test_missing_file_and_folder_are_file_level_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert problems_of(missing) == [f"{missing}: file not found; expected a scenario YAML file"]
    assert problems_of(tmp_path) == [f"{tmp_path}: is a folder; expected a scenario YAML file"]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("schema_version: 1\nname: secret\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with permission to read anything (root)")
        [problem] = problems_of(path)
        assert problem.startswith(f"{path}: cannot read the file")
    finally:
        path.chmod(0o644)


def test_whitespace_only_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.yaml"
    path.write_text("\n   \n\n")
    assert problems_of(path) == [f"{path}: the file is empty; expected a scenario with schema_version: 1, name and "
                                 "interventions"]


def test_parse_scenario_names_its_source() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("schema_version: 1\nname: x\nseed: -1\n")
    assert info.value.problems == ["<string>:3: seed: -1 is too small; expected 0 or more"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario("schema_version: 1\n", source="scenarios/x.yaml")
    assert info.value.problems == ["scenarios/x.yaml:1: name: missing; required"]


def test_error_survives_pickling() -> None:
    error = ScenarioError(["a.yaml:1: name: missing; required", "a.yaml:2: seed: -1 is too small; expected 0 or more"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems and str(copy) == str(error)
    assert ScenarioError("one problem").problems == ["one problem"]


# --- valid files ------------------------------------------------------------------------------------------------


def test_minimal_file_gets_the_defaults() -> None:
    spec = load_scenario(GOOD / "minimal_defaults.yaml")
    assert (spec.name, spec.twin, spec.seed, spec.interventions) == ("baseline", "helsinki", 0, [])
    assert spec.description == ""
    assert [i.key for i in spec.indicators] == ["within-parks-walk", "nearest-care-walk"]
    assert [i.minutes for i in spec.indicators] == [[10.0], [5.0, 10.0]]
    assert spec.groups == ["all", "elderly", "elderly_alone", "children"]
    assert (spec.outputs.k, spec.outputs.allow_microdata) == (5, False)
    assert spec.base_dir == GOOD and spec.source == GOOD / "minimal_defaults.yaml"


def test_inline_area() -> None:
    spec = load_scenario(GOOD / "park_inline_area.yaml")
    [park] = spec.interventions
    assert isinstance(park, AddPark) and park.name == "Kamppi pocket park"
    assert park.shape().bounds == pytest.approx((24.935, 60.168, 24.94, 60.171))
    assert spec.description == "A new pocket park in Kamppi."


def test_area_file_resolves_next_to_the_yaml_wherever_we_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # nothing called shapes/ here
    spec = load_scenario(GOOD / "housing_area_file.yaml")
    monkeypatch.chdir(CORPUS)  # a relative path: still resolved from good/, not from the current folder
    again = load_scenario(Path("good") / "housing_area_file.yaml")
    assert again.base_dir == GOOD and again.base_dir.is_absolute()
    assert again.model_dump() == spec.model_dump()
    housing, removal = spec.interventions
    assert isinstance(housing, AddHousing) and isinstance(removal, RemoveBuildings)
    assert (housing.households, housing.levels, housing.area_file) == (120, 6, "shapes/block.geojson")
    assert housing.composition == {"elderly_alone": 0.25, "elderly_couple": 0.15, "family": 0.4, "other": 0.2}
    assert housing.shape(spec.base_dir).bounds == pytest.approx((24.930, 60.166, 24.936, 60.169))
    assert spec.seed == 7
    within, supply = spec.indicators
    assert within.minutes == [10.0]  # a single number becomes a list
    assert supply.minutes == [5.0, 15.0]  # sorted, repeats dropped
    assert supply.key == "supply-parks-area_m2-bike"


def test_parse_scenario_resolves_area_file_from_base_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (GOOD / "housing_area_file.yaml").read_text()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"<string>:7: interventions\[0\]\.area_file: file 'shapes/block.geojson' "
                                            r"not found"):
        parse_scenario(text)
    assert parse_scenario(text, base_dir=GOOD).base_dir == GOOD
    assert parse_scenario(text, source=GOOD / "elsewhere.yaml").base_dir == GOOD


def test_points_lines_ids_and_names() -> None:
    spec = load_scenario(GOOD / "at_line_ids.yaml")
    kinds = [type(i) for i in spec.interventions]
    assert kinds == [AddHousing, AddFacility, CloseStreets, RemoveBuildings, CloseFacility, AddTransitLine,
                     AgePopulation]
    housing, facility, closure, removal, closing, line, ageing = spec.interventions
    assert housing.at == (24.9405, 60.1655) and housing.floor_area_m2 == 4500 and housing.households is None
    assert housing.composition == {"other": 1.0}
    assert (facility.kind, facility.capacity) == ("elderly_centre", 40)
    assert closure.modes == ["drive"] and closure.buffer_m == 15
    assert closure.line_shape().geom_type == "LineString"
    assert removal.ids == [101, 102, 103] and closing.names == ["Kamppi health station"]
    assert [s.name for s in line.stops] == ["Hietalahti", "Kamppi"] and line.headway_min == 7.5
    assert ageing.years == 10
    assert spec.groups == ["all", "elderly_alone"] and spec.outputs.k == 10


def test_merge_keys_override_without_duplicate_errors() -> None:
    spec = load_scenario(GOOD / "anchors_and_merge_keys.yaml")
    assert [i.key for i in spec.indicators] == ["within-parks-walk", "within-parks-bike", "nearest-care-walk"]
    assert [i.minutes for i in spec.indicators] == [[10.0], [5.0, 10.0], [10.0]]


def test_byte_order_mark_is_ignored() -> None:
    assert parse_scenario("\ufeffschema_version: 1\nname: bom\n").name == "bom"
