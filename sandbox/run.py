"""run_scenario(): load, check, apply, measure, compare; a Run writes its folder atomically with a manifest."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from . import access, words
from ._errors import ScenarioError, TwinError
from .compare import BASELINE, EQUITY, compare, household_values, publishable
from .export import staged_folder, zone_table
from .privacy import DEFAULT_K
from .scenarios.interventions import Checked, check_scenario
from .scenarios.load import load_scenario
from .scenarios.spec import Scenario
from .twin import Twin

PACKAGES = ("sandbox", "numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "networkx", "numba", "xarray",
            "pydeck", "pyrosm", "osmnx", "pydantic")
VIEWS = ("baseline", "scenario", "change")


@dataclass
class Run:
    """A scenario run: the baseline and scenario twins, one compared Dataset per indicator, and what changed.

    ``indicators[key]`` keeps per-household values in memory (``baseline_households``/``scenario_households``);
    :attr:`results` and :meth:`write` publish only zone and group aggregates, small cells hidden.
    """

    scenario: Scenario
    baseline: Twin
    twin: Twin
    checked: Checked
    indicators: dict[str, xr.Dataset]
    households: dict[str, tuple[xr.Dataset, xr.Dataset]]
    timings: dict[str, float] = field(default_factory=dict)
    _published: dict[str, xr.Dataset] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def k(self) -> int:
        return self.scenario.outputs.k

    def published(self, key: str) -> xr.Dataset:
        """One indicator as it may be exported: zone cells hidden alike in baseline, scenario and change."""
        if key not in self._published:
            self._published[key] = publishable(self.indicators[key], k=self.k)
        return self._published[key]

    @functools.cached_property
    def changes(self) -> gpd.GeoDataFrame:
        """What the scenario changed, as map features (see :func:`intervention_layer`)."""
        return intervention_layer(self.baseline, self.twin)

    @property
    def results(self) -> xr.Dataset:
        """Every indicator in one Dataset over (scenario, zone, group, minutes), variables named
        ``<indicator>__<variable>``; small cells hidden."""
        parts = []
        for key in self.indicators:
            safe = self.published(key)
            prefix = key.replace("-", "_")
            renamed = safe.rename({name: f"{prefix}__{name}" for name in safe.data_vars})
            for name in renamed.data_vars:
                renamed[name].attrs = {**renamed[name].attrs, "indicator": key}
            parts.append(renamed.drop_attrs(deep=False))
        merged = xr.merge(parts, join="outer", compat="no_conflicts", combine_attrs="drop")
        merged.attrs = {"scenario": self.name, "twin": self.baseline.name, "seed": self.scenario.seed,
                        "k": self.k, "baseline_fingerprint": self.baseline.fingerprint(),
                        "scenario_fingerprint": self.twin.fingerprint(),
                        "indicators": json.dumps({key: _describe(ds) for key, ds in self.indicators.items()})}
        return merged

    @property
    def flood(self) -> Any:
        """The flood's impacts (FloodImpacts) when the scenario floods the twin, else None."""
        found = [o.extra["flood"] for o in self.checked.outcomes if "flood" in o.extra]
        return found[-1] if found else None

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Zone layers per indicator (baseline, scenario, change; the same cells hidden in all three) and the
        interventions' footprints."""
        out = {}
        for key, ds in self.indicators.items():
            safe = self.published(key)
            households = ds["households"].max("scenario")
            for view in VIEWS:
                part = _view(safe, view, self.name)
                out[f"{key.replace('-', '_')}_{view}"] = zone_table(self.baseline, part, k=self.k,
                                                                     households=households)
        out["interventions"] = self.changes
        if self.flood is not None:
            out["flooded_buildings"] = self.flood.buildings
            out["flooded_streets"] = self.flood.streets
        return out

    def map(self, indicator: str | None = None, group: str = "elderly", view: str = "change") -> Any:
        """A pydeck Deck of one indicator for one group: its ``baseline``, ``scenario`` or ``change``."""
        from .maps import scenario_map

        key = indicator or next(iter(self.indicators))
        if key not in self.indicators:
            raise TwinError(f"indicator: unknown '{key}'; expected one of {', '.join(self.indicators)}")
        return scenario_map(self, key, group=group, view=view).deck

    def summary(self) -> dict[str, Any]:
        """Headline numbers in plain terms: per indicator and group, reach before and after, winners, losers."""
        lines = {}
        for key, ds in self.indicators.items():
            safe = self.published(key)
            per_group = {}
            for group in ds["group"].to_numpy():
                row = {what: _count(safe[what].sel(group=group)) for what in EQUITY}
                share = 1 - safe["share_not_reaching"].sel(group=group)
                if "minutes" in share.dims:
                    share = share.isel(minutes=0)
                row["share_reaching"] = {BASELINE: _round(share.sel(scenario=BASELINE)),
                                         "scenario": _round(share.sel(scenario=self.name))}
                residents = safe["group_residents"].sel(group=group)
                row["residents_not_reaching"] = {
                    side: _count(((1 - share) * residents).sel(scenario=label).round())
                    for side, label in ((BASELINE, BASELINE), ("scenario", self.name))}
                row["gini"] = {BASELINE: _round(_first(safe["gini"].sel(group=group, scenario=BASELINE))),
                               "scenario": _round(_first(safe["gini"].sel(group=group, scenario=self.name)))}
                per_group[str(group)] = row
            lines[key] = {"what": _describe(ds), "groups": per_group}
        effects: dict[str, int] = {}
        for outcome in self.checked.outcomes:
            for name, value in outcome.counts.items():
                effects[name] = effects.get(name, 0) + value
        summary = {"scenario": self.name, "description": self.scenario.description, "twin": self.baseline.name,
                   "seed": self.scenario.seed, "k": self.k, "interventions": self.checked.notes,
                   "effects": effects, "indicators": lines}
        if self.flood is not None:
            summary["flood"] = _hide_small(self.flood.summary(), self.k)
        return summary

    def write(self, folder: str | Path, *, allow_microdata: bool | None = None) -> Path:
        """Write the run folder (report.html, layers.gpkg, results.nc, indicators.csv, summary.json,
        manifest.json) to a temporary folder, then move it into place. Household-level values are written
        (households.csv) only with ``allow_microdata``."""
        from .report import render_report

        allow = self.scenario.outputs.allow_microdata if allow_microdata is None else allow_microdata
        started = time.perf_counter()
        with staged_folder(folder) as staging:
            layers = self.layers
            for name, layer in layers.items():
                layer.to_file(staging / "layers.gpkg", layer=name, engine="pyogrio")
            results = self.results
            results.to_netcdf(staging / "results.nc", engine="h5netcdf")
            indicator_table(self).to_csv(staging / "indicators.csv", index=False)
            (staging / "summary.json").write_text(json.dumps(self.summary(), indent=2, default=_json))
            (staging / "report.html").write_text(render_report(self), encoding="utf-8")
            if self.twin.flood_depth is not None:
                self.twin.flood_depth.rio.to_raster(staging / "flood_depth.tif")
            if allow:
                microdata(self).to_csv(staging / "households.csv")
            timings = {**self.timings, "write_s": round(time.perf_counter() - started, 3)}
            (staging / "manifest.json").write_text(json.dumps(manifest(self, timings, allow), indent=2))
        return Path(folder)


