"""run_scenario(): load -> plan -> apply -> indicators -> compare, and the Run that holds the outcome and writes it."""

from __future__ import annotations

import functools
import hashlib
import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr
import yaml

from ._errors import DataError, ScenarioError, writing
from ._io import sha256_file, staged_folder
from .catalog import NAMED_TWINS, load_twin
from .compare import compare, household_values, side_by_side
from .indicators import compute_indicators
from .output import folders, maps, tables
from .output import summary as summaries
from .output.changes import changes_layer
from .output.netcdf import open_results
from .output.report import render_report
from .results import CONVENTIONS, indicator_names
from .scenarios.load import load_scenario
from .scenarios.plan import Plan, apply, plan
from .scenarios.spec import Scenario
from .twin import Twin

PACKAGES = ("sandbox", "numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "networkx", "numba", "xarray",
            "pydeck", "pyrosm", "osmnx", "pydantic")
REFERENCES = ("Dijkstra (1959); two-step floating catchment: Luo and Wang (2003); JRC depth-damage functions: "
              "Huizinga, de Moel and Szewczyk (2017)")


@dataclass
class Run:
    """A scenario run: the baseline and the scenario twins, the plan that made one from the other, and the results.

    :attr:`results` is the published results tree (small cells hidden); :attr:`households` keeps each indicator's
    per-household values of both twins in memory, for notebooks; they are written only with ``allow_microdata``.
    """

    scenario: Scenario
    baseline: Twin
    twin: Twin
    plan: Plan
    results: xr.DataTree
    households: dict[str, tuple[xr.Dataset, xr.Dataset]]
    flood: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def k(self) -> int:
        return self.scenario.outputs.k

    @functools.cached_property
    def changes(self) -> gpd.GeoDataFrame:
        """What the scenario changed, as map features."""
        return changes_layer(self.baseline, self.twin,
                             flooded_buildings=None if self.flood is None else self.flood.buildings)

    def summary(self) -> dict[str, Any]:
        """Headline numbers in plain terms, small counts hidden: what summary.json, the report and the CLI say."""
        return summaries.summarise(self.results, scenario=self.scenario, notes=self.plan.notes, warnings=self.plan.warnings,
                                   effects=self.plan.effects, flood=self.flood)

    def map(self, indicator: str | None = None, *, group: str = "elderly", view: str = "change",
            minutes: float | None = None) -> maps.ZoneMap:
        """The map the report shows for one indicator, group, threshold (the longest by default) and view
        (``baseline``, ``scenario`` or ``change``); it displays inline in a notebook, offline."""
        return maps.scenario_map(self.results, indicator or indicator_names(self.results)[0], group=group,
                                 view=view, minutes=minutes, baseline=self.baseline, variant=self.twin,
                                 changes=self.changes)

    def to_geodataframe(self, indicator: str, *, group: str, minutes: float | None = None) -> gpd.GeoDataFrame:
        """One indicator for one group as zones with ``<variable>_<side>`` columns (small cells NULL)."""
        return tables.to_geodataframe(self.results, indicator, group=group, minutes=minutes)

    def manifest(self) -> dict[str, Any]:
        """What the run was made from and with: fingerprints, input hashes, package versions, seed, timings."""
        inputs = {str(path): sha256_file(path) for path in self.plan.input_files()}
        for layer, prov in self.baseline.provenance.items():
            if prov.get("sha256"):
                inputs[f"twin:{layer}:{prov.get('source', '')}"] = prov["sha256"]
        return {
            "scenario": self.name,
            "scenario_fingerprint": hashlib.sha256(self.scenario.model_dump_json().encode()).hexdigest()[:16],
            "twin": self.baseline.name,
            "twin_reference": str(twin_reference(self.scenario)),
            "twin_fingerprint": self.baseline.fingerprint(),
            "scenario_twin_fingerprint": self.twin.fingerprint(),
            "seed": self.scenario.seed,
            "k": self.k,
            "inputs_sha256": inputs,
            "packages": package_versions(),
            "timings_s": dict(self.timings),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": maps.credits(self.twin),
        }

    def write(self, folder: str | Path, *, allow_microdata: bool | None = None) -> Path:
        """Write the run folder (see the README's table) to a temporary folder, then move it into place.
        Household-level values are written (households.csv) only with ``allow_microdata``."""
        allow = self.scenario.outputs.allow_microdata if allow_microdata is None else allow_microdata
        started = time.perf_counter()
        extra = {"interventions": self.changes}
        if self.flood is not None:
            extra.update(flooded_buildings=self.flood.buildings, flooded_streets=self.flood.streets)
        with writing(folder), staged_folder(folder) as staging:
            folders.write_run_files(staging, results=self.results, summary=self.summary(), extra_layers=extra,
                                    report=self.report(), flood_depth=self.twin.flood_depth,
                                    microdata=microdata(self) if allow else None, baseline=self.baseline,
                                    variant=self.twin, changes=self.changes)
            timings = {**self.timings, "write_s": round(time.perf_counter() - started, 3)}
            folders.write_json(staging / "manifest.json",
                               {**self.manifest(), "microdata_written": bool(allow), "timings_s": timings})
        return Path(folder)

    def report(self) -> str:
        """The report page (HTML, offline)."""
        return render_report(self.results, self.summary(), baseline=self.baseline, variant=self.twin,
                             changes=self.changes, scenario_text=scenario_text(self.scenario))

    def __repr__(self) -> str:
        count = len(self.scenario.interventions)
        return (f"Run({self.name!r} on twin {self.baseline.name!r}: {count} intervention{'' if count == 1 else 's'}"
                f"{', a flood' if self.flood is not None else ''}; indicators "
                f"{', '.join(indicator_names(self.results)) or 'none'}; {self._timings_text()})")

    def _timings_text(self) -> str:
        stages = ", ".join(f"{stage.removesuffix('_s')} {seconds:.2f}" for stage, seconds in self.timings.items())
        return f"{sum(self.timings.values()):.2f} s ({stages})"

    def _repr_html_(self) -> str:

        def items(lines: list[str]) -> str:
            return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>" if lines else "none"

        summary = self.summary()
        description = f"<br>{html.escape(self.scenario.description)}" if self.scenario.description else ""
        rows = [("scenario", f"<b>{html.escape(self.name)}</b>{description}"),
                ("twin", html.escape(f"{self.baseline.name} (seed {self.scenario.seed}; zones with fewer than "
                                     f"{self.k} households hidden)")),
                ("headlines", items(summary.get("headlines", []))),
                ("interventions", items(self.plan.notes)),
                ("indicators", items([f"{key}: {item['what']}" for key, item in summary["indicators"].items()])),
                ("timings", html.escape(self._timings_text())),
                ("more", "<code>run.summary()</code>, <code>run.map(indicator, group=..., view=...)</code>, "
                         "<code>run.results</code>, <code>run.write(folder)</code>")]
        return ("<table>" + "".join(f'<tr><th style="text-align: left; vertical-align: top">{name}</th>'
                                    f'<td style="text-align: left">{cell}</td></tr>' for name, cell in rows)
                + "</table>")


