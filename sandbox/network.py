"""Street networks per travel mode: which OSM ways each mode may use, travel times, and the connected core."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._errors import TwinError

if TYPE_CHECKING:  # routing imports numba, which is slow to import: load it on first use
    from .routing import CSRGraph

MODES = ("walk", "bike", "drive")

WALK_HIGHWAYS = {
    "footway", "pedestrian", "path", "steps", "living_street", "residential", "service", "unclassified",
    "tertiary", "tertiary_link", "secondary", "secondary_link", "primary", "primary_link", "track", "corridor",
    "elevator", "cycleway", "platform", "trail", "road", "crossing", "bridleway",
}
BIKE_HIGHWAYS = {
    "cycleway", "residential", "service", "unclassified", "tertiary", "tertiary_link", "secondary",
    "secondary_link", "primary", "primary_link", "living_street", "track", "road", "path", "trail",
}
DRIVE_SPEEDS_KPH = {
    "motorway": 100, "motorway_link": 60, "trunk": 80, "trunk_link": 50, "primary": 50, "primary_link": 40,
    "secondary": 50, "secondary_link": 40, "tertiary": 40, "tertiary_link": 30, "unclassified": 30,
    "residential": 30, "living_street": 20, "service": 20, "road": 30,
}
YES = {"yes", "designated", "permissive", "official"}
CLOSED = {"no", "private"}


@dataclass(frozen=True)
class Speeds:
    """Travel speeds: walking and cycling are constant; driving follows ``maxspeed`` or road-class defaults."""

    walk_mps: float = 1.2  # a typical older adult's pace; faster adults walk about 1.4 m/s
    bike_mps: float = 4.5  # about 16 km/h, everyday urban cycling
    drive_kph: dict[str, float] = field(default_factory=lambda: dict(DRIVE_SPEEDS_KPH))


def _text(ways: gpd.GeoDataFrame, key: str) -> pd.Series:
    return ways[key].astype(object).where(ways[key].notna(), "").astype(str).str.lower()


def mode_directions(ways: gpd.GeoDataFrame, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Whether each way segment may be used by ``mode`` forwards (u->v) and backwards (v->u)."""
    highway, access, oneway = _text(ways, "highway"), _text(ways, "access"), _text(ways, "oneway")
    if mode == "walk":
        foot = _text(ways, "foot")
        allowed = (highway.isin(WALK_HIGHWAYS) | foot.isin(YES)) & ~foot.isin(CLOSED)
        allowed &= ~(access.isin(CLOSED) & ~foot.isin(YES))
        return allowed.values, allowed.values
    if mode == "bike":
        bicycle = _text(ways, "bicycle")
        allowed = (highway.isin(BIKE_HIGHWAYS) | bicycle.isin(YES)) & ~bicycle.isin(CLOSED)
        allowed &= ~(access.isin(CLOSED) & ~bicycle.isin(YES))
        one_way = oneway.isin(["yes", "true", "1"]) & (highway != "cycleway")
        return allowed.values, (allowed & ~one_way).values
    if mode == "drive":
        motor = _text(ways, "motor_vehicle").where(_text(ways, "motorcar") == "", _text(ways, "motorcar"))
        allowed = highway.isin(DRIVE_SPEEDS_KPH) & ~access.isin(CLOSED) & ~motor.isin(CLOSED)
        one_way = oneway.isin(["yes", "true", "1"]) | (_text(ways, "junction") == "roundabout")
        reverse_only = oneway == "-1"
        return (allowed & ~reverse_only).values, (allowed & ~one_way).values
    raise TwinError(f"mode: unknown '{mode}'; expected one of {', '.join(MODES)}")


def _speed_mps(ways: gpd.GeoDataFrame, mode: str, speeds: Speeds) -> np.ndarray:
    if mode == "walk":
        return np.full(len(ways), speeds.walk_mps)
    if mode == "bike":
        return np.full(len(ways), speeds.bike_mps)
    posted = pd.to_numeric(_text(ways, "maxspeed").str.extract(r"(\d+)")[0], errors="coerce")
    by_class = _text(ways, "highway").map(speeds.drive_kph).astype(float)
    return (posted.fillna(by_class).fillna(30.0).clip(lower=5.0) / 3.6).to_numpy()


