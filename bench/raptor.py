"""RAPTOR benchmark: range-RAPTOR over a 60-minute window (a departure each minute) from one origin on a synthetic
timetable of city size, against a time-expanded networkx search timed on a subset of the departures.

Run ``python bench/raptor.py [--stops 3000] [--lines 150] [--nx-departures 3]``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sandbox.raptor import TransitArrays, check, earliest_arrival, range_arrivals  # noqa: E402
from timing import timed  # noqa: E402  (bench/timing.py, beside this script)

H = 3600
WALK_MPS = 1.33
TARGET_MS = 50.0  # issue 11: at most 50 ms per origin on one core (Helsinki feed)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n_stops: int, n_lines: int, seed: int = 0) -> tuple[TransitArrays, np.ndarray]:
    """Stops scattered over a square at about 13 per km2; each line a wiggly path of 20-40 stops about 400 m apart,
    run both ways (2 patterns), every 5-10 minutes from 05:00 to 24:00, 1-3 minutes between stops; footpaths
    between stops within 400 m at 1.33 m/s. Returns the arrays and the stops' xy (metres)."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n_stops / 13.0) * 1000
    xy = rng.uniform(0, side, (n_stops, 2))
    tree = cKDTree(xy)
    pattern_stops, arrivals, departures = [], [], []
    for _ in range(n_lines):
        m = int(rng.integers(20, 41))
        heading = rng.uniform(0, 2 * np.pi)
        point = rng.uniform(0.2 * side, 0.8 * side, 2)
        stops: list[int] = []
        while len(stops) < m:
            heading += rng.normal(0, 0.25)
            point = np.clip(point + 400 * np.array([np.cos(heading), np.sin(heading)]), 0, side)
            for s in tree.query(point, k=4)[1]:
                if s not in stops:
                    stops.append(int(s))
                    break
        run = rng.integers(60, 181, m - 1)
        dwell = rng.integers(0, 31, m)
        dwell[0] = dwell[-1] = 0
        headway = int(rng.integers(5, 11)) * 60
        for order in (stops, stops[::-1]):
            first = np.arange(5 * H + int(rng.integers(0, headway)), 24 * H, headway)
            leave = np.concatenate([[0], np.cumsum(run + dwell[:-1])])
            arrive = leave - dwell
            arrive[0] = 0
            pattern_stops.append(np.array(order, np.int32))
            arrivals.append((first[:, None] + arrive[None, :]).astype(np.int32).ravel())
            departures.append((first[:, None] + leave[None, :]).astype(np.int32).ravel())
            run, dwell = run[::-1], dwell[::-1]
    sizes = np.array([len(s) for s in pattern_stops])
    n_trips = np.array([len(a) // m for a, m in zip(arrivals, sizes)])
    flat = np.concatenate(pattern_stops)
    pattern_of = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    position = (np.arange(len(flat)) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
    by_stop = np.argsort(flat, kind="stable")
    pairs = np.array(sorted(tree.query_pairs(400.0)), np.int64).reshape(-1, 2)
    pairs = np.concatenate([pairs, pairs[:, ::-1]])
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    walk = np.ceil(np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1) / WALK_MPS).astype(np.int32)
    arrays = TransitArrays(
        pattern_stops_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        pattern_stops=flat,
        pattern_trips_ptr=np.concatenate([[0], np.cumsum(n_trips)]).astype(np.int64),
        times_ptr=np.concatenate([[0], np.cumsum(sizes * n_trips)]).astype(np.int64),
        arrival_s=np.concatenate(arrivals),
        departure_s=np.concatenate(departures),
        stop_patterns_ptr=np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=n_stops))]).astype(np.int64),
        stop_patterns=pattern_of[by_stop],
        stop_positions=position[by_stop],
        transfers_ptr=np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=n_stops))]).astype(np.int64),
        transfers_to=pairs[:, 1].astype(np.int32),
        transfers_s=walk,
    )
    return arrays, xy


