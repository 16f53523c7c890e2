"""Street networks per travel mode: which OSM ways each mode may use, travel times, and the connected core."""

from __future__ import annotations

import functools
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

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


def build_network(ways: gpd.GeoDataFrame, mode: str, *, speeds: Speeds = Speeds()) -> StreetNetwork:
    """A directed street network for one mode, reduced to its largest strongly connected component so that every
    node can reach every other (isolated fragments would otherwise trap snapped points). Built as arrays, with no
    networkx graph on the way: at a million nodes networkx took 42 s and 4 KB a node."""
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
    xy[s_idx] = np.where(reverse[:, None], ends[rows], starts[rows])
    xy[d_idx] = np.where(reverse[:, None], starts[rows], ends[rows])

    kept = np.flatnonzero(keep_edge)
    row = rows[kept]
    lines = geoms[row].copy()
    lines[reverse[kept]] = shapely.reverse(lines[reverse[kept]])
    position = np.cumsum(keep_node) - 1  # a kept node's position among the kept nodes
    # An edge's key counts the earlier edges between the same two nodes, as networkx numbers parallel edges.
    keys = pd.DataFrame({"u": src[kept], "v": dst[kept]}).groupby(["u", "v"], sort=False).cumcount().to_numpy()
    return StreetNetwork(
        mode=mode, crs=ways.crs.to_string(), node_ids=node_ids[keep_node].astype("int64"), xy=xy[keep_node],
        edge_u=position[s_idx[kept]], edge_v=position[d_idx[kept]], keys=keys.astype("int64"),
        osmids=ways["osm_id"].to_numpy()[row].astype("int64"), highways=ways["highway"].to_numpy(object)[row],
        names=_names(ways["name"].to_numpy(object)[row]), length_m=length[row], time_s=length[row] / speed[row],
        geometry=lines, access_mps=speeds.walk_mps, dropped_nodes=int((~keep_node).sum()),
        dropped_edges=int((~keep_edge).sum()))


