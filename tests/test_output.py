"""Files other tools open: results.nc (CF NetCDF), indicators.csv, zones.parquet, layers.gpkg with QGIS styles,
and the flood depth COG; each read back the way its users read it."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

from sandbox._errors import DataError, TwinError
from sandbox.compare import compare
from sandbox.indicators import compute_indicators
from sandbox.output.layers import write_layers
from sandbox.output.maps import NO_DATA_RGBA, change_scale, share_scale
from sandbox.output.netcdf import open_results, write_results
from sandbox.output.raster import write_depth_cog
from sandbox.output.tables import (CSV_COLUMNS, PARQUET_COLUMNS, long_table, to_geodataframe, write_csv,
                                   write_geoparquet, zones_geoparquet)
from sandbox.results import SIDES, indicator_names, zonal_variables, zones_frame
from tests.tiny import tiny_twin

INDICATORS = [
    SimpleNamespace(key="nearest-care-walk", measure="nearest", to="care", mode="walk", minutes=[5, 10],
                    capacity=None),
    SimpleNamespace(key="within-parks-walk", measure="within", to="parks", mode="walk", minutes=[10], capacity=None),
    SimpleNamespace(key="supply-parks-area_m2-walk", measure="supply", to="parks", mode="walk", minutes=[10],
                    capacity="area_m2"),
]
GROUPS = ["all", "elderly", "elderly_alone"]
CF = {"Conventions": "CF-1.10", "title": "Closing three clinics", "history": "2026-01-01T00:00:00Z sandbox run",
      "source": "sandbox urban digital twin (synthetic households)", "references": "https://example.org/sandbox"}


def results_tree(baseline, scenario, *, k: int) -> xr.DataTree:
    tree = compare(compute_indicators(baseline, INDICATORS, groups=GROUPS),
                   compute_indicators(scenario, INDICATORS, groups=GROUPS), k=k)
    tree.attrs.update(CF, twin=baseline.name, seed=7, k=k)
    return tree


@pytest.fixture(scope="module")
def tree(helsinki) -> xr.DataTree:
    """Helsinki with three care facilities closed: some zones hidden (k=5), some not, some changed."""
    facilities = helsinki.layers["facilities"]
    closed = facilities.drop(index=facilities.index[facilities["kind"] == "care"][:3])
    return results_tree(helsinki, helsinki.with_layer("facilities", closed), k=5)


@pytest.fixture(scope="module")
def tiny_tree() -> xr.DataTree:
    twin = tiny_twin()
    return results_tree(twin, twin.with_layer("facilities", twin.layers["facilities"].iloc[:0]), k=1)


# --- results.nc ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["tree", "tiny_tree"])
def test_results_file_round_trips_identically_and_deterministically(which, request, tmp_path):
    tree = request.getfixturevalue(which)
    first, second = write_results(tree, tmp_path / "a.nc"), write_results(tree, tmp_path / "b.nc")
    assert first.read_bytes() == second.read_bytes()
    back = open_results(first)
    first.unlink()  # loaded into memory, file closed
    assert back.identical(tree)
    assert {key: back.attrs[key] for key in CF} == CF
    assert indicator_names(back) == indicator_names(tree)
    assert zones_frame(back).geom_equals(zones_frame(tree)).all()
    write_results(back, first)  # what was read writes the same bytes again
    assert first.read_bytes() == second.read_bytes()


def test_every_variable_says_its_units_and_what_it_is(tree, tmp_path):
    back = open_results(write_results(tree, tmp_path / "results.nc"))
    for node in back.subtree:
        for name, var in node.to_dataset(inherit=False).data_vars.items():
            assert var.attrs.get("units") is not None, f"{node.path}/{name} has no units"
            assert var.attrs.get("long_name"), f"{node.path}/{name} has no long_name"
    assert back["nearest-care-walk"]["minutes"].attrs["units"] == "min"


def test_open_results_names_the_file_when_it_is_not_results(tmp_path):
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0])}).to_netcdf(other, engine="h5netcdf")
    text = tmp_path / "notes.nc"
    text.write_text("not a netCDF file\n")
    for path in (tmp_path / "missing.nc", text, other):
        with pytest.raises(DataError) as error:
            open_results(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)


# --- indicators.csv, zones.parquet, GeoDataFrame -------------------------------------------------------------------

def test_indicators_csv_reads_back_with_the_right_types(tree, tmp_path):
    table = long_table(tree)
    assert list(table.columns) == CSV_COLUMNS
    path = write_csv(table, tmp_path / "indicators.csv")
    read = pd.read_csv(path)
    assert list(read.columns) == CSV_COLUMNS
    assert read["zone"].dtype == "float64" and read["minutes"].dtype == "float64"
    assert read["value"].dtype == "float64" and read["suppressed"].dtype == bool
    assert read["zone"].dropna().apply(float.is_integer).all()
    assert pd.read_csv(path, dtype={"zone": "Int64"})["zone"].dtype == "Int64"
    # values read back exactly; counts are printed as whole numbers
    assert np.array_equal(read["value"].to_numpy(), table["value"].to_numpy(), equal_nan=True)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    counts = raw[raw["units"].isin(["households", "persons"]) & (raw["value"] != "")]
    assert len(counts) and not counts["value"].str.contains(r"[.e]").any()
    # hidden values are empty and flagged; zonal flags are the tree's
    assert read["suppressed"].any() and read.loc[read["suppressed"], "value"].isna().all()
    zonal = read[read["variable"] == "households"].dropna(subset=["zone"])
    flags = tree["nearest-care-walk"]["suppressed"].to_series()
    first = zonal[(zonal["indicator"] == "nearest-care-walk") & (zonal["side"] == "baseline")]
    assert first["suppressed"].tolist() == [flags[(g, int(z))] for g, z in zip(first["group"], first["zone"])]
    # area-wide rows have no zone; equity counts no side either
    assert read.loc[read["variable"] == "gini", "zone"].isna().all()
    equity = read[read["variable"] == "losing"]
    assert equity["side"].isna().all() and equity["zone"].isna().all() and equity["minutes"].isna().all()
    assert (read.loc[read["variable"] == "share_not_reaching", "minutes"].notna()).all()


def test_zones_parquet_has_one_row_per_zonal_value(tree, tmp_path):
    frame = zones_geoparquet(tree)
    path = write_geoparquet(frame, tmp_path / "zones.parquet")
    read = gpd.read_parquet(path)
    assert list(read.columns) == PARQUET_COLUMNS
    assert read.crs == zones_frame(tree).crs
    assert read["zone"].dtype == "int64" and read["minutes"].dtype == "float64"
    assert all(read[side].dtype == "float64" for side in SIDES) and read["suppressed"].dtype == bool
    expected = sum(len(GROUPS) * tree[key].sizes["zone"] * (tree[key].sizes["minutes"]
                                                            if "minutes" in tree[key][name].dims else 1)
                   for key in indicator_names(tree) for name in zonal_variables(tree[key]))
    assert len(read) == expected
    assert not read.duplicated(["indicator", "variable", "group", "minutes", "zone"]).any()
    hidden = read[read["suppressed"]]
    assert len(hidden) and hidden[list(SIDES)].isna().all().all()
    zones = zones_frame(tree)
    assert read.geometry.geom_equals(zones.geometry.reindex(read["zone"]).reset_index(drop=True)).all()
    row = read[(read["indicator"] == "nearest-care-walk") & (read["variable"] == "share_reaching")
               & (read["group"] == "elderly") & (read["minutes"] == 10) & ~read["suppressed"]].iloc[0]
    values = tree["nearest-care-walk"]["share_reaching"].sel(group="elderly", minutes=10, zone=row["zone"])
    assert [row[side] for side in SIDES] == pytest.approx(values.to_numpy().tolist(), nan_ok=True)


def test_geodataframe_of_one_indicator(tree):
    frame = to_geodataframe(tree, "nearest-care-walk", group="elderly", minutes=10)
    node = tree["nearest-care-walk"]
    assert frame.index.name == "zone" and len(frame) == node.sizes["zone"]
    assert list(frame.columns) == [f"{name}_{side}" for name in zonal_variables(node) for side in SIDES] + [
        "suppressed", "geometry"]
    assert frame["households_baseline"].dtype == "Int64" and frame["share_reaching_change"].dtype == "float64"
    hidden = frame["suppressed"]
    assert hidden.any() and frame.loc[hidden, "households_baseline"].isna().all()
    assert frame.loc[~hidden, "households_baseline"].notna().all()
    assert frame.crs == zones_frame(tree).crs
    single = to_geodataframe(tree, "supply-parks-area_m2-walk", group="all")  # one threshold: minutes optional
    assert "mean_supply_per_resident_change" in single and "gini_baseline" not in single
    with pytest.raises(TwinError, match="expected one of 5, 10"):
        to_geodataframe(tree, "nearest-care-walk", group="elderly")
    with pytest.raises(TwinError, match="minutes: 7"):
        to_geodataframe(tree, "nearest-care-walk", group="elderly", minutes=7)
    with pytest.raises(TwinError, match="group: 'children'"):
        to_geodataframe(tree, "nearest-care-walk", group="children", minutes=5)
    with pytest.raises(TwinError, match="indicator: unknown"):
        to_geodataframe(tree, "nearest-bank-walk", group="all")


# --- layers.gpkg ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gpkg(tree, helsinki, tmp_path_factory):
    """layers.gpkg with the zone layers and an interventions layer mixing buildings, a street and facilities."""
    buildings = helsinki.layers["buildings"].iloc[:3]
    facilities = helsinki.layers["facilities"].iloc[:2]
    street = helsinki.networks["walk"].geometry[0]
    interventions = gpd.GeoDataFrame(
        {"change": ["new building"] * 3 + ["walk street closed"] + ["removed facility"] * 2,
         "name": [None, "Kerrostalo", np.nan, "Mannerheimintie", "Clinic", None],
         "id": [1, 2, 3, 4, 5, 6]},
        geometry=[*buildings.geometry, street, *facilities.geometry], crs=helsinki.crs)
    flooded = gpd.GeoDataFrame({"max_depth_m": [0.3, 1.2]}, geometry=list(buildings.geometry[:2]), crs=helsinki.crs)
    path = tmp_path_factory.mktemp("gpkg") / "layers.gpkg"
    write_layers(path, tree, {"interventions": interventions, "flooded_buildings": flooded,
                              "flooded_streets": interventions.iloc[:0]})
    return path


def zone_layer_names(tree) -> list[str]:
    return [f"{key}_{side}" for key in indicator_names(tree) for side in SIDES]


def test_gpkg_layers_have_one_geometry_type_each(tree, gpkg):
    layers = dict(pyogrio.list_layers(gpkg))
    expected = {**dict.fromkeys(zone_layer_names(tree), "Polygon"), "interventions_polygons": "Polygon",
                "interventions_lines": "LineString", "interventions_points": "Point",
                "flooded_buildings": "Polygon", "layer_styles": None}
    assert layers == expected  # the empty flooded_streets is left out
    lines = pyogrio.read_dataframe(gpkg, layer="interventions_lines")
    assert lines["change"].tolist() == ["walk street closed"]
    with sqlite3.connect(gpkg) as db:
        names = [row[0] for row in db.execute("SELECT name FROM interventions_polygons ORDER BY id")]
    assert names == [None, "Kerrostalo", None]  # NULL, never the string 'nan'


def test_gpkg_counts_are_integers_with_null_where_hidden(tree, gpkg):
    layer = "nearest-care-walk_change"
    info = pyogrio.read_info(gpkg, layer=layer)
    dtypes = dict(zip(info["fields"], info["dtypes"]))
    assert dtypes["households_elderly"] == "int64" and dtypes["residents_all"] == "int64"
    assert dtypes["share_reaching_elderly_10min"] == "float64" and dtypes["suppressed_elderly"] == "bool"
    node = tree["nearest-care-walk"]
    expected = {f"{name}_{group}" + (f"_{m:g}min" if "minutes" in node[name].dims else "")
                for name in zonal_variables(node) for group in GROUPS
                for m in (node["minutes"].to_numpy() if "minutes" in node[name].dims else [None])}
    assert set(info["fields"]) == {"zone_id", *expected, *(f"suppressed_{g}" for g in GROUPS)}
    frame = pyogrio.read_dataframe(gpkg, layer=layer)
    hidden = frame["suppressed_elderly"].astype(bool)
    assert hidden.any() and (~hidden).any()
    assert frame.loc[hidden, "households_elderly"].isna().all()
    assert frame.loc[~hidden, "households_elderly"].notna().all()
    with sqlite3.connect(gpkg) as db:
        stored = dict(db.execute(f'SELECT zone_id, households_elderly FROM "{layer}"').fetchall())
    assert all(stored[z] is None for z in frame.loc[hidden, "zone_id"])
    assert all(isinstance(stored[z], int) for z in frame.loc[~hidden, "zone_id"])


def styles(gpkg) -> dict[str, tuple]:
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleQML, styleSLD, useAsDefault "
                          "FROM layer_styles").fetchall()
        registered = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert registered == ("attributes",)
    assert len({row[0] for row in rows}) == len(rows)  # one default style per layer
    return {row[0]: row[1:] for row in rows}


def test_every_gpkg_layer_has_a_default_qgis_style(tree, gpkg):
    found = styles(gpkg)
    layers = [name for name, _ in pyogrio.list_layers(gpkg) if name != "layer_styles"]
    assert sorted(found) == sorted(layers)
    for name, (geometry, qml, sld, default) in found.items():
        assert default == 1 and geometry == "geom"
        assert qml.startswith("<!DOCTYPE qgis")
        renderer = ET.fromstring(qml).find("renderer-v2")
        ET.fromstring(sld)
        if name in zone_layer_names(tree):
            assert renderer.get("type") == "graduatedSymbol"
            ranges = renderer.findall("ranges/range")
            assert len(ranges) == len(renderer.findall("symbols/symbol")) >= 2
        else:
            assert renderer.get("type") == "singleSymbol"
    kinds = {name: ET.fromstring(found[name][1]).find("renderer-v2/symbols/symbol").get("type")
             for name in ("interventions_polygons", "interventions_lines", "interventions_points")}
    assert kinds == {"interventions_polygons": "fill", "interventions_lines": "line", "interventions_points": "marker"}


def qgis_colour(qml: str, value: float) -> list[int]:
    """The fill QGIS gives a feature: the first range holding the value (NULL read as the renderer's coalesce)."""
    renderer = ET.fromstring(qml).find("renderer-v2")
    if np.isnan(value):
        value = float(renderer.get("attr").rsplit(",", 1)[1].rstrip(")"))
    for entry in renderer.findall("ranges/range"):
        if float(entry.get("lower")) <= value <= float(entry.get("upper")):
            symbol = renderer.find(f"symbols/symbol[@name='{entry.get('symbol')}']")
            colour = symbol.find("layer/Option/Option[@name='color']").get("value")
            return [int(c) for c in colour.split(",")]
    raise AssertionError(f"{value} is in no range")


def test_qgis_styles_colour_zones_as_the_html_maps(tree, gpkg):
    found = styles(gpkg)
    node = tree["nearest-care-walk"]
    column = "share_reaching_elderly_10min"
    for side, scale in (("baseline", share_scale()), ("change", None)):
        values = node["share_reaching"].sel(group="elderly", minutes=10, side=side).to_numpy()
        scale = scale or change_scale(values, unit="", percent=True)
        qml = found[f"nearest-care-walk_{side}"][1]
        assert f'"{column}"' in ET.fromstring(qml).find("renderer-v2").get("attr")
        for value in [*values, *scale.edges[1:-1]]:  # the class edges too: both sides agree on them
            assert qgis_colour(qml, value)[:3] == scale.color(value)[:3], (side, value)
        assert qgis_colour(qml, np.nan) == NO_DATA_RGBA
    supply = ET.fromstring(found["supply-parks-area_m2-walk_baseline"][1]).find("renderer-v2")
    assert '"mean_supply_per_resident_elderly"' in supply.get("attr")
    sld = ET.fromstring(found["nearest-care-walk_baseline"][2])
    names = {"ogc": "http://www.opengis.net/ogc", "sld": "http://www.opengis.net/sld"}
    assert sld.find(".//ogc:PropertyName", names).text == column
    assert len(sld.findall(".//sld:Rule", names)) == len(share_scale().labels) + 1


def test_default_group_falls_back_to_the_first(tiny_tree, tmp_path):
    path = tmp_path / "layers.gpkg"
    write_layers(path, tiny_tree, {}, default_group="children")
    with sqlite3.connect(path) as db:
        qml = db.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'within-parks-walk_scenario'"
                         ).fetchone()[0]
    assert '"share_reaching_all_10min"' in ET.fromstring(qml).find("renderer-v2").get("attr")


