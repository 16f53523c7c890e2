"""Synthetic towns: sizes, layers, networks and bridges, terrain with its hollow, determinism, references."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
import xarray as xr
from scipy import ndimage

from sandbox import TwinError, read_twin, save_twin
from sandbox.synth import RESIDENTS_PER_HOUSEHOLD, parse_synthetic, town
from sandbox.twin import LAYER_NAMES


@pytest.fixture(scope="module")
def riverside():
    return town(households=2000, seed=0)


def ground(twin, points) -> np.ndarray:
    """Terrain height under each point (nearest cell)."""
    at = {"x": xr.DataArray(points.x.to_numpy(), dims="p"), "y": xr.DataArray(points.y.to_numpy(), dims="p")}
    return twin.terrain.sel(at, method="nearest").to_numpy()


def water(twin, kind: str) -> shapely.Geometry:
    layer = twin.layers["water"]
    return layer.geometry[layer["kind"] == kind].union_all()


def test_households_match_the_request(riverside):
    households = riverside.households
    assert len(households) == pytest.approx(2000, rel=0.03)
    assert households["size"].sum() == round(2000 * RESIDENTS_PER_HOUSEHOLD)
    homes = riverside.layers["buildings"].loc[households["building_id"].unique()]
    assert homes["residential"].all()
    assert (households["zone_id"] >= 0).all()
    assert households["elderly_alone"].any() and households["children"].any()


def test_layers_are_filled_and_in_the_twin_crs(riverside):
    for name in LAYER_NAMES:
        layer = riverside.layers[name]
        assert len(layer) > 0, name
        assert layer.crs.to_string() == riverside.crs == "EPSG:3067"
    for part in (*LAYER_NAMES, "terrain", "network_walk", "network_bike", "network_drive"):
        assert riverside.provenance[part]["source"] == "synthetic town (sandbox.synth, seed 0)", part
        assert riverside.provenance[part]["licence"] == "CC0", part
        assert riverside.provenance[part]["how"], part
    assert "seed 0" in riverside.provenance["households"]["how"]

    buildings = riverside.layers["buildings"]
    assert buildings["levels"].between(1, 6).all() and (buildings["levels_source"] == "synthetic").all()
    assert np.allclose(buildings["floor_area_m2"], buildings["footprint_m2"] * buildings["levels"])
    assert 0.7 < buildings["residential"].mean() < 1.0
    assert (buildings["zone_id"] >= 0).all()
    assert buildings.distance(water(riverside, "river")).min() > 30
    assert not buildings.intersects(water(riverside, "sea")).any()

    parks = riverside.layers["parks"]
    assert {"Riverside Park West", "Riverside Park East"} <= set(parks["name"])
    assert np.allclose(parks["area_m2"], parks.area)
    assert set(riverside.layers["transit_stops"]["mode"]) == {"bus", "rail"}
    facilities = riverside.layers["facilities"]
    assert set(facilities["kind"]) == {"care", "school", "grocery", "elderly_centre", "library"}
    assert (facilities["capacity"] > 0).all()
    assert sorted(riverside.layers["water"]["kind"]) == ["river", "sea"]


def test_networks_are_connected_and_cross_the_river_only_at_bridges(riverside):
    for mode, net in riverside.networks.items():
        assert net.dropped_nodes == 0, mode
        assert nx.is_strongly_connected(net.to_networkx()), mode
    walk = riverside.networks["walk"].to_networkx()
    assert {d["highway"] for *_, d in walk.edges(data=True)} == {"residential", "primary"}
    river = water(riverside, "river")
    crossing = [(u, v, k) for u, v, k, d in walk.edges(keys=True, data=True) if d["geometry"].intersects(river)]
    assert {walk.edges[e]["name"] for e in crossing} == {"Main Road Bridge", "Harbour Bridge"}
    assert len(crossing) == 4  # two bridges, both directions

    cut = walk.copy()
    cut.remove_edges_from(crossing)
    sides = list(nx.weakly_connected_components(cut))
    assert len(sides) == 2
    middle = river.centroid.x
    for side in sides:
        west = {walk.nodes[n]["x"] < middle for n in side}
        assert len(west) == 1  # each part lies wholly on one bank


def test_terrain_slopes_to_the_sea_with_a_river_valley(riverside):
    dem = riverside.terrain
    assert dem.name == "elevation_m" and dem.dims == ("y", "x") and dem.attrs["units"] == "m"
    assert dem.rio.crs.to_string() == riverside.crs
    assert dem.rio.resolution() == (10.0, -10.0)
    left, bottom, right, top = dem.rio.bounds()
    e_left, e_bottom, e_right, e_top = riverside.extent
    assert left <= e_left and bottom <= e_bottom and right >= e_right and top >= e_top
    assert (dem.isel(y=-1) <= 0.3).all()  # open sea along the south edge

    x, y = np.meshgrid(dem["x"], dem["y"])
    river = dem.values[shapely.contains_xy(water(riverside, "river"), x, y)]
    town_ground = ground(riverside, riverside.layers["buildings"].representative_point())
    assert river.size > 100 and river.max() < 1.0
    assert river.max() < np.percentile(town_ground, 10) and 2 < np.median(town_ground) < 15
    facilities = riverside.layers["facilities"].set_index("name")
    low, high = ground(riverside, facilities.loc[["Riverside Clinic", "Hillside Health Centre"]].geometry)
    assert low < 1.5 < 5 < high  # one clinic floods early, the other stays dry


def test_a_hollow_behind_a_dyke_is_not_connected_to_the_sea(riverside):
    values = riverside.terrain.values
    below = values < 1.5
    labels, count = ndimage.label(below)
    sea = set(np.unique(labels[-1])) - {0}
    sizes = ndimage.sum(below, labels, np.arange(1, count + 1))
    inland = [(size, label) for label, size in zip(range(1, count + 1), sizes) if label not in sea]
    size, label = max(inland)
    hollow = labels == label
    assert size * 10.0**2 >= 1000 and values[hollow].min() < 1.0
    rim = ndimage.binary_dilation(hollow, iterations=3) & ~hollow
    assert values[rim].min() >= 1.5 and values[rim].max() > 2.5
    # A connected flood from the sea at 1.5 m stays out of the hollow; an unconnected bathtub fills it.
    connected = np.isin(labels, list(sea))
    assert not (connected & hollow).any() and (below & hollow).sum() == size


def test_same_arguments_same_twin(riverside):
    assert town(households=2000, seed=0).fingerprint() == riverside.fingerprint()
    assert town(households=2000, seed=1).fingerprint() != riverside.fingerprint()


def test_a_saved_town_reads_back_identical(riverside, tmp_path):
    assert read_twin(save_twin(riverside, tmp_path / "riverside")).fingerprint() == riverside.fingerprint()


def test_parse_synthetic_passes_parameters(riverside):
    twin = parse_synthetic("synthetic:riverside?households=300&seed=2&cell_m=20")
    assert twin.name == "riverside"
    assert twin.fingerprint() == town(households=300, seed=2, cell_m=20).fingerprint()
    assert twin.terrain.rio.resolution() == (20.0, -20.0)
    assert len(twin.households) == pytest.approx(300, rel=0.1)
    assert parse_synthetic("synthetic:riverside").fingerprint() == riverside.fingerprint()


@pytest.mark.parametrize(("reference", "message"), [
    ("riverside", "not a synthetic twin reference; expected e.g. synthetic:riverside?"),
    ("synthetic:hilltop", "town: unknown 'hilltop'; expected one of riverside"),
    ("synthetic:riverside?size=3", "parameter: unknown 'size'; expected one of households, seed, cell_m"),
    ("synthetic:riverside?households=many", "households: 'many' is not an integer; expected e.g. households=2000"),
    ("synthetic:riverside?cell_m=fine", "cell_m: 'fine' is not a number"),
    ("synthetic:riverside?seed=1&seed=2", "seed: given twice"),
    ("synthetic:riverside?households=0", "households: 0; expected an integer >= 1"),
    ("synthetic:riverside?cell_m=0.1", "cell_m: 0.1; expected a cell size from 1 to 20 m"),
])
def test_parse_synthetic_errors_in_one_line(reference, message):
    with pytest.raises(TwinError) as error:
        parse_synthetic(reference)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"crs": "EPSG:4326"}, "not a projected CRS in metres"),
    ({"crs": "nowhere"}, "cannot parse 'nowhere'"),
    ({"households": True}, "households: True"),
    ({"seed": -1}, "seed: -1; expected an integer >= 0"),
])
def test_town_rejects_bad_options(options, message):
    with pytest.raises(TwinError) as error:
        town(**options)
    assert message in str(error.value)


def test_another_metric_crs_keeps_the_town(riverside):
    twin = town(households=2000, crs="EPSG:32635")
    assert twin.crs == "EPSG:32635" and twin.terrain.rio.crs.to_string() == "EPSG:32635"
    assert all(layer.crs.to_string() == "EPSG:32635" for layer in twin.layers.values())
    assert twin.extent == riverside.extent


def test_a_large_town_builds(riverside):
    large = town(households=20_000, seed=3)
    assert len(large.households) == pytest.approx(20_000, rel=0.02)
    assert len(large.layers["buildings"]) > 8 * len(riverside.layers["buildings"])
    width = large.extent[2] - large.extent[0]
    assert width > 2.5 * (riverside.extent[2] - riverside.extent[0])
    assert all(net.dropped_nodes == 0 for net in large.networks.values())
