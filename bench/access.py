"""Accessibility benchmark: sandbox.routing against scipy, networkx and pandana on synthetic city graphs.

Run ``python bench/access.py [--sizes 10000,100000,1000000] [--quick]``. Every peer is measured in the same run on the
same graph; results are checked to agree before any time is printed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sandbox.routing import CSRGraph, compile_graph, count_within, nearest, two_step_fca  # noqa: E402

WITHIN_M = 1600.0  # 20 minutes at 1.33 m/s, on metre weights
FACILITIES = (50, 500, 5000)
ORIGIN_SHARE = 0.10
EDIT_SHARE = 0.05  # share of streets closed around a point
PANDANA_MAX_NODES = 20_000
PANDANA_NEAREST_M = 3000.0  # pandana needs a search radius for nearest; ours gets the same cutoff in that row
PANDANA_REL = 1e-5  # pandana's costs differ from exact ones by up to ~6 ppm (reduced precision inside)
PANDANA_ABS_M = 0.1  # and by a few cm on paths of hundreds of short segments (central Helsinki: 0.02-0.05 m)
DENSE_CHUNK_BYTES = 1 << 30  # plain scipy returns a dense (facilities x nodes) matrix: computed in chunks of 1 GB
DENSE_MAX_S = 120.0  # skip plain scipy when its estimated time is beyond this
SLOW_S = 2.0  # implementations slower than this are timed once
TARGETS_AT = 1_000_000
TARGETS = {  # (measure, facilities) -> seconds, single core, at 1M nodes
    ("nearest", None): 0.6, ("within", 5000): 0.3, ("2sfca", 5000): 0.2, ("edit", None): 0.010,
}
BYTES_PER_NODE = 64


@dataclass
class City:
    """A street graph as arrays: directed input edges ``u -> v`` with ``length`` in metres; ``street[i]`` is the
    street (segment) of input edge ``i``, shared by its two directions, so closing a street closes both."""

    name: str
    xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    street: np.ndarray

    @property
    def n(self) -> int:
        return len(self.xy)


def synthetic_city(n_nodes: int, *, seed: int = 0, block_m: float = 100.0, missing: float = 0.10,
                   diagonals: float = 0.05, jitter_m: float = 15.0) -> City:
    """A jittered grid of ``block_m`` blocks with ``missing`` of its segments removed and a few diagonals;
    every street two-way. Nodes are numbered row by row, as a city's nodes numbered along streets would be."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ids = np.arange(side * side).reshape(side, side)
    xy = np.stack(np.meshgrid(np.arange(side) * block_m, np.arange(side) * block_m), -1).reshape(-1, 2)
    xy += rng.uniform(-jitter_m, jitter_m, xy.shape)
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    keep = rng.random(len(a)) >= missing
    a, b = a[keep], b[keep]
    cells = ids[:-1, :-1].ravel()
    cells = cells[rng.random(len(cells)) < diagonals]
    anti = rng.random(len(cells)) < 0.5
    a = np.concatenate([a, np.where(anti, cells + 1, cells)])
    b = np.concatenate([b, np.where(anti, cells + side, cells + side + 1)])
    length = np.hypot(*(xy[a] - xy[b]).T)
    streets = np.arange(len(a))
    return City(f"grid-{_short(side * side)}", xy, np.concatenate([a, b]), np.concatenate([b, a]),
                np.concatenate([length, length]), np.concatenate([streets, streets]))


def helsinki_city() -> City:
    """The embedded default twin's walking network (central Helsinki, OpenStreetMap), as sandbox compiles it."""
    import sandbox
    from sandbox.network import compile_network

    net = compile_network(sandbox.load_twin("helsinki").networks["walk"])
    pairs = np.sort(np.column_stack([net.edge_u, net.edge_v]), axis=1)
    _, street = np.unique(pairs, axis=0, return_inverse=True)
    return City("helsinki", net.xy, net.edge_u.astype(np.int64), net.edge_v.astype(np.int64), net.length_m,
                street.ravel())


def cases(sizes: list[int]) -> list[tuple[str, Callable[[], City]]]:
    """The benchmark cases: (name, builder). Add a real city by appending (name, lambda: City(...))."""
    return [("helsinki", helsinki_city)] + [(f"grid-{_short(n)}", partial(synthetic_city, n, seed=n)) for n in sizes]


