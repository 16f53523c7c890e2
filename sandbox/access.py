"""Accessibility indicators by social group: nearest, within N minutes, supply per resident, isochrones, OD times."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
import xarray as xr

from . import routing
from ._errors import TwinError
from .network import (Candidates, StreetNetwork, home_candidates, feature_candidates, joined_graph, node_candidates,
                      point_candidates)
from .transit import WALK, TransitOptions, timetable_of, travel_time_matrix
from .layers import FACILITY_KINDS
from .twin import GROUP_COLUMNS, Twin

DEFAULT_GROUPS = ("all", *GROUP_COLUMNS)
DEFAULT_MINUTES = (5, 10, 15)
POINT_LAYERS = ("transit_stops", "facilities")
AREA_LAYERS = ("parks", "water", "buildings")
MEASURES = ("nearest", "within", "supply")


# --- destinations and groups ------------------------------------------------------------------------------------


FACILITY_KIND_NAMES = sorted(set(FACILITY_KINDS.values()))
TRANSIT_MODE_NAMES = ["bus", "ferry", "metro", "rail", "tram"]


def destination_names(twin: Twin) -> list[str]:
    """What ``to=`` accepts: destination layers, facility kinds and transit modes (the usual ones even when the
    twin has none, so that closing the last clinic leaves 'care' meaning nothing reachable, not an error)."""
    kinds = set(FACILITY_KIND_NAMES) | set(twin.layers["facilities"]["kind"] if "facilities" in twin.layers else [])
    modes = set(TRANSIT_MODE_NAMES) | set(twin.layers["transit_stops"]["mode"]
                                          if "transit_stops" in twin.layers else [])
    return ["parks", "transit_stops", "facilities", *sorted(kinds), *sorted(modes)]


def destinations(twin: Twin, to: str) -> gpd.GeoDataFrame:
    """The features called ``to``: a layer (parks, transit_stops, facilities), a facility kind (care, grocery,
    school, elderly_centre, ...) or a transit mode (tram, bus, metro, ...)."""
    if to in twin.layers and to in (*POINT_LAYERS, *AREA_LAYERS):
        return twin.layers[to]
    facilities = twin.layers.get("facilities")
    if facilities is not None and to in set(facilities["kind"]) | set(FACILITY_KIND_NAMES):
        return facilities[facilities["kind"] == to]
    stops = twin.layers.get("transit_stops")
    if stops is not None and to in set(stops["mode"]) | set(TRANSIT_MODE_NAMES):
        return stops[stops["mode"] == to]
    raise TwinError(f"to: unknown destination '{to}'; expected one of {', '.join(destination_names(twin))}")


def group_weights(households: pd.DataFrame, group: str) -> np.ndarray:
    """Members of ``group`` in each household: the weight of that household in the group's statistics.

    ``all`` counts every resident, ``elderly`` residents aged 65+, ``children`` those under 18,
    ``elderly_alone`` one per household of one person aged 65+; any other boolean household column counts the
    residents of the households where it is true.
    """
    if group == "all":
        return households["size"].to_numpy(float)
    if group == "elderly":
        return households["n_elderly"].to_numpy(float)
    if group == "children":
        return households["n_children"].to_numpy(float)
    if group in households.columns and pd.api.types.is_bool_dtype(households[group]):
        return households["size"].to_numpy(float) * households[group].to_numpy(bool)
    flags = [c for c in households.columns if pd.api.types.is_bool_dtype(households[c])]
    raise TwinError(f"group: unknown '{group}'; expected all, elderly, children or a boolean household column "
                    f"({', '.join(flags)})")


# --- the search graph: network + households + destinations ----------------------------------------------------


@dataclass(frozen=True, eq=False)
class Search:
    """What the measures search for one (twin, mode, destination): the streets searched backwards from one node
    per destination feature (``source_ids``, in the order of ``features``) to one node per household."""

    features: gpd.GeoDataFrame
    graph: routing.CSRGraph
    source_ids: np.ndarray
    household_nodes: np.ndarray


_SHARED_STRUCTURES = 16  # per network: a scenario's baseline and variants, a few destinations each


def search_graph(twin: Twin, to: str, mode: str = "walk") -> Search:
    """The search graph of ``to`` by ``mode``, built once per twin object and kept in ``twin.cache``.

    The structure (streets, destinations, homes and every entry candidate) is shared through the compiled
    network by every twin with the same streets, destination geometries and home points, so a variant that only
    closes or slows streets (``twin.edge_factors``) re-prices the weights and builds nothing.
    """
    key = ("search", mode, to)
    if key not in twin.cache:
        net = _network(twin, mode)
        features = destinations(twin, to)
        homes, home_of, homes_digest = twin.home_points()
        shared = ("measure", _geometry_digest(features), homes_digest)
        structure = net.cache.get(shared)
        if structure is None:
            if len(net.cache) >= _SHARED_STRUCTURES:
                net.cache.pop(next(iter(net.cache)))
            structure = net.cache[shared] = joined_graph(
                net, feature_candidates(net, features, arrive=True), home_candidates(net, homes, homes_digest),
                towards_sources=True)
        factors = twin.edge_factors.get(mode)
        graph = structure.graph if factors is None else structure.weighted(net.travel_times(factors))
        twin.cache[key] = Search(features, graph, structure.source_ids, structure.target_ids[home_of])
    return twin.cache[key]


def _geometry_digest(features: gpd.GeoDataFrame) -> bytes:
    """The features' geometries, in order (WKB is self-delimiting, so the concatenation tells features apart)."""
    return hashlib.blake2b(b"".join(shapely.to_wkb(np.asarray(features.geometry.values, dtype=object)))).digest()


