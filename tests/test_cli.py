"""The command line: exit code 0 on success, 2 with one line on stderr for user errors."""

from __future__ import annotations

import json

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
    assert summary["networks"]["drive"]["nodes"] == helsinki.networks["drive"].number_of_nodes()


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
    result = runner.invoke(app, ["build", str(osm), "--out", str(out), "--seed", "3", "--residents", "40"])
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
    result = runner.invoke(app, ["build", str(tmp_path / "missing.osm.pbf"), "--out", str(out)])
    assert result.exit_code == 2
    assert "missing.osm.pbf: file not found" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
    bad_format = runner.invoke(app, ["build", str(tmp_path / "x.osm"), "--out", str(out), "--grid-format", "nope"])
    assert bad_format.exit_code == 2 and "unknown 'nope'" in bad_format.output


def test_access_writes_a_map_and_tables_without_household_data(helsinki, tmp_path):
    out = tmp_path / "care"
    result = runner.invoke(app, ["access", "--to", "care", "--group", "elderly", "--minutes", "5", "--minutes",
                                 "10", "--measure", "nearest", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "of elderly residents (65+) reach a health service" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["access.csv", "access.gpkg", "access.html", "manifest.json"]
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
