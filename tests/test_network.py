"""Mode rules, travel times, the connected core, street networks as arrays (their frames, networkx views and
pickles) and entries onto them."""

from __future__ import annotations

import pickle

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from sandbox import TwinError
from sandbox import layers
from sandbox.network import (Speeds, StreetNetwork, as_street_network, build_network, mode_directions,
                             network_frames, network_from_frames, point_candidates)

# Node id -> (x, y) in metres; a square 1-2-3-4 of 100 m sides plus a spur 4-5 and an isolated pair 8-9.
NODES = {1: (0, 0), 2: (100, 0), 3: (100, 100), 4: (0, 100), 5: (-50, 100), 8: (500, 500), 9: (520, 500)}


def ways(*rows: tuple) -> gpd.GeoDataFrame:
    """Way segments (u, v, tags) as read_osm gives them, in EPSG:3067."""
    records = []
    for i, (u, v, tags) in enumerate(rows):
        record = {tag: None for tag in layers.WAY_TAGS}
        record.update(tags)
        records.append({"u": u, "v": v, "osm_id": 100 + i, **record})
    geometry = [shapely.LineString([NODES[u], NODES[v]]) for u, v, _ in rows]
    return gpd.GeoDataFrame(pd.DataFrame(records), geometry=geometry, crs=3067)


SQUARE = ways(
    (1, 2, {"highway": "residential"}),
    (2, 3, {"highway": "primary", "oneway": "yes", "maxspeed": "40"}),
    (3, 4, {"highway": "footway"}),
    (4, 1, {"highway": "residential", "oneway": "-1"}),
    (4, 5, {"highway": "footway", "foot": "no"}),
    (8, 9, {"highway": "footway"}),
)


def test_walkers_use_every_street_both_ways_unless_forbidden():
    forward, backward = mode_directions(SQUARE, "walk")
    assert forward.tolist() == [True, True, True, True, False, True]
    assert backward.tolist() == forward.tolist()


def test_drivers_follow_one_way_streets_and_stay_off_footways():
    forward, backward = mode_directions(SQUARE, "drive")
    assert forward.tolist() == [True, True, False, False, False, False]
    assert backward.tolist() == [True, False, False, True, False, False]


def edge_index(net: StreetNetwork) -> dict[tuple[int, int], int]:
    """(u, v) node ids -> edge position, for networks without parallel edges."""
    return {(u, v): i for i, (u, v) in enumerate(zip(net.node_ids[net.edge_u].tolist(),
                                                      net.node_ids[net.edge_v].tolist()))}


def test_walk_network_keeps_the_largest_component_and_times_follow_speed():
    net = build_network(SQUARE, "walk", speeds=Speeds(walk_mps=1.25))
    assert set(net.node_ids.tolist()) == {1, 2, 3, 4}
    assert net.dropped_nodes == 2  # the isolated pair 8-9
    assert net.n_edges == 8
    one_two = edge_index(net)[(1, 2)]
    assert net.length_m[one_two] == pytest.approx(100.0)
    assert net.time_s[one_two] == pytest.approx(80.0)
    assert net.xy[net.node_ids.tolist().index(3)].tolist() == [100.0, 100.0]
    assert nx.shortest_path_length(net.to_networkx(), 1, 3, weight="length") == pytest.approx(200.0)


def test_drive_network_uses_maxspeed_and_is_strongly_connected():
    triangle = ways(
        (1, 2, {"highway": "residential", "oneway": "yes"}),
        (2, 3, {"highway": "primary", "oneway": "yes", "maxspeed": "36"}),
        (3, 1, {"highway": "residential", "oneway": "yes"}),
        (3, 4, {"highway": "residential", "oneway": "yes"}),  # a dead-end one-way: cannot come back
    )
    net = build_network(triangle, "drive")
    assert set(net.node_ids.tolist()) == {1, 2, 3}
    edge = edge_index(net)
    assert net.time_s[edge[(2, 3)]] == pytest.approx(100.0 / 10.0)
    assert net.time_s[edge[(1, 2)]] == pytest.approx(100.0 / (30 / 3.6))
    assert set(edge) == {(1, 2), (2, 3), (3, 1)}
    assert nx.is_strongly_connected(net.to_networkx())


def test_a_network_says_what_it_is_in_one_line():
    net = build_network(SQUARE, "walk")
    assert repr(net) == "StreetNetwork('walk', 4 nodes, 8 edges, EPSG:3067)"


def test_reverse_edges_carry_reversed_geometry():
    net = build_network(SQUARE, "walk")
    edge = edge_index(net)
    forward, backward = net.geometry[edge[(1, 2)]], net.geometry[edge[(2, 1)]]
    assert list(forward.coords) == list(reversed(backward.coords))
    assert len(net.undirected()) == 4  # each street drawn once


