"""Accessibility benchmark: sandbox.routing against scipy, networkx and pandana on synthetic city graphs.

Run ``python bench/access.py [--sizes 10000,100000,1000000] [--quick] [--peer-max-s 20]``. Every peer is measured in
the same run on the same graph; results are checked to agree before any time is printed. A slow peer whose estimated
time for one call exceeds --peer-max-s is skipped and listed ('inf' runs them all). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
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
from sandbox.routing import compile_graph, count_within, nearest, two_step_fca  # noqa: E402
from timing import peak_rss_mb, release_free_memory, reset_peak, rss_mb  # noqa: E402  (bench/timing.py, beside)

WITHIN_M = 1600.0  # 20 minutes at 1.33 m/s, on metre weights
FACILITIES = (50, 500, 5000)
ORIGIN_SHARE = 0.10
EDIT_SHARE = 0.05  # share of streets closed around a point
PANDANA_MAX_NODES = 20_000
PANDANA_NEAREST_M = 3000.0  # pandana needs a search radius for nearest; ours gets the same cutoff in that row
PANDANA_REL = 1e-5  # pandana's costs differ from exact ones by up to ~6 ppm (reduced precision inside)
PANDANA_ABS_M = 0.1  # and by a few cm on paths of hundreds of short segments (central Helsinki: 0.02-0.05 m)
DENSE_CHUNK_BYTES = 1 << 30  # plain scipy returns a dense (facilities x nodes) matrix: computed in chunks of 1 GB
PEER_MAX_S = 20.0  # default --peer-max-s: a peer whose estimated time for one call is beyond this is skipped
# Seconds per unit of work of the slow peers, measured on this machine (2-core VM; see bench/README.md). A search's
# work is the nodes it settles: every node for networkx's multi-source nearest, and for the bounded searches the sum
# of our count_within result (each facility's search settles the nodes within the cutoff).
NX_NEAREST_S_PER_NODE = 1.0e-5  # 1M nodes: 9-12 s (less per node on smaller graphs: dicts stay in cache)
NX_SEARCH_S_PER_SETTLED = 1.5e-6  # 1.2-2.2 us measured (central Helsinki, 5,000 facilities: 30 s for 25.5M)
SCIPY_S_PER_SETTLED = 1.1e-7  # plain scipy dijkstra(limit=): the searches (central Helsinki, 5,000: 2.7 s) ...
SCIPY_S_PER_CELL = 1.5e-8  # ... and the dense (facilities x nodes) result: 1e-9 to 2.4e-8 s per cell measured, the
# most in 1 GB chunks (1M nodes: 12 s for 500 facilities, 33 s for 5,000)
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
    net = sandbox.load_twin("helsinki").networks["walk"]
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


def scipy_slots(matrix: csr_matrix, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Positions of edges ``u -> v`` in a canonical CSR matrix's ``data`` (sorted columns, no duplicates): found
    once per edit, as our ``edge_order`` map is built once per graph."""
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = rows * matrix.shape[1] + matrix.indices
    wanted = u.astype(np.int64) * matrix.shape[1] + v
    slots = np.searchsorted(keys, wanted)
    if not np.array_equal(keys[np.minimum(slots, len(keys) - 1)], wanted):
        raise SystemExit("DISAGREE: scipy_slots: an edge is missing from the scipy matrix")
    return slots


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
    peer_max_s: float = PEER_MAX_S
    pandana_max: int = PANDANA_MAX_NODES
    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    ours: dict[tuple, float] = field(default_factory=dict)

    def row(self, case: str, n: int, k: int | str, measure: str, ours_s: float, peer: str,
            peer_s: float | str) -> None:
        ratio = "-"
        if isinstance(peer_s, float) and ours_s > 0:
            ratio = f"{peer_s / ours_s:.1f}" if peer_s >= ours_s else f"{peer_s / ours_s:.2f}"
        self.rows.append((case, n, k, measure, ours_s, peer, peer_s, ratio))
        print(_format(self.rows[-1]), flush=True)

    def affordable(self, case: str, n: int, k: int | str, measure: str, ours_s: float, peer: str,
                   estimate_s: float) -> bool:
        """True when the peer's estimated time for one call is within --peer-max-s; otherwise a ``skipped`` row
        and a note saying why."""
        if estimate_s <= self.peer_max_s:
            return True
        self.row(case, n, k, measure, ours_s, peer, "skipped")
        self.skipped.append(f"{case} {measure} k={k}: {peer} skipped: estimated {estimate_s:,.0f} s per call > "
                            f"--peer-max-s {self.peer_max_s:g} (run it with --peer-max-s inf)")
        print(f"skip: {self.skipped[-1]}", flush=True)
        return False


def timed(fn: Callable[[], object], *, repeats: int = 5,
          reset: Callable[[], object] | None = None) -> tuple[object, float]:
    """(result, median seconds) of ``repeats`` runs; a run slower than SLOW_S is not repeated. ``reset``, when
    given, runs untimed before each run (to undo an in-place edit)."""
    times, result = [], None
    gc.disable()  # as timeit does: a collection over networkx's millions of objects is noise, not the method
    try:
        for _ in range(repeats):
            if reset is not None:
                reset()
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


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 else str(n))


