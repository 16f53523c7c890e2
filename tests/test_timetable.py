"""GTFS -> Timetable arrays (timetable.py): a tiny hand-made feed asserted exactly, one-line validation errors,
and the HSL subset in ../shared/data when present; building from trips and editing, judged by RAPTOR's answers."""

from __future__ import annotations

import dataclasses
import datetime
import time
import zipfile

import numpy as np
import pytest

from sandbox import raptor
from sandbox._errors import DataError
from sandbox.timetable import (
    add_line,
    change_service,
    close_stops,
    from_trips,
    read_gtfs,
    route_indices,
    route_mode,
    route_patterns,
    stop_indices,
    straight_line_transfers,
    trips,
    trips_between,
)

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


# ---------------------------------------------------------------------------------------------------------------
# Building from trips and editing (from_trips, trips, add_line, change_service, close_stops, ...).

# A bus 1 A-B-C every 10 min 06:00-09:50 (5 min a run, 30 s at B) and a tram 2 C-D-E every 15 min 06:00-09:45
# (4 min a run); a footpath B -> D of 2 min; F (also named Gamma) is served by nothing.
STOPS = {"stop_ids": ["A", "B", "C", "D", "E", "F"],
         "stop_names": ["Alpha", "Beta", "Gamma", "Delta", "Echo", "Gamma"],
         "stop_lonlat": [(24.90, 60.10), (24.91, 60.10), (24.92, 60.10), (24.92, 60.11), (24.92, 60.12),
                         (24.95, 60.10)]}
ROUTES = {"route_ids": ["R1", "R2"], "route_names": ["1", "2"], "route_modes": ["bus", "tram"]}
META = {"service_date": DATE, "source": "test", "licence": "CC0"}
H = 3600


def town_trips(extra=()):
    ids, routes, stops, arr, dep = [], [], [], [], []
    for k in range(24):
        t = 6 * H + 600 * k
        ids.append(f"b{k}"), routes.append(0), stops.append([0, 1, 2])
        arr.append([t, t + 300, t + 630]), dep.append([t, t + 330, t + 630])
    for k in range(16):
        t = 6 * H + 900 * k
        ids.append(f"t{k}"), routes.append(1), stops.append([2, 3, 4])
        arr.append([t, t + 240, t + 480]), dep.append([t, t + 240, t + 480])
    for trip_id, route, trip_stops, times in extra:
        ids.append(trip_id), routes.append(route), stops.append(trip_stops), arr.append(times), dep.append(times)
    return {"trip_ids": ids, "trip_routes": routes, "trip_stops": stops, "trip_arrivals": arr,
            "trip_departures": dep}


def town(extra=(), **changes):
    walks = (np.array([0, 0, 1, 1, 1, 1, 1]), np.array([3]), np.array([120]))
    return checked(from_trips(**{**STOPS, **ROUTES, **META, **town_trips(extra), "transfers": walks, **changes}))


def checked(tt):
    raptor.check(raptor.transit_arrays(tt))
    return tt


def earliest(tt, stop=0, at=7 * H):
    return raptor.earliest_arrival(tt, [stop], [at])[0]


def first_departures(tt, route):
    return np.sort(np.concatenate([tt.trip_times(p)[1][:, 0] for p in route_patterns(tt, np.array([route]))]))


def assert_same(a, b):
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), field.name
        else:
            assert x == y, field.name


def test_from_trips_groups_patterns_and_splits_overtaking():
    tt = town()
    assert tt.stop_ids.tolist() == STOPS["stop_ids"]  # F kept although nothing serves it: indices stay put
    assert tt.pattern_route.tolist() == [0, 1] and tt.n_trips == 40
    assert tt.stop_patterns_ptr[-2] == tt.stop_patterns_ptr[-1]  # F is in no pattern
    assert earliest(tt)[[1, 2, 3, 4]].tolist() == [7 * H + 300, 7 * H + 630, 7 * H + 420, 7 * H + 900 + 480]

    # An express leaving A at 07:01 reaches B at 07:03, before the 07:00 bus: a pattern of its own.
    express = town([("x", 0, [0, 1, 2], [7 * H + 60, 7 * H + 180, 7 * H + 300])])
    assert express.pattern_route.tolist() == [0, 0, 1]
    assert express.trip_ids[express.pattern_trips_ptr[1]:express.pattern_trips_ptr[2]].tolist() == ["x"]
    assert earliest(express)[2] == 7 * H + 300

    served = from_trips(**{**STOPS, **ROUTES, **META, **town_trips()}, transfers=(
        np.array([0, 0, 1, 1, 1, 2, 2]), np.array([3, 5]), np.array([120, 60])), keep_unused_stops=False)
    assert served.stop_ids.tolist() == ["A", "B", "C", "D", "E"]  # F dropped, and the footpath E -> F with it
    assert served.transfers_to.tolist() == [3] and served.transfers_ptr.tolist() == [0, 0, 1, 1, 1, 1]


