"""RAPTOR and range-RAPTOR against hand-worked answers and a time-expanded networkx oracle on seeded random
timetables; FIFO and more-rounds properties; errors."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np
import pytest

from sandbox import TwinError
from sandbox.raptor import (
    TransitArrays,
    check,
    departure_times,
    earliest_arrival,
    percentile_matrix,
    range_arrivals,
    travel_time_percentile,
)

H = 3600
M = 60


# ---------------------------------------------------------------------------------------------------------------
# Timetables as arrays.


def arrays_of(n_stops: int, patterns: list[tuple[list[int], np.ndarray, np.ndarray]],
              footpaths: list[tuple[int, int, int]]) -> TransitArrays:
    """The arrays of ``patterns`` (stops, arrivals and departures as (trips, stops) arrays, trips FIFO) and
    ``footpaths`` (from, to, seconds)."""
    stops_ptr, trips_ptr, times_ptr = [0], [0], [0]
    for stops, arr, _ in patterns:
        stops_ptr.append(stops_ptr[-1] + len(stops))
        trips_ptr.append(trips_ptr[-1] + arr.shape[0])
        times_ptr.append(times_ptr[-1] + arr.size)
    serving: list[list[tuple[int, int]]] = [[] for _ in range(n_stops)]
    for p, (stops, _, _) in enumerate(patterns):
        for i, s in enumerate(stops):
            serving[s].append((p, i))
    walks: list[list[tuple[int, int]]] = [[] for _ in range(n_stops)]
    for u, v, w in footpaths:
        walks[u].append((v, w))
    cat = (lambda parts: np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32))
    return TransitArrays(
        pattern_stops_ptr=np.array(stops_ptr, np.int64),
        pattern_stops=cat([np.array(s) for s, _, _ in patterns]),
        pattern_trips_ptr=np.array(trips_ptr, np.int64),
        times_ptr=np.array(times_ptr, np.int64),
        arrival_s=cat([a.ravel() for _, a, _ in patterns]),
        departure_s=cat([d.ravel() for _, _, d in patterns]),
        stop_patterns_ptr=np.cumsum([0] + [len(x) for x in serving]).astype(np.int64),
        stop_patterns=np.array([p for x in serving for p, _ in x], np.int32),
        stop_positions=np.array([i for x in serving for _, i in x], np.int32),
        transfers_ptr=np.cumsum([0] + [len(x) for x in walks]).astype(np.int64),
        transfers_to=np.array([v for x in walks for v, _ in x], np.int32),
        transfers_s=np.array([w for x in walks for _, w in x], np.int32),
    )


def trips(first_departures: list[int], run_s: list[int], dwell_s: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Trips leaving the first stop at ``first_departures``, ``run_s[i]`` from stop i to i + 1, dwelling ``dwell_s``."""
    offsets = np.concatenate([[0], np.cumsum(np.asarray(run_s) + dwell_s)])
    arr = np.asarray(first_departures)[:, None] + offsets[None, :] - np.r_[0, [dwell_s] * len(run_s)][None, :]
    dep = arr + np.r_[0, [dwell_s] * len(run_s)][None, :]
    arr[:, 0] = dep[:, 0]
    return arr, dep


def random_timetable(seed: int) -> tuple[TransitArrays, list[tuple[int, int, int]]]:
    """A seeded random timetable: 10-30 stops, 3-8 patterns of 2-8 distinct stops, 1-6 FIFO trips each with random
    speeds (so later trips may be faster on other patterns), times in whole minutes (ties happen) around midnight,
    and random footpaths (not transitively closed, some of 0 s)."""
    rng = np.random.default_rng(seed)
    n_stops = int(rng.integers(10, 31))
    patterns = []
    for _ in range(int(rng.integers(3, 9))):
        m = int(rng.integers(2, 9))
        stops = rng.choice(n_stops, m, replace=False).tolist()
        n_trips = int(rng.integers(1, 7))
        first = np.sort(rng.integers(22 * 60, 25 * 60, n_trips)) * M
        arr = np.zeros((n_trips, m), np.int64)
        dep = np.zeros((n_trips, m), np.int64)
        for j in range(n_trips):
            for i in range(m):
                if i == 0:
                    arr[j, i] = first[j]
                else:
                    arr[j, i] = dep[j, i - 1] + int(rng.integers(1, 15)) * M
                    if j:
                        arr[j, i] = max(arr[j, i], arr[j - 1, i])  # FIFO: no overtaking
                dep[j, i] = arr[j, i] + int(rng.integers(0, 3)) * M * (0 < i < m - 1)
                if j:
                    dep[j, i] = max(dep[j, i], dep[j - 1, i])
        patterns.append((stops, arr, dep))
    footpaths = []
    for _ in range(int(rng.integers(0, 2 * n_stops))):
        u, v = rng.choice(n_stops, 2, replace=False)
        footpaths.append((int(u), int(v), int(rng.integers(0, 11)) * M))
    return arrays_of(n_stops, patterns, footpaths), footpaths


