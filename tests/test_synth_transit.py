"""Synthetic towns' timetables: deterministic by seed, valid for the kernels, stops on the streets and in the
transit_stops layer, speeds and headways as documented, and a network that takes one across town."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from sandbox import raptor
from sandbox.synth import HEADWAYS, SERVICE_DATE, _layout, _transit, town
from sandbox.timetable import route_patterns, straight_line_transfers, timetable_digest

H = 3600


@pytest.fixture(scope="module")
def riverside():
    return town(households=2000, seed=0)


@pytest.fixture(scope="module")
def larger():
    return town(households=20_000, seed=3)


def stop_xy(twin):
    lon, lat = twin.timetable.stop_lonlat.T
    return np.column_stack(Transformer.from_crs(4326, twin.crs, always_xy=True).transform(lon, lat))


def test_every_town_has_a_timetable(riverside, larger):
    for twin, seed in ((riverside, 0), (larger, 3)):
        tt = twin.timetable
        raptor.check(raptor.transit_arrays(tt))
        assert tt.service_date == SERVICE_DATE and SERVICE_DATE.weekday() == 1  # a Tuesday
        assert tt.source == f"synthetic timetable (sandbox.synth, seed {seed})"
        assert tt.licence == "CC0" and twin.provenance["transit"]["source"] == tt.source
        assert set(tt.route_modes) == {"bus", "rail"} and list(tt.route_modes).count("rail") == 1
        assert tt.route_names[0] == "1 Main Road"
        assert len(route_patterns(tt, np.arange(len(tt.route_ids)))) == 2 * len(tt.route_ids)  # both directions
        assert twin.summary()["transit"]["trips"] == tt.n_trips
    assert len(larger.timetable.route_ids) > len(riverside.timetable.route_ids)  # more lines for a bigger town


def test_deterministic_by_seed(riverside):
    again, other = town(households=2000, seed=0), town(households=2000, seed=1)
    assert timetable_digest(again.timetable) == timetable_digest(riverside.timetable)
    assert again.fingerprint() == riverside.fingerprint()
    assert timetable_digest(other.timetable) != timetable_digest(riverside.timetable)
    assert not np.array_equal(other.timetable.departure_s, riverside.timetable.departure_s)


def test_stops_are_the_layer_and_lie_on_the_walk_network(riverside, larger):
    for twin in (riverside, larger):
        tt, layer = twin.timetable, twin.layers["transit_stops"]
        assert list(layer.columns) == ["name", "mode", "osm_ids", "geometry"] and layer.index.name == "stop_id"
        assert layer["name"].tolist() == tt.stop_names.tolist()
        assert np.allclose(np.column_stack([layer.geometry.x, layer.geometry.y]), stop_xy(twin), atol=1e-3)
        serving = np.repeat(tt.pattern_route, np.diff(tt.pattern_stops_ptr))
        modes = {s: tt.route_modes[r] for s, r in zip(tt.pattern_stops, serving, strict=True)}
        assert layer["mode"].tolist() == [modes[s] for s in range(tt.n_stops)]

        left, bottom, right, top = twin.extent
        x, y = stop_xy(twin).T
        assert ((x > left) & (x < right) & (y > bottom) & (y < top)).all()
        walk = twin.networks["walk"]
        streets = shapely.union_all(walk.geometry)
        assert shapely.distance(streets, shapely.points(x, y)).max() < 30


def test_rail_is_faster_than_bus(larger):
    tt = larger.timetable
    to_m = Transformer.from_crs(4326, larger.crs, always_xy=True)
    speeds = {"bus": [], "rail": []}
    for p in range(tt.n_patterns):
        stops = tt.pattern_stops[tt.pattern_stops_ptr[p]:tt.pattern_stops_ptr[p + 1]]
        x, y = to_m.transform(*tt.stop_lonlat[stops].T)
        metres = np.hypot(np.diff(x), np.diff(y)).sum()
        arr, dep = tt.trip_times(p)
        speeds[tt.route_modes[tt.pattern_route[p]]].append(metres / (arr[0, -1] - dep[0, 0]) * 3.6)
    bus, rail = np.median(speeds["bus"]), np.median(speeds["rail"])
    assert 15 < bus < 22 and 35 < rail < 50 and rail > 1.8 * bus, (bus, rail)


@pytest.mark.parametrize(("mode", "start", "end", "minutes"), [
    ("bus", 5, 6, 30), ("bus", 7, 8.5, 10), ("bus", 10, 14, 15), ("bus", 16, 17.5, 10), ("bus", 19, 21, 15),
    ("bus", 22.5, 23.5, 30), ("rail", 7, 8.5, 10), ("rail", 10, 14, 20), ("rail", 19, 23, 20),
])
def test_headways_by_time_of_day(larger, mode, start, end, minutes):
    tt = larger.timetable
    assert any(m == minutes and h0 <= start < end <= h1 for h0, h1, m in HEADWAYS[mode])  # as documented
    for p in np.flatnonzero(tt.route_modes[tt.pattern_route] == mode):
        first = tt.trip_times(int(p))[1][:, 0]
        assert 5 * H <= first.min() < 5 * H + 600 and first.max() < 24 * H + 600
        inside = first[(first >= start * H) & (first < end * H)]
        assert len(inside) >= 2 and set(np.diff(inside)) == {minutes * 60}


@pytest.mark.parametrize("which", ["riverside", "larger"])
def test_one_stop_reaches_most_stops_within_90_minutes(which, request):
    twin = request.getfixturevalue(which)
    tt = twin.timetable
    x = stop_xy(twin)[:, 0]
    main_road = np.flatnonzero([name.startswith("Main Road /") for name in tt.stop_names])
    centre = int(main_road[np.argmin(np.abs(x[main_road] - np.median(x)))])
    reached = raptor.earliest_arrival(tt, [centre], [7 * H])[0]
    buses = tt.route_modes[tt.pattern_route[tt.stop_patterns[tt.stop_patterns_ptr[:-1]]]] == "bus"
    assert np.isfinite(reached[buses]).all()  # the bus lines meet at shared stops: no walk needed
    walked = raptor.earliest_arrival(straight_line_transfers(tt, max_m=400), [centre], [7 * H])[0]
    assert np.mean(walked - 7 * H <= 90 * 60) >= 0.9


def test_a_large_town_builds_its_timetable_quickly():
    layout = _layout(200_000, 0, 10.0)
    start = time.perf_counter()
    tt, layer = _transit(layout, CRS.from_user_input("EPSG:3067"))
    seconds = time.perf_counter() - start
    print(f"\n200,000 households ({layout.n} x {layout.n} blocks): {len(tt.route_ids)} lines, {tt.n_stops} stops, "
          f"{tt.n_trips} trips in {seconds:.3f} s")
    raptor.check(raptor.transit_arrays(tt))
    assert seconds < 1 and len(layer) == tt.n_stops and len(tt.route_ids) > 20
