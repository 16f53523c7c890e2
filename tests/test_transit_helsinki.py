"""The transit mode on real data: the shared central-Helsinki OSM extract (45,901 walk nodes) and HSL's GTFS
subset; skipped when ../shared/data is absent."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from scipy.stats import spearmanr

from sandbox import access
from sandbox.build import build_twin


@pytest.fixture(scope="module")
def city(shared_data):
    return build_twin(shared_data / "osm" / "test_hki_centra.osm.pbf", name="hki-shared", calibration="helsinki-centre",
                      gtfs=shared_data / "gtfs" / "hsl_gtfs_20220204.zip", gtfs_licence="CC BY 4.0 (© HSL)")


@pytest.fixture(scope="module")
def trips(city):
    """40 x 40 door-to-door trips between seeded points of the walking network, by transit and on foot, with
    their straight-line distances (m)."""
    rng = np.random.default_rng(7)
    nodes = city.networks["walk"].xy
    pick = nodes[rng.choice(len(nodes), 80, replace=False)]
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pick[:, 0], pick[:, 1]), crs=city.crs)
    origins, destinations = points.iloc[:40], points.iloc[40:].reset_index(drop=True)
    ride = access.travel_times(city, origins, destinations, mode="transit")["travel_time_s"].to_numpy()
    walk = access.travel_times(city, origins, destinations, mode="walk")["travel_time_s"].to_numpy()
    distance = np.hypot(*(np.repeat(pick[:40], 40, axis=0) - np.tile(pick[40:], (40, 1))).T)
    return ride, walk, distance


def test_the_feed_is_on_the_twin(city):
    assert city.timetable.n_stops > 300 and city.timetable.n_trips > 9000
    assert "HSL" in city.provenance["transit"]["licence"]


def test_transit_beats_walking_across_the_centre(trips):
    # Measured: 196 pairs over 2.5 km, median 27.8 min by transit against 47.2 min on foot.
    ride, walk, distance = trips
    assert np.all(ride <= walk + 1e-6)  # walking all the way is one of the trips a rider may take
    long = (distance > 2500) & np.isfinite(walk)
    assert long.sum() >= 100
    assert np.median(ride[long]) < 0.75 * np.median(walk[long])


def test_travel_times_grow_with_distance(trips):
    ride, _, distance = trips
    reached = np.isfinite(ride)
    assert reached.mean() > 0.95
    rho = spearmanr(ride[reached], distance[reached]).statistic
    assert rho > 0.7  # measured 0.85
