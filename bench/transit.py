"""Transit benchmark on a real feed: RAPTOR and range-RAPTOR (``sandbox.raptor``) on HSL's GTFS feed against pyraptor
(PyPI) and the time-expanded networkx search of bench/raptor.py, answers checked before timing.

Run ``python bench/transit.py [--origins 20] [--nx-departures 6] [--gtfs PATH]``. See bench/README.md.

Sections: ``feed_section(args)`` measures the feed and returns table rows; ``main()`` prints them all. A later section
(another feed, a street-network access leg, ...) is a function of ``args`` returning rows, added to ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sandbox.raptor import TransitArrays, check, earliest_arrival, range_arrivals, transit_arrays  # noqa: E402
from sandbox.timetable import read_gtfs, straight_line_transfers  # noqa: E402
from raptor import H, TARGET_MS, TimeExpanded, peak_mb  # noqa: E402  (bench/raptor.py, beside this script)
from timing import timed  # noqa: E402  (bench/timing.py, beside this script)

SHARED_DATA = Path(os.environ.get("SANDBOX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
HSL_GTFS = SHARED_DATA / "helsinki" / "gtfs" / "hsl_gtfs_20220204.zip"
OSM_EXTRACT = SHARED_DATA / "helsinki" / "osm" / "test_hki_centra.osm.pbf"
PYRAPTOR_INSTALL = ".venv/bin/pip install --no-deps pyraptor==1.3.10 loguru==0.6.0"


class Row(NamedTuple):
    """One line of the table: ``ours_ms`` and ``peer_ms`` time the same query (``peer_ms`` None: ours alone);
    ``target_ms``: ``ours_ms`` is judged PASS/MISS against it."""

    section: str
    peer: str
    query: str
    ours_ms: float
    peer_ms: float | None
    checked: str
    target_ms: float | None = None


def say(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------------------------
# Footpath variants (the same arrays for every peer)


def without_walks_from(a: TransitArrays, stop: int) -> TransitArrays:
    """The arrays less the footpaths leaving ``stop``: pyraptor walks only after a trip, never from the origin."""
    ptr = a.transfers_ptr.copy()
    lo, hi = int(ptr[stop]), int(ptr[stop + 1])
    ptr[stop + 1:] -= hi - lo
    keep = np.ones(len(a.transfers_to), bool)
    keep[lo:hi] = False
    return a._replace(transfers_ptr=ptr, transfers_to=a.transfers_to[keep], transfers_s=a.transfers_s[keep])


def closed_footpaths(a: TransitArrays, lonlat: np.ndarray, max_m: float, speed_m_s: float) -> TransitArrays:
    """The arrays with footpaths between every two stops of each group joined by straight lines of at most ``max_m``
    (transitively closed), distance / speed rounded up. Closed and obeying the triangle inequality, they leave
    nothing to gain from a walk after a walk, so pyraptor's footpath rules and ours give the same arrivals."""
    n = a.n_stops
    lat0 = np.radians(lonlat[:, 1].mean())
    xy = np.column_stack([np.radians(lonlat[:, 0]) * np.cos(lat0), np.radians(lonlat[:, 1])]) * 6_371_008.8
    near = cKDTree(xy).query_pairs(max_m, output_type="ndarray")
    _, group = connected_components(coo_matrix((np.ones(len(near)), (near[:, 0], near[:, 1])), shape=(n, n)),
                                    directed=False)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    pairs = [np.array([(i, j) for i in members for j in members if i != j], np.int64).reshape(-1, 2)
             for members in np.split(order, starts[1:]) if len(members) > 1]
    pairs = np.concatenate(pairs)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    seconds = np.ceil(np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T) / speed_m_s).astype(np.int32)
    return a._replace(transfers_ptr=np.r_[0, np.cumsum(np.bincount(pairs[:, 0], minlength=n))].astype(np.int64),
                      transfers_to=pairs[:, 1].astype(np.int32), transfers_s=seconds)


