"""Sweeps: one scenario over a range of values (a grid of swept keys, or alternative interventions), every member run
on a dask.distributed cluster, combined along the swept dimensions into one results tree.

Why it is built this way:

- The twin reaches each worker once: synthetic towns and named twins are loaded on each worker by their reference
  (a 50k-household town is generated in about 2 s, quicker than pickling, sending and unpickling its 16 MB), a twin
  folder is loaded once here and scattered to every worker (``broadcast=True``), since a remote worker may not see
  the folder. Either way every member on a worker uses the same twin object, so what is cached on it (compiled
  street networks, search graphs) is built once per worker.
- The baseline's indicators do not depend on the member: they are computed once per worker, keyed on everything
  that can change them (the twin's fingerprint, the indicators, groups, transit options and seed).
- Each member is published exactly as ``sandbox run`` publishes a run (``compare``: small cells hidden), and the
  combined tree hides a zone in every member where any member hides it, as ``sandbox compare`` does, so no pair of
  members gives away what one of them hides.
- Resumable: each finished member is written at once to ``<out>/<name>.sweep-work/members/`` (a temporary file,
  then ``os.replace``); a rerun of the same sweep (same file, inputs and version) runs only the members missing.
  The output folder is written whole (``_io.staged_folder``) from the members' files, so a resumed sweep gives the
  same results as one that was never interrupted; the work folder is deleted when the output is in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ._errors import DataError, SandboxError, ScenarioError, writing
from ._io import folder_lock, sha256_file, staged_folder
from .catalog import NAMED_TWINS, load_twin
from .compare import compare
from .indicators import compute_indicators
from .output.folders import write_json
from .output.netcdf import open_results, write_results
from .output.sweep_report import crossing_sentences, render_sweep_report
from .output.tables import write_csv
from .results import BASELINE, CHANGE, CONVENTIONS, SCENARIO, indicator_names
from .run import REFERENCES, StageClock, package_versions, run_attributes, scenario_text, twin_reference
from .scenarios.load import load_scenario
from .scenarios.plan import apply, plan
from .scenarios.spec import Scenario, Sweep, SweepMember, sweep_dimensions
from .twin import Twin

STOP_AFTER_ENV = "SANDBOX_SWEEP_STOP_AFTER"  # fault injection for tests: stop after this many members are written
WORK_SUFFIX = ".sweep-work"
CONNECT_TIMEOUT_S = 15  # a scheduler that does not answer within this is not there
Ship = Literal["auto", "reference", "scatter"]


# --- on the workers -----------------------------------------------------------------------------------------------


class TwinByReference:
    """A named or synthetic twin, loaded on each worker from its reference (once per worker process)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference

    def twin(self) -> Twin:
        if _WORKER_TWIN.get("reference") != self.reference:
            _WORKER_TWIN.clear()
            _WORKER_TWIN.update(reference=self.reference, twin=load_twin(self.reference))
        return _WORKER_TWIN["twin"]


class ShippedTwin:
    """A twin sent to the workers: pickled as its parts (the Twin keeps read-only mappings, which pickle refuses)
    and rebuilt once where it arrives, with its fingerprint, so that it is not hashed again."""

    def __init__(self, twin: Twin) -> None:
        self._twin = twin

    def twin(self) -> Twin:
        return self._twin

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        twin = self._twin
        parts = {f.name: getattr(twin, f.name) for f in dataclasses.fields(twin) if f.init}
        parts = {name: dict(value) if name in ("layers", "networks", "edge_factors", "provenance") else value
                 for name, value in parts.items()}
        return _unship, (parts, twin.fingerprint())


def _unship(parts: dict[str, Any], fingerprint: str) -> ShippedTwin:
    twin = Twin(**parts)
    twin.cache["fingerprint"] = fingerprint
    return ShippedTwin(twin)


