"""Scenario runs: interventions on the tiny twin with known effects, run folders, privacy, determinism, and every
example scenario on the embedded default."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sandbox
from sandbox import ScenarioError, run_scenario
from sandbox.cli import app
from sandbox.scenarios.load import load_scenario, parse_scenario
from tests.tiny import lonlat, node_xy, square, tiny_timetable, tiny_twin

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
runner = CliRunner()


def scenario(interventions: str, indicators: str = "[{measure: nearest, to: care, minutes: [5]}]",
             groups: str = "[all, elderly]", k: int = 1):
    return parse_scenario(f"""
schema_version: 1
name: tiny-test
twin: tiny
seed: 3
interventions: {interventions}
indicators: {indicators}
groups: {groups}
outputs: {{k: {k}}}
""")


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin()


def test_closing_a_clinic_and_opening_another(tiny):
    spec = scenario(f"""
  - {{type: close_facility, names: [Clinic]}}
  - {{type: add_facility, kind: care, name: New clinic, at: {lonlat(*node_xy(3, 3))}}}""")
    run = run_scenario(spec, twin=tiny)
    before, after = run.households["nearest-care-walk"]
    assert before["travel_time_s"].to_numpy() * 1.2 == pytest.approx([300, 300, 600, 100])
    assert after["travel_time_s"].to_numpy() * 1.2 == pytest.approx([300, 300, 0, 500], abs=0.05)  # lon/lat: mm
    counts = run.results["nearest-care-walk"].to_dataset()[["gaining", "losing", "unchanged"]].sel(group="all")
    assert (int(counts["gaining"]), int(counts["losing"]), int(counts["unchanged"])) == (1, 1, 2)
    assert run.twin.layers["facilities"]["name"].tolist() == ["New clinic"]
    assert tiny.layers["facilities"]["name"].tolist() == ["Clinic"]  # the baseline is untouched


def test_street_closure_only_makes_walks_longer(tiny):
    west_street = json.dumps({"type": "LineString", "coordinates": [lonlat(*node_xy(0, 0)),
                                                                    lonlat(*node_xy(0, 1))]})
    spec = scenario(f"[{{type: close_streets, line: {west_street}, buffer_m: 5, modes: [walk]}}]")
    baseline_print = tiny._content_hash()
    run = run_scenario(spec, twin=tiny)
    before, after = (ds["travel_time_s"].to_numpy() for ds in run.households["nearest-care-walk"])
    assert after[0] * 1.2 == pytest.approx(500)  # round the closed block
    assert (after >= before - 1e-9).all()
    assert int(run.results["nearest-care-walk"]["losing"].sel(group="all")) == 1
    assert np.isinf(run.twin.travel_time_factors("walk")).sum() >= 2
    assert tiny._content_hash() == baseline_print
    assert set(run.changes["change"]) == {"walk street closed"}


def test_slowing_streets_is_a_speed_factor(tiny):
    west_street = json.dumps({"type": "LineString", "coordinates": [lonlat(*node_xy(0, 1)),
                                                                    lonlat(*node_xy(0, 2))]})
    spec = scenario(f"[{{type: close_streets, line: {west_street}, buffer_m: 5, speed_factor: 0.5, "
                    "modes: [walk]}]")
    run = run_scenario(spec, twin=tiny)
    after = run.households["nearest-care-walk"][1]["travel_time_s"].to_numpy()
    assert after[0] * 1.2 == pytest.approx(400)  # 100 m at half speed counts as 200 m


def test_new_housing_adds_households_and_demolition_displaces_them(tiny):
    spec = scenario(f"""
  - {{type: remove_buildings, ids: [1]}}
  - {{type: add_housing, area: {square(1.5, 1.5, 20)}, households: 10, levels: 2,
      composition: {{elderly_alone: 0.5, family: 0.5}}}}""")
    run = run_scenario(spec, twin=tiny)
    households = run.twin.households
    assert len(households) == 4 - 1 + 10
    new = households.iloc[3:]
    assert new["elderly_alone"].sum() == 5 and new["children"].sum() == 5
    assert (new["building_id"] == 4).all()
    counts = run.results["nearest-care-walk"].to_dataset().sel(group="all")
    assert int(counts["displaced"]) == 1 and int(counts["new"]) == 10
    assert run.summary()["effects"]["displaced_households"] == 1  # k = 1 here: nothing is too small to show
    assert run.twin.layers["buildings"].loc[4, "floor_area_m2"] == pytest.approx(1600 * 2, rel=1e-3)


def test_parks_stops_lines_and_ageing(tiny):
    spec = scenario(f"""
  - {{type: add_park, name: Corner park, area: {square(0.5, 0.5, 30)}}}
  - {{type: remove_park, names: [Block park]}}
  - {{type: add_transit_line, name: Line 9, headway_min: 6, stops: [{{at: {lonlat(*node_xy(0, 3))}, name: A}},
      {{at: {lonlat(*node_xy(3, 0))}, name: B}}]}}
  - {{type: age_population, years: 10}}""",
                    indicators="[{measure: nearest, to: parks}, {measure: nearest, to: tram, minutes: [1]}]")
    run = run_scenario(spec, twin=tiny.replace(timetable=tiny_timetable()))
    assert run.twin.layers["parks"]["name"].tolist() == ["Corner park"]
    stops = run.twin.layers["transit_stops"]
    assert stops["line"].tolist()[1:] == ["Line 9"] * 2
    assert list(run.twin.timetable.route_ids) == ["T", "new:Line 9"]
    tram = run.households["nearest-tram-walk"][1]["travel_time_s"].to_numpy()
    assert tram[0] == pytest.approx(0, abs=0.05) and tram[1] == pytest.approx(0, abs=0.05)
    ages = run.twin.households["ages"].tolist()
    assert ages == ["91", "51 49 18 15", "80 82", "40 41"]
    assert run.twin.households["n_children"].tolist() == [0, 1, 0, 0]  # the 8-year-old is 18 now


def test_problems_are_reported_together_with_file_lines(tmp_path, tiny):
    path = tmp_path / "bad.yaml"
    path.write_text(f"""schema_version: 1