# ---------------------------------------------------------------------------------------------------------------
# The oracle: a time-expanded graph. Nodes are departure and arrival events of trips at stops; edges ride a trip to
# its next stop, stay seated, wait at a stop for its next departure event, change at a stop (an arrival to the first
# departure at or after it) and walk a footpath (an arrival to the first departure at the target at or after
# arrival + walk). A journey is a path, so the earliest arrival at a stop is the earliest arrival event reachable,
# or such an event (or the source itself) plus one footpath.


class TimeExpanded:
    def __init__(self, a: TransitArrays, footpaths: list[tuple[int, int, int]]):
        self.n_stops = a.n_stops
        self.footpaths = footpaths
        self.graph = nx.DiGraph()
        self.event_time: dict[tuple, int] = {}
        self.arrivals: list[tuple[tuple, int]] = []  # (event, stop)
        departures: list[list[tuple[int, tuple]]] = [[] for _ in range(a.n_stops)]
        for p in range(a.n_patterns):
            stops = a.pattern_stops[a.pattern_stops_ptr[p]:a.pattern_stops_ptr[p + 1]]
            m = len(stops)
            n_trips = int(a.pattern_trips_ptr[p + 1] - a.pattern_trips_ptr[p])
            arr = a.arrival_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(n_trips, m)
            dep = a.departure_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(n_trips, m)
            for j in range(n_trips):
                for i in range(m):
                    if i < m - 1:
                        d = ("dep", p, j, i)
                        self.event_time[d] = int(dep[j, i])
                        departures[stops[i]].append((int(dep[j, i]), d))
                        self.graph.add_edge(d, ("arr", p, j, i + 1))
                    if i > 0:
                        e = ("arr", p, j, i)
                        self.event_time[e] = int(arr[j, i])
                        self.arrivals.append((e, int(stops[i])))
                        if i < m - 1:
                            self.graph.add_edge(e, ("dep", p, j, i))  # stay seated
        self.departures = [sorted(x) for x in departures]
        for events in self.departures:
            for (_, u), (_, v) in pairwise(events):
                self.graph.add_edge(u, v)  # wait
        for e, s in self.arrivals:
            self._connect(e, s, self.event_time[e])
            for u, v, w in footpaths:
                if u == s:
                    self._connect(e, v, self.event_time[e] + w)

    def _next_departure(self, stop: int, t: int):
        events = self.departures[stop]
        i = np.searchsorted([time for time, _ in events], t, side="left")
        return events[i][1] if i < len(events) else None

    def _connect(self, node, stop: int, t: int) -> None:
        d = self._next_departure(stop, t)
        if d is not None:
            self.graph.add_edge(node, d)

    def earliest(self, sources: list[int], times: list[int]) -> np.ndarray:
        out = np.full(self.n_stops, np.inf)
        g = self.graph.copy()
        g.add_node("source")
        for s, t in zip(sources, times):
            out[s] = min(out[s], t)
            self._connect_in(g, s, t)
            for u, v, w in self.footpaths:
                if u == s:
                    out[v] = min(out[v], t + w)
                    self._connect_in(g, v, t + w)
        reached = nx.descendants(g, "source")
        for e, s in self.arrivals:
            if e in reached:
                t = self.event_time[e]
                out[s] = min(out[s], t)
                for u, v, w in self.footpaths:
                    if u == s:
                        out[v] = min(out[v], t + w)
        return out

    def _connect_in(self, g: nx.DiGraph, stop: int, t: int) -> None:
        d = self._next_departure(stop, t)
        if d is not None:
            g.add_edge("source", d)