# --- flood_depth.tif -----------------------------------------------------------------------------------------------

def test_flood_depth_is_a_float32_cog_with_dry_cells_as_nodata(tmp_path):
    x = 385_000 + 5 * np.arange(700) + 2.5
    y = 6_672_000 - 5 * np.arange(600) - 2.5
    values = np.random.default_rng(3).normal(0.2, 0.5, (600, 700))  # negatives and zeros are dry
    values[:20, :30] = np.nan
    values[100, 100] = 0.0
    depth = xr.DataArray(values, coords={"y": y, "x": x}, dims=("y", "x")).rio.write_crs("EPSG:3067")
    path = write_depth_cog(depth, tmp_path / "flood_depth.tif")
    with rasterio.open(path) as src:
        assert src.dtypes == ("float32",) and src.crs.to_epsg() == 3067
        assert src.compression == rasterio.enums.Compression.deflate
        assert src.profile["tiled"] and src.block_shapes == [(512, 512)]
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.overviews(1)
        assert src.nodata is not None and np.isnan(src.nodata)
        assert tuple(src.bounds) == (385_000, 6_669_000, 388_500, 6_672_000)
        read = src.read(1, masked=True)
    wet = values > 0
    assert np.array_equal(~read.mask, wet)
    assert np.array_equal(read.compressed(), values[wet].astype(np.float32))
