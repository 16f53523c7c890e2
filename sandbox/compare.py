"""Baseline against scenario: indicators side by side over (scenario, zone, group), changes, winners and losers."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .privacy import DEFAULT_K, suppress

BASELINE = "baseline"
EQUITY = ("gaining", "losing", "unchanged", "displaced", "new")


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


def zonal_names(ds: xr.Dataset) -> list[str]:
    """Variables summarised by zone (what maps and layers show)."""
    return [n for n, v in ds.data_vars.items() if "zone" in v.dims and "household" not in v.dims]


def group_names(ds: xr.Dataset) -> list[str]:
    """Area-wide variables per group (equity: share not reaching, Gini)."""
    return [n for n, v in ds.data_vars.items() if "group" in v.dims and "zone" not in v.dims
            and "household" not in v.dims]


def compare(baseline: xr.Dataset, scenario: xr.Dataset, *, name: str) -> xr.Dataset:
    """One indicator for the baseline and a scenario, stacked on a ``scenario`` dimension, with ``change_*``
    (scenario minus baseline) and per-group counts of households ``gaining``, ``losing``, ``unchanged``,
    ``displaced`` (gone in the scenario) and ``new`` (only in the scenario). Household-level values stay out."""
    keep = zonal_names(baseline) + group_names(baseline)
    stacked = xr.concat([baseline[keep], scenario[keep]], dim="scenario", join="outer")
    stacked = stacked.assign_coords(scenario=[BASELINE, name])
    for variable in keep:
        stacked[f"change_{variable}"] = (stacked[variable].sel(scenario=name, drop=True)
                                         - stacked[variable].sel(scenario=BASELINE, drop=True))
        stacked[f"change_{variable}"].attrs = {**baseline[variable].attrs,
                                               "long_name": f"change in {baseline[variable].attrs.get('long_name', variable)}"}
    counts = equity_counts(baseline, scenario)
    for what in EQUITY:
        stacked[what] = (("group",), counts[what], {"units": "households",
                                                    "long_name": f"households of the group {what}"})
    stacked.attrs = {**baseline.attrs, "scenario": name}
    return stacked


# Changes below these count as unchanged: a second of travel, a thousandth of a share of supply.
TOLERANCE = {"nearest": (1.0, 0.0), "within": (1e-9, 0.0), "supply": (0.0, 1e-3)}  # (absolute, relative)


def equity_counts(baseline: xr.Dataset, scenario: xr.Dataset) -> dict[str, np.ndarray]:
    """Per group: households whose value got better or worse beyond :data:`TOLERANCE`, or stayed, plus displaced
    and new ones."""
    absolute, relative = TOLERANCE[baseline.attrs["measure"]]
    before, higher_is_better = household_values(baseline)
    after, _ = household_values(scenario)
    ids_before = baseline["household"].to_numpy()
    ids_after = scenario["household"].to_numpy()
    common = np.intersect1d(ids_before, ids_after)
    counts = {what: [] for what in EQUITY}
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


def publishable(compared: xr.Dataset, *, households: xr.DataArray | None = None, k: int = DEFAULT_K) -> xr.Dataset:
    """The comparison as it may leave memory: a (zone, group) cell is hidden in the baseline, the scenario and the
    change alike when either side has fewer than ``k`` households; area-wide counts below ``k`` are hidden too."""
    households = compared["households"].max("scenario") if households is None else households
    safe = suppress(compared, k=k, households=households)
    for what in (*EQUITY, "group_residents"):
        safe[what] = safe[what].where((safe[what] >= k) | (safe[what] == 0))
    return safe
