"""Scheduled public transport on timetable arrays: RAPTOR and range-RAPTOR (Delling, Pajor, Werneck 2012), numba-compiled.

Groundwork for the transit mode (issue 11): the kernels read the array layout of a GTFS timetable (``TransitArrays``)
and know nothing of GTFS, twins or street networks. Times are integer seconds after midnight of the service day
(they may pass 86,400).

Rules a journey follows (and that the tests' time-expanded oracle follows too):
- it starts at the source stops at their ``source_times`` (the access walk already added) and may wait there;
- it boards any trip of a pattern whose departure at that stop is at or after its arrival there (no minimum
  change time beyond what the footpaths carry), and alights at any later stop of the pattern;
- after arriving at a stop by a trip, or at a source stop, it may take one footpath (``transfers_*``); footpaths are
  not chained (walk, walk is not a journey unless the feed lists the direct footpath);
- ``max_rounds`` bounds the number of trips.

Trips of a pattern must be FIFO: sorted by departure at the first stop, and no trip overtakes an earlier one at any
stop (``check`` verifies it once; the kernels rely on it for the binary search that boards the earliest trip).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from ._errors import TwinError
from ._io import cache_dir

# As in routing.py (a sibling layer, so not imported): compiled kernels are cached beside the twins, not in
# site-packages; numba reads this when it is first imported; a NUMBA_CACHE_DIR the user set wins.
os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))

from numba import njit

UNREACHED = np.iinfo(np.int32).max  # the kernels' label for "not reached"; the wrappers return np.inf


class TransitArrays(NamedTuple):
    """The timetable arrays the kernels read (the same names as the Timetable's fields).

    - ``pattern_stops_ptr`` (n_patterns + 1, int64), ``pattern_stops`` (int32): each pattern's stop sequence;
    - ``pattern_trips_ptr`` (n_patterns + 1, int64): each pattern's trips (FIFO, by departure at the first stop);
    - ``times_ptr`` (n_patterns + 1, int64): offsets into ``arrival_s`` / ``departure_s`` (int32); trip ``j`` of
      pattern ``p`` at its stop position ``i`` is at ``times_ptr[p] + j * m + i`` (``m`` stops);
    - ``stop_patterns_ptr`` (n_stops + 1, int64), ``stop_patterns``, ``stop_positions`` (int32): the patterns
      serving each stop and the stop's position in each;
    - ``transfers_ptr`` (n_stops + 1, int64), ``transfers_to``, ``transfers_s`` (int32): footpaths between stops.
    """

    pattern_stops_ptr: np.ndarray
    pattern_stops: np.ndarray
    pattern_trips_ptr: np.ndarray
    times_ptr: np.ndarray
    arrival_s: np.ndarray
    departure_s: np.ndarray
    stop_patterns_ptr: np.ndarray
    stop_patterns: np.ndarray
    stop_positions: np.ndarray
    transfers_ptr: np.ndarray
    transfers_to: np.ndarray
    transfers_s: np.ndarray

    @property
    def n_stops(self) -> int:
        return len(self.stop_patterns_ptr) - 1

    @property
    def n_patterns(self) -> int:
        return len(self.pattern_stops_ptr) - 1


_DTYPES = {"pattern_stops_ptr": np.int64, "pattern_trips_ptr": np.int64, "times_ptr": np.int64,
           "stop_patterns_ptr": np.int64, "transfers_ptr": np.int64}


def transit_arrays(timetable: Any) -> TransitArrays:
    """The arrays of ``timetable`` (a TransitArrays or any object with those attributes, such as the Timetable), in
    the kernels' dtypes (pointers int64, the rest int32; no copy when they already are)."""
    if isinstance(timetable, TransitArrays):
        return timetable
    return TransitArrays(**{name: np.ascontiguousarray(getattr(timetable, name), _DTYPES.get(name, np.int32))
                            for name in TransitArrays._fields})


def check(arrays: TransitArrays) -> None:
    """Raise TwinError unless the arrays are consistent and every pattern's trips are FIFO (no overtaking)."""
    a = transit_arrays(arrays)
    n_stops, n_patterns = a.n_stops, a.n_patterns
    for name in ("pattern_trips_ptr", "times_ptr"):
        if len(getattr(a, name)) != n_patterns + 1:
            raise TwinError(f"timetable: {name} has {len(getattr(a, name)) - 1} patterns, not {n_patterns}")
    m = np.diff(a.pattern_stops_ptr)
    trips = np.diff(a.pattern_trips_ptr)
    if np.any(m < 2) or np.any(np.diff(a.times_ptr) != m * trips) or a.times_ptr[-1] != len(a.arrival_s):
        raise TwinError("timetable: times_ptr does not match the patterns' stops and trips")
    if len(a.pattern_stops) and (a.pattern_stops.min() < 0 or a.pattern_stops.max() >= n_stops):
        raise TwinError("timetable: a pattern names a stop that does not exist")
    if len(a.transfers_ptr) != n_stops + 1 or np.any(a.transfers_s < 0):
        raise TwinError("timetable: transfers do not match the stops, or a footpath takes negative time")
    for p in range(n_patterns):
        k = int(m[p])
        arr = a.arrival_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, k)
        dep = a.departure_s[a.times_ptr[p]:a.times_ptr[p + 1]].reshape(-1, k)
        if np.any(dep < arr) or np.any(arr[:, 1:] < dep[:, :-1]):
            raise TwinError(f"timetable: pattern {p} has a trip that goes back in time")
        if np.any(np.diff(dep, axis=0) < 0) or np.any(np.diff(arr, axis=0) < 0):
            raise TwinError(f"timetable: pattern {p}'s trips are not FIFO (one overtakes another)")