def _names(values: np.ndarray) -> np.ndarray:
    """Street names as an object array, None (not NaN or an empty string) where a street has none."""
    names = np.asarray(values, dtype=object).copy()
    missing = pd.isna(names) | (names == "")
    names[missing] = None
    return names


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """A mode's street network as arrays: how a twin keeps it, and what every accessibility measure runs on.

    Edges are numbered once, in the order of these arrays (the order of ``Twin.edge_factors``); ``edge_u`` and
    ``edge_v`` are node positions; ``keys`` count earlier edges between the same two nodes, as networkx numbers
    parallel edges. ``time`` is the CSR graph weighted by ``time_s``, made on first use. A closed street is a
    weight, not a rebuild: ``net.time.with_weights(net.travel_times(factors))``. ``cache`` holds what is derived
    from the network and shared by every twin that has it (search graphs, see ``access.search_graph``).
    networkx is a view for interop (:meth:`to_networkx`, :meth:`from_networkx`), never the storage: at a million
    nodes its graph took 4 KB a node.
    """

    mode: str
    crs: str
    node_ids: np.ndarray  # OSM (or synthetic) node ids
    xy: np.ndarray  # (n_nodes, 2) in the CRS
    edge_u: np.ndarray
    edge_v: np.ndarray
    keys: np.ndarray
    osmids: np.ndarray  # each edge's OSM way id
    highways: np.ndarray  # each edge's highway tag
    names: np.ndarray  # each edge's street name (None where it has none)
    length_m: np.ndarray
    time_s: np.ndarray
    geometry: np.ndarray  # each edge's line, drawn from its tail to its head
    access_mps: float = Speeds().walk_mps  # the pace between a point and the street it joins
    dropped_nodes: int = 0  # left out of the largest strongly connected component
    dropped_edges: int = 0
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"StreetNetwork({self.mode!r}, {self.n_nodes:,} nodes, {self.n_edges:,} edges, {self.crs})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to Dask workers) without what is derived from it: the CSR graph, the spatial index and the
        search graphs are made again where they are used."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "cache": {}}

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @functools.cached_property
    def time(self) -> CSRGraph:
        from .routing import compile_graph

        return compile_graph(self.edge_u, self.edge_v, self.time_s, n_nodes=self.n_nodes)

    @functools.cached_property
    def tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometry)

    @functools.cached_property
    def node_tree(self) -> cKDTree:
        return cKDTree(self.xy)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the nodes."""
        if not self.n_nodes:
            raise TwinError(f"network {self.mode}: no nodes, so no extent")
        return (*map(float, self.xy.min(axis=0)), *map(float, self.xy.max(axis=0)))

    @property
    def attrs(self) -> dict[str, Any]:
        """What a saved twin records of the network beside its arrays (twin.json)."""
        return {"mode": self.mode, "walk_mps": self.access_mps, "dropped_nodes": self.dropped_nodes,
                "dropped_edges": self.dropped_edges}

    def travel_times(self, factors: np.ndarray | None = None) -> np.ndarray:
        """Edge travel times (s) with ``factors`` as in ``Twin.edge_factors`` applied; ``inf`` = closed (also for a
        closed edge of zero length)."""
        if factors is None:
            return self.time_s
        with np.errstate(invalid="ignore"):
            time_s = self.time_s * factors
        return np.where(np.isnan(time_s), np.inf, time_s)

    def undirected(self) -> np.ndarray:
        """Positions of the edges that draw each street once: one of every (u, v, key) and (v, u, key) pair."""
        pairs = pd.DataFrame({"low": np.minimum(self.edge_u, self.edge_v),
                              "high": np.maximum(self.edge_u, self.edge_v), "key": self.keys})
        return np.flatnonzero(~pairs.duplicated().to_numpy())

    def to_networkx(self) -> nx.MultiDiGraph:
        """The network as an osmnx-style networkx graph, made on each call: for interop, not for the pipeline."""
        graph = nx.MultiDiGraph(crs=self.crs, simplified=False, **self.attrs)
        graph.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in zip(self.node_ids.tolist(), self.xy.tolist()))
        graph.add_edges_from(
            (u, v, k, {"osmid": o, "highway": h, "name": nm, "length": m, "travel_time_s": t, "geometry": g})
            for u, v, k, o, h, nm, m, t, g in zip(
                self.node_ids[self.edge_u].tolist(), self.node_ids[self.edge_v].tolist(), self.keys.tolist(),
                self.osmids.tolist(), self.highways.tolist(), self.names.tolist(), self.length_m.tolist(),
                self.time_s.tolist(), self.geometry.tolist()))
        return graph

    @classmethod
    def from_networkx(cls, graph: nx.MultiDiGraph) -> StreetNetwork:
        """A networkx street graph in osmnx's conventions (``x``/``y`` on nodes, ``length`` and ``travel_time_s``
        on edges; ``geometry`` where an edge is not straight), edges numbered in ``graph.edges(keys=True)``
        order."""
        records = list(graph.edges(keys=True, data=True))
        node_ids = np.fromiter(graph.nodes, dtype="int64", count=graph.number_of_nodes())
        xy = np.array([(graph.nodes[i]["x"], graph.nodes[i]["y"]) for i in node_ids], dtype="float64").reshape(-1, 2)
        ends = np.array([(u, v) for u, v, _, _ in records], dtype="int64").reshape(-1, 2)
        position = pd.Index(node_ids)
        edge_u, edge_v = position.get_indexer(ends[:, 0]), position.get_indexer(ends[:, 1])
        geometry = np.empty(len(records), dtype=object)
        geometry[:] = [d.get("geometry") or shapely.LineString([xy[a], xy[b]])
                       for (*_, d), a, b in zip(records, edge_u, edge_v)]
        crs = graph.graph.get("crs")
        return cls(
            mode=str(graph.graph.get("mode", "")), crs="" if crs is None else str(crs), node_ids=node_ids, xy=xy,
            edge_u=edge_u.astype("int64"), edge_v=edge_v.astype("int64"),
            keys=np.array([k for _, _, k, _ in records], dtype="int64"),
            osmids=np.array([d.get("osmid", -1) for *_, d in records], dtype="int64"),
            highways=np.array([d.get("highway") for *_, d in records], dtype=object),
            names=_names(np.array([d.get("name") for *_, d in records], dtype=object)),
            length_m=np.array([d["length"] for *_, d in records], dtype="float64"),
            time_s=np.array([d["travel_time_s"] for *_, d in records], dtype="float64"), geometry=geometry,
            access_mps=float(graph.graph.get("walk_mps", Speeds().walk_mps)),
            dropped_nodes=int(graph.graph.get("dropped_nodes", 0)),
            dropped_edges=int(graph.graph.get("dropped_edges", 0)))


def network_frames(net: StreetNetwork) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as flat tables, edges in the network's order (for GeoParquet, QGIS or DuckDB)."""
    nodes = pd.DataFrame({"node_id": net.node_ids, "x": net.xy[:, 0], "y": net.xy[:, 1]})
    edges = gpd.GeoDataFrame({"u": net.node_ids[net.edge_u], "v": net.node_ids[net.edge_v], "key": net.keys,
                              "osmid": net.osmids, "highway": net.highways, "name": net.names,
                              "length": net.length_m, "travel_time_s": net.time_s},
                             geometry=gpd.GeoSeries(net.geometry, crs=net.crs or None), crs=net.crs or None)
    return nodes, edges