# --------------------------------------------------------------------------------------------------------------
# Peer 1: pyraptor, its data structures built from our arrays (the same trips, patterns and footpaths)


class Pyraptor:
    """pyraptor's ``Timetable`` built from the arrays: one ``Route`` per pattern with its trips in the same order,
    one ``Trip`` per trip, and each footpath a ``Transfer`` whose ``layovertime`` is the walk. pyraptor walks only
    between the stops of a ``Station`` (a Stop's ``station.stops``), so each stop gets a station of its own listing
    the stops it walks to (as stand-ins: Stop compares and hashes by id); its GTFS loader is not used (it reads
    calendar_dates.txt only, which HSL's feed has not, keeps one agency by name, and links only stops of the same
    name at a fixed 120 s)."""

    def __init__(self, a: TransitArrays, names: np.ndarray):
        from loguru import logger
        from pyraptor.model.structures import (Route, Routes, Station, Stations, Stop, Stops, Timetable, Transfer,
                                               Transfers, Trip, Trips, TripStopTime, TripStopTimes)
        logger.disable("pyraptor")  # it logs every round at DEBUG to stderr by default
        stops, stations, transfers = Stops(), Stations(), Transfers()
        self.stops: list[Any] = []
        for s in range(a.n_stops):
            station = stations.add(Station(id=s, name=str(names[s])))
            stop = stops.add(Stop(id=s, name=str(names[s]), station=station))
            station.add_stop(stop)
            self.stops.append(stop)
        for s in range(a.n_stops):
            for e in range(a.transfers_ptr[s], a.transfers_ptr[s + 1]):
                v = int(a.transfers_to[e])
                self.stops[s].station.add_stop(Stop(id=v, name=str(names[v])))
                transfers.add(Transfer(from_stop=self.stops[s], to_stop=self.stops[v],
                                       layovertime=int(a.transfers_s[e])))
        trips, trip_stop_times, routes = Trips(), TripStopTimes(), Routes()
        for p in range(a.n_patterns):
            pattern = a.pattern_stops[a.pattern_stops_ptr[p]:a.pattern_stops_ptr[p + 1]].tolist()
            m = len(pattern)
            arr = a.arrival_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, m).tolist()
            dep = a.departure_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, m).tolist()
            route = Route(id=p + 1)
            for s in pattern:
                route.add_stop(self.stops[s])
                routes.stop_to_routes[self.stops[s]].append(route)
            routes.set_idx[route.id] = route
            for j in range(len(arr)):
                trip = Trip()
                for i, s in enumerate(pattern):
                    trip.add_stop_time(TripStopTime(trip, i, self.stops[s], arr[j][i], dep[j][i]))
                trips.add(trip)  # gives the trip its id: only then index its stop times (keyed by trip)
                for stop_time in trip:
                    trip_stop_times.add(stop_time)
                route.add_trip(trip)
        self.timetable = Timetable(stations=stations, stops=stops, trips=trips, trip_stop_times=trip_stop_times,
                                   routes=routes, transfers=transfers)

    def run(self, origin: int, departure: int, rounds: int) -> Any:
        from pyraptor.model.raptor import RaptorAlgorithm
        algorithm = RaptorAlgorithm(self.timetable)
        algorithm.run([self.stops[origin]], int(departure), rounds)
        return algorithm

    def earliest(self, origin: int, departure: int, rounds: int) -> np.ndarray:
        """Earliest arrival per stop (inf: not reached). Read from ``bag_star`` (best over the rounds): the last
        round's bag, which its query_raptor reads, stays empty when the rounds stop early."""
        from pyraptor.util import LARGE_NUMBER
        bag = self.run(origin, departure, rounds).bag_star
        out = np.array([bag[stop].earliest_arrival_time for stop in self.stops], np.float64)
        out[out >= LARGE_NUMBER] = np.inf
        return out