# --------------------------------------------------------------------------------------------------------------
# Compiled kernels. Labels are int32 per round: best[k, s] is the earliest arrival at s with at most k trips,
# by_trip[k, s] the same among arrivals that do not end with a footpath (footpaths leave only from those, so they
# never chain). Range-RAPTOR keeps both across departures, latest first: a label of a later departure is a valid
# bound for an earlier one (one can wait at the source), so each departure only propagates what it improves.
# Pruning is per round (best[k]), not by the overall best, which could come from more trips than the bound allows.


@njit(cache=True, inline="always")
def _earliest_trip(departure_s, base, m, i, hi, t):
    # The first trip j in [0, hi) whose departure at position i is at or after t (hi when none): FIFO, so sorted.
    lo = 0
    while lo < hi:
        mid = (lo + hi) >> 1
        if departure_s[base + mid * m + i] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _workspace(n_stops, n_patterns, max_rounds):
    best = np.full((max_rounds + 1, n_stops), UNREACHED, np.int32)
    by_trip = np.full((max_rounds + 1, n_stops), UNREACHED, np.int32)
    marked = np.empty(n_stops, np.int32)
    is_marked = np.zeros(n_stops, np.bool_)
    walk_from = np.empty(n_stops, np.int32)
    will_walk = np.zeros(n_stops, np.bool_)
    first_pos = np.full(n_patterns, np.iinfo(np.int32).max, np.int32)
    queue = np.empty(n_patterns, np.int32)
    return best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue


@njit(cache=True)
def _raptor(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
            stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
            src_stops, src_times, best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue):
    # One RAPTOR run on top of the labels already in best/by_trip; leaves the marks and queues clean.
    max_rounds = best.shape[0] - 1
    n_marked = 0
    n_walk = 0
    for j in range(src_stops.shape[0]):  # round 0: the sources
        s, t = src_stops[j], src_times[j]
        if t < by_trip[0, s]:
            by_trip[0, s] = t
            if not will_walk[s]:
                will_walk[s] = True
                walk_from[n_walk] = s
                n_walk += 1
        if t < best[0, s]:
            best[0, s] = t
            if not is_marked[s]:
                is_marked[s] = True
                marked[n_marked] = s
                n_marked += 1
    k = 0
    while True:
        for w in range(n_walk):  # footpaths from the stops reached (by a trip, or as a source) in this round
            s = walk_from[w]
            will_walk[s] = False
            t = by_trip[k, s]
            for e in range(transfers_ptr[s], transfers_ptr[s + 1]):
                v = transfers_to[e]
                a = t + transfers_s[e]
                if a < best[k, v]:
                    best[k, v] = a
                    if not is_marked[v]:
                        is_marked[v] = True
                        marked[n_marked] = v
                        n_marked += 1
        if k == max_rounds:
            break
        k += 1
        for s in range(best.shape[1]):  # at most k trips includes at most k - 1
            best[k, s] = min(best[k, s], best[k - 1, s])
            by_trip[k, s] = min(by_trip[k, s], by_trip[k - 1, s])
        n_queue = 0
        for j in range(n_marked):  # the patterns through marked stops, each from its earliest marked position
            s = marked[j]
            is_marked[s] = False
            for e in range(stop_patterns_ptr[s], stop_patterns_ptr[s + 1]):
                p, i = stop_patterns[e], stop_positions[e]
                if first_pos[p] == np.iinfo(np.int32).max:
                    queue[n_queue] = p
                    n_queue += 1
                first_pos[p] = min(first_pos[p], i)
        n_marked = 0
        n_walk = 0
        for q in range(n_queue):
            p = queue[q]
            start = first_pos[p]
            first_pos[p] = np.iinfo(np.int32).max
            s0 = pattern_stops_ptr[p]
            m = pattern_stops_ptr[p + 1] - s0
            n_trips = pattern_trips_ptr[p + 1] - pattern_trips_ptr[p]
            base = times_ptr[p]
            trip = n_trips  # none boarded
            for i in range(start, m):
                s = pattern_stops[s0 + i]
                if trip < n_trips:
                    a = arrival_s[base + trip * m + i]
                    if a < by_trip[k, s]:
                        by_trip[k, s] = a
                        if not will_walk[s]:
                            will_walk[s] = True
                            walk_from[n_walk] = s
                            n_walk += 1
                    if a < best[k, s]:
                        best[k, s] = a
                        if not is_marked[s]:
                            is_marked[s] = True
                            marked[n_marked] = s
                            n_marked += 1
                b = best[k - 1, s]
                if b < UNREACHED and (trip == n_trips or b <= departure_s[base + trip * m + i]):
                    hi = n_trips if trip == n_trips else trip + 1
                    trip = _earliest_trip(departure_s, base, m, i, hi, b)
        if n_marked == 0 and n_walk == 0:
            # Nothing improved: the later rounds only inherit (range-RAPTOR needs them filled in).
            for kk in range(k + 1, max_rounds + 1):
                for s in range(best.shape[1]):
                    best[kk, s] = min(best[kk, s], best[kk - 1, s])
                    by_trip[kk, s] = min(by_trip[kk, s], by_trip[kk - 1, s])
            break
    for j in range(n_marked):
        is_marked[marked[j]] = False