def test_frames_round_trip_keeps_every_edge_in_order():
    net = build_network(SQUARE, "walk")
    nodes, edges = network_frames(net)
    again = network_from_frames(nodes, edges, crs=net.crs, attrs=net.attrs)
    for name in ("node_ids", "xy", "edge_u", "edge_v", "keys", "osmids", "length_m", "time_s"):
        assert np.array_equal(getattr(again, name), getattr(net, name)), name
    assert again.names.tolist() == net.names.tolist() and again.highways.tolist() == net.highways.tolist()
    assert all(a.equals_exact(b, 0) for a, b in zip(again.geometry, net.geometry))
    assert (again.mode, again.dropped_nodes, again.access_mps) == ("walk", 2, net.access_mps)
    with pytest.raises(TwinError, match="edges name nodes the network does not have"):
        network_from_frames(nodes.iloc[:1], edges, crs=net.crs, attrs=net.attrs)


def test_networkx_is_a_view_both_ways():
    """to_networkx gives osmnx's conventions; from_networkx numbers edges in graph order and gives the same
    arrays back; a graph is converted once per object."""
    net = build_network(SQUARE, "walk")
    graph = net.to_networkx()
    assert graph.graph["crs"] == net.crs and graph.graph["dropped_nodes"] == 2
    assert sorted(graph.edges(keys=True)) == sorted(zip(net.node_ids[net.edge_u].tolist(),
                                                        net.node_ids[net.edge_v].tolist(), net.keys.tolist()))
    again = StreetNetwork.from_networkx(graph)
    order = [(u, v, k) for u, v, k in graph.edges(keys=True)]
    mine = list(zip(net.node_ids[net.edge_u].tolist(), net.node_ids[net.edge_v].tolist(), net.keys.tolist()))
    position = [mine.index(e) for e in order]
    assert np.array_equal(again.time_s, net.time_s[position])
    assert again.names.tolist() == net.names[position].tolist()
    assert as_street_network(graph) is as_street_network(graph)
    assert as_street_network(net) is net


def test_a_pickled_network_leaves_what_is_derived_behind():
    net = build_network(SQUARE, "walk")
    assert net.time.n_nodes == 4 and len(net.tree.query(shapely.box(0, 0, 10, 10))) > 0
    net.cache["search"] = "derived"
    again = pickle.loads(pickle.dumps(net))
    assert again.cache == {} and "tree" not in again.__dict__ and "time" not in again.__dict__
    assert np.array_equal(again.time_s, net.time_s) and again.time.n_nodes == 4


def test_no_usable_street_and_unprojected_input_are_errors():
    with pytest.raises(TwinError, match="no street .* mode 'drive'"):
        build_network(ways((1, 2, {"highway": "footway"})), "drive")
    with pytest.raises(TwinError, match="projected CRS"):
        build_network(SQUARE.to_crs(4326), "walk")
    with pytest.raises(TwinError, match="mode: unknown 'boat'"):
        mode_directions(SQUARE, "boat")


def test_closures_only_take_entries_away():
    """A point 10 m from corner 1 on both its streets: candidates on four directed edges, priced per closure."""
    net = build_network(SQUARE, "walk", speeds=Speeds(walk_mps=1.0))
    candidates = point_candidates(net, np.array([[10.0, 10.0]]))
    edge = edge_index(net)

    def entries(closed=(), slowed=()):
        factors = np.ones(len(edge))
        factors[[edge[e] for e in closed]] = np.inf
        factors[[edge[e] for e in slowed]] = 3.0
        found = candidates.entries(net.travel_times(factors))
        return dict(zip(net.node_ids[found.node].tolist(), found.cost_s.tolist()))

    # To corner 1: 10 m across and 10 m along, by 2->1 or 4->1; on to 2 or 4: 10 m across and 90 m along.
    assert entries() == pytest.approx({1: 20.0, 2: 100.0, 4: 100.0})
    assert entries(closed=[(1, 2), (2, 1)]) == pytest.approx({1: 20.0, 4: 100.0})  # corner 1 still by 4->1
    assert entries(slowed=[(2, 1), (4, 1)]) == pytest.approx({1: 40.0, 2: 100.0, 4: 100.0})
    assert entries(closed=[(1, 2), (2, 1), (1, 4), (4, 1)]) == {}  # cut off


def test_threads_follow_sandbox_threads(monkeypatch):
    from sandbox.network import threads

    monkeypatch.setenv("SANDBOX_THREADS", "3")
    assert threads() == 3
    monkeypatch.delenv("SANDBOX_THREADS")
    assert 1 <= threads() <= 8
    monkeypatch.setenv("SANDBOX_THREADS", "many")
    with pytest.raises(TwinError, match=r"SANDBOX_THREADS: 'many'; expected a whole number of threads, 1 or more"):
        threads()


def test_joining_on_several_threads_gives_the_same_candidates(monkeypatch):
    """Points are joined in blocks on threads: the candidates are those of one block on one thread."""
    from sandbox import network
    from sandbox.synth import town

    net = town(households=5000, seed=3).networks["walk"]
    points = np.random.default_rng(0).uniform(net.xy.min(axis=0), net.xy.max(axis=0), (50_000, 2))
    monkeypatch.setenv("SANDBOX_THREADS", "1")
    one = point_candidates(net, points)
    monkeypatch.setenv("SANDBOX_THREADS", "2")
    monkeypatch.setattr(network, "_BLOCK_POINTS", 1000)
    several = point_candidates(net, points)
    for name in ("point", "node", "edge", "leg_s", "share", "first"):
        assert np.array_equal(getattr(one, name), getattr(several, name)), name