def compare(ours: np.ndarray, theirs: np.ndarray) -> tuple[int, int, int]:
    """(stops equal, stops the peer reaches earlier, stops it reaches later or not at all)."""
    return int(np.sum(ours == theirs)), int(np.sum(theirs < ours)), int(np.sum(theirs > ours))


# --------------------------------------------------------------------------------------------------------------
# Section: one feed


def feed_section(args: argparse.Namespace) -> list[Row]:
    """RAPTOR on one GTFS feed and date with straight-line footpaths; peers pyraptor and networkx."""
    section = "HSL feed"
    path = Path(args.gtfs)
    if not path.exists():
        raise SystemExit(f"transit bench: GTFS feed not found: {path}; expected HSL's feed hsl_gtfs_20220204.zip in "
                         f"{HSL_GTFS.parent} (or SANDBOX_SHARED_DATA), or give --gtfs PATH")
    start = time.perf_counter()
    tt = read_gtfs(path, date=args.date)
    tt = straight_line_transfers(tt, args.walk_m, args.walk_speed)
    a = transit_arrays(tt)
    check(a)
    say(f"feed: {tt.source} on {tt.service_date}: {a.n_stops:,} stops, {a.n_patterns} patterns, "
        f"{int(a.pattern_trips_ptr[-1]):,} trips, {len(a.arrival_s):,} stop times, {len(a.transfers_to):,} "
        f"straight-line footpaths (<= {args.walk_m:.0f} m at {args.walk_speed} m/s); read in "
        f"{time.perf_counter() - start:.1f} s")

    window = (8 * H, 9 * H)
    departures = np.arange(*window, 60)
    n_dep = len(departures)
    rounds = args.max_rounds
    served = np.flatnonzero(np.diff(a.stop_patterns_ptr) > 0)
    rng = np.random.default_rng(args.seed)
    origins = rng.choice(served, min(args.origins, len(served)), replace=False)

    def window_run(arrays: TransitArrays, origin: int, r: int = rounds) -> np.ndarray:
        return range_arrivals(arrays, [origin], [0], window_start_s=window[0], window_end_s=window[1], max_rounds=r)

    def single(arrays: TransitArrays, origin: int, t: int) -> np.ndarray:
        return earliest_arrival(arrays, [origin], [t], max_rounds=rounds)[0]

    start = time.perf_counter()
    window_run(a, int(origins[0]))
    say(f"first call (numba kernels loaded or compiled): {time.perf_counter() - start:.2f} s")
    range_ms = [timed(lambda o=int(o): window_run(a, o), args.repeats) * 1e3 for o in origins]
    single_ms = [timed(lambda o=int(o): single(a, o, window[0]), args.repeats) * 1e3 for o in origins]
    reached = np.mean([np.isfinite(window_run(a, int(o))).mean() for o in origins])
    say(f"ours: range-RAPTOR {statistics.median(range_ms):.1f} ms per origin (median of {len(origins)} origins, "
        f"{min(range_ms):.1f}-{max(range_ms):.1f}); single departure {statistics.median(single_ms):.2f} ms; "
        f"{reached:.0%} of stops reached on average; peak RSS {peak_mb():,.0f} MB")
    window_name = f"{n_dep} departures 08:00-09:00, max_rounds={rounds}"
    rows = [Row(section, "ours", f"range-RAPTOR, {window_name}", statistics.median(range_ms), None,
                f"median of {len(origins)} origins", TARGET_MS),
            Row(section, "ours", f"RAPTOR, one departure (08:00), max_rounds={rounds}", statistics.median(single_ms),
                None, f"median of {len(origins)} origins")]
    rows += pyraptor_rows(args, section, tt, a, origins, window, window_run, single)
    rows += networkx_rows(args, section, a, origins, window, window_run, single)
    return rows


