"""Baseline against scenario, in pure xarray: every indicator over (side, group, zone), changes, winners and losers,
small cells hidden before anything can leave memory; and several runs side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ._errors import DataError
from .privacy import DEFAULT_K, Flows, changed_cells, complete, household_flows, small, zone_cells
from .results import BASELINE, SCENARIO, SIDE_ATTRS, SIDES, indicator_names

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
    in_before, in_after = common_households(baseline, scenario)
    before = reaching(baseline).transpose("minutes", "household").to_numpy()[:, in_before]
    after = reaching(scenario).transpose("minutes", "household").to_numpy()[:, in_after]
    weight = scenario["weight"].transpose("group", "household").to_numpy()[:, in_after]
    return {"residents_gaining_reach": ((after & ~before)[:, None, :] * weight[None]).sum(axis=2),
            "residents_losing_reach": ((before & ~after)[:, None, :] * weight[None]).sum(axis=2)}


def published_names(ds: xr.Dataset) -> list[str]:
    """Variables of a measure that may be published once small cells are hidden: by zone or by group, never by
    household."""
    return [n for n, v in ds.data_vars.items() if "household" not in v.dims and n not in PRIVATE]


@dataclass(frozen=True)
class Disclosure:
    """What a comparison hides alike in every indicator (see :mod:`sandbox.privacy`): the (group, zone) cells
    ``zones``; per group whether the scenario's total of households (``households``) and of residents
    (``residents``) stay unpublished; and how the households move between the twins (``flows``)."""

    zones: xr.DataArray
    households: np.ndarray
    residents: np.ndarray
    flows: Flows


def disclosure(pairs: Sequence[tuple[xr.Dataset, xr.Dataset]], *, k: int = DEFAULT_K) -> Disclosure:
    """The cells every indicator of one comparison hides, from household-level data (the same households and groups
    in every indicator): zones small on either side or changing by a few households (primary), the baseline's own
    complementary zones (as ``sandbox access`` hides them on that twin), a zone holding residents wherever an
    area-wide count that the zones add up to is hidden, then complementary zones against each side's totals."""
    before, after = pairs[0]
    flows = household_flows(before["weight"].transpose("group", "household").to_numpy(),
                            before["household_zone"].to_numpy(), before["household"].to_numpy(),
                            after["weight"].transpose("group", "household").to_numpy(),
                            after["household_zone"].to_numpy(), after["household"].to_numpy(),
                            before.sizes["zone"])
    totals = flows.totals_hidden(k)  # households, residents
    households = [ds["households"].transpose("group", "zone").to_numpy() for ds in (before, after)]
    residents = [ds["residents"].transpose("group", "zone").to_numpy() for ds in (before, after)]
    hidden = (small(households[0], k) | small(households[1], k) | changed_cells(flows, households, residents, k=k)
              | zone_cells(households[0], residents[0], k=k))
    # An area-wide count hidden on a side (residents not reaching) is the sum of its zones' parts: some zone with
    # residents of the group must be hidden there too, or the shown zones would add up to it.
    need = [np.zeros(len(totals[0]), bool), totals[0] | totals[1]]
    for pair in pairs:
        for side, ds in enumerate(pair):
            group_residents = ds["group_residents"].to_numpy()
            count = np.round(ds["share_not_reaching"].transpose("minutes", "group").to_numpy() * group_residents)
            need[side] |= _count_hidden(count, group_residents, k).any(axis=0)
    for side in range(2):
        lacking = need[side] & ~(hidden & (residents[side] > 0)).any(axis=1)
        score = np.where(~hidden & (residents[side] > 0), households[side], np.inf)
        rows = np.flatnonzero(lacking & np.isfinite(score.min(axis=1)))
        hidden[rows, score[rows].argmin(axis=1)] = True
    public = np.ones(len(totals[0]), bool)
    hidden, lost = complete(hidden, [(households[0], public), (households[1], ~totals[0]),
                                     (residents[0], public), (residents[1], ~totals[1])], k=k)
    zones = xr.DataArray(hidden, coords={"group": before["group"].to_numpy(), "zone": before["zone"].to_numpy()},
                         dims=("group", "zone"))
    return Disclosure(zones=zones, households=totals[0] | lost[1], residents=totals[1] | lost[3], flows=flows)


def _count_hidden(count: np.ndarray, residents: np.ndarray, k: int) -> np.ndarray:
    """Where an area-wide count of the group's residents (those not reaching, those with no way) is hidden: the
    count, the rest of the group or the group itself 1 to ``k`` - 1 people."""
    return small(count, k) | small(residents - count, k) | small(residents, k)


