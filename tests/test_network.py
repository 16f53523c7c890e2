"""Mode rules, travel times, the connected core and the GeoPackage round trip of street graphs."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from sandbox import TwinError
from sandbox import layers
from sandbox.network import (Speeds, build_network, compile_network, mode_directions, network_from_frames,
                              network_to_frames, point_candidates)

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


def test_walk_graph_keeps_the_largest_component_and_times_follow_speed():
    graph = build_network(SQUARE, "walk", speeds=Speeds(walk_mps=1.25))
    assert set(graph.nodes) == {1, 2, 3, 4}
    assert graph.graph["dropped_nodes"] == 2  # the isolated pair 8-9
    assert graph.number_of_edges() == 8
    data = graph.get_edge_data(1, 2)[0]
    assert data["length"] == pytest.approx(100.0)
    assert data["travel_time_s"] == pytest.approx(80.0)
    assert graph.nodes[3] == {"x": 100.0, "y": 100.0}
    assert nx.shortest_path_length(graph, 1, 3, weight="length") == pytest.approx(200.0)


def test_drive_graph_uses_maxspeed_and_is_strongly_connected():
    triangle = ways(
        (1, 2, {"highway": "residential", "oneway": "yes"}),
        (2, 3, {"highway": "primary", "oneway": "yes", "maxspeed": "36"}),
        (3, 1, {"highway": "residential", "oneway": "yes"}),
        (3, 4, {"highway": "residential", "oneway": "yes"}),  # a dead-end one-way: cannot come back
    )
    graph = build_network(triangle, "drive")
    assert set(graph.nodes) == {1, 2, 3}
    assert graph.get_edge_data(2, 3)[0]["travel_time_s"] == pytest.approx(100.0 / 10.0)
    assert graph.get_edge_data(1, 2)[0]["travel_time_s"] == pytest.approx(100.0 / (30 / 3.6))
    assert nx.is_strongly_connected(graph)


def test_reverse_edges_carry_reversed_geometry():
    graph = build_network(SQUARE, "walk")
    forward = graph.get_edge_data(1, 2)[0]["geometry"]
    backward = graph.get_edge_data(2, 1)[0]["geometry"]
    assert list(forward.coords) == list(reversed(backward.coords))


def test_frames_round_trip_keeps_every_edge():
    graph = build_network(SQUARE, "walk")
    nodes, edges = network_to_frames(graph)
    again = network_from_frames(nodes, edges, crs=graph.graph["crs"], attrs={"mode": "walk"})
    assert sorted(again.edges(keys=True)) == sorted(graph.edges(keys=True))
    assert [d["travel_time_s"] for *_, d in again.edges(keys=True, data=True)] == \
        [d["travel_time_s"] for *_, d in graph.edges(keys=True, data=True)]


def test_no_usable_street_and_unprojected_input_are_errors():
    with pytest.raises(TwinError, match="no street .* mode 'drive'"):
        build_network(ways((1, 2, {"highway": "footway"})), "drive")
    with pytest.raises(TwinError, match="projected CRS"):
        build_network(SQUARE.to_crs(4326), "walk")
    with pytest.raises(TwinError, match="mode: unknown 'boat'"):
        mode_directions(SQUARE, "boat")


def test_a_graph_is_compiled_once_per_object():
    graph = build_network(SQUARE, "walk")
    net = compile_network(graph)
    assert compile_network(graph) is net
    assert compile_network(graph.copy()) is not net


def test_closures_only_take_entries_away():
    """A point 10 m from corner 1 on both its streets: candidates on four directed edges, priced per closure."""
    graph = build_network(SQUARE, "walk", speeds=Speeds(walk_mps=1.0))
    net = compile_network(graph)
    candidates = point_candidates(net, np.array([[10.0, 10.0]]))
    edge = {(u, v): i for i, (u, v, _) in enumerate(graph.edges(keys=True))}

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