def pyraptor_rows(args, section: str, tt, a: TransitArrays, origins: np.ndarray, window: tuple[int, int],
                  window_run: Callable, single: Callable) -> list[Row]:
    if args.pyraptor_queries < 1:
        say("pyraptor: skipped (--pyraptor-queries 0)")
        return []
    try:
        import pyraptor.model.raptor  # noqa: F401
        pyraptor_version = version("pyraptor")
    except ImportError:
        say(f"pyraptor: not installed, skipped (it pins pandas<2, so it is not in the dev extra: {PYRAPTOR_INSTALL})")
        return []
    rounds, n_dep = args.max_rounds, (window[1] - window[0]) // 60
    start = time.perf_counter()
    peer = Pyraptor(a, tt.stop_ids)
    say(f"pyraptor {pyraptor_version}: timetable built from the same arrays in {time.perf_counter() - start:.1f} s")

    # Check: the same origin and departure, 20 rounds (pyraptor boards from labels of the round it is in, so it can
    # take more trips than rounds; 20 is past convergence for both), no footpaths from the origin in ours.
    check_rounds = 20
    pairs = [(int(origins[i % len(origins)]), window[0] + (i * 1800) % 3600) for i in range(args.pyraptor_checks)]
    equal = earlier = later = 0
    start = time.perf_counter()
    for o, t in pairs:
        ours = earliest_arrival(without_walks_from(a, o), [o], [t], max_rounds=check_rounds)[0]
        e, x, y = compare(ours, peer.earliest(o, t, check_rounds))
        equal, earlier, later = equal + e, earlier + x, later + y
    total = len(pairs) * a.n_stops
    say(f"pyraptor check, {args.walk_m:.0f} m footpaths: {equal:,} of {total:,} stop arrivals equal "
        f"({equal / total:.1%}) on {len(pairs)} origin/departure pairs; pyraptor earlier at {earlier}, later at "
        f"{later} (its footpath rules: see bench/README.md) ({time.perf_counter() - start:.0f} s)")
    checked = f"{equal}/{total} equal ({equal / total:.1%}), {len(pairs)} pairs"

    # Check where the footpath rules cannot differ (closed footpaths): every stop must agree.
    closed = closed_footpaths(a, tt.stop_lonlat, args.closed_m, args.walk_speed)
    walkers = [int(o) for o in origins if closed.transfers_ptr[o + 1] > closed.transfers_ptr[o]] or list(origins)
    if args.pyraptor_closed_checks > 0:
        start = time.perf_counter()
        closed_peer = Pyraptor(closed, tt.stop_ids)
        closed_pairs = [(walkers[i % len(walkers)], window[0] + (i * 1800 + 900) % 3600)
                        for i in range(args.pyraptor_closed_checks)]
        for o, t in closed_pairs:
            ours = earliest_arrival(without_walks_from(closed, o), [o], [t], max_rounds=check_rounds)[0]
            theirs = closed_peer.earliest(o, t, check_rounds)
            if not np.array_equal(ours, theirs):
                bad = np.flatnonzero(ours != theirs)
                raise SystemExit(f"DISAGREE: pyraptor on closed footpaths, origin {o} at {t}: {len(bad)} stops "
                                 f"differ, e.g. stop {bad[0]}: ours {ours[bad[0]]}, pyraptor {theirs[bad[0]]}")
        n_closed = len(closed_pairs) * a.n_stops
        say(f"pyraptor check, closed footpaths ({len(closed.transfers_to):,}: every two stops of a group joined "
            f"within {args.closed_m:.0f} m): all {n_closed:,} stop arrivals equal on {len(closed_pairs)} pairs "
            f"({time.perf_counter() - start:.0f} s)")
        checked += f"; closed footpaths {n_closed}/{n_closed}"

    # Time: one departure (08:00) from the first origins, rounds as ours; pyraptor's range query is a loop of such
    # runs, one per departure (see README), so its 60-departure cost is 60 of them.
    timed_origins = [int(o) for o in origins[:args.pyraptor_queries]]
    start = time.perf_counter()
    peer_single = statistics.median(timed(lambda o=o: peer.run(o, window[0], rounds), 1) for o in timed_origins)
    say(f"pyraptor: one departure {peer_single:.1f} s (median of {len(timed_origins)} origins, one timed call each "
        f"after a warm-up; {time.perf_counter() - start:.0f} s)")
    variants = {o: without_walks_from(a, o) for o in timed_origins}
    ours_single = statistics.median(timed(lambda o=o: single(variants[o], o, window[0]), args.repeats)
                                    for o in timed_origins)
    ours_range = statistics.median(timed(lambda o=o: window_run(variants[o], o), args.repeats) for o in timed_origins)
    name = f"pyraptor {pyraptor_version}"
    return [Row(section, name, f"RaptorAlgorithm.run, one departure (08:00), rounds={rounds}", ours_single * 1e3,
                peer_single * 1e3, checked),
            Row(section, name, f"{n_dep} x RaptorAlgorithm.run, {n_dep} departures 08:00-09:00, rounds={rounds}",
                ours_range * 1e3, peer_single * n_dep * 1e3, checked)]


