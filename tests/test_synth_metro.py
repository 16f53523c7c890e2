"""Metropolitan synthetic towns: several centres with their own street patterns, about one walk node per household,
a coast and a river, terrain low by the water, facilities that grow with the residents, transit that is never
slower than walking, floods that reach something, determinism and references."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from sandbox import TwinError, read_twin, save_twin
from sandbox.access import nearest
from sandbox.scenarios.load import parse_scenario
from sandbox.scenarios.plan import apply, plan
from sandbox.synth import (
    CENTRE_NAMES,
    FOOTWAY,
    HIGHWAYS,
    METRO_MIN_HOUSEHOLDS,
    PATTERNS,
    RESIDENTS_PER_FACILITY,
    RESIDENTS_PER_HOUSEHOLD,
    _city,
    parse_synthetic,
    town,
)
from sandbox.twin import LAYER_NAMES

from .test_synth import ground, water


@pytest.fixture(scope="module")
def metro():
    return town(kind="metro", households=5000, seed=2)


@pytest.fixture(scope="module")
def larger():
    return town(kind="metro", households=20_000, seed=4)


def street_names(twin) -> set[str]:
    return {name for name in twin.networks["walk"].names.tolist() if name is not None}


def to_centre(points, centres: np.ndarray) -> np.ndarray:
    xy = np.column_stack([points.x, points.y])
    return np.hypot(*(xy[:, None] - centres[None]).transpose(2, 0, 1)).min(axis=1)


def test_same_seed_same_twin(metro):
    assert town(kind="metro", households=5000, seed=2).fingerprint() == metro.fingerprint()
    assert town(kind="metro", households=5000, seed=3).fingerprint() != metro.fingerprint()
    assert metro.name == "metro"


def test_riverside_stays_the_default():
    assert town(households=300, seed=1).fingerprint() == town(kind="riverside", households=300, seed=1).fingerprint()
    assert town(households=300).name == "riverside"


@pytest.mark.parametrize("which", ["metro", "larger"])
def test_about_one_walk_node_per_household(which, request):
    twin = request.getfixturevalue(which)
    households = len(twin.households)
    assert households == pytest.approx(5000 if which == "metro" else 20_000, rel=0.02)
    assert twin.households["size"].sum() == round((5000 if which == "metro" else 20_000) * RESIDENTS_PER_HOUSEHOLD)
    assert 0.6 < twin.networks["walk"].n_nodes / households < 1.6
    for mode, net in twin.networks.items():
        assert net.dropped_nodes == 0, mode  # one connected network, nothing cut off


def test_several_centres_with_their_own_street_patterns(metro, larger):
    for twin, (households, seed) in ((metro, (5000, 2)), (larger, (20_000, 4))):
        city = _city(households, seed, 10.0)
        assert 3 <= len(city.centres) <= 6 and set(city.patterns) == set(PATTERNS)
        names = {name.split()[0] for name in street_names(twin)}
        assert set(city.names) <= names  # every district has streets named after its centre
        care = round(households * RESIDENTS_PER_HOUSEHOLD / RESIDENTS_PER_FACILITY["care"])
        at_centres = {f"{name} Health Centre" for name in city.names[:max(1, care)]}
        assert at_centres <= set(twin.layers["facilities"]["name"])  # the first centres each have one
    assert len(_city(1_000_000, 0, 10.0).centres) > len(_city(5000, 0, 10.0).centres)
    assert set(CENTRE_NAMES[:3]) <= {name.split()[0] for name in street_names(metro)}


def test_footways_blocks_and_arterials(metro):
    walk, drive = metro.networks["walk"], metro.networks["drive"]
    kinds = set(walk.highways.tolist())
    assert kinds <= set(HIGHWAYS) and {"footway", "residential", "primary", "secondary"} <= kinds
    footways = (walk.highways == "footway").mean()
    assert 0.15 < footways < 0.6  # footways cut blocks and cross parks
    assert "footway" not in set(drive.highways.tolist())  # for walking only
    assert walk.n_nodes > 1.3 * drive.n_nodes
    lengths = walk.length_m[walk.highways != "footway"]
    assert 15 < np.median(lengths) < 40  # a node every lattice step along streets, as in OSM's unsimplified ways
    assert HIGHWAYS[FOOTWAY] == "footway"


def test_a_coast_and_a_river(metro):
    assert sorted(metro.layers["water"]["kind"]) == ["river", "sea"]
    sea, river = water(metro, "sea"), water(metro, "river")
    assert river.area > 0.02 * sea.area and river.distance(sea) < 1.0  # the river runs into the sea
    buildings = metro.layers["buildings"]
    assert not buildings.intersects(sea).any() and not buildings.intersects(river).any()
    walk = metro.networks["walk"]
    crossing = set(walk.names[shapely.intersects(walk.geometry, river)].tolist())
    assert len(crossing) >= 2 and all(name.endswith("Bridge") for name in crossing)


def test_terrain_is_low_by_the_coast_and_the_river(metro):
    dem = metro.terrain
    assert dem.name == "elevation_m" and dem.rio.crs.to_string() == metro.crs
    left, bottom, right, top = dem.rio.bounds()
    e_left, e_bottom, e_right, e_top = metro.extent
    assert left <= e_left and bottom <= e_bottom and right >= e_right and top >= e_top
    x, y = np.meshgrid(dem["x"], dem["y"])
    assert dem.values[shapely.contains_xy(water(metro, "sea"), x, y)].max() < 0
    assert np.median(dem.values[shapely.contains_xy(water(metro, "river"), x, y)]) < 2
    homes = metro.layers["buildings"].representative_point()
    to_sea = homes.distance(water(metro, "sea")).to_numpy()
    height = ground(metro, homes)
    assert np.median(height[to_sea < 300]) + 3 < np.median(height[to_sea > 1200])


def test_a_water_level_flood_floods_something(metro):
    spec = parse_scenario("""
