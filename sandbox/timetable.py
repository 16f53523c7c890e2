"""A GTFS feed as timetable arrays for RAPTOR (groundwork for the transit mode, issue 11; not yet a travel mode).

``read_gtfs`` reads one service date of a feed (partridge reads the files as text; the calendar, frequencies,
times and validation are done here) into a :class:`Timetable`: numpy arrays in the layout ``raptor.py``'s kernels
read. Times are integer seconds after midnight of the service date and pass 86,400 for trips after midnight, as
GTFS allows. A problem in the feed is a one-line :class:`DataError` naming the file and what is expected.

partridge rather than gtfs-kit: gtfs-kit 13.0.1 (the newest release) reads ``frequencies.headway_secs`` as Int16
and fails on valid feeds whose headways pass 32,767 s (HSL's reach 71,760 s).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import partridge
from scipy.spatial import cKDTree

from ._errors import DataError

# The files a feed needs, and the columns read_gtfs reads from each (optional files: only when present).
REQUIRED_FILES = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
COLUMNS = {
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
    "transfers.txt": ("from_stop_id", "to_stop_id"),
}
# route_type, basic and extended (Google's "Extended GTFS Route Types"), in plain words.
_BASIC_MODES = {0: "tram", 1: "metro", 2: "rail", 3: "bus", 4: "ferry", 5: "tram", 6: "other", 7: "rail",
                11: "bus", 12: "rail"}
_EXTENDED_MODES = ((100, "rail"), (200, "bus"), (300, "rail"), (400, "metro"), (500, "metro"), (600, "metro"),
                   (700, "bus"), (800, "bus"), (900, "tram"), (1000, "ferry"), (1100, "other"),
                   (1200, "ferry"), (1300, "other"), (1400, "rail"), (1500, "other"), (1600, "other"),
                   (1700, "other"))
_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")


@dataclasses.dataclass(frozen=True, eq=False)
class Timetable:
    """One service date of a feed as arrays (``raptor.TransitArrays`` names the kernels' part of them).

    - stops: ``stop_ids`` (GTFS stop_id, object), ``stop_names``, ``stop_lonlat`` (n_stops, 2) float64: the stops
      the date's trips serve (inside ``bbox`` when one was given), in stops.txt's order;
    - routes: ``route_ids``, ``route_names`` (short name, else long name), ``route_modes`` (tram, metro, rail, bus,
      ferry or other);
    - patterns (the trips of one route with the same stop sequence, split so that no trip overtakes another):
      ``pattern_stops_ptr`` (n_patterns + 1, int64) / ``pattern_stops`` (int32 stop indices), ``pattern_route``
      (int32 route index), ``pattern_trips_ptr`` (n_patterns + 1, int64) into ``trip_ids``; trips sorted by
      departure at the first stop;
    - times: ``times_ptr`` (n_patterns + 1, int64) into ``arrival_s`` / ``departure_s`` (int32 seconds after
      midnight of ``service_date``): trip ``j`` of pattern ``p`` at stop position ``i`` is at
      ``times_ptr[p] + j * m + i`` (``m`` stops);
    - ``stop_patterns_ptr`` (n_stops + 1, int64), ``stop_patterns``, ``stop_positions`` (int32): the patterns
      serving each stop and the stop's position in each;
    - ``transfers_ptr`` (n_stops + 1, int64), ``transfers_to``, ``transfers_s`` (int32): footpaths between stops;
    - provenance: ``service_date``, ``source`` (file, publisher, version), ``licence``.
    """

    stop_ids: np.ndarray
    stop_names: np.ndarray
    stop_lonlat: np.ndarray
    route_ids: np.ndarray
    route_names: np.ndarray
    route_modes: np.ndarray
    pattern_stops_ptr: np.ndarray
    pattern_stops: np.ndarray
    pattern_route: np.ndarray
    pattern_trips_ptr: np.ndarray
    trip_ids: np.ndarray
    times_ptr: np.ndarray
    arrival_s: np.ndarray
    departure_s: np.ndarray
    stop_patterns_ptr: np.ndarray
    stop_patterns: np.ndarray
    stop_positions: np.ndarray
    transfers_ptr: np.ndarray
    transfers_to: np.ndarray
    transfers_s: np.ndarray
    service_date: datetime.date
    source: str
    licence: str

    @property
    def n_stops(self) -> int:
        return len(self.stop_ids)

    @property
    def n_patterns(self) -> int:
        return len(self.pattern_route)

    @property
    def n_trips(self) -> int:
        return len(self.trip_ids)

    def trip_times(self, pattern: int) -> tuple[np.ndarray, np.ndarray]:
        """Arrivals and departures of ``pattern``'s trips as (trips, stops) arrays (views)."""
        m = int(self.pattern_stops_ptr[pattern + 1] - self.pattern_stops_ptr[pattern])
        span = slice(self.times_ptr[pattern], self.times_ptr[pattern + 1])
        return self.arrival_s[span].reshape(-1, m), self.departure_s[span].reshape(-1, m)

    def __repr__(self) -> str:
        return (f"<Timetable {self.service_date}: {self.n_stops} stops, {self.n_patterns} patterns, "
                f"{self.n_trips} trips, {len(self.transfers_to)} transfers; {self.source}>")


def route_mode(route_type: int) -> str:
    """A GTFS route_type (basic or extended) in words: tram, metro, rail, bus, ferry or other."""
    if route_type in _BASIC_MODES:
        return _BASIC_MODES[route_type]
    if 100 <= route_type < 1800:
        return [mode for start, mode in _EXTENDED_MODES if start <= route_type][-1]
    return "other"


# ----------------------------------------------------------------------------------------------------------------
# Reading


def read_gtfs(path: str | Path, *, date: datetime.date | str | None = None, bbox: Sequence[float] | None = None,
              licence: str | None = None) -> Timetable:
    """The timetable of one service date of the GTFS feed at ``path`` (a zip or a folder).

    ``date`` (a date or "YYYY-MM-DD"/"YYYYMMDD") defaults to the feed's busiest date: the first date with the
    most trips in trips.txt (partridge's ``read_busiest_date``; frequency-based trips count once). Services run
    by calendar.txt and calendar_dates.txt. frequencies.txt's trips are expanded into scheduled trips departing
    every ``headway_secs`` from ``start_time`` while before ``end_time``, for exact_times 1 and 0 alike (0 is
    approximated by a regular schedule: the same mean wait). Missing times between timed stops are interpolated
    by stop position. ``bbox`` (min_lon, min_lat, max_lon, max_lat) keeps the stops inside it, and each trip's
    stop sequence clipped to them (trips left with fewer than two stops are dropped). Transfers are
    transfers.txt's footpaths with a min_transfer_time between two different stops; add straight-line ones with
    :func:`straight_line_transfers`. ``licence`` is recorded as given (GTFS does not carry one).
    """
    path = Path(path)
    name = path.name
    files = _feed_files(path)
    for file in REQUIRED_FILES:
        if file not in files:
            raise DataError(f"{name}: {file} is missing; expected a GTFS feed with stops.txt, routes.txt, "
                            "trips.txt, stop_times.txt and calendar.txt or calendar_dates.txt")
    if "calendar.txt" not in files and "calendar_dates.txt" not in files:
        raise DataError(f"{name}: calendar.txt and calendar_dates.txt are both missing; expected at least one "
                        "to say when services run")
    bbox = _check_bbox(bbox)
    service_date, services = _services(path, name, date)

    feed = partridge.load_raw_feed(str(path))  # every column as text, nothing pruned: validated here
    tables = {file: _table(feed, name, file) for file in COLUMNS if file in files}
    stops, routes, trips = tables["stops.txt"], tables["routes.txt"], tables["trips.txt"]
    _unique(name, "stops.txt", stops, "stop_id")
    _unique(name, "routes.txt", routes, "route_id")
    _unique(name, "trips.txt", trips, "trip_id")
    _known(name, "trips.txt", trips, "route_id", routes.route_id, "routes.txt")
    lonlat = np.column_stack([_numbers(name, "stops.txt", stops, "stop_lon", "stop_id", -180, 180),
                              _numbers(name, "stops.txt", stops, "stop_lat", "stop_id", -90, 90)])

    stop_times = tables["stop_times.txt"]
    _known(name, "stop_times.txt", stop_times, "trip_id", trips.trip_id, "trips.txt")
    _known(name, "stop_times.txt", stop_times, "stop_id", stops.stop_id, "stops.txt")
    day_trips = trips[trips.service_id.isin(services)]
    stop_times = stop_times[stop_times.trip_id.isin(day_trips.trip_id)]
    stop_times = _parse_stop_times(name, stop_times)

    frequencies = tables.get("frequencies.txt")
    if frequencies is not None:
        _known(name, "frequencies.txt", frequencies, "trip_id", trips.trip_id, "trips.txt")
        frequencies = frequencies[frequencies.trip_id.isin(day_trips.trip_id)]
    trip_list = _expand(name, stop_times, frequencies)

    stop_index = pd.Index(stops.stop_id)
    inside = np.ones(len(stops), bool)
    if bbox is not None:
        inside = ((lonlat[:, 0] >= bbox[0]) & (lonlat[:, 0] <= bbox[2])
                  & (lonlat[:, 1] >= bbox[1]) & (lonlat[:, 1] <= bbox[3]))
    route_of_trip = dict(zip(day_trips.trip_id, day_trips.route_id, strict=True))
    return _assemble(path, feed, files, stops, lonlat, inside, stop_index, routes, route_of_trip, trip_list,
                     tables.get("transfers.txt"), service_date, licence)


def _feed_files(path: Path) -> set[str]:
    if path.is_dir():
        return {p.name for p in path.iterdir() if p.is_file()}
    if not path.exists():
        raise DataError(f"{path}: no such file; expected a GTFS feed (a zip or a folder)")
    try:
        with zipfile.ZipFile(path) as archive:
            return {Path(n).name for n in archive.namelist() if not n.endswith("/")}
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path.name}: not a zip file ({exc}); expected a GTFS feed (a zip or a folder)") from exc


