"""Registered interventions: check() says what a change will touch and what is wrong; apply() returns a new twin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from ..layers import assign_zones
from ..twin import Twin
from . import spec as s

FLOOR_AREA_PER_HOUSEHOLD_M2 = 60.0  # assumption: about the mean dwelling size in Helsinki
ELDERLY_AGE, ADULT_AGE = 65, 18


@dataclass
class Context:
    """What an intervention needs besides the twin: where relative files live and the scenario's random stream."""

    base_dir: Path | None
    rng: np.random.Generator


@dataclass
class Outcome:
    """What a check found or an apply did, in plain words, plus ids it touched (for conflict detection)."""

    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    buildings: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


Check = Callable[[Twin, Any, Context], Outcome]
Apply = Callable[[Twin, Any, Context], tuple[Twin, Outcome]]
REGISTRY: dict[str, tuple[Check, Apply]] = {}


def register(kind: str) -> Callable:
    """Decorator for a (check, apply) pair: ``@register("add_park")`` on a class with both as static methods."""

    def wrap(cls: type) -> type:
        REGISTRY[kind] = (cls.check, cls.apply)
        return cls

    return wrap


# --- geometry helpers ---------------------------------------------------------------------------------------------


def to_twin(geometry: shapely.Geometry, twin: Twin) -> shapely.Geometry:
    """A lon/lat geometry in the twin's CRS."""
    return gpd.GeoSeries([geometry], crs=4326).to_crs(twin.crs).iloc[0]


def outside_twin(geometry: shapely.Geometry, twin: Twin, *, margin_m: float = 50.0) -> str | None:
    """A problem text when a twin-CRS geometry misses the twin's extent (give or take ``margin_m``)."""
    extent = shapely.box(*twin.extent)
    if geometry.intersects(extent.buffer(margin_m, join_style="mitre")):
        return None
    left, bottom, right, top = gpd.GeoSeries([extent], crs=twin.crs).to_crs(4326).total_bounds
    return (f"lies outside the twin; expected a place within lon {left:.4f}..{right:.4f}, "
            f"lat {bottom:.4f}..{top:.4f}")


def _ids(frame: pd.DataFrame, ids: list[int] | None, names: list[str] | None, what: str) -> tuple[list, list[str]]:
    """Rows chosen by index or by name, with a problem text for each that does not exist."""
    problems = []
    if ids is not None:
        missing = [i for i in ids if i not in frame.index]
        if missing:
            problems.append(f"ids: no {what} with id {', '.join(map(str, missing))}; expected ids from "
                            f"0 to {frame.index.max() if len(frame) else 'none'}")
        return [i for i in ids if i in frame.index], problems
    chosen = []
    known = frame["name"].dropna().astype(str)
    for name in names or []:
        hits = known.index[known.str.casefold() == name.casefold()].tolist()
        if not hits:
            examples = ", ".join(sorted(set(known))[:8])
            problems.append(f"names: no {what} named '{name}'; expected one of {examples}")
        chosen.extend(hits)
    return chosen, problems


def _append(frame: gpd.GeoDataFrame, rows: dict[str, list], geometry: list) -> gpd.GeoDataFrame:
    """New rows with ids continuing the layer's index."""
    start = int(frame.index.max()) + 1 if len(frame) else 0
    new = gpd.GeoDataFrame(rows, geometry=geometry, crs=frame.crs,
                           index=pd.RangeIndex(start, start + len(geometry), name=frame.index.name))
    for column in frame.columns:
        if column not in new.columns:
            new[column] = None
    combined = pd.concat([frame, new[frame.columns.union(new.columns, sort=False)]])
    return gpd.GeoDataFrame(combined, geometry="geometry", crs=frame.crs)


def describe_households(households: pd.DataFrame) -> dict[str, int]:
    """Counts by group, for notes and displacement tallies."""
    return {"households": int(len(households)), "residents": int(households["size"].sum()),
            "with_elderly": int(households["elderly"].sum()), "elderly_alone": int(households["elderly_alone"].sum()),
            "with_children": int(households["children"].sum())}