def build_network(ways: gpd.GeoDataFrame, mode: str, *, speeds: Speeds = Speeds()) -> nx.MultiDiGraph:
    """A directed street graph for one mode, in osmnx's conventions, reduced to its largest strongly
    connected component so that every node can reach every other (isolated fragments would otherwise
    trap snapped points). ``graph.graph['dropped_nodes']`` says how many nodes were left out."""
    if ways.crs is None or not ways.crs.is_projected:
        raise TwinError("network: ways must be in a projected CRS in metres; reproject them first")
    forward, backward = mode_directions(ways, mode)
    usable = forward | backward
    if not usable.any():
        raise TwinError(f"network: no street in the extract can be used by mode '{mode}'")
    ways = ways[usable]
    forward, backward = forward[usable], backward[usable]
    speed = _speed_mps(ways, mode, speeds)
    length = ways.geometry.length.to_numpy()
    geoms = ways.geometry.to_numpy()
    u, v = ways["u"].to_numpy(), ways["v"].to_numpy()

    src = np.concatenate([u[forward], v[backward]])
    dst = np.concatenate([v[forward], u[backward]])
    rows = np.concatenate([np.flatnonzero(forward), np.flatnonzero(backward)])
    reverse = np.concatenate([np.zeros(forward.sum(), bool), np.ones(backward.sum(), bool)])

    node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
    n = len(node_ids)
    s_idx, d_idx = inverse[: len(src)], inverse[len(src):]
    adjacency = coo_matrix((np.ones(len(src)), (s_idx, d_idx)), shape=(n, n))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    largest = np.argmax(np.bincount(label))
    keep_node = label == largest
    keep_edge = keep_node[s_idx] & keep_node[d_idx]

    starts = shapely.get_coordinates(shapely.get_point(geoms, 0))
    ends = shapely.get_coordinates(shapely.get_point(geoms, -1))
    xy = np.empty((n, 2))
    xy[inverse[: len(src)]] = np.where(reverse[:, None], ends[rows], starts[rows])
    xy[inverse[len(src):]] = np.where(reverse[:, None], starts[rows], ends[rows])

    graph = nx.MultiDiGraph(crs=ways.crs.to_string(), mode=mode, simplified=False, walk_mps=speeds.walk_mps,
                            dropped_nodes=int((~keep_node).sum()), dropped_edges=int((~keep_edge).sum()))
    graph.add_nodes_from((int(node_ids[i]), {"x": float(xy[i, 0]), "y": float(xy[i, 1])})
                         for i in np.flatnonzero(keep_node))
    osm_ids, highways, names = ways["osm_id"].to_numpy(), ways["highway"].to_numpy(), ways["name"].to_numpy()
    for e in np.flatnonzero(keep_edge):
        row = rows[e]
        geometry = geoms[row].reverse() if reverse[e] else geoms[row]
        graph.add_edge(int(src[e]), int(dst[e]), osmid=int(osm_ids[row]), highway=highways[row],
                       name=names[row], length=float(length[row]),
                       travel_time_s=float(length[row] / speed[row]), geometry=geometry)
    return graph