HEADER = ("case", "nodes", "facilities", "measure", "ours_s", "peer", "peer_s", "ratio")
WIDTHS = (10, 9, 10, 13, 9, 31, 9, 7)


def _format(row: tuple) -> str:
    cells = []
    for value, width in zip(row, WIDTHS):
        text = (f"{value:.6f}" if value < 1 else f"{value:.3f}") if isinstance(value, float) else str(value)
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
    release_free_memory()  # the previous case's graphs, returned to the kernel
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
    release_free_memory()
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
    # Plain scipy gets its own canonical matrix (sorted columns, the shortest of parallel edges), built as a scipy
    # user would; the edit sets weights in place in it.
    everything = np.ones(len(city.u), bool)
    matrix = scipy_rebuild(city, everything)
    matrix.sort_indices()  # canonical already (from COO); scipy_slots relies on it

    # Slow peers are estimated first (work x cost per unit, see the constants) and skipped beyond --peer-max-s.
    settled = {k: float(ours[("within", k)][0].sum()) for k in facility_sets}
    nx_search_s = {k: NX_SEARCH_S_PER_SETTLED * settled[k] for k in facility_sets}
    nx_nearest_s = NX_NEAREST_S_PER_NODE * n
    use_nx = n <= nx_max and min([nx_nearest_s, *nx_search_s.values()]) <= bench.peer_max_s
    if use_nx:
        nxg, nx_build_s = timed(lambda: nx_graph(city), repeats=1)
        print(f"networkx graph built in {nx_build_s:.1f} s", flush=True)
    elif n > nx_max:
        bench.skipped.append(f"{name}: networkx skipped: {n:,} nodes > --nx-max-nodes {nx_max:,}")
        print(f"skip: {bench.skipped[-1]}", flush=True)
    else:
        bench.skipped.append(f"{name}: networkx skipped: every row estimated > --peer-max-s {bench.peer_max_s:g}")
        print(f"skip: {bench.skipped[-1]}", flush=True)
    net = None
    if n <= bench.pandana_max:
        try:
            net, pd_build_s = timed(lambda: pandana_network(city), repeats=1)
            print(f"pandana network (contraction hierarchy, 2 threads) built in {pd_build_s:.1f} s", flush=True)
        except Exception as error:  # an optional peer: say why and carry on
            bench.notes.append(f"{name}: pandana unavailable: {type(error).__name__}: {error}")
    else:
        bench.skipped.append(f"{name}: pandana skipped: {n:,} nodes > --pandana-max-nodes {bench.pandana_max:,} "
                             "(its contraction hierarchy is built per graph)")
        print(f"skip: {bench.skipped[-1]}", flush=True)

    for k, fac in facility_sets.items():
        supply = ours[("supply", k)][0]
        # nearest
        dist, ours_s = ours[("nearest", k)]
        bench.ours[("nearest", n, k)] = ours_s
        peer, peer_s = timed(lambda: dijkstra(matrix, indices=fac, min_only=True))
        agree(f"{name} nearest k={k} vs scipy", dist, peer)
        bench.row(name, n, k, "nearest", ours_s, "scipy dijkstra min_only", peer_s)
        if use_nx and bench.affordable(name, n, k, "nearest", ours_s, "networkx multi_source", nx_nearest_s):
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
        if use_nx and bench.affordable(name, n, k, "within1600m", ours_s, "networkx per-facility cutoff",
                                       nx_search_s[k]):
            peer, peer_s = timed(lambda: nx_within(nxg, fac, n, WITHIN_M), repeats=3)
            agree(f"{name} within k={k} vs networkx", counts, peer)
            bench.row(name, n, k, "within1600m", ours_s, "networkx per-facility cutoff", peer_s)
        dense_s = SCIPY_S_PER_SETTLED * settled[k] + SCIPY_S_PER_CELL * k * n
        if bench.affordable(name, n, k, "within1600m", ours_s, "scipy dense limit= (chunked)", dense_s):
            peer, peer_s = timed(lambda: scipy_within(matrix, fac, n, WITHIN_M), repeats=3)
            agree(f"{name} within k={k} vs scipy", counts, peer)
            bench.row(name, n, k, "within1600m", ours_s, "scipy dense limit= (chunked)", peer_s)
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
        if use_nx and bench.affordable(name, n, k, "2sfca1600m", ours_s, "networkx per-facility cutoff",
                                       nx_search_s[k]):
            peer, peer_s = timed(lambda: nx_2sfca(nxg, fac, supply, demand, WITHIN_M), repeats=3)
            agree(f"{name} 2sfca k={k} vs networkx", access, peer, tol=1e-12, rel=1e-9)
            bench.row(name, n, k, "2sfca1600m", ours_s, "networkx per-facility cutoff", peer_s)

    # The edit: close the streets nearest the centre (ours: a copy of the weights with inf at the closed slots, found
    # through edge_order), then recompute nearest. Each peer edits its own graph in place, by its obvious means.
    bench.ours[("edit", n, None)] = edit_s
    label = edit_k
    bench.notes.append(f"{name}: edit closes {len(closed_edges):,} directed edges ({EDIT_SHARE:.0%} of streets, "
                       f"nearest the centre), then nearest from {edit_k} facilities")
    # scipy: the closed edges' positions in its data array are found once (untimed, like our edge_order); the edit
    # is the assignment of inf there. scipy's dijkstra takes an inf weight as impassable.
    slots = scipy_slots(matrix, city.u[closed_edges], city.v[closed_edges])
    lengths = matrix.data[slots].copy()

    def scipy_close():
        matrix.data[slots] = np.inf

    def scipy_reopen():
        matrix.data[slots] = lengths

    scipy_close()
    agree(f"{name} edit vs scipy set in place", edited, dijkstra(matrix, indices=edit_fac, min_only=True))
    _, peer_s = timed(scipy_close, repeats=7)
    bench.row(name, n, label, "edit", edit_s, "scipy set data[slots]=inf", peer_s)
    _, peer_s = timed(lambda: (scipy_close(), dijkstra(matrix, indices=edit_fac, min_only=True)))
    bench.row(name, n, label, "edit+nearest", both_s, "scipy set in place+dijkstra", peer_s)
    scipy_reopen()
    # Extra rows, not peers. Ours leaves the baseline intact (a new variant sharing the structure): scipy doing the
    # same copies its data array first. And a scipy user without a position map rebuilds the matrix.
    def scipy_variant():
        data = matrix.data.copy()
        data[slots] = np.inf
        return data

    data, peer_s = timed(scipy_variant, repeats=7)
    variant = csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape)
    agree(f"{name} edit vs scipy copy+set", edited, dijkstra(variant, indices=edit_fac, min_only=True))
    bench.row(name, n, label, "edit", edit_s, "extra: scipy copy data+set", peer_s)
    keep = everything.copy()
    keep[closed_edges] = False
    agree(f"{name} edit vs scipy rebuilt", edited, dijkstra(scipy_rebuild(city, keep), indices=edit_fac,
                                                            min_only=True))
    _, peer_s = timed(lambda: scipy_rebuild(city, keep))
    bench.row(name, n, label, "edit", edit_s, "extra: scipy rebuild (no map)", peer_s)
    if use_nx:
        # networkx: remove_edges_from on its graph (restored, untimed, before each run), then its own Dijkstra; the
        # answer of the last timed run is checked before the rows are printed.
        removed = list(zip(city.u[closed_edges].tolist(), city.v[closed_edges].tolist()))
        restore = [(a, b, nxg[a][b]["weight"]) for a, b in removed if nxg.has_edge(a, b)]

        def nx_reopen():
            nxg.add_weighted_edges_from(restore)

        if bench.affordable(name, n, label, "edit(+nearest)", edit_s, "networkx remove_edges_from(+nearest)",
                            nx_nearest_s):
            _, remove_s = timed(lambda: nxg.remove_edges_from(removed), reset=nx_reopen)
            (_, peer), peer_s = timed(lambda: (nxg.remove_edges_from(removed), nx_nearest(nxg, edit_fac, n)),
                                      repeats=3, reset=nx_reopen)
            agree(f"{name} edit vs networkx remove_edges_from", edited, peer)
            bench.row(name, n, label, "edit", edit_s, "networkx remove_edges_from", remove_s)
            bench.row(name, n, label, "edit+nearest", both_s, "networkx remove+multi_source", peer_s)
        nx_reopen()
    print(f"agree: yes ({name}: every peer above matched ours before its row was printed); case took "
          f"{time.perf_counter() - start:.0f} s", flush=True)
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
    parser.add_argument("--peer-max-s", type=float, default=PEER_MAX_S,
                        help="skip a peer whose estimated seconds for one call exceed this ('inf': run every peer)")
    parser.add_argument("--pandana-max-nodes", type=int, default=PANDANA_MAX_NODES,
                        help="skip pandana above this size")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"sandbox.routing benchmark; numba single core; {os.cpu_count()} cores, python {sys.version.split()[0]}")
    start = time.perf_counter()
    warm_up()
    print(f"warm-up (numba load/compile): {time.perf_counter() - start:.1f} s")
    bench = Bench(peer_max_s=args.peer_max_s, pandana_max=args.pandana_max_nodes)
    print(_format(HEADER))
    for name, build in cases(sizes):
        run_case(name, build, bench, nx_max=args.nx_max_nodes, seed=args.seed)
    print("\n## table (ratio = peer_s / ours_s)")
    print(_format(HEADER))
    for row in bench.rows:
        print(_format(row))
    for note in bench.notes:
        print(f"note: {note}")
    for note in bench.skipped:
        print(f"skipped: {note}")
    print(f"agree: yes (all {len(bench.checks)} cases)")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB (whole process, peers included)")
    report_targets(bench, sizes)
    print(f"total: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