# --- measures ---------------------------------------------------------------------------------------------------


def nearest(twin: Twin, to: str, *, mode: str = "walk", minutes: Sequence[float] = DEFAULT_MINUTES,
            groups: Sequence[str] = DEFAULT_GROUPS, transit: TransitOptions | None = None) -> xr.Dataset:
    """Travel time from every household to the nearest destination, summarised by zone and group.

    Returns a Dataset with per-household ``travel_time_s`` and ``nearest_id`` (kept in memory, never exported
    without asking), zonal ``mean_travel_time_s`` (of those who reach one), ``median_travel_time_s`` and
    ``share_reaching`` (within each of ``minutes``), and per group ``gini`` and ``share_not_reaching``.
    Streets closed or slowed in the twin (``twin.edge_factors``) are respected, at the entries too. By
    ``mode="transit"`` the time is the quickest destination's ``transit`` percentile time (walking included).
    """
    members = _groups(twin, groups)
    if mode == "transit":
        features, times, home_of = transit_times(twin, to, transit)
        time_s, source = _row_min(times)
        time_s, source = time_s[home_of], source[home_of]
    else:
        search = search_graph(twin, to, mode)
        features = search.features
        dist, which = routing.nearest(search.graph, search.source_ids)
        time_s = dist[search.household_nodes]
        source = which[search.household_nodes]
    ids = np.append(features.index.to_numpy(), -1)  # position -1 (unreached) reads the final -1
    nearest_id = ids[np.where(source >= 0, source, len(ids) - 1)]
    reaching = time_s[None, :] <= np.asarray(minutes, dtype=float)[:, None] * 60
    return _dataset(twin, members, minutes, {
        "travel_time_s": ("household", time_s, {"units": "s", "long_name": f"travel time to the nearest {to}"}),
        "nearest_id": ("household", nearest_id, {"long_name": f"index of the nearest {to} in its layer"}),
        "mean_travel_time_s": _zonal(members, time_s, "mean", units="s",
                                     long_name=f"mean travel time to the nearest {to}"),
        "median_travel_time_s": _zonal(members, time_s, "median", units="s",
                                       long_name=f"median travel time to the nearest {to}"),
        **_reaching(members, reaching, f"a {to}"),
        "group_median_travel_time_s": (("group",), [weighted_quantile(time_s, w, 0.5) for w in members.weight],
                                       {"units": "s", "long_name": f"median travel time to the nearest {to} over "
                                                                   "the group's residents (inf: most reach none)"}),
        "share_unreachable": (("group",), [_share(~np.isfinite(time_s), w) for w in members.weight],
                              {"units": "1", "long_name": f"share of the group with no way to any {to}"}),
        "gini": (("group",), [gini(time_s, w) for w in members.weight],
                 {"units": "1", "long_name": "Gini of travel times among residents who reach one (0 = equal; "
                                             "read with share_unreachable)"}),
    }, measure="nearest", to=to, mode=mode, headline="share_reaching", **_mode_attrs(twin, mode, transit))