# Per worker process: the twin loaded by reference, the baselines' indicators, and one member at a time (the
# twin's caches are filled as members run; a worker with several threads runs its members one after another).
_WORKER_TWIN: dict[str, Any] = {}
_BASELINES: OrderedDict[tuple[str, ...], xr.DataTree] = OrderedDict()
_BASELINES_KEPT = 4
_WORKER_LOCK = threading.Lock()


@dataclass
class MemberResult:
    """What a worker sends back for one member: its published results, or the problems that stopped it."""

    index: int
    results: xr.DataTree | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    worker: str = "local"
    baseline: str = "computed"  # or "cached": computed for an earlier member on the same worker
    cpu_s: float = 0.0  # the worker's CPU time for the member: far below the stages' sum when cores are shared
    netcdf: bytes = b""  # the member file's content


def baseline_key(twin: Twin, scenario: Scenario) -> tuple[str, ...]:
    """Everything that can change the baseline's indicators."""
    return (twin.fingerprint(), json.dumps([i.model_dump(mode="json") for i in scenario.indicators]),
            json.dumps(list(scenario.groups)), scenario.transit.model_dump_json(), str(scenario.seed))


def run_member(source: TwinByReference | ShippedTwin, member: SweepMember, key: str) -> MemberResult:
    """Run one member (plan, apply, indicators of the variant, compare with the cached baseline), as
    ``run_scenario`` does, and encode its member file here (the driver only writes the bytes: encoding NetCDF
    costs about as much as a small member, and the workers do it in parallel). A user's problem comes back as
    text, not as an exception."""
    scenario, index = member.scenario, member.index
    with _WORKER_LOCK:
        clock = StageClock()
        lap = clock.lap
        cpu = time.process_time()

        out = MemberResult(index, None, worker=_worker_name())
        try:
            twin = source.twin()
            cached = baseline_key(twin, scenario)
            lap("load")
            before = _BASELINES.get(cached)
            if before is None:
                before = compute_indicators(twin, scenario.indicators, groups=scenario.groups,
                                            transit=scenario.transit)
                _BASELINES[cached] = before
                while len(_BASELINES) > _BASELINES_KEPT:
                    _BASELINES.popitem(last=False)
            else:
                _BASELINES.move_to_end(cached)
                out.baseline = "cached"
            lap("baseline")
            planned = plan(scenario, twin)
            out.notes, out.warnings = list(planned.notes), list(planned.warnings)
            if planned.problems:
                out.problems = list(planned.problems)
                return out
            lap("plan")
            variant = apply(planned)
            lap("apply")
            after = compute_indicators(variant, scenario.indicators, groups=scenario.groups,
                                       transit=scenario.transit)
            lap("indicators")
            results = compare(before, after, k=scenario.outputs.k)
            results.attrs = run_attributes(scenario, twin, variant)
            lap("compare")
        except SandboxError as exc:
            out.problems = getattr(exc, "problems", None) or str(exc).splitlines()
            return out
        out.timings, out.cpu_s = clock.timings, round(time.process_time() - cpu, 3)
        record = {"index": index, "label": member_label(member), "values": member.values, "timings_s": clock.timings,
                  "cpu_s": out.cpu_s, "worker": out.worker, "baseline": out.baseline, "notes": out.notes,
                  "warnings": out.warnings}
        results.attrs = {**results.attrs, "sweep_key": key, "sweep_member": json.dumps(record, default=str)}
        out.results, out.netcdf = results, _encoded(results)
        return out


def _encoded(tree: xr.DataTree) -> bytes:
    """The member file's bytes, written through a temporary file of the worker's. Inside a Dask task xarray would
    take a cluster-wide lock named after the file: with the synchronous scheduler it takes a local one."""
    import dask

    handle, name = tempfile.mkstemp(suffix=".nc", prefix="sandbox-member-")
    os.close(handle)
    try:
        with dask.config.set(scheduler="synchronous"):
            write_results(tree, name)
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


def _worker_name() -> str:
    try:
        from dask.distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