def household_rows(ages: list[list[int]]) -> pd.DataFrame:
    """Households (without location) from their members' ages, with the group flags the indicators use."""
    size = np.array([len(a) for a in ages])
    n_elderly = np.array([sum(x >= ELDERLY_AGE for x in a) for a in ages])
    n_children = np.array([sum(x < ADULT_AGE for x in a) for a in ages])
    return pd.DataFrame({
        "size": size, "ages": [" ".join(map(str, a)) for a in ages], "n_elderly": n_elderly,
        "n_children": n_children, "elderly": n_elderly > 0, "elderly_alone": (size == 1) & (n_elderly == 1),
        "children": n_children > 0,
    })


# --- interventions ----------------------------------------------------------------------------------------------


@register("add_housing")
class AddHousing:
    @staticmethod
    def footprint(twin: Twin, spec: s.AddHousing, ctx: Context) -> shapely.Geometry:
        if spec.at is not None:
            floor = spec.floor_area_m2 or spec.households * FLOOR_AREA_PER_HOUSEHOLD_M2
            side = float(np.sqrt(floor / spec.levels))
            centre = to_twin(shapely.Point(spec.at), twin)
            return shapely.box(centre.x - side / 2, centre.y - side / 2, centre.x + side / 2, centre.y + side / 2)
        return to_twin(spec.shape(ctx.base_dir), twin)

    @staticmethod
    def counts(spec: s.AddHousing, footprint: shapely.Geometry) -> dict[str, int]:
        floor = spec.floor_area_m2 or footprint.area * spec.levels
        total = spec.households or max(1, round(floor / FLOOR_AREA_PER_HOUSEHOLD_M2))
        kinds = list(spec.composition)
        shares = np.array([spec.composition[k] for k in kinds]) * total
        whole = np.floor(shares).astype(int)
        whole[np.argsort(-(shares - whole), kind="stable")[: total - whole.sum()]] += 1
        return dict(zip(kinds, whole.tolist()))

    @staticmethod
    def check(twin: Twin, spec: s.AddHousing, ctx: Context) -> Outcome:
        footprint = AddHousing.footprint(twin, spec, ctx)
        out = Outcome()
        if problem := outside_twin(footprint, twin):
            out.problems.append(f"area {problem}")
            return out
        buildings = twin.layers["buildings"]
        overlapped = buildings.index[buildings.intersects(footprint) &
                                     (buildings.intersection(footprint).area > 1.0)].tolist()
        out.buildings.update(overlapped)
        counts = AddHousing.counts(spec, footprint)
        mix = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
        out.notes.append(f"add_housing: {sum(counts.values())} households ({mix}) in '{spec.name}', "
                         f"{spec.levels} storeys on {footprint.area:,.0f} m2")
        if overlapped:
            out.notes.append(f"add_housing: the site overlaps {len(overlapped)} existing building(s) "
                             f"({', '.join(map(str, overlapped[:10]))}); they stay unless removed")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.AddHousing, ctx: Context) -> tuple[Twin, Outcome]:
        footprint = AddHousing.footprint(twin, spec, ctx)
        counts = AddHousing.counts(spec, footprint)
        rng = ctx.rng
        ages: list[list[int]] = []
        for kind, n in counts.items():
            for _ in range(n):
                if kind == "elderly_alone":
                    ages.append([int(rng.integers(65, 96))])
                elif kind == "elderly_couple":
                    ages.append([int(a) for a in rng.integers(65, 93, size=2)])
                elif kind == "family":
                    children = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
                    ages.append([int(a) for a in rng.integers(28, 51, size=2)] +
                                [int(a) for a in rng.integers(0, 18, size=children)])
                else:
                    ages.append([int(a) for a in rng.integers(20, 65, size=int(rng.integers(1, 3)))])
        floor = spec.floor_area_m2 or footprint.area * spec.levels
        buildings = _append(twin.layers["buildings"], {
            "osm_id": [-1], "building": ["apartments"], "name": [spec.name], "levels": [float(spec.levels)],
            "levels_source": ["scenario"], "residential": [True], "footprint_m2": [footprint.area],
            "floor_area_m2": [floor]}, [footprint])
        building_id = int(buildings.index[-1])
        buildings.loc[building_id, "zone_id"] = int(assign_zones(buildings.loc[[building_id]],
                                                                 twin.layers["zones"]).iloc[0])
        buildings["zone_id"] = buildings["zone_id"].astype("int64")
        point = footprint.representative_point()
        new = household_rows(ages).assign(building_id=building_id, x=point.x, y=point.y,
                                          zone_id=int(buildings.loc[building_id, "zone_id"]))
        start = int(twin.households.index.max()) + 1 if len(twin.households) else 0
        new.index = pd.RangeIndex(start, start + len(new), name=twin.households.index.name)
        households = pd.concat([twin.households, new[twin.households.columns]])
        out = Outcome(counts={f"added_{k}": v for k, v in describe_households(new).items()})
        out.notes.append(f"add_housing: building {building_id} with {len(new)} households, "
                         f"{int(new['size'].sum())} residents")
        return twin.with_layer("buildings", buildings).replace(households=households), out