def compare(baseline: xr.DataTree, scenario: xr.DataTree, *, k: int = DEFAULT_K) -> xr.DataTree:
    """Every indicator of two results trees (one per twin, household values inside) side by side over ``side``:
    baseline, scenario and change (scenario minus baseline), with per-group counts of households gaining, losing,
    unchanged, displaced and new. Small cells, and the cells that would give them away, are hidden alike in every
    indicator (see :mod:`sandbox.privacy`); household-level values stay out."""
    nodes = {"/": baseline.to_dataset(inherit=False)}
    keys = indicator_names(baseline)
    pairs = {key: (baseline[key].to_dataset(), scenario[key].to_dataset()) for key in keys}
    protection = disclosure(list(pairs.values()), k=k) if pairs else None
    for key, (before, after) in pairs.items():
        nodes[key] = compare_indicator(before, after, k=k, protection=protection)
    return xr.DataTree.from_dict(nodes)


# Area-wide variables whose values are worked on here, in a fixed order of dimensions.
AREA_WIDE = {"group_residents": ("group",), "share_not_reaching": ("minutes", "group"),
             "share_unreachable": ("group",)}


def compare_indicator(baseline: xr.Dataset, scenario: xr.Dataset, *, k: int = DEFAULT_K,
                      protection: Disclosure | None = None) -> xr.Dataset:
    """One indicator of :func:`compare`; ``protection`` is what the whole comparison hides (by default this
    indicator's own). Built with numpy, in one go: a Dataset assignment costs milliseconds."""
    if protection is None:
        protection = disclosure([(baseline, scenario)], k=k)
    keep = published_names(baseline)
    before, after = xr.align(*(ds[keep].drop_vars("household", errors="ignore") for ds in (baseline, scenario)),
                             join="outer")
    variables = {}
    for name in keep:
        order = AREA_WIDE.get(name, before[name].dims)
        variables[name] = (("side", *order), np.stack([side[name].transpose(*order).to_numpy().astype(float)
                                                       for side in (before, after)]))
    residents = variables["group_residents"][1]
    share = variables["share_not_reaching"][1]
    not_reaching = np.round(share * residents[:, None, :])
    totals = np.stack([np.zeros(residents.shape[1], bool), protection.residents])  # (side, group)
    few = small(residents, k)
    variables["group_residents"] = (("side", "group"), np.where(few | totals, np.nan, residents))
    # Where the scenario's totals stay unpublished its shares are rounded to whole percents, so that no count over
    # its share gives the total away, and its counts are hidden.
    rounded = (totals & ~few)[:, None, :]
    hidden = _count_hidden(not_reaching, residents[:, None, :], k)
    variables["share_not_reaching"] = (("side", "minutes", "group"),
                                       np.where(hidden, np.nan, np.where(rounded, np.round(share, 2), share)))
    variables["residents_not_reaching"] = (("side", "minutes", "group"),
                                           np.where(hidden | totals[:, None, :], np.nan, not_reaching))
    if "share_unreachable" in variables:
        share = variables["share_unreachable"][1]
        hidden = _count_hidden(np.round(share * residents), residents, k)
        variables["share_unreachable"] = (("side", "group"), np.where(
            hidden, np.nan, np.where(rounded[:, 0], np.round(share, 2), share)))
    zones = protection.zones.transpose("group", "zone").to_numpy()
    attrs = {name: dict(baseline[name].attrs) for name in keep}
    attrs["residents_not_reaching"] = {"units": "persons",
                                       "long_name": "residents of the group not reaching any within the time"}
    data = {}
    for name, (dims, values) in variables.items():
        if "zone" in dims:
            values = np.where(_spread(zones, dims), np.nan, values)
        data[name] = (dims, np.concatenate([values, (values[1] - values[0])[None]]), attrs[name])
    data["suppressed"] = (("group", "zone"), zones, {
        "units": "1", "long_name": f"hidden: fewer than {k} households of the group on either side, a few "
                                   "households moving, or hidden with such a zone so that it cannot be worked out"})
    counts = equity_counts(baseline, scenario)
    shown = equity_shown(counts, protection, k=k)
    for what in EQUITY:
        data[what] = ("group", np.where(shown[what], counts[what], np.nan),
                      {"units": "households", "long_name": f"households of the group {what}"})
    moved = reach_changes(baseline, scenario)
    # Losing minus gaining is the published change in residents not reaching: one hidden count would give the
    # other away, so both are hidden when either is small; and when nobody moves, joins or leaves the group, a
    # residents-not-reaching hidden on one side only would follow from the other side and the pair.
    pair = np.logical_or.reduce([small(values, k) for values in moved.values()])
    flows = protection.flows
    still = ~np.logical_or.reduce([flows.displaced, flows.new, flows.entered, flows.left, flows.residents_in,
                                   flows.residents_out])
    gone = np.isnan(data["residents_not_reaching"][1][:2])
    pair |= (gone[0] != gone[1]) & still[None, :]
    for name, values in moved.items():
        data[name] = (("minutes", "group"), np.where(pair, np.nan, values),
                      {"units": "persons", "long_name": "residents of the group who "
                       + ("newly reach one within the time" if "gaining" in name
                          else "no longer reach any within the time")})
    coords = {name: coord for name, coord in before.coords.items()}
    coords["side"] = ("side", list(SIDES), SIDE_ATTRS)
    stacked = xr.Dataset(data, coords=coords)
    stacked.attrs = {name: value for name, value in baseline.attrs.items() if "fingerprint" not in name}
    stacked.attrs["k"] = k
    return stacked


