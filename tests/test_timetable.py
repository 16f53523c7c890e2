"""GTFS -> Timetable arrays (timetable.py): a tiny hand-made feed asserted exactly, one-line validation errors,
and the HSL subset in ../shared/data when present."""

from __future__ import annotations

import datetime
import time
import zipfile

import numpy as np
import pytest

from sandbox._errors import DataError
from sandbox.timetable import read_gtfs, route_mode, straight_line_transfers

# Two lines meeting at C (a tram A-B-C and a bus C-D-E), a ferry A-C run by frequencies, a tram after midnight,
# and a Saturday service (SAT) that does not run on Tuesday 2024-03-05.
FEED = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nX,Example,https://example.org,Europe/Helsinki\n",
    "feed_info.txt": "feed_publisher_name,feed_publisher_url,feed_lang,feed_version\nExample,https://example.org,fi,v1\n",
    "stops.txt": ("stop_id,stop_name,stop_lat,stop_lon\n"
                  "A,Alpha,60.10,24.90\nB,Beta,60.10,24.91\nC,Gamma,60.10,24.92\nD,Delta,60.11,24.92\n"
                  "E,Epsilon,60.12,24.92\nZ,Zeta,60.20,24.95\n"),
    "routes.txt": ("route_id,route_short_name,route_long_name,route_type\n"
                   "R1,1,Tram one,0\nR2,,Bus two,3\nR3,F,Ferry,4\n"),
    "calendar.txt": ("service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                     "WK,1,1,1,1,1,0,0,20240101,20241231\nSAT,0,0,0,0,0,1,0,20240101,20241231\n"),
    "trips.txt": ("route_id,service_id,trip_id\n"
                  "R1,WK,t1a\nR1,WK,t1b\nR1,WK,t1late\nR1,SAT,t1sat\nR2,WK,t2a\nR2,WK,t2b\nR3,WK,f1\n"),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "t1a,07:00:00,07:00:00,A,1\nt1a,07:05:00,07:05:30,B,2\nt1a,07:10:00,07:10:00,C,3\n"
        "t1b,06:30:00,06:30:00,A,1\nt1b,,,B,2\nt1b,06:40:00,06:40:00,C,3\n"           # B interpolated: 06:35
        "t1late,25:10:00,25:10:00,A,1\nt1late,25:15:00,25:15:00,B,2\nt1late,25:20:00,25:20:00,C,3\n"
        "t1sat,08:00:00,08:00:00,Z,1\nt1sat,08:05:00,08:05:00,B,2\n"
        "t2a,07:15:00,07:15:00,C,1\nt2a,07:20:00,07:20:00,D,2\nt2a,07:25:00,07:25:00,E,3\n"
        "t2b,07:10:00,07:10:00,C,1\nt2b,07:22:00,07:22:00,D,2\nt2b,07:30:00,07:30:00,E,3\n"  # t2a overtakes it
        "f1,00:00:00,00:00:00,A,1\nf1,00:08:00,00:09:00,C,2\n"),
    "frequencies.txt": ("trip_id,start_time,end_time,headway_secs,exact_times\n"
                        "f1,08:00:00,09:00:00,1200,1\nf1,09:00:00,09:30:00,900,0\n"),
    "transfers.txt": ("from_stop_id,to_stop_id,transfer_type,min_transfer_time\n"
                      "B,D,2,300\nC,C,1,60\nA,E,3,\n"),
}
DATE = datetime.date(2024, 3, 5)  # a Tuesday


def write_feed(tmp_path, changes=None, name="feed.zip"):
    files = {**FEED, **(changes or {})}
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in files.items():
            if text is not None:
                archive.writestr(file, text)
    return path


def hms(text):
    h, m, s = map(int, text.split(":"))
    return h * 3600 + m * 60 + s


