"""What a flood does to the twin's people and places: homes, households by group, streets, facilities, damage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..network import Entries, home_candidates, snap_points
from ..twin import GROUP_COLUMNS, Twin
from . import flood

FLOODED_HOME_M = 0.05  # water above this at a building counts as reaching it
DAMAGED_AREA = "footprint_m2"  # water reaches the ground floor, not the storeys above it


@dataclass
class FloodImpacts:
    """Impacts of one flood on a twin: layers for maps (buildings, streets) and counts by group."""

    buildings: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    facilities: pd.DataFrame
    groups: pd.DataFrame
    damage_eur: float
    expected_annual_damage_eur: float | None = None

    def summary(self) -> dict:
        """Headline numbers (households per group, facilities, streets, damage) for summary.json."""
        streets = self.streets
        return {
            "buildings_flooded": int(len(self.buildings)),
            "damage_eur": round(self.damage_eur),
            "expected_annual_damage_eur": None if self.expected_annual_damage_eur is None
            else round(self.expected_annual_damage_eur),
            "groups": self.groups.to_dict(orient="index"),
            "facilities_flooded": self.facilities.loc[self.facilities["flooded"], "name"].fillna("unnamed").tolist(),
            "facilities_cut_off": self.facilities.loc[self.facilities["cut_off"], "name"].fillna("unnamed").tolist(),
            "streets_impassable_m": {mode: round(float(part.loc[~part["passable"], "length_m"].sum()))
                                     for mode, part in streets.groupby("mode")},
        }


def curve_for(name: str, base_dir: Path | None) -> flood.DepthDamage:
    """``jrc_residential``, ``jrc_commercial`` or a CSV (depth_m, fraction) next to the scenario file."""
    if name in ("jrc_residential", "jrc_commercial"):
        return flood.jrc_curve(name.removeprefix("jrc_"))
    return flood.read_curve(Path(name) if base_dir is None else Path(base_dir) / name)


def flooded_network(twin: Twin, depth, passable_m: dict[str, float]
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per mode: the travel-time factors that the water along every edge implies, combined with any closures
    already in the twin; and the water depth along every edge, which :func:`assess` reuses for the street layer."""
    factors, depths = {}, {}
    wet = flood.WetCells(depth)  # one table of the water for every mode's streets
    for mode, net in twin.networks.items():
        limit = passable_m.get(mode, flood.PASSABLE_M.get(mode, 0.2))
        depths[mode] = flood.edge_depths(depth, net, wet=wet)
        factors[mode] = twin.travel_time_factors(mode) * flood.edge_factors(depths[mode], mode=mode, limit_m=limit)
    return factors, depths


def _main_component(twin: Twin, mode: str) -> np.ndarray:
    """Nodes (positions in the compiled network) of the largest part of the network still passable: the dry
    city that people can reach help from. Once per twin object and mode."""
    if ("main component", mode) in twin.cache:
        return twin.cache[("main component", mode)]
    net = twin.networks[mode]
    open_edges = np.isfinite(twin.travel_time_factors(mode))
    n = net.n_nodes
    adjacency = coo_matrix((np.ones(open_edges.sum()), (net.edge_u[open_edges], net.edge_v[open_edges])),
                           shape=(n, n))
    _, label = connected_components(adjacency, directed=False)
    sizes = np.bincount(label[np.unique(np.concatenate([net.edge_u[open_edges], net.edge_v[open_edges]]))],
                        minlength=label.max() + 1) if open_edges.any() else np.zeros(1)
    main = twin.cache[("main component", mode)] = label == int(np.argmax(sizes))
    return main


def _cut_off(twin: Twin, entries: Entries, mode: str = "walk") -> np.ndarray:
    """Points whose every open way onto the network (``entries``) leads to a part cut off from the main, dry
    network."""
    reaches = np.zeros(entries.n_points, bool)
    np.logical_or.at(reaches, entries.point, _main_component(twin, mode)[entries.node])
    return ~reaches