def test_trips_then_from_trips_is_the_same_timetable(tmp_path):
    for tt in (town([("x", 0, [0, 1, 2], [7 * H + 60, 7 * H + 180, 7 * H + 300])]),
               read_gtfs(write_feed(tmp_path), date=DATE)):
        every = trips(tt)
        assert len(every.trip_ids) == tt.n_trips and every.trip_stops[0].dtype == np.int64
        again = from_trips(**every._asdict(), stop_ids=tt.stop_ids, stop_names=tt.stop_names,
                           stop_lonlat=tt.stop_lonlat, route_ids=tt.route_ids, route_names=tt.route_names,
                           route_modes=tt.route_modes, service_date=tt.service_date, source=tt.source,
                           licence=tt.licence, transfers=(tt.transfers_ptr, tt.transfers_to, tt.transfers_s))
        assert_same(tt, again)
        every.trip_arrivals[0][:] = 0  # copies: the timetable is untouched
        assert tt.arrival_s[0] != 0 or tt.departure_s[0] == 0


def test_selectors_by_id_or_name():
    tt = town()
    assert route_indices(tt, ["R2"], "here").tolist() == [1]
    assert route_indices(tt, ["1", "R2"], "here").tolist() == [0, 1]
    assert stop_indices(tt, ["Gamma"], "here").tolist() == [2, 5]  # a name may be several stops
    assert stop_indices(tt, ["A", "Delta"], "here").tolist() == [0, 3]
    with pytest.raises(DataError) as error:
        route_indices(tt, ["r1"], "scenario.yaml line 4: routes")  # case-sensitive
    assert str(error.value) == ("scenario.yaml line 4: routes: no route has the id or name 'r1'; expected one of "
                                "'1', '2'")
    with pytest.raises(DataError, match=r"^stops: no stop has the id or name 'Omega'; expected one of 'Alpha', "):
        stop_indices(tt, ["Omega"], "stops")


def test_add_line_reaches_a_stop_nothing_served():
    tt = town()
    assert np.isinf(earliest(tt)[5])
    new = add_line(tt, name="X", mode="tram", stops=[2, 5, (24.96, 60.10, "Golf")],
                   headways=[(6 * H, 8 * H, 600), (8 * H, 10 * H, 1200)], run_times_s=[200, 100])
    checked(new)
    assert tt.n_stops == 6 and len(tt.route_ids) == 2  # the input is unchanged
    assert new.stop_ids[6] == "new:X:2" and new.stop_names[6] == "Golf" and new.stop_lonlat[6].tolist() == [24.96, 60.1]
    assert new.route_ids[2] == "new:X" and new.route_names[2] == "X" and new.route_modes[2] == "tram"
    # From A at 07:00: C at 07:10:30, the 07:20 X, F at 07:23:20, then 20 s at F and 100 s on to Golf.
    reached = earliest(new)
    assert reached[5] == 7 * H + 1200 + 200 and reached[6] == 7 * H + 1200 + 200 + 20 + 100
    assert earliest(new, stop=6)[2] == 7 * H + 100 + 20 + 200  # the way back leaves Golf at 07:00, runs reversed
    patterns = route_patterns(new, np.array([2]))
    assert len(patterns) == 2  # one per direction
    assert trips_between(new, patterns, 7 * H, 9 * H) == 2 * (6 + 3)  # every 10 min to 08:00, then every 20
    assert first_departures(new, 2)[:4].tolist() == [6 * H, 6 * H, 6 * H + 600, 6 * H + 600]

    one_way = add_line(tt, name="Y", mode="bus", stops=[0, 5], headways=[(7 * H, 8 * H, 900)], speed_km_h=18,
                       both_directions=False)
    arr, dep = one_way.trip_times(int(route_patterns(one_way, np.array([2]))[0]))
    metres = 2 * 6_371_008.8 * np.arcsin(np.cos(np.radians(60.1)) * np.sin(np.radians(0.05) / 2))
    assert arr.shape == (4, 2) and (arr[:, 1] - dep[:, 0]).tolist() == [round(metres * 1.3 / 5)] * 4


def test_headway_factor_two_keeps_every_other_trip():
    tt = town()
    halved = checked(change_service(tt, np.array([0]), headway_factor=2))
    old, new = tt.trip_times(0), halved.trip_times(0)
    assert np.array_equal(new[0], old[0][::2]) and np.array_equal(new[1], old[1][::2])
    assert halved.trip_ids[:3].tolist() == ["b0~0", "b2~0", "b4~0"]
    assert np.array_equal(halved.trip_times(1)[0], tt.trip_times(1)[0])  # the tram is untouched

    doubled = checked(change_service(tt, np.array([0]), headway_factor=0.5))
    assert first_departures(doubled, 0).tolist() == list(range(6 * H, 6 * H + 23 * 600 + 1, 300))
    assert doubled.trip_ids[:3].tolist() == ["b0~0", "b0~1", "b1~0"]  # 06:05 copies the 06:00 (the nearer, first)
    regular = checked(change_service(tt, np.array([0, 1]), headway_s=1800))
    assert first_departures(regular, 0).tolist() == list(range(6 * H, 10 * H, 1800))
    assert first_departures(regular, 1).tolist() == list(range(6 * H, 10 * H, 1800))