class TimeExpanded:
    """The peer: a networkx DiGraph of the departure and arrival events between ``start`` and ``horizon`` (ride to
    the next stop, stay seated, wait for the stop's next departure, change, walk a footpath to the first departure
    at or after arrival + walk). A search is a BFS from a source node; the earliest arrival at a stop is its earliest
    reachable arrival event, or one footpath after such an event or a source. Exact for arrivals up to ``horizon``."""

    def __init__(self, a: TransitArrays, start: int, horizon: int):
        self.a, self.horizon = a, horizon
        n = a.n_stops
        dep_stop, dep_time, dep_id, arr_stop, arr_time, arr_id, edges = [], [], [], [], [], [], []
        next_id = 0
        for p in range(a.n_patterns):
            stops = a.pattern_stops[a.pattern_stops_ptr[p]:a.pattern_stops_ptr[p + 1]]
            m = len(stops)
            arr = a.arrival_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, m).astype(np.int64)
            dep = a.departure_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, m).astype(np.int64)
            keep = (dep[:, 0] <= horizon) & (arr[:, -1] >= start)
            arr, dep = arr[keep], dep[keep]
            t = arr.shape[0]
            ids = next_id + np.arange(2 * t * m).reshape(2, t, m)  # [0]: departure events, [1]: arrival events
            next_id += 2 * t * m
            ride = (dep[:, :-1] <= horizon) & (arr[:, 1:] <= horizon)
            edges.append(np.column_stack([ids[0, :, :-1][ride], ids[1, :, 1:][ride]]))
            seated = (arr[:, 1:-1] <= horizon) & (dep[:, 1:-1] <= horizon)
            edges.append(np.column_stack([ids[1, :, 1:-1][seated], ids[0, :, 1:-1][seated]]))
            d_ok = dep[:, :-1] <= horizon
            dep_stop.append(np.broadcast_to(stops[:-1], (t, m - 1))[d_ok])
            dep_time.append(dep[:, :-1][d_ok])
            dep_id.append(ids[0, :, :-1][d_ok])
            a_ok = arr[:, 1:] <= horizon
            arr_stop.append(np.broadcast_to(stops[1:], (t, m - 1))[a_ok])
            arr_time.append(arr[:, 1:][a_ok])
            arr_id.append(ids[1, :, 1:][a_ok])
        dep_stop, dep_time, dep_id = (np.concatenate(x) for x in (dep_stop, dep_time, dep_id))
        self.arr_stop, self.arr_time, self.arr_id = (np.concatenate(x) for x in (arr_stop, arr_time, arr_id))
        order = np.lexsort((dep_time, dep_stop))  # each stop's departures by time: the waiting chains
        self.dep_stop, self.dep_time, self.dep_id = dep_stop[order], dep_time[order], dep_id[order]
        same = self.dep_stop[1:] == self.dep_stop[:-1]
        edges.append(np.column_stack([self.dep_id[:-1][same], self.dep_id[1:][same]]))
        self.first = np.searchsorted(self.dep_stop, np.arange(n + 1))
        edges.append(self._to_departure(self.arr_id, self.arr_stop, self.arr_time))  # change at the stop
        walk_from = np.repeat(np.arange(n), np.diff(a.transfers_ptr))
        e = np.searchsorted(walk_from, self.arr_stop, side="left"), np.searchsorted(walk_from, self.arr_stop, "right")
        count = e[1] - e[0]
        which = np.repeat(e[0], count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        edges.append(self._to_departure(np.repeat(self.arr_id, count), a.transfers_to[which],
                                        np.repeat(self.arr_time, count) + a.transfers_s[which]))
        self.walk_from = walk_from
        self.graph = nx.DiGraph()
        self.graph.add_edges_from(map(tuple, np.concatenate(edges).tolist()))

    def _to_departure(self, node: np.ndarray, stop: np.ndarray, t: np.ndarray) -> np.ndarray:
        # The first departure event at `stop` at or after `t`: departures are sorted by (stop, time).
        key = self.dep_stop.astype(np.int64) << 32 | self.dep_time
        i = np.searchsorted(key, np.asarray(stop, np.int64) << 32 | np.asarray(t, np.int64))
        ok = i < self.first[np.asarray(stop) + 1]
        return np.column_stack([node[ok], self.dep_id[i[ok]]])

    def earliest(self, stops: np.ndarray, times: np.ndarray) -> np.ndarray:
        a = self.a
        out = np.full(a.n_stops, np.inf)
        walk = [(s, t) for s, t in zip(stops.tolist(), times.tolist())]
        walk += [(int(a.transfers_to[e]), t + int(a.transfers_s[e])) for s, t in walk
                 for e in range(a.transfers_ptr[s], a.transfers_ptr[s + 1])]
        for s, t in walk:
            out[s] = min(out[s], t)
        starts = self._to_departure(np.zeros(len(walk), np.int64), np.array([s for s, _ in walk]),
                                    np.array([t for _, t in walk]))[:, 1]
        self.graph.add_edges_from(("source", int(d)) for d in starts)
        try:
            reached = nx.descendants(self.graph, "source")
        finally:
            self.graph.remove_node("source")
        hit = np.fromiter((i in reached for i in self.arr_id.tolist()), bool, len(self.arr_id))
        np.minimum.at(out, self.arr_stop[hit], self.arr_time[hit])
        from_stop, from_time = self.arr_stop[hit], self.arr_time[hit]
        lo, hi = np.searchsorted(self.walk_from, from_stop), np.searchsorted(self.walk_from, from_stop, "right")
        count = hi - lo
        which = np.repeat(lo, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        np.minimum.at(out, a.transfers_to[which], np.repeat(from_time, count) + a.transfers_s[which])
        out[out > self.horizon] = np.inf
        return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=150, help="lines, each run both ways (2 patterns)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measure (median), after a warm-up")
    parser.add_argument("--nx-departures", type=int, default=3, help="departures searched by networkx (timed; 0: none)")
    parser.add_argument("--horizon-h", type=float, default=2.0, help="networkx graph: events up to window end + this")
    args = parser.parse_args(argv)
    print(f"sandbox RAPTOR benchmark; {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)

    start = time.perf_counter()
    a, xy = synthetic(args.stops, args.lines)
    check(a)
    n_trips = int(a.pattern_trips_ptr[-1])
    print(f"timetable: {a.n_stops:,} stops, {a.n_patterns} patterns, {n_trips:,} trips, {len(a.arrival_s):,} stop "
          f"times, {len(a.transfers_to):,} footpaths; {sum(x.nbytes for x in a) / 1e6:.1f} MB of arrays; built and "
          f"checked in {time.perf_counter() - start:.1f} s", flush=True)

    # One origin near the centre: its 5 nearest served stops, reached on foot (the access legs).
    served = np.flatnonzero(np.diff(a.stop_patterns_ptr) > 0)
    dist, near = cKDTree(xy[served]).query(xy.mean(axis=0), k=5)
    sources, offsets = served[near], np.ceil(dist / WALK_MPS).astype(np.int64)
    window = (7 * H, 8 * H)
    departures = np.arange(*window, 60)
    run = (lambda rounds: range_arrivals(a, sources, offsets, window_start_s=window[0], window_end_s=window[1],
                                         max_rounds=rounds))
    rows = []
    start = time.perf_counter()
    run(5)
    print(f"first call (numba kernels loaded or compiled): {time.perf_counter() - start:.2f} s", flush=True)
    for rounds in (5, 20):
        rows.append((f"range-RAPTOR, 60 departures, max_rounds={rounds}", timed(lambda rounds=rounds: run(rounds), args.repeats)))
    per_departure = timed(lambda: [earliest_arrival(a, sources, t + offsets, max_rounds=5) for t in departures],
                          max(args.repeats // 2, 1))
    rows.append(("RAPTOR from scratch per departure, 60 departures, max_rounds=5", per_departure))
    ours_peak = peak_mb()
    reached = np.isfinite(run(5)).mean(axis=1)
    print(f"reached: {reached.mean():.0%} of stops on average over the departures", flush=True)

    if args.nx_departures < 1:
        print("\n## table (ms per origin: 60 departures; networkx skipped: --nx-departures 0)")
        for name, seconds in rows:
            print(f"{name:<66} {seconds * 1e3:>10.1f}")
        print(f"peak RSS: {ours_peak:,.0f} MB")
        return
    start = time.perf_counter()
    horizon = window[1] + int(args.horizon_h * H)
    peer = TimeExpanded(a, window[0], horizon)
    build_s = time.perf_counter() - start
    g = peer.graph
    print(f"networkx time-expanded graph ({window[0] // H:02d}:00 to {horizon / H:.0f}:00): "
          f"{g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges, built in {build_s:.1f} s", flush=True)
    chosen = departures[np.linspace(0, len(departures) - 1, args.nx_departures).astype(int)]
    ours_all = run(20)
    nx_times = []
    for t in chosen:
        t0 = time.perf_counter()
        theirs = peer.earliest(sources, t + offsets)
        nx_times.append(time.perf_counter() - t0)
        ours = ours_all[np.searchsorted(departures, t)]
        ours = np.where(ours <= horizon, ours, np.inf)
        if not np.array_equal(ours, theirs):
            bad = np.flatnonzero(ours != theirs)
            raise SystemExit(f"DISAGREE: departure {t}: {len(bad)} stops differ, e.g. stop {bad[0]}: ours "
                             f"{ours[bad[0]]}, networkx {theirs[bad[0]]}")
    print(f"agree: yes (range-RAPTOR, max_rounds=20, equals the time-expanded search at {len(chosen)} departures, "
          f"{len(chosen) * a.n_stops:,} stops compared, arrivals up to {horizon / H:.0f}:00)")
    nx_origin = statistics.median(nx_times) * len(departures)

    print("\n## table (ms per origin: 60 departures; ratio = networkx / ours, > 1: ours is faster)")
    print(f"{'measure':<66} {'ms/origin':>10} {'ratio':>8}")
    for name, seconds in rows:
        print(f"{name:<66} {seconds * 1e3:>10.1f} {nx_origin / seconds:>8.0f}")
    print(f"{'networkx time-expanded BFS, median of ' + str(len(chosen)) + ' departures x 60':<66} "
          f"{nx_origin * 1e3:>10.0f} {1:>8}")
    print(f"networkx graph build (not in the ratio): {build_s:.1f} s")
    print(f"peak RSS: {ours_peak:,.0f} MB after ours, {peak_mb():,.0f} MB with the networkx graph")
    best = rows[0][1] * 1e3
    print(f"{'PASS' if best <= TARGET_MS else 'MISS'}  range-RAPTOR {best:.1f} ms per origin (max_rounds=5) "
          f"against issue 11's {TARGET_MS:.0f} ms (synthetic {a.n_stops:,} stops; the target is for the Helsinki feed)")


if __name__ == "__main__":
    main()
