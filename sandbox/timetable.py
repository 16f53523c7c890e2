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
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, NamedTuple

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
MODES = ("tram", "metro", "rail", "bus", "ferry", "other")
# add_line with a speed: a run is the straight line between its stops times this (streets and tracks bend).
DETOUR_FACTOR = 1.3
EARTH_RADIUS_M = 6_371_008.8


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
    route_index = pd.Index(routes.route_id)
    kept = []  # (trip_id, route row, stop rows, arrivals, departures): each trip clipped to the stops inside
    for trip, template, stop_ids, arr, dep in trip_list:
        rows = stop_index.get_indexer(stop_ids)
        keep = inside[rows]
        if keep.sum() >= 2:
            kept.append((trip, route_index.get_loc(route_of_trip[template]), rows[keep], arr[keep], dep[keep]))
    if kept and max(int(k[4].max()) for k in kept) > np.iinfo(np.int32).max:
        raise DataError(f"{name}: stop_times.txt: times too far past midnight; expected times that fit in int32")
    transfers = _feed_transfers(name, tables.get("transfers.txt"), stop_index)
    used = sorted({k[1] for k in kept})
    new_route = {r: i for i, r in enumerate(used)}
    routes_kept = routes.iloc[used]
    short = routes_kept.get("route_short_name", pd.Series([None] * len(used), index=routes_kept.index))
    long = routes_kept.get("route_long_name", pd.Series([None] * len(used), index=routes_kept.index))
    route_types = _numbers(name, "routes.txt", routes_kept, "route_type", "route_id", 0, 1799, integer=True)
    names = stops["stop_name"] if "stop_name" in stops else pd.Series([""] * len(stops))
    return from_trips(
        stop_ids=stops.stop_id.to_numpy(object), stop_names=names.fillna("").to_numpy(object), stop_lonlat=lonlat,
        route_ids=routes_kept.route_id.to_numpy(object), route_names=short.fillna(long).fillna("").to_numpy(object),
        route_modes=np.array([route_mode(int(v)) for v in route_types], object),
        trip_ids=[k[0] for k in kept], trip_routes=[new_route[k[1]] for k in kept],
        trip_stops=[k[2] for k in kept], trip_arrivals=[k[3] for k in kept], trip_departures=[k[4] for k in kept],
        transfers=transfers, service_date=service_date, source=_source(name, feed, files),
        licence=licence or "not stated (GTFS carries no licence; give it to read_gtfs)", keep_unused_stops=False)


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