def network_from_frames(nodes: pd.DataFrame, edges: pd.DataFrame, *, crs: str,
                        attrs: dict[str, Any]) -> StreetNetwork:
    """A network saved with :func:`network_frames` (``attrs`` as :attr:`StreetNetwork.attrs` gave them)."""
    node_ids = nodes["node_id"].to_numpy("int64")
    position = pd.Index(node_ids)
    edge_u, edge_v = position.get_indexer(edges["u"].to_numpy()), position.get_indexer(edges["v"].to_numpy())
    if (edge_u < 0).any() or (edge_v < 0).any():
        raise TwinError(f"network {attrs.get('mode', '')}: edges name nodes the network does not have")
    return StreetNetwork(
        mode=str(attrs.get("mode", "")), crs=crs, node_ids=node_ids,
        xy=np.column_stack([nodes["x"].to_numpy("float64"), nodes["y"].to_numpy("float64")]),
        edge_u=edge_u.astype("int64"), edge_v=edge_v.astype("int64"), keys=edges["key"].to_numpy("int64"),
        osmids=edges["osmid"].to_numpy("int64"), highways=edges["highway"].to_numpy(object),
        names=_names(edges["name"].to_numpy(object)), length_m=edges["length"].to_numpy("float64"),
        time_s=edges["travel_time_s"].to_numpy("float64"), geometry=np.asarray(edges.geometry.values, dtype=object),
        access_mps=float(attrs.get("walk_mps", Speeds().walk_mps)),
        dropped_nodes=int(attrs.get("dropped_nodes", 0)), dropped_edges=int(attrs.get("dropped_edges", 0)))


def as_street_network(network: StreetNetwork | nx.MultiDiGraph) -> StreetNetwork:
    """A street network as arrays: itself, or a networkx graph's (converted once per graph object)."""
    if isinstance(network, StreetNetwork):
        return network
    if network not in _from_networkx:
        _from_networkx[network] = StreetNetwork.from_networkx(network)
    return _from_networkx[network]


_from_networkx: weakref.WeakKeyDictionary[nx.MultiDiGraph, StreetNetwork] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class Entries:
    """Where points join the network: candidate nodes per point, with the cost (s) between point and node."""

    point: np.ndarray
    node: np.ndarray
    cost_s: np.ndarray
    n_points: int


@dataclass(frozen=True, eq=False)
class Candidates:
    """Every way a set of points may join the network, whatever is closed: found once, priced per closure.

    Candidate ``i`` walks ``leg_s[i]`` from point ``point[i]`` to edge ``edge[i]``, then ``share[i]`` of the edge
    to node ``node[i]``; ``edge`` is -1 for a node inside an area, which costs nothing, closed or not. Candidates
    are sorted by (point, node); ``first`` starts each (point, node) pair, the unit a search graph joins.
    """

    point: np.ndarray
    node: np.ndarray
    edge: np.ndarray
    leg_s: np.ndarray
    share: np.ndarray
    first: np.ndarray
    n_points: int

    @property
    def pair_point(self) -> np.ndarray:
        return self.point[self.first]

    @property
    def pair_node(self) -> np.ndarray:
        return self.node[self.first]

    def pair_costs(self, time_s: np.ndarray) -> np.ndarray:
        """Per (point, node) pair, the cost of its cheapest open candidate under edge times ``time_s``
        (:meth:`StreetNetwork.travel_times`); ``inf`` when a closure took every candidate of the pair."""
        edge_s = np.append(time_s, 0.0)[self.edge]  # -1 (inside an area) reads the appended 0 s
        is_open = np.isfinite(edge_s)
        with np.errstate(invalid="ignore"):  # 0 * inf on closed edges; replaced by inf below
            cost = np.where(is_open, self.leg_s + self.share * edge_s, np.inf)
        return np.minimum.reduceat(cost, self.first)

    def entries(self, time_s: np.ndarray) -> Entries:
        """The open entries under edge times ``time_s``: one per (point, node), the cheapest."""
        cost = self.pair_costs(time_s)
        is_open = np.isfinite(cost)
        return Entries(self.pair_point[is_open], self.pair_node[is_open], cost[is_open], self.n_points)