def networkx_rows(args, section: str, a: TransitArrays, origins: np.ndarray, window: tuple[int, int],
                  window_run: Callable, single: Callable) -> list[Row]:
    if args.nx_departures < 1:
        say("networkx: skipped (--nx-departures 0)")
        return []
    n_dep = (window[1] - window[0]) // 60
    departures = np.arange(*window, 60)
    horizon = window[1] + int(args.horizon_h * H)
    start = time.perf_counter()
    peer = TimeExpanded(a, window[0], horizon)
    build_s = time.perf_counter() - start
    say(f"networkx time-expanded graph (08:00 to {horizon / H:.0f}:00): {peer.graph.number_of_nodes():,} nodes, "
        f"{peer.graph.number_of_edges():,} edges, built in {build_s:.1f} s")
    picks = np.linspace(0, n_dep - 1, args.nx_departures).astype(int)
    pairs = [(int(origins[i % len(origins)]), int(d)) for i, d in enumerate(picks)]
    nx_s, ours_s = [], []
    for o, d in pairs:
        t = int(departures[d])
        t0 = time.perf_counter()
        theirs = peer.earliest(np.array([o]), np.array([t]))
        nx_s.append(time.perf_counter() - t0)
        ours = window_run(a, o, 20)[d]
        ours = np.where(ours <= horizon, ours, np.inf)
        if not np.array_equal(ours, theirs):
            bad = np.flatnonzero(ours != theirs)
            raise SystemExit(f"DISAGREE: networkx, origin {o} at {t}: {len(bad)} stops differ, e.g. stop {bad[0]}: "
                             f"ours {ours[bad[0]]}, networkx {theirs[bad[0]]}")
        ours_s.append(timed(lambda o=o, t=t: single(a, o, t), args.repeats))
    used = sorted({o for o, _ in pairs})
    ours_range = statistics.median(timed(lambda o=o: window_run(a, o), args.repeats) for o in used)
    total = len(pairs) * a.n_stops
    say(f"networkx check: all {total:,} stop arrivals equal on {len(pairs)} origin/departure pairs (ours with "
        f"max_rounds=20, arrivals up to {horizon / H:.0f}:00); BFS {statistics.median(nx_s):.2f} s per departure")
    checked = f"{total}/{total} equal, {len(pairs)} pairs"
    return [Row(section, "networkx", "time-expanded BFS, one departure", statistics.median(ours_s) * 1e3,
                statistics.median(nx_s) * 1e3, checked),
            Row(section, "networkx", f"time-expanded BFS x {n_dep}, {n_dep} departures 08:00-09:00",
                ours_range * 1e3, statistics.median(nx_s) * n_dep * 1e3, checked)]


# --------------------------------------------------------------------------------------------------------------
# Section: door to door on a city's streets