def network_to_frames(graph: nx.MultiDiGraph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as flat GeoDataFrames (for GeoPackage and fingerprints)."""
    crs = graph.graph["crs"]
    node_ids = np.fromiter(graph.nodes, dtype="int64", count=graph.number_of_nodes())
    xs = np.array([graph.nodes[i]["x"] for i in node_ids])
    ys = np.array([graph.nodes[i]["y"] for i in node_ids])
    nodes = gpd.GeoDataFrame({"node_id": node_ids, "x": xs, "y": ys}, geometry=gpd.points_from_xy(xs, ys), crs=crs)
    records = [(u, v, k, d["osmid"], d["highway"], d["name"], d["length"], d["travel_time_s"], d["geometry"])
               for u, v, k, d in graph.edges(keys=True, data=True)]
    columns = ["u", "v", "key", "osmid", "highway", "name", "length", "travel_time_s", "geometry"]
    edges = gpd.GeoDataFrame(pd.DataFrame.from_records(records, columns=columns), geometry="geometry", crs=crs)
    edges = edges.astype({"u": "int64", "v": "int64", "key": "int64", "osmid": "int64"})
    return nodes, edges


def network_from_frames(nodes: pd.DataFrame, edges: pd.DataFrame, *, crs: str,
                        attrs: dict | None = None) -> nx.MultiDiGraph:
    """Rebuild a graph saved with :func:`network_to_frames`."""
    graph = nx.MultiDiGraph(crs=crs, **(attrs or {}))
    graph.add_nodes_from((i, {"x": x, "y": y}) for i, x, y in
                         zip(nodes["node_id"].tolist(), nodes["x"].tolist(), nodes["y"].tolist()))
    names = edges["name"].astype(object).where(edges["name"].notna(), None).tolist()
    columns = [edges[c].tolist() for c in ("u", "v", "key", "osmid", "highway", "length", "travel_time_s")]
    geometries = np.asarray(edges.geometry.values).tolist()
    graph.add_edges_from(
        (u, v, k, {"osmid": o, "highway": h, "name": nm, "length": length, "travel_time_s": t, "geometry": g})
        for u, v, k, o, h, length, t, nm, g in zip(*columns, names, geometries))
    return graph


def node_bounds(graph: nx.MultiDiGraph) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a graph's nodes."""
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)])
    return (*xy.min(axis=0), *xy.max(axis=0))


@dataclass(frozen=True, eq=False)
class CompiledNetwork:
    """A mode's street graph as arrays, compiled once: what every accessibility measure runs on.

    Input edges are numbered in ``graph.edges(keys=True)`` order; ``edge_u``/``edge_v`` are node positions and
    ``time`` is the CSR graph weighted by ``travel_time_s``. A closed street is a weight, not a rebuild:
    ``net.time.closed(edges)``.
    """

    mode: str
    key: str
    node_ids: np.ndarray
    xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    time: CSRGraph
    geometry: np.ndarray
    tree: shapely.STRtree
    access_mps: float

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)


@dataclass(frozen=True, eq=False)
class Entries:
    """Where points join the network: candidate nodes per point, with the cost (s) between point and node."""

    point: np.ndarray
    node: np.ndarray
    cost_s: np.ndarray
    n_points: int

    def reachable(self) -> np.ndarray:
        """Which points have at least one entry."""
        return np.bincount(self.point, minlength=self.n_points) > 0


_compiled: dict[str, CompiledNetwork] = {}


def compile_network(graph: nx.MultiDiGraph) -> CompiledNetwork:
    """Arrays of ``graph``, cached under a key made of its structure and weights (a changed graph is recompiled)."""
    from .routing import compile_graph

    records = list(graph.edges(keys=True, data=True))
    node_ids = np.fromiter(graph.nodes, dtype="int64", count=graph.number_of_nodes())
    xy = np.array([(graph.nodes[i]["x"], graph.nodes[i]["y"]) for i in node_ids], dtype="float64").reshape(-1, 2)
    ends = np.array([(u, v, k) for u, v, k, _ in records], dtype="int64").reshape(-1, 3)
    length = np.array([d["length"] for *_, d in records], dtype="float64")
    time = np.array([d["travel_time_s"] for *_, d in records], dtype="float64")
    access = float(graph.graph.get("walk_mps", Speeds().walk_mps))
    digest = hashlib.sha256(graph.graph.get("mode", "").encode())
    for array in (node_ids, xy, ends, length, time, np.array([access])):
        digest.update(array.tobytes())
    key = digest.hexdigest()[:16]
    if key not in _compiled:
        position = pd.Index(node_ids)
        edge_u = position.get_indexer(ends[:, 0])
        edge_v = position.get_indexer(ends[:, 1])
        geometry = np.array([d.get("geometry") or shapely.LineString([xy[a], xy[b]])
                             for (*_, d), a, b in zip(records, edge_u, edge_v)], dtype=object)
        if len(_compiled) > 16:  # scenarios make variants; keep memory bounded
            _compiled.pop(next(iter(_compiled)))
        _compiled[key] = CompiledNetwork(
            mode=graph.graph.get("mode", ""), key=key, node_ids=node_ids, xy=xy, edge_u=edge_u, edge_v=edge_v,
            length_m=length, time_s=time, time=compile_graph(edge_u, edge_v, time, n_nodes=len(node_ids)),
            geometry=geometry, tree=shapely.STRtree(geometry), access_mps=access)
    return _compiled[key]