@register("remove_buildings")
class RemoveBuildings:
    @staticmethod
    def chosen(twin: Twin, spec: s.RemoveBuildings, ctx: Context) -> tuple[list[int], list[str]]:
        buildings = twin.layers["buildings"]
        if spec.ids is not None:
            return _ids(buildings, spec.ids, None, "building")
        area = to_twin(spec.shape(ctx.base_dir), twin)
        if problem := outside_twin(area, twin):
            return [], [f"area {problem}"]
        inside = buildings.representative_point().within(area)
        if not inside.any():
            return [], ["area: no building stands in the area; expected an area around the buildings to remove"]
        return buildings.index[inside].tolist(), []

    @staticmethod
    def check(twin: Twin, spec: s.RemoveBuildings, ctx: Context) -> Outcome:
        ids, problems = RemoveBuildings.chosen(twin, spec, ctx)
        out = Outcome(problems=problems, buildings=set(ids))
        if ids:
            displaced = describe_households(twin.households[twin.households["building_id"].isin(ids)])
            out.notes.append(f"remove_buildings: {len(ids)} building(s); {displaced['households']} households "
                             f"({displaced['residents']} residents, {displaced['with_elderly']} with elderly) "
                             f"are displaced")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.RemoveBuildings, ctx: Context) -> tuple[Twin, Outcome]:
        ids, _ = RemoveBuildings.chosen(twin, spec, ctx)
        leaving = twin.households["building_id"].isin(ids)
        out = Outcome(counts={f"displaced_{k}": v for k, v in describe_households(twin.households[leaving]).items()})
        out.counts["buildings_removed"] = len(ids)
        buildings = twin.layers["buildings"].drop(index=ids)
        return twin.with_layer("buildings", buildings).replace(households=twin.households[~leaving]), out


@register("add_park")
class AddPark:
    @staticmethod
    def check(twin: Twin, spec: s.AddPark, ctx: Context) -> Outcome:
        area = to_twin(spec.shape(ctx.base_dir), twin)
        out = Outcome()
        if problem := outside_twin(area, twin):
            out.problems.append(f"area {problem}")
        else:
            out.notes.append(f"add_park: '{spec.name}', {area.area:,.0f} m2")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.AddPark, ctx: Context) -> tuple[Twin, Outcome]:
        area = to_twin(spec.shape(ctx.base_dir), twin)
        parks = _append(twin.layers["parks"], {"osm_id": [-1], "name": [spec.name], "kind": ["park"],
                                               "area_m2": [area.area]}, [area])
        return twin.with_layer("parks", parks), Outcome(counts={"parks_added": 1})


