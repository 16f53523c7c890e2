"""Benchmark: building the default twin from OSM vs loading it from its cache (the 2 s target), with peak memory.

Run: .venv/bin/python bench/twin.py [--repeats 5]
The peer is plain pyogrio reading every table of the same twin folder (I/O without building graphs), measured in
the same run. Times are measured without tracemalloc; peak memory in a second, traced pass.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path


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
    build_s, twin = timed(lambda: sandbox.build_twin(helsinki_pbf(), name="helsinki", calibration="helsinki-centre"),
                          max(1, args.repeats // 2))
    sandbox.save_twin(twin, folder)
    load_s, loaded = timed(lambda: sandbox.read_twin(folder), args.repeats)
    gpkg = folder / "layers.gpkg"
    peer_s, _ = timed(lambda: [pyogrio.read_dataframe(gpkg, layer=name, use_arrow=True)
                               for name, _ in pyogrio.list_layers(gpkg)], args.repeats)
    assert loaded.fingerprint() == twin.fingerprint(), "a cached twin must equal the built one"
    tracemalloc.start()
    sandbox.build_twin(helsinki_pbf(), name="helsinki", calibration="helsinki-centre")
    build_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    sandbox.read_twin(folder)
    load_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    print(f"{'step':<34}{'seconds':>10}{'peak MiB':>10}")
    print(f"{'import sandbox':<34}{import_s:>10.2f}{'':>10}")
    print(f"{'build default twin from OSM':<34}{build_s:>10.2f}{build_peak / 2**20:>10.0f}")
    print(f"{'load cached twin (read_twin)':<34}{load_s:>10.2f}{load_peak / 2**20:>10.0f}")
    print(f"{'peer: pyogrio reads the tables':<34}{peer_s:>10.2f}")
    print(f"ratio build / cached load: {build_s / load_s:.1f}x; cached load / peer: {load_s / peer_s:.1f}x")
    print(f"cached load: {load_s:.2f} s (target < 2 s): {'PASS' if load_s < 2 else 'MISS'}; "
          f"with a cold interpreter's imports {import_s + load_s:.2f} s")


if __name__ == "__main__":
    main()