def _spread(mask: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
    """A (group, zone) mask shaped to broadcast against a variable over ``dims``."""
    at = [d for d in dims if d in ("group", "zone")]
    mask = mask if at == ["group", "zone"] else mask.T
    return mask.reshape([mask.shape[at.index(d)] if d in at else 1 for d in dims])


def equity_shown(counts: dict[str, np.ndarray], protection: Disclosure, *, k: int = DEFAULT_K
                 ) -> dict[str, np.ndarray]:
    """Which equity counts may be published, per group. They partition the group's households twice: gaining +
    losing + unchanged + displaced (+ those that left the group, - those that joined it) = the baseline's
    households (published), and gaining + losing + unchanged + new = the scenario's (published unless
    ``protection.households``). Small counts are hidden, then complementary ones among gaining, losing and unchanged
    (never displaced or new, which the plan's notes and effects publish under the primary rule alone)."""
    flows = protection.flows
    net = flows.entered - flows.left
    values = np.column_stack([counts[what] for what in EQUITY] + [np.abs(net)]).astype(float)
    primary = small(values, k)
    primary[:, -1] = small(flows.entered, k) | small(flows.left, k) | small(net, k)
    nan = np.full(len(values), np.nan)
    before = values.copy()
    before[:, EQUITY.index("new")] = nan
    after = values.copy()
    after[:, [EQUITY.index("displaced"), -1]] = np.column_stack([nan, nan])
    candidates = np.zeros_like(primary)
    candidates[:, :3] = True
    public = np.ones(len(values), bool)
    hidden, lost = complete(primary, [(before, public), (after, ~protection.households)], k=k,
                            candidates=candidates)
    hidden[lost.any(axis=0), :3] = True  # nothing left to hide with: gaining, losing and unchanged all go
    return {what: ~hidden[:, i] for i, what in enumerate(EQUITY)}


def equity_counts(baseline: xr.Dataset, scenario: xr.Dataset) -> dict[str, np.ndarray]:
    """Per group: households whose value got better or worse beyond :data:`TOLERANCE`, or stayed, plus displaced
    and new ones."""
    absolute, relative = TOLERANCE[baseline.attrs["measure"]]
    before, higher_is_better = household_values(baseline)
    after, _ = household_values(scenario)
    groups = baseline["group"].to_numpy()
    values_before, values_after = _by_group(before, groups), _by_group(after, groups)
    weight_before = baseline["weight"].transpose("group", "household").to_numpy()
    weight_after = scenario["weight"].transpose("group", "household").to_numpy()
    in_before, in_after = common_households(baseline, scenario)
    gone = np.ones(weight_before.shape[1], bool)
    gone[in_before] = False
    arrived = np.ones(weight_after.shape[1], bool)
    arrived[in_after] = False
    counts: dict[str, list[int]] = {what: [] for what in EQUITY}
    for g in range(len(groups)):
        members = weight_after[g][in_after] > 0
        b = values_before[g][in_before][members]
        a = values_after[g][in_after][members]
        with np.errstate(invalid="ignore"):
            delta = np.where(np.isinf(a) & np.isinf(b), 0.0, a - b)
        delta = np.nan_to_num(delta, nan=0.0)
        limit = np.maximum(absolute, relative * np.abs(np.nan_to_num(b, posinf=0))) + 1e-12
        better, worse = delta > limit, delta < -limit
        if not higher_is_better:
            better, worse = worse, better
        counts["gaining"].append(int(better.sum()))
        counts["losing"].append(int(worse.sum()))
        counts["unchanged"].append(int(len(b) - better.sum() - worse.sum()))
        counts["displaced"].append(int(((weight_before[g] > 0) & gone).sum()))
        counts["new"].append(int(((weight_after[g] > 0) & arrived).sum()))
    return {what: np.array(values) for what, values in counts.items()}


def common_households(baseline: xr.Dataset, scenario: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Positions, in each twin's household order, of the households on both twins (matched by id): one lookup
    per comparison, not a search per group (a million households are compared in a second)."""
    ids_before = baseline["household"].to_numpy()
    ids_after = scenario["household"].to_numpy()
    if len(ids_before) == len(ids_after) and np.array_equal(ids_before, ids_after):
        everyone = np.arange(len(ids_before))
        return everyone, everyone
    at = pd.Index(ids_after).get_indexer(ids_before)
    return np.flatnonzero(at >= 0), at[at >= 0]


def _by_group(values: xr.DataArray, groups: np.ndarray) -> np.ndarray:
    """A per-household value as (group, household): per group where it has one, else the same for every group."""
    if "group" in values.dims:
        return values.sel(group=groups).transpose("group", "household").to_numpy()
    return np.broadcast_to(values.to_numpy(), (len(groups), values.sizes["household"]))


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