def test_tiny_feed_exactly(tmp_path):
    tt = read_gtfs(write_feed(tmp_path), date="2024-03-05", licence="CC0")
    assert tt.service_date == DATE and tt.licence == "CC0"
    assert tt.source == "feed.zip (Example, version v1)"
    assert tt.stop_ids.tolist() == ["A", "B", "C", "D", "E"]  # Z only served on Saturdays
    assert tt.stop_names.tolist() == ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    assert tt.stop_lonlat.dtype == np.float64 and tt.stop_lonlat[3].tolist() == [24.92, 60.11]
    assert tt.route_ids.tolist() == ["R1", "R2", "R3"]
    assert tt.route_names.tolist() == ["1", "Bus two", "F"]
    assert tt.route_modes.tolist() == ["tram", "bus", "ferry"]
    # Patterns: the tram; the bus split in two because t2a overtakes t2b; the ferry.
    assert tt.pattern_route.tolist() == [0, 1, 1, 2] and tt.pattern_route.dtype == np.int32
    assert tt.pattern_stops_ptr.tolist() == [0, 3, 6, 9, 11] and tt.pattern_stops_ptr.dtype == np.int64
    assert tt.pattern_stops.tolist() == [0, 1, 2, 2, 3, 4, 2, 3, 4, 0, 2] and tt.pattern_stops.dtype == np.int32
    assert tt.pattern_trips_ptr.tolist() == [0, 3, 4, 5, 10]
    assert tt.trip_ids.tolist() == ["t1b", "t1a", "t1late", "t2b", "t2a",  # sorted by departure; t1sat excluded
                                    "f1@08:00:00", "f1@08:20:00", "f1@08:40:00", "f1@09:00:00", "f1@09:15:00"]
    assert tt.times_ptr.tolist() == [0, 9, 12, 15, 25]
    assert tt.arrival_s.dtype == np.int32 and tt.departure_s.dtype == np.int32
    arr, dep = tt.trip_times(0)
    assert arr.tolist() == [[hms(t) for t in row] for row in
                            (["06:30:00", "06:35:00", "06:40:00"], ["07:00:00", "07:05:00", "07:10:00"],
                             ["25:10:00", "25:15:00", "25:20:00"])]
    assert dep[1].tolist() == [hms("07:00:00"), hms("07:05:30"), hms("07:10:00")]
    assert dep[2, 0] == 25 * 3600 + 600 > 86_400  # after midnight, kept past 24:00
    arr, dep = tt.trip_times(3)  # the ferry: 08:00, 08:20, 08:40 (exact_times 1), then 09:00, 09:15 (0)
    starts = [hms(t) for t in ("08:00:00", "08:20:00", "08:40:00", "09:00:00", "09:15:00")]
    assert dep[:, 0].tolist() == starts
    assert arr[:, 1].tolist() == [s + 480 for s in starts] and dep[:, 1].tolist() == [s + 540 for s in starts]
    # Each stop's patterns and positions: C is in all four.
    assert tt.stop_patterns_ptr.tolist() == [0, 2, 3, 7, 9, 11]
    assert tt.stop_patterns.tolist() == [0, 3, 0, 0, 1, 2, 3, 1, 2, 1, 2]
    assert tt.stop_positions.tolist() == [0, 0, 1, 2, 0, 0, 1, 1, 1, 2, 2]
    for s in range(tt.n_stops):
        for k in range(tt.stop_patterns_ptr[s], tt.stop_patterns_ptr[s + 1]):
            p, i = tt.stop_patterns[k], tt.stop_positions[k]
            assert tt.pattern_stops[tt.pattern_stops_ptr[p] + i] == s
    # transfers.txt: B -> D in 300 s; C -> C (same stop) and A -> E (type 3, not possible) are not footpaths.
    assert tt.transfers_ptr.tolist() == [0, 0, 1, 1, 1, 1]
    assert tt.transfers_to.tolist() == [3] and tt.transfers_s.tolist() == [300]


