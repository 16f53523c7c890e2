"""compute_indicators(): every indicator a scenario asks for, on one twin, as one results tree (household values
kept in memory for the comparison; they never leave it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import xarray as xr

from . import access, words
from .results import GROUP_ATTRS, MINUTES_ATTRS, zone_geometry
from .transit import TransitOptions
from .twin import Twin


def compute_indicators(twin: Twin, indicators: Sequence[Any], *, groups: Sequence[str],
                       transit: TransitOptions | None = None,
                       progress: Callable[[str], None] | None = None) -> xr.DataTree:
    """One node per indicator (``measure``, ``to``, ``mode``, ``minutes``, ``capacity`` and ``key``, as in a
    scenario file), over (group, zone, minutes) and per household; the root holds the zones' geometry.
    ``transit`` times the indicators whose mode is transit."""
    root = zone_geometry(twin.layers["zones"]).assign_coords(group=("group", list(groups), GROUP_ATTRS))
    root.attrs = {"twin": twin.name, "twin_fingerprint": twin.fingerprint()}
    nodes: dict[str, xr.Dataset] = {"/": root}
    for indicator in indicators:
        if progress:
            progress(f"computing {indicator.key} on {twin.name}")
        ds = access.compute(twin, indicator.measure, indicator.to, mode=indicator.mode, minutes=indicator.minutes,
                            groups=groups, capacity=indicator.capacity, transit=transit)
        ds["minutes"].attrs = MINUTES_ATTRS
        ds["group"].attrs = GROUP_ATTRS
        ds.attrs = {**{k: v for k, v in ds.attrs.items() if k not in ("twin", "twin_fingerprint")},
                    "long_name": describe(ds)}
        nodes[indicator.key] = ds
    return xr.DataTree.from_dict(nodes)


def describe(ds: xr.Dataset) -> str:
    """An indicator in plain words, e.g. 'parks (count) within 10 min on foot', naming every threshold."""
    to, how = ds.attrs["to"], words.mode(ds.attrs["mode"])
    if "transit_departure" in ds.attrs:  # which trips: a transit time is a percentile over a window
        how += f" ({words.percentile(ds.attrs['transit_percentile'])}, departures {ds.attrs['transit_window']})"
    reach = words.minutes(ds["minutes"].to_numpy())
    if ds.attrs["measure"] == "nearest":
        return f"time to the nearest {words.destination(to).split(' ', 1)[1]} {how} (within {reach})"
    capacity = ds.attrs.get("capacity") or ds.attrs.get("weight")
    amount = words.amount(to, None if capacity in (None, "count") else capacity)
    if ds.attrs["measure"] == "within":
        return f"{amount} within {reach} {how}"
    return f"{amount} per resident within {reach} {how}, shared with everyone in reach (2SFCA)"
