"""Sweeps (`sandbox sweep`): a scenario over a range of values on dask.distributed, combined along the swept keys,
with the crossing point of a limit; validation in one line per problem; resumable after a kill; on a cluster
started here or one given by --scheduler; and a 20-member sweep of a 50k-household town."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from sandbox import ScenarioError, load_scenario, open_run, run_scenario
from sandbox.cli import app
from sandbox.sweep import STOP_AFTER_ENV, run_sweep, work_folder

REPO = Path(__file__).resolve().parents[1]
SANDBOX = Path(sys.executable).with_name("sandbox")
runner = CliRunner()

FLOOD_SWEEP = """\
schema_version: 1
name: flood-levels
twin: synthetic:riverside?households=2000&seed=1
seed: 1
interventions:
  - type: flood
    hazard: water_level
    level_m: 2.0
indicators:
  - {measure: nearest, to: care, minutes: [5, 10]}
groups: [all, elderly]
sweep:
  interventions[0].level_m: [0.5, 1.0, 1.5, 2.0, 2.5]
  limit: {indicator: nearest-care-walk, group: elderly, minutes: 10, below: 0.4}
"""
CROSSING = re.compile(r"fall below 40% from level_m ([0-9.]+) \(\d+% at ([0-9.]+), \d+% at ([0-9.]+); \d+% today\)")


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two single-threaded workers, as `sandbox sweep` starts one; tests reach it by address
    (--scheduler), as they would reach any existing cluster."""
    from dask.distributed import LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                         dashboard_address=":0")
    yield local
    local.close()


@pytest.fixture(scope="module")
def flood_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "flood-levels.yaml"
    path.write_text(FLOOD_SWEEP)
    return path


@pytest.fixture(scope="module")
def flood_sweep(flood_file, tmp_path_factory):
    """The flood sweep run by the command, on a local cluster of two workers that it starts itself."""
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["sweep", str(flood_file), "--workers", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "flood-levels", result.output


def test_a_flood_sweep_has_a_level_dimension_curves_and_the_crossing(flood_sweep):
    folder, output = flood_sweep
    assert re.search(r"started a local Dask cluster of 2 workers; dashboard http://\S+", output)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "report.html", "results.nc", "sweep.csv"]
    assert not work_folder(folder.parent, "flood-levels").exists()  # the work folder goes once the output is whole
    results = open_run(folder)
    node = results["nearest-care-walk"]
    assert node.sizes["level_m"] == 5
    assert node["level_m"].to_numpy().tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert node["level_m"].attrs["units"] == "m"
    reach = node["group_share_reaching"].sel(side="scenario", group="elderly")
    for minutes in (5.0, 10.0):
        values = reach.sel(minutes=minutes).to_numpy()
        assert np.all(np.diff(values) <= 1e-9), values  # the higher the sea, the fewer reach care
    today = node["group_share_reaching"].sel(side="baseline", group="elderly", minutes=10.0).to_numpy()
    assert np.allclose(today, today[0]) and today[0] > reach.sel(minutes=10.0).to_numpy()[0]
    # the crossing: interpolated between the two members on either side of the limit, in the report and the CLI
    report = (folder / "report.html").read_text()
    match = CROSSING.search(report)
    assert match, report[:3000]
    level, below, above = (float(v) for v in match.groups())
    assert below < level < above and above - below == 0.5
    shares = reach.sel(minutes=10.0)
    assert float(shares.sel(level_m=below)) >= 0.4 > float(shares.sel(level_m=above))
    assert "Elderly residents (65+) reaching a health service" in output and match.group(0) in output
    assert report.count("<svg") >= 3 and "<script" not in report  # inline charts: offline, no CDN
    assert not re.search(r"(src|href)=", report)


