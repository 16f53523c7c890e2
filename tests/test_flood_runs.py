"""Flood scenarios end to end: water on the tiny twin, on a synthetic town with terrain, the storm surge derived from
an open DEM that the default twin's example ships, and on real Helsinki terrain when ../shared/data is present."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import rioxarray
import shapely
import xarray as xr
from typer.testing import CliRunner

from sandbox import ScenarioError, build_twin, run_scenario
from sandbox.cli import app
from sandbox.scenarios.load import load_scenario, parse_scenario
from tests.test_run import lonlat
from tests.tiny import node_xy, tiny_twin

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
SURGE = REPO / "scenarios" / "flood-market-square.yaml"
SURGE_EXTENT = SURGE.with_suffix(".geojson")
SURGE_DEPTH = SURGE.with_name("flood-market-square-depth.tif")
SURGE_LEVEL_M = 2.5  # m N2000, set in data/derive_flood_extent.py
# Places in the default twin (lon, lat): the shore floods, the higher ground and places beyond the DEM stay dry.
WET = {"Market Square": (24.9530, 60.1675), "Eteläranta quay": (24.95366, 60.16476)}
DRY = {"Senate Square": (24.9524, 60.1694), "Kamppi": (24.9370, 60.1690), "Esplanadi park": (24.9470, 60.1677),
       "Kaartinkaupunki": (24.94659, 60.16537)}


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
    assert '"flood-depth-' in report and '"image": "data:image/png;base64,' in report  # drawn, still offline


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

    twin = build_twin(helsinki_pbf(), name="hki-dem", crs=3067, calibration="helsinki-centre",
                      dem=shared_data / "dem" / "L4133C_dem10m_epsg3067.tif")
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
    folder = tmp_path / "flood-market-square"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["flood"]["streets_impassable_m"]["walk"] > 0
    assert (folder / "flood_depth.tif").is_file()
    assert "National Land Survey of Finland" in (folder / "report.html").read_text()  # the DEM's attribution


def test_the_shipped_surge_is_small_valid_and_inside_the_twin(helsinki):
    from sandbox.scenarios.fields import read_area_file

    assert SURGE_EXTENT.stat().st_size < 100_000 and SURGE_DEPTH.stat().st_size < 300_000
    outline = read_area_file(SURGE_EXTENT.name, SURGE_EXTENT.parent)  # the scenarios' own reader: valid polygons
    about = json.loads(SURGE_EXTENT.read_text())["features"][0]["properties"]
    assert (about["water_level_m"], about["vertical_datum"], about["licence"]) == (SURGE_LEVEL_M, "N2000", "CC BY 4.0")
    assert "National Land Survey of Finland" in about["attribution"]
    area = gpd.GeoSeries([outline], crs=4326).to_crs(helsinki.crs).iloc[0]
    twin_box = shapely.box(*helsinki.extent)
    assert twin_box.buffer(1.0).contains(area)
    assert 1.0 < area.area / 10_000 < 0.05 * twin_box.area / 10_000  # a few hectares of shore, not the centre
    with rasterio.open(SURGE_DEPTH) as src:
        assert src.dtypes == ("float32",) and src.compression.name.lower() == "deflate"
        assert src.crs.to_epsg() == pyproj.CRS.from_user_input(helsinki.crs).to_epsg() and src.res == (10.0, 10.0)
        assert "National Land Survey of Finland" in src.tags()["source"] and src.tags()["licence"] == "CC BY 4.0"
    depth = rioxarray.open_rasterio(SURGE_DEPTH).squeeze("band", drop=True)
    assert shapely.box(*depth.rio.bounds()).within(shapely.box(*helsinki.extent).buffer(10.0))  # one cell at most
    assert 0 < float(depth.max()) < SURGE_LEVEL_M and float(depth.min()) == 0
    # Every wet cell lies inside the outline (simplified by 5 m), and the outline holds nothing else.
    rows, cols = np.nonzero(depth.values > 0)
    centres = shapely.points(depth.x.values[cols], depth.y.values[rows])
    outline_m = gpd.GeoSeries([outline], crs=4326).to_crs(depth.rio.crs).iloc[0]
    assert shapely.contains(outline_m.buffer(5.0), centres).all()
    assert abs(len(centres) * 100.0 - outline_m.area) < 0.1 * outline_m.area


def test_the_surge_floods_the_market_square_shore_but_not_the_centre(helsinki):
    run = run_scenario(load_scenario(SURGE), twin=helsinki)
    depth = run.twin.flood_depth
    to_twin = pyproj.Transformer.from_crs(4326, helsinki.crs, always_xy=True)
    at = {name: float(depth.sel(x=x, y=y, method="nearest")) for name, lon_lat in {**WET, **DRY}.items()
          for x, y in [to_twin.transform(*lon_lat)]}
    assert all(at[name] > 0.2 for name in WET), at
    assert all(at[name] == 0 for name in DRY), at
    found = run.summary()["flood"]
    buildings = helsinki.layers["buildings"]
    assert 0 < found["buildings_flooded"] < 0.05 * len(buildings)
    assert "Vanha Kauppahalli" in run.flood.buildings["name"].tolist()  # the Old Market Hall on the quay
    walk_m = helsinki.networks["walk"].length_m.sum()
    assert 500 < found["streets_impassable_m"]["walk"] < 0.05 * walk_m
    assert found["streets_impassable_m"]["drive"] > 0
    # The shore is market, hall and offices: the homes nearby stand higher and stay dry, but the households whose
    # quickest drive to care ran along the flooded shore streets lose time.
    assert found["groups"]["all"]["households_home_flooded"] == 0
    assert found["groups"]["all"]["households_stranded"] == 0
    assert run.summary()["indicators"]["nearest-care-drive"]["groups"]["all"]["losing"] > 0


def test_the_shipped_surge_is_what_the_derivation_script_makes(shared_data, helsinki, tmp_path):
    spec = importlib.util.spec_from_file_location("derive_flood_extent", REPO / "data" / "derive_flood_extent.py")
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    made = derive.derive(shared_data / "dem" / "L4133C_dem10m_epsg3067.tif", tmp_path)
    assert made["level_m"] == SURGE_LEVEL_M
    assert hashlib.sha256((tmp_path / SURGE_EXTENT.name).read_bytes()).digest() == \
        hashlib.sha256(SURGE_EXTENT.read_bytes()).digest()
    again, shipped = (rioxarray.open_rasterio(path) for path in (tmp_path / SURGE_DEPTH.name, SURGE_DEPTH))
    assert again.rio.transform() == shipped.rio.transform() and np.array_equal(again.values, shipped.values)


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
