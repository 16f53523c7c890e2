"""Flood scenarios end to end: water on the tiny twin, on a synthetic town with terrain, and on real Helsinki
terrain when ../shared/data is present."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from typer.testing import CliRunner

from sandbox import ScenarioError, build_twin, run_scenario
from sandbox.cli import app
from sandbox.scenarios.load import parse_scenario
from tests.test_run import lonlat
from tests.tiny import node_xy, tiny_twin

runner = CliRunner()


def strip(x0: float, y0: float, x1: float, y1: float) -> str:
    """A GeoJSON polygon (lon/lat) of a box given in the tiny twin's metres from its south-west corner."""
    ox, oy = node_xy(0, 0)
    ring = [lonlat(ox + x0, oy + y0), lonlat(ox + x1, oy + y0), lonlat(ox + x1, oy + y1), lonlat(ox + x0, oy + y1),
            lonlat(ox + x0, oy + y0)]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def flood_scenario(depth_m: float, area: str, extra: str = "") -> object:
    return parse_scenario(f"""
schema_version: 1
name: tiny-flood
twin: tiny
interventions:
  - {{type: flood, hazard: extent, depth_m: {depth_m}, resolution_m: 2, area: {area}{extra}}}
indicators: [{{measure: nearest, to: care, minutes: [5]}}]
groups: [all, elderly]
outputs: {{k: 1}}
""")


def test_deep_water_on_a_street_cuts_it_and_reaches_a_home(tmp_path):
    twin = tiny_twin()
    # Half a metre over the west street between corners (0, 1) and (0, 2), and over household 1's building.
    spec = flood_scenario(0.5, strip(-15, 115, 15, 185))
    run = run_scenario(spec, twin=twin)
    before, after = (ds["travel_time_s"].to_numpy() for ds in run.households["nearest-care-walk"])
    assert after[0] * 1.2 == pytest.approx(500, abs=0.1)  # round the flooded block
    assert after[1:] == pytest.approx(before[1:])
    walk = run.twin.travel_time_factors("walk")
    assert np.isinf(walk).sum() == 2 and np.isinf(run.twin.travel_time_factors("drive")).sum() == 2
    found = run.summary()["flood"]
    assert found["streets_impassable_m"]["walk"] == pytest.approx(200, abs=1)  # both directions of 100 m
    assert run.twin.flood_depth is not None and float(run.twin.flood_depth.max()) == pytest.approx(0.5)
    assert twin.flood_depth is None
    folder = run.write(tmp_path / "flood")
    assert (folder / "flood_depth.tif").is_file()
    depth = xr.open_dataarray(folder / "flood_depth.tif", engine="rasterio")
    assert float(depth.max()) == pytest.approx(0.5)
    report = (folder / "report.html").read_text()
    assert "Flood: what the water reaches" in report
    assert '"flood-depth"' in report and '"image": "data:image/png;base64,' in report  # drawn, still offline


def test_shallow_water_slows_walkers_and_floods_a_building():
    twin = tiny_twin()
    shallow = run_scenario(flood_scenario(0.1, strip(-15, 115, 15, 185)), twin=twin)
    after = shallow.households["nearest-care-walk"][1]["travel_time_s"].to_numpy()
    assert 300 < after[0] * 1.2 < 500  # slower through 10 cm of water, still passable
    assert np.isfinite(shallow.twin.travel_time_factors("walk")).all()
    home = run_scenario(flood_scenario(0.8, strip(250, -50, 320, 20)), twin=twin).summary()["flood"]
    assert home["buildings_flooded"] == 1 and home["damage_eur"] > 0
    assert home["groups"]["all"]["households_home_flooded"] == 1
    assert home["groups"]["all"]["residents_home_flooded"] == 4
    assert home["groups"]["elderly"]["households_home_flooded"] == 0


def test_water_level_needs_terrain_and_says_so():
    spec = parse_scenario("""
schema_version: 1
name: no-terrain
interventions:
  - {type: flood, hazard: water_level, level_m: 2}
""")
    with pytest.raises(ScenarioError, match="hazard: water_level needs terrain and this twin has none"):
        run_scenario(spec, twin=tiny_twin())