name: bad
twin: tiny
interventions:
  - type: close_facility
    names: [Nowhere]
  - type: add_park
    area: {square(40, 40, 10)}
indicators:
  - {{measure: nearest, to: spa}}
groups: [all, pensioners]
""")
    with pytest.raises(ScenarioError) as caught:
        run_scenario(load_scenario(path), twin=tiny)
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith(f"{path}:5: interventions[0]: names: no facility named 'Nowhere'")
    assert problems[1].startswith(f"{path}:7: interventions[1]: area lies outside the twin")
    assert problems[2].startswith(f"{path}:10: indicators[0].to: unknown destination 'spa'")
    assert problems[3].startswith(f"{path}:11: groups[1]: unknown 'pensioners'")


def test_run_folder_is_complete_private_and_written_atomically(tiny, tmp_path, monkeypatch):
    spec = scenario("[{type: close_facility, names: [Clinic]}]", k=2)
    run = run_scenario(spec, twin=tiny)
    folder = run.write(tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == ["indicators.csv", "layers.gpkg", "manifest.json",
                                                        "map-nearest-care-walk.png", "report.html", "results.nc",
                                                        "summary.json", "zones.parquet"]
    results = sandbox.open_run(folder)
    assert results.identical(run.results)
    node = results["nearest-care-walk"].to_dataset()
    assert "household" not in node.dims and "travel_time_s" not in node and "weight" not in node
    hidden = node["suppressed"].to_numpy()
    assert hidden.any()  # every tiny zone holds one household: below k = 2
    share = node["share_reaching"].sel(minutes=5).transpose("side", "group", "zone").to_numpy()
    assert np.isnan(share[:, hidden]).all()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["twin_fingerprint"] == tiny.fingerprint() and manifest["seed"] == 3
    assert manifest["packages"]["numpy"] and manifest["microdata_written"] is False
    assert set(manifest["timings_s"]) == {"load_s", "plan_s", "apply_s", "indicators_s", "compare_s", "write_s"}
    layers = gpd.list_layers(folder / "layers.gpkg")["name"].tolist()
    assert {"nearest-care-walk_baseline", "nearest-care-walk_scenario", "nearest-care-walk_change"} <= set(layers)
    with_microdata = run.write(tmp_path / "micro", allow_microdata=True)
    assert (with_microdata / "households.csv").is_file()
    # A failure half-way leaves neither the folder nor its staging copy.
    monkeypatch.setattr("sandbox.output.folders.write_layers", lambda *args, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run.write(tmp_path / "broken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["micro", "out"]


def test_one_name_per_indicator_everywhere(tiny, tmp_path):
    spec = scenario("[{type: close_facility, names: [Clinic]}]", k=1)
    folder = run_scenario(spec, twin=tiny).write(tmp_path / "out")
    key = "nearest-care-walk"
    summary = json.loads((folder / "summary.json").read_text())
    table = pd.read_csv(folder / "indicators.csv")
    zones = gpd.read_parquet(folder / "zones.parquet")
    layers = gpd.list_layers(folder / "layers.gpkg")["name"].tolist()
    report = (folder / "report.html").read_text()
    assert list(summary["indicators"]) == [key] and set(table["indicator"]) == {key}
    assert set(zones["indicator"]) == {key} and list(sandbox.open_run(folder).children) == [key]
    zone_layers = [name for name in layers if name not in ("layer_styles", "interventions")]
    assert zone_layers == [f"{key}_{side}" for side in ("baseline", "scenario", "change")]
    assert f'value="{key}"' in report
    assert "<h1>What if: tiny-test</h1>" in report and "<title>tiny-test: scenario report</title>" in report
    for text in (json.dumps(summary), ",".join(layers), ",".join(table["variable"].unique())):
        assert "__" not in text and "nearest_care_walk" not in text
    assert "nearest_care_walk" not in report and f"{key}__" not in report


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_example_scenario_runs(path, helsinki):
    spec = load_scenario(path)
    twin = helsinki if spec.twin == "helsinki" else None  # others (synthetic towns) load by their reference
    before = helsinki._content_hash()
    run = run_scenario(spec, twin=twin)
    summary = run.summary()
    assert summary["interventions"] and set(summary["indicators"]) == {i.key for i in run.scenario.indicators}
    assert helsinki._content_hash() == before
    assert run.twin.fingerprint() != run.baseline.fingerprint()


def test_expected_direction_of_the_examples(helsinki):
    closure = run_scenario(load_scenario(SCENARIOS[[p.stem for p in SCENARIOS].index("clinic-closure")]),
                           twin=helsinki).summary()["indicators"]["nearest-care-walk"]["groups"]["all"]
    assert closure["gaining"] == 0 and closure["losing"] > 0
    tram = run_scenario(load_scenario(SCENARIOS[[p.stem for p in SCENARIOS].index("transit-tram-kruununhaka")]),
                        twin=helsinki).summary()["indicators"]["nearest-care-transit"]["groups"]["elderly"]
    assert tram["losing"] == 0 and tram["gaining"] > 0
    reach = tram["share_reaching"]["10"]
    assert reach["scenario"] > reach["baseline"]
    cut = run_scenario(load_scenario(SCENARIOS[[p.stem for p in SCENARIOS].index("transit-service-cut")]),
                       twin=helsinki).summary()["indicators"]["nearest-care-transit"]["groups"]["all"]
    assert cut["gaining"] == 0 and cut["losing"] > 0


def test_two_runs_write_identical_results(helsinki, tmp_path):
    path = SCENARIOS[[p.stem for p in SCENARIOS].index("pocket-park-kruununhaka")]
    digests = []
    for name in ("a", "b"):
        folder = run_scenario(load_scenario(path), twin=helsinki).write(tmp_path / name)
        digests.append([hashlib.sha256((folder / f).read_bytes()).hexdigest()
                        for f in ("results.nc", "indicators.csv", "summary.json", "zones.parquet")])
    assert digests[0] == digests[1]


def test_cli_check_and_run(helsinki, tmp_path):
    result = runner.invoke(app, ["check", *map(str, SCENARIOS)])
    assert result.exit_code == 0, result.output
    assert "close_facility: Diacor Keskusta (care), Mehiläinen (care)" in result.stdout
    path = SCENARIOS[[p.stem for p in SCENARIOS].index("clinic-closure")]
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "clinic-closure" / "report.html").is_file()
    assert "worse off" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: Bad Name\ninterventions:\n  - type: close_street\n")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {bad}:") for line in lines)
    assert not (tmp_path / "never").exists()
    assert runner.invoke(app, ["check", str(bad)]).exit_code == 2


def test_compare_runs_side_by_side_and_refuses_mismatches(helsinki, tmp_path):
    paths = {p.stem: p for p in SCENARIOS}
    first = run_scenario(load_scenario(paths["clinic-closure"]), twin=helsinki)
    second = run_scenario(load_scenario(paths["combined-care-plan"]), twin=helsinki)
    folders = [first.write(tmp_path / "a"), second.write(tmp_path / "b")]
    from sandbox import compare_runs

    comparison = compare_runs(folders)
    node = comparison.results["nearest-care-walk"].to_dataset()
    share = node["share_reaching"]
    assert list(share["scenario"].to_numpy()) == ["baseline", "clinic-closure", "combined-care-plan"]
    hidden = node["suppressed"].transpose("group", "zone").to_numpy()
    assert np.isnan(share.sel(minutes=5).transpose("scenario", "group", "zone").to_numpy()[:, hidden]).all()
    assert comparison.names == ["clinic-closure", "combined-care-plan"]
    in_memory = compare_runs([first, second])
    assert in_memory.results.identical(comparison.results)
    result = runner.invoke(app, ["compare", *map(str, folders), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "clinic-closure" in page and "combined-care-plan" in page and "createDeck" in page
    seeded = load_scenario(paths["senior-housing-kamppi"])  # seed 7, the others 1
    other = run_scenario(seeded, twin=helsinki).write(tmp_path / "c")
    refused = runner.invoke(app, ["compare", str(folders[0]), str(other), "--out", str(tmp_path / "no")])
    assert refused.exit_code == 2
    assert "differ in seed (clinic-closure: 1, senior-housing-kamppi: 7)" in refused.stderr
    assert not (tmp_path / "no").exists()
    forced = runner.invoke(app, ["compare", str(folders[0]), str(other), "--force", "--out", str(tmp_path / "f")])
    assert forced.exit_code == 0, forced.output
    missing = runner.invoke(app, ["compare", str(tmp_path), str(folders[0])])
    assert missing.exit_code == 2 and "not a run folder" in missing.stderr


def test_runs_with_different_groups_compare_on_the_groups_they_share(tiny):
    from sandbox import compare_runs

    spec = scenario("[{type: close_facility, names: [Clinic]}]", groups="[all, elderly, children]")
    other = scenario("[{type: close_facility, names: [Clinic]}]", groups="[elderly, all]")
    other = other.model_copy(update={"name": "tiny-other"})
    comparison = compare_runs([run_scenario(spec, twin=tiny), run_scenario(other, twin=tiny)])
    assert list(comparison.results["nearest-care-walk"]["group"].to_numpy()) == ["all", "elderly"]
