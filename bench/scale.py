"""City scale: time and peak memory per stage of a flood scenario with three indicators on synthetic towns of several
sizes, with each stage's fitted growth exponent; and a 16-member sweep on 1 and on 2 workers beside the same sweep
as a plain Python loop.

Run ``python bench/scale.py [--kind metro] [--sizes 20000,200000,1000000] [--members 16] [--sweep-households 20000]``.
Each size runs in its own process, so that one size's memory does not inflate the next one's peak. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import peak_rss, peak_rss_mb  # noqa: E402  (bench/timing.py, beside this script)

# What the issue asks at 1M households (about 1M walk nodes): run (plan, apply, indicators, compare) <= 60 s, write
# <= 30 s, peak <= 8 GiB; every stage growing no faster than N^1.1.
TARGETS = {"run_s": 60.0, "write_s": 30.0, "peak_mb": 8 * 1024.0, "exponent": 1.1}
STAGES = ("build", "save", "load", "plan", "apply", "indicators", "compare", "write")


def scenario_text(reference: str, *, level_m: float = 2.0, sweep: list[float] | None = None) -> str:
    """A storm surge on the town and three indicators (walk to care, parks on foot, drive to care)."""
    text = f"""schema_version: 1
name: scale-flood
twin: "{reference}"
seed: 1
interventions:
  - type: flood
    name: storm surge
    hazard: water_level
    level_m: {level_m}
indicators:
  - {{measure: nearest, to: care, minutes: [5, 10]}}
  - {{measure: within, to: parks, minutes: [10]}}
  - {{measure: nearest, to: care, mode: drive, minutes: [3, 5]}}
