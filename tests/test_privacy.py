"""Small cells are hidden and flagged; household-level values never reach an export."""

from __future__ import annotations

import numpy as np

from sandbox import access
from sandbox.output.folders import access_table
from sandbox.privacy import hidden_cells, suppress
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