# --- the driver ---------------------------------------------------------------------------------------------------


@dataclass
class SweepRun:
    """A finished sweep: its folder, the combined results, the crossing sentences and the manifest."""

    folder: Path
    results: xr.DataTree
    sentences: list[str]
    manifest: dict[str, Any]
    resumed: int = 0


def work_folder(out: str | Path, name: str) -> Path:
    """Where a sweep's finished members wait until the output is written: beside the output folder."""
    return Path(out) / f"{name}{WORK_SUFFIX}"


def sweep_key(scenario: Scenario, members: Sequence[SweepMember]) -> tuple[str, dict[str, str | None]]:
    """What makes two sweeps the same (the file, every file it names, the sandbox version), and the inputs'
    hashes: members written by another sweep are never reused."""
    inputs: dict[str, str | None] = {}
    if scenario.source is not None:
        inputs[str(scenario.source)] = sha256_file(scenario.source)
    else:
        inputs["<scenario>"] = hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()
    reference = twin_reference(scenario)
    if isinstance(reference, Path):  # a twin folder: twin.json holds the sha256 of each of its files
        inputs[str(reference / "twin.json")] = sha256_file(reference / "twin.json")
    base = scenario.base_dir or Path.cwd()
    for member in members:
        for intervention in member.scenario.interventions:
            for name in intervention.input_files():
                if name not in inputs:
                    inputs[name] = sha256_file(base / name)
    digest = hashlib.sha256(json.dumps([inputs, package_versions().get("sandbox"), scenario.twin],
                                       sort_keys=True).encode())
    return digest.hexdigest()[:16], inputs


def run_sweep(scenario: Scenario | str | Path, *, out: str | Path = "runs", workers: int | None = None,
              scheduler: str | None = None, ship: Ship = "auto", allow_paths: Sequence[str | Path] = (),
              say: Callable[[str], None] | None = None,
              advance: Callable[[int, int], None] | None = None) -> SweepRun:
    """Run every member of a scenario's sweep on a Dask cluster and write ``<out>/<name>/``: results.nc (the
    swept keys as dimensions), sweep.csv, report.html and manifest.json.

    Parameters
    ----------
    scenario
        A Scenario with a ``sweep``, or its YAML file.
    out
        The folder for the output folder (named after the scenario) and the work folder beside it.
    workers
        Workers of the local cluster started here (default: one per CPU); not with ``scheduler``.
    scheduler
        The address of a running Dask scheduler (``tcp://host:8786``) to run the members on instead.
    ship
        How the twin reaches the workers: ``reference`` (each worker loads it: named and synthetic twins),
        ``scatter`` (loaded here, sent to every worker), ``auto`` (reference where possible).
    say, advance
        Called with a line to show (the cluster, resumed members), and with (members done, members in all).

    Raises
    ------
    ScenarioError
        The file has no sweep, or a member does not fit the twin (its lines, with the member's values).
    """
    say = say or (lambda line: None)
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, allow_paths=allow_paths)
    require_sweep(scenario)
    if scheduler is not None and workers is not None:
        raise SandboxError("--workers: only for the local cluster started here; with --scheduler the cluster's own "
                           "workers run the members")
    members = scenario.sweep_members()
    folder = Path(out) / scenario.name
    work = work_folder(out, scenario.name)
    key, inputs = sweep_key(scenario, members)
    with _one_at_a_time(work):  # a second run of the same sweep would share its work folder
        done = _resume(work, key, scenario, len(members), say)
        todo = [member for member in members if member.index not in done]
        timings: dict[str, float] = {}
        cluster_info: dict[str, Any] = {}
        fresh: dict[int, xr.DataTree] = {}
        if todo:
            try:
                cluster_info, timings, fresh = _run_members(scenario, todo, work, key, len(members) - len(todo),
                                                            len(members), workers=workers, scheduler=scheduler,
                                                            ship=ship, say=say, advance=advance)
            except BaseException:
                if not any((work / "members").glob("*.nc")):  # nothing to resume from: leave nothing behind
                    shutil.rmtree(work, ignore_errors=True)
                raise
        elif advance:
            advance(len(members), len(members))
        clock = time.perf_counter()
        # members run now are at hand; earlier ones are read back (the same tree: results.nc reads back identical)
        trees = [fresh[member.index] if member.index in fresh else _read_member(work, member.index)
                 for member in members]
        if any(tree is None for tree in trees):
            raise DataError(f"{work}: a member's file disappeared while the sweep ran; run the sweep again")
        results = combine(trees, scenario)  # type: ignore[arg-type]
        sentences = crossing_sentences(results, scenario.sweep)
        timings["combine_s"] = round(time.perf_counter() - clock, 3)
        records = [json.loads(tree.attrs["sweep_member"]) for tree in trees]  # type: ignore[union-attr]
        for record in records:
            record["resumed"] = record["index"] in done
        clock = time.perf_counter()
        manifest = _manifest(scenario, results, inputs, key, records, cluster_info, timings)
        page = render_sweep_report(results, scenario.sweep, name=scenario.name, description=scenario.description,
                                   groups=scenario.groups, sentences=sentences, members=records,
                                   scenario_text=scenario_text(scenario))
        with writing(folder), staged_folder(folder) as staging:
            write_results(results, staging / "results.nc")
            write_csv(sweep_table(results, scenario.sweep), staging / "sweep.csv")
            (staging / "report.html").write_text(page, encoding="utf-8")
            manifest["timings_s"]["write_s"] = round(time.perf_counter() - clock, 3)
            manifest["timings_s"]["total_s"] = round(time.perf_counter() - started, 3)
            write_json(staging / "manifest.json", manifest)
        shutil.rmtree(work, ignore_errors=True)
        return SweepRun(folder, results, sentences, manifest, resumed=len(done))


