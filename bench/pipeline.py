"""Pipeline benchmark: every example scenario, warm, end to end (run and write), split by stage, against an earlier
revision of sandbox measured in the same run.

Run ``python bench/pipeline.py [--before 0002821] [--repeats 3]``. Each side runs in its own process (its own peak
memory, its own twin cache): the current checkout, and with ``--before`` the given git revision unpacked into a
temporary folder with ``git archive``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
STAGES = ("load_s", "plan_s", "apply_s", "indicators_s", "compare_s")


def measure(code: Path, repeats: int) -> dict:
    """Seconds per scenario and stage (medians of ``repeats`` warm runs) with the sandbox package found in ``code``."""
    sys.path.insert(0, str(code))
    import sandbox

    if Path(sandbox.__file__).resolve().parent != (code / "sandbox").resolve():
        raise SystemExit(f"imported {sandbox.__file__}, expected the package in {code}")
    twins: dict[str, object] = {}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for path in sorted(SCENARIOS.glob("*.yaml")):
            spec = sandbox.load_scenario(path)
            if spec.twin not in twins:
                twins[spec.twin] = sandbox.load_twin(spec.twin)
            samples: list[dict[str, float]] = []
            for attempt in range(repeats + 1):  # the first is a warm-up (numba kernels, caches on the twin)
                started = time.perf_counter()
                run = sandbox.run_scenario(spec, twin=twins[spec.twin])
                ran = time.perf_counter()
                run.write(Path(out) / f"{spec.name}-{attempt}")
                written = time.perf_counter()
                if attempt:
                    samples.append({**{stage: run.timings.get(stage, 0.0) for stage in STAGES},
                                    "run_s": ran - started, "write_s": written - ran})
            results[path.stem] = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
            print(f"  {path.stem}: run {results[path.stem]['run_s']:.2f} s, write {results[path.stem]['write_s']:.2f} s",
                  file=sys.stderr, flush=True)
    return {"version": sandbox.__version__, "scenarios": results,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def side(code: Path, repeats: int, cache: Path | None) -> dict:
    """One side measured in its own Python process; its numbers come back as JSON."""
    env = {**os.environ, **({"SANDBOX_CACHE": str(cache)} if cache else {})}
    done = subprocess.run([sys.executable, __file__, "--worker", str(code), "--repeats", str(repeats)],
                          env=env, capture_output=False, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def unpack(revision: str, into: Path) -> Path:
    """The package as it was at ``revision`` (scenarios are taken from the current checkout)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "sandbox", "pyproject.toml"],
                             stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="git revision to compare with (e.g. 0002821, before the pipeline refactor)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per scenario (median), after a warm-up")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.repeats)))
        return
    print(f"sandbox pipeline benchmark; {os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    print("after (this checkout):", file=sys.stderr, flush=True)
    after = side(REPO, args.repeats, None)
    before = None
    if args.before:
        with tempfile.TemporaryDirectory() as scratch:
            code = unpack(args.before, Path(scratch))
            print(f"before ({args.before}):", file=sys.stderr, flush=True)
            before = side(code, args.repeats, Path(scratch) / "cache")
    print("\n## stages, this checkout (seconds, median of warm runs)")
    print(f"{'scenario':30} " + " ".join(f"{s[:-2]:>10}" for s in (*STAGES, "run_s", "write_s")))
    for name, t in after["scenarios"].items():
        print(f"{name:30} " + " ".join(f"{t[s]:10.3f}" for s in (*STAGES, "run_s", "write_s")))
    if before:
        print(f"\n## before ({args.before}) / after: ratio > 1 means this checkout is faster")
        print(f"{'scenario':30} {'run before':>10} {'run after':>10} {'ratio':>6} "
              f"{'write before':>12} {'write after':>11} {'ratio':>6}")
        for name, t in after["scenarios"].items():
            b = before["scenarios"].get(name)
            if b is None:
                print(f"{name:30} (not in {args.before})")
                continue
            print(f"{name:30} {b['run_s']:10.2f} {t['run_s']:10.2f} {b['run_s'] / t['run_s']:6.1f} "
                  f"{b['write_s']:12.2f} {t['write_s']:11.2f} {b['write_s'] / t['write_s']:6.1f}")
        print(f"peak RSS: before {before['peak_rss_mb']:,.0f} MB, after {after['peak_rss_mb']:,.0f} MB")
    else:
        print(f"peak RSS: {after['peak_rss_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