groups: [all, elderly, elderly_alone, children]
"""
    if sweep is not None:
        text += f"sweep:\n  interventions[0].level_m: [{', '.join(f'{v:g}' for v in sweep)}]\n"
    return text


def child(kind: str, households: int, seed: int) -> dict:
    """One size, every stage, in this process: seconds and peak RSS (MB) per stage."""
    import sandbox
    from sandbox.scenarios.load import parse_scenario
    from sandbox.scenarios.plan import apply, plan
    from sandbox.synth import town
    from sandbox.indicators import compute_indicators
    from sandbox.compare import compare
    from sandbox.run import run_scenario

    out: dict = {"households": households}

    def stage(name: str, fn):
        start = time.perf_counter()
        result, peak = peak_rss(fn)
        out[f"{name}_s"] = round(time.perf_counter() - start, 3)
        out[f"{name}_mb"] = round(peak.peak_mb)
        print(f"  {households:>9,} {name:<10} {out[f'{name}_s']:8.2f} s  peak {out[f'{name}_mb']:,} MB", flush=True)
        return result

    twin = stage("build", lambda: town(kind=kind, households=households, seed=seed))
    out["walk_nodes"] = twin.networks["walk"].n_nodes
    with tempfile.TemporaryDirectory() as folder:
        stage("save", lambda: sandbox.save_twin(twin, Path(folder) / "twin"))
        stage("load", lambda: sandbox.load_twin(Path(folder) / "twin"))
    spec = parse_scenario(scenario_text(f"synthetic:{kind}?households={households}&seed={seed}"))
    planned = stage("plan", lambda: plan(spec, twin))
    variant = stage("apply", lambda: (apply(planned), planned.flood_impacts)[0])
    before = stage("indicators", lambda: (compute_indicators(twin, spec.indicators, groups=spec.groups),
                                          compute_indicators(variant, spec.indicators, groups=spec.groups)))
    stage("compare", lambda: compare(*before))
    run = run_scenario(spec, twin=twin)  # the same stages again, through the front door, for the write
    with tempfile.TemporaryDirectory() as folder:
        stage("write", lambda: run.write(Path(folder) / "run"))
    out["run_s"] = round(sum(out[f"{s}_s"] for s in ("plan", "apply", "indicators", "compare")), 3)
    out["peak_mb"] = round(peak_rss_mb())
    return out


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(households): 1 is linear."""
    if len(sizes) < 2 or min(seconds) <= 0:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def sweep_section(args: argparse.Namespace) -> list[str]:
    """The same 16 flood levels three ways: a plain loop of run_scenario on one twin, and run_sweep on 1 and on 2
    workers of a LocalCluster (each worker builds the town once from its reference)."""
    import sandbox
    from sandbox.scenarios.load import parse_scenario
    from sandbox.sweep import run_sweep

    reference = f"synthetic:{args.kind}?households={args.sweep_households}&seed={args.seed}"
    levels = list(np.round(np.linspace(0.5, 2.75, args.members), 2))
    lines = [f"sweep: {args.members} flood levels on {reference}"]
    start = time.perf_counter()
    twin = sandbox.load_twin(reference)
    for level in levels:
        sandbox.run_scenario(parse_scenario(scenario_text(reference, level_m=float(level))), twin=twin)
    loop_s = time.perf_counter() - start
    lines.append(f"  plain loop (one process, the twin built once): {loop_s:.1f} s")
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sweep.yaml"
        path.write_text(scenario_text(reference, sweep=[float(v) for v in levels]))
        for workers in (1, 2):
            start = time.perf_counter()
            run_sweep(path, out=Path(folder) / f"out{workers}", workers=workers)
            times[workers] = time.perf_counter() - start
            lines.append(f"  run_sweep on {workers} worker(s): {times[workers]:.1f} s")
    speedup = times[1] / times[2]
    verdict = "PASS" if speedup >= 1.7 else "MISS"
    lines.append(f"  speed-up 2 workers / 1 worker: {speedup:.2f}x ({verdict}, target >= 1.7x); loop / 2 workers: "
                 f"{loop_s / times[2]:.2f}x")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="metro", help="synthetic town: metro (about one walk node per household) "
                                                        "or riverside")
    parser.add_argument("--sizes", default="20000,200000,1000000", help="households, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=int, default=16, help="sweep members (0: skip the sweep)")
    parser.add_argument("--sweep-households", type=int, default=20000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.kind, args.child, args.seed)), flush=True)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for households in sizes:
        print(f"{args.kind} town of {households:,} households (own process)", flush=True)
        done = subprocess.run([sys.executable, __file__, "--kind", args.kind, "--seed", str(args.seed),
                               "--child", str(households)], capture_output=True, text=True)
        print("".join(line + "\n" for line in done.stdout.splitlines() if not line.startswith("RESULT ")), end="")
        result = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not result:
            print(f"  failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        rows.append(json.loads(result[0].removeprefix("RESULT ")))

    print("\n## stages (seconds; peak RSS of the process during the stage, MB)")
    print(f"{'households':>10} {'walk nodes':>10} " + " ".join(f"{s:>12}" for s in STAGES) + f" {'peak MB':>9}")
    for r in rows:
        cells = " ".join(f"{r[f'{s}_s']:>6.1f}/{r[f'{s}_mb']:>5,}" for s in STAGES)
        print(f"{r['households']:>10,} {r['walk_nodes']:>10,} {cells} {r['peak_mb']:>9,}")
    if len(rows) >= 2:
        sizes_done = [r["households"] for r in rows]
        fitted = {s: exponent(sizes_done, [r[f"{s}_s"] for r in rows]) for s in STAGES}
        print("growth exponent (time ~ N^e): " + ", ".join(f"{s} {e:.2f}" for s, e in fitted.items()))
        for s, e in fitted.items():
            if not math.isnan(e):
                print(f"{'PASS' if e <= TARGETS['exponent'] else 'MISS'}  {s}: N^{e:.2f} (target <= N^1.1)")
    largest = max(rows, key=lambda r: r["households"], default=None)
    if largest is not None and largest["households"] >= 1_000_000:
        for name, value, unit in (("run", largest["run_s"], "s"), ("write", largest["write_s"], "s"),
                                  ("peak", largest["peak_mb"], "MB")):
            target = TARGETS[f"{name}_{'mb' if unit == 'MB' else 's'}"]
            print(f"{'PASS' if value <= target else 'MISS'}  1M households: {name} {value:,.1f} {unit} (target <= "
                  f"{target:,.0f} {unit})")
    if args.members:
        print()
        for line in sweep_section(args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