@contextlib.contextmanager
def _one_at_a_time(work: Path) -> Iterator[None]:
    """Hold the work folder's lock for the whole sweep: another process running the same sweep into the same
    folder stops at once, in one line, instead of deleting the members this one is reading."""
    with contextlib.ExitStack() as held:
        with writing(work):
            held.enter_context(folder_lock(work, timeout=0))
        yield


def require_sweep(scenario: Scenario) -> None:
    """ScenarioError unless the scenario declares a sweep."""
    if scenario.sweep is None:
        raise ScenarioError(f"{scenario.source or scenario.name}: no sweep in this scenario; expected a sweep: "
                            "mapping of paths to values, e.g. sweep: {interventions[0].level_m: [0.5, 1.0, 1.5]} (or "
                            "run it with `sandbox run`)")


def _resume(work: Path, key: str, scenario: Scenario, count: int, say: Callable[[str], None]) -> set[int]:
    """The members already written by an earlier run of the same sweep; a different sweep's are discarded."""
    state = work / "sweep.json"
    members = work / "members"
    try:
        earlier = json.loads(state.read_text(encoding="utf-8")).get("key")
    except (OSError, ValueError, AttributeError):
        earlier = None
    with writing(work):
        if earlier != key and work.exists():
            if any(members.glob("*.nc")):
                say(f"{work}: written by a different sweep (the file, a file it names or the sandbox version "
                    "changed); starting again")
            shutil.rmtree(work)
        members.mkdir(parents=True, exist_ok=True)
        if earlier != key:
            _write_atomic(state, lambda path: write_json(path, {"key": key, "scenario": scenario.name,
                                                                "file": str(scenario.source), "members": count}))
    done = {index for index in range(count) if _read_member(work, index) is not None}
    if done:
        say(f"resuming: {len(done)} of {count} members already written in {work}; running the other "
            f"{count - len(done)}")
    return done


def _member_file(work: Path, index: int) -> Path:
    return work / "members" / f"{index:04d}.nc"