schema_version: 1
name: metro-surge
twin: synthetic:metro?households=5000&seed=2
seed: 2
interventions:
  - {type: flood, hazard: water_level, level_m: 2.0}
indicators: [{measure: nearest, to: care, minutes: [10]}]
groups: [all, elderly]
""")
    planned = plan(spec, metro)
    variant = apply(planned)
    impacts = planned.flood_impacts.summary()
    assert impacts["buildings_flooded"] > 0 and impacts["streets_impassable_m"]["walk"] > 0
    assert np.isinf(variant.travel_time_factors("walk")).any()
    assert float(variant.flood_depth.max()) > 0.5 and metro.flood_depth is None


def test_transit_is_never_slower_than_walking(metro):
    tt = metro.timetable
    assert set(tt.route_modes) == {"bus", "metro"} and list(tt.route_modes).count("metro") == 1
    stops = metro.layers["transit_stops"]
    assert stops["name"].tolist() == tt.stop_names.tolist() and set(stops["mode"]) == {"bus", "metro"}
    walking = nearest(metro, "care", mode="walk")["travel_time_s"].to_numpy()
    riding = nearest(metro, "care", mode="transit")["travel_time_s"].to_numpy()
    reached = np.isfinite(riding)
    assert reached.mean() > 0.9
    assert (riding[reached] <= walking[reached] + 1).all()
    assert (riding < walking - 60).any()  # the buses and the metro save someone a minute


def test_facilities_grow_with_residents_and_sit_near_the_centres(metro, larger):
    counts = []
    for twin, households, seed in ((metro, 5000, 2), (larger, 20_000, 4)):
        facilities = twin.layers["facilities"]
        residents = round(households * RESIDENTS_PER_HOUSEHOLD)
        found = facilities["kind"].value_counts()
        k = len(_city(households, seed, 10.0).centres)
        for kind, per in RESIDENTS_PER_FACILITY.items():
            assert found[kind] == max(1, round(residents / per)), kind
        assert (facilities["capacity"] > 0).all()
        counts.append(len(facilities))
        centres = _city(households, seed, 10.0).centres
        assert k == len(centres)
        homes = twin.layers["buildings"].representative_point()
        assert np.median(to_centre(facilities.geometry, centres)) < np.median(to_centre(homes, centres))
    assert counts[1] > 3 * counts[0]


def test_every_layer_and_provenance(metro):
    for name in LAYER_NAMES:
        layer = metro.layers[name]
        assert len(layer) > 0 and layer.crs.to_string() == metro.crs, name
    for part in (*LAYER_NAMES, "terrain", "network_walk", "network_bike", "network_drive"):
        assert metro.provenance[part]["source"] == "synthetic town (sandbox.synth, seed 2)", part
        assert metro.provenance[part]["how"], part
    buildings = metro.layers["buildings"]
    assert np.allclose(buildings["floor_area_m2"], buildings["footprint_m2"] * buildings["levels"])
    assert 0.7 < buildings["residential"].mean() < 1.0 and (buildings["zone_id"] >= 0).all()
    assert (metro.households["zone_id"] >= 0).all()
    assert metro.layers["buildings"].loc[metro.households["building_id"].unique(), "residential"].all()


def test_a_saved_metro_town_reads_back_identical(metro, tmp_path):
    assert read_twin(save_twin(metro, tmp_path / "metro")).fingerprint() == metro.fingerprint()


def test_parse_synthetic_metro(metro):
    twin = parse_synthetic("synthetic:metro?households=5000&seed=2")
    assert twin.name == "metro" and twin.fingerprint() == metro.fingerprint()


@pytest.mark.parametrize(("reference", "message"), [
    ("synthetic:suburb", "town: unknown 'suburb'; expected one of riverside, metro"),
    ("synthetic:metro?households=lots", "households: 'lots' is not an integer; expected e.g. households=2000"),
    ("synthetic:metro?size=3", "parameter: unknown 'size'; expected one of households, seed, cell_m"),
    ("synthetic:metro?households=500", f"households: 500; expected an integer >= {METRO_MIN_HOUSEHOLDS} for a metro"),
    ("synthetic:metro?seed=-1", "seed: -1; expected an integer >= 0"),
    ("synthetic:metro?cell_m=50", "cell_m: 50.0; expected a cell size from 1 to 20 m"),
])
def test_parse_synthetic_metro_errors_in_one_line(reference, message):
    with pytest.raises(TwinError) as error:
        parse_synthetic(reference)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_town_rejects_an_unknown_kind():
    with pytest.raises(TwinError, match="town: kind: unknown 'suburb'; expected one of riverside, metro"):
        town(kind="suburb")