def test_the_kernels_accept_it(tmp_path):
    raptor = pytest.importorskip("sandbox.raptor")
    raptor.check(raptor.transit_arrays(read_gtfs(write_feed(tmp_path), date=DATE)))


def test_default_date_is_the_busiest(tmp_path):
    tt = read_gtfs(write_feed(tmp_path))
    assert tt.service_date == datetime.date(2024, 1, 1)  # the first weekday (6 trips in trips.txt, SAT has 1)
    assert "not stated" in tt.licence


def test_bbox_clips_stops_and_sequences(tmp_path):
    tt = read_gtfs(write_feed(tmp_path), date=DATE, bbox=(24.905, 60.0, 25.0, 60.15))  # all but A
    assert tt.stop_ids.tolist() == ["B", "C", "D", "E"]
    assert tt.pattern_stops.tolist() == [0, 1, 1, 2, 3, 1, 2, 3]  # the tram B-C; the ferry A-C is gone
    assert tt.route_ids.tolist() == ["R1", "R2"] and tt.pattern_route.tolist() == [0, 1, 1]
    arr, _dep = tt.trip_times(0)
    assert arr.tolist() == [[hms("06:35:00"), hms("06:40:00")], [hms("07:05:00"), hms("07:10:00")],
                            [hms("25:15:00"), hms("25:20:00")]]
    assert tt.transfers_to.tolist() == [2] and tt.transfers_ptr.tolist() == [0, 1, 1, 1, 1]


def test_straight_line_transfers(tmp_path):
    tt = straight_line_transfers(read_gtfs(write_feed(tmp_path), date=DATE), max_m=600, speed_m_s=1.2)
    # A-B, B-C are ~555 m apart (0.01 degree of longitude at 60.1 N), C-D ~1.1 km: only A-B, B-C both ways,
    # plus the feed's B -> D.
    pairs = {(int(s), int(t)): int(v) for s in range(tt.n_stops)
             for t, v in zip(tt.transfers_to[tt.transfers_ptr[s]:tt.transfers_ptr[s + 1]],
                             tt.transfers_s[tt.transfers_ptr[s]:tt.transfers_ptr[s + 1]], strict=True)}
    assert set(pairs) == {(0, 1), (1, 0), (1, 2), (2, 1), (1, 3)}
    assert pairs[(1, 3)] == 300 and 455 < pairs[(0, 1)] < 470 and pairs[(0, 1)] == pairs[(1, 0)]
    assert tt.transfers_s.dtype == np.int32 and np.all(np.diff(tt.transfers_ptr) >= 0)