def _read_member(work: Path, index: int) -> xr.DataTree | None:
    path = _member_file(work, index)
    if not path.is_file():
        return None
    try:
        return open_results(path)
    except DataError:
        return None  # unreadable (it should not happen: files are renamed into place whole): run it again


def _write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through a temporary file beside ``path``, renamed into place: a kill leaves the old file or the new
    one, never a part."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _run_members(scenario: Scenario, todo: list[SweepMember], work: Path, key: str, already: int, total: int, *,
                 workers: int | None, scheduler: str | None, ship: Ship, say: Callable[[str], None],
                 advance: Callable[[int, int], None] | None
                 ) -> tuple[dict[str, Any], dict[str, float], dict[int, xr.DataTree]]:
    """Start (or join) the cluster, ship the twin, run the members and write each as soon as it is done; the
    cluster's description, the timings and the members' results."""
    from dask.distributed import Client, LocalCluster, as_completed

    clock = StageClock()
    cluster = None
    stop_after = _stop_after()
    if scheduler is None:
        count = workers or os.cpu_count() or 1
        # Each worker joins points to the streets on its share of the cores (network.threads), not on all of them,
        # unless SANDBOX_THREADS says how many.
        share = {"SANDBOX_THREADS": os.environ.get("SANDBOX_THREADS") or str(max(1, (os.cpu_count() or 1) // count))}
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                               env=share)
        client = Client(cluster)
        info = {"scheduler": "local", "address": cluster.scheduler_address, "workers": count,
                "dashboard": cluster.dashboard_link}
        say(f"started a local Dask cluster of {count} worker{'s' if count > 1 else ''}; dashboard "
            f"{cluster.dashboard_link}")
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SandboxError(f"--scheduler {scheduler}: cannot connect ({' '.join(str(exc).split())}); expected "
                               "the address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786") from None
        count = len(client.scheduler_info().get("workers", {}))
        info = {"scheduler": scheduler, "workers": count, "dashboard": client.dashboard_link}
        say(f"using the Dask cluster at {scheduler} ({count} worker{'s' if count != 1 else ''}); dashboard "
            f"{client.dashboard_link}")
    try:
        clock.lap("cluster")
        reference = twin_reference(scenario)
        by_reference = isinstance(reference, str) and (reference in NAMED_TWINS or reference.startswith("synthetic:"))
        if ship == "scatter" or (ship == "auto" and not by_reference):
            source: Any = client.scatter(ShippedTwin(load_twin(reference)), broadcast=True, hash=False)
            info["twin"] = "scattered to every worker (loaded here once)"
        else:
            if not by_reference:
                raise SandboxError(f"{scenario.twin}: a twin folder cannot be loaded by reference on the workers; "
                                   "expected ship='scatter' or 'auto'")
            source = TwinByReference(str(reference))
            info["twin"] = "loaded on each worker from its reference"
        clock.lap("ship")
        token = uuid.uuid4().hex[:8]  # keys of this run only: a cancelled member of an earlier run may still run
        futures = [client.submit(run_member, source, member, key, pure=False,
                                 key=f"sweep-{scenario.name}-{member.index}-{token}") for member in todo]
        by_index = {member.index: member for member in todo}
        fresh: dict[int, xr.DataTree] = {}
        written = 0
        if advance:
            advance(already, total)
        for future in as_completed(futures):
            result: MemberResult = future.result()
            member = by_index[result.index]
            if result.problems:
                for other in futures:
                    other.cancel()
                raise ScenarioError([f"{line} (sweep member {member_label(member)})" for line in result.problems])
            fresh[member.index] = _write_member(work, result)
            written += 1
            if advance:
                advance(already + written, total)
            if stop_after is not None and written >= stop_after:
                for other in futures:
                    other.cancel()
                print(f"stopping after {written} members ({STOP_AFTER_ENV}={stop_after})", file=sys.stderr)
                raise SystemExit(3)
        clock.lap("members")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return info, clock.timings, fresh


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _stop_after() -> int | None:
    raw = os.environ.get(STOP_AFTER_ENV, "").strip()
    return int(raw) if raw.isdigit() else None


def member_label(member: SweepMember) -> str:
    """``level_m = 1.5``: a member by its swept values."""
    dims = sweep_dimensions(member.values)
    return ", ".join(f"{dims[key]} = {_label(value)}" for key, value in member.values.items())


def _label(value: Any) -> str:
    """A swept value as a coordinate or in a label: a number as written, true/false as in YAML, an alternative
    intervention by its name (else its type)."""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("type") or "alternative")
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _write_member(work: Path, result: MemberResult) -> xr.DataTree:
    """A finished member as members/<index>.nc (as the worker encoded it: its values, timings and worker are in
    the root's attributes)."""
    assert result.results is not None
    with writing(work):
        _write_atomic(_member_file(work, result.index), lambda path: path.write_bytes(result.netcdf))
    return result.results


# --- combining the members ------------------------------------------------------------------------------------------


def coordinates(sweep: Sweep) -> dict[str, xr.Variable]:
    """One coordinate per swept key, named by :func:`sweep_dimensions`: the values when they are numbers or text,
    else the alternatives' names (or 'alternative 1', ...)."""
    dims = sweep_dimensions(sweep.axes)
    out = {}
    for key, values in sweep.axes.items():
        dim = dims[key]
        attrs = {"long_name": f"swept: {key}"}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            data = np.asarray(values, dtype="int64" if all(isinstance(v, int) for v in values) else "float64")
            attrs["units"] = "m" if dim.endswith("_m") else "min" if dim.endswith("_min") else "1"
        elif all(isinstance(v, (str, bool)) for v in values):
            data = np.asarray([_label(v) for v in values])
        else:
            labels = [_label(v) for v in values]
            if len(set(labels)) < len(labels):
                labels = [f"{i + 1}: {label}" for i, label in enumerate(labels)]
            data = np.asarray(labels)
        out[dim] = xr.Variable(dim, data, attrs)
    return out


def combine(trees: Sequence[xr.DataTree], scenario: Scenario) -> xr.DataTree:
    """The members' published trees as one, over the swept dimensions (the first key outermost). Only what is
    published per side is kept (as ``sandbox compare`` keeps it); a zone hidden in any member is hidden in all;
    ``group_share_reaching`` (1 - share_not_reaching per group) is added for the curves."""
    sweep = scenario.sweep
    assert sweep is not None
    fingerprints = {str(tree.attrs.get("twin_fingerprint")) for tree in trees}
    if len(fingerprints) > 1:
        raise DataError(f"sweep {scenario.name}: members were computed on different twins (fingerprints "
                        f"{', '.join(sorted(fingerprints))}); expected workers running the same sandbox version")
    coords = coordinates(sweep)
    dims = list(coords)
    shape = [len(values) for values in sweep.axes.values()]
    nodes: dict[str, xr.Dataset] = {"/": trees[0].to_dataset(inherit=False)}
    nodes["/"].attrs = _attributes(scenario, trees)
    for key in indicator_names(trees[0]):
        datasets = [tree[key].to_dataset(inherit=False) for tree in trees]
        hidden = xr.concat([ds["suppressed"] for ds in datasets], dim="member").any("member")
        names = [name for name, var in datasets[0].data_vars.items() if "side" in var.dims]
        parts = []
        for ds in datasets:
            part = ds[names]
            for name in names:
                if "zone" in part[name].dims:
                    part[name] = part[name].where(~hidden).assign_attrs(part[name].attrs)
            not_reaching = part["share_not_reaching"]
            reach = xr.concat([1 - not_reaching.sel(side=[BASELINE, SCENARIO]), -not_reaching.sel(side=[CHANGE])],
                              dim="side").transpose(*not_reaching.dims)
            part["group_share_reaching"] = reach.assign_attrs(
                units="1", long_name="share of the group's residents reaching one within the time")
            parts.append(part)
        grid = np.empty(shape, dtype=object)
        for position, part in enumerate(parts):
            grid.flat[position] = part
        combined = xr.combine_nested(grid.tolist(), concat_dim=dims, combine_attrs="override")
        combined = combined.transpose(*dims, ...).assign_coords(coords)
        combined["suppressed"] = hidden.assign_attrs(datasets[0]["suppressed"].attrs)
        first = datasets[0].attrs
        nodes[key] = combined.assign_attrs({name: value for name, value in first.items() if name != "k"},
                                           k=max(int(ds.attrs.get("k", 0)) for ds in datasets))
    return xr.DataTree.from_dict(nodes)


def _attributes(scenario: Scenario, trees: Sequence[xr.DataTree]) -> dict[str, Any]:
    """CF-1.10 global attributes of the combined results, and what the sweep varied (no clock time: reruns give
    the same bytes; manifest.json says when)."""
    first = trees[0].attrs
    versions = package_versions()
    sweep = scenario.sweep
    assert sweep is not None
    return {
        "Conventions": CONVENTIONS,
        "title": f"Sweep: {scenario.name}",
        "summary": scenario.description,
        "institution": "",
        "source": str(first.get("source", "")),
        "history": f"sandbox {versions['sandbox']}: sandbox sweep {Path(scenario.source or scenario.name).name}",
        "references": REFERENCES,
        "scenario": scenario.name,
        "twin": str(first.get("twin", "")),
        "twin_reference": str(first.get("twin_reference", "")),
        "twin_fingerprint": str(first.get("twin_fingerprint", "")),
        "seed": scenario.seed,
        "k": max(int(tree.attrs.get("k", 0)) for tree in trees),
        "packages": str(first.get("packages", "")),
        "sweep_keys": json.dumps(sweep_dimensions(sweep.axes)),
        "sweep_limit": sweep.limit.model_dump_json(exclude_none=True) if sweep.limit else "",
        "sweep_members": len(trees),
    }


def sweep_table(results: xr.DataTree, sweep: Sweep) -> pd.DataFrame:
    """sweep.csv: every published value per group (no zone: those are in results.nc), one per row, with the
    swept values first: <swept keys>, indicator, variable, units, group, minutes, side, value."""
    dims = list(sweep_dimensions(sweep.axes).values())
    parts = []
    for key in indicator_names(results):
        node = results[key].to_dataset()
        for name, var in node.data_vars.items():
            if "zone" in var.dims or "side" not in var.dims:
                continue
            frame = var.reset_coords(drop=True).to_series().rename("value").reset_index()
            parts.append(frame.assign(indicator=key, variable=name, units=var.attrs.get("units", "")))
    columns = [*dims, "indicator", "variable", "units", "group", "minutes", "side", "value"]
    table = pd.concat(parts, ignore_index=True).reindex(columns=columns)
    return table.astype({"minutes": "float64", "value": "float64"})


def _manifest(scenario: Scenario, results: xr.DataTree, inputs: dict[str, str | None], key: str,
              records: list[dict[str, Any]], cluster: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    sweep = scenario.sweep
    assert sweep is not None
    return {
        "scenario": scenario.name,
        "sweep_key": key,
        "sweep": {"keys": sweep_dimensions(sweep.axes), "values": sweep.axes,
                  "limit": sweep.limit.model_dump(exclude_none=True) if sweep.limit else None},
        "twin": results.attrs.get("twin"),
        "twin_reference": results.attrs.get("twin_reference"),
        "twin_fingerprint": results.attrs.get("twin_fingerprint"),
        "seed": scenario.seed,
        "k": results.attrs.get("k"),
        "inputs_sha256": inputs,
        "packages": {**package_versions(), **{name: _version(name) for name in ("dask", "distributed")}},
        "cluster": cluster or {"scheduler": None, "note": "every member was already written: nothing ran"},
        "timings_s": dict(timings),
        "members": records,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