def test_csv_and_manifest(flood_sweep, flood_file):
    folder, _ = flood_sweep
    table = pd.read_csv(folder / "sweep.csv")
    assert list(table.columns[:3]) == ["level_m", "indicator", "variable"]
    assert set(table["level_m"]) == {0.5, 1.0, 1.5, 2.0, 2.5}
    assert set(table["group"]) == {"all", "elderly"} and "zone" not in table.columns
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["inputs_sha256"][str(flood_file)] is not None
    assert manifest["seed"] == 1 and manifest["sweep"]["keys"] == {"interventions[0].level_m": "level_m"}
    assert [m["values"] for m in manifest["members"]] == [{"interventions[0].level_m": v}
                                                          for v in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert {m["baseline"] for m in manifest["members"]} == {"computed", "cached"}  # once per worker, not per member
    assert sum(m["baseline"] == "computed" for m in manifest["members"]) <= 2
    assert manifest["cluster"]["workers"] == 2 and manifest["packages"]["sandbox"]
    assert {"cluster_s", "members_s", "combine_s", "write_s", "total_s"} <= set(manifest["timings_s"])


def test_a_member_is_published_as_sandbox_run_publishes_it(flood_sweep, flood_file):
    folder, _ = flood_sweep
    results = open_run(folder)
    spec = load_scenario(flood_file)
    run = run_scenario(spec.sweep_members()[1].scenario)  # level 1.0
    expected = run.results["nearest-care-walk"].to_dataset()
    got = results["nearest-care-walk"].to_dataset().sel(level_m=1.0)
    for name in ("share_not_reaching", "residents_not_reaching", "group_residents", "share_unreachable"):
        xr.testing.assert_allclose(got[name].reset_coords(drop=True), expected[name].reset_coords(drop=True))
    # zonal values: hidden wherever the run hides them (and where any other member does)
    hidden = expected["suppressed"].to_numpy()
    assert results["nearest-care-walk"]["suppressed"].to_numpy()[hidden].all()
    shown = ~results["nearest-care-walk"]["suppressed"].to_numpy()
    np.testing.assert_allclose(got["households"].sel(side="scenario").to_numpy()[shown],
                               expected["households"].sel(side="scenario").to_numpy()[shown])


def test_a_grid_of_two_keys_on_an_existing_cluster(tmp_path, cluster):
    path = tmp_path / "grid.yaml"
    sweep = FLOOD_SWEEP.index("sweep:")
    path.write_text(FLOOD_SWEEP[:sweep] + """sweep:
  interventions[0].level_m: [1.0, 2.0]
  interventions[0].connected: [true, false]
  limit: {indicator: nearest-care-walk, group: elderly, below: 0.4}
""")
    result = runner.invoke(app, ["sweep", str(path), "--scheduler", cluster.scheduler_address,
                                 "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert f"using the Dask cluster at {cluster.scheduler_address} (2 workers)" in result.output
    folder = tmp_path / "runs" / "flood-levels"
    node = open_run(folder)["nearest-care-walk"]
    assert (node.sizes["level_m"], node.sizes["connected"]) == (2, 2)
    assert node["group_share_reaching"].dims[:2] == ("level_m", "connected")
    assert node["connected"].to_numpy().tolist() == ["true", "false"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["cluster"]["scheduler"] == cluster.scheduler_address
    assert [m["label"] for m in manifest["members"]] == ["level_m = 1, connected = true",
                                                         "level_m = 1, connected = false",
                                                         "level_m = 2, connected = true",
                                                         "level_m = 2, connected = false"]
    # one crossing sentence per value of the other key
    assert result.output.count("With connected = ") == 2
    # each member in its place in the grid: level 2.0 with a hollow flooding too (connected: false)
    member = load_scenario(path).sweep_members()[3]
    assert member.values == {"interventions[0].level_m": 2.0, "interventions[0].connected": False}
    run = run_scenario(member.scenario)
    xr.testing.assert_allclose(
        node["share_not_reaching"].sel(level_m=2.0, connected="false").to_dataset().reset_coords(drop=True),
        run.results["nearest-care-walk"]["share_not_reaching"].to_dataset().reset_coords(drop=True))


def test_alternative_interventions(tmp_path, cluster):
    """Three candidate sites for senior housing: a dimension named by the intervention, labelled by the names."""
    sites = {"near the riverside clinic": [24.93896, 60.15160], "by the hillside centre": [24.93424, 60.16090],
             "on the west side": [24.93000, 60.15800]}
    alternatives = "\n".join(
        f"    - {{type: add_housing, name: {name}, at: {at}, households: 60, levels: 4, "
        f"composition: {{elderly_alone: 0.7, elderly_couple: 0.3}}}}" for name, at in sites.items())
    path = tmp_path / "sites.yaml"
    path.write_text(f"""\
schema_version: 1
name: senior-housing-sites
twin: synthetic:riverside?households=2000&seed=1
interventions:
  - {{type: add_housing, name: near the riverside clinic, at: [24.93896, 60.15160], households: 60}}
indicators:
  - {{measure: nearest, to: care, minutes: [5, 10]}}
groups: [all, elderly, elderly_alone]
sweep:
  interventions[0]:
{alternatives}
  limit: {{indicator: nearest-care-walk, group: elderly_alone, minutes: 5, below: 0.25}}
""")
    result = run_sweep(path, out=tmp_path / "runs", scheduler=cluster.scheduler_address)
    node = result.results["nearest-care-walk"]
    assert node["interventions_0"].to_numpy().tolist() == list(sites)
    group_residents = node["group_residents"].sel(side="scenario", group="elderly_alone").to_numpy()
    assert np.all(group_residents > node["group_residents"].sel(side="baseline", group="elderly_alone").to_numpy())
    reach = node["group_share_reaching"].sel(side="scenario", group="elderly_alone", minutes=5.0).to_numpy()
    assert len(set(np.round(reach, 6))) > 1  # the sites differ
    assert len(result.sentences) == 1 and ("with near the riverside clinic" in result.sentences[0]
                                           or "with by the hillside centre" in result.sentences[0]
                                           or "with on the west side" in result.sentences[0])


def test_validation_errors_are_one_line_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLOOD_SWEEP.replace("  interventions[0].level_m: [0.5, 1.0, 1.5, 2.0, 2.5]\n",
                                       "  interventions[0].level: [0.5, 1.0]\n"
                                       "  interventions[2].level_m: [0.5, 1.0]\n"
                                       "  indicators[0].minutes: [5, 10]\n"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    assert caught.value.problems == [
        f"{bad}:13: sweep.interventions[0].level: 'level' is not a field of interventions[0] (flood); expected one "
        "of area, area_file, type, name, hazard, level_m, connected, raster_file, raster_crs, depth_m, "
        "resolution_m, passable_m, damage_curve, value_per_m2, return_periods",
        f"{bad}:14: sweep.interventions[2].level_m: interventions has 1 item; expected a position from 0 to 0",
        f"{bad}:15: sweep.indicators[0].minutes: 'indicators' cannot be swept; expected a path into "
        "interventions, seed, transit, outputs (a sweep varies what happens, not what is measured or where)"]
    values = tmp_path / "values.yaml"
    values.write_text(FLOOD_SWEEP.replace("[0.5, 1.0, 1.5, 2.0, 2.5]", "\n    - 0.5\n    - 60\n    - high\n    - 0.5")
                      .replace("below: 0.4}", "below: 40}").replace("group: elderly,", "group: elders,"))
    result = runner.invoke(app, ["sweep", str(values)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == [
        f"error: {values}:15: sweep.interventions[0].level_m[1]: 60 is too large; expected at most 50.0",
        f"error: {values}:16: sweep.interventions[0].level_m[2]: 'high' is not a number; expected a number such "
        "as 2.5",
        f"error: {values}:17: sweep.interventions[0].level_m[3]: 0.5 is listed twice (first as item 0); expected "
        "each value once",
        f"error: {values}:18: sweep.limit.group: unknown 'elders'; expected one of the scenario's groups: all, "
        "elderly",
        f"error: {values}:18: sweep.limit.below: 40 is not a share; expected a number from 0 to 1, e.g. 0.8 for "
        "80 %"]
    assert all(line.startswith(f"error: {values}:") for line in lines)
    assert not (tmp_path / "runs").exists()
    # a file without a sweep, and --workers with --scheduler
    result = runner.invoke(app, ["sweep", str(REPO / "scenarios" / "flood-riverside.yaml")])
    assert result.exit_code == 2 and "no sweep in this scenario" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_interrupted_sweep_resumes_and_gives_the_same_results(flood_sweep, flood_file, tmp_path, cluster):
    out = tmp_path / "runs"
    command = [str(SANDBOX), "sweep", str(flood_file), "--out", str(out), "--scheduler", cluster.scheduler_address]
    stopped = subprocess.run(command, capture_output=True, text=True, timeout=300,
                             env={**os.environ, STOP_AFTER_ENV: "3"})
    assert stopped.returncode != 0, stopped.stderr
    members = sorted(p.name for p in (work_folder(out, "flood-levels") / "members").glob("*.nc"))
    assert len(members) == 3 and not (out / "flood-levels").exists()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: 3 of 5 members already written" in resumed.stderr + resumed.stdout
    assert "(2 members run, 3 from an earlier run" in resumed.stdout
    manifest = json.loads((out / "flood-levels" / "manifest.json").read_text())
    assert sorted(m["index"] for m in manifest["members"] if m["resumed"]) == [int(n[:4]) for n in members]
    uninterrupted, _ = flood_sweep
    assert open_run(out / "flood-levels").identical(open_run(uninterrupted))
    assert not work_folder(out, "flood-levels").exists()


def test_a_sweep_killed_with_sigkill_resumes(tmp_path, cluster):
    """SIGKILL as soon as a member is written: the members on disk are whole and kept, the rerun runs the rest."""
    path = tmp_path / "flood-levels.yaml"
    levels = [0.25 * i for i in range(1, 11)]
    path.write_text(FLOOD_SWEEP.replace("[0.5, 1.0, 1.5, 2.0, 2.5]", str(levels)))
    out = tmp_path / "runs"
    members = work_folder(out, "flood-levels") / "members"
    command = [str(SANDBOX), "sweep", str(path), "--out", str(out), "--scheduler", cluster.scheduler_address]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(members.glob("*.nc")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    kept = sorted(int(p.name[:4]) for p in members.glob("*.nc"))
    assert 0 < len(kept) < len(levels) and not (out / "flood-levels").exists()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(kept)} of {len(levels)} members already written" in resumed.stderr
    manifest = json.loads((out / "flood-levels" / "manifest.json").read_text())
    assert sorted(m["index"] for m in manifest["members"] if m["resumed"]) == kept
    assert open_run(out / "flood-levels")["nearest-care-walk"].sizes["level_m"] == len(levels)


def test_a_changed_file_does_not_reuse_members(flood_file, tmp_path, cluster):
    out = tmp_path / "runs"
    path = tmp_path / "flood-levels.yaml"
    path.write_text(flood_file.read_text().replace("[0.5, 1.0, 1.5, 2.0, 2.5]", "[1.0, 2.0]"))
    members = work_folder(out, "flood-levels") / "members"
    members.mkdir(parents=True)
    (members / "0000.nc").write_bytes(b"left by another sweep")
    (members.parent / "sweep.json").write_text(json.dumps({"key": "another"}))
    said = []
    result = run_sweep(path, out=out, scheduler=cluster.scheduler_address, say=said.append)
    assert result.resumed == 0 and any("written by a different sweep" in line for line in said)


def test_a_50k_household_town_20_member_sweep(tmp_path):
    """The issue's "Done when": 20 flood levels on a 50,000-household town on a LocalCluster of two workers, with
    the curves and the crossing point (about 1.5 minutes on 2 cores)."""
    levels = [round(0.2 * i, 1) for i in range(1, 21)]
    path = tmp_path / "town-50k.yaml"
    path.write_text(f"""\
schema_version: 1
name: town-50k-levels
twin: synthetic:riverside?households=50000&seed=1
seed: 1
interventions:
  - {{type: flood, hazard: water_level, level_m: 2.0}}
indicators:
  - {{measure: nearest, to: care, minutes: [5, 10]}}
  - {{measure: within, to: grocery, minutes: [10]}}
groups: [all, elderly, elderly_alone]
sweep:
  interventions[0].level_m: {levels}
  limit: {{indicator: within-grocery-walk, group: elderly, below: 0.55}}
""")
    started = time.perf_counter()
    result = runner.invoke(app, ["sweep", str(path), "--workers", "2", "--out", str(tmp_path / "runs")])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    folder = tmp_path / "runs" / "town-50k-levels"
    node = open_run(folder)["within-grocery-walk"]
    assert node.sizes["level_m"] == 20
    match = re.search(r"fall below 55% from level_m ([0-9.]+) \(\d+% at ([0-9.]+), \d+% at ([0-9.]+);",
                      result.output)
    assert match, result.output
    level, low, high = (float(v) for v in match.groups())
    assert low < level < high and round(high - low, 6) == 0.2
    report = (folder / "report.html").read_text()
    assert report.count("<svg") == 4 and match.group(0) in report  # the limit, then 3 thresholds
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"\n50k town, 20 members on 2 workers: {seconds:.1f} s end to end; {manifest['timings_s']}")


def test_a_grid_combination_that_breaks_a_limit_is_named(tmp_path, monkeypatch):
    """Each value is valid alone; together two of them add more households than the limit allows."""
    monkeypatch.setenv("SANDBOX_MAX_NEW_HOUSEHOLDS", "150000")
    path = tmp_path / "grid.yaml"
    path.write_text("""\
schema_version: 1
name: grid
twin: synthetic:riverside?households=2000&seed=1
interventions:
  - {type: add_housing, at: [24.93, 60.155], households: 10}
  - {type: add_housing, at: [24.94, 60.155], households: 10}
sweep:
  interventions[0].households: [10, 90000]
  interventions[1].households: [10, 90000]
""")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:9: sweep.interventions[1].households[1]: together with interventions[0].households = 90000, "
        "interventions add 180,000 households in all (add_housing); expected at most 150,000 households added by "
        "one scenario (raise the limit with SANDBOX_MAX_NEW_HOUSEHOLDS)"]


def test_a_twin_folder_is_scattered_to_the_workers(tmp_path, cluster):
    """A twin folder may not be visible to a remote worker: it is read here once and sent to every worker."""
    from sandbox import load_twin, save_twin

    save_twin(load_twin("synthetic:riverside?households=2000&seed=1"), tmp_path / "town")
    path = tmp_path / "flood-levels.yaml"
    path.write_text(FLOOD_SWEEP.replace("synthetic:riverside?households=2000&seed=1", "town")
                    .replace("[0.5, 1.0, 1.5, 2.0, 2.5]", "[1.0, 2.0]"))
    result = run_sweep(path, out=tmp_path / "runs", scheduler=cluster.scheduler_address)
    assert result.manifest["cluster"]["twin"] == "scattered to every worker (loaded here once)"
    assert str(tmp_path / "town" / "twin.json") in result.manifest["inputs_sha256"]
    assert result.results["nearest-care-walk"].sizes["level_m"] == 2 and len(result.sentences) == 1