# ---------------------------------------------------------------------------------------------------------------
# Peers.


def nx_graph(city: City) -> nx.DiGraph:
    """A networkx DiGraph with the cheapest of any parallel edges (what networkx's Dijkstra would use)."""
    order = np.lexsort((city.length, city.v, city.u))
    u, v, w = city.u[order], city.v[order], city.length[order]
    first = np.ones(len(u), bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    graph = nx.DiGraph()
    graph.add_nodes_from(range(city.n))
    graph.add_weighted_edges_from(zip(u[first].tolist(), v[first].tolist(), w[first].tolist()))
    return graph


def as_array(costs: dict[int, float], n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    out[np.fromiter(costs.keys(), np.int64, len(costs))] = np.fromiter(costs.values(), np.float64, len(costs))
    return out


def nx_nearest(graph: nx.DiGraph, facilities: np.ndarray, n: int) -> np.ndarray:
    return as_array(nx.multi_source_dijkstra_path_length(graph, set(facilities.tolist())), n)


def nx_within(graph: nx.DiGraph, facilities: np.ndarray, n: int, cutoff: float) -> np.ndarray:
    counts = np.zeros(n, np.int64)
    for f in facilities.tolist():
        reached = nx.single_source_dijkstra_path_length(graph, f, cutoff=cutoff)
        counts[np.fromiter(reached.keys(), np.int64, len(reached))] += 1
    return counts


def nx_2sfca(graph: nx.DiGraph, facilities: np.ndarray, supply: np.ndarray, demand: np.ndarray,
             cutoff: float) -> np.ndarray:
    access = np.zeros(len(demand))
    for f, s in zip(facilities.tolist(), supply.tolist()):
        reached = nx.single_source_dijkstra_path_length(graph, f, cutoff=cutoff)
        nodes = np.fromiter(reached.keys(), np.int64, len(reached))
        served = demand[nodes].sum()
        if served > 0:
            access[nodes] += s / served
    return access


def scipy_rebuild(city: City, keep: np.ndarray) -> csr_matrix:
    """The street graph without the closed edges as a scipy matrix; of parallel edges (two ways between the
    same corners, common in real cities) the shortest is kept, since scipy would add their lengths up."""
    u, v, length = city.u[keep], city.v[keep], city.length[keep]
    order = np.lexsort((length, v, u))
    first = np.r_[True, (u[order][1:] != u[order][:-1]) | (v[order][1:] != v[order][:-1])]
    chosen = order[first]
    return csr_matrix((length[chosen], (u[chosen], v[chosen])), shape=(city.n, city.n))


def scipy_within(matrix: csr_matrix, facilities: np.ndarray, n: int, cutoff: float) -> np.ndarray:
    counts = np.zeros(n, np.int64)
    chunk = max(1, DENSE_CHUNK_BYTES // (8 * n))
    for start in range(0, len(facilities), chunk):
        dist = dijkstra(matrix, indices=facilities[start:start + chunk], limit=cutoff)
        counts += (dist <= cutoff).sum(axis=0)
    return counts


def nx_edit(graph: nx.DiGraph, removed: list[tuple[int, int]], n: int) -> CSRGraph:
    """The workflow the compiled graph avoids: edit the networkx graph, then compile it again."""
    graph.remove_edges_from(removed)
    edges = np.array(list(graph.edges(data="weight")), dtype=np.float64).reshape(-1, 3)
    return compile_graph(edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64), edges[:, 2], n_nodes=n)


def pandana_network(city: City):
    import pandana  # optional peer
    import pandas as pd

    with quiet_stdout():  # pandana's C++ prints its progress
        return pandana.Network(pd.Series(city.xy[:, 0]), pd.Series(city.xy[:, 1]), pd.Series(city.u),
                               pd.Series(city.v), pd.DataFrame({"length": city.length}), twoway=False)


@contextlib.contextmanager
def quiet_stdout():
    """Silence stdout at the file-descriptor level, which C extensions write to."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def pandana_nearest(net, city: City, facilities: np.ndarray, radius: float) -> np.ndarray:
    import pandas as pd

    net.set_pois("fac", maxdist=radius, maxitems=1, x_col=pd.Series(city.xy[facilities, 0]),
                 y_col=pd.Series(city.xy[facilities, 1]))
    return net.nearest_pois(radius, "fac", num_pois=1, max_distance=np.inf)[1].to_numpy()


def pandana_within(net, facilities: np.ndarray, cutoff: float) -> np.ndarray:
    import pandas as pd

    net.set(pd.Series(facilities), name="fac")
    return net.aggregate(cutoff, type="sum", decay="flat", name="fac").to_numpy()


# ---------------------------------------------------------------------------------------------------------------
# Timing, checks and the table.


@dataclass
class Bench:
    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    ours: dict[tuple, float] = field(default_factory=dict)

    def row(self, case: str, n: int, k: int | str, measure: str, ours_s: float, peer: str,
            peer_s: float | str) -> None:
        ratio = f"{peer_s / ours_s:.1f}" if isinstance(peer_s, float) and ours_s > 0 else "-"
        self.rows.append((case, n, k, measure, ours_s, peer, peer_s, ratio))
        print(_format(self.rows[-1]), flush=True)


def timed(fn: Callable[[], object], *, repeats: int = 5) -> tuple[object, float]:
    """(result, median seconds) of ``repeats`` runs; a run slower than SLOW_S is not repeated."""
    times, result = [], None
    gc.disable()  # as timeit does: a collection over networkx's millions of objects is noise, not the method
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
            if times[-1] > SLOW_S:
                break
    finally:
        gc.enable()
    return result, statistics.median(times)


def agree(what: str, ours: np.ndarray, peer: np.ndarray, *, tol: float = 1e-6, rel: float = 0.0) -> None:
    """Fail loudly unless two results are equal within ``tol`` (+ ``rel`` relative), inf matching inf."""
    ours, peer = np.asarray(ours, np.float64), np.asarray(peer, np.float64)
    same_inf = np.array_equal(np.isinf(ours), np.isinf(peer))
    finite = np.isfinite(ours) & np.isfinite(peer)
    gap = np.abs(ours[finite] - peer[finite])
    worst = float(gap.max()) if gap.size else 0.0
    if not same_inf or np.any(gap > tol + rel * np.abs(peer[finite])):
        raise SystemExit(f"DISAGREE: {what}: max |diff| {worst:.3g}, unreached nodes equal: {same_inf}")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux), so a phase's own peak can be read; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> tuple[float, float]:
    """(current, peak since the last reset) resident memory in MB."""
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return float(status["VmRSS"].split()[0]) / 1024, float(status["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError):
        return peak_rss_mb(), peak_rss_mb()


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 else str(n))


HEADER = ("case", "nodes", "facilities", "measure", "ours_s", "peer", "peer_s", "ratio")
WIDTHS = (10, 9, 10, 13, 9, 31, 9, 7)


def _format(row: tuple) -> str:
    cells = []
    for value, width in zip(row, WIDTHS):
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        cells.append(text.rjust(width) if isinstance(value, (int, float)) else text.ljust(width))
    return " ".join(cells)


def warm_up() -> None:
    """Load or compile every numba kernel on a tiny graph, so no timing includes compilation."""
    city = synthetic_city(100, seed=1)
    graph = compile_graph(city.u, city.v, city.length, n_nodes=city.n)
    fac = np.array([0, 5, 50])
    nearest(graph, fac)
    count_within(graph, fac, cutoff=WITHIN_M)
    two_step_fca(graph, fac, supply=np.ones(3), demand=np.ones(city.n), cutoff=WITHIN_M)
    graph.closed(np.array([0])).reversed()


# ---------------------------------------------------------------------------------------------------------------
# One case.


def run_case(name: str, build: Callable[[], City], bench: Bench, *, nx_max: int, seed: int) -> None:
    gc.collect()
    base_mb = rss_mb()[0]
    start = time.perf_counter()
    city = build()
    n, rng = city.n, np.random.default_rng(seed)
    graph, compile_s = timed(lambda: compile_graph(city.u, city.v, city.length, n_nodes=n), repeats=1)
    core = graph.nbytes / n
    with_map = (graph.nbytes + graph.edge_order.nbytes) / n
    print(f"\n## {name}: {n:,} nodes, {graph.n_edges:,} directed edges; built in {time.perf_counter() - start:.1f} s, "
          f"compiled in {compile_s:.3f} s; routing core {core:.1f} bytes/node ({with_map:.1f} with the edit map "
          f"edge_order)", flush=True)
    bench.ours[("bytes/node", n, None)] = core
    origins = np.sort(rng.choice(n, int(ORIGIN_SHARE * n), replace=False))
    demand = np.zeros(n)
    demand[origins] = 1.0  # one household per origin node
    # Facilities stand on nodes with coordinates of their own: pandana places them by coordinates, and a node
    # stacked on another (a bridge over a path) would send it to the wrong one.
    _, first, counts = np.unique(city.xy, axis=0, return_index=True, return_counts=True)
    placeable = np.sort(first[counts == 1])
    facility_sets = {k: np.sort(rng.choice(placeable, k, replace=False)) for k in FACILITIES if k < len(placeable)}
    loaded_mb = rss_mb()[0]
    exact_peak = reset_peak()

    # Ours first, so the peak memory below is the routing engine's own.
    ours: dict[tuple, tuple[object, float]] = {}
    for k, fac in facility_sets.items():
        supply = rng.integers(1, 10, k).astype(np.float64)
        ours[("nearest", k)] = timed(lambda: nearest(graph, fac)[0])
        ours[("within", k)] = timed(lambda: count_within(graph, fac, cutoff=WITHIN_M))
        ours[("2sfca", k)] = timed(lambda: two_step_fca(graph, fac, supply=supply, demand=demand, cutoff=WITHIN_M))
        ours[("supply", k)] = (supply, 0.0)
    centre = city.xy.mean(axis=0)
    streets = np.unique(city.street)
    mid = np.zeros((streets.max() + 1, 2))
    mid[city.street] = (city.xy[city.u] + city.xy[city.v]) / 2
    n_closed = int(EDIT_SHARE * len(streets))
    _, nearest_streets = cKDTree(mid[streets]).query(centre, k=n_closed)
    closed_edges = np.flatnonzero(np.isin(city.street, streets[nearest_streets]))
    edit_k = sorted(facility_sets)[len(facility_sets) // 2]
    edit_fac = facility_sets[edit_k]
    _, edit_s = timed(lambda: graph.closed(closed_edges), repeats=7)
    edited, both_s = timed(lambda: nearest(graph.closed(closed_edges), edit_fac)[0])
    now_mb, peak_mb = rss_mb()
    if exact_peak:
        print(f"memory: city + CSR graph +{loaded_mb - base_mb:,.0f} MB over {base_mb:,.0f} MB resident; "
              f"peak while ours ran {peak_mb:,.0f} MB (+{peak_mb - loaded_mb:,.0f} MB: search workspaces, the results "
              f"kept for the checks, edited weight copies)", flush=True)
    else:
        print(f"memory: peak RSS after ours {peak_rss_mb():,.0f} MB (whole process so far)", flush=True)
    matrix = csr_matrix((graph.weights, graph.indices, graph.indptr), shape=(n, n))

    # Peers, each checked against ours before its row is printed.
    use_nx = n <= nx_max
    if use_nx:
        nxg, nx_build_s = timed(lambda: nx_graph(city), repeats=1)
        print(f"networkx graph built in {nx_build_s:.1f} s", flush=True)
    else:
        bench.notes.append(f"{name}: networkx skipped (n > --nx-max-nodes {nx_max:,})")
    net = None
    if n <= PANDANA_MAX_NODES:
        try:
            net, pd_build_s = timed(lambda: pandana_network(city), repeats=1)
            print(f"pandana network (contraction hierarchy, 2 threads) built in {pd_build_s:.1f} s", flush=True)
        except Exception as error:  # an optional peer: say why and carry on
            bench.notes.append(f"{name}: pandana unavailable: {type(error).__name__}: {error}")
    else:
        bench.notes.append(f"{name}: pandana skipped (only run up to {PANDANA_MAX_NODES:,} nodes)")

    for k, fac in facility_sets.items():
        supply = ours[("supply", k)][0]
        # nearest
        dist, ours_s = ours[("nearest", k)]
        bench.ours[("nearest", n, k)] = ours_s
        peer, peer_s = timed(lambda: dijkstra(matrix, indices=fac, min_only=True))
        agree(f"{name} nearest k={k} vs scipy", dist, peer)
        bench.row(name, n, k, "nearest", ours_s, "scipy dijkstra min_only", peer_s)
        if use_nx:
            peer, peer_s = timed(lambda: nx_nearest(nxg, fac, n), repeats=3)
            agree(f"{name} nearest k={k} vs networkx", dist, peer)
            bench.row(name, n, k, "nearest", ours_s, "networkx multi_source", peer_s)
        if net is not None:
            try:
                peer, peer_s = timed(lambda: pandana_nearest(net, city, fac, PANDANA_NEAREST_M), repeats=3)
                bounded, bounded_s = timed(lambda: nearest(graph, fac, cutoff=PANDANA_NEAREST_M)[0])
                # pandana sums in reduced precision: a few mm over km, and up to a few cm over the hundreds of
                # 5 m segments of a real city's paths; checked to PANDANA_ABS_M + PANDANA_REL.
                agree(f"{name} nearest<={PANDANA_NEAREST_M:.0f} k={k} vs pandana", bounded, peer,
                      tol=PANDANA_ABS_M, rel=PANDANA_REL)
                bench.row(name, n, k, f"near<={PANDANA_NEAREST_M:.0f}m", bounded_s, "pandana set_pois+nearest_pois",
                          peer_s)
            except SystemExit:
                raise
            except Exception as error:
                bench.notes.append(f"{name}: pandana nearest failed: {type(error).__name__}: {error}")
        # within 1600 m
        counts, ours_s = ours[("within", k)]
        bench.ours[("within", n, k)] = ours_s
        if use_nx:
            peer, peer_s = timed(lambda: nx_within(nxg, fac, n, WITHIN_M), repeats=3)
            agree(f"{name} within k={k} vs networkx", counts, peer)
            bench.row(name, n, k, "within1600m", ours_s, "networkx per-facility cutoff", peer_s)
        estimate = 7e-9 * k * n  # seconds, measured on this machine type
        if estimate <= DENSE_MAX_S:
            peer, peer_s = timed(lambda: scipy_within(matrix, fac, n, WITHIN_M), repeats=3)
            agree(f"{name} within k={k} vs scipy", counts, peer)
            bench.row(name, n, k, "within1600m", ours_s, "scipy dense limit= (chunked)", peer_s)
        else:
            bench.row(name, n, k, "within1600m", ours_s, "scipy dense limit=", "skipped")
            bench.notes.append(f"{name} k={k}: plain scipy skipped (dense {k}x{n} matrix = {8 * k * n / 1e9:.0f} GB, "
                               f"~{estimate:.0f} s even in chunks)")
        if net is not None:
            try:
                peer, peer_s = timed(lambda: pandana_within(net, fac, WITHIN_M), repeats=3)
                # With pandana's reduced precision, a facility that close to the cutoff may fall either side.
                slack = WITHIN_M * PANDANA_REL + PANDANA_ABS_M
                low = count_within(graph, fac, cutoff=WITHIN_M - slack)
                high = count_within(graph, fac, cutoff=WITHIN_M + slack)
                if not np.all((peer >= low) & (peer <= high)):
                    raise SystemExit(f"DISAGREE: {name} within k={k} vs pandana beyond its precision")
                bench.row(name, n, k, "within1600m", ours_s, "pandana aggregate (flat sum)", peer_s)
            except SystemExit:
                raise
            except Exception as error:
                bench.notes.append(f"{name}: pandana within failed: {type(error).__name__}: {error}")
        # 2SFCA
        access, ours_s = ours[("2sfca", k)]
        bench.ours[("2sfca", n, k)] = ours_s
        if use_nx:
            peer, peer_s = timed(lambda: nx_2sfca(nxg, fac, supply, demand, WITHIN_M), repeats=3)
            agree(f"{name} 2sfca k={k} vs networkx", access, peer, tol=1e-12, rel=1e-9)
            bench.row(name, n, k, "2sfca1600m", ours_s, "networkx per-facility cutoff", peer_s)

    # The edit: close the streets nearest the centre, recompute nearest.
    bench.ours[("edit", n, None)] = edit_s
    keep = np.ones(len(city.u), bool)
    keep[closed_edges] = False
    rebuilt = scipy_rebuild(city, keep)
    agree(f"{name} edit vs scipy rebuilt", edited, dijkstra(rebuilt, indices=edit_fac, min_only=True))
    label = edit_k
    bench.notes.append(f"{name}: edit closes {len(closed_edges):,} directed edges ({EDIT_SHARE:.0%} of streets, "
                       f"nearest the centre), then nearest from {edit_k} facilities")

    def scipy_edit():
        return dijkstra(scipy_rebuild(city, keep), indices=edit_fac, min_only=True)

    _, peer_s = timed(lambda: scipy_rebuild(city, keep))
    bench.row(name, n, label, "edit", edit_s, "scipy csr rebuild", peer_s)
    if use_nx:
        removed = list(zip(city.u[closed_edges].tolist(), city.v[closed_edges].tolist()))
        restore = [(a, b, nxg[a][b]["weight"]) for a, b in removed if nxg.has_edge(a, b)]
        recompiled, peer_s = timed(lambda: nx_edit(nxg, removed, n), repeats=1)
        nxg.add_weighted_edges_from(restore)
        agree(f"{name} edit vs networkx recompiled", edited, nearest(recompiled, edit_fac)[0])
        bench.row(name, n, label, "edit", edit_s, "networkx remove+recompile", peer_s)
        _, peer_s = timed(lambda: nearest(nx_edit(nxg, removed, n), edit_fac), repeats=1)
        nxg.add_weighted_edges_from(restore)
        bench.row(name, n, label, "edit+nearest", both_s, "nx remove+recompile+nearest", peer_s)
    _, peer_s = timed(scipy_edit)
    bench.row(name, n, label, "edit+nearest", both_s, "scipy rebuild+dijkstra", peer_s)
    print(f"agree: yes ({name}: every peer above matched ours before its row was printed)", flush=True)
    print(f"memory: peak RSS of the whole process so far {peak_rss_mb():,.0f} MB (networkx graph and peers "
          f"included)", flush=True)
    bench.checks.append(name)


def report_targets(bench: Bench, sizes: list[int]) -> None:
    print(f"\n## targets at {TARGETS_AT:,} nodes, single core")
    if TARGETS_AT not in sizes:
        print(f"not run: add {TARGETS_AT} to --sizes")
        return
    n = TARGETS_AT
    for (measure, k), limit in TARGETS.items():
        got = [s for (m, size, kk), s in bench.ours.items() if m == measure and size == n and (k is None or kk == k)]
        worst = max(got)
        what = f"{measure}" + (f" ({k} facilities)" if k else " (worst facility count)" if measure == "nearest" else "")
        verdict = "PASS" if worst <= limit else "MISS"
        print(f"{verdict}  {what}: {worst:.4f} s (target <= {limit} s)")
    core = bench.ours[("bytes/node", n, None)]
    print(f"{'PASS' if core <= BYTES_PER_NODE else 'MISS'}  routing core: {core:.1f} bytes/node "
          f"(target <= {BYTES_PER_NODE})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="node counts, comma-separated")
    parser.add_argument("--quick", action="store_true", help="only the 10k case (a smoke test)")
    parser.add_argument("--nx-max-nodes", type=int, default=1_000_000, help="skip networkx above this size")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"sandbox.routing benchmark; numba single core; {os.cpu_count()} cores, python {sys.version.split()[0]}")
    start = time.perf_counter()
    warm_up()
    print(f"warm-up (numba load/compile): {time.perf_counter() - start:.1f} s")
    bench = Bench()
    print(_format(HEADER))
    for name, build in cases(sizes):
        run_case(name, build, bench, nx_max=args.nx_max_nodes, seed=args.seed)
    print("\n## table (ratio = peer_s / ours_s)")
    print(_format(HEADER))
    for row in bench.rows:
        print(_format(row))
    for note in bench.notes:
        print(f"note: {note}")
    print(f"agree: yes (all {len(bench.checks)} cases)")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB (whole process, peers included)")
    report_targets(bench, sizes)
    print(f"total: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
