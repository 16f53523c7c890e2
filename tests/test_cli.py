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