def _feed_transfers(name: str, transfers: pd.DataFrame | None, stop_index: pd.Index
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """transfers.txt's footpaths with a min_transfer_time between two different stops, as CSR over stops.txt."""
    n_stops = len(stop_index)
    if transfers is None or not len(transfers) or "min_transfer_time" not in transfers:
        return np.zeros(n_stops + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    file = "transfers.txt"
    for column in ("from_stop_id", "to_stop_id"):
        _known(name, file, transfers, column, pd.Series(stop_index), "stops.txt")
    given = transfers[transfers.min_transfer_time.notna()]
    if "transfer_type" in given:
        given = given[given.transfer_type.fillna("0").str.strip() != "3"]  # 3: no transfer possible
    seconds = _numbers(name, file, given, "min_transfer_time", "from_stop_id", 0, 86_400, integer=True)
    a = stop_index.get_indexer(given.from_stop_id)
    b = stop_index.get_indexer(given.to_stop_id)
    keep = a != b
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
# Timetables from trips, and back


class Trips(NamedTuple):
    """Trips one by one, as :func:`from_trips` takes them and :func:`trips` gives them back: ``trip_ids``,
    ``trip_routes`` (route indices) and per trip its stop indices, arrivals and departures (int64 seconds)."""

    trip_ids: np.ndarray
    trip_routes: np.ndarray
    trip_stops: list[np.ndarray]
    trip_arrivals: list[np.ndarray]
    trip_departures: list[np.ndarray]


def from_trips(*, stop_ids: Sequence[str], stop_names: Sequence[str], stop_lonlat: np.ndarray,
               route_ids: Sequence[str], route_names: Sequence[str], route_modes: Sequence[str],
               trip_ids: Sequence[str], trip_routes: Sequence[int], trip_stops: Sequence[np.ndarray],
               trip_arrivals: Sequence[np.ndarray], trip_departures: Sequence[np.ndarray],
               transfers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, service_date: datetime.date,
               source: str, licence: str, keep_unused_stops: bool = True) -> Timetable:
    """The timetable of trips given one by one: per trip its route (an index into the routes), its stops (indices
    into the stops) and its arrivals and departures (whole seconds after midnight of ``service_date``).

    Trips of one route with the same stop sequence become patterns, split where one trip would overtake another,
    so that every pattern is FIFO as the kernels need (a pattern's trips sorted by departure at its first stop).
    Every route keeps its index, and so does every stop unless ``keep_unused_stops`` is False (then the stops no
    trip serves are dropped, as :func:`read_gtfs` does): edits can name stops and routes before and after.
    ``transfers`` is (ptr, to, seconds), CSR over the given stops. Invalid input is a one-line DataError.
    """
    stop_ids, stop_names, route_ids, route_names, route_modes, trip_ids = (
        np.array(list(values), dtype=object) for values in (stop_ids, stop_names, route_ids, route_names,
                                                             route_modes, trip_ids))
    stop_lonlat = np.ascontiguousarray(stop_lonlat, np.float64)
    n_stops, n_routes, n_trips = len(stop_ids), len(route_ids), len(trip_ids)
    if len(stop_names) != n_stops or stop_lonlat.shape != (n_stops, 2):
        raise DataError(f"from_trips: stop_names, stop_lonlat: {len(stop_names)} names, shape {stop_lonlat.shape}; "
                        f"expected one name and one (lon, lat) per stop ({n_stops})")
    if not len(route_names) == len(route_modes) == n_routes:
        raise DataError(f"from_trips: route_names, route_modes: {len(route_names)} and {len(route_modes)}; "
                        f"expected one per route ({n_routes})")
    unknown = [mode for mode in route_modes if mode not in MODES]
    if unknown:
        raise DataError(f"from_trips: route_modes: {unknown[0]!r}; expected one of {', '.join(MODES)}")
    trip_routes = np.asarray(trip_routes, np.int64).reshape(-1)
    if not len(trip_routes) == len(trip_stops) == len(trip_arrivals) == len(trip_departures) == n_trips:
        raise DataError("from_trips: trip_ids, trip_routes, trip_stops, trip_arrivals and trip_departures differ "
                        "in length; expected one value per trip")
    lengths = np.array([len(s) for s in trip_stops], np.int64)
    starts = np.r_[0, np.cumsum(lengths)]
    flat = [np.concatenate([np.asarray(x).reshape(-1) for x in values]) if n_trips else np.zeros(0)
            for values in (trip_stops, trip_arrivals, trip_departures)]
    _check_trips(trip_ids, trip_routes, trip_arrivals, trip_departures, lengths, starts, *flat, n_stops, n_routes)
    stops_of, arrival, departure = (values.astype(np.int64) for values in flat)

    groups: dict[tuple[int, bytes], list[int]] = {}  # (route, stop sequence) -> trips, in order of appearance
    for t in range(n_trips):
        groups.setdefault((int(trip_routes[t]), stops_of[starts[t]:starts[t + 1]].tobytes()), []).append(t)
    rank = np.unique(trip_ids.astype(str), return_inverse=True)[1].reshape(-1)  # ties broken by trip_id
    patterns = []  # (route, stops, trips, cells: (trips, stops) positions in the flat arrays, first departure)
    for (route, _), members in groups.items():
        members = np.array(members)
        cells = starts[members][:, None] + np.arange(lengths[members[0]])
        arr, dep = arrival[cells], departure[cells]
        order = np.lexsort(np.vstack([rank[members], arr.T[::-1], dep.T[::-1]]))  # by departures, then arrivals
        for chain in _fifo_chains(arr[order], dep[order]):
            rows = order[chain]
            patterns.append((route, stops_of[cells[0]], members[rows], cells[rows], int(dep[rows[0], 0])))
    patterns.sort(key=lambda p: (p[0], p[4], p[1].tolist()))

    keep = np.ones(n_stops, bool)
    if not keep_unused_stops:
        keep[:] = False
        keep[stops_of] = True
    new_stop = np.cumsum(keep) - 1
    m = np.array([len(p[1]) for p in patterns], np.int64)
    t = np.array([len(p[2]) for p in patterns], np.int64)
    pattern_stops = (new_stop[np.concatenate([p[1] for p in patterns])] if patterns else np.zeros(0)).astype(np.int32)
    cells = np.concatenate([p[3].reshape(-1) for p in patterns]) if patterns else np.zeros(0, np.int64)
    pattern_of = np.repeat(np.arange(len(patterns)), m)
    position = np.arange(len(pattern_stops)) - np.repeat(np.r_[0, np.cumsum(m)[:-1]], m) if len(m) else pattern_of
    order = np.lexsort((position, pattern_of, pattern_stops))  # each stop's patterns and its positions in them
    n_kept = int(keep.sum())
    transfers_ptr, transfers_to, transfers_s = _kept_transfers(transfers, keep, new_stop)
    return Timetable(
        stop_ids=stop_ids[keep], stop_names=stop_names[keep], stop_lonlat=np.ascontiguousarray(stop_lonlat[keep]),
        route_ids=route_ids, route_names=route_names, route_modes=route_modes,
        pattern_stops_ptr=np.r_[0, np.cumsum(m)].astype(np.int64),
        pattern_stops=pattern_stops,
        pattern_route=np.array([p[0] for p in patterns], np.int32),
        pattern_trips_ptr=np.r_[0, np.cumsum(t)].astype(np.int64),
        trip_ids=trip_ids[np.concatenate([p[2] for p in patterns])] if patterns else trip_ids[:0],
        times_ptr=np.r_[0, np.cumsum(m * t)].astype(np.int64),
        arrival_s=arrival[cells].astype(np.int32),
        departure_s=departure[cells].astype(np.int32),
        stop_patterns_ptr=np.r_[0, np.cumsum(np.bincount(pattern_stops, minlength=n_kept))].astype(np.int64),
        stop_patterns=pattern_of[order].astype(np.int32),
        stop_positions=position[order].astype(np.int32),
        transfers_ptr=transfers_ptr, transfers_to=transfers_to, transfers_s=transfers_s,
        service_date=service_date, source=source, licence=licence,
    )


def _check_trips(trip_ids: np.ndarray, trip_routes: np.ndarray, trip_arrivals: Sequence[np.ndarray],
                 trip_departures: Sequence[np.ndarray], lengths: np.ndarray, starts: np.ndarray, stops: np.ndarray,
                 arrival: np.ndarray, departure: np.ndarray, n_stops: int, n_routes: int) -> None:
    """One-line DataErrors for trips that the kernels could not read, naming the first bad trip."""
    def trip_at(cell: int) -> str:  # the trip of a position in the flat arrays, and the stop's place in it
        t = int(np.searchsorted(starts, cell, side="right")) - 1
        return f"{trip_ids[t]!r} at its stop {cell - starts[t]}"

    if len(lengths) and lengths.min() < 2:
        t = int(np.argmin(lengths))
        raise DataError(f"from_trips: trip_stops: trip {trip_ids[t]!r} has {lengths[t]} stop(s); expected at "
                        "least 2 per trip")
    for field, values in (("trip_arrivals", trip_arrivals), ("trip_departures", trip_departures)):
        differ = np.flatnonzero(np.array([len(v) for v in values], np.int64) != lengths)
        if len(differ):
            raise DataError(f"from_trips: {field}: trip {trip_ids[differ[0]]!r} has {len(values[differ[0]])} "
                            f"times for {lengths[differ[0]]} stops; expected one per stop")
    bad = (trip_routes < 0) | (trip_routes >= n_routes)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise DataError(f"from_trips: trip_routes: trip {trip_ids[t]!r} has route {trip_routes[t]}; expected a "
                        f"route index from 0 to {n_routes - 1}")
    bad = (stops < 0) | (stops >= n_stops) | (stops != np.round(stops))
    if bad.any():
        cell = int(np.flatnonzero(bad)[0])
        raise DataError(f"from_trips: trip_stops: trip {trip_at(cell)} has stop {float(stops[cell]):g}; expected "
                        f"a stop index from 0 to {n_stops - 1}")
    for field, values in (("trip_arrivals", arrival), ("trip_departures", departure)):
        bad = (~np.isfinite(values) | (np.abs(values) > np.iinfo(np.int32).max)
               | (values != np.round(values)))
        if bad.any():
            cell = int(np.flatnonzero(bad)[0])
            raise DataError(f"from_trips: {field}: trip {trip_at(cell)} has {float(values[cell]):g}; expected whole "
                            "seconds that fit in int32")
    inside = np.ones(len(stops), bool)
    inside[starts[:-1]] = False  # a trip's first stop follows another trip's last
    bad = (departure < arrival) | (inside & (arrival < np.r_[0, departure[:-1]]))
    if bad.any():
        cell = int(np.flatnonzero(bad)[0])
        raise DataError(f"from_trips: trip_arrivals/trip_departures: trip {trip_at(cell)} goes back in time; "
                        "expected arrivals and departures that never decrease along a trip")


def _fifo_chains(arr: np.ndarray, dep: np.ndarray) -> list[np.ndarray]:
    """Rows of (trips, stops) times sorted by departure, split into chains in which no trip overtakes the one
    before (each trip joins the first chain whose last trip it does not overtake)."""
    if np.all(np.diff(dep, axis=0) >= 0) and np.all(np.diff(arr, axis=0) >= 0):
        return [np.arange(len(dep))]  # the usual case: nothing overtakes
    chains: list[list[int]] = []
    for j in range(len(dep)):
        for chain in chains:
            if np.all(dep[j] >= dep[chain[-1]]) and np.all(arr[j] >= arr[chain[-1]]):
                chain.append(j)
                break
        else:
            chains.append([j])
    return [np.array(chain) for chain in chains]


def _kept_transfers(transfers: tuple[np.ndarray, np.ndarray, np.ndarray] | None, keep: np.ndarray,
                    new_stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Footpaths (CSR over the given stops) between kept stops, renumbered, one per pair, sorted."""
    n_kept = int(keep.sum())
    if transfers is None:
        return np.zeros(n_kept + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    ptr, to, seconds = (np.asarray(v).reshape(-1) for v in transfers)
    if (len(ptr) != len(keep) + 1 or ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] != len(to)
            or len(seconds) != len(to) or (len(to) and (to.min() < 0 or to.max() >= len(keep)))
            or np.any(seconds < 0)):
        raise DataError(f"from_trips: transfers: not a CSR of footpaths over the {len(keep)} stops; expected (ptr, "
                        "to, seconds) with ptr of n_stops + 1 offsets, stop indices and seconds >= 0")
    origin = np.repeat(np.arange(len(keep)), np.diff(ptr))
    both = keep[origin] & keep[to]
    return _csr(new_stop[origin[both]], new_stop[to[both]], seconds[both], n_kept)


def trips(timetable: Timetable) -> Trips:
    """The timetable's trips one by one (pattern by pattern, each pattern's in FIFO order): the inverse of
    :func:`from_trips`, so that an edit is: take the trips, change them, build again. The arrays are copies."""
    stops, arrivals, departures = [], [], []
    for p in range(timetable.n_patterns):
        arr, dep = timetable.trip_times(p)
        sequence = timetable.pattern_stops[timetable.pattern_stops_ptr[p]:timetable.pattern_stops_ptr[p + 1]]
        stops += list(np.repeat(sequence[None].astype(np.int64), len(arr), axis=0))
        arrivals += list(arr.astype(np.int64))
        departures += list(dep.astype(np.int64))
    routes = np.repeat(timetable.pattern_route, np.diff(timetable.pattern_trips_ptr)).astype(np.int64)
    return Trips(timetable.trip_ids.copy(), routes, stops, arrivals, departures)


def join_trips(parts: Sequence[Trips]) -> Trips:
    """Several sets of trips as one."""
    return Trips(np.concatenate([np.asarray(p.trip_ids, object) for p in parts]),
                 np.concatenate([np.asarray(p.trip_routes, np.int64) for p in parts]),
                 *([x for p in parts for x in getattr(p, field)]
                   for field in ("trip_stops", "trip_arrivals", "trip_departures")))


def _rebuilt(timetable: Timetable, new_trips: Trips, **changes: Any) -> Timetable:
    """``timetable`` with other trips (and the stops, routes or transfers that ``changes`` give), indices kept."""
    parts = {name: getattr(timetable, name) for name in ("stop_ids", "stop_names", "stop_lonlat", "route_ids",
                                                         "route_names", "route_modes", "service_date", "source",
                                                         "licence")}
    parts["transfers"] = (timetable.transfers_ptr, timetable.transfers_to, timetable.transfers_s)
    return from_trips(**{**parts, **changes}, **new_trips._asdict())


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


# ----------------------------------------------------------------------------------------------------------------
# Editing: each function returns a new Timetable (the input is frozen); stop and route indices stay as they were


def route_indices(timetable: Timetable, selectors: Sequence[str], where: str) -> np.ndarray:
    """The routes whose route_id or name (``route_names``) is one of ``selectors`` (exact, case-sensitive), sorted;
    an unknown selector is a one-line DataError naming ``where``."""
    return _select(timetable.route_ids, timetable.route_names, selectors, where, "route")


def stop_indices(timetable: Timetable, selectors: Sequence[str], where: str) -> np.ndarray:
    """The stops whose stop_id or name is one of ``selectors`` (a name may be several stops: all of them), sorted;
    an unknown selector is a one-line DataError naming ``where``."""
    return _select(timetable.stop_ids, timetable.stop_names, selectors, where, "stop")


def _select(ids: np.ndarray, names: np.ndarray, selectors: Sequence[str], where: str, kind: str) -> np.ndarray:
    selectors = [selectors] if isinstance(selectors, str) else list(selectors)
    found = np.zeros(len(ids), bool)
    for selector in selectors:
        match = (ids == selector) | (names == selector)
        if not match.any():
            known = sorted({str(v) for v in names if v}) or sorted(map(str, ids))
            listed = ", ".join(repr(v) for v in known[:10]) + (", ..." if len(known) > 10 else "")
            raise DataError(f"{where}: no {kind} has the id or name {selector!r}; expected one of {listed}")
        found |= match
    return np.flatnonzero(found)


def route_patterns(timetable: Timetable, routes: np.ndarray) -> np.ndarray:
    """The patterns of ``routes`` (route indices)."""
    routes = _indices(routes, len(timetable.route_ids), "route_patterns: routes")
    return np.flatnonzero(np.isin(timetable.pattern_route, routes))


def trips_between(timetable: Timetable, patterns: np.ndarray, start_s: float, end_s: float) -> int:
    """How many trips of ``patterns`` leave their first stop in [start_s, end_s): the service a note speaks of."""
    patterns = _indices(patterns, timetable.n_patterns, "trips_between: patterns")
    first = [timetable.trip_times(int(p))[1][:, 0] for p in patterns]
    return int(sum(np.count_nonzero((d >= start_s) & (d < end_s)) for d in first))


def line_trips(route: int, route_id: str, stops: Sequence[int], run_times_s: Sequence[float],
               headways: Sequence[tuple[float, float, float]], *, dwell_s: float = 20,
               both_directions: bool = True, where: str | None = None) -> Trips:
    """The trips of a line of ``route`` over ``stops`` (indices): one departure from the first stop at each
    ``start_s``, ``start_s + headway_s``, ... before ``end_s`` of every (start_s, end_s, headway_s) period,
    ``run_times_s`` between consecutive stops and ``dwell_s`` at the intermediate ones (departure = arrival +
    dwell); the way back (``both_directions``) runs the same times reversed, leaving the last stop at the same
    times. Times are rounded to whole seconds; trip ids are ``{route_id}:out@HH:MM:SS`` and ``...:back@...``.
    Shared by :func:`add_line` and the synthetic towns, which build every line in one :func:`from_trips`."""
    where = where or f"line {route_id!r}"
    run = np.asarray(run_times_s, np.float64).reshape(-1)
    if len(run) != len(stops) - 1 or not np.all(np.isfinite(run)) or np.any(run < 0):
        raise DataError(f"{where}: run_times_s: {len(run)} values; expected {len(stops) - 1} (one per pair of "
                        "consecutive stops), each >= 0 seconds")
    if not np.isfinite(dwell_s) or dwell_s < 0:
        raise DataError(f"{where}: dwell_s: {dwell_s!r}; expected seconds >= 0")
    starts = np.unique(np.round(_departures(headways, where))).astype(np.int64)
    parts = []
    for direction, sequence, runs in (("out", np.asarray(stops), run), ("back", np.asarray(stops)[::-1], run[::-1])):
        if direction == "back" and not both_directions:
            break
        dwell = np.r_[0.0, np.full(len(runs) - 1, float(dwell_s)), 0.0]
        arrive = np.round(np.r_[0.0, np.cumsum(runs + dwell[:-1])]).astype(np.int64)  # offsets from the start
        leave = np.round(np.r_[0.0, np.cumsum(runs + dwell[:-1])] + dwell).astype(np.int64)
        parts.append(Trips(np.array([f"{route_id}:{direction}@{_fmt(s)}" for s in starts], object),
                           np.full(len(starts), route, np.int64),
                           list(np.repeat(sequence[None].astype(np.int64), len(starts), axis=0)),
                           list(starts[:, None] + arrive), list(starts[:, None] + leave)))
    return join_trips(parts)


def _departures(headways: Sequence[tuple[float, float, float]], where: str) -> np.ndarray:
    """Every period's departures: start, start + headway, ... before end."""
    times = []
    for i, period in enumerate(headways):
        try:
            start, end, headway = (float(v) for v in period)
        except (TypeError, ValueError):
            start = end = headway = np.nan
        if not (np.isfinite([start, end, headway]).all() and 0 <= start < end and headway > 0):
            raise DataError(f"{where}: headways[{i}]: {period!r}; expected (start_s, end_s, headway_s) with "
                            "0 <= start_s < end_s and headway_s > 0")
        times.append(np.arange(start, end, headway))
    if not times:
        raise DataError(f"{where}: headways: none given; expected at least one (start_s, end_s, headway_s)")
    return np.concatenate(times)


def add_line(timetable: Timetable, *, name: str, mode: str, stops: Sequence[int | tuple[float, float, str]],
             headways: Sequence[tuple[float, float, float]], run_times_s: Sequence[float] | None = None,
             speed_km_h: float | None = None, dwell_s: float = 20, both_directions: bool = True) -> Timetable:
    """``timetable`` with a new line: route ``new:{name}`` named ``name``, of ``mode``, over ``stops`` (each an
    existing stop index or a new stop (lon, lat, name), appended with stop_id ``new:{name}:{position}``), at
    ``headways`` as :func:`line_trips` runs them, both directions unless told otherwise.

    Give ``run_times_s`` (one per pair of consecutive stops) or ``speed_km_h``: then each run takes the
    straight-line distance times DETOUR_FACTOR (1.3: streets and tracks are rarely straight; a common ratio of
    network to crow-fly distance in cities) at that speed."""
    where = f"line {name!r}"
    route_id = f"new:{name}"
    if route_id in set(timetable.route_ids):
        raise DataError(f"{where}: name: a line of that name was added already; expected a new name")
    if mode not in MODES:
        raise DataError(f"{where}: mode: {mode!r}; expected one of {', '.join(MODES)}")
    if len(stops) < 2:
        raise DataError(f"{where}: stops: {len(stops)} given; expected at least 2")
    n = timetable.n_stops
    indices, new_ids, new_names, new_lonlat = [], [], [], []
    for i, stop in enumerate(stops):
        if isinstance(stop, (int, np.integer)) and not isinstance(stop, bool):
            if not 0 <= stop < n:
                raise DataError(f"{where}: stops[{i}]: {stop} is not a stop; expected a stop index from 0 to "
                                f"{n - 1} or (lon, lat, name)")
            indices.append(int(stop))
            continue
        try:
            lon, lat, stop_name = stop
            lon, lat = float(lon), float(lat)
        except (TypeError, ValueError):
            lon = lat = np.nan
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise DataError(f"{where}: stops[{i}]: {stop!r}; expected a stop index or (lon, lat, name) in degrees")
        indices.append(n + len(new_ids))
        new_ids.append(f"new:{name}:{i}")
        new_names.append(str(stop_name))
        new_lonlat.append((lon, lat))
    lonlat = np.vstack([timetable.stop_lonlat, np.reshape(new_lonlat, (-1, 2))])
    if (run_times_s is None) == (speed_km_h is None):
        raise DataError(f"{where}: run_times_s and speed_km_h: expected exactly one of them")
    if run_times_s is None:
        if not (np.isfinite(speed_km_h) and speed_km_h > 0):
            raise DataError(f"{where}: speed_km_h: {speed_km_h!r}; expected a speed > 0")
        run_times_s = _distances_m(lonlat[indices]) * DETOUR_FACTOR / (speed_km_h / 3.6)
    new = line_trips(len(timetable.route_ids), route_id, indices, run_times_s, headways, dwell_s=dwell_s,
                     both_directions=both_directions, where=where)
    ptr = np.r_[timetable.transfers_ptr, np.full(len(new_ids), timetable.transfers_ptr[-1])]
    return _rebuilt(
        timetable, join_trips([trips(timetable), new]),
        stop_ids=np.r_[timetable.stop_ids, np.array(new_ids, object)],
        stop_names=np.r_[timetable.stop_names, np.array(new_names, object)], stop_lonlat=lonlat,
        route_ids=np.r_[timetable.route_ids, np.array([route_id], object)],
        route_names=np.r_[timetable.route_names, np.array([name], object)],
        route_modes=np.r_[timetable.route_modes, np.array([mode], object)],
        transfers=(ptr, timetable.transfers_to, timetable.transfers_s))


def _distances_m(lonlat: np.ndarray) -> np.ndarray:
    """Great-circle distances between consecutive (lon, lat) points."""
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    h = (np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def change_service(timetable: Timetable, routes: np.ndarray, *, headway_factor: float | None = None,
                   headway_s: float | None = None, remove: bool = False) -> Timetable:
    """``timetable`` with the service of ``routes`` (route indices) changed by exactly one option.

    - ``remove``: every trip of the routes is dropped;
    - ``headway_factor`` f: per stop sequence of a route, departures walk through the day from the first one:
      next = current + f x the local headway (the gap between the original departures around the current one),
      until the original last departure (end of service). A regular timetable with f = 2 keeps every other trip;
      f = 0.5 doubles them;
    - ``headway_s``: departures every headway_s from the original first departure to the original last.

    A new trip copies the run and dwell times of the original trip nearest in departure (its id plus ``~k``), so
    a service keeps its running times; trips that now overtake form patterns of their own.
    """
    if sum((headway_factor is not None, headway_s is not None, bool(remove))) != 1:
        raise DataError("change_service: headway_factor, headway_s and remove: expected exactly one of them")
    for option, value in (("headway_factor", headway_factor), ("headway_s", headway_s)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise DataError(f"change_service: {option}: {value!r}; expected a number > 0")
    routes = _indices(routes, len(timetable.route_ids), "change_service: routes")
    every = trips(timetable)
    chosen = np.isin(every.trip_routes, routes)
    kept = _subset(every, ~chosen)
    if remove or not chosen.any():
        return _rebuilt(timetable, kept)
    groups: dict[tuple[int, bytes], list[int]] = {}
    for t in np.flatnonzero(chosen):
        groups.setdefault((int(every.trip_routes[t]), every.trip_stops[t].tobytes()), []).append(t)
    parts = [kept]
    for members in groups.values():
        members = np.array(members)
        first = np.array([every.trip_departures[t][0] for t in members])
        order = np.argsort(first, kind="stable")
        members, first = members[order], first[order]
        if headway_s is not None:
            new = np.arange(first[0], first[-1] + 1, headway_s)
        else:
            new = _scaled_departures(first, headway_factor)
        new = np.round(new).astype(np.int64)
        right = np.clip(np.searchsorted(first, new), 1, len(first) - 1) if len(first) > 1 else np.zeros_like(new)
        left = np.maximum(right - 1, 0)
        nearest = np.where(np.abs(first[right] - new) < np.abs(new - first[left]), right, left)
        originals, shifts = members[nearest], new - first[nearest]
        copies: dict[int, int] = {}
        ids = []
        for t in originals:
            copies[t] = copies.get(t, -1) + 1
            ids.append(f"{every.trip_ids[t]}~{copies[t]}")
        parts.append(Trips(np.array(ids, object), every.trip_routes[originals],
                           [every.trip_stops[t] for t in originals],
                           [every.trip_arrivals[t] + d for t, d in zip(originals, shifts, strict=True)],
                           [every.trip_departures[t] + d for t, d in zip(originals, shifts, strict=True)]))
    return _rebuilt(timetable, join_trips(parts))


def _scaled_departures(first: np.ndarray, factor: float) -> np.ndarray:
    """From the first of ``first`` (sorted departures), each next = current + factor x the gap between the
    departures around current, while not past the last (at least a second apart)."""
    out = [float(first[0])]
    while (j := int(np.searchsorted(first, out[-1], side="right"))) < len(first):
        step = max(factor * float(first[j] - first[j - 1]), 1.0)
        if out[-1] + step > first[-1]:
            break
        out.append(out[-1] + step)
    return np.array(out)


def close_stops(timetable: Timetable, stops: np.ndarray) -> Timetable:
    """``timetable`` with trips no longer stopping at ``stops`` (indices or a boolean mask over the stops): each
    trip's sequence skips them (trips left with fewer than two stops are dropped) and their footpaths go; the stops
    stay in the stop arrays, served by no pattern, so that indices hold."""
    stops = np.asarray(stops)
    if stops.dtype == bool:
        if stops.shape != (timetable.n_stops,):
            raise DataError(f"close_stops: stops: a mask of {stops.size} values; expected one per stop "
                            f"({timetable.n_stops})")
        closed = stops
    else:
        closed = np.zeros(timetable.n_stops, bool)
        closed[_indices(stops, timetable.n_stops, "close_stops: stops")] = True
    if not closed.any():
        return timetable
    every = trips(timetable)
    stopping = [~closed[s] for s in every.trip_stops]
    skipped = Trips(every.trip_ids, every.trip_routes,
                    *([x[k] for x, k in zip(getattr(every, field), stopping, strict=True)]
                      for field in ("trip_stops", "trip_arrivals", "trip_departures")))
    origin = np.repeat(np.arange(timetable.n_stops), np.diff(timetable.transfers_ptr))
    walk = ~closed[origin] & ~closed[timetable.transfers_to]
    ptr = np.r_[0, np.cumsum(np.bincount(origin[walk], minlength=timetable.n_stops))]
    return _rebuilt(timetable, _subset(skipped, np.array([k.sum() >= 2 for k in stopping], bool)),
                    transfers=(ptr, timetable.transfers_to[walk], timetable.transfers_s[walk]))


def _subset(every: Trips, mask: np.ndarray) -> Trips:
    """The trips where ``mask`` is True."""
    return Trips(every.trip_ids[mask], every.trip_routes[mask],
                 *([x for x, ok in zip(getattr(every, field), mask, strict=True) if ok]
                   for field in ("trip_stops", "trip_arrivals", "trip_departures")))


def _indices(values: np.ndarray, n: int, where: str) -> np.ndarray:
    """Integer indices from 0 to n - 1, or a one-line DataError naming the first that is not one."""
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind not in "iu" and len(values):
        raise DataError(f"{where}: {values.dtype} values; expected integer indices from 0 to {n - 1}")
    bad = (values < 0) | (values >= n)
    if bad.any():
        raise DataError(f"{where}: {values[bad][0]} is out of range; expected indices from 0 to {n - 1}")
    return values.astype(np.int64)


def legs(timetable: Timetable, *, modes: Collection[str] | None = None) -> np.ndarray:
    """Every pair of consecutive stops some trip (of a route of ``modes``, default any) rides between, once: an
    (n, 2) array of stop indices."""
    pairs = [np.column_stack([seq[:-1], seq[1:]]) for p, seq in
             enumerate(np.split(timetable.pattern_stops, timetable.pattern_stops_ptr[1:-1]))
             if modes is None or timetable.route_modes[timetable.pattern_route[p]] in modes]
    return np.unique(np.concatenate(pairs), axis=0).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)


def cut_legs(timetable: Timetable, cut: np.ndarray) -> Timetable:
    """``timetable`` with trips broken where they would ride between two consecutive stops of ``cut`` (an (n, 2)
    array of stop pairs, e.g. across a flooded road): each trip runs in pieces up to the cut and on from it,
    pieces of fewer than two stops dropped. Pieces after the first are ``<trip_id>~<k>``."""
    blocked = {(int(a), int(b)) for a, b in np.asarray(cut, np.int64).reshape(-1, 2)}
    if not blocked:
        return timetable
    every = trips(timetable)
    kept: list[list] = [[], [], [], [], []]
    for trip, route, stops, arr, dep in zip(*every, strict=True):
        breaks = [k + 1 for k in range(len(stops) - 1) if (int(stops[k]), int(stops[k + 1])) in blocked]
        for piece, (start, end) in enumerate(zip([0, *breaks], [*breaks, len(stops)])):
            if end - start >= 2:
                for column, value in zip(kept, (trip if piece == 0 else f"{trip}~{piece}", route,
                                                stops[start:end], arr[start:end], dep[start:end])):
                    column.append(value)
    return _rebuilt(timetable, Trips(np.array(kept[0], object), np.array(kept[1], np.int64), *kept[2:]))