def street_section(args: argparse.Namespace) -> list[Row]:
    """The transit mode as the measures use it (``sandbox.transit.travel_time_matrix``): walks to, from and between
    stops on the shared OSM extract's walking network (45,901 nodes), range-RAPTOR over 08:00-09:00, the median per
    target. One origin to every stop and every street node; then every 250 m zone's centre as an origin, to every
    zone centre and to every street node (total time and peak RSS). No peer: r5py needs a Java runtime."""
    section = "streets"
    if args.street_origins < 1:
        say("streets: skipped (--street-origins 0)")
        return []
    if not OSM_EXTRACT.is_file():
        say(f"streets: skipped, {OSM_EXTRACT} is absent")
        return []
    from sandbox.build import build_twin
    from sandbox.network import node_candidates, point_candidates
    from sandbox.transit import TransitOptions, stop_points, transit_arrays as street_arrays, travel_time_matrix

    start = time.perf_counter()
    twin = build_twin(OSM_EXTRACT, name="hki-extract", calibration="helsinki-centre", gtfs=args.gtfs,
                      gtfs_date=args.date, gtfs_licence="CC BY 4.0 (HSL)")
    net = twin.networks["walk"]
    options = TransitOptions(departure="08:00", window_min=60, max_transfers=args.max_rounds - 1)
    start_arrays = time.perf_counter()
    arrays = street_arrays(twin, options)
    say(f"streets: twin built in {start_arrays - start:.1f} s ({net.n_nodes:,} walk nodes, {twin.timetable.n_stops} "
        f"stops, {twin.timetable.n_trips:,} trips); footpaths walked on the streets: {len(arrays.transfers_to):,} "
        f"in {time.perf_counter() - start_arrays:.2f} s")
    nodes = node_candidates(net)
    centres = twin.layers["zones"].geometry.centroid
    xy = np.column_stack([centres.x, centres.y])
    rng = np.random.default_rng(args.seed)
    picked = xy[rng.choice(len(xy), min(args.street_origins, len(xy)), replace=False)]
    start = time.perf_counter()
    travel_time_matrix(twin, point_candidates(net, picked[:1]), nodes, options)
    say(f"streets: first call (kernels, walks from every stop to every node) {time.perf_counter() - start:.1f} s")
    one = [timed(lambda p=p: travel_time_matrix(twin, point_candidates(net, p[None]), nodes, options), 1) * 1e3
           for p in picked]
    to_stops = [timed(lambda p=p: travel_time_matrix(twin, point_candidates(net, p[None]),
                                                     point_candidates(net, stop_points(twin), arrive=True), options), 1) * 1e3
                for p in picked]
    zones_in = point_candidates(net, xy)
    start = time.perf_counter()
    zone_matrix = travel_time_matrix(twin, zones_in, point_candidates(net, xy, arrive=True), options)
    zones_s = time.perf_counter() - start
    start = time.perf_counter()
    node_matrix = travel_time_matrix(twin, zones_in, nodes, options)
    nodes_s = time.perf_counter() - start
    say(f"streets: {len(xy)} zones to {len(xy)} zones {zones_s:.1f} s ({np.isfinite(zone_matrix).mean():.1%} "
        f"reached); to all {net.n_nodes:,} nodes {nodes_s:.1f} s ({node_matrix.nbytes / 1e6:,.0f} MB of times); peak "
        f"RSS {peak_mb():,.0f} MB")
    quarter = options.model_copy(update={"max_minutes": 15})  # an isochrone of 15 min: its walks stop there
    iso = [timed(lambda p=p: travel_time_matrix(twin, point_candidates(net, p[None]), nodes, quarter), 1) * 1e3
           for p in picked]
    window = f"60 departures 08:00-09:00, <= {args.max_rounds} rides, walks <= 15 min"
    return [Row(section, "ours", f"1 origin -> {twin.timetable.n_stops} stops (door), {window}",
                statistics.median(to_stops), None, f"median of {len(picked)} origins"),
            Row(section, "ours", f"1 origin -> all {net.n_nodes:,} street nodes, {window}", statistics.median(one),
                None, f"median of {len(picked)} origins", TARGET_MS),
            Row(section, "ours", f"1 origin -> all {net.n_nodes:,} street nodes within 15 min (isochrone)",
                statistics.median(iso), None, f"median of {len(picked)} origins", TARGET_MS),
            Row(section, "ours", f"{len(xy)} zones -> {len(xy)} zones (total)", zones_s * 1e3, None,
                f"{np.isfinite(zone_matrix).mean():.1%} of pairs reached"),
            Row(section, "ours", f"{len(xy)} zones -> all {net.n_nodes:,} nodes (total)", nodes_s * 1e3, None,
                f"peak RSS {peak_mb():,.0f} MB")]