@register("remove_park")
class RemovePark:
    @staticmethod
    def chosen(twin: Twin, spec: s.RemovePark, ctx: Context) -> tuple[list[int], list[str]]:
        parks = twin.layers["parks"]
        if spec.ids is not None or spec.names is not None:
            return _ids(parks, spec.ids, spec.names, "park")
        area = to_twin(spec.shape(ctx.base_dir), twin)
        mostly_inside = parks.intersection(area).area > 0.5 * parks.area
        if not mostly_inside.any():
            return [], ["area: no park lies mostly inside the area; expected an area around the parks to remove"]
        return parks.index[mostly_inside].tolist(), []

    @staticmethod
    def check(twin: Twin, spec: s.RemovePark, ctx: Context) -> Outcome:
        ids, problems = RemovePark.chosen(twin, spec, ctx)
        out = Outcome(problems=problems)
        if ids:
            names = twin.layers["parks"].loc[ids, "name"].fillna("unnamed").tolist()
            out.notes.append(f"remove_park: {len(ids)} park(s): {', '.join(names)}")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.RemovePark, ctx: Context) -> tuple[Twin, Outcome]:
        ids, _ = RemovePark.chosen(twin, spec, ctx)
        parks = twin.layers["parks"].drop(index=ids)
        return twin.with_layer("parks", parks), Outcome(counts={"parks_removed": len(ids)})


@register("add_facility")
class AddFacility:
    @staticmethod
    def check(twin: Twin, spec: s.AddFacility, ctx: Context) -> Outcome:
        point = to_twin(shapely.Point(spec.at), twin)
        out = Outcome()
        if problem := outside_twin(point, twin):
            out.problems.append(f"at {problem}")
            return out
        out.notes.append(f"add_facility: {spec.kind} '{spec.name}' (capacity {spec.capacity:g})")
        if spec.kind not in set(twin.layers["facilities"]["kind"]):
            out.notes.append(f"add_facility: kind '{spec.kind}' is new to this twin")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.AddFacility, ctx: Context) -> tuple[Twin, Outcome]:
        point = to_twin(shapely.Point(spec.at), twin)
        facilities = _append(twin.layers["facilities"], {
            "osm_id": [-1], "name": [spec.name], "kind": [spec.kind], "category": [spec.kind],
            "capacity": [spec.capacity]}, [point])
        return twin.with_layer("facilities", facilities), Outcome(counts={"facilities_added": 1})


@register("close_facility")
class CloseFacility:
    @staticmethod
    def check(twin: Twin, spec: s.CloseFacility, ctx: Context) -> Outcome:
        facilities = twin.layers["facilities"]
        ids, problems = _ids(facilities, spec.ids, spec.names, "facility")
        out = Outcome(problems=problems)
        if ids:
            listed = ", ".join(f"{n or 'unnamed'} ({k})" for n, k in
                               zip(facilities.loc[ids, "name"], facilities.loc[ids, "kind"]))
            out.notes.append(f"close_facility: {listed}")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.CloseFacility, ctx: Context) -> tuple[Twin, Outcome]:
        ids, _ = _ids(twin.layers["facilities"], spec.ids, spec.names, "facility")
        facilities = twin.layers["facilities"].drop(index=ids)
        return (twin.with_layer("facilities", facilities),
                Outcome(counts={"facilities_closed": len(ids)}))