def point_candidates(net: StreetNetwork, xy: np.ndarray, *, arrive: bool = False,
                     slack_m: float = 20.0) -> Candidates:
    """Join points to the network at the nearest street, not the nearest node.

    A point reaches the edges within ``slack_m`` of its nearest edge (chosen on the whole network): it walks
    straight to the edge (at walking speed), then along it to the edge's head node (to its tail node when
    ``arrive``: coming from the network to the point). Several candidates let the search pick the entry that
    suits each trip, so a courtyard path does not force a detour.
    """
    xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
    if len(xy) == 0:
        nothing = np.zeros(0, "int64")
        return _sorted(nothing, nothing, nothing, np.zeros(0), np.zeros(0), 0)
    tree, node_tree = net.tree, net.node_tree  # made here, once: the threads below share them
    # shapely and scipy let go of the GIL: blocks of points are joined on every core at once (2.2x on two cores).
    blocks = np.array_split(np.arange(len(xy)), min(threads(), -(-len(xy) // _BLOCK_POINTS)))
    with ThreadPoolExecutor(len(blocks)) as pool:
        found = list(pool.map(lambda block: _nearby_edges(tree, node_tree, net.geometry, xy[block], slack_m),
                              blocks))
    point = np.concatenate([blocks[i][part[0]] for i, part in enumerate(found)])
    edge, away_m, along = (np.concatenate([part[j] for part in found]) for j in (1, 2, 3))
    leg_s = away_m / net.access_mps
    if arrive:
        return _sorted(point, net.edge_u[edge], edge, leg_s, along, len(xy))
    return _sorted(point, net.edge_v[edge], edge, leg_s, 1.0 - along, len(xy))


_BLOCK_POINTS = 20_000  # fewer points are not worth a thread


def threads() -> int:
    """Threads that join points to the streets at once: ``SANDBOX_THREADS`` when set (a sweep gives each of its
    local workers its share of the cores, so that workers do not compete for them), else every core, at most 8."""
    value = os.environ.get("SANDBOX_THREADS", "").strip()
    if not value:
        return max(1, min(os.cpu_count() or 1, 8))
    if not value.isdigit() or int(value) < 1:
        raise TwinError(f"SANDBOX_THREADS: '{value}'; expected a whole number of threads, 1 or more")
    return int(value)


def _nearby_edges(tree: shapely.STRtree, node_tree: cKDTree, lines: np.ndarray, xy: np.ndarray, slack_m: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For :func:`point_candidates`: each point's edges within ``slack_m`` of its nearest edge, with the distance
    to each and the point's place along it (a share of its length), points numbered within ``xy``."""
    points = shapely.points(xy)
    # The nearest node is no nearer than the nearest edge (each node ends an edge): the edges within the nearest
    # node's distance + slack hold every edge within the nearest edge's + slack, kept below. A k-d tree of nodes
    # and one query take half the time of the spatial index's nearest-edge search at a million points.
    node_m = node_tree.query(xy)[0]
    point, edge = tree.query(points, predicate="dwithin", distance=node_m + slack_m)
    lines, at = lines[edge], points[point]
    away_m = shapely.distance(lines, at)
    starts = np.flatnonzero(np.diff(point, prepend=-1))  # the query returns each point's edges together
    nearest_m = np.minimum.reduceat(away_m, starts)
    keep = away_m <= np.repeat(nearest_m, np.diff(np.append(starts, len(point)))) + slack_m
    point, edge, lines, at, away_m = point[keep], edge[keep], lines[keep], at[keep], away_m[keep]
    along = shapely.line_locate_point(lines, at) / np.maximum(shapely.length(lines), 1e-9)
    return point, edge, away_m, along


def polygon_candidates(net: StreetNetwork, polygons: gpd.GeoSeries, *, arrive: bool = True,
                       spacing_m: float = 25.0) -> Candidates:
    """Join areas (parks) to the network at their edges: every node inside costs nothing, and points along the
    boundary, every ``spacing_m``, join the nearest streets as in :func:`point_candidates`."""
    shapes = np.asarray(polygons.values, dtype=object)
    rings = shapely.segmentize(shapely.boundary(shapes), spacing_m)
    coords, owner = shapely.get_coordinates(rings, return_index=True)
    boundary = point_candidates(net, coords, arrive=arrive)
    inside_shape, inside_node = shapely.STRtree(shapely.points(net.xy)).query(shapes, predicate="contains")
    inside = np.zeros(len(inside_node))
    return _sorted(np.concatenate([owner[boundary.point], inside_shape]),
                   np.concatenate([boundary.node, inside_node]),
                   np.concatenate([boundary.edge, np.full(len(inside_node), -1)]),
                   np.concatenate([boundary.leg_s, inside]), np.concatenate([boundary.share, inside]), len(shapes))


def _sorted(point: np.ndarray, node: np.ndarray, edge: np.ndarray, leg_s: np.ndarray, share: np.ndarray,
            n_points: int) -> Candidates:
    order = np.lexsort((node, point))
    point, node = point[order].astype("int64"), node[order].astype("int64")
    first = np.flatnonzero((np.diff(point, prepend=-1) != 0) | (np.diff(node, prepend=-1) != 0))
    return Candidates(point, node, edge[order].astype("int64"), leg_s[order], share[order], first, n_points)


def home_candidates(net: StreetNetwork, homes: np.ndarray, digest: bytes) -> Candidates:
    """The homes' ways onto the network (:func:`point_candidates`), once per network and set of home points
    (``Twin.home_points``): every destination, and a flood's check of who is cut off, share them."""
    key = ("homes", digest)
    if key not in net.cache:
        net.cache[key] = point_candidates(net, homes)
    return net.cache[key]


def snap_points(net: StreetNetwork, xy: np.ndarray, *, arrive: bool = False, slack_m: float = 20.0,
                factors: np.ndarray | None = None) -> Entries:
    """The open entries of points (:func:`point_candidates`) with the travel-time ``factors`` of
    ``Twin.edge_factors``: closed edges drop out of the candidates, so a closure can only take entries away; a
    point whose every nearby street is closed (or flooded) has no entry: it is cut off."""
    return point_candidates(net, xy, arrive=arrive, slack_m=slack_m).entries(net.travel_times(factors))


def node_candidates(net: StreetNetwork) -> Candidates:
    """Every node of the network as a point standing on it (no walk to join): for times to each node."""
    nodes = np.arange(net.n_nodes, dtype="int64")
    zero = np.zeros(net.n_nodes)
    return Candidates(nodes, nodes, np.full(net.n_nodes, -1, "int64"), zero, zero, nodes, net.n_nodes)


def feature_candidates(net: StreetNetwork, features: gpd.GeoDataFrame, *, arrive: bool) -> Candidates:
    """Areas join at their edges (:func:`polygon_candidates`), anything else at a representative point."""
    areas = features.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if areas.all() and len(features):
        return polygon_candidates(net, features.geometry, arrive=arrive)
    points = features.geometry.representative_point()
    return point_candidates(net, np.column_stack([points.x, points.y]), arrive=arrive)


@dataclass(frozen=True, eq=False)
class JoinedGraph:
    """The network with one extra node per source and per target, joined by every entry candidate, nothing closed.

    A closure changes weights only (:meth:`weighted`): a closed entry weighs ``inf``, which a search never
    relaxes, so it is the same as a missing one.
    """

    graph: CSRGraph
    sources: Candidates
    targets: Candidates
    source_ids: np.ndarray
    target_ids: np.ndarray

    def weighted(self, time_s: np.ndarray) -> CSRGraph:
        """The search graph under edge times ``time_s`` (:meth:`StreetNetwork.travel_times`)."""
        return self.graph.with_weights(np.concatenate([time_s, self.sources.pair_costs(time_s),
                                                       self.targets.pair_costs(time_s)]))


def joined_graph(net: StreetNetwork, sources: Candidates, targets: Candidates, *,
               towards_sources: bool) -> JoinedGraph:
    """With ``towards_sources`` the streets are searched backwards, so a search from the sources (destinations)
    yields each target's (household's) trip *to* them on one-way networks too. Extra nodes have edges only out
    of sources and into targets, so no path can pass through a point."""
    from .routing import compile_graph

    n = net.n_nodes
    source_ids = n + np.arange(sources.n_points)
    target_ids = n + sources.n_points + np.arange(targets.n_points)
    tails, heads = (net.edge_v, net.edge_u) if towards_sources else (net.edge_u, net.edge_v)
    u = np.concatenate([tails, source_ids[sources.pair_point], targets.pair_node])
    v = np.concatenate([heads, sources.pair_node, target_ids[targets.pair_point]])
    w = np.concatenate([net.time_s, sources.pair_costs(net.time_s), targets.pair_costs(net.time_s)])
    graph = compile_graph(u, v, w, n_nodes=n + sources.n_points + targets.n_points)
    return JoinedGraph(graph, sources, targets, source_ids, target_ids)
