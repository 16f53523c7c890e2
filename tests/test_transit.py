"""The transit mode on the tiny twin, where every answer can be worked out by hand: walk to a stop, wait, ride,
walk to the door; the median over a window of departures; never worse than walking; options recorded."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox import TwinError, access
from sandbox.transit import TransitOptions

from .tiny import lonlat_of, node_xy, tiny_timetable, tiny_twin

WALK_MPS = 1.2  # tiny twin's walking speed (Speeds default)


@pytest.fixture(scope="module")
def twin():
    return tiny_twin().replace(timetable=tiny_timetable())


def household_times(ds) -> dict[int, float]:
    return dict(zip(ds["household"].to_numpy().tolist(), ds["travel_time_s"].to_numpy().tolist()))


def test_median_over_the_window_is_worked_out_by_hand(twin) -> None:
    # Household 2 stands at stop A, 600 m (500 s) from the clinic on foot. Leaving at 08:00 + d min, a rider
    # waits (10 - d % 10) % 10 min and rides 1 min: 1, 11, 10, ..., 2 min, each six times in the hour; walking
    # wins when the wait is long. Sorted: 60 s x6, 120 s x6, ... The median (the 30th of 60) is 300 s.
    times = household_times(access.nearest(twin, "care", mode="transit"))
    assert times[2] == pytest.approx(300.0)
    # Household 0 (300 m north of the clinic) walks: 250 s; the tram does not help.
    assert times[0] == pytest.approx(300 / WALK_MPS)


def test_percentile_and_window_change_the_answer(twin) -> None:
    fastest = household_times(access.nearest(twin, "care", mode="transit", transit=TransitOptions(percentile=10)))
    assert fastest[2] == pytest.approx(60.0)  # the 6th of 60: a departure that boards at once
    worst = household_times(access.nearest(twin, "care", mode="transit", transit=TransitOptions(percentile=100)))
    assert worst[2] == pytest.approx(600 / WALK_MPS)  # never worse than walking all the way
    late = household_times(access.nearest(twin, "care", mode="transit",
                                          transit=TransitOptions(departure="10:30", window_min=30)))
    assert late[2] == pytest.approx(600 / WALK_MPS)  # no trams after 10:00


def test_transit_is_never_slower_than_walking(twin) -> None:
    walk = household_times(access.nearest(twin, "care", mode="walk"))
    ride = household_times(access.nearest(twin, "care", mode="transit"))
    for household, seconds in walk.items():
        assert ride[household] <= seconds + 1e-6


def test_longer_headway_means_longer_waits() -> None:
    base = tiny_twin()
    often = household_times(access.nearest(base.replace(timetable=tiny_timetable(300)), "care", mode="transit"))
    rarely = household_times(access.nearest(base.replace(timetable=tiny_timetable(1200)), "care", mode="transit"))
    # Every 5 min: waits of 0-4 whole minutes, twelve times each; the 30th of 60 waits 2 min, then rides 1.
    assert often[2] == pytest.approx(180.0)
    assert rarely[2] > often[2]


def test_results_say_which_percentile_window_and_date(twin) -> None:
    ds = access.within(twin, "care", mode="transit", minutes=[5, 10],
                       transit=TransitOptions(departure="2026-01-13T07:30", window_min=30, percentile=80))
    assert ds.attrs["transit_service_date"] == "2026-01-13"
    assert ds.attrs["transit_departure"] == "07:30"
    assert ds.attrs["transit_window_min"] == 30
    assert ds.attrs["transit_percentile"] == 80
    assert "80th percentile over departures every 1 min from 07:30 to 08:00 on 2026-01-13" in ds.attrs["transit_times"]


def test_every_measure_and_the_od_matrix_by_transit(twin) -> None:
    supply = access.supply(twin, "care", mode="transit", minutes=6, capacity="capacity")
    assert float(supply["group_median_supply"].sel(group="all")) > 0
    od = access.travel_times(twin, np.array([lonlat_of(3, 3)]), np.array([lonlat_of(0, 0)]), mode="transit")
    assert od["travel_time_s"].iloc[0] == pytest.approx(300.0, abs=1.0)
    iso = access.isochrones(twin, lonlat_of(3, 3), minutes=[3, 6], mode="transit")
    walk_iso = access.isochrones(twin, lonlat_of(3, 3), minutes=[3, 6], mode="walk")
    assert (iso.area_m2.to_numpy() >= walk_iso.area_m2.to_numpy() - 1).all()
    assert iso.area_m2.iloc[1] > walk_iso.area_m2.iloc[1] + 1000  # riding to the clinic's corner reaches its streets


def test_closed_streets_lengthen_the_walk_to_the_stop(twin) -> None:
    # Close every street at corner (3, 3): household 2 cannot reach stop A or anything else.

    net = twin.networks["walk"]
    at_corner = np.isin(net.edge_u, np.flatnonzero(np.all(np.isclose(net.xy, node_xy(3, 3)), axis=1))) | \
        np.isin(net.edge_v, np.flatnonzero(np.all(np.isclose(net.xy, node_xy(3, 3)), axis=1)))
    closed = twin.replace(edge_factors={"walk": np.where(at_corner, np.inf, 1.0)})
    times = household_times(access.nearest(closed, "care", mode="transit"))
    assert times[2] == np.inf


def test_errors_are_one_line() -> None:
    with pytest.raises(TwinError, match="mode: transit needs a timetable, and twin 'tiny' has none"):
        access.nearest(tiny_twin(), "care", mode="transit")
    twin = tiny_twin().replace(timetable=tiny_timetable())
    with pytest.raises(TwinError, match="departure: 2026-01-14 is not the timetable's service date 2026-01-13"):
        access.nearest(twin, "care", mode="transit", transit=TransitOptions(departure="2026-01-14T08:00"))
    with pytest.raises(ValueError, match="not a time; expected HH:MM"):
        TransitOptions(departure="eight")
