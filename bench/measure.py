"""Measure benchmark: a warm accessibility measure on a twin against networkx's multi-source Dijkstra over the same
walking graph.

Run ``python bench/measure.py [--repeats 20] [--large]``. A warm measure reuses the search graph cached on the twin,
so its call should cost little more than its kernel; networkx is timed in the same run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sandbox  # noqa: E402
from sandbox import Twin, access, routing  # noqa: E402
from timing import peak_rss_mb, reset_peak, rss_mb, timed  # noqa: E402  (bench/timing.py, beside this script)

SHARED_DATA = Path(os.environ.get("SANDBOX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CLOSED_SHARE = 0.05  # share of walking edges closed in the variant twin
HEADER = ("case", "nodes", "households", "measure", "ours_s", "ours/nx")
WIDTHS = (10, 7, 10, 46, 9, 7)


def once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def warm_up() -> None:
    """Load the numba kernels, so that no first call includes their compilation."""
    graph = routing.compile_graph(np.array([0, 1]), np.array([1, 0]), np.ones(2), n_nodes=2)
    routing.nearest(graph, np.array([0]))
    routing.count_within(graph, np.array([0]), cutoff=[1.0, 2.0])
    routing.two_step_fca(graph, np.array([0]), supply=np.ones(1), demand=np.ones(2), cutoff=1.0)


def _format(row: tuple) -> str:
    cells = []
    for value, width in zip(row, WIDTHS):
        text = f"{value:.4f}" if isinstance(value, float) and width == 9 else (
            f"{value:.2f}" if isinstance(value, float) else str(value))
        cells.append(text.rjust(width) if isinstance(value, (int, float)) else text.ljust(width))
    return " ".join(cells)


def run_case(name: str, twin: Twin, repeats: int, rows: list[tuple]) -> bool:
    """Time the measures on ``twin``; True when a warm nearest is no slower than networkx."""
    start_mb = rss_mb()[0]
    exact = reset_peak()
    net = twin.networks["walk"]
    graph = net.to_networkx()  # the peer's graph
    care = access.destinations(twin, "care")
    n, households = net.n_nodes, len(twin.households)
    print(f"\n## {name}: {n:,} walk nodes, {net.n_edges:,} edges, {households:,} households, "
          f"{len(care)} care facilities", flush=True)

    def row(measure: str, seconds: float, nx_s: float) -> None:
        rows.append((name, n, households, measure, seconds, seconds / nx_s))
        print(_format(rows[-1]), flush=True)

    build_s = once(lambda: access.search_graph(twin, "care"))  # compiles the network, snaps, builds the CSR
    points = care.geometry.representative_point()
    positions = np.unique(cKDTree(net.xy).query(np.column_stack([points.x, points.y]))[1])
    sources = net.node_ids[positions].tolist()
    peer = nx.multi_source_dijkstra_path_length(graph, sources, weight="travel_time_s")
    ours, _ = routing.nearest(net.time, positions)
    if not np.allclose(ours[pd.Index(net.node_ids).get_indexer(list(peer))], list(peer.values()), rtol=0, atol=1e-6):
        raise SystemExit(f"DISAGREE: {name}: routing.nearest on the compiled walk graph differs from networkx")
    nx_s = timed(lambda: nx.multi_source_dijkstra_path_length(graph, sources, weight="travel_time_s"), repeats)
    search = access.search_graph(twin, "care")
    nearest_s = timed(lambda: access.nearest(twin, "care"), repeats)
    row(f"networkx multi_source_dijkstra ({len(sources)} nodes)", nx_s, nx_s)
    row("nearest care: warm", nearest_s, nx_s)
    row("nearest care: kernel (routing.nearest)", timed(lambda: routing.nearest(search.graph, search.source_ids),
                                                        repeats), nx_s)
    row("search graph: first build (compile+snap+CSR)", build_s, nx_s)
    factors = np.where(np.random.default_rng(0).random(net.n_edges) < CLOSED_SHARE, np.inf, 1.0)
    closed = twin.replace(edge_factors={"walk": factors})
    row(f"search graph: {CLOSED_SHARE:.0%} streets closed (new weights)",
        once(lambda: access.search_graph(closed, "care")), nx_s)
    variant = twin.replace(edge_factors={"walk": factors})  # a fresh object: nothing cached but the structure
    row("nearest care: closed, first call (+fingerprint)", once(lambda: access.nearest(variant, "care")), nx_s)
    row("nearest care: closed, warm", timed(lambda: access.nearest(variant, "care"), repeats), nx_s)
    row("within parks 5/10/15 min: warm", timed(lambda: access.within(twin, "parks", minutes=[5, 10, 15]), repeats),
        nx_s)
    row("supply parks area_m2: warm", timed(lambda: access.supply(twin, "parks", capacity="area_m2"), repeats), nx_s)
    print(f"agree: yes ({name}: routing.nearest on the walk graph matched networkx from the same nodes)")
    if exact:
        peak_mb = rss_mb()[1]
        print(f"memory: peak RSS during this case {peak_mb:,.0f} MB (+{peak_mb - start_mb:,.0f} MB over its start, "
              "with the twin already loaded)", flush=True)
    else:
        print(f"memory: peak RSS so far {peak_rss_mb():,.0f} MB", flush=True)
    return nearest_s <= nx_s


def large_twin() -> Twin | None:
    """A twin built from the largest OSM extract in ../shared/data/helsinki/osm, or None when there is none."""
    extracts = sorted((SHARED_DATA / "helsinki" / "osm").glob("*.osm.pbf"), key=lambda p: p.stat().st_size)
    if not extracts:
        return None
    start = time.perf_counter()
    twin = sandbox.build_twin(extracts[-1], name="large", calibration="helsinki-centre")
    print(f"built {extracts[-1].name} in {time.perf_counter() - start:.1f} s", flush=True)
    return twin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per measure (median), after a warm-up")
    parser.add_argument("--large", action="store_true", help="also a twin built from ../shared/data's OSM extract")
    args = parser.parse_args(argv)
    print(f"sandbox measure benchmark; {os.cpu_count()} cores, python {sys.version.split()[0]}")
    warm_up()
    rows: list[tuple] = []
    verdicts = {}
    print(_format(HEADER))
    cases: list[tuple[str, Callable[[], Twin | None]]] = [("helsinki", lambda: sandbox.load_twin("helsinki"))]
    if args.large:
        cases.append(("large", large_twin))
    for name, load in cases:
        twin = load()
        if twin is None:
            print(f"\nnote: {name} skipped: no .osm.pbf in {SHARED_DATA / 'helsinki' / 'osm'}")
            continue
        verdicts[name] = run_case(name, twin, args.repeats, rows)
    print("\n## table (ours/nx = ours_s / networkx multi-source Dijkstra over the same graph; < 1: ours is faster)")
    print(_format(HEADER))
    for row in rows:
        print(_format(row))
    print(f"peak RSS: {peak_rss_mb():,.0f} MB (whole process)")
    for name, ok in verdicts.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}: warm nearest care no slower than networkx's multi-source Dijkstra")


if __name__ == "__main__":
    main()
