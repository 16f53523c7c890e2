"""Baseline against scenario, in pure xarray: every indicator over (side, group, zone), changes, winners and losers,
small cells hidden before anything can leave memory; and several runs side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ._errors import DataError
from .privacy import DEFAULT_K, hidden_cells, hide_small_counts
from .results import BASELINE, CHANGE, SCENARIO, SIDE_ATTRS, indicator_names

EQUITY = ("gaining", "losing", "unchanged", "displaced", "new")
# Changes below these count as unchanged: a second of travel, a thousandth of a share of supply.
TOLERANCE = {"nearest": (1.0, 0.0), "within": (1e-9, 0.0), "supply": (0.0, 1e-3)}  # (absolute, relative)
PRIVATE = ("weight", "household_zone")  # household-level inputs of the measures, never published


def household_values(ds: xr.Dataset) -> tuple[xr.DataArray, bool]:
    """The per-household value that decides who gains and who loses, and whether higher is better.

    nearest: travel time (lower is better); within: what is reachable at the longest threshold; supply: supply
    per resident of each group.
    """
    measure = ds.attrs["measure"]
    if measure == "nearest":
        return ds["travel_time_s"], False
    if measure == "within":
        return ds["reachable"].isel(minutes=-1), True
    return ds["supply_per_resident"], True


def reaching(ds: xr.Dataset) -> xr.DataArray:
    """Per threshold and household: whether it reaches a destination within the time (as ``share_reaching``
    counts it: nearest within the time, within anything at all, supply any share)."""
    measure = ds.attrs["measure"]
    if measure == "nearest":
        return ds["travel_time_s"] <= ds["minutes"] * 60
    if measure == "within":
        return ds["reachable"] > 0
    return (ds["supply_per_resident"] > 0).any("group").expand_dims(minutes=ds["minutes"].to_numpy())


def reach_changes(baseline: xr.Dataset, scenario: xr.Dataset) -> dict[str, np.ndarray]:
    """Per threshold and group: residents (of households on both twins) who reach a destination within the time
    only with the scenario (``residents_gaining_reach``) or only without it (``residents_losing_reach``)."""
    common = np.intersect1d(baseline["household"].to_numpy(), scenario["household"].to_numpy())
    before = reaching(baseline).sel(household=common).transpose("minutes", "household").to_numpy()
    after = reaching(scenario).sel(household=common).transpose("minutes", "household").to_numpy()
    weight = scenario["weight"].sel(household=common).transpose("group", "household").to_numpy()
    return {"residents_gaining_reach": ((after & ~before)[:, None, :] * weight[None]).sum(axis=2),
            "residents_losing_reach": ((before & ~after)[:, None, :] * weight[None]).sum(axis=2)}


def published_names(ds: xr.Dataset) -> list[str]:
    """Variables of a measure that may be published once small cells are hidden: by zone or by group, never by
    household."""
    return [n for n, v in ds.data_vars.items() if "household" not in v.dims and n not in PRIVATE]


def compare(baseline: xr.DataTree, scenario: xr.DataTree, *, k: int = DEFAULT_K) -> xr.DataTree:
    """Every indicator of two results trees (one per twin, household values inside) side by side over ``side``:
    baseline, scenario and change (scenario minus baseline), with per-group counts of households gaining, losing,
    unchanged, displaced and new. Small cells are hidden (see :func:`sandbox.privacy.hidden_cells`); household-level
    values stay out."""
    nodes = {"/": baseline.to_dataset(inherit=False)}
    for key in indicator_names(baseline):
        nodes[key] = compare_indicator(baseline[key].to_dataset(), scenario[key].to_dataset(), k=k)
    return xr.DataTree.from_dict(nodes)


def compare_indicator(baseline: xr.Dataset, scenario: xr.Dataset, *, k: int = DEFAULT_K) -> xr.Dataset:
    """One indicator of :func:`compare`."""
    keep = published_names(baseline)
    sides = [ds[keep].drop_vars("household", errors="ignore") for ds in (baseline, scenario)]
    sides = [side.assign(residents_not_reaching=(side["share_not_reaching"] * side["group_residents"]).round())
             for side in sides]
    both = xr.concat(sides, dim="side", join="outer", combine_attrs="drop_conflicts")
    both = both.assign_coords(side=[BASELINE, SCENARIO])
    change = both.sel(side=SCENARIO, drop=True) - both.sel(side=BASELINE, drop=True)
    stacked = xr.concat([both, change.expand_dims(side=[CHANGE])], dim="side", combine_attrs="override")
    for name in keep:
        stacked[name].attrs = dict(baseline[name].attrs)
    stacked["side"].attrs = SIDE_ATTRS
    households = both["households"]
    hidden = hidden_cells(households.sel(side=BASELINE), households.sel(side=SCENARIO), k=k)
    for name, var in stacked.data_vars.items():
        if "zone" in var.dims:
            stacked[name] = var.where(~hidden).assign_attrs(var.attrs)
    stacked["suppressed"] = hidden.assign_attrs(units="1", long_name=f"hidden: fewer than {k} households of the "
                                                                     "group on either side")
    stacked["residents_not_reaching"].attrs = {"units": "persons",
                                               "long_name": "residents of the group not reaching any within the time"}
    counts = equity_counts(baseline, scenario)
    for what in EQUITY:
        stacked[what] = ("group", counts[what], {"units": "households",
                                                  "long_name": f"households of the group {what}"})
    for name in (*EQUITY, "group_residents", "residents_not_reaching"):
        stacked[name] = hide_small_counts(stacked[name], k=k)
    moved = reach_changes(baseline, scenario)
    # Losing minus gaining is the published change in residents not reaching: one hidden count would give the
    # other away, so both are hidden when either is small.
    small = np.zeros(moved["residents_gaining_reach"].shape, bool)
    for counts in moved.values():
        small |= (counts > 0) & (counts < k)
    for name, counts in moved.items():
        stacked[name] = (("minutes", "group"), np.where(small, np.nan, counts),
                         {"units": "persons", "long_name": "residents of the group who "
                          + ("newly reach one within the time" if "gaining" in name
                             else "no longer reach any within the time")})
    stacked.attrs = {name: value for name, value in baseline.attrs.items() if "fingerprint" not in name}
    stacked.attrs["k"] = k
    return stacked


def equity_counts(baseline: xr.Dataset, scenario: xr.Dataset) -> dict[str, np.ndarray]:
    """Per group: households whose value got better or worse beyond :data:`TOLERANCE`, or stayed, plus displaced
    and new ones."""
    absolute, relative = TOLERANCE[baseline.attrs["measure"]]
    before, higher_is_better = household_values(baseline)
    after, _ = household_values(scenario)
    ids_before = baseline["household"].to_numpy()
    ids_after = scenario["household"].to_numpy()
    common = np.intersect1d(ids_before, ids_after)
    counts: dict[str, list[int]] = {what: [] for what in EQUITY}
    for group in baseline["group"].to_numpy():
        in_after = scenario["weight"].sel(group=group) > 0
        in_before = baseline["weight"].sel(group=group) > 0
        members = common[in_after.sel(household=common).to_numpy()]
        b = _values(before, group).sel(household=members).to_numpy()
        a = _values(after, group).sel(household=members).to_numpy()
        with np.errstate(invalid="ignore"):
            delta = np.where(np.isinf(a) & np.isinf(b), 0.0, a - b)
        delta = np.nan_to_num(delta, nan=0.0)
        limit = np.maximum(absolute, relative * np.abs(np.nan_to_num(b, posinf=0))) + 1e-12
        better, worse = delta > limit, delta < -limit
        if not higher_is_better:
            better, worse = worse, better
        counts["gaining"].append(int(better.sum()))
        counts["losing"].append(int(worse.sum()))
        counts["unchanged"].append(int(len(members) - better.sum() - worse.sum()))
        counts["displaced"].append(int(np.setdiff1d(ids_before[in_before.to_numpy()], ids_after).size))
        counts["new"].append(int(np.setdiff1d(ids_after[in_after.to_numpy()], ids_before).size))
    return {what: np.array(values) for what, values in counts.items()}


def _values(values: xr.DataArray, group: str) -> xr.DataArray:
    return values.sel(group=group) if "group" in values.dims else values


def side_by_side(results: Sequence[xr.DataTree], names: Sequence[str]) -> xr.DataTree:
    """Several runs' results on one twin over a ``scenario`` dimension (the baseline first), for the indicators they
    share and the groups they share; a zone hidden in any run is hidden in all, so no pair of runs reveals what one
    of them hides."""
    if len(results) < 2:
        raise DataError("compare: one run given; expected two or more runs to put side by side")
    shared = [key for key in indicator_names(results[0]) if all(key in r.children for r in results[1:])]
    if not shared:
        raise DataError("compare: the runs share no indicator; expected runs that measure the same things")
    groups = [g for g in results[0]["group"].to_numpy() if all(g in r["group"].to_numpy() for r in results[1:])]
    if not groups:
        raise DataError("compare: the runs share no group; expected runs that measure the same groups")
    nodes = {"/": results[0].to_dataset(inherit=False).drop_attrs(deep=False).sel(group=groups)}
    nodes["/"].attrs = {"scenarios": ", ".join(names), "twin": results[0].attrs.get("twin", "")}
    for key in shared:
        datasets = [r[key].to_dataset().sel(group=groups) for r in results]
        hidden = xr.concat([ds["suppressed"] for ds in datasets], dim="run").any("run")
        # Per side: zonal values and area-wide ones (share not reaching, medians); counts of households gaining
        # and losing belong to one comparison and are left out.
        names_ = [n for n, var in datasets[0].data_vars.items() if "side" in var.dims and n != "suppressed"]
        sides = [datasets[0].sel(side=BASELINE)] + [ds.sel(side=SCENARIO) for ds in datasets]
        values = [ds[names_].drop_vars("side", errors="ignore") for ds in sides]
        stacked = xr.concat(values, dim="scenario", join="outer", combine_attrs="override")
        stacked = stacked.assign_coords(scenario=[BASELINE, *names])
        for name, var in stacked.data_vars.items():
            if "zone" in var.dims:
                stacked[name] = var.where(~hidden).assign_attrs(var.attrs)
        stacked["suppressed"] = hidden.assign_attrs(datasets[0]["suppressed"].attrs)
        nodes[key] = stacked.assign_attrs(datasets[0].attrs)
    return xr.DataTree.from_dict(nodes)