def _households_cut_off(twin: Twin, mode: str = "walk") -> np.ndarray:
    """Households cut off (:func:`_cut_off`). Each home point joins the streets as the accessibility measures
    join it, so the two share the work (``network.home_candidates``)."""
    points, home_of, digest = twin.home_points()
    net = twin.networks[mode]
    entries = home_candidates(net, points, digest).entries(net.travel_times(twin.travel_time_factors(mode)))
    return _cut_off(twin, entries, mode)[home_of]


def assess(twin: Twin, *, curve: flood.DepthDamage, value_per_m2: float,
           street_depths: dict[str, np.ndarray] | None = None,
           damages_by_event: list[tuple[float, float]] | None = None) -> FloodImpacts:
    """Impacts of ``twin.flood_depth`` on a flooded twin (its ``edge_factors`` already include the flood).
    ``street_depths`` (per mode, as :func:`flooded_network` gave them for this grid) saves sampling the streets
    again."""
    depth = twin.flood_depth
    buildings = twin.layers["buildings"]
    depths = flood.building_depths(depth, buildings)
    damage = flood.building_damage(depths, buildings, curve=curve, value_per_m2=value_per_m2,
                                   threshold_m=FLOODED_HOME_M, area_column=DAMAGED_AREA)
    flooded = buildings.join(depths).join(damage[["flooded", "damage_eur"]])
    flooded = flooded[flooded["flooded"]][["name", "residential", "floor_area_m2", "max_depth_m", "mean_depth_m",
                                           "damage_eur", "geometry"]]

    households = twin.households
    home_flooded = households["building_id"].isin(flooded.index).to_numpy()
    stranded = home_flooded | _households_cut_off(twin)
    rows = {}
    for group in ("all", *GROUP_COLUMNS):
        members = np.ones(len(households), bool) if group == "all" else households[group].to_numpy(bool)
        size = households["size"].to_numpy()
        rows[group] = {"households_home_flooded": int((members & home_flooded).sum()),
                       "residents_home_flooded": int(size[members & home_flooded].sum()),
                       "households_stranded": int((members & stranded).sum()),
                       "residents_stranded": int(size[members & stranded].sum())}
    groups = pd.DataFrame.from_dict(rows, orient="index")

    facilities = twin.layers["facilities"]
    xy = np.column_stack([facilities.geometry.x, facilities.geometry.y]) if len(facilities) else np.zeros((0, 2))
    is_flooded = flood.flooded_points(depth, xy, threshold_m=FLOODED_HOME_M)
    entries = snap_points(twin.networks["walk"], xy, factors=twin.travel_time_factors("walk"))
    facility_table = pd.DataFrame({"name": facilities["name"], "kind": facilities["kind"], "flooded": is_flooded,
                                   "cut_off": ~is_flooded & _cut_off(twin, entries)}, index=facilities.index)

    street_rows = []
    wet = None if street_depths else flood.WetCells(depth)
    for mode, net in twin.networks.items():
        edge_depth = street_depths[mode] if street_depths else flood.edge_depths(depth, net, wet=wet)
        wet = np.flatnonzero(edge_depth > 0)
        factors = twin.travel_time_factors(mode)
        for i in wet:
            street_rows.append({"mode": mode, "name": net.names[i], "depth_m": float(edge_depth[i]),
                                "passable": bool(np.isfinite(factors[i])), "length_m": float(net.length_m[i]),
                                "geometry": net.geometry[i]})
    streets = gpd.GeoDataFrame(pd.DataFrame(street_rows, columns=["mode", "name", "depth_m", "passable", "length_m",
                                                                  "geometry"]), geometry="geometry", crs=twin.crs)
    expected = None
    if damages_by_event:
        expected = flood.expected_annual_damage([d for d, _ in damages_by_event], [p for _, p in damages_by_event])
    return FloodImpacts(gpd.GeoDataFrame(flooded, geometry="geometry", crs=twin.crs), streets, facility_table,
                        groups, float(damage["damage_eur"].sum()), expected)