def test_sea_level_on_a_synthetic_town_grows_with_the_level():
    from sandbox.synth import town

    riverside = town(households=800, seed=2)
    flooded, stranded = [], []
    for level in (1.0, 2.0, 3.0):
        spec = parse_scenario(f"""
schema_version: 1
name: surge
twin: synthetic:riverside
interventions: [{{type: flood, hazard: water_level, level_m: {level}}}]
indicators: [{{measure: nearest, to: care, minutes: [10]}}]
groups: [all, elderly]
""")
        run = run_scenario(spec, twin=riverside)
        depth = run.twin.flood_depth
        flooded.append(float((depth > 0).sum()))
        stranded.append(run.flood.groups.loc["all", "households_stranded"])
    assert flooded[0] < flooded[1] < flooded[2]
    assert stranded[0] <= stranded[1] <= stranded[2]


def test_real_helsinki_terrain_floods_the_market_square_before_kaartinkaupunki(shared_data):
    from sandbox.catalog import helsinki_pbf

    twin = build_twin(helsinki_pbf(), name="hki-dem", crs=3067, dem=shared_data / "dem" / "L4133C_dem10m_epsg3067.tif")
    market, upper = (386330.0, 6671800.0), (386050.0, 6671600.0)
    ground = {name: float(twin.terrain.sel(x=xy[0], y=xy[1], method="nearest")) for name, xy in
              (("market", market), ("upper", upper))}
    areas, wet = [], {}
    for level in (1.5, 2.0, 2.5, 3.0):
        spec = parse_scenario(f"""
schema_version: 1
name: sea-{str(level).replace('.', '-')}
interventions: [{{type: flood, hazard: water_level, level_m: {level}}}]
indicators: [{{measure: nearest, to: care, minutes: [5]}}]
groups: [all]
""")
        depth = run_scenario(spec, twin=twin).twin.flood_depth
        areas.append(float((depth > 0).sum()))
        at = {name: float(depth.sel(x=xy[0], y=xy[1], method="nearest")) for name, xy in
              (("market", market), ("upper", upper))}
        assert (at["market"] > 0) == (ground["market"] < level)
        assert at["upper"] == 0 or ground["upper"] < level
        wet[level] = at
    assert areas == sorted(areas) and areas[-1] > areas[0]
    # The DEM puts the square at about 2.8 m (its vertical datum is not stated) and the blocks above 15 m.
    assert wet[3.0]["market"] > 0 and wet[3.0]["upper"] == 0
    assert ground["market"] < ground["upper"]


def test_cli_runs_the_default_flood_example(helsinki, tmp_path):
    result = runner.invoke(app, ["run", "scenarios/flood-market-square.yaml", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "flood-market-square" / "summary.json").read_text())
    assert summary["flood"]["streets_impassable_m"]["walk"] > 0


def test_a_depth_raster_from_an_authority_is_reprojected_and_used(tmp_path):
    from rasterio.transform import from_origin

    twin = tiny_twin()
    ox, oy = node_xy(0, 0)
    # 0.4 m of water over the west street between corners (0, 1) and (0, 2), in another CRS (UTM 35N).
    grid = xr.DataArray(np.zeros((60, 60), "float32"), dims=("y", "x"),
                        coords={"y": oy + 395 - 10 * np.arange(60), "x": ox - 195 + 10 * np.arange(60)})
    grid.values[(grid.y.values[:, None] > oy + 115) & (grid.y.values[:, None] < oy + 185)
                & (np.abs(grid.x.values[None, :] - ox) < 15)] = 0.4
    grid = grid.rio.write_transform(from_origin(ox - 200, oy + 400, 10, 10)).rio.write_crs("EPSG:3067")
    grid.rio.reproject("EPSG:32635").rio.to_raster(tmp_path / "depth.tif")
    path = tmp_path / "raster-flood.yaml"
    path.write_text("""schema_version: 1
name: raster-flood
interventions: [{type: flood, hazard: depth_raster, raster_file: depth.tif}]
indicators: [{measure: nearest, to: care, minutes: [5]}]
groups: [all]
""")
    from sandbox.scenarios.load import load_scenario

    run = run_scenario(load_scenario(path), twin=twin)
    after = run.households["nearest-care-walk"][1]["travel_time_s"].to_numpy()
    assert after[0] * 1.2 == pytest.approx(500, abs=1)  # the flooded street is cut for walkers (limit 0.2 m)
    assert run.summary()["flood"]["streets_impassable_m"]["walk"] > 0
    missing = tmp_path / "missing.yaml"
    missing.write_text(path.read_text().replace("depth.tif", "nowhere.tif"))
    with pytest.raises(ScenarioError, match="raster_file: 'nowhere.tif' not found next to the scenario file"):
        run_scenario(load_scenario(missing), twin=twin)
