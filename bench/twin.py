"""Benchmark: building the default twin from OSM vs loading it from its cache (the 2 s target), with peak memory.

Run: .venv/bin/python bench/twin.py [--repeats 5]
The peer is plain pyogrio reading every table of the same twin folder (I/O without building graphs), measured in
the same run. Memory is the process's peak RSS during one call of each step (Linux: the kernel's peak mark is reset
before the step and read after, bench/timing.py), and how far that peak rose over the RSS when the step started.
The build's peak is measured first, on a fresh interpreter with only the imports resident.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from timing import peak_rss, peak_rss_mb  # bench/timing.py, beside this script


def timed(function, repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    started = time.perf_counter()
    import sandbox
    from sandbox.catalog import helsinki_pbf
    import_s = time.perf_counter() - started

    import pyogrio

    folder = Path(tempfile.mkdtemp()) / "helsinki"

    def build():
        return sandbox.build_twin(helsinki_pbf(), name="helsinki", calibration="helsinki-centre")

    def read_tables():
        return [pyogrio.read_dataframe(gpkg, layer=name, use_arrow=True) for name, _ in pyogrio.list_layers(gpkg)]

    _, build_peak = peak_rss(build)  # first: nothing but the imports resident yet
    build_s, twin = timed(build, max(1, args.repeats // 2))
    sandbox.save_twin(twin, folder)
    gpkg = folder / "layers.gpkg"
    load_s, loaded = timed(lambda: sandbox.read_twin(folder), args.repeats)
    assert loaded.fingerprint() == twin.fingerprint(), "a cached twin must equal the built one"
    del twin, loaded
    gc.collect()
    _, load_peak = peak_rss(lambda: sandbox.read_twin(folder))
    peer_s, _ = timed(read_tables, args.repeats)
    _, peer_peak = peak_rss(read_tables)

    print(f"{'step':<34}{'seconds':>10}{'peak RSS MB':>13}{'+MB':>8}")
    print(f"{'import sandbox':<34}{import_s:>10.2f}")
    print(f"{'build default twin from OSM':<34}{build_s:>10.2f}{build_peak.peak_mb:>13.0f}{build_peak.added_mb:>8.0f}")
    print(f"{'load cached twin (read_twin)':<34}{load_s:>10.2f}{load_peak.peak_mb:>13.0f}{load_peak.added_mb:>8.0f}")
    print(f"{'peer: pyogrio reads the tables':<34}{peer_s:>10.2f}{peer_peak.peak_mb:>13.0f}{peer_peak.added_mb:>8.0f}")
    print("peak RSS MB: the process's peak while the step ran; +MB: how far it rose over the RSS at the step's start"
          + ("" if build_peak.exact else " (no /proc/self/clear_refs here: peaks are the process's so far)"))
    print(f"ratio build / cached load: {build_s / load_s:.1f}x; cached load / peer: {load_s / peer_s:.1f}x")
    print(f"cached load: {load_s:.2f} s (target < 2 s): {'PASS' if load_s < 2 else 'MISS'}; "
          f"with a cold interpreter's imports {import_s + load_s:.2f} s")
    print(f"process peak RSS: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