@njit(cache=True)
def _earliest_kernel(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
                     stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
                     src_stops, src_times, max_rounds):
    best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue = _workspace(
        stop_patterns_ptr.shape[0] - 1, pattern_stops_ptr.shape[0] - 1, max_rounds)
    _raptor(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
            stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
            src_stops, src_times, best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue)
    return best


@njit(cache=True)
def _range_kernel(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
                  stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
                  src_stops, src_offsets, departures, max_rounds):
    n_stops = stop_patterns_ptr.shape[0] - 1
    best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue = _workspace(
        n_stops, pattern_stops_ptr.shape[0] - 1, max_rounds)
    out = np.empty((departures.shape[0], n_stops), np.int32)
    src_times = np.empty(src_offsets.shape[0], np.int64)
    for d in range(departures.shape[0] - 1, -1, -1):  # latest first: its labels bound every earlier departure's
        for j in range(src_offsets.shape[0]):
            src_times[j] = departures[d] + src_offsets[j]
        _raptor(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
                stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
                src_stops, src_times, best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue)
        out[d] = best[max_rounds]
    return out


_BLOCK = 8  # targets gathered together: 8 float64 = one 64-byte cache line of each departure's row


@njit(cache=True)
def _matrix_kernel(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
                   stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
                   access_ptr, access_stop, access_s, direct_s, egress_ptr, egress_to, egress_s, departures, rank,
                   max_rounds, max_s):
    # Per origin: range-RAPTOR from its access stops, latest departure first; each departure's arrivals walked on
    # to the targets (never worse than walking all the way); then the rank-th smallest time per target over the
    # departures. Stop labels only improve as the departures get earlier, so the targets' arrival times (by
    # transit) do too: each departure walks on only from the stops a ride improved, not from every stop reached.
    n_origins, n_targets = direct_s.shape
    n_stops = stop_patterns_ptr.shape[0] - 1
    n_dep = departures.shape[0]
    best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue = _workspace(
        n_stops, pattern_stops_ptr.shape[0] - 1, max_rounds)
    out = np.empty((n_origins, n_targets), np.float64)
    times = np.empty((n_dep, n_targets), np.float64)
    block = np.empty((_BLOCK, n_dep), np.float64)
    arrive = np.empty(n_targets, np.float64)
    before = np.empty(n_stops, np.int32)
    for o in range(n_origins):
        a0, a1 = access_ptr[o], access_ptr[o + 1]
        if a1 == a0:  # no stop within the walk: every departure walks
            for t in range(n_targets):
                out[o, t] = direct_s[o, t] if direct_s[o, t] <= max_s else np.inf
            continue
        best[:] = UNREACHED
        by_trip[:] = UNREACHED
        arrive[:] = np.inf
        src_stops = access_stop[a0:a1]
        src_times = np.empty(a1 - a0, np.int64)
        for d in range(n_dep - 1, -1, -1):
            for j in range(a1 - a0):
                src_times[j] = departures[d] + access_s[a0 + j]
            before[:] = best[max_rounds]
            _raptor(pattern_stops_ptr, pattern_stops, pattern_trips_ptr, times_ptr, arrival_s, departure_s,
                    stop_patterns_ptr, stop_patterns, stop_positions, transfers_ptr, transfers_to, transfers_s,
                    src_stops, src_times, best, by_trip, marked, is_marked, walk_from, will_walk, first_pos, queue)
            for s in range(n_stops):
                a = best[max_rounds, s]
                # Only a ride can beat the direct walk: a stop reached on foot (round 0) walks on to nothing new.
                # A walk that would end past max_s is left out (unreached now, and longer still for the earlier
                # departures).
                if a < before[s] and a < best[0, s] and a - departures[d] <= max_s:
                    bound = max_s + departures[d]
                    for e in range(egress_ptr[s], egress_ptr[s + 1]):
                        x = a + egress_s[e]
                        t = egress_to[e]
                        if x < arrive[t] and x <= bound:
                            arrive[t] = x
            for t in range(n_targets):
                times[d, t] = min(direct_s[o, t], arrive[t] - departures[d])
        for d in range(n_dep):
            for t in range(n_targets):
                if times[d, t] > max_s:
                    times[d, t] = np.inf
        for t0 in range(0, n_targets, _BLOCK):  # a block of targets per pass over the departures: whole cache lines
            t1 = min(t0 + _BLOCK, n_targets)
            for d in range(n_dep):
                for t in range(t0, t1):
                    block[t - t0, d] = times[d, t]
            for t in range(t0, t1):
                out[o, t] = _select(block[t - t0], rank)
    return out


