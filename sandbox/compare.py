"""Baseline against scenario: indicators side by side over (scenario, zone, group), changes, winners and losers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._errors import DataError
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


# --- several runs side by side ------------------------------------------------------------------------------------

CHECKED = {"twin_fingerprint": "twin fingerprint", "seed": "seed", "packages": "package versions"}


@dataclass
class Comparison:
    """Several scenario runs on one twin: every shared indicator over (scenario, zone, group), with the baseline
    first; a zone hidden in any run is hidden in all."""

    names: list[str]
    results: xr.Dataset
    manifests: list[dict]
    summaries: list[dict]
    twin_reference: str


def _load_run(run: Any) -> tuple[xr.Dataset, dict, dict]:
    """(results, manifest, summary) of a Run or of a run folder."""
    if hasattr(run, "results"):
        from .run import manifest

        return run.results, manifest(run, dict(run.timings), False), run.summary()
    folder = Path(run)
    missing = [f for f in ("results.nc", "manifest.json", "summary.json") if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: not a run folder (no {', '.join(missing)}); expected a folder written by "
                        "`sandbox run`")
    with xr.open_dataset(folder / "results.nc", engine="h5netcdf") as ds:
        results = ds.load()
    return (results, json.loads((folder / "manifest.json").read_text()),
            json.loads((folder / "summary.json").read_text()))


def compare_runs(runs: Sequence[Any], *, force: bool = False) -> Comparison:
    """Put runs (Run objects or run folders) side by side.

    Refuses runs made on different twins, with different seeds or package versions (say which differ) unless
    ``force``: their numbers would not be comparable.
    """
    if len(runs) < 2:
        raise DataError("compare: one run given; expected two or more runs to put side by side")
    loaded = [_load_run(run) for run in runs]
    names = [m["scenario"] for _, m, _ in loaded]
    if len(set(names)) != len(names):
        raise DataError(f"compare: scenario names repeat ({', '.join(names)}); expected different scenarios")
    differences = []
    for field_name, label in CHECKED.items():
        values = [m.get(field_name) for _, m, _ in loaded]
        if any(v != values[0] for v in values[1:]):
            if field_name == "packages":
                keys = sorted({k for v in values for k in (v or {}) if any((w or {}).get(k) != (v or {}).get(k)
                                                                           for w in values)})
                differences.append(f"{label} ({', '.join(keys)})")
            else:
                differences.append(f"{label} ({', '.join(f'{n}: {v}' for n, v in zip(names, values))})")
    if differences and not force:
        raise DataError(f"compare: the runs differ in {'; '.join(differences)}; their numbers are not comparable "
                        "(pass --force to compare them anyway)")
    shared = set.intersection(*[set(_indicators(results)) for results, _, _ in loaded])
    if not shared:
        raise DataError("compare: the runs share no indicator; expected runs that measure the same things")
    first = loaded[0][0]
    parts = [_side(first, BASELINE, shared)] + [_side(results, name, shared)
                                                for (results, _, _), name in zip(loaded, names)]
    combined = xr.concat(parts, dim="scenario", join="outer", coords="minimal", compat="override")
    for key in shared:
        hidden = xr.concat([results[f"{key}__suppressed"] for results, _, _ in loaded], dim="run").any("run")
        for variable in [v for v in combined.data_vars if v.startswith(f"{key}__") and "zone" in combined[v].dims]:
            combined[variable] = combined[variable].where(~hidden)
        combined[f"{key}__suppressed"] = hidden
    combined.attrs = {"scenarios": json.dumps(names), "twin": loaded[0][1].get("twin", "")}
    return Comparison(names, combined, [m for _, m, _ in loaded], [s for _, _, s in loaded],
                      loaded[0][1].get("twin_reference") or loaded[0][1].get("twin", ""))


def _indicators(results: xr.Dataset) -> list[str]:
    return sorted({name.split("__")[0] for name in results.data_vars if "__" in name})


def _side(results: xr.Dataset, name: str, keys: set[str]) -> xr.Dataset:
    """One scenario's (or the baseline's) values of the shared indicators, without change or count variables."""
    chosen = [v for v in results.data_vars if v.split("__")[0] in keys and "scenario" in results[v].dims
              and not v.split("__")[1].startswith("change_")]
    source = BASELINE if name == BASELINE else name
    return results[chosen].sel(scenario=[source]).assign_coords(scenario=[name])
