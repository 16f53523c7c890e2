"""The command line: exit code 0 on success, 2 with one line on stderr for user errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from sandbox.cli import app
from tests.test_layers import OSM_XML

runner = CliRunner()


def test_info_shows_layers_networks_groups_and_credits(helsinki):
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for text in ("buildings", "transit_stops", "walk", "elderly_alone", "10287", "© OpenStreetMap contributors"):
        assert text in result.stdout


def test_info_json_has_the_same_numbers(helsinki):
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["households"]["all"]["residents"] == 10287
    assert summary["layers"]["buildings"]["rows"] == len(helsinki.layers["buildings"])
    assert summary["fingerprint"] == helsinki.fingerprint()
    assert summary["networks"]["drive"]["nodes"] == helsinki.networks["drive"].n_nodes


def test_unknown_twin_is_one_line_and_exit_2():
    result = runner.invoke(app, ["info", "atlantis"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: atlantis: no such twin")
    assert "Traceback" not in result.output


def test_build_writes_a_twin_folder_that_info_reads(tmp_path):
    osm = tmp_path / "tiny.osm"
    osm.write_text(OSM_XML)
    out = tmp_path / "tiny-twin"
    result = runner.invoke(app, ["build", str(osm), "--out", str(out), "--seed", "3", "--residents", "40",
                                 "--calibration", "helsinki-centre"])
    assert result.exit_code == 0, result.output
    assert (out / "twin.json").is_file() and (out / "layers.gpkg").is_file()
    info = runner.invoke(app, ["info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.stdout)
    assert summary["name"] == "tiny-twin"
    assert summary["layers"]["buildings"]["rows"] == 1
    assert summary["households"]["all"]["residents"] == 40


def test_build_errors_leave_nothing_behind(tmp_path):
    out = tmp_path / "never"
    result = runner.invoke(app, ["build", str(tmp_path / "missing.osm.pbf"), "--out", str(out),
                                 "--calibration", "helsinki-centre"])
    assert result.exit_code == 2
    assert "missing.osm.pbf: file not found" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
    bad_format = runner.invoke(app, ["build", str(tmp_path / "x.osm"), "--out", str(out), "--grid-format", "nope",
                                     "--calibration", "helsinki-centre"])
    assert bad_format.exit_code == 2 and "unknown 'nope'" in bad_format.output


def test_access_writes_a_map_and_tables_without_household_data(helsinki, tmp_path):
    out = tmp_path / "care"
    result = runner.invoke(app, ["access", "--to", "care", "--group", "elderly", "--minutes", "5", "--minutes",
                                 "10", "--measure", "nearest", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "reaching a health service" in result.stdout
    assert "% within 5 minutes" in result.stdout and "% within 10 minutes" in result.stdout  # every threshold
    assert sorted(p.name for p in out.iterdir()) == ["access.csv", "access.gpkg", "access.html", "manifest.json"]
    page = (out / "access.html").read_text()
    assert '<option value="5">5 min</option>' in page and 'value="10" selected' in page  # a map per threshold
    import geopandas as gpd

    table = gpd.read_file(out / "access.gpkg")
    assert len(table) == len(helsinki.layers["zones"])
    assert "share_reaching_elderly_5min" in table and "median_travel_time_s_elderly" in table
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["twin_fingerprint"] == helsinki.fingerprint() and manifest["k"] == 5
    assert any("OpenStreetMap" in line for line in manifest["data"])


def test_access_user_errors_exit_2_and_write_nothing(helsinki, tmp_path):
    out = tmp_path / "nothing"
    for args, message in [
        (["--to", "spa"], "to: unknown destination 'spa'; expected one of parks"),
        (["--to", "parks", "--group", "pensioners"], "group: unknown 'pensioners'"),
        (["--to", "parks", "--measure", "fastest"], "measure: unknown 'fastest'"),
        (["--to", "parks", "--mode", "boat"], "mode: unknown 'boat'"),
        (["--to", "care", "--measure", "supply", "--capacity", "name"], "capacity: 'name' is not a numeric column"),
    ]:
        result = runner.invoke(app, ["access", *args, "--out", str(out)])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1
        assert not out.exists() and not list(tmp_path.glob(".nothing-*"))


# --- sandbox layers: what a scenario can name --------------------------------------------------------------------


def test_layers_lists_the_care_facilities_by_the_ids_close_facility_takes(helsinki, tmp_path):
    from sandbox.scenarios.load import load_scenario
    from sandbox.scenarios.plan import apply, plan

    result = runner.invoke(app, ["layers", "--layer", "facilities", "--kind", "care"])
    assert result.exit_code == 0, result.output
    care = helsinki.layers["facilities"].query("kind == 'care'")
    assert len(care) == 13 and "facilities of kind care: 13" in result.stdout
    for facility_id, name in care["name"].items():  # a long name wraps after its first words
        assert f"│ {facility_id:>2} │ {name.split()[0]}" in result.stdout
    assert "id = facility_id: close_facility takes it as ids" in result.stdout
    listed = json.loads(runner.invoke(app, ["layers", "--layer", "facilities", "--kind", "care", "--json"]).stdout)
    assert [row["id"] for row in listed] == care.index.tolist()
    chosen = listed[4]  # any listed id closes that very facility
    path = tmp_path / "close.yaml"
    path.write_text(f"schema_version: 1\nname: close-one\ntwin: helsinki\ninterventions:\n"
                    f"  - {{type: close_facility, ids: [{chosen['id']}]}}\n")
    planned = plan(load_scenario(path), helsinki)
    assert planned.problems == [] and planned.notes == [f"[0] close_facility: {chosen['name']} (care)"]
    variant = apply(planned).layers["facilities"]
    assert chosen["id"] not in variant.index and len(variant) == len(helsinki.layers["facilities"]) - 1
    checked = runner.invoke(app, ["check", str(path)])
    assert checked.exit_code == 0 and f"[0] close_facility: {chosen['name']} (care)" in checked.stdout


def test_layers_near_within_filters_and_sorts_by_distance(helsinki):
    # Around the middle of office block 382 on Bulevardi: 382 itself, then apartment block 394 26 m away.
    result = runner.invoke(app, ["layers", "--layer", "buildings", "--near", "24.93777,60.16562", "--within", "40",
                                 "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["id"], r["kind"], r["households"]) for r in rows] == [("382", "other", "0"),
                                                                     ("394", "apartments", "155")]
    assert float(rows[0]["distance_m"]) == 0 and 20 < float(rows[1]["distance_m"]) <= 40
    wider = json.loads(runner.invoke(app, ["layers", "--layer", "buildings", "--near", "24.93777,60.16562",
                                           "--within", "150", "--json"]).stdout)
    distances = [row["distance_m"] for row in wider]
    assert len(wider) > 2 and distances == sorted(distances) and max(distances) <= 150
    assert [row["id"] for row in wider[:2]] == [382, 394]


def test_layers_json_and_csv_are_the_same_rows(helsinki):
    as_json = runner.invoke(app, ["layers", "--layer", "stops", "--kind", "tram", "--json"])
    as_csv = runner.invoke(app, ["layers", "--layer", "stops", "--kind", "tram", "--csv"])
    assert as_json.exit_code == 0 and as_csv.exit_code == 0
    stops = json.loads(as_json.stdout)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(stops) == len(rows) == int((helsinki.layers["transit_stops"]["mode"] == "tram").sum())
    assert list(stops[0]) == ["id", "name", "kind", "lon", "lat"]
    for stop, row in zip(stops, rows):
        assert (stop["id"], stop["name"], stop["kind"]) == (int(row["id"]), row["name"], row["kind"]) == \
            (stop["id"], stop["name"], "tram")
        assert (stop["lon"], stop["lat"]) == (float(row["lon"]), float(row["lat"]))
        assert len(row["lon"].split(".")[1]) <= 6


def test_layers_bad_options_exit_2_with_one_line(helsinki):
    for args, message in [
        (["--layer", "roads"], "error: layer: unknown 'roads'; expected one of facilities, buildings, parks, stops"),
        (["--kind", "senior_center"], "error: kind: no facilities of kind 'senior_center' (did you mean "
                                      "'elderly_centre'?); expected one of care (13), elderly_centre (3), "),
        (["--within", "100"], "error: within: a distance needs a point; expected --near LON,LAT as well"),
        (["--near", "24.93"], "error: near: '24.93' is not LON,LAT; expected two numbers in degrees"),
        (["--near", "25.5,60.1"], "error: near: 25.5,60.1 lies outside the twin 'helsinki'; expected a point within"),
        (["--near", "24.94,60.17", "--within", "0"], "error: within: 0 m; expected a distance in metres"),
        (["--json", "--csv"], "error: --json, --csv: both given; expected one of them"),
        (["atlantis"], "error: atlantis: no such twin"),
    ]:
        result = runner.invoke(app, ["layers", *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.output


# --- sandbox check: typos are errors, overlaps are warnings ------------------------------------------------------

HOUSING = """schema_version: 1
name: {name}
twin: helsinki
interventions:
{interventions}
"""


def test_check_a_facility_kind_typo_exits_2_with_a_did_you_mean(helsinki, tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text(HOUSING.format(name="typo", interventions="  - type: add_facility\n    kind: senior_center\n"
                                                              "    at: [24.9384, 60.1699]"))
    result = runner.invoke(app, ["check", str(typo)])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {typo}:5: interventions[0]: kind: unknown 'senior_center'; did you mean "
                             "'elderly_centre'? (add new_kind: true to add a kind on purpose)\n")
    on_purpose = tmp_path / "on-purpose.yaml"
    on_purpose.write_text(typo.read_text().replace("name: typo", "name: on-purpose") + "    new_kind: true\n")
    result = runner.invoke(app, ["check", str(on_purpose)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and "kind 'senior_center' is new (new_kind: true)" in result.stdout


def test_check_warns_of_housing_over_a_home_that_stays_but_not_for_the_example(helsinki, tmp_path):
    example = Path(__file__).resolve().parents[1] / "scenarios" / "senior-housing-kamppi.yaml"
    over = tmp_path / "over.yaml"  # the example as it was first written: the block reached over building 394
    over.write_text(example.read_text().replace("at: [24.93777, 60.16562]", "at: [24.93782, 60.16558]"))
    assert "at: [24.93782, 60.16558]" in over.read_text()
    result = runner.invoke(app, ["check", str(over)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: {over}:13: interventions[1]: at: the site of 'Bulevardin seniorikoti' "
                             "overlaps 1 building(s) that stay: 394 (apartments, 155 households); expected a free "
                             "site, or remove_buildings with ids: [394] before it\n")
    assert "overlaps" not in result.stdout
    fixed = runner.invoke(app, ["check", str(example)])
    assert fixed.exit_code == 0 and fixed.stderr == "" and "warning" not in fixed.output
    assert "[1] add_housing: 120 households (72 elderly alone, 36 elderly couple, 12 other)" in fixed.stdout


# --- the place written to: checked before any work, one line, exit 2, nothing left behind ------------------------

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "clinic-closure.yaml"


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_out_that_is_a_file_fails_before_any_work(tmp_path):
    file = tmp_path / "taken"
    file.write_text("not a folder")
    expected = f"error: --out {file}: not a folder (it is a file); expected a folder you can write to"
    for args in (["run", str(SCENARIO), "--out", str(file)],
                 ["access", "--to", "care", "--twin", "no-such-twin", "--out", str(file)],
                 ["build", str(tmp_path / "missing.osm.pbf"), "--calibration", "helsinki-centre", "--out", str(file)],
                 ["compare", str(tmp_path / "no-run"), "--out", str(file)]):
        assert one_error_line(runner.invoke(app, args)) == expected, args
    inside = tmp_path / "taken" / "run"
    assert one_error_line(runner.invoke(app, ["run", str(SCENARIO), "--out", str(inside)])) == (
        f"error: --out {inside}: not a folder ({file} is a file); expected a folder you can write to")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"] and file.read_text() == "not a folder"


def test_a_read_only_or_full_out_fails_before_any_work(tmp_path, monkeypatch):
    import errno
    import os
    import tempfile

    for code, words in ((errno.EROFS, "not writable (read-only file system); expected a folder you can write to"),
                        (errno.EACCES, "not writable (permission denied); expected a folder you can write to"),
                        (errno.ENOSPC, "cannot be written (no space left on device); free some space and try "
                                       "again (nothing was written)")):
        def refuse(*args, code=code, **kwargs):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        out = tmp_path / "runs"
        assert one_error_line(runner.invoke(app, ["run", str(SCENARIO), "--out", str(out)])) == (
            f"error: --out {out}: {words}")
        monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_disk_full_while_writing_is_one_line_and_leaves_nothing(helsinki, tmp_path, monkeypatch):
    import errno
    import os

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "manifest.json")

    monkeypatch.setattr("sandbox.output.folders.write_json", full)
    out = tmp_path / "care"
    line = one_error_line(runner.invoke(app, ["access", "--to", "care", "--out", str(out)]))
    assert line == (f"error: {out}: cannot be written (no space left on device); free some space and try again "
                    "(nothing was written)")
    runs = tmp_path / "runs"
    line = one_error_line(runner.invoke(app, ["run", str(SCENARIO), "--out", str(runs)]))
    assert line.startswith(f"error: {runs}/clinic-closure: cannot be written (no space left on device)")
    assert list(tmp_path.iterdir()) == [], "no staging folder, and not the --out folder the write created"


# --- sandbox cache ----------------------------------------------------------------------------------------------


def test_cache_info_and_clear(helsinki, tmp_path, monkeypatch):
    from sandbox.catalog import _cache_key, helsinki_pbf
    from sandbox.twin import save_twin

    cache = tmp_path / "cache"
    monkeypatch.setenv("SANDBOX_CACHE", str(cache))
    empty = runner.invoke(app, ["cache", "info"])
    assert empty.exit_code == 0 and f"cache: {cache} (from SANDBOX_CACHE)" in empty.stdout and "empty" in empty.stdout
    twin = save_twin(helsinki, cache / f"helsinki-{_cache_key(helsinki_pbf())}")
    stale = save_twin(helsinki, cache / "helsinki-0123456789ab")
    (cache / "numba").mkdir()
    (cache / "numba" / "kernel.nbc").write_bytes(b"x" * 1000)
    (cache / "mine.txt").write_text("not ours")
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0, result.output
    assert twin.name in result.stdout and helsinki.fingerprint() in result.stdout
    assert "stale" in result.stdout and "numba" in result.stdout and "mine.txt" not in result.stdout
    info = json.loads(runner.invoke(app, ["cache", "info", "--json"]).stdout)
    assert info["cache_dir"] == str(cache)
    kinds = {Path(entry["path"]).name: (entry["kind"], entry.get("current")) for entry in info["entries"]}
    assert kinds == {twin.name: ("twin", True), stale.name: ("twin", False), "numba": ("numba", None)}
    assert sum(entry["size_bytes"] for entry in info["entries"]) > 2 * (twin / "layers.gpkg").stat().st_size
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0, cleared.output
    assert "removed 3 entries" in cleared.stdout
    assert sorted(path.name for path in cache.iterdir()) == ["locks", "mine.txt"]