@njit(cache=True)
def _select(values, rank):
    # The rank-th smallest of values (Hoare's quickselect, in place): what np.partition gives, without a copy.
    lo, hi = 0, values.shape[0] - 1
    while lo < hi:
        pivot = values[(lo + hi) >> 1]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if rank <= j:
            hi = j
        elif rank >= i:
            lo = i
        else:
            break
    return values[rank]


# --------------------------------------------------------------------------------------------------------------
# Python front doors.


def _sources(arrays: TransitArrays, stops: Any, times: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    stops = np.atleast_1d(np.asarray(stops, np.int64))
    # Ceil: arriving at 100.4 s catches a departure at 101 s, not one at 100 s; less than a microsecond over a
    # whole second is rounding noise of the walk's sum (arriving at 100.000000002 s catches the 100 s tram).
    times = np.ceil(np.atleast_1d(np.asarray(times, np.float64)) - 1e-6)
    if stops.shape != times.shape or stops.ndim != 1:
        raise TwinError(f"raptor: source stops and {what} differ in length")
    if len(stops) and (stops.min() < 0 or stops.max() >= arrays.n_stops):
        raise TwinError(f"raptor: a source stop is not one of the {arrays.n_stops} stops")
    if not np.all(np.isfinite(times)) or np.any(np.abs(times) >= 2**30):
        raise TwinError(f"raptor: {what} must be finite seconds (below 2**30)")
    return stops.astype(np.int32), times.astype(np.int64)


def _rounds(max_rounds: int) -> int:
    if not 0 <= int(max_rounds) <= 64:
        raise TwinError(f"raptor: max_rounds must be between 0 and 64, not {max_rounds}")
    return int(max_rounds)


def _seconds(labels: np.ndarray) -> np.ndarray:
    out = labels.astype(np.float64)
    out[labels == UNREACHED] = np.inf
    return out


def earliest_arrival(arrays: Any, source_stops: Any, source_times: Any, *,
                     max_rounds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Earliest arrival (seconds, ``inf`` = not reached) at every stop, leaving the source stops at
    ``source_times`` (arrival times there: the access walk already added; several sources allowed), with at most
    ``max_rounds`` trips; and the number of trips of that fastest journey per stop (-1 = not reached, 0 = a source or
    a footpath from one)."""
    a = transit_arrays(arrays)
    stops, times = _sources(a, source_stops, source_times, "source_times")
    labels = _earliest_kernel(*a, stops, times, _rounds(max_rounds))
    final = labels[-1]
    trips = np.argmax(labels == final, axis=0)  # the first round that reached the final label
    trips[final == UNREACHED] = -1
    return _seconds(final), trips


def departure_times(window_start_s: float, window_end_s: float, step_s: float = 60) -> np.ndarray:
    """The departures of a window: every ``step_s`` from ``window_start_s`` up to, not including, ``window_end_s``."""
    if step_s <= 0 or window_end_s <= window_start_s:
        raise TwinError("raptor: a departure window needs window_end_s > window_start_s and step_s > 0")
    return np.arange(window_start_s, window_end_s, step_s, dtype=np.float64)


def range_arrivals(arrays: Any, source_stops: Any, source_offsets_s: Any, *, window_start_s: float,
                   window_end_s: float, step_s: float = 60, max_rounds: int = 5) -> np.ndarray:
    """Range-RAPTOR: for each departure of ``departure_times(window_start_s, window_end_s, step_s)`` (rows, in
    that order), the earliest arrival at every stop (columns; ``inf`` = not reached), the source stops being reached
    ``source_offsets_s`` after the departure. Row ``d`` equals ``earliest_arrival`` started at departure ``d``."""
    a = transit_arrays(arrays)
    departures = departure_times(window_start_s, window_end_s, step_s)
    stops, offsets = _sources(a, source_stops, source_offsets_s, "source_offsets_s")
    if np.any(np.abs(departures) >= 2**30) or np.any(departures != np.round(departures)):
        raise TwinError("raptor: departures must be whole seconds (below 2**30)")
    labels = _range_kernel(*a, stops, offsets, departures.astype(np.int64), _rounds(max_rounds))
    return _seconds(labels)


def _rank(q: float, n: int) -> int:
    """Nearest rank of the ``q`` quantile among ``n`` sorted values (0-based)."""
    if not 0 < q <= 1:
        raise TwinError(f"raptor: q must be in (0, 1], not {q}")
    if n == 0:
        raise TwinError("raptor: no departures")
    return max(int(np.ceil(q * n - 1e-9)) - 1, 0)


def percentile_matrix(arrays: Any, access: tuple[np.ndarray, np.ndarray, np.ndarray], direct_s: np.ndarray,
                      egress: tuple[np.ndarray, np.ndarray, np.ndarray], departures: np.ndarray, *, q: float = 0.5,
                      max_rounds: int = 5, max_s: float = np.inf) -> np.ndarray:
    """Door-to-door travel times (s) from each origin to each target, the ``q`` quantile over ``departures``.

    ``access`` = (ptr, stop, seconds): per origin (CSR), the stops it walks to and how long that takes;
    ``egress`` = (ptr, target, seconds): per stop, the targets one walks to from it (by target: memory order);
    ``direct_s`` (origins x targets) the walk all the way (``inf`` = too far), which must be the shortest walk: a
    stop reached on foot is not walked on from, as no walk through it is shorter. At each departure an origin's time to
    a target is the best of walking and every ride (access + waits + rides + transfers + egress), ``inf`` beyond
    ``max_s``; the quantile is as in :func:`travel_time_percentile`. Returns (origins x targets) float64, ``inf``
    where unreached.
    """
    a = transit_arrays(arrays)
    departures = np.asarray(departures, np.float64)
    if np.any(np.abs(departures) >= 2**30) or np.any(departures != np.round(departures)):
        raise TwinError("raptor: departures must be whole seconds (below 2**30)")
    access_ptr = np.ascontiguousarray(access[0], np.int64)
    access_stop, access_s = _sources(a, access[1], access[2], "access seconds")
    direct = np.ascontiguousarray(direct_s, np.float64)
    egress_ptr = np.ascontiguousarray(egress[0], np.int64)
    egress_to = np.ascontiguousarray(egress[1], np.int32)
    egress_s = np.ascontiguousarray(egress[2], np.float32)
    if len(access_ptr) != direct.shape[0] + 1 or len(egress_ptr) != a.n_stops + 1:
        raise TwinError("raptor: access has one row per origin and egress one per stop")
    if len(egress_to) and (egress_to.min() < 0 or egress_to.max() >= direct.shape[1]):
        raise TwinError("raptor: an egress leg names a target that does not exist")
    return _matrix_kernel(*a, access_ptr, access_stop, access_s, direct, egress_ptr, egress_to, egress_s,
                          departures.astype(np.int64), _rank(q, len(departures)), _rounds(max_rounds),
                          float(max_s))


def travel_time_percentile(arrivals: np.ndarray, departures: np.ndarray, q: float = 0.5) -> np.ndarray:
    """Per stop, the ``q`` quantile of the travel time (arrival - departure) over the departures (rows of
    ``arrivals``): the smallest time within which at least a share ``q`` of the departures arrive (nearest rank; for
    the median of an even count, the lower middle); ``inf`` where more than ``1 - q`` of the departures never do."""
    times = np.asarray(arrivals, np.float64) - np.asarray(departures, np.float64)[:, None]
    rank = _rank(q, times.shape[0])
    return np.partition(times, rank, axis=0)[rank]