@register("close_streets")
class CloseStreets:
    @staticmethod
    def edges(twin: Twin, spec: s.CloseStreets, ctx: Context, mode: str) -> np.ndarray:
        """Flags of the mode's edges (graph order) that the closure covers: half their length or 20 m inside."""
        graph = twin.networks[mode]
        if spec.osm_ids is not None:
            wanted = set(spec.osm_ids)
            return np.array([d["osmid"] in wanted for *_, d in graph.edges(data=True)], dtype=bool)
        shape = to_twin(spec.line_shape(), twin).buffer(spec.buffer_m) if spec.line is not None \
            else to_twin(spec.shape(ctx.base_dir), twin)
        lines = np.array([d["geometry"] for *_, d in graph.edges(data=True)], dtype=object)
        if not len(lines):
            return np.zeros(0, bool)
        # Streets that run through the closure, not those that merely touch it at a corner.
        inside = shapely.length(shapely.intersection(lines, shape))
        return inside >= np.minimum(0.5 * shapely.length(lines), 20.0)

    @staticmethod
    def check(twin: Twin, spec: s.CloseStreets, ctx: Context) -> Outcome:
        out = Outcome()
        if spec.osm_ids is None:
            shape = spec.line_shape() if spec.line is not None else spec.shape(ctx.base_dir)
            if problem := outside_twin(to_twin(shape, twin), twin):
                out.problems.append(f"{'line' if spec.line is not None else 'area'} {problem}")
                return out
        how = "closed" if spec.speed_factor is None else f"slowed to {spec.speed_factor:.0%} of normal speed"
        for mode in spec.modes:
            flags = CloseStreets.edges(twin, spec, ctx, mode)
            if not flags.any():
                out.problems.append(f"modes: no {mode} street in the closure; expected streets to close")
            else:
                out.notes.append(f"close_streets: '{spec.name}': {int(flags.sum()):,} of {len(flags):,} {mode} "
                                 f"edges {how}")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.CloseStreets, ctx: Context) -> tuple[Twin, Outcome]:
        factors = dict(twin.edge_factors)
        out = Outcome()
        for mode in spec.modes:
            flags = CloseStreets.edges(twin, spec, ctx, mode)
            multiplier = np.inf if spec.speed_factor is None else 1.0 / spec.speed_factor
            factors[mode] = twin.travel_time_factors(mode) * np.where(flags, multiplier, 1.0)
            out.counts[f"{mode}_edges_affected"] = int(flags.sum())
        return twin.replace(edge_factors=factors), out


def _add_stops(twin: Twin, stops: list[s.StopSpec], *, mode: str, headway: float | None,
               line: str | None) -> Twin:
    points = [to_twin(shapely.Point(stop.at), twin) for stop in stops]
    layer = _append(twin.layers["transit_stops"], {
        "name": [stop.name for stop in stops], "mode": [mode] * len(stops), "osm_ids": [""] * len(stops),
        "headway_min": [np.nan if headway is None else float(headway)] * len(stops),
        "line": [line] * len(stops)}, points)
    layer["headway_min"] = layer["headway_min"].astype(float)
    return twin.with_layer("transit_stops", layer)


@register("add_transit_stop")
class AddTransitStop:
    @staticmethod
    def check(twin: Twin, spec: s.AddTransitStop, ctx: Context) -> Outcome:
        out = Outcome()
        if problem := outside_twin(to_twin(shapely.Point(spec.at), twin), twin):
            out.problems.append(f"at {problem}")
        else:
            out.notes.append(f"add_transit_stop: {spec.mode} stop '{spec.name}'")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.AddTransitStop, ctx: Context) -> tuple[Twin, Outcome]:
        return (_add_stops(twin, [spec], mode=spec.mode, headway=spec.headway_min, line=None),
                Outcome(counts={"stops_added": 1}))


@register("add_transit_line")
class AddTransitLine:
    @staticmethod
    def check(twin: Twin, spec: s.AddTransitLine, ctx: Context) -> Outcome:
        out = Outcome()
        for i, stop in enumerate(spec.stops):
            if problem := outside_twin(to_twin(shapely.Point(stop.at), twin), twin):
                out.problems.append(f"stops[{i}] ({stop.name}) {problem}")
        if not out.problems:
            out.notes.append(f"add_transit_line: {spec.mode} line '{spec.name}', {len(spec.stops)} stops, "
                             f"every {spec.headway_min:g} min")
        return out

    @staticmethod
    def apply(twin: Twin, spec: s.AddTransitLine, ctx: Context) -> tuple[Twin, Outcome]:
        return (_add_stops(twin, spec.stops, mode=spec.mode, headway=spec.headway_min, line=spec.name),
                Outcome(counts={"stops_added": len(spec.stops)}))