def run_scenario(scenario: Scenario | str | Path, *, twin: Twin | None = None,
                 progress: Callable[[str], None] | None = None) -> Run:
    """Run a scenario (a Scenario or a YAML path): the baseline twin is never changed.

    Raises ScenarioError listing every problem (file:line: field: what) when the scenario does not fit the twin.
    """
    step = progress or (lambda message: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if twin is None:
        from .catalog import load_twin

        step(f"loading twin {scenario.twin}")
        twin = load_twin(_twin_reference(scenario), progress=step)
    timings["load_s"] = _lap(clock)
    step("checking and applying interventions")
    before = twin.fingerprint()
    checked = check_scenario(scenario, twin)
    problems = checked.problems + _indicator_problems(scenario, twin, checked.twin)
    if problems:
        raise ScenarioError(problems)
    timings["apply_s"] = _lap(clock) - timings["load_s"]
    indicators, households = {}, {}
    for indicator in scenario.indicators:
        step(f"computing {indicator.key}")
        sides = [access.compute(t, indicator.measure, indicator.to, mode=indicator.mode, minutes=indicator.minutes,
                                groups=scenario.groups, capacity=indicator.capacity) for t in (twin, checked.twin)]
        indicators[indicator.key] = compare(*sides, name=scenario.name)
        households[indicator.key] = (sides[0], sides[1])
    timings["indicators_s"] = _lap(clock) - timings["load_s"] - timings["apply_s"]
    if twin.fingerprint() != before:
        raise TwinError("the baseline twin changed during the run; this is a bug, please report it")
    return Run(scenario, twin, checked.twin, checked, indicators, households, timings)


def _lap(clock: float) -> float:
    return round(time.perf_counter() - clock, 3)


def _twin_reference(scenario: Scenario) -> str | Path:
    """A named twin as is; a folder relative to the scenario file."""
    from .catalog import NAMED_TWINS

    if scenario.twin in NAMED_TWINS or scenario.twin.startswith("synthetic:") or scenario.base_dir is None:
        return scenario.twin
    return (scenario.base_dir / scenario.twin).resolve()


def _indicator_problems(scenario: Scenario, baseline: Twin, changed: Twin) -> list[str]:
    """Indicators that cannot be computed (unknown destination, group or capacity), found before any work."""
    problems = []
    for index, indicator in enumerate(scenario.indicators):
        names = set(access.destination_names(baseline)) | set(access.destination_names(changed))
        if indicator.to not in names:
            problems.append(f"{scenario.where('indicators', index, 'to')}: unknown destination '{indicator.to}'; "
                            f"expected one of {', '.join(sorted(names))}")
        elif indicator.capacity is not None:
            features = access.destinations(baseline if indicator.to in access.destination_names(baseline)
                                           else changed, indicator.to)
            if indicator.capacity not in features.columns:
                numeric = [c for c in features.columns if c != "geometry" and
                           pd.api.types.is_numeric_dtype(features[c])]
                problems.append(f"{scenario.where('indicators', index, 'capacity')}: '{indicator.capacity}' is not "
                                f"a column of {indicator.to}; expected one of {', '.join(numeric)}")
    for index, group in enumerate(scenario.groups):
        try:
            access.group_weights(baseline.households, group)
        except TwinError as exc:
            problems.append(f"{scenario.where('groups', index)}: {str(exc).removeprefix('group: ')}")
    return problems


def _compared_zonal(safe: xr.Dataset) -> list[str]:
    """Zonal variables of a published comparison that have a baseline and a scenario side (not their changes
    nor the suppression flags)."""
    return [n for n in safe.data_vars if "zone" in safe[n].dims and not n.startswith("change_") and n != "suppressed"]


def _view(safe: xr.Dataset, view: str, name: str) -> xr.Dataset:
    """The baseline, the scenario or the change of a published comparison, as a plain indicator Dataset."""
    zonal = _compared_zonal(safe)
    if view == "change":
        part = xr.Dataset({n: safe[f"change_{n}"] for n in zonal if f"change_{n}" in safe})
        part["households"] = safe["households"].max("scenario")
    else:
        part = safe[zonal].sel(scenario=BASELINE if view == "baseline" else name, drop=True)
    return part.assign_attrs(safe.attrs)


def intervention_layer(baseline: Twin, changed: Twin) -> gpd.GeoDataFrame:
    """What the scenario changed, as map features: new or removed buildings and parks, closed streets."""
    rows = []
    for layer, label in (("buildings", "building"), ("parks", "park"), ("facilities", "facility"),
                         ("transit_stops", "transit stop")):
        before, after = baseline.layers[layer], changed.layers[layer]
        for index in after.index.difference(before.index):
            rows.append({"change": f"new {label}", "name": str(after.loc[index].get("name") or ""),
                         "geometry": after.geometry.loc[index]})
        for index in before.index.difference(after.index):
            rows.append({"change": f"removed {label}", "name": str(before.loc[index].get("name") or ""),
                         "geometry": before.geometry.loc[index]})
    for mode, factors in changed.edge_factors.items():
        old = baseline.travel_time_factors(mode)
        edges = list(changed.networks[mode].edges(data=True))
        for i in np.flatnonzero(factors != old):
            rows.append({"change": f"{mode} street {'closed' if np.isinf(factors[i]) else 'slowed'}",
                         "name": str(edges[i][2].get("name") or ""), "geometry": edges[i][2]["geometry"]})
    if changed.flood_depth is not None:
        from .hazards import flood

        depths = flood.building_depths(changed.flood_depth, changed.layers["buildings"])
        for index in depths.index[depths["max_depth_m"] > 0.05]:
            rows.append({"change": "flooded building", "name": f"{depths.loc[index, 'max_depth_m']:.2f} m of water",
                         "geometry": changed.layers["buildings"].geometry.loc[index]})
    frame = pd.DataFrame(rows, columns=["change", "name", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=baseline.crs)


def indicator_table(run: Run) -> pd.DataFrame:
    """indicators.csv: one row per indicator, group, zone and threshold; baseline, scenario and change of every
    zonal variable (small cells empty, flagged in ``suppressed``)."""
    frames = []
    for key in run.indicators:
        safe = run.published(key)
        zonal = _compared_zonal(safe)
        table = None
        for name in zonal:
            values = safe[name]
            wide = values.to_dataframe(name="value")["value"].unstack("scenario")
            wide = wide.rename(columns={BASELINE: f"{name}_baseline", run.name: f"{name}_scenario"})
            wide[f"{name}_change"] = safe[f"change_{name}"].to_dataframe(name="v")["v"].reindex(wide.index) \
                if f"change_{name}" in safe else np.nan
            table = wide if table is None else table.join(wide, how="outer")
        table = table.reset_index()
        table["suppressed"] = [bool(safe["suppressed"].sel(group=g, zone=z)) for g, z in
                               zip(table["group"], table["zone"])]
        table.insert(0, "indicator", key)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def microdata(run: Run) -> pd.DataFrame:
    """Per-household values before and after (only written when microdata is explicitly allowed)."""
    columns = {}
    for key, (before, after) in run.households.items():
        for label, ds in (("baseline", before), ("scenario", after)):
            values, _ = household_values(ds)
            if "group" in values.dims:
                values = values.sel(group=values["group"].to_numpy()[0])
            columns[f"{key}_{label}"] = values.to_pandas()
    return pd.DataFrame(columns).rename_axis("household_id")


def manifest(run: Run, timings: dict[str, float], allow_microdata: bool) -> dict[str, Any]:
    """What a run was made from and with: fingerprints, input hashes, package versions, seed, timings."""
    inputs = {}
    if run.scenario.source is not None:
        inputs[str(run.scenario.source)] = _sha256(Path(run.scenario.source))
    for intervention in run.scenario.interventions:
        for name in (getattr(intervention, "area_file", None), getattr(intervention, "raster_file", None)):
            if name and run.scenario.base_dir is not None:
                inputs[name] = _sha256(run.scenario.base_dir / name)
    for layer, prov in run.baseline.provenance.items():
        if prov.get("sha256"):
            inputs[f"twin:{layer}:{prov.get('source', '')}"] = prov["sha256"]
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "scenario": run.name,
        "scenario_fingerprint": hashlib.sha256(run.scenario.model_dump_json().encode()).hexdigest()[:16],
        "twin": run.baseline.name,
        "twin_reference": str(_twin_reference(run.scenario)),
        "twin_fingerprint": run.baseline.fingerprint(),
        "scenario_twin_fingerprint": run.twin.fingerprint(),
        "seed": run.scenario.seed,
        "k": run.k,
        "microdata_written": allow_microdata,
        "inputs_sha256": inputs,
        "packages": versions,
        "timings_s": timings,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": [f"{p.get('source', n)} ({p.get('licence', '')})" for n, p in run.baseline.provenance.items()],
    }


def _describe(ds: xr.Dataset) -> str:
    """The indicator in plain words, e.g. 'parks reachable within 10 min on foot'."""
    to, how = ds.attrs["to"], words.mode(ds.attrs["mode"])
    reach = f"{ds['minutes'].to_numpy()[0]:g} min"
    if ds.attrs["measure"] == "nearest":
        return f"time to the nearest {words.destination(to).split(' ', 1)[1]} {how} (reach: within {reach})"
    capacity = ds.attrs.get("capacity") or ds.attrs.get("weight")
    amount = words.amount(to, None if capacity in (None, "count") else capacity)
    if ds.attrs["measure"] == "within":
        return f"{amount} within {reach} {how}"
    return f"{amount} per resident within {reach} {how}, shared with everyone in reach (2SFCA)"


def _hide_small(flood_summary: dict, k: int) -> dict:
    """Counts of households and residents by group below ``k`` (but above 0) are hidden, as in zone tables."""
    for row in flood_summary["groups"].values():
        for name, value in row.items():
            if 0 < value < k:
                row[name] = "suppressed"
    return flood_summary


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _first(values: xr.DataArray) -> xr.DataArray:
    return values.isel(minutes=-1) if "minutes" in values.dims else values


def _round(value: xr.DataArray) -> float | None:
    number = float(value)
    return None if np.isnan(number) else round(number, 4)


def _count(value: xr.DataArray) -> int | str:
    number = float(value)
    return "suppressed" if np.isnan(number) else int(number)


def _json(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
