"""The compiled searches against brute-force networkx on hand-made and seeded random graphs, edits, and errors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sandbox import TwinError
from sandbox.routing import CSRGraph, compile_graph, count_within, nearest, reach, two_step_fca

TOL = 1e-6


# ---------------------------------------------------------------------------------------------------------------
# Graphs and brute-force oracles.


def grid(side: int = 4, block: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A side x side street grid of `block` metre blocks, both directions; node r*side+c."""
    ids = np.arange(side * side).reshape(side, side)
    a = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    b = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    return np.concatenate([a, b]), np.concatenate([b, a]), np.full(2 * len(a), block), side * side


def random_case(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Edges (u, v, weight) of a seeded random graph with parallel edges, a few isolated nodes and, for the
    directed kinds, one-way streets; positive float weights so that no two paths tie by accident."""
    rng = np.random.default_rng(seed)
    if kind.startswith("gnm"):
        n = int(rng.integers(40, 90))
        base = nx.gnm_random_graph(n, int(2.2 * n), seed=seed, directed=kind == "gnm-directed")
        pairs = np.array(base.edges(), dtype=np.int64).reshape(-1, 2)
        weight = rng.uniform(0.1, 10.0, len(pairs))
    else:
        n = int(rng.integers(60, 120))
        base = nx.random_geometric_graph(n, 0.17, seed=seed)
        pairs = np.array(base.edges(), dtype=np.int64).reshape(-1, 2)
        pos = np.array([base.nodes[i]["pos"] for i in range(n)])
        weight = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T) * rng.uniform(1.0, 1.5, len(pairs)) + 1e-3
    u, v = pairs[:, 0], pairs[:, 1]
    if kind in ("gnm-undirected", "geometric-undirected"):
        u, v, weight = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([weight, weight])
    elif kind == "geometric-directed":  # a third of the streets two-way, the rest one-way in a random direction
        flip = rng.random(len(u)) < 0.5
        u, v = np.where(flip, v, u), np.where(flip, u, v)
        both = rng.random(len(u)) < 0.33
        u, v = np.concatenate([u, v[both]]), np.concatenate([v, u[both]])
        weight = np.concatenate([weight, weight[both]])
    twin = rng.choice(len(u), size=max(1, len(u) // 10), replace=False)  # parallel edges, some shorter
    u, v = np.concatenate([u, u[twin]]), np.concatenate([v, v[twin]])
    weight = np.concatenate([weight, weight[twin] * rng.uniform(0.5, 1.5, len(twin))])
    return u, v, weight, n + 3  # three isolated nodes that nothing reaches


def to_nx(u: np.ndarray, v: np.ndarray, weight: np.ndarray, n: int) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(u.tolist(), v.tolist(), weight.tolist()))
    return graph


def from_each(graph: nx.MultiDiGraph, sources: np.ndarray) -> list[dict[int, float]]:
    """Exact shortest-path costs from each source node (the oracle)."""
    return [nx.single_source_dijkstra_path_length(graph, int(s), weight="weight") for s in sources]


def pairs_within(table: list[dict[int, float]], offsets: np.ndarray, cutoff: float) -> dict[tuple[int, int], float]:
    return {(j, node): offsets[j] + d for j, costs in enumerate(table) for node, d in costs.items()
            if offsets[j] + d <= cutoff}


CASES = [(kind, seed) for kind in ("gnm-directed", "gnm-undirected", "geometric-undirected", "geometric-directed")
         for seed in (1, 2, 3)]


@pytest.fixture(params=CASES, ids=[f"{k}-{s}" for k, s in CASES])
def case(request):
    """A random graph, its networkx twin, sources (one node repeated), offsets (one ignored) and a cutoff."""
    kind, seed = request.param
    u, v, weight, n = random_case(kind, seed)
    rng = np.random.default_rng(seed + 100)
    sources = rng.choice(n - 3, size=7, replace=False)
    sources = np.append(sources, sources[0])  # two facilities on one node
    offsets = rng.uniform(0.0, 3.0, len(sources))
    offsets[2] = np.inf
    graph = to_nx(u, v, weight, n)
    reference = from_each(graph, sources)
    cutoff = float(np.median([d for costs in reference for d in costs.values()]))
    return compile_graph(u, v, weight, n_nodes=n), graph, sources, offsets, cutoff, reference, (u, v, weight, n)


# ---------------------------------------------------------------------------------------------------------------
# Known answers on the 4x4 grid.


def test_a_node_three_blocks_away_is_300_metres():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    dist, which = nearest(graph, np.array([0]))
    assert dist[3] == 300.0 and dist[12] == 300.0 and dist[15] == 600.0
    assert (which == 0).all()
    assert graph.n_nodes == 16 and graph.n_edges == 48


def test_grid_counts_catchments_and_cutoffs_are_inclusive():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    r = reach(graph, np.array([0]), cutoff=300.0)
    assert len(r) == 10  # nodes with r + c <= 3
    assert set(r.node.tolist()) == {0, 1, 2, 3, 4, 5, 6, 8, 9, 12}
    assert np.all(np.diff(r.cost) >= 0)  # increasing cost within a source
    counts = count_within(graph, np.array([0, 15, 15]), cutoff=[600.0, 0.0, 300.0])
    assert counts.shape == (3, 16) and counts.dtype == np.int64
    assert counts[0].tolist() == [3] * 16
    assert counts[1, 0] == 1 and counts[1, 15] == 2 and counts[1].sum() == 3
    assert counts[2, 3] == 3 and counts[2, 5] == 1 and counts[2, 15] == 2
    access = two_step_fca(graph, np.array([0]), supply=np.array([10.0]), demand=np.ones(16), cutoff=300.0)
    assert access[r.node].tolist() == [1.0] * 10 and access.sum() == 10.0


def test_offsets_shift_costs_and_inf_offsets_are_ignored():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    dist, which = nearest(graph, np.array([0, 15, 5]), offsets=np.array([50.0, 0.0, np.inf]))
    assert dist[0] == 50.0 and dist[5] == 250.0 and dist[15] == 0.0
    assert which[5] == 0 and (which != 2).all()
    dist, which = nearest(graph, np.array([0]), cutoff=200.0)
    assert np.isinf(dist[3]) and which[3] == -1 and dist[2] == 200.0
    empty = nearest(graph, np.array([], dtype=np.int64))
    assert np.isinf(empty[0]).all() and (empty[1] == -1).all()
    assert len(reach(graph, np.array([3]), cutoff=100.0, offsets=np.array([np.inf]))) == 0


def test_demand_free_catchment_serves_no_one():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    demand = np.zeros(16)
    demand[15] = 4.0
    access = two_step_fca(graph, np.array([0, 15]), supply=np.array([5.0, 2.0]), demand=demand, cutoff=100.0)
    assert np.isfinite(access).all()
    assert access[0] == 0.0 and access[15] == 0.5 and access[11] == 0.5


# ---------------------------------------------------------------------------------------------------------------
# Oracle tests on random graphs.


def test_nearest_matches_networkx(case):
    graph, nxg, sources, offsets, cutoff, reference, _ = case
    for cut in (np.inf, cutoff):
        dist, which = nearest(graph, sources, offsets=offsets, cutoff=cut)
        expected = np.full(graph.n_nodes, np.inf)
        for j, costs in enumerate(reference):
            for node, d in costs.items():
                if offsets[j] + d <= cut:
                    expected[node] = min(expected[node], offsets[j] + d)
        np.testing.assert_allclose(dist, expected, rtol=0, atol=TOL)
        reached = np.isfinite(expected)
        assert (which[~reached] == -1).all()
        for node in np.flatnonzero(reached):  # ties may name either source: check the named one is that close
            j = which[node]
            assert j != 2 and abs(offsets[j] + reference[j][node] - dist[node]) < TOL
    plain = nx.multi_source_dijkstra_path_length(nxg, set(sources.tolist()), weight="weight")
    dist, _ = nearest(graph, sources)
    np.testing.assert_allclose(dist[list(plain)], list(plain.values()), rtol=0, atol=TOL)
    assert np.isinf(np.delete(dist, list(plain))).all()


def test_reach_matches_networkx(case):
    graph, _, sources, offsets, cutoff, reference, _ = case
    r = reach(graph, sources, cutoff=cutoff, offsets=offsets)
    expected = pairs_within(reference, offsets, cutoff)
    got = {(int(j), int(node)): c for j, node, c in zip(r.source, r.node, r.cost)}
    assert len(got) == len(r)  # no pair twice
    assert got.keys() == expected.keys()
    assert max((abs(got[p] - expected[p]) for p in expected), default=0.0) < TOL
    assert np.all(np.diff(r.source) >= 0)  # grouped by source, in source order
    assert r.source.dtype == np.int32 and r.node.dtype == np.int32


def test_count_within_matches_networkx(case):
    graph, _, sources, offsets, cutoff, reference, _ = case
    cutoffs = [cutoff, cutoff / 3, 2 * cutoff]
    counts = count_within(graph, sources, cutoff=cutoffs, offsets=offsets)
    weights = np.arange(1.0, len(sources) + 1)
    sums = count_within(graph, sources, cutoff=cutoff, offsets=offsets, source_weights=weights)
    for row, cut in zip(counts, cutoffs):
        expected = np.zeros(graph.n_nodes, np.int64)
        for j, node in pairs_within(reference, offsets, cut):
            expected[node] += 1
        np.testing.assert_array_equal(row, expected)
    expected = np.zeros(graph.n_nodes)
    for j, node in pairs_within(reference, offsets, cutoff):
        expected[node] += weights[j]
    np.testing.assert_allclose(sums, expected, rtol=1e-12)
    np.testing.assert_array_equal(count_within(graph, sources, cutoff=cutoff, offsets=offsets), counts[0])


def test_two_step_fca_matches_networkx(case):
    graph, _, sources, offsets, cutoff, reference, _ = case
    rng = np.random.default_rng(7)
    supply = rng.uniform(1.0, 5.0, len(sources))
    demand = rng.uniform(0.0, 10.0, graph.n_nodes) * (rng.random(graph.n_nodes) < 0.7)
    for offs in (None, offsets):
        off = np.zeros(len(sources)) if offs is None else offs
        pairs = pairs_within(reference, off, cutoff)
        served = np.zeros(len(sources))
        for j, node in pairs:
            served[j] += demand[node]
        ratio = np.divide(supply, served, out=np.zeros_like(served), where=served > 0)
        expected = np.zeros(graph.n_nodes)
        for j, node in pairs:
            expected[node] += ratio[j]
        got = two_step_fca(graph, sources, supply=supply, demand=demand, cutoff=cutoff, offsets=offs)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# Edits: closed, new weights, reversed.


def test_closed_equals_networkx_with_the_edges_removed(case):
    graph, _, sources, _, _, _, (u, v, weight, n) = case
    rng = np.random.default_rng(11)
    edges = rng.choice(len(u), size=len(u) // 5, replace=False)
    before = graph.weights.copy()

    closed = graph.closed(edges)
    keep = np.ones(len(u), bool)
    keep[edges] = False
    expected = nx.multi_source_dijkstra_path_length(to_nx(u[keep], v[keep], weight[keep], n), set(sources.tolist()))
    dist = nearest(closed, sources)[0]
    np.testing.assert_allclose(dist[list(expected)], list(expected.values()), rtol=0, atol=TOL)
    assert np.isinf(np.delete(dist, list(expected))).all()
    np.testing.assert_array_equal(nearest(graph.closed(~keep), sources)[0], dist)  # a boolean mask works too

    np.testing.assert_array_equal(graph.weights, before)  # the baseline is never mutated
    assert closed.indptr is graph.indptr and closed.indices is graph.indices and closed.edge_order is graph.edge_order
    assert not closed.weights.flags.writeable


def test_with_weights_equals_a_fresh_compile(case):
    graph, _, sources, _, cutoff, _, (u, v, weight, n) = case
    other = weight * np.random.default_rng(5).uniform(0.5, 2.0, len(weight))
    fresh = compile_graph(u, v, other, n_nodes=n)
    swapped = graph.with_weights(other)
    np.testing.assert_array_equal(swapped.weights, fresh.weights)
    np.testing.assert_array_equal(nearest(swapped, sources)[0], nearest(fresh, sources)[0])
    np.testing.assert_array_equal(graph.with_weights(weight).weights, graph.weights)


def test_reversed_equals_networkx_reverse(case):
    graph, nxg, sources, offsets, cutoff, _, (u, v, weight, n) = case
    back = graph.reversed()
    reverse_table = from_each(nxg.reverse(copy=True), sources)
    expected = np.full(n, np.inf)
    for j, costs in enumerate(reverse_table):
        for node, d in costs.items():
            expected[node] = min(expected[node], offsets[j] + d)
    np.testing.assert_allclose(nearest(back, sources, offsets=offsets)[0], expected, rtol=0, atol=TOL)
    assert back.reversed().n_edges == graph.n_edges
    np.testing.assert_array_equal(nearest(back.reversed(), sources)[0], nearest(graph, sources)[0])
    # Input edge numbers survive the transpose: closing edge i of the reversed graph closes v[i] -> u[i].
    edges = np.arange(0, len(u), 3)
    keep = np.ones(len(u), bool)
    keep[edges] = False
    expected = nx.multi_source_dijkstra_path_length(to_nx(v[keep], u[keep], weight[keep], n), set(sources.tolist()))
    dist = nearest(back.closed(edges), sources)[0]
    np.testing.assert_allclose(dist[list(expected)], list(expected.values()), rtol=0, atol=TOL)


def test_a_closed_edge_can_be_reopened_and_zero_weights_work():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    edge = int(np.flatnonzero((u == 0) & (v == 1))[0])
    assert nearest(graph.closed([edge]), np.array([0]))[0][1] == 300.0
    assert nearest(graph.with_weights(np.where(np.arange(len(u)) == edge, 0.0, w)), np.array([0]))[0][1] == 0.0
    opened = graph.closed([edge]).with_weights(w)
    assert nearest(opened, np.array([0]))[0][1] == 100.0
    closed_input = compile_graph(u, v, np.where(np.arange(len(u)) == edge, np.inf, w), n_nodes=n)
    assert nearest(closed_input, np.array([0]))[0][1] == 300.0


def test_graph_size_and_dtypes():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    assert graph.indptr.dtype == np.int32 and graph.indices.dtype == np.int32 and graph.weights.dtype == np.float64
    assert graph.nbytes == 17 * 4 + 48 * 4 + 48 * 8
    assert "n_nodes=16" in repr(graph)
    slots = graph.edge_order
    tails = np.repeat(np.arange(n), np.diff(graph.indptr))
    np.testing.assert_array_equal(tails[slots], u)
    np.testing.assert_array_equal(graph.indices[slots], v)
    assert isinstance(graph, CSRGraph)


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line each, naming the field.


@pytest.mark.parametrize("u, v, w, n_nodes, field", [
    ([0, 1], [1, 2], [1.0, -1.0], 3, "weight"),
    ([0, 1], [1, 2], [1.0, np.nan], 3, "weight"),
    ([0, 3], [1, 2], [1.0, 1.0], 3, "u"),
    ([0, 1], [1, -1], [1.0, 1.0], 3, "v"),
    ([0, 1], [1], [1.0, 1.0], 3, "v"),
    ([0, 1], [1, 2], [1.0], 3, "weight"),
    ([0.0, 1.0], [1, 2], [1.0, 1.0], 3, "u"),
    ([0, 1], [1, 2], [1.0, 1.0], -1, "n_nodes"),
])
def test_compile_graph_errors(u, v, w, n_nodes, field):
    with pytest.raises(TwinError, match=f"compile_graph: {field}") as error:
        compile_graph(np.array(u), np.array(v), np.array(w), n_nodes=n_nodes)
    assert "\n" not in str(error.value)


def test_search_errors():
    u, v, w, n = grid()
    graph = compile_graph(u, v, w, n_nodes=n)
    with pytest.raises(TwinError, match="nearest: sources: 1 out of range"):
        nearest(graph, np.array([0, 16]))
    with pytest.raises(TwinError, match="reach: offsets"):
        reach(graph, np.array([0]), cutoff=1.0, offsets=np.array([np.nan]))
    with pytest.raises(TwinError, match="count_within: cutoff"):
        count_within(graph, np.array([0]), cutoff=-1.0)
    with pytest.raises(TwinError, match="two_step_fca: demand"):
        two_step_fca(graph, np.array([0]), supply=np.array([1.0]), demand=np.ones(3), cutoff=1.0)
    with pytest.raises(TwinError, match="CSRGraph: edges"):
        graph.closed(np.array([48]))
    with pytest.raises(TwinError, match="CSRGraph.with_weights: weights: 1 invalid"):
        graph.with_weights(np.where(np.arange(48) == 0, -2.0, 1.0))