def within(twin: Twin, to: str, *, mode: str = "walk", minutes: Sequence[float] = DEFAULT_MINUTES,
           weight: str | None = None, groups: Sequence[str] = DEFAULT_GROUPS,
           transit: TransitOptions | None = None) -> xr.Dataset:
    """How many destinations (or how much of ``weight``, e.g. park ``area_m2``) each household reaches within each
    of ``minutes``: the 15-minute city in one call."""
    members = _groups(twin, groups)
    cutoffs = [m * 60.0 for m in minutes]
    if mode == "transit":
        features, times, home_of = transit_times(twin, to, transit)
        values = _attribute(features, weight, to)
        counts = np.array([(times <= c).astype(float) @ values for c in cutoffs]).reshape(len(cutoffs), -1)
        counts = counts[:, home_of]
    else:
        search = search_graph(twin, to, mode)
        values = _attribute(search.features, weight, to)
        counts = routing.count_within(search.graph, search.source_ids, cutoff=cutoffs,
                                      source_weights=values)[:, search.household_nodes].astype(float)
    what, units = (f"{weight} of {to}", _units(weight)) if weight else (f"{to} (count)", "1")
    return _dataset(twin, members, minutes, {
        "reachable": (("minutes", "household"), counts, {"units": units, "long_name": f"{what} within the time"}),
        "mean_reachable": _zonal_by_minutes(members, counts, units=units, long_name=f"mean {what} within the time"),
        **_reaching(members, counts > 0, f"any {to}"),
        "group_median_reachable": (("minutes", "group"),
                                   [[weighted_quantile(c, w, 0.5) for w in members.weight] for c in counts],
                                   {"units": units, "long_name": f"median {what} within the time over the group's "
                                                                 "residents"}),
        "gini": (("minutes", "group"), [[gini(c, w) for w in members.weight] for c in counts],
                 {"units": "1", "long_name": f"Gini of {what} within the time (0 = equal)"}),
    }, measure="within", to=to, mode=mode, headline="share_reaching", weight=weight or "count",
        **_mode_attrs(twin, mode, transit))


def supply(twin: Twin, to: str, *, capacity: str | None = None, mode: str = "walk", minutes: float = 10,
           groups: Sequence[str] = DEFAULT_GROUPS, transit: TransitOptions | None = None) -> xr.Dataset:
    """Supply per resident of each group, by the two-step floating catchment (2SFCA).

    Each destination's ``capacity`` (e.g. park ``area_m2``, clinic ``capacity``; 1 each when None) is shared
    among the group's residents within ``minutes``; a household's value sums the shares of what it reaches,
    e.g. m2 of park per elderly resident within 10 minutes.
    """
    members = _groups(twin, groups)
    per_group = []
    if mode == "transit":
        features, times, home_of = transit_times(twin, to, transit)
        values = _attribute(features, capacity, to)
        reached = (times <= minutes * 60.0).astype(float)
        for w in members.weight:
            served = np.bincount(home_of, w, minlength=len(times)) @ reached
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(served > 0, values / served, 0.0)  # as routing.two_step_fca: no demand, no share
            per_group.append((reached @ ratio)[home_of])
    else:
        search = search_graph(twin, to, mode)
        values = _attribute(search.features, capacity, to)
        for w in members.weight:
            demand = np.zeros(search.graph.n_nodes)
            np.add.at(demand, search.household_nodes, w)
            access = routing.two_step_fca(search.graph, search.source_ids, supply=values, demand=demand,
                                          cutoff=minutes * 60.0)
            per_group.append(access[search.household_nodes])
    per_group = np.array(per_group).reshape(len(members.names), len(twin.households))
    what, units = (f"{capacity} of {to}", f"{_units(capacity)} per resident") if capacity \
        else (f"{to}", "per resident")
    long_name = f"{what} per resident within {minutes:g} min (2SFCA)"
    # Each group's mean weighs households by that group's members only.
    means = [_zonal(members.only(g), per_group[g], "mean", units=units, long_name=long_name)[1]
             for g in range(len(per_group))]
    return _dataset(twin, members, [minutes], {
        "supply_per_resident": (("group", "household"), per_group, {"units": units, "long_name": long_name}),
        "mean_supply_per_resident": (("group", "zone"), np.concatenate(means),
                                     {"units": units, "long_name": long_name}),
        **_reaching(members, (per_group > 0).any(axis=0)[None, :], f"any {to}"),
        "group_median_supply": (("group",), [weighted_quantile(a, w, 0.5) for a, w in zip(per_group, members.weight)],
                                {"units": units, "long_name": f"median {what} per resident of the group"}),
        "group_p10_supply": (("group",), [weighted_quantile(a, w, 0.1) for a, w in zip(per_group, members.weight)],
                             {"units": units, "long_name": f"10th percentile of {what} per resident of the group: "
                                                           "what the worst-served tenth have at most"}),
        "gini": (("group",), [gini(a, w) for a, w in zip(per_group, members.weight)],
                 {"units": "1", "long_name": f"Gini of {what} per resident (0 = equal)"}),
    }, measure="supply", to=to, mode=mode, headline="mean_supply_per_resident", capacity=capacity or "count",
        **_mode_attrs(twin, mode, transit))