def _check_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    box = tuple(float(v) for v in bbox)
    if len(box) != 4 or not (box[0] <= box[2] and box[1] <= box[3]):
        raise ValueError(f"bbox {bbox!r}: expected (min_lon, min_lat, max_lon, max_lat)")
    return box  # type: ignore[return-value]


def _parse_date(date: datetime.date | str) -> datetime.date:
    if isinstance(date, datetime.datetime):
        return date.date()
    if isinstance(date, datetime.date):
        return date
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(str(date), fmt).date()
        except ValueError:
            pass
    raise ValueError(f"date {date!r}: expected a date, YYYY-MM-DD or YYYYMMDD")


def _services(path: Path, name: str, date: datetime.date | str | None) -> tuple[datetime.date, frozenset[str]]:
    """The service date and the service_ids running on it (calendar.txt and calendar_dates.txt)."""
    wanted = None if date is None else _parse_date(date)
    try:
        by_date = partridge.read_service_ids_by_date(str(path))
    except AssertionError:  # partridge: "No service found in feed."
        by_date = {}
    except (ValueError, KeyError) as exc:
        raise DataError(f"{name}: calendar.txt/calendar_dates.txt: unreadable ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); expected dates as YYYYMMDD and the "
                        "columns of GTFS") from exc
    if not by_date:
        raise DataError(f"{name}: calendar.txt/calendar_dates.txt: no service runs on any date; expected at "
                        "least one service with trips")
    if wanted is None:
        wanted, services = partridge.read_busiest_date(str(path))
        return wanted, frozenset(services)
    if wanted not in by_date:
        raise DataError(f"{name}: no service runs on {wanted}; expected a date from {min(by_date)} to "
                        f"{max(by_date)} on which one does")
    return wanted, by_date[wanted]