# ---------------------------------------------------------------------------------------------------------------
# Known answers.
#
# Stops: 0 A, 1 B, 2 C (the transfer stop), 3 D, 4 E, 5 F (2 min walk from C), 6 G.
# Pattern 0, the slow line A-B-C: every 15 min from 08:00, 10 min A-B, 20 min B-C.
# Pattern 1, the express A-C: one trip, A 08:05, C 08:20.
# Pattern 2, C-D-E: C 08:25 and 08:40, 10 min per stop.
# Pattern 3, the night line F-G: F 23:50 -> G 24:20, F 25:10 -> G 25:40 (times past 86,400).

A, B, C, D, E, F, G = range(7)


@pytest.fixture(scope="module")
def tiny() -> TransitArrays:
    slow = trips([8 * H, 8 * H + 15 * M, 8 * H + 30 * M], [10 * M, 20 * M])
    express = trips([8 * H + 5 * M], [15 * M])
    onward = trips([8 * H + 25 * M, 8 * H + 40 * M], [10 * M, 10 * M])
    night = trips([23 * H + 50 * M, 25 * H + 10 * M], [30 * M])
    a = arrays_of(7, [([A, B, C], *slow), ([A, C], *express), ([C, D, E], *onward), ([F, G], *night)],
                  [(C, F, 2 * M), (F, C, 2 * M)])
    check(a)
    return a


def test_waiting_for_a_later_faster_trip_wins(tiny):
    arrival, used = earliest_arrival(tiny, [A], [8 * H])
    assert arrival[B] == 8 * H + 10 * M  # the 08:00 slow trip
    assert arrival[C] == 8 * H + 20 * M  # the 08:05 express, not the 08:00 slow trip (08:30)
    assert arrival[F] == 8 * H + 22 * M  # a footpath after it
    assert used[A] == 0 and used[B] == 1 and used[C] == 1 and used[F] == 1


def test_one_transfer_and_max_rounds_one_forbids_it(tiny):
    arrival, used = earliest_arrival(tiny, [A], [8 * H])
    assert arrival[D] == 8 * H + 35 * M and arrival[E] == 8 * H + 45 * M  # express, change at C to 08:25
    assert used[D] == 2 and used[E] == 2
    assert arrival[G] == 24 * H + 20 * M and used[G] == 2  # walk C-F, then wait all day for the night line
    one, used_one = earliest_arrival(tiny, [A], [8 * H], max_rounds=1)
    assert np.isinf(one[D]) and np.isinf(one[E]) and used_one[D] == -1
    assert one[C] == 8 * H + 20 * M and one[F] == 8 * H + 22 * M and np.isinf(one[G])
    zero, _ = earliest_arrival(tiny, [A], [8 * H], max_rounds=0)
    assert zero[A] == 8 * H and np.isinf(zero).sum() == 6


def test_missing_the_change_takes_the_next_trip(tiny):
    # Leaving A at 08:06 misses the express: slow 08:15 to C at 08:45, too late for 08:40: D, E unreached.
    arrival, _ = earliest_arrival(tiny, [A], [8 * H + 6 * M])
    assert arrival[C] == 8 * H + 45 * M and np.isinf(arrival[D])
    # From B at 08:20 (the 08:15 slow trip passes B at 08:25): C 08:45.
    arrival, _ = earliest_arrival(tiny, [B], [8 * H + 20 * M])
    assert arrival[C] == 8 * H + 45 * M and np.isinf(arrival[A])


def test_after_midnight_and_footpath_to_the_first_stop(tiny):
    arrival, used = earliest_arrival(tiny, [C], [23 * H + 40 * M])
    assert arrival[F] == 23 * H + 42 * M and used[F] == 0  # a footpath from the source
    assert arrival[G] == 24 * H + 20 * M and used[G] == 1  # past 86,400
    late, _ = earliest_arrival(tiny, [F], [23 * H + 55 * M])
    assert late[G] == 25 * H + 40 * M and late[C] == 23 * H + 57 * M
    # Two sources (access legs): the earlier of the two wins per stop; fractional seconds round up.
    both, _ = earliest_arrival(tiny, [A, B], [8 * H + 6 * M, 8 * H + 9 * M + 0.4])
    assert both[C] == 8 * H + 30 * M  # from B: the 08:00 slow trip, there at 08:10
    assert both[A] == 8 * H + 6 * M and both[B] == 8 * H + 9 * M + 1
    edge, _ = earliest_arrival(tiny, [B], [8 * H + 10 * M + 0.5])  # just after the 08:00 trip leaves B
    assert edge[C] == 8 * H + 45 * M