def test_route_modes():
    assert [route_mode(t) for t in (0, 1, 2, 3, 4, 109, 701, 900, 1000, 1300)] == \
        ["tram", "metro", "rail", "bus", "ferry", "rail", "bus", "tram", "ferry", "other"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"stop_times.txt": None}, "feed.zip: stop_times.txt is missing; expected a GTFS feed with"),
    ({"calendar.txt": None}, "feed.zip: calendar.txt and calendar_dates.txt are both missing; expected"),
    ({"stop_times.txt": FEED["stop_times.txt"].replace("t2a,07:20:00,07:20:00", "t2a,07:12:00,07:12:00")},
     ("feed.zip: stop_times.txt: trip 't2a' arrives at stop_sequence 2 (07:12:00) before it departs stop_sequence 1 "
     "(07:15:00); expected times that never decrease along a trip")),
    ({"stop_times.txt": FEED["stop_times.txt"].replace("07:05:00,07:05:30", "07:05:30,07:05:00")},
     ("feed.zip: stop_times.txt: trip 't1a' stop_sequence 2 departs (07:05:00) before it arrives (07:05:30); "
     "expected times that never decrease along a trip")),
    ({"stop_times.txt": FEED["stop_times.txt"].replace("t2a,07:20:00,07:20:00,D", "t2a,07:20:00,07:20:00,Q")},
     "feed.zip: stop_times.txt: stop_id 'Q' is not in stops.txt; expected ids that stops.txt lists"),
    ({"stop_times.txt": FEED["stop_times.txt"].replace("07:25:00,07:25:00", "7:25,07:25:00")},
     "feed.zip: stop_times.txt: trip 't2a' stop_sequence 3 has arrival_time '7:25'; expected HH:MM:SS"),
    ({"stop_times.txt": FEED["stop_times.txt"].replace("t1b,06:40:00,06:40:00", "t1b,,")},
     "feed.zip: stop_times.txt: trip 't1b' has no time at its last stop (stop_sequence 3); expected"),
    ({"trips.txt": FEED["trips.txt"] + "R9,WK,t9\n"},
     "feed.zip: trips.txt: route_id 'R9' is not in routes.txt; expected ids that routes.txt lists"),
    ({"frequencies.txt": FEED["frequencies.txt"].replace("09:30:00", "9h30")},
     "feed.zip: frequencies.txt: trip 'f1' has end_time '9h30'; expected HH:MM:SS (hours may pass 24)"),
    ({"frequencies.txt": FEED["frequencies.txt"].replace("1200", "0")},
     "feed.zip: frequencies.txt: trip_id 'f1' has headway_secs '0'; expected an integer from 1 to"),
    ({"stops.txt": FEED["stops.txt"].replace("60.11,24.92", "north,24.92")},
     "feed.zip: stops.txt: stop_id 'D' has stop_lat 'north'; expected a number from -90 to 90"),
])
def test_feed_errors_are_one_line(tmp_path, changes, message):
    with pytest.raises(DataError) as error:
        read_gtfs(write_feed(tmp_path, changes), date=DATE)
    text = str(error.value)
    assert "\n" not in text and text.startswith(message), text


def test_date_errors(tmp_path):
    with pytest.raises(DataError, match=r"^feed.zip: no service runs on 2025-01-01; expected a date from "
                                        r"2024-01-01 to 2024-12-31"):
        read_gtfs(write_feed(tmp_path), date="2025-01-01")
    with pytest.raises(ValueError, match="expected a date"):
        read_gtfs(write_feed(tmp_path), date="tuesday")
    with pytest.raises(DataError, match="no such file"):
        read_gtfs(tmp_path / "absent.zip")


def test_hsl_central_helsinki(shared_data):
    path = shared_data / "gtfs" / "hsl_gtfs_20220204.zip"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    start = time.perf_counter()
    tt = read_gtfs(path, date="2022-02-22", bbox=(24.92, 60.16, 24.96, 60.18), licence="CC BY 4.0")
    seconds = time.perf_counter() - start
    first_departure = np.concatenate([tt.trip_times(p)[1][:, 0] for p in range(tt.n_patterns)])
    morning = int(((first_departure >= 7 * 3600) & (first_departure < 9 * 3600)).sum())
    print(f"\nHSL central Helsinki {tt.service_date}: {tt.n_stops} stops, {tt.n_patterns} patterns, "
          f"{tt.n_trips} trips ({morning} leaving their first stop in the box 07:00-09:00), "
          f"modes {sorted(set(tt.route_modes))}, read in {seconds:.2f} s")
    assert tt.service_date == datetime.date(2022, 2, 22)
    assert 150 <= tt.n_stops <= 300 and 150 <= tt.n_patterns <= 600 and 3_000 <= tt.n_trips <= 20_000
    assert 500 <= morning <= 3_000
    assert {"tram", "bus", "metro"} <= set(tt.route_modes)
    lon, lat = tt.stop_lonlat.T
    assert lon.min() >= 24.92 and lon.max() <= 24.96 and lat.min() >= 60.16 and lat.max() <= 60.18
    assert tt.departure_s.max() > 86_400  # night trips past midnight are kept
    assert seconds < 30
    raptor = pytest.importorskip("sandbox.raptor")
    raptor.check(raptor.transit_arrays(tt))