@register("age_population")
class AgePopulation:
    @staticmethod
    def check(twin: Twin, spec: s.AgePopulation, ctx: Context) -> Outcome:
        before = int(twin.households["n_elderly"].sum())
        after = int(sum(sum(int(a) + spec.years >= ELDERLY_AGE for a in ages.split())
                        for ages in twin.households["ages"]))
        return Outcome(notes=[f"age_population: everyone {spec.years} years older; residents aged 65+ "
                              f"{before:,} -> {after:,}"])

    @staticmethod
    def apply(twin: Twin, spec: s.AgePopulation, ctx: Context) -> tuple[Twin, Outcome]:
        ages = [[int(a) + spec.years for a in text.split()] for text in twin.households["ages"]]
        aged = household_rows(ages).set_index(twin.households.index)
        households = twin.households.copy()
        households[aged.columns] = aged
        return twin.replace(households=households), Outcome(counts={"years": spec.years})


# --- a whole scenario ---------------------------------------------------------------------------------------------


@dataclass
class Checked:
    """A dry run: what each intervention will do, every problem found, and the twin it would produce."""

    notes: list[str]
    problems: list[str]
    twin: Twin
    outcomes: list[Outcome]


def check_scenario(scenario: s.Scenario, twin: Twin) -> Checked:
    """Check and apply the interventions in order on a copy of ``twin`` (each sees the ones before it); the
    baseline is not changed. Problems name the file, line and intervention; conflicts between interventions
    (two touching the same building) are problems too."""
    rng = np.random.default_rng(scenario.seed)
    context = Context(base_dir=scenario.base_dir, rng=rng)
    notes, problems, outcomes = [], [], []
    touched: dict[int, int] = {}
    current = twin
    for index, intervention in enumerate(scenario.interventions):
        where = scenario.where("interventions", index)
        check, apply = REGISTRY[intervention.type]
        found = check(current, intervention, context)
        problems += [f"{where}: {problem}" for problem in found.problems]
        notes += [f"[{index}] {note}" for note in found.notes]
        for building in sorted(found.buildings):
            if building in touched:
                problems.append(f"{where}: building {building} is also changed by interventions[{touched[building]}]; "
                                "expected each building to be changed once")
            touched.setdefault(building, index)
        if not found.problems:
            current, done = apply(current, intervention, context)
            outcomes.append(done)
    return Checked(notes, problems, current, outcomes)


SOURCE_WATER = {"sea", "river", "lake", "bay"}
FLOOD_MARGIN_M = 200.0


def flood_depth(twin: Twin, spec: s.Flood, ctx: Context, *, level_m: float | None = None,
                raster_file: str | None = None) -> xr.DataArray:
    """The flood's depth grid in the twin's CRS, for its own level or raster, or for one return-period event."""
    from ..hazards import flood

    if spec.hazard == "water_level":
        water = twin.layers["water"]
        sources = water.geometry[water["kind"].isin(SOURCE_WATER)] if "kind" in water else water.geometry.iloc[:0]
        return flood.bathtub(twin.terrain, level_m if level_m is not None else spec.level_m,
                             sources=sources if len(sources) else None, connected=spec.connected)
    # The grid reaches past the street network's extent, to the buildings on its edges.
    area = shapely.box(*twin.extent).buffer(FLOOD_MARGIN_M, join_style="mitre")
    if spec.hazard == "depth_raster":
        name = raster_file or spec.raster_file
        return flood.depth_from_raster(name if ctx.base_dir is None else ctx.base_dir / name, crs=spec.raster_crs,
                                       to_crs=twin.crs, bbox=area.bounds)
    shapes = gpd.GeoDataFrame(geometry=[to_twin(spec.shape(ctx.base_dir), twin)], crs=twin.crs)
    return flood.depth_from_extents(shapes, depth_m=spec.depth_m, bounds=area.bounds,
                                    resolution_m=spec.resolution_m, crs=twin.crs)