def snap_points(net: CompiledNetwork, xy: np.ndarray, *, arrive: bool = False, slack_m: float = 20.0,
                factors: np.ndarray | None = None) -> Entries:
    """Join points to the network at the nearest street, not the nearest node.

    A point reaches the edges within ``slack_m`` of its nearest edge: it walks straight to the edge (at walking
    speed), then along it to the edge's head node (to its tail node when ``arrive``: coming from the network to
    the point). Several candidates let the search pick the entry that suits each trip, so a courtyard path does
    not force a detour. ``factors`` multiply edge travel times as in ``Twin.edge_factors``: closed edges (``inf``)
    drop out of the candidates chosen on the whole network, so a closure can only take entries away; a point
    whose every nearby street is closed (or flooded) has no entry: it is cut off.
    """
    points = shapely.points(np.asarray(xy, dtype="float64").reshape(-1, 2))
    if len(points) == 0:
        return Entries(np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0), 0)
    time_s = net.time_s if factors is None else net.time_s * factors
    point, edge = _candidates(net.tree, points, slack_m)
    is_open = np.isfinite(time_s[edge])
    point, edge = point[is_open], edge[is_open]
    lines, at = net.geometry[edge], points[point]
    along = shapely.line_locate_point(lines, at) / np.maximum(shapely.length(lines), 1e-9)
    leg_s = shapely.distance(lines, at) / net.access_mps
    if arrive:
        node, cost = net.edge_u[edge], leg_s + along * time_s[edge]
    else:
        node, cost = net.edge_v[edge], leg_s + (1.0 - along) * time_s[edge]
    return _cheapest(point, node, cost, len(points))


def _candidates(tree: shapely.STRtree, points: np.ndarray, slack_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(point, edge) pairs: every edge within ``slack_m`` of the point's nearest edge."""
    _, nearest_m = tree.query_nearest(points, return_distance=True, all_matches=False)
    return tree.query(points, predicate="dwithin", distance=nearest_m + slack_m)


def snap_polygons(net: CompiledNetwork, polygons: gpd.GeoSeries, *, arrive: bool = True,
                  spacing_m: float = 25.0, factors: np.ndarray | None = None) -> Entries:
    """Join areas (parks) to the network at their edges: every node inside costs nothing, and points along the
    boundary, every ``spacing_m``, join the nearest streets as in :func:`snap_points`."""
    shapes = np.asarray(polygons.values, dtype=object)
    rings = shapely.segmentize(shapely.boundary(shapes), spacing_m)
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    boundary = snap_points(net, coords, arrive=arrive, factors=factors)
    inside_shape, inside_node = shapely.STRtree(shapely.points(net.xy)).query(shapes, predicate="contains")
    return _cheapest(np.concatenate([owner[boundary.point], inside_shape]),
                     np.concatenate([boundary.node, inside_node]),
                     np.concatenate([boundary.cost_s, np.zeros(len(inside_node))]), len(shapes))


def _cheapest(point: np.ndarray, node: np.ndarray, cost: np.ndarray, n_points: int) -> Entries:
    """One entry per (point, node): the cheapest."""
    order = np.lexsort((cost, node, point))
    point, node, cost = point[order], node[order], cost[order]
    first = np.r_[True, (point[1:] != point[:-1]) | (node[1:] != node[:-1])]
    return Entries(point[first].astype("int64"), node[first].astype("int64"), cost[first], n_points)
