"""summary.json: a run's numbers in plain terms, per indicator, group and threshold, small counts hidden."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..compare import EQUITY
from ..results import BASELINE, SCENARIO, indicator_names

HIDDEN = "suppressed"


def summarise(results: xr.DataTree, *, scenario: Any, notes: list[str], effects: dict[str, int],
              flood: Any = None) -> dict[str, Any]:
    """Per indicator and group: households gaining and losing, and at every threshold the share reaching, the
    residents not reaching and the Gini, before and after; plus what the interventions did and the flood."""
    k = int(results.attrs.get("k", scenario.outputs.k))
    indicators = {}
    for key in indicator_names(results):
        node = results[key].to_dataset()
        groups = {}
        for group in node["group"].to_numpy():
            row: dict[str, Any] = {what: count(node[what].sel(group=group)) for what in EQUITY}
            for name, how in (("share_reaching", share), ("residents_not_reaching", count), ("gini", share)):
                source = node["share_not_reaching"] if name == "share_reaching" else node[name]
                row[name] = {}
                for minutes in node["minutes"].to_numpy() if "minutes" in source.dims else [None]:
                    part = source.sel(group=group) if minutes is None else source.sel(group=group, minutes=minutes)
                    if name == "share_reaching":
                        part = 1 - part
                    label = "all" if minutes is None else f"{minutes:g}"
                    row[name][label] = {side: how(part.sel(side=side)) for side in (BASELINE, SCENARIO)}
            groups[str(group)] = row
        indicators[key] = {"what": node.attrs["long_name"], "measure": node.attrs["measure"],
                           "minutes": [float(m) for m in node["minutes"].to_numpy()], "groups": groups}
    out = {"scenario": scenario.name, "description": scenario.description, "twin": results.attrs.get("twin"),
           "seed": scenario.seed, "k": k, "interventions": notes,
           "effects": {name: hide(value, k) if is_people(name) else value
                                                 for name, value in effects.items()}, "indicators": indicators}
    if flood is not None:
        found = flood.summary()
        for row in found["groups"].values():
            for name, value in row.items():
                row[name] = hide(value, k)
        out["flood"] = found
    return out


def share(value: xr.DataArray) -> float | None:
    number = float(value)
    return None if np.isnan(number) else round(number, 4)


def count(value: xr.DataArray) -> int | str:
    number = float(value)
    return HIDDEN if np.isnan(number) else int(round(number))


def is_people(name: str) -> bool:
    """Whether an effect counts people or households (those are disclosure-controlled; parks and streets not)."""
    return any(word in name for word in ("households", "residents", "elderly", "children"))


def hide(value: Any, k: int) -> Any:
    """Counts of 1 to k - 1 people or households are hidden, as in zone tables."""
    return HIDDEN if isinstance(value, (int, np.integer)) and 0 < value < k else value