@register("flood")
class Flood:
    @staticmethod
    def check(twin: Twin, spec: s.Flood, ctx: Context) -> Outcome:
        out = Outcome()
        if spec.hazard == "water_level" and twin.terrain is None:
            out.problems.append("hazard: water_level needs terrain and this twin has none; expected hazard: extent "
                                "or depth_raster, or a twin built with a DEM (e.g. twin: synthetic:riverside)")
            return out
        if spec.hazard == "extent" and (problem := outside_twin(to_twin(spec.shape(ctx.base_dir), twin), twin)):
            out.problems.append(f"area {problem}")
            return out
        rasters = [spec.raster_file] if spec.hazard == "depth_raster" else []
        rasters += [event.raster_file for event in spec.return_periods or [] if event.raster_file]
        for name in rasters:
            path = Path(name) if ctx.base_dir is None else ctx.base_dir / name
            if not path.is_file():
                out.problems.append(f"raster_file: '{name}' not found next to the scenario file; expected a "
                                    "depth GeoTIFF")
        if spec.damage_curve not in ("jrc_residential", "jrc_commercial"):
            path = Path(spec.damage_curve) if ctx.base_dir is None else ctx.base_dir / spec.damage_curve
            if not path.is_file():
                out.problems.append(f"damage_curve: '{spec.damage_curve}' is neither jrc_residential, jrc_commercial "
                                    "nor a CSV next to the scenario file; expected one of those")
        if out.problems:
            return out
        depth = flood_depth(twin, spec, ctx, level_m=Flood.design_level(spec))
        wet = float((depth.fillna(0) > 0).sum()) * abs(float(np.prod(depth.rio.resolution())))
        out.notes.append(f"flood: '{spec.name}' ({spec.hazard}) covers {wet / 10_000:,.1f} ha, deepest "
                         f"{float(depth.max()):.2f} m")
        return out

    @staticmethod
    def design_level(spec: s.Flood) -> float | None:
        """The level the scenario's twin floods to: level_m, else the rarest return-period event."""
        if spec.level_m is not None or not spec.return_periods:
            return spec.level_m
        return min(spec.return_periods, key=lambda e: e.annual_probability).level_m

    @staticmethod
    def apply(twin: Twin, spec: s.Flood, ctx: Context) -> tuple[Twin, Outcome]:
        from ..hazards import impacts

        depth = flood_depth(twin, spec, ctx, level_m=Flood.design_level(spec))
        if twin.flood_depth is not None:
            depth = np.maximum(depth, twin.flood_depth.rio.reproject_match(depth).fillna(0))
        factors = impacts.flooded_network(twin, depth, spec.passable_m)
        flooded = twin.replace(flood_depth=depth.rename("depth_m"), edge_factors=factors)
        curve = impacts.curve_for(spec.damage_curve, ctx.base_dir)
        events = []
        for event in spec.return_periods or []:
            event_depth = flood_depth(twin, spec, ctx, level_m=event.level_m, raster_file=event.raster_file)
            damage = impacts.flood.building_damage(impacts.flood.building_depths(event_depth, twin.layers["buildings"]),
                                                   twin.layers["buildings"], curve=curve,
                                                   value_per_m2=spec.value_per_m2, threshold_m=impacts.FLOODED_HOME_M,
                                                   area_column=impacts.DAMAGED_AREA)
            events.append((float(damage["damage_eur"].sum()), event.annual_probability))
        found = impacts.assess(flooded, curve=curve, value_per_m2=spec.value_per_m2, damages_by_event=events or None)
        out = Outcome(counts={"buildings_flooded": len(found.buildings),
                              "households_home_flooded": int(found.groups.loc["all", "households_home_flooded"]),
                              "households_stranded": int(found.groups.loc["all", "households_stranded"])})
        out.extra["flood"] = found
        return flooded, out
