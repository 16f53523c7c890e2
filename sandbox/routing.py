"""Shortest paths on a graph compiled to CSR arrays: nearest-source, bounded reach, counts within a cutoff, two-step floating catchment; numba-compiled, no Python loops over nodes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._errors import TwinError
from ._io import cache_dir

# The kernels are compiled once and cached (cache=True): beside the twins (<cache>/numba), not in site-packages.
# numba reads this when it is first imported; a NUMBA_CACHE_DIR the user set wins.
os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))

from numba import njit  # noqa: E402

_INT32_MAX = np.iinfo(np.int32).max


# --------------------------------------------------------------------------------------------------------------
# Compiled kernels. The queue is a lazy-deletion 4-ary heap (keys float64, nodes uint32): shallower than a binary
# heap, so fewer unpredictable comparisons per pop, which is where a search spends its time. It is allocated for
# the worst case (one entry per edge relaxation); np.empty only commits the pages a search actually touches.
# Kernels read node ids as unsigned views (see _core): numba then skips the negative-index wraparound on every
# array access, about 10% faster.

_ARITY = 4


@njit(cache=True, inline="always")
def _push(keys, nodes, size, key, node):
    i = size
    while i > 0:
        parent = (i - 1) // _ARITY
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node


@njit(cache=True, inline="always")
def _pop(keys, nodes, size):
    # Removes the root of a heap that held size + 1 entries: the last entry sinks from the root.
    last_key, last_node = keys[size], nodes[size]
    i = 0
    while True:
        first = _ARITY * i + 1
        if first >= size:
            break
        best, best_key = first, keys[first]
        for child in range(first + 1, min(first + _ARITY, size)):
            if keys[child] < best_key:
                best, best_key = child, keys[child]
        if best_key >= last_key:
            break
        keys[i] = best_key
        nodes[i] = nodes[best]
        i = best
    keys[i] = last_key
    nodes[i] = last_node


@njit(cache=True)
def _build(u, v, w, n):
    # Counting sort by tail node: O(m), stable, so parallel edges keep their input order inside a row.
    m = u.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    for i in range(m):
        indptr[u[i] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:n].copy()
    indices = np.empty(m, np.int32)
    weights = np.empty(m, np.float64)
    edge_order = np.empty(m, np.int64)
    for i in range(m):
        slot = fill[u[i]]
        fill[u[i]] = slot + 1
        indices[slot] = v[i]
        weights[slot] = w[i]
        edge_order[i] = slot
    return indptr, indices, weights, edge_order


@njit(cache=True)
def _nearest_kernel(indptr, indices, weights, src_nodes, src_cost, cutoff):
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    which = np.full(n, -1, np.int64)
    keys = np.empty(indices.shape[0] + src_nodes.shape[0] + 1, np.float64)
    nodes = np.empty(keys.shape[0], np.uint32)
    size = 0
    for j in range(src_nodes.shape[0]):
        s, cost = src_nodes[j], src_cost[j]
        if cost <= cutoff and cost < dist[s]:
            dist[s] = cost
            which[s] = j
            _push(keys, nodes, size, cost, s)
            size += 1
    while size > 0:
        d, u = keys[0], nodes[0]
        size -= 1
        if size > 0:
            _pop(keys, nodes, size)
        if d > dist[u]:
            continue  # stale entry: u was settled earlier at a lower cost
        label = which[u]
        for p in range(np.uint64(indptr[u]), np.uint64(indptr[u + np.uint32(1)])):
            v = indices[p]
            nd = d + weights[p]
            if nd < dist[v] and nd <= cutoff:
                dist[v] = nd
                which[v] = label
                _push(keys, nodes, size, nd, v)
                size += 1
    return dist, which


@njit(cache=True, inline="always")
def _bounded(indptr, indices, weights, s, cost, cutoff, dist, settled, keys, nodes):
    # One search from s; `settled` receives the reached nodes in order of cost and `dist` holds their costs.
    # The caller resets dist[settled[:count]] to inf afterwards, so no search pays O(n).
    count = 0
    if cost <= cutoff and cost < dist[s]:
        dist[s] = cost
        keys[0] = cost
        nodes[0] = s
        size = 1
        while size > 0:
            d, u = keys[0], nodes[0]
            size -= 1
            if size > 0:
                _pop(keys, nodes, size)
            if d > dist[u]:
                continue
            settled[count] = u
            count += 1
            for p in range(np.uint64(indptr[u]), np.uint64(indptr[u + np.uint32(1)])):
                v = indices[p]
                nd = d + weights[p]
                if nd < dist[v] and nd <= cutoff:
                    dist[v] = nd
                    _push(keys, nodes, size, nd, v)
                    size += 1
    return count


@njit(cache=True)
def _workspace(indptr, indices):
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    settled = np.empty(n, np.uint32)
    keys = np.empty(indices.shape[0] + 1, np.float64)
    nodes = np.empty(indices.shape[0] + 1, np.uint32)
    return dist, settled, keys, nodes


@njit(cache=True)
def _reach_kernel(indptr, indices, weights, src_nodes, src_cost, order, cutoff):
    dist, settled, keys, nodes = _workspace(indptr, indices)
    k = src_nodes.shape[0]
    start = np.zeros(k, np.int64)
    length = np.zeros(k, np.int64)
    capacity = 1024
    found_node = np.empty(capacity, np.int32)
    found_cost = np.empty(capacity, np.float64)
    total = 0
    for t in range(k):
        j = order[t]
        count = _bounded(indptr, indices, weights, src_nodes[j], src_cost[j], cutoff, dist, settled, keys, nodes)
        if total + count > capacity:
            capacity = max(2 * capacity, total + count)
            grown_node = np.empty(capacity, np.int32)
            grown_cost = np.empty(capacity, np.float64)
            grown_node[:total] = found_node[:total]
            grown_cost[:total] = found_cost[:total]
            found_node, found_cost = grown_node, grown_cost
        start[j] = total
        length[j] = count
        for i in range(count):
            v = settled[i]
            found_node[total] = v
            found_cost[total] = dist[v]
            dist[v] = np.inf
            total += 1
    # Searches ran in node order (for cache locality); hand the pairs back in source order.
    out_source = np.empty(total, np.int32)
    out_node = np.empty(total, np.int32)
    out_cost = np.empty(total, np.float64)
    at = 0
    for j in range(k):
        for i in range(start[j], start[j] + length[j]):
            out_source[at] = j
            out_node[at] = found_node[i]
            out_cost[at] = found_cost[i]
            at += 1
    return out_source, out_node, out_cost


@njit(cache=True)
def _count_kernel(indptr, indices, weights, src_nodes, src_cost, order, src_weight, cutoffs):
    # cutoffs ascending; each reached node adds to the first band it falls in, the caller sums bands cumulatively.
    dist, settled, keys, nodes = _workspace(indptr, indices)
    n_cut = cutoffs.shape[0]
    widest = cutoffs[n_cut - 1]
    out = np.zeros((n_cut, dist.shape[0]), np.float64)
    for t in range(src_nodes.shape[0]):
        j = order[t]
        count = _bounded(indptr, indices, weights, src_nodes[j], src_cost[j], widest, dist, settled, keys, nodes)
        w = src_weight[j]
        for i in range(count):
            v = settled[i]
            d = dist[v]
            band = 0
            while cutoffs[band] < d:
                band += 1
            out[band, v] += w
            dist[v] = np.inf
    return out


@njit(cache=True)
def _fca_kernel(indptr, indices, weights, src_nodes, src_cost, order, supply, demand, cutoff):
    # R_j is known as soon as j's catchment is searched, so step 2 reuses the same settled list: one search per source.
    dist, settled, keys, nodes = _workspace(indptr, indices)
    access = np.zeros(dist.shape[0], np.float64)
    for t in range(src_nodes.shape[0]):
        j = order[t]
        count = _bounded(indptr, indices, weights, src_nodes[j], src_cost[j], cutoff, dist, settled, keys, nodes)
        served = 0.0
        for i in range(count):
            served += demand[settled[i]]
        ratio = supply[j] / served if served > 0.0 else 0.0
        for i in range(count):
            v = settled[i]
            access[v] += ratio
            dist[v] = np.inf
    return access


# --------------------------------------------------------------------------------------------------------------
# The compiled graph.


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False, repr=False)
class CSRGraph:
    """A directed graph as CSR arrays: node ``u``'s out-edges are slots ``indptr[u]:indptr[u+1]`` of ``indices``
    (targets) and ``weights`` (costs, ``inf`` = closed). ``edge_order[i]`` is the slot of input edge ``i``, so
    scenarios edit weights by the caller's edge numbers. Arrays are read-only and shared between variants."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    edge_order: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    @property
    def nbytes(self) -> int:
        """Bytes a search reads (``indptr``, ``indices``, ``weights``); ``edge_order`` is the edit map, shared by
        every variant and not touched by searches."""
        return self.indptr.nbytes + self.indices.nbytes + self.weights.nbytes

    def __repr__(self) -> str:
        return f"CSRGraph(n_nodes={self.n_nodes}, n_edges={self.n_edges}, nbytes={self.nbytes})"

    def _slots(self, edges: np.ndarray) -> np.ndarray:
        edges = np.asarray(edges)
        if edges.dtype == bool:
            if edges.shape != (self.n_edges,):
                raise TwinError(f"CSRGraph: edges: boolean mask of length {len(edges)}; "
                                f"expected one flag per input edge ({self.n_edges})")
            edges = np.flatnonzero(edges)
        edges = _ids(edges, "CSRGraph: edges", self.n_edges, "input edge")
        return self.edge_order[edges]

    def with_weights(self, weights: np.ndarray) -> CSRGraph:
        """The same structure with new costs, given per input edge (e.g. travel time of another mode).

        Only the weights array is new, so a variant costs 8 bytes per edge and no rebuild.
        """
        weights = _weights(weights, "CSRGraph.with_weights: weights", self.n_edges)
        csr_weights = np.empty(self.n_edges, np.float64)
        csr_weights[self.edge_order] = weights
        return CSRGraph(self.indptr, self.indices, _readonly(csr_weights), self.edge_order)

    def closed(self, edges: np.ndarray) -> CSRGraph:
        """A variant with the given input edges (indices or a boolean mask) impassable.

        A closed street is an ``inf`` weight, not a removed edge, so the structure is shared and the edit costs one
        copy of the weights.
        """
        slots = self._slots(edges)
        weights = self.weights.copy()
        weights[slots] = np.inf
        return CSRGraph(self.indptr, self.indices, _readonly(weights), self.edge_order)

    def reversed(self) -> CSRGraph:
        """Every edge turned around, keeping the input edge numbers.

        Searching the reversed graph from a set of targets gives each node's cost *to* its nearest target, which is
        what trips towards facilities need on directed (one-way) networks.
        """
        tails = np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.indptr))
        slots = self.edge_order
        return _compile(self.indices[slots], tails[slots], self.weights[slots], self.n_nodes)


