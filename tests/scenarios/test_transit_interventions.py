"""Transit scenarios on the tiny twin and its tram (corner (3, 3) <-> the clinic's corner (0, 0), every 10 min):
interventions change the timetable, and household 2's median trip to the clinic (300 s by tram, 500 s on foot)
moves as worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox import access
from sandbox.scenarios.plan import apply, plan
from tests.tiny import lonlat, node_xy, square, tiny_timetable, tiny_twin

from .test_plan import scenario

WALK_S = 600 / 1.2  # household 2 to the clinic on foot


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin().replace(timetable=tiny_timetable())


def to_care(twin) -> float:
    ds = access.nearest(twin, "care", mode="transit")
    return float(ds["travel_time_s"].sel(household=2))


def variant(twin, interventions: str):
    planned = plan(scenario(interventions), twin)
    return planned, apply(planned)


def test_the_tram_today(tiny):
    assert to_care(tiny) == pytest.approx(300.0)


def test_change_service(tiny):
    planned, fewer = variant(tiny, '[{type: change_service, routes: ["Tiny tram"], headway_factor: 2}]')
    assert planned.notes == ["[0] change_service: 'service change': routes Tiny tram (headway x2): 36 trips a day -> 18"]
    # Every 20 min: walking (500 s) beats waits over 7.3 min; sorted, the 30th of 60 is a ride after a 8 min wait.
    assert to_care(fewer) == pytest.approx(WALK_S)
    _, none = variant(tiny, '[{type: change_service, routes: [T], remove: true}]')
    assert none.timetable.n_trips == 0 and to_care(none) == pytest.approx(WALK_S)
    _, more = variant(tiny, '[{type: change_service, routes: [T], headway_min: 5}]')
    assert to_care(more) == pytest.approx(180.0)  # waits of 0-4 min, the 30th of 60 waits 2, rides 1


def test_close_stops_by_name_and_by_area(tiny):
    planned, closed = variant(tiny, '[{type: close_stops, stops: ["Far corner"]}]')
    assert planned.notes == ["[0] close_stops: 'stops closed': 1 stops out of service (Far corner)"]
    assert to_care(closed) == pytest.approx(WALK_S)
    _, area = variant(tiny, f"[{{type: close_stops, area: {square(0, 0, 20)}}}]")  # the clinic's corner
    assert to_care(area) == pytest.approx(WALK_S)
    planned = plan(scenario('[{type: close_stops, stops: [Nowhere]}]'), tiny)
    assert planned.problems == ["tiny-test:6: interventions[0]: stops: no stop has the id or name 'Nowhere'; "
                                "expected one of 'Clinic corner', 'Far corner'"]


def test_a_new_line_changes_travel_times(tiny):
    # A faster tram from household 2's corner to the clinic's, every 2 minutes, taking 30 s.
    planned, faster = variant(tiny, f"""
  - {{type: add_transit_line, name: Express, headway_min: 2, run_times_min: [0.5],
      stops: [{{stop: Far corner}}, {{at: {lonlat(*node_xy(0, 0))}, name: Clinic door}}]}}""")
    assert "2 stops (1 new)" in planned.notes[0]
    assert to_care(faster) < 120  # waits of 0-1 min and a 30 s ride


def test_closed_streets_close_the_stops_inside(tiny):
    planned, closed = variant(tiny, f"[{{type: close_streets, area: {square(3, 3, 30)}}}]")
    assert any("1 transit stops inside are out of service" in note for note in planned.notes)
    assert closed.timetable.stop_names[0] == "Far corner"
    assert not np.isin(0, closed.timetable.pattern_stops)  # no trip stops there


def test_a_flood_closes_stops_and_cuts_the_line():
    from .test_plan import sloped

    twin = sloped(tiny_twin()).replace(timetable=tiny_timetable())
    # Ground rises 1 m per block eastwards; water at 0.5 m covers the west street (the clinic's corner and the
    # tram's stop there), so the tram no longer reaches it.
    planned, flooded = variant(twin, "[{type: flood, hazard: water_level, level_m: 0.5, connected: false}]")
    assert any("1 transit stops under more than 0.20 m of water are out of service" in n for n in planned.notes)
    assert flooded.timetable.n_trips == 0


def test_a_flood_between_two_dry_stops_stops_the_trams(tiny):
    # A 60 m pond of 1 m on the straight line between the tram's stops, both of them dry: no tram crosses it.
    planned, flooded = variant(tiny, f"[{{type: flood, hazard: extent, depth_m: 1.0, area: {square(1.5, 1.5, 30)}}}]")
    assert any("0 transit stops under more than 0.20 m of water are out of service; no trips between 2 pairs of "
               "stops across water deeper than 0.30 m" in note for note in planned.notes)
    assert flooded.timetable.n_trips == 0
    assert to_care(flooded) == pytest.approx(WALK_S)