SECTIONS: list[Callable[[argparse.Namespace], list[Row]]] = [feed_section, street_section]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gtfs", type=Path, default=HSL_GTFS, help="GTFS feed (zip or folder)")
    parser.add_argument("--date", default="2022-02-22", help="service date of the feed")
    parser.add_argument("--origins", type=int, default=20, help="origin stops drawn by seed (ours: median over them)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of ours per measure (median)")
    parser.add_argument("--max-rounds", type=int, default=5, help="RAPTOR rounds (trips) in the timed queries")
    parser.add_argument("--walk-m", type=float, default=400.0, help="straight-line footpaths up to this (m)")
    parser.add_argument("--walk-speed", type=float, default=1.2, help="walking speed on footpaths (m/s)")
    parser.add_argument("--nx-departures", type=int, default=6,
                        help="departures searched by networkx, checked and timed (0: none)")
    parser.add_argument("--horizon-h", type=float, default=2.0, help="networkx graph: events up to window end + this")
    parser.add_argument("--pyraptor-checks", type=int, default=2, help="pyraptor: origin/departure pairs checked")
    parser.add_argument("--pyraptor-closed-checks", type=int, default=2,
                        help="pyraptor: pairs checked on closed footpaths, where every stop must agree")
    parser.add_argument("--closed-m", type=float, default=200.0, help="closed footpaths: groups joined within this")
    parser.add_argument("--pyraptor-queries", type=int, default=2,
                        help="pyraptor: origins timed at one departure (about 10 s each, twice; 0: skip pyraptor)")
    parser.add_argument("--street-origins", type=int, default=10,
                        help="streets: origins timed one by one on the OSM extract (0: skip the street section)")
    args = parser.parse_args(argv)
    say(f"sandbox transit benchmark; {os.cpu_count()} cores, python {sys.version.split()[0]}")
    started = time.perf_counter()
    rows = [row for section in SECTIONS for row in section(args)]

    say("\n## table (ms per origin; ratio = peer / ours, > 1: ours is faster)")
    header = ("section", "peer", "query", "ours_ms", "peer_ms", "ratio", "answers checked")
    widths = (9, 15, 62, 9, 11, 8)
    cells = [f"{h:<{w}}" if i < 3 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header[:-1], widths, strict=True))]
    say("  ".join([*cells, header[-1]]))
    for r in rows:
        peer_ms = "-" if r.peer_ms is None else f"{r.peer_ms:.1f}"
        ratio = "-" if r.peer_ms is None else f"{r.peer_ms / r.ours_ms:,.0f}"
        say(f"{r.section:<9}  {r.peer:<15}  {r.query:<62}  {r.ours_ms:>9.2f}  {peer_ms:>11}  {ratio:>8}  {r.checked}")
    say(f"peak RSS: {peak_mb():,.0f} MB (ru_maxrss of the whole run)")
    for r in rows:
        if r.target_ms is not None:
            verdict = "PASS" if r.ours_ms <= r.target_ms else "MISS"
            say(f"{verdict}  {r.section}: {r.query}: {r.ours_ms:.1f} ms per origin on one core, target "
                f"<= {r.target_ms:.0f} ms")
    say(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