@dataclass
class StageClock:
    """Seconds per stage of a run (``<stage>_s``), each lap timed from the end of the one before."""

    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[f"{stage}_s"] = round(now - self.started, 3)
        self.started = now


def run_scenario(scenario: Scenario | str | Path, *, twin: Twin | None = None,
                 progress: Callable[[str], None] | None = None) -> Run:
    """Run a scenario (a Scenario or a YAML path); the baseline twin is never changed.

    Raises ScenarioError listing every problem (file:line: field: what) when the scenario does not fit the twin.
    """
    step = progress or (lambda message: None)
    clock = StageClock()
    lap = clock.lap
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if twin is None:
        step(f"loading twin {scenario.twin}")
        twin = load_twin(twin_reference(scenario), progress=step)
    lap("load")
    step("planning the interventions")
    planned = plan(scenario, twin)
    if planned.problems:
        raise ScenarioError(planned.problems)
    lap("plan")
    variant = apply(planned)
    flood = planned.flood_impacts
    lap("apply")
    before = compute_indicators(twin, scenario.indicators, groups=scenario.groups, transit=scenario.transit,
                                progress=step)
    after = compute_indicators(variant, scenario.indicators, groups=scenario.groups, transit=scenario.transit,
                               progress=step)
    lap("indicators")
    results = compare(before, after, k=scenario.outputs.k)
    results.attrs = run_attributes(scenario, twin, variant)
    lap("compare")
    households = {key: (before[key].to_dataset(), after[key].to_dataset()) for key in indicator_names(before)}
    return Run(scenario, twin, variant, planned, results, households, flood, clock.timings)