def test_range_on_the_tiny_timetable(tiny):
    rows = range_arrivals(tiny, [A], [0], window_start_s=8 * H, window_end_s=8 * H + 10 * M)
    deps = departure_times(8 * H, 8 * H + 10 * M)
    assert rows.shape == (10, 7) and len(deps) == 10
    assert list(rows[:, C]) == [8 * H + 20 * M] * 6 + [8 * H + 45 * M] * 4
    median = travel_time_percentile(rows, deps)
    assert median[C] == 19 * M  # 15..20 min leaving 08:00-08:05, 36..39 after: the 5th of 10 (lower middle)
    assert median[D] == 34 * M  # reached from 6 of 10 departures (08:35): 4 unreached is not more than half
    assert np.isinf(travel_time_percentile(rows, deps, q=0.7)[D])  # but more than 30%
    assert travel_time_percentile(rows, deps, q=0.6)[D] == 35 * M


# ---------------------------------------------------------------------------------------------------------------
# The oracle on random timetables.

SEEDS = range(30)


@pytest.mark.parametrize("seed", SEEDS)
def test_earliest_arrival_matches_the_time_expanded_graph(seed):
    a, footpaths = random_timetable(seed)
    check(a)
    oracle = TimeExpanded(a, footpaths)
    rng = np.random.default_rng(1000 + seed)
    pairs = 0
    for s in range(a.n_stops):
        t0 = int(rng.integers(22 * 60, 25 * 60)) * M + int(rng.integers(0, 2)) * 30
        ours, _ = earliest_arrival(a, [s], [t0], max_rounds=20)
        np.testing.assert_array_equal(ours, oracle.earliest([s], [t0]), err_msg=f"seed {seed}, source {s}")
        pairs += a.n_stops
    for _ in range(3):  # several sources at different times
        k = int(rng.integers(2, 5))
        sources = rng.choice(a.n_stops, k, replace=False).tolist()
        times = (rng.integers(22 * 60, 25 * 60, k) * M).tolist()
        ours, _ = earliest_arrival(a, sources, times, max_rounds=20)
        np.testing.assert_array_equal(ours, oracle.earliest(sources, times), err_msg=f"seed {seed}, {sources}")
        pairs += a.n_stops
    assert pairs >= a.n_stops ** 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("max_rounds", [1, 2, 20])