def isochrones(twin: Twin, origin: tuple[float, float] | shapely.Geometry | str, *, minutes: Sequence[float] = (5, 10, 15),
               mode: str = "walk", lonlat: bool = True, buffer_m: float = 25.0,
               transit: TransitOptions | None = None) -> gpd.GeoDataFrame:
    """Areas reachable within each of ``minutes`` from a point (lon/lat unless ``lonlat=False``), a geometry in the
    twin CRS, or a destination name (then: reachable from any of its features). By transit, a street is reached
    when its node is, at the options' percentile over the departures (walking on from stops along streets)."""
    net = _network(twin, mode)
    if isinstance(origin, str):
        features = destinations(twin, origin)
    else:
        point = origin if isinstance(origin, shapely.Geometry) else shapely.Point(origin)
        if lonlat and not isinstance(origin, shapely.Geometry):
            point = gpd.GeoSeries([point], crs=4326).to_crs(twin.crs).iloc[0]
        features = gpd.GeoDataFrame(geometry=[point], crs=twin.crs)
    network_mode = WALK if mode == "transit" else mode
    time_s = net.travel_times(twin.edge_factors.get(network_mode))
    origins = feature_candidates(net, features, arrive=False)
    limit = max(minutes) * 60.0
    if mode == "transit":
        options = (transit or TransitOptions()).model_copy(update={"max_minutes": limit / 60})
        dist = travel_time_matrix(twin, origins, node_candidates(net), options).min(axis=0, initial=np.inf)
    else:
        entries = origins.entries(time_s)
        dist, _ = routing.nearest(net.time.with_weights(time_s), entries.node, offsets=entries.cost_s, cutoff=limit)
    rows = []
    for m in sorted(minutes):
        share = np.clip((m * 60.0 - dist[net.edge_u]) / np.maximum(time_s, 1e-9), 0, 1)
        whole = net.geometry[share >= 1]
        cut = [shapely.ops.substring(g, 0, f, normalized=True) for g, f in
               zip(net.geometry[(share > 0) & (share < 1)], share[(share > 0) & (share < 1)])]
        lines = np.concatenate([whole, np.array(cut, dtype=object)]) if cut else whole
        area = shapely.union_all(shapely.buffer(lines, buffer_m)) if len(lines) else shapely.Polygon()
        rows.append({"minutes": m, "mode": mode, "area_m2": area.area, "geometry": area})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=twin.crs)
    frame.attrs.update(_mode_attrs(twin, mode, transit))
    return frame