def _ids(values: np.ndarray, where: str, bound: int, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1:
        raise TwinError(f"{where}: {values.ndim}-d array; expected a 1-d array of {what} numbers")
    if values.size == 0:
        return values.astype(np.int64)
    if not np.issubdtype(values.dtype, np.integer):
        raise TwinError(f"{where}: dtype {values.dtype}; expected integer {what} numbers")
    bad = (values < 0) | (values >= bound)
    if bad.any():
        first = int(np.argmax(bad))
        raise TwinError(f"{where}: {bad.sum()} out of range (first at position {first}: {values[first]}); "
                        f"expected {what} numbers in 0..{bound - 1}")
    return values.astype(np.int64, copy=False)


def _weights(values: np.ndarray, where: str, length: int, *, allow_inf: bool = True) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (length,):
        raise TwinError(f"{where}: shape {values.shape}; expected ({length},)")
    bad = np.isnan(values) | (values < 0)
    if not allow_inf:
        bad |= np.isinf(values)
    if bad.any():
        first = int(np.argmax(bad))
        expected = "finite numbers >= 0" if not allow_inf else "numbers >= 0 (inf = closed or ignored)"
        raise TwinError(f"{where}: {bad.sum()} invalid (first at position {first}: {values[first]}); "
                        f"expected {expected}")
    return values


def _compile(u: np.ndarray, v: np.ndarray, weight: np.ndarray, n_nodes: int) -> CSRGraph:
    indptr, indices, weights, edge_order = _build(u, v, weight, n_nodes)
    # int32 offsets halve the per-node cost; graphs beyond 2**31 edges keep int64.
    index_type = np.int64 if len(u) > _INT32_MAX else np.int32
    return CSRGraph(_readonly(indptr.astype(index_type)), _readonly(indices), _readonly(weights),
                    _readonly(edge_order.astype(index_type)))


def compile_graph(u: np.ndarray, v: np.ndarray, weight: np.ndarray, *, n_nodes: int) -> CSRGraph:
    """Directed edges ``u[i] -> v[i]`` with cost ``weight[i]`` as a :class:`CSRGraph` over nodes ``0..n_nodes-1``.

    Parallel edges and self-loops are allowed; an undirected street is two input edges. ``inf`` marks an edge that
    exists but is closed, so it can be reopened with :meth:`CSRGraph.with_weights`.
    """
    if not isinstance(n_nodes, (int, np.integer)) or n_nodes < 0 or n_nodes > _INT32_MAX:
        raise TwinError(f"compile_graph: n_nodes: {n_nodes!r}; expected an integer in 0..{_INT32_MAX}")
    u = np.asarray(u)
    m = len(u) if u.ndim == 1 else -1
    u = _ids(u, "compile_graph: u", n_nodes, "node")
    if np.ndim(v) != 1 or len(v) != m:
        raise TwinError(f"compile_graph: v: shape {np.shape(v)}; expected ({m},) like u")
    v = _ids(v, "compile_graph: v", n_nodes, "node")
    weight = _weights(weight, "compile_graph: weight", m)
    return _compile(u, v, weight, int(n_nodes))


# --------------------------------------------------------------------------------------------------------------
# Searches.


def _sources(graph: CSRGraph, sources: np.ndarray, offsets: np.ndarray | None, where: str,
             ) -> tuple[np.ndarray, np.ndarray]:
    sources = _ids(sources, f"{where}: sources", graph.n_nodes, "node")
    costs = np.zeros(len(sources)) if offsets is None else _weights(offsets, f"{where}: offsets", len(sources))
    return sources.astype(np.uint32), costs


def _core(graph: CSRGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    unsigned = np.uint32 if graph.indptr.dtype == np.int32 else np.uint64
    return graph.indptr.view(unsigned), graph.indices.view(np.uint32), graph.weights


def _search_order(sources: np.ndarray) -> np.ndarray:
    # Searching sources in node order lets consecutive searches reuse cached parts of the graph when node numbers
    # follow geography (grids, networks numbered along streets): about 1.5x faster than the given order.
    return np.argsort(sources, kind="stable")


def _cutoff(cutoff: float, where: str) -> float:
    if not cutoff >= 0:
        raise TwinError(f"{where}: cutoff: {cutoff}; expected a cost >= 0 (inf = unbounded)")
    return float(cutoff)


def nearest(graph: CSRGraph, sources: np.ndarray, *, offsets: np.ndarray | None = None,
            cutoff: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Cost from the nearest source to every node, by one multi-source Dijkstra.

    Parameters
    ----------
    graph
        Searched from the sources along edge directions; pass ``graph.reversed()`` for costs *to* the sources.
    sources
        Source nodes; a node may repeat (two facilities on one node).
    offsets
        Initial cost of each source (e.g. the access leg from a facility to its node); ``inf`` ignores a source.
    cutoff
        Nodes farther than this are left unreached.

    Returns
    -------
    dist, which
        ``dist[i]`` the cost (``inf`` if unreached) and ``which[i]`` the position in ``sources`` of the nearest
        source (``-1`` if unreached); ties go to either source.
    """
    cutoff = _cutoff(cutoff, "nearest")
    sources, costs = _sources(graph, sources, offsets, "nearest")
    return _nearest_kernel(*_core(graph), sources, costs, cutoff)


@dataclass(frozen=True, eq=False)
class Reach:
    """Every (source, node) pair within a cutoff, grouped by source and, within a source, by increasing cost."""

    source: np.ndarray
    node: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.node)


def reach(graph: CSRGraph, sources: np.ndarray, *, cutoff: float, offsets: np.ndarray | None = None) -> Reach:
    """All nodes within ``cutoff`` of each source, as sparse pairs (isochrones, per-facility catchments).

    One bounded Dijkstra per source that touches only what it reaches, so the cost follows the output size, not
    ``len(sources) * n_nodes``. Offsets and direction are as in :func:`nearest`.
    """
    cutoff = _cutoff(cutoff, "reach")
    sources, costs = _sources(graph, sources, offsets, "reach")
    source, node, cost = _reach_kernel(*_core(graph), sources, costs,
                                       _search_order(sources), cutoff)
    return Reach(source, node, cost)


def count_within(graph: CSRGraph, sources: np.ndarray, *, cutoff: float | Sequence[float],
                 offsets: np.ndarray | None = None, source_weights: np.ndarray | None = None) -> np.ndarray:
    """How many sources (or how much of ``source_weights``) each node reaches within ``cutoff``.

    Counts accumulate inside the compiled search, so no (source, node) pairs are materialised. Several cutoffs
    (e.g. 10, 15 and 20 minutes) share one search per source. Direction and offsets are as in :func:`nearest`:
    a node counts source ``j`` when the cost from ``j`` to it is ``<= cutoff``.

    Returns
    -------
    numpy.ndarray
        ``(n_nodes,)`` for one cutoff, ``(len(cutoff), n_nodes)`` for several; int64 counts, or float64 sums when
        ``source_weights`` is given.
    """
    several = np.ndim(cutoff) == 1
    cutoffs = np.atleast_1d(np.asarray(cutoff, dtype=np.float64))
    if cutoffs.ndim != 1 or cutoffs.size == 0:
        raise TwinError(f"count_within: cutoff: {cutoff!r}; expected a cost or a non-empty list of costs")
    for c in cutoffs:
        _cutoff(c, "count_within")
    sources, costs = _sources(graph, sources, offsets, "count_within")
    if source_weights is None:
        weights = np.ones(len(sources))
    else:
        weights = np.asarray(source_weights, dtype=np.float64)
        if weights.shape != (len(sources),) or not np.isfinite(weights).all():
            raise TwinError(f"count_within: source_weights: shape {weights.shape} or non-finite values; "
                            f"expected {len(sources)} finite numbers, one per source")
    rank = np.argsort(cutoffs, kind="stable")
    bands = _count_kernel(*_core(graph), sources, costs, _search_order(sources), weights,
                          cutoffs[rank])
    totals = np.empty_like(bands)
    totals[rank] = np.cumsum(bands, axis=0)
    if source_weights is None:
        totals = totals.astype(np.int64)
    return totals if several else totals[0]


def two_step_fca(graph: CSRGraph, sources: np.ndarray, *, supply: np.ndarray, demand: np.ndarray, cutoff: float,
                 offsets: np.ndarray | None = None) -> np.ndarray:
    """Supply per unit of demand reachable from each node: the two-step floating catchment (Luo & Wang 2003).

    Step 1, per source ``j``: ``R_j = supply[j] / sum(demand[k])`` over nodes ``k`` within ``cutoff`` of ``j``.
    Step 2, per node ``i``: ``A_i = sum(R_j)`` over sources ``j`` with ``i`` within ``cutoff`` of ``j``.

    "Within cutoff of ``j``" is the cost *from* ``j`` over ``graph`` (plus ``offsets[j]``), used in both steps. On
    undirected networks that equals the trip from ``i`` to ``j``; on directed ones pass ``graph.reversed()`` to
    measure trips towards the sources. A source whose catchment holds no demand serves no one: ``R_j = 0``
    (rather than inf or NaN), so it adds nothing to any node. One search per source serves both steps.

    Returns
    -------
    numpy.ndarray
        ``A`` as float64 per node (0 where no source is in reach).
    """
    cutoff = _cutoff(cutoff, "two_step_fca")
    sources, costs = _sources(graph, sources, offsets, "two_step_fca")
    supply = _weights(supply, "two_step_fca: supply", len(sources), allow_inf=False)
    demand = _weights(demand, "two_step_fca: demand", graph.n_nodes, allow_inf=False)
    return _fca_kernel(*_core(graph), sources, costs, _search_order(sources), supply,
                       demand, cutoff)