def test_headway_factor_follows_the_local_headway():
    # Trips at 0, 10, 20, 40 and 60 min past six; the one at 20 runs 2 min slower.
    times = [0, 10, 20, 40, 60]
    extra = [(f"i{m}", 1, [0, 5], [6 * H + 60 * m, 6 * H + 60 * m + (420 if m == 20 else 300)]) for m in times]
    tt = town(extra)
    new = checked(change_service(tt, np.array([1]), headway_factor=2))
    pattern = int(route_patterns(new, np.array([1]))[0])  # to F: the irregular one
    arr, dep = new.trip_times(pattern)
    # 0, then 0 + 2 x 10 = 20, then 20 + 2 x 20 = 60 (the last departure: end of service).
    assert dep[:, 0].tolist() == [6 * H, 6 * H + 1200, 7 * H] and (arr[:, 1] - dep[:, 0]).tolist() == [300, 420, 300]
    assert new.trip_ids[new.pattern_trips_ptr[pattern]:new.pattern_trips_ptr[pattern + 1]].tolist() == \
        ["i0~0", "i20~0", "i60~0"]


def test_doubling_the_headway_adds_half_a_headway_to_the_median_wait():
    tt = town()
    window = {"window_start_s": 7 * H, "window_end_s": 8 * H, "step_s": 60}
    departures = raptor.departure_times(7 * H, 8 * H, 60)

    def median_to_b(timetable):
        arrivals = raptor.range_arrivals(timetable, [0], [0], **window)
        return raptor.travel_time_percentile(arrivals, departures, 0.5)[1]

    before, after = median_to_b(tt), median_to_b(change_service(tt, np.array([0]), headway_factor=2))
    assert 300 <= before <= 300 + 600 and after - before == pytest.approx(300, abs=60)  # headway 10 -> 20 min


def test_remove_and_close_stops():
    tt = town()
    no_tram = checked(change_service(tt, route_indices(tt, ["2"], "test"), remove=True))
    assert no_tram.pattern_route.tolist() == [0] and len(no_tram.route_ids) == 2
    reached = earliest(no_tram)
    assert np.isinf(reached[4]) and reached[3] == 7 * H + 300 + 120  # E is lost; D still a walk from B

    closed = checked(close_stops(tt, np.array([1])))
    assert closed.n_stops == 6 and closed.stop_ids.tolist() == STOPS["stop_ids"]
    assert closed.pattern_stops.tolist() == [0, 2, 2, 3, 4] and len(closed.transfers_to) == 0
    reached = earliest(closed)
    assert np.isinf(reached[1]) and reached[2] == 7 * H + 630  # the bus passes B without stopping
    assert reached[3] == 7 * H + 900 + 240  # no more walk from B: the 07:15 tram from C

    mask = np.zeros(6, bool)
    mask[[2, 3]] = True
    cut = checked(close_stops(tt, mask))  # the tram is left with one stop: its trips go
    assert cut.pattern_route.tolist() == [0] and cut.pattern_stops.tolist() == [0, 1] and cut.n_trips == 24
    assert close_stops(tt, np.zeros(0, np.int64)) is tt


def test_trips_between_counts_departures_from_the_first_stop():
    tt = town()
    assert trips_between(tt, route_patterns(tt, np.array([0])), 7 * H, 9 * H) == 12
    assert trips_between(tt, route_patterns(tt, np.array([0, 1])), 7 * H, 9 * H) == 12 + 8
    assert trips_between(tt, np.zeros(0, np.int64), 0, 30 * H) == 0