def travel_times(twin: Twin, origins: gpd.GeoDataFrame | np.ndarray, destinations_: gpd.GeoDataFrame | np.ndarray,
                 *, mode: str = "walk", max_minutes: float | None = None,
                 transit: TransitOptions | None = None) -> pd.DataFrame:
    """Origin-destination travel times (s) between any points, including the walk from each point to the street.

    Points are GeoDataFrames (any CRS) or arrays of lon/lat. One bounded search per origin. Returns a long table
    ``from_id``, ``to_id``, ``travel_time_s`` (NaN where unreachable within ``max_minutes``), like r5py's
    TravelTimeMatrix.
    """
    net = _network(twin, mode)
    origin_frame, destination_frame = _as_points(origins, twin), _as_points(destinations_, twin)
    if mode == "transit":
        options = transit or TransitOptions()
        if max_minutes is not None:
            options = options.model_copy(update={"max_minutes": max_minutes})
        matrix = travel_time_matrix(twin, feature_candidates(net, origin_frame, arrive=False),
                                            feature_candidates(net, destination_frame, arrive=True), options)
        table = _long_table(origin_frame, destination_frame, np.where(np.isfinite(matrix), matrix, np.nan))
        table.attrs.update(_mode_attrs(twin, mode, options))
        return table
    structure = joined_graph(net, feature_candidates(net, origin_frame, arrive=False),
                           feature_candidates(net, destination_frame, arrive=True), towards_sources=False)
    graph = structure.weighted(net.travel_times(twin.edge_factors.get(mode)))
    source_ids, target_ids = structure.source_ids, structure.target_ids
    cutoff = np.inf if max_minutes is None else max_minutes * 60.0
    pairs = routing.reach(graph, source_ids, cutoff=cutoff)
    is_target = pairs.node >= target_ids[0] if len(target_ids) else np.zeros(len(pairs), bool)
    matrix = np.full((len(origin_frame), len(destination_frame)), np.nan)
    matrix[pairs.source[is_target], pairs.node[is_target] - (target_ids[0] if len(target_ids) else 0)] = \
        pairs.cost[is_target]
    return _long_table(origin_frame, destination_frame, matrix)


def _long_table(origins: gpd.GeoDataFrame, destinations_: gpd.GeoDataFrame, matrix: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "from_id": np.repeat(origins.index.to_numpy(), len(destinations_)),
        "to_id": np.tile(destinations_.index.to_numpy(), len(origins)),
        "travel_time_s": matrix.ravel(),
    })


# --- helpers ----------------------------------------------------------------------------------------------------


def modes(twin: Twin) -> list[str]:
    """The travel modes of a twin: its street networks, and transit when it has a timetable."""
    return [*twin.networks, *(["transit"] if twin.timetable is not None else [])]


def _network(twin: Twin, mode: str) -> StreetNetwork:
    if mode == "transit":
        timetable_of(twin)
        return twin.networks[WALK]
    if mode not in twin.networks:
        raise TwinError(f"mode: unknown '{mode}'; expected one of {', '.join(modes(twin))}")
    return twin.networks[mode]


def transit_times(twin: Twin, to: str, options: TransitOptions | None = None
                  ) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Transit times from every home point to every destination called ``to``: the destinations, the (homes x
    destinations) seconds and each household's home position. Once per twin, destination and options."""
    options = options or TransitOptions()
    key = ("transit", to, options)
    if key not in twin.cache:
        net = _network(twin, "transit")
        features = destinations(twin, to)
        homes, home_of, _ = twin.home_points()
        times = travel_time_matrix(twin, point_candidates(net, homes),
                                           feature_candidates(net, features, arrive=True), options)
        twin.cache[key] = features, times, home_of
    return twin.cache[key]


