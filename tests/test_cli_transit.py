"""The command line by public transport: build --gtfs, access/matrix/isochrones --mode transit, their options and
one-line errors."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pandas as pd
from typer.testing import CliRunner

from sandbox.catalog import hsl_feed
from sandbox.cli import app
from tests.test_layers import OSM_XML

runner = CliRunner()


def test_build_with_a_feed_gives_the_twin_a_timetable(tmp_path):
    osm = tmp_path / "tiny.osm"
    osm.write_text(OSM_XML)
    out = tmp_path / "tiny-twin"
    result = runner.invoke(app, ["build", str(osm), "--out", str(out), "--residents", "40", "--calibration",
                                 "helsinki-centre", "--gtfs", str(hsl_feed()), "--gtfs-licence", "CC BY 4.0 (© HSL)"])
    assert result.exit_code == 0, result.output
    assert (out / "timetable.npz").is_file()
    summary = json.loads(runner.invoke(app, ["info", str(out), "--json"]).stdout)
    assert summary["transit"]["service_date"] == "2022-02-22" and 0 < summary["transit"]["stops"] < 60
    assert summary["transit"]["licence"] == "CC BY 4.0 (© HSL)"


def test_build_with_a_broken_feed_is_one_line(tmp_path):
    osm = tmp_path / "tiny.osm"
    osm.write_text(OSM_XML)
    feed = tmp_path / "feed.zip"
    with zipfile.ZipFile(hsl_feed()) as source, zipfile.ZipFile(feed, "w") as broken:
        for name in source.namelist():
            if name != "stop_times.txt":
                broken.writestr(name, source.read(name))
    result = runner.invoke(app, ["build", str(osm), "--out", str(tmp_path / "never"), "--residents", "40",
                                 "--calibration", "helsinki-centre", "--gtfs", str(feed)])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: feed.zip: stop_times.txt is missing; expected a GTFS feed with stops.txt, "
                                     "routes.txt, trips.txt, stop_times.txt and calendar.txt or calendar_dates.txt")
    assert not (tmp_path / "never").exists()


def test_matrix_by_transit(helsinki, tmp_path):
    out = tmp_path / "matrix"
    result = runner.invoke(app, ["matrix", "--from", "zones", "--to", "care", "--mode", "transit",
                                 "--departure", "07:30", "--window-min", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "matrix.parquet")
    assert list(table.columns) == ["from_id", "to_id", "travel_time_s"]
    care = (helsinki.layers["facilities"]["kind"] == "care").sum()
    assert len(table) == len(helsinki.layers["zones"]) * care
    assert table["travel_time_s"].between(0, 90 * 60).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["transit"]["departure"] == "07:30" and manifest["transit"]["window_min"] == 30
    walk = runner.invoke(app, ["matrix", "--from", "zones", "--to", "care", "--out", str(tmp_path / "walk")])
    assert walk.exit_code == 0, walk.output
    on_foot = pd.read_parquet(tmp_path / "walk" / "matrix.parquet")
    assert (table["travel_time_s"] <= on_foot["travel_time_s"] + 1e-6).all()


def test_isochrones_by_transit_export_polygons(helsinki, tmp_path):
    out = tmp_path / "iso"
    result = runner.invoke(app, ["isochrones", "--from", "24.9414,60.1710", "--mode", "transit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    gpkg = gpd.read_file(out / "isochrones.gpkg")
    parquet = gpd.read_parquet(out / "isochrones.parquet")
    assert list(gpkg["minutes"]) == [5, 10, 15] == list(parquet["minutes"])
    assert gpkg.crs.to_epsg() == 4326 and gpkg.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert gpkg["area_m2"].is_monotonic_increasing
    assert json.loads((out / "manifest.json").read_text())["transit"]["percentile"] == 50


def test_transit_option_errors_are_one_line(helsinki, tmp_path):
    result = runner.invoke(app, ["access", "--to", "care", "--mode", "transit", "--departure", "eight",
                                 "--out", str(tmp_path / "never")])
    assert result.exit_code == 2 and "--departure" in result.output and "expected HH:MM" in result.output
    result = runner.invoke(app, ["access", "--to", "care", "--mode", "transit", "--departure", "2022-02-23T08:00",
                                 "--out", str(tmp_path / "never")])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: departure: 2022-02-23 is not the timetable's service date 2022-02-22; "
                                     "use 2022-02-22T08:00 or HH:MM")
    result = runner.invoke(app, ["matrix", "--from", "nowhere.gpkg", "--to", "care", "--out", str(tmp_path / "n")])
    assert result.exit_code == 2 and "--from nowhere.gpkg: neither zones" in result.stderr
    assert not (tmp_path / "never").exists() and not (tmp_path / "n").exists()
