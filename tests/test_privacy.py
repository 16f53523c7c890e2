"""Small cells are hidden and flagged, with the cells that would give them away; household-level values never
reach an export."""

from __future__ import annotations

import numpy as np

from sandbox import access
from sandbox.output.folders import access_table
from sandbox.privacy import changed_cells, complete, hidden_cells, household_flows, small, suppress, zone_cells
from tests.tiny import tiny_twin


def test_cells_below_k_are_hidden_not_zero_and_microdata_is_dropped():
    twin = tiny_twin()
    ds = access.nearest(twin, "care", minutes=[5])
    safe = suppress(ds, k=2)
    assert "household" not in safe.dims and "travel_time_s" not in safe and "weight" not in safe
    hidden = safe["suppressed"].to_numpy()
    counts = ds["households"].to_numpy()
    assert (hidden == ((counts > 0) & (counts < 2))).all()
    assert np.isnan(safe["share_reaching"].to_numpy()[0][hidden]).all()
    assert not np.isnan(safe["share_reaching"].to_numpy()[0][~hidden & (counts > 0)]).any()
    # Every tiny zone holds at most one household: with k = 1 nothing populated is hidden.
    assert not suppress(ds, k=1)["suppressed"].to_numpy()[counts >= 1].any()


def test_a_cell_small_on_either_side_is_hidden():
    twin = tiny_twin()
    before, after = access.nearest(twin, "care"), access.nearest(twin, "parks")
    hidden = hidden_cells(before["households"], after["households"], k=2)
    small = ((before["households"] > 0) & (before["households"] < 2)) | ((after["households"] > 0)
                                                                          & (after["households"] < 2))
    assert (hidden == small).all() and hidden.any()


def test_zone_table_has_one_column_per_group_and_threshold(helsinki):
    ds = access.within(helsinki, "care", minutes=[5, 10], groups=["all", "elderly"])
    table = access_table(helsinki, ds, k=5)
    assert len(table) == len(helsinki.layers["zones"])
    assert {"share_reaching_elderly_5min", "share_reaching_all_10min", "suppressed_elderly",
            "households_elderly", "mean_reachable_all_5min"} <= set(table.columns)
    hidden = table["suppressed_elderly"].to_numpy(bool)
    assert table.loc[hidden, "share_reaching_elderly_5min"].isna().all()
    shown = table.loc[~hidden, "households_elderly"]
    assert ((shown >= 5) | (shown == 0)).all() and str(shown.dtype) == "Int64"
    assert not any(c.startswith(("travel_time", "weight", "reachable_")) for c in table.columns)


def test_a_lone_small_zone_takes_the_smallest_other_with_it():
    # Zone counts 10, 2, 30, 0, 50 of a group whose total (92) `sandbox info` prints: hiding the 2 alone would leave
    # it as 92 - 90; the 10 goes too, and the two hidden zones hold 12 households between them.
    households = np.array([[10.0, 2, 30, 0, 50]])
    residents = households * 2
    assert zone_cells(households, residents, k=5).tolist() == [[True, True, False, False, False]]
    # Two small zones summing to less than k take the smallest other zone; five zones of one each (summing to
    # their number, so each is 1) take one more; a set with nothing left to hide with loses its total instead.
    assert zone_cells(np.array([[2.0, 1, 40, 7]]), np.array([[2.0, 1, 40, 7]]), k=5).tolist() == [
        [True, True, False, True]]
    ones = np.array([[1.0, 1, 1, 1, 1, 50]])
    assert zone_cells(ones, ones, k=5).all()
    cells, lost = complete(np.array([[True, False]]), [(np.array([[2.0, 0]]), np.array([True]))], k=5)
    assert cells.tolist() == [[True, False]] and lost.tolist() == [[True]]
    # A set whose total is not published needs nothing more.
    cells, lost = complete(np.array([[True, False]]), [(np.array([[2.0, 9]]), np.array([False]))], k=5)
    assert cells.tolist() == [[True, False]] and not lost.any()


def test_complementary_cells_come_from_the_allowed_ones_and_rows_are_independent():
    values = np.array([[3.0, 20, 6, 40], [30.0, 20, 60, 40]])
    primary = small(values, 5)
    allowed = np.array([[False, True, False, True]] * 2)
    cells, _ = complete(primary, [(values, np.array([True, True]))], k=5, candidates=allowed)
    assert cells.tolist() == [[True, True, False, False], [False, False, False, False]]


def test_household_flows_match_households_by_id():
    # Households 1, 2, 3 today, 2, 3, 4 with the scenario (1 displaced, 4 new); household 3 joins the group
    # (ageing); household 2 stays in zone 0 with one more member of the group.
    weight_before = np.array([[1.0, 1.0, 0.0]])
    weight_after = np.array([[2.0, 1.0, 1.0]])
    flows = household_flows(weight_before, np.array([0, 0, 1]), np.array([1, 2, 3]),
                            weight_after, np.array([0, 1, 1]), np.array([2, 3, 4]), n_zones=2)
    assert flows.entering.tolist() == [[0.0, 2.0]] and flows.leaving.tolist() == [[1.0, 0.0]]
    assert (flows.displaced.tolist(), flows.new.tolist(), flows.entered.tolist(), flows.left.tolist()) == (
        [1], [1], [1], [0])
    assert flows.residents_in.tolist() == [3.0] and flows.residents_out.tolist() == [1.0]
    households, residents = flows.totals_hidden(k=5)
    assert households.tolist() == [True] and residents.tolist() == [True]
    assert flows.totals_hidden(k=1)[0].tolist() == [False]


def test_a_zone_whose_households_change_by_a_few_is_hidden_though_both_sides_are_large():
    # 8 elderly households today, 5 with the scenario: the 3 who left would be the difference.
    before, after = np.array([[8.0, 40.0]]), np.array([[5.0, 40.0]])
    flows = household_flows(np.ones((1, 48)), np.repeat([0, 1], [8, 40]), np.arange(48),
                            np.ones((1, 45)), np.repeat([0, 1], [5, 40]), np.arange(3, 48), n_zones=2)
    assert flows.leaving.tolist() == [[3.0, 0.0]]
    assert changed_cells(flows, [before, after], [before, after], k=5).tolist() == [[True, False]]


def test_access_tables_hide_complementary_zones_against_the_twins_totals(helsinki):
    ds = access.nearest(helsinki, "care", minutes=[10], groups=["all", "elderly", "elderly_alone", "children"])
    safe = suppress(ds, k=5)
    totals = helsinki.summary()["households"]
    for group in safe["group"].to_numpy():
        hidden = safe["suppressed"].sel(group=group).to_numpy()
        counts = ds["households"].sel(group=group).to_numpy()
        shown = np.nansum(safe["households"].sel(group=group).to_numpy())
        assert shown + counts[hidden].sum() == totals[str(group)]["households"]
        if hidden.any():  # never one zone alone, never fewer than k households between them
            assert hidden.sum() >= 2 and counts[hidden].sum() >= 5
        assert (small(counts, 5) <= hidden).all()