def check(scenario: Scenario | str | Path, *, twin: Twin | None = None) -> Plan:
    """A dry run: the plan of a scenario (what each intervention touches, and every problem), without indicators."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if twin is None:
        twin = load_twin(twin_reference(scenario))
    return plan(scenario, twin)


def run_attributes(scenario: Scenario, baseline: Twin, variant: Twin) -> dict[str, Any]:
    """CF-1.10 global attributes of a run's results, plus what makes runs comparable (twin, seed, versions)."""
    versions = package_versions()
    return {
        "Conventions": CONVENTIONS,
        "title": f"What if: {scenario.name}",
        "summary": scenario.description,
        "institution": "",
        "source": f"sandbox {versions['sandbox']} scenario run on the twin '{baseline.name}'; data: "
                  + "; ".join(maps.credits(baseline)),
        # No clock time here, so reruns write byte-identical files; manifest.json says when the run was made.
        "history": f"sandbox {versions['sandbox']}: sandbox run {Path(scenario.source or scenario.name).name}",
        "references": REFERENCES,
        "scenario": scenario.name,
        "twin": baseline.name,
        "twin_reference": str(twin_reference(scenario)),
        "twin_fingerprint": baseline.fingerprint(),
        "scenario_twin_fingerprint": variant.fingerprint(),
        "seed": scenario.seed,
        "k": scenario.outputs.k,
        "packages": ", ".join(f"{name} {version}" for name, version in versions.items()),
    }


def open_run(folder: str | Path) -> xr.DataTree:
    """The results of a run folder, the same tree (attributes included) as the run's :attr:`Run.results`."""
    folder = Path(folder)
    if not (folder / "results.nc").is_file():
        raise DataError(f"{folder}: not a run folder (no results.nc); expected a folder written by `sandbox run`")
    return open_results(folder / "results.nc")


@dataclass
class Comparison:
    """Several scenario runs on one twin, side by side over a ``scenario`` dimension (the baseline first)."""

    names: list[str]
    results: xr.DataTree
    summaries: list[dict]
    twin_reference: str
    k: int


CHECKED = {"twin_fingerprint": "twin fingerprint", "seed": "seed", "packages": "package versions"}


def compare_runs(runs: Sequence[Run | str | Path], *, force: bool = False) -> Comparison:
    """Put runs (Run objects or run folders) side by side.

    Refuses runs made on different twins, with different seeds or package versions (says which differ) unless
    ``force``: their numbers would not be comparable.
    """
    if len(runs) < 2:
        raise DataError("compare: one run given; expected two or more runs to put side by side")
    trees = [run.results if isinstance(run, Run) else open_run(run) for run in runs]
    summaries_ = [run.summary() if isinstance(run, Run) else folders.read_summary(run) for run in runs]
    names = [str(tree.attrs.get("scenario")) for tree in trees]
    if len(set(names)) != len(names):
        raise DataError(f"compare: scenario names repeat ({', '.join(names)}); expected different scenarios")
    differences = []
    for key, label in CHECKED.items():
        values = [tree.attrs.get(key) for tree in trees]
        if any(value != values[0] for value in values[1:]):
            differences.append(f"{label} ({', '.join(f'{n}: {v}' for n, v in zip(names, values))})"
                               if key != "packages" else label)
    if differences and not force:
        raise DataError(f"compare: the runs differ in {'; '.join(differences)}; their numbers are not comparable "
                        "(pass --force to compare them anyway)")
    return Comparison(names, side_by_side(trees, names), summaries_, str(trees[0].attrs.get("twin_reference")),
                      max(int(tree.attrs["k"]) for tree in trees))


def twin_reference(scenario: Scenario) -> str | Path:
    """A named twin as is; a folder relative to the scenario file."""
    if scenario.twin in NAMED_TWINS or scenario.twin.startswith("synthetic:") or scenario.base_dir is None:
        return scenario.twin
    return (scenario.base_dir / scenario.twin).resolve()


def package_versions() -> dict[str, str | None]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def scenario_text(scenario: Scenario) -> str:
    """The scenario as the planner wrote it (the file), or as YAML when it was built in code."""
    if scenario.source is not None:
        return Path(scenario.source).read_text(encoding="utf-8")
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


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