@pytest.mark.parametrize(("edit", "message"), [
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, 5], headways=[(0, 60, 10)], run_times_s=[60],
                         speed_km_h=20), "line 'X': run_times_s and speed_km_h: expected exactly one of them"),
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, 5], headways=[(0, 60, 10)]),
     "line 'X': run_times_s and speed_km_h: expected exactly one of them"),
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, 5, 4], headways=[(0, 60, 10)], run_times_s=[60]),
     "line 'X': run_times_s: 1 values; expected 2 (one per pair of consecutive stops)"),
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, 5], headways=[(60, 0, 10)], run_times_s=[60]),
     "line 'X': headways[0]: (60, 0, 10); expected (start_s, end_s, headway_s) with 0 <= start_s < end_s"),
    (lambda tt: add_line(tt, name="X", mode="gondola", stops=[0, 5], headways=[(0, 60, 10)], run_times_s=[60]),
     "line 'X': mode: 'gondola'; expected one of tram, metro, rail, bus, ferry, other"),
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, 9], headways=[(0, 60, 10)], run_times_s=[60]),
     "line 'X': stops[1]: 9 is not a stop; expected a stop index from 0 to 5 or (lon, lat, name)"),
    (lambda tt: add_line(tt, name="X", mode="tram", stops=[0, (240, 60, "P")], headways=[(0, 60, 10)],
                         speed_km_h=20), "line 'X': stops[1]: (240, 60, 'P'); expected a stop index or (lon, lat"),
    (lambda tt: add_line(add_line(tt, name="X", mode="tram", stops=[0, 5], headways=[(0, 60, 10)], speed_km_h=9),
                         name="X", mode="tram", stops=[0, 5], headways=[(0, 60, 10)], speed_km_h=9),
     "line 'X': name: a line of that name was added already; expected a new name"),
    (lambda tt: change_service(tt, np.array([0]), headway_factor=2, remove=True),
     "change_service: headway_factor, headway_s and remove: expected exactly one of them"),
    (lambda tt: change_service(tt, np.array([0]), headway_factor=0), "change_service: headway_factor: 0; expected"),
    (lambda tt: change_service(tt, np.array([7]), remove=True),
     "change_service: routes: 7 is out of range; expected indices from 0 to 1"),
    (lambda tt: close_stops(tt, np.ones(3, bool)), "close_stops: stops: a mask of 3 values; expected one per stop (6)"),
    (lambda tt: town([("z", 0, [0, 9], [0, 60])]),
     "from_trips: trip_stops: trip 'z' at its stop 1 has stop 9; expected a stop index from 0 to 5"),
    (lambda tt: town([("z", 0, [0, 1], [60, 0])]),
     "from_trips: trip_arrivals/trip_departures: trip 'z' at its stop 1 goes back in time; expected"),
    (lambda tt: town([("z", 0, [0], [60])]), "from_trips: trip_stops: trip 'z' has 1 stop(s); expected at least 2"),
    (lambda tt: town([("z", 3, [0, 1], [0, 60])]),
     "from_trips: trip_routes: trip 'z' has route 3; expected a route index from 0 to 1"),
    (lambda tt: town([("z", 0, [0, 1], [0, 0.5])]),
     "from_trips: trip_arrivals: trip 'z' at its stop 1 has 0.5; expected whole seconds"),
])
def test_edit_errors_are_one_line(edit, message):
    with pytest.raises(DataError) as error:
        edit(town())
    text = str(error.value)
    assert "\n" not in text and text.startswith(message), text


@pytest.fixture(scope="module")
def hsl(shared_data):
    path = shared_data / "gtfs" / "hsl_gtfs_20220204.zip"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return read_gtfs(path, date="2022-02-22", licence="CC BY 4.0")


def test_hsl_round_trip_and_edits(hsl):
    start = time.perf_counter()
    every = trips(hsl)
    again = from_trips(**every._asdict(), stop_ids=hsl.stop_ids, stop_names=hsl.stop_names,
                       stop_lonlat=hsl.stop_lonlat, route_ids=hsl.route_ids, route_names=hsl.route_names,
                       route_modes=hsl.route_modes, service_date=hsl.service_date, source=hsl.source,
                       licence=hsl.licence, transfers=(hsl.transfers_ptr, hsl.transfers_to, hsl.transfers_s))
    seconds = time.perf_counter() - start
    print(f"\nHSL {hsl.n_trips} trips: trips() + from_trips() in {seconds:.3f} s")
    assert hsl.n_trips == 12_788 and seconds < 1
    assert_same(hsl, again)

    trams = route_indices(hsl, ["4"], "test")
    before = trips_between(hsl, route_patterns(hsl, trams), 7 * H, 9 * H)
    halved = checked(change_service(hsl, trams, headway_factor=2))
    assert trips_between(halved, route_patterns(halved, trams), 7 * H, 9 * H) == pytest.approx(before / 2, abs=2)
    busiest = np.argmax(np.diff(hsl.stop_patterns_ptr))
    closed = checked(close_stops(hsl, np.array([busiest])))
    assert closed.stop_patterns_ptr[busiest] == closed.stop_patterns_ptr[busiest + 1]
    line = checked(add_line(hsl, name="Kruununhaka tram", mode="tram", stops=stop_indices(hsl, ["Kauppatori"], "t")[:1]
                            .tolist() + [(24.96, 60.172, "Kruununhaka")], headways=[(6 * H, 20 * H, 600)],
                            speed_km_h=18))
    assert line.n_trips == hsl.n_trips + 2 * 84