def _row_min(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the smallest time and its column (-1 where nothing is reached)."""
    if times.shape[1] == 0:
        return np.full(len(times), np.inf), np.full(len(times), -1)
    which = times.argmin(axis=1)
    best = times[np.arange(len(times)), which]
    return best, np.where(np.isfinite(best), which, -1)


def _mode_attrs(twin: Twin, mode: str, options: TransitOptions | None) -> dict[str, Any]:
    """What a transit result must say about itself: the percentile, window, date and limits."""
    return (options or TransitOptions()).attrs(twin.timetable) if mode == "transit" else {}


def _as_points(points: gpd.GeoDataFrame | np.ndarray, twin: Twin) -> gpd.GeoDataFrame:
    if isinstance(points, gpd.GeoDataFrame):
        if points.crs is None:
            raise TwinError("points: GeoDataFrame without a CRS; set one (e.g. 4326 for lon/lat)")
        return points.to_crs(twin.crs)
    lonlat = np.asarray(points, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=4326).to_crs(twin.crs)


def _attribute(features: gpd.GeoDataFrame, column: str | None, to: str) -> np.ndarray:
    if column is None:
        return np.ones(len(features))
    if column not in features.columns or not pd.api.types.is_numeric_dtype(features[column]):
        numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
        raise TwinError(f"capacity: '{column}' is not a numeric column of {to}; expected one of {', '.join(numeric)}")
    return features[column].fillna(0).to_numpy(float)


def _units(column: str) -> str:
    return "m2" if column.endswith("_m2") else column


_Variable = tuple  # (dims, values, attrs): a Dataset variable before the Dataset is built


@dataclass(frozen=True, eq=False)
class _Groups:
    """Who each statistic counts: members of each group per household (``weight``, (group, household)) and the
    position of each household's zone (-1: none)."""

    names: list[str]
    weight: np.ndarray
    zone: np.ndarray
    zones: np.ndarray

    def only(self, g: int) -> _Groups:
        return _Groups(self.names[g:g + 1], self.weight[g:g + 1], self.zone, self.zones)


def _groups(twin: Twin, groups: Sequence[str]) -> _Groups:
    households = twin.households
    zones = twin.layers["zones"].index.to_numpy()
    weight = np.array([group_weights(households, g) for g in groups]).reshape(len(groups), len(households))
    return _Groups(list(groups), weight, pd.Index(zones).get_indexer(households["zone_id"].to_numpy()), zones)


def _dataset(twin: Twin, members: _Groups, minutes: Sequence[float], variables: dict[str, _Variable], *,
             measure: str, to: str, mode: str, **attrs: Any) -> xr.Dataset:
    """A measure's Dataset: the coordinates and counts every measure shares (households, zones, groups, time
    thresholds), then ``variables``; built in one go, as each assignment to a Dataset costs milliseconds."""
    ones = np.ones(len(twin.households))
    shared = {
        "weight": (("group", "household"), members.weight,
                   {"units": "persons", "long_name": "members of the group in the household"}),
        "household_zone": ("household", members.zone, {"long_name": "position of the household's zone (-1: none)"}),
        "residents": _zonal(members, ones, "sum", units="persons", long_name="residents of the group"),
        "group_residents": (("group",), members.weight.sum(axis=1),
                            {"units": "persons", "long_name": "residents of the group in the twin"}),
        "households": _zonal(members, ones, "count", units="households",
                             long_name="households with members of the group"),
    }
    return xr.Dataset(
        {**shared, **variables},
        coords={"household": twin.households.index.to_numpy(), "zone": members.zones, "group": members.names,
                "minutes": np.asarray(minutes, dtype=float)},
        attrs={"measure": measure, "to": to, "mode": mode, "twin": twin.name, "twin_fingerprint": twin.fingerprint(),
               **attrs},
    )


def _zonal(members: _Groups, values: np.ndarray, how: str, *, units: str, long_name: str) -> _Variable:
    """Per (group, zone): the weighted ``mean`` (over finite values), ``median``, ``sum`` of weights or ``count``
    of households of the group."""
    zone = members.zone
    n_zones = len(members.zones)
    rows = []
    for w in members.weight:
        keep = (w > 0) & (zone >= 0)
        z, x, wk = zone[keep], values[keep], w[keep]
        if how == "sum":
            rows.append(np.bincount(z, wk, minlength=n_zones))
        elif how == "count":
            rows.append(np.bincount(z, minlength=n_zones).astype(float))
        elif how == "mean":
            finite = np.isfinite(x)
            total = np.bincount(z[finite], wk[finite], minlength=n_zones)
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append(np.bincount(z[finite], (wk * x)[finite], minlength=n_zones) / total)
        else:
            rows.append(_weighted_median(z, x, wk, n_zones))
    return ("group", "zone"), np.array(rows, dtype=float), {"units": units, "long_name": long_name}


def _weighted_median(zone: np.ndarray, values: np.ndarray, weights: np.ndarray, n_zones: int) -> np.ndarray:
    """Per zone, the smallest value with at least half the zone's weight at or below it (NaN for empty zones)."""
    if len(values) == 0:
        return np.full(n_zones, np.nan)
    order = np.lexsort((values, zone))
    zone, values, weights = zone[order], values[order], weights[order]
    cumulative = np.cumsum(weights)
    starts = np.searchsorted(zone, np.arange(n_zones))
    ends = np.searchsorted(zone, np.arange(n_zones), side="right")
    before = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    half = before + np.bincount(zone, weights, minlength=n_zones) / 2
    pick = np.minimum(np.searchsorted(cumulative, half), np.maximum(ends - 1, 0))
    return np.where(ends > starts, values[pick], np.nan)


def _zonal_by_minutes(members: _Groups, values: np.ndarray, *, units: str, long_name: str) -> _Variable:
    means = [_zonal(members, v, "mean", units=units, long_name=long_name)[1] for v in values]
    return ("minutes", "group", "zone"), np.array(means), {"units": units, "long_name": long_name}


def _reaching(members: _Groups, reaching: np.ndarray, what: str) -> dict[str, _Variable]:
    """Zonal ``share_reaching`` and overall ``share_not_reaching`` per group, from (minutes, household) flags."""
    weight = members.weight
    totals = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        missing = np.array([(weight * ~r).sum(axis=1) / totals for r in reaching])
    return {
        "share_reaching": _zonal_by_minutes(members, reaching.astype(float), units="1",
                                            long_name=f"share of residents reaching {what} within the time"),
        "share_not_reaching": (("minutes", "group"), missing,
                               {"units": "1", "long_name": f"share of the group not reaching {what} within the time"}),
    }


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value with at least ``q`` of the weight (residents) at or below it; infinite values
    (unreachable) count, so a group whose majority reaches nothing has an infinite median. NaN without weight."""
    keep = weights > 0
    x, w = np.asarray(values, float)[keep], np.asarray(weights, float)[keep]
    if len(x) == 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(w[order])
    return float(x[order][min(np.searchsorted(cumulative, q * cumulative[-1]), len(x) - 1)])


def _share(flags: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float((weights * flags).sum() / total) if total > 0 else float("nan")


def gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted Gini coefficient of non-negative values (0 = everyone equal, 1 = one has all); infinite values
    (unreachable) are left out."""
    values = np.asarray(values, float)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, float)
    keep = np.isfinite(values) & (weights > 0)
    x, w = values[keep], weights[keep]
    if len(x) == 0:
        return np.nan
    if (x * w).sum() == 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cumulative = np.cumsum(w)
    return float((w * x * (2 * cumulative - w)).sum() / (cumulative[-1] * (w * x).sum()) - 1)


def compute(twin: Twin, measure: str, to: str, *, mode: str = "walk", minutes: Sequence[float] = DEFAULT_MINUTES,
            groups: Sequence[str] = DEFAULT_GROUPS, capacity: str | None = None,
            transit: TransitOptions | None = None) -> xr.Dataset:
    """One of the measures by name (what the command line and scenario files call): ``nearest``, ``within``
    (``capacity`` sums a column instead of counting) or ``supply`` (2SFCA at the first of ``minutes``)."""
    if measure == "nearest":
        return nearest(twin, to, mode=mode, minutes=minutes, groups=groups, transit=transit)
    if measure == "within":
        return within(twin, to, mode=mode, minutes=minutes, weight=capacity, groups=groups, transit=transit)
    if measure == "supply":
        return supply(twin, to, capacity=capacity, mode=mode, minutes=minutes[0], groups=groups, transit=transit)
    raise TwinError(f"measure: unknown '{measure}'; expected one of {', '.join(MEASURES)}")