def test_range_rows_equal_fresh_searches(seed, max_rounds):
    a, _ = random_timetable(seed)
    rng = np.random.default_rng(2000 + seed)
    k = int(rng.integers(1, 4))
    sources = rng.choice(a.n_stops, k, replace=False)
    offsets = rng.integers(0, 10, k) * 37
    start = int(rng.integers(22 * 60, 24 * 60)) * M
    rows = range_arrivals(a, sources, offsets, window_start_s=start, window_end_s=start + 90 * M,
                          max_rounds=max_rounds)
    deps = departure_times(start, start + 90 * M)
    for d, t in enumerate(deps):
        fresh, _ = earliest_arrival(a, sources, t + offsets, max_rounds=max_rounds)
        np.testing.assert_array_equal(rows[d], fresh, err_msg=f"seed {seed}, departure {t}")
    # FIFO: leaving later never arrives earlier.
    assert np.all(np.diff(np.where(np.isinf(rows), 1e18, rows), axis=0) >= 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_more_rounds_never_arrive_later(seed):
    a, _ = random_timetable(seed)
    rng = np.random.default_rng(3000 + seed)
    for s in rng.choice(a.n_stops, 5, replace=False):
        t0 = int(rng.integers(22 * 60, 25 * 60)) * M
        previous = np.full(a.n_stops, np.inf)
        for k in range(8):
            arrival, used = earliest_arrival(a, [s], [t0], max_rounds=k)
            assert np.all(arrival <= previous)
            assert np.all(used <= k) and np.all((used == -1) == np.isinf(arrival))
            previous = arrival


# ---------------------------------------------------------------------------------------------------------------
# Percentiles and errors.


@pytest.mark.parametrize("seed", SEEDS)
def test_percentile_matrix_is_fresh_searches_walked_on(seed):
    """Door-to-door times against a brute force: a fresh search per departure, every egress walk from every stop
    reached, the direct walk, the cap at max_s, then the quantile over the departures."""
    a, _ = random_timetable(seed)
    rng = np.random.default_rng(3000 + seed)
    n_origins, n_targets = 3, 7
    access = [(rng.choice(a.n_stops, int(rng.integers(0, 4)), replace=False), rng.integers(0, 600, 4)) for _ in
              range(n_origins)]
    access_ptr = np.cumsum([0] + [len(stops) for stops, _ in access])
    access_stop = np.concatenate([stops for stops, _ in access]).astype(int)
    access_s = np.concatenate([seconds[:len(stops)] for stops, seconds in access]).astype(float)
    direct = np.where(rng.random((n_origins, n_targets)) < 0.5, rng.uniform(600, 9000, (n_origins, n_targets)),
                      np.inf)
    legs = [(s, t, float(rng.uniform(0, 900))) for s in range(a.n_stops) for t in range(n_targets)
            if rng.random() < 0.3]
    legs.sort(key=lambda leg: (leg[0], leg[2]))
    egress_ptr = np.searchsorted([s for s, _, _ in legs], np.arange(a.n_stops + 1))
    egress = (egress_ptr, np.array([t for _, t, _ in legs], int), np.array([e for _, _, e in legs]))
    for o in range(n_origins):  # as on a street network: no walk through a stop is shorter than the direct walk
        stops = access_stop[access_ptr[o]:access_ptr[o + 1]]
        if len(stops):
            on_foot, _ = earliest_arrival(a, stops, np.ceil(access_s[access_ptr[o]:access_ptr[o + 1]]), max_rounds=0)
            for s, target, e in legs:
                direct[o, target] = min(direct[o, target], on_foot[s] + np.float32(e))
    start = int(rng.integers(22 * 60, 24 * 60)) * M
    deps = departure_times(start, start + 60 * M)
    q, max_s = float(rng.choice([0.1, 0.5, 0.9])), float(rng.choice([1800, 3600, np.inf]))
    got = percentile_matrix(a, (access_ptr, access_stop, access_s), direct, egress, deps, q=q, max_rounds=3,
                            max_s=max_s)
    for o in range(n_origins):
        stops = access_stop[access_ptr[o]:access_ptr[o + 1]]
        times = np.tile(direct[o], (len(deps), 1))
        for d, t in enumerate(deps):
            if len(stops):
                arrival, _ = earliest_arrival(a, stops, t + access_s[access_ptr[o]:access_ptr[o + 1]], max_rounds=3)
                for s, target, e in legs:
                    times[d, target] = min(times[d, target], arrival[s] + np.float32(e) - t)
        times[times > max_s] = np.inf
        expected = travel_time_percentile(times + deps[:, None], deps, q)
        np.testing.assert_allclose(got[o], expected, rtol=0, atol=1e-3, err_msg=f"seed {seed}, origin {o}")


def test_travel_time_percentile_nearest_rank():
    deps = np.array([0.0, 60, 120, 180])
    arrivals = np.array([[100, 50, np.inf], [160, np.inf, np.inf], [500, np.inf, 300], [400, np.inf, np.inf]])
    median = travel_time_percentile(arrivals, deps)
    assert median[0] == 100 and np.isinf(median[1]) and np.isinf(median[2])  # 1 of 4 reached: 75% unreached
    assert travel_time_percentile(arrivals, deps, q=0.25)[1] == 50
    assert travel_time_percentile(arrivals, deps, q=1.0)[0] == 380
    with pytest.raises(TwinError):
        travel_time_percentile(arrivals, deps, q=0)


def test_errors(tiny):
    with pytest.raises(TwinError, match="source stop"):
        earliest_arrival(tiny, [99], [0])
    with pytest.raises(TwinError, match="differ in length"):
        earliest_arrival(tiny, [0, 1], [0])
    with pytest.raises(TwinError, match="finite"):
        earliest_arrival(tiny, [0], [np.nan])
    with pytest.raises(TwinError, match="window"):
        range_arrivals(tiny, [0], [0], window_start_s=10, window_end_s=10)
    overtaking = arrays_of(2, [([0, 1], np.array([[0, 100], [10, 50]]), np.array([[0, 100], [10, 50]]))], [])
    with pytest.raises(TwinError, match="FIFO"):
        check(overtaking)