def _table(feed, name: str, file: str) -> pd.DataFrame:
    frame = feed.get(file)
    if frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS[file]})
    missing = [column for column in COLUMNS[file] if column not in frame.columns]
    if missing:
        raise DataError(f"{name}: {file} has no column {missing[0]}; expected the columns "
                        f"{', '.join(COLUMNS[file])}")
    for column in COLUMNS[file]:
        blank = frame[column].isna()
        if column not in ("arrival_time", "departure_time") and blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise DataError(f"{name}: {file}: row {row + 2} has no {column}; expected a value in every row")
    return frame


def _unique(name: str, file: str, frame: pd.DataFrame, column: str) -> None:
    repeated = frame[column][frame[column].duplicated()]
    if len(repeated):
        raise DataError(f"{name}: {file}: {column} {repeated.iloc[0]!r} appears twice; expected unique ids")


def _known(name: str, file: str, frame: pd.DataFrame, column: str, known: pd.Series, where: str) -> None:
    unknown = frame[column][~frame[column].isin(known)]
    if len(unknown):
        raise DataError(f"{name}: {file}: {column} {unknown.iloc[0]!r} is not in {where}; expected ids that "
                        f"{where} lists")


def _numbers(name: str, file: str, frame: pd.DataFrame, column: str, key: str, low: float, high: float,
             integer: bool = False) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    if integer:
        bad |= np.isfinite(values) & (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        raise DataError(f"{name}: {file}: {key} {frame[key].iloc[i]!r} has {column} {frame[column].iloc[i]!r}; "
                        f"expected {kind} from {low:g} to {high:g}")
    return values


def _seconds(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of HH:MM:SS texts (NaN where blank) and a mask of malformed ones."""
    text = values.astype(object).where(values.notna(), None)
    parts = values.str.extract(_TIME)
    seconds = (pd.to_numeric(parts[0]) * 3600 + pd.to_numeric(parts[1]) * 60 + pd.to_numeric(parts[2]))
    seconds = seconds.to_numpy(float)
    bad = np.isnan(seconds) & np.array([t is not None for t in text], bool)
    return seconds, bad


def _clock(name: str, file: str, frame: pd.DataFrame, column: str, where: Callable[[int], str]) -> np.ndarray:
    """A column of HH:MM:SS as seconds (hours may pass 24); the first malformed value, at the row ``where`` names,
    is a one-line error."""
    values, bad = _seconds(frame[column].str.strip())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}: {file}: {where(i)} has {column} {frame[column].iloc[i]!r}; expected HH:MM:SS "
                        "(hours may pass 24)")
    return values


def _fmt(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _parse_stop_times(name: str, stop_times: pd.DataFrame) -> pd.DataFrame:
    """trip_id, stop_id, seq, arr, dep (float seconds), sorted by trip and stop_sequence; validated."""
    file = "stop_times.txt"
    seq = pd.to_numeric(stop_times.stop_sequence, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(seq) | (seq < 0) | (seq != np.round(seq))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name}: {file}: trip {stop_times.trip_id.iloc[i]!r} has stop_sequence "
                        f"{stop_times.stop_sequence.iloc[i]!r}; expected a non-negative integer")
    times = {column: _clock(name, file, stop_times, column,
                            lambda i: f"trip {stop_times.trip_id.iloc[i]!r} stop_sequence {int(seq[i])}")
             for column in ("arrival_time", "departure_time")}
    frame = pd.DataFrame({"trip_id": stop_times.trip_id.to_numpy(object), "stop_id": stop_times.stop_id.to_numpy(object),
                          "seq": seq.astype(np.int64), "arr": times["arrival_time"], "dep": times["departure_time"]})
    frame = frame.sort_values(["trip_id", "seq"], kind="stable").reset_index(drop=True)
    same = np.r_[False, frame.trip_id.to_numpy()[1:] == frame.trip_id.to_numpy()[:-1]]
    repeated = same & np.r_[False, np.diff(frame.seq.to_numpy()) == 0]
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise DataError(f"{name}: {file}: trip {frame.trip_id[i]!r} has stop_sequence {frame.seq[i]} twice; "
                        "expected each stop_sequence once per trip")
    arr, dep = frame.arr.to_numpy(), frame.dep.to_numpy()
    arr = np.where(np.isnan(arr), dep, arr)  # one of the two given: the stop's time
    dep = np.where(np.isnan(dep), arr, dep)
    first = ~same
    last = np.r_[~same[1:], True]
    untimed = np.isnan(arr) & (first | last)
    if untimed.any():
        i = int(np.flatnonzero(untimed)[0])
        which = "first" if first[i] else "last"
        raise DataError(f"{name}: {file}: trip {frame.trip_id[i]!r} has no time at its {which} stop "
                        f"(stop_sequence {frame.seq[i]}); expected arrival_time and departure_time at a trip's "
                        "first and last stops")
    if np.isnan(arr).any():  # interpolate by position between the timed stops of the same trip
        position = np.arange(len(arr), dtype=float)
        timed = ~np.isnan(arr)
        arr = np.where(timed, arr, np.interp(position, position[timed], arr[timed]))
        dep = np.where(timed, dep, np.interp(position, position[timed], dep[timed]))
        arr, dep = np.round(arr), np.round(dep)
    early = dep < arr
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise DataError(f"{name}: {file}: trip {frame.trip_id[i]!r} stop_sequence {frame.seq[i]} departs "
                        f"({_fmt(dep[i])}) before it arrives ({_fmt(arr[i])}); expected times that never decrease "
                        "along a trip")
    back = same & np.r_[False, arr[1:] < dep[:-1]]
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise DataError(f"{name}: {file}: trip {frame.trip_id[i]!r} arrives at stop_sequence {frame.seq[i]} "
                        f"({_fmt(arr[i])}) before it departs stop_sequence {frame.seq[i - 1]} ({_fmt(dep[i - 1])}); "
                        "expected times that never decrease along a trip")
    frame["arr"], frame["dep"] = arr.astype(np.int64), dep.astype(np.int64)
    return frame


def _expand(name: str, stop_times: pd.DataFrame, frequencies: pd.DataFrame | None
            ) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """Every trip of the day as (trip_id, template trip_id, stop_ids, arrivals, departures); a frequency-based
    trip's stop_times give only its times relative to its first departure, and become one trip per headway."""
    trip_ids = stop_times.trip_id.to_numpy()
    starts = np.flatnonzero(np.r_[True, trip_ids[1:] != trip_ids[:-1]]) if len(trip_ids) else np.array([], int)
    ends = np.r_[starts[1:], len(trip_ids)]
    stop_ids, arr, dep = stop_times.stop_id.to_numpy(), stop_times.arr.to_numpy(), stop_times.dep.to_numpy()
    windows: dict[str, list[tuple[int, int, int]]] = {}
    if frequencies is not None and len(frequencies):
        file = "frequencies.txt"
        start, end = (_clock(name, file, frequencies, column, lambda i: f"trip {frequencies.trip_id.iloc[i]!r}")
                      for column in ("start_time", "end_time"))
        headway = _numbers(name, file, frequencies, "headway_secs", "trip_id", 1, 86_400 * 7, integer=True)
        for trip, s, e, h in zip(frequencies.trip_id, start, end, headway, strict=True):
            if e <= s:
                raise DataError(f"{name}: {file}: trip {trip!r} runs from {_fmt(s)} to {_fmt(e)}; expected an "
                                "end_time after its start_time")
            windows.setdefault(trip, []).append((int(s), int(e), int(h)))
    trips = []
    for a, b in zip(starts, ends, strict=True):
        trip = trip_ids[a]
        if trip not in windows:
            trips.append((trip, trip, stop_ids[a:b], arr[a:b], dep[a:b]))
            continue
        origin = dep[a]
        for s, e, h in sorted(windows[trip]):
            for t in range(s, e, h):
                trips.append((f"{trip}@{_fmt(t)}", trip, stop_ids[a:b], arr[a:b] - origin + t,
                              dep[a:b] - origin + t))
    return trips


def _assemble(path, feed, files, stops, lonlat, inside, stop_index, routes, route_of_trip, trip_list, transfers,
              service_date, licence) -> Timetable:
    name = path.name
    route_index = pd.Index(routes.route_id)
    # Clip to the stops inside; keep trips with two stops or more; group into patterns.
    groups: dict[tuple, list[int]] = {}
    kept = []
    for trip, template, stop_ids, arr, dep in trip_list:
        rows = stop_index.get_indexer(stop_ids)
        keep = inside[rows]
        if keep.sum() < 2:
            continue
        key = (int(route_index.get_loc(route_of_trip[template])), tuple(rows[keep].tolist()))
        groups.setdefault(key, []).append(len(kept))
        kept.append((trip, arr[keep], dep[keep]))
    served = sorted({s for key in groups for s in key[1]})
    new_stop = np.full(len(stops), -1, np.int64)
    new_stop[served] = np.arange(len(served))
    used_routes = sorted({key[0] for key in groups})
    new_route = {r: i for i, r in enumerate(used_routes)}

    patterns = []  # (route, stops, [trip indices in FIFO order]), split where trips overtake
    for (route, stop_rows), members in groups.items():
        arr = np.array([kept[t][1] for t in members])
        dep = np.array([kept[t][2] for t in members])
        order = sorted(range(len(members)),  # by departure at the first stop, then all departures
                       key=lambda j: (dep[j].tolist(), arr[j].tolist(), kept[members[j]][0]))
        chains: list[list[int]] = []
        for j in order:
            for chain in chains:
                last = chain[-1]
                if np.all(dep[j] >= dep[last]) and np.all(arr[j] >= arr[last]):
                    chain.append(j)
                    break
            else:
                chains.append([j])
        for chain in chains:
            patterns.append((new_route[route], new_stop[list(stop_rows)], [members[j] for j in chain],
                             int(dep[chain[0], 0])))
    patterns.sort(key=lambda p: (p[0], p[3], p[1].tolist()))

    n_stops = len(served)
    m = np.array([len(p[1]) for p in patterns], np.int64)
    t = np.array([len(p[2]) for p in patterns], np.int64)
    pattern_stops = np.concatenate([p[1] for p in patterns]).astype(np.int32) if patterns else np.zeros(0, np.int32)
    trip_order = [i for p in patterns for i in p[2]]
    arrival = np.concatenate([kept[i][1] for i in trip_order]) if trip_order else np.zeros(0)
    departure = np.concatenate([kept[i][2] for i in trip_order]) if trip_order else np.zeros(0)
    if len(departure) and departure.max() > np.iinfo(np.int32).max:
        raise DataError(f"{name}: stop_times.txt: times too far past midnight; expected times that fit in int32")

    # Each stop's patterns and its positions in them.
    pattern_of = np.repeat(np.arange(len(patterns)), m)
    position = np.arange(len(pattern_stops)) - np.repeat(np.r_[0, np.cumsum(m)[:-1]], m) if len(m) else pattern_of
    order = np.lexsort((position, pattern_of, pattern_stops))

    stops_kept = stops.iloc[served]
    names = stops_kept["stop_name"] if "stop_name" in stops_kept else pd.Series([""] * n_stops)
    ptr, to, seconds = _feed_transfers(name, transfers, stop_index, new_stop, n_stops)
    routes_kept = routes.iloc[used_routes]
    short = routes_kept.get("route_short_name", pd.Series([None] * len(routes_kept), index=routes_kept.index))
    long = routes_kept.get("route_long_name", pd.Series([None] * len(routes_kept), index=routes_kept.index))
    route_types = _numbers(name, "routes.txt", routes_kept, "route_type", "route_id", 0, 1799, integer=True)
    return Timetable(
        stop_ids=stops_kept.stop_id.to_numpy(object),
        stop_names=names.fillna("").to_numpy(object),
        stop_lonlat=np.ascontiguousarray(lonlat[served], np.float64),
        route_ids=routes_kept.route_id.to_numpy(object),
        route_names=short.fillna(long).fillna("").to_numpy(object),
        route_modes=np.array([route_mode(int(v)) for v in route_types], object),
        pattern_stops_ptr=np.r_[0, np.cumsum(m)].astype(np.int64),
        pattern_stops=pattern_stops,
        pattern_route=np.array([p[0] for p in patterns], np.int32),
        pattern_trips_ptr=np.r_[0, np.cumsum(t)].astype(np.int64),
        trip_ids=np.array([kept[i][0] for i in trip_order], object),
        times_ptr=np.r_[0, np.cumsum(m * t)].astype(np.int64),
        arrival_s=np.asarray(arrival, np.int32),
        departure_s=np.asarray(departure, np.int32),
        stop_patterns_ptr=np.r_[0, np.cumsum(np.bincount(pattern_stops, minlength=n_stops))].astype(np.int64),
        stop_patterns=pattern_of[order].astype(np.int32),
        stop_positions=position[order].astype(np.int32),
        transfers_ptr=ptr, transfers_to=to, transfers_s=seconds,
        service_date=service_date,
        source=_source(name, feed, files),
        licence=licence or "not stated (GTFS carries no licence; give it to read_gtfs)",
    )


def _feed_transfers(name, transfers, stop_index, new_stop, n_stops):
    """transfers.txt's footpaths with a min_transfer_time between two different kept stops, as CSR."""
    empty = (np.zeros(n_stops + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))
    if transfers is None or not len(transfers) or "min_transfer_time" not in transfers:
        return empty
    file = "transfers.txt"
    for column in ("from_stop_id", "to_stop_id"):
        _known(name, file, transfers, column, pd.Series(stop_index), "stops.txt")
    given = transfers[transfers.min_transfer_time.notna()]
    if "transfer_type" in given:
        given = given[given.transfer_type.fillna("0").str.strip() != "3"]  # 3: no transfer possible
    seconds = _numbers(name, file, given, "min_transfer_time", "from_stop_id", 0, 86_400, integer=True)
    a = new_stop[stop_index.get_indexer(given.from_stop_id)]
    b = new_stop[stop_index.get_indexer(given.to_stop_id)]
    keep = (a >= 0) & (b >= 0) & (a != b)
    return _csr(a[keep], b[keep], seconds[keep], n_stops)


def _csr(a: np.ndarray, b: np.ndarray, seconds: np.ndarray, n_stops: int):
    """CSR of footpaths a -> b, one per pair (the shortest), sorted by (a, b)."""
    frame = pd.DataFrame({"a": a, "b": b, "s": seconds}).groupby(["a", "b"], as_index=False)["s"].min()
    counts = np.bincount(frame.a.to_numpy(np.int64), minlength=n_stops)
    return (np.r_[0, np.cumsum(counts)].astype(np.int64), frame.b.to_numpy(np.int32),
            np.ceil(frame.s.to_numpy(float)).astype(np.int32))


def _source(name: str, feed, files: set[str]) -> str:
    text = name
    info = feed.get("feed_info.txt") if "feed_info.txt" in files else pd.DataFrame()
    if len(info):
        row = info.iloc[0]
        details = [str(row[c]) for c in ("feed_publisher_name",) if c in info and pd.notna(row[c])]
        if "feed_version" in info and pd.notna(row["feed_version"]):
            details.append(f"version {row['feed_version']}")
        if details:
            text += f" ({', '.join(details)})"
    return text


# ----------------------------------------------------------------------------------------------------------------
# Storage


_TEXT_FIELDS = ("stop_ids", "stop_names", "route_ids", "route_names", "route_modes", "trip_ids")
_META_FIELDS = ("service_date", "source", "licence")


def timetable_digest(timetable: Timetable) -> bytes:
    """Content hash of a timetable (every array and its provenance), for the twin's fingerprint."""
    digest = hashlib.sha256()
    for field in dataclasses.fields(Timetable):
        value = getattr(timetable, field.name)
        digest.update(field.name.encode())
        if field.name in _TEXT_FIELDS:
            digest.update("\x1f".join(map(str, value)).encode())
        elif field.name in _META_FIELDS:
            digest.update(str(value).encode())
        else:
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.digest()


def write_timetable(timetable: Timetable, path: str | Path) -> None:
    """The timetable as one .npz (no pickles: text as unicode arrays, provenance as 0-d strings)."""
    arrays = {}
    for field in dataclasses.fields(Timetable):
        value = getattr(timetable, field.name)
        if field.name in _TEXT_FIELDS:
            arrays[field.name] = np.asarray([str(v) for v in value], dtype=str) if len(value) else np.zeros(0, "U1")
        elif field.name in _META_FIELDS:
            arrays[field.name] = np.asarray(str(value))
        else:
            arrays[field.name] = value
    with open(path, "wb") as out:
        np.savez_compressed(out, **arrays)


def read_timetable(path: str | Path) -> Timetable:
    """A timetable written by :func:`write_timetable`; a damaged or foreign file is one DataError line."""
    try:
        with np.load(path, allow_pickle=False) as data:
            values = {}
            for field in dataclasses.fields(Timetable):
                value = data[field.name]
                if field.name in _TEXT_FIELDS:
                    value = value.astype(object)
                elif field.name == "service_date":
                    value = datetime.date.fromisoformat(str(value))
                elif field.name in _META_FIELDS:
                    value = str(value)
                values[field.name] = value
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a timetable written by sandbox ({exc}); rebuild the twin") from exc
    return Timetable(**values)


# ----------------------------------------------------------------------------------------------------------------
# Transfers


def straight_line_transfers(timetable: Timetable, max_m: float = 400, speed_m_s: float = 1.2) -> Timetable:
    """The timetable with a footpath between every two stops within ``max_m`` metres as the crow flies, taking
    distance / ``speed_m_s`` seconds (rounded up), added to its own (the shorter wins for a pair).

    A PLACEHOLDER kept apart from :func:`read_gtfs` on purpose: the real footpaths will be walked on the street
    network (issue 11) and replace these; straight lines underestimate walks around blocks, water and rails.
    """
    n = timetable.n_stops
    lon, lat = timetable.stop_lonlat[:, 0], timetable.stop_lonlat[:, 1]
    radius = 6_371_008.8
    lat0 = np.radians(lat.mean()) if n else 0.0
    xy = np.column_stack([np.radians(lon) * np.cos(lat0) * radius, np.radians(lat) * radius])
    pairs = cKDTree(xy).query_pairs(max_m, output_type="ndarray") if n else np.zeros((0, 2), int)
    a = np.r_[pairs[:, 0], pairs[:, 1]]
    b = np.r_[pairs[:, 1], pairs[:, 0]]
    seconds = np.hypot(*(xy[a] - xy[b]).T) / speed_m_s
    old_from = np.repeat(np.arange(n), np.diff(timetable.transfers_ptr))
    ptr, to, s = _csr(np.r_[old_from, a], np.r_[timetable.transfers_to, b],
                      np.r_[timetable.transfers_s.astype(float), seconds], n)
    return dataclasses.replace(timetable, transfers_ptr=ptr, transfers_to=to, transfers_s=s)
