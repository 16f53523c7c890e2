"""flood: water on the twin from a water level, a depth raster or drawn extents; its impacts by group."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from pydantic import Field, model_validator

from ... import timetable as timetable_edits
from ...twin import Twin
from ..fields import Located, Mode, Model
from .base import Context, Resolution, Unit, outside_twin, register, to_twin

if TYPE_CHECKING:  # hazards pull in rasterio and the routing engine: imported when a flood is resolved
    from ...hazards.impacts import FloodImpacts

SOURCE_WATER = {"sea", "river", "lake", "bay"}
FLOOD_MARGIN_M = 200.0  # the grid reaches past the street network's extent, to the buildings on its edges
CURVES = ("jrc_residential", "jrc_commercial")
GridKey = tuple  # ("level", 2.0), ("raster", "depth.tif") or ("extent",): equal keys, one grid


class ReturnPeriod(Model):
    """One event of a flood's risk curve: a water level (or depth raster) and its annual probability."""

    annual_probability: float = Field(gt=0, le=1)
    level_m: float | None = None
    raster_file: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ReturnPeriod:
        if (self.level_m is None) == (self.raster_file is None):
            raise ValueError("give exactly one of level_m or raster_file")
        return self


@dataclass
class Water(Resolution):
    depth: xr.DataArray | None = None  # this flood's own grid (before any earlier flood is added to it)
    events: list[xr.DataArray] = field(default_factory=list)  # per return period; the same object for equal grids
    combined: bool = False  # the twin was already flooded: apply adds this water to that
    street_depths: dict[str, np.ndarray] = field(default_factory=dict)  # per mode, the water on each edge (apply)
    stops_closed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # timetable stops (apply)
    legs_cut: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # stop pairs (apply)


@register
class Flood(Located, Unit):
    """Water on the twin (a water level, a depth raster or drawn extents); streets too deep become impassable.

    ``hazard`` picks the source: a still ``water_level`` on the twin's terrain, a ``depth_raster`` from an
    authority or model, or drawn ``extent`` polygons with a ``depth_m``. A street deeper than its mode's
    ``passable_m`` is closed, shallower water slows it; a transit stop under more than ``passable_m.transit``
    (default 0.2 m) is out of service, and buses, trams, metro and trains no longer run between two stops where
    the straight line between them crosses water deeper than ``passable_m.drive`` (default 0.3 m; the route's
    real path is not known, so a line that detours around the water is cut too). Ferries sail on.
    """

    type: Literal["flood"]
    name: str = "flood"
    hazard: Literal["water_level", "depth_raster", "extent"]
    level_m: float | None = Field(default=None, ge=-10, le=50)
    connected: bool = True
    raster_file: str | None = None
    raster_crs: str | None = None
    depth_m: float | None = Field(default=None, gt=0, le=20)
    resolution_m: float = Field(default=5.0, ge=1, le=100)  # 1 m: a 4 km town is 16M cells
    passable_m: dict[Mode, float] = Field(default_factory=dict)
    damage_curve: str = "jrc_residential"
    value_per_m2: float = Field(default=2000.0, gt=0)
    return_periods: list[ReturnPeriod] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _complete(self) -> Flood:
        needs = {"water_level": ("level_m", self.level_m), "depth_raster": ("raster_file", self.raster_file),
                 "extent": ("depth_m", self.depth_m)}
        field_name, value = needs[self.hazard]
        if value is None and not (self.hazard == "water_level" and self.return_periods):
            raise ValueError(f"hazard {self.hazard} needs {field_name}")
        if self.hazard == "extent" and self.place_count() != 1:
            raise ValueError("hazard extent needs exactly one of area or area_file (the flooded polygons)")
        if any(v <= 0 for v in self.passable_m.values()):
            raise ValueError("passable_m values must be depths > 0 in metres")
        return self

    def input_files(self) -> list[str]:
        names = [*super().input_files(), *([self.raster_file] if self.raster_file else []),
                 *(e.raster_file for e in self.return_periods or [] if e.raster_file),
                 *([] if self.damage_curve in CURVES else [self.damage_curve])]
        return list(dict.fromkeys(names))

    def resolve(self, twin: Twin, ctx: Context) -> Water:
        out = Water(combined=twin.flood_depth is not None)
        if self.hazard == "water_level" and twin.terrain is None:
            out.problems.append("hazard: water_level needs terrain and this twin has none; expected hazard: extent "
                                "or depth_raster, or a twin built with a DEM (e.g. twin: synthetic:riverside)")
            return out
        extent = None
        if self.hazard == "extent":
            extent = to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin)
            if problem := outside_twin(extent, twin):
                out.problems.append(f"area {problem}")
                return out
        rasters = [self.raster_file] if self.hazard == "depth_raster" else []
        rasters += [event.raster_file for event in self.return_periods or [] if event.raster_file]
        for name in dict.fromkeys(rasters):
            try:
                found = ctx.path(name, "a depth GeoTIFF").is_file()
            except ValueError as exc:  # outside the scenario's folder: refused, whether it exists or not
                out.problems.append(f"raster_file: {exc}")
                continue
            if not found:
                out.problems.append(f"raster_file: '{name}' not found next to the scenario file; expected a "
                                    "depth GeoTIFF")
        if self.damage_curve not in CURVES:
            try:
                found = ctx.path(self.damage_curve, "jrc_residential, jrc_commercial or a CSV").is_file()
            except ValueError as exc:
                out.problems.append(f"damage_curve: {exc}")
            else:
                if not found:
                    out.problems.append(f"damage_curve: '{self.damage_curve}' is neither jrc_residential, "
                                        "jrc_commercial nor a CSV next to the scenario file; expected one of those")
        if out.problems:
            return out
        grids: dict[GridKey, xr.DataArray] = {}

        def grid(key: GridKey) -> xr.DataArray:
            if key not in grids:
                grids[key] = self._depth(key, twin, extent, ctx)
            return grids[key]

        out.depth = grid(self._design_key())
        out.events = [grid(self._event_key(e)) for e in self.return_periods or []]
        wet = float((out.depth.fillna(0) > 0).sum()) * abs(float(np.prod(out.depth.rio.resolution())))
        out.notes.append(f"flood: '{self.name}' ({self.hazard}) covers {wet / 10_000:,.1f} ha, deepest "
                         f"{float(out.depth.max()):.2f} m")
        if twin.timetable is not None:
            wet_stops = self._stops_under(twin, out.depth)
            cut = self._legs_under(twin, out.depth)
            if len(wet_stops) or len(cut):
                out.notes.append(f"flood: '{self.name}': {len(wet_stops)} transit stops under more than "
                                 f"{self._platform_limit():.2f} m of water are out of service; no trips between "
                                 f"{len(cut)} pairs of stops across water deeper than {self._vehicle_limit():.2f} m")
        return out

    def _platform_limit(self) -> float:
        from ...hazards.flood import PASSABLE_M

        return self.passable_m.get("transit", PASSABLE_M["transit"])

    def _vehicle_limit(self) -> float:
        from ...hazards.flood import PASSABLE_M

        return self.passable_m.get("drive", PASSABLE_M["drive"])

    def _legs_under(self, twin: Twin, depth: xr.DataArray, step_m: float = 5.0) -> np.ndarray:
        """Pairs of consecutive stops (by land) whose straight line crosses water deeper than vehicles pass."""
        from ...hazards.flood import flooded_points
        from ...transit import stop_points

        pairs = timetable_edits.legs(twin.timetable, modes=("bus", "tram", "metro", "rail", "other"))
        xy = stop_points(twin)
        a, b = xy[pairs[:, 0]], xy[pairs[:, 1]]
        samples = np.maximum(np.ceil(np.hypot(*(b - a).T) / step_m).astype(int), 1) + 1
        leg = np.repeat(np.arange(len(pairs)), samples)
        share = np.concatenate([np.linspace(0, 1, n) for n in samples]) if len(pairs) else np.zeros(0)
        points = a[leg] + (b[leg] - a[leg]) * share[:, None]
        wet = flooded_points(depth, points, threshold_m=self._vehicle_limit()) if len(points) else np.zeros(0, bool)
        return pairs[np.bincount(leg[wet], minlength=len(pairs)) > 0]

    def _stops_under(self, twin: Twin, depth: xr.DataArray) -> np.ndarray:
        """Timetable stops standing in water deeper than the platform limit."""
        from ...hazards.flood import flooded_points
        from ...transit import stop_points

        return np.flatnonzero(flooded_points(depth, stop_points(twin), threshold_m=self._platform_limit()))

    def apply(self, twin: Twin, resolution: Water, ctx: Context) -> Twin:
        from ...hazards import flood, impacts

        depth = resolution.depth
        if twin.flood_depth is not None:
            depth = np.maximum(depth, twin.flood_depth.rio.reproject_match(depth).fillna(0))
        factors, resolution.street_depths = impacts.flooded_network(twin, depth, self.passable_m)
        provenance = dict(twin.provenance)
        if self.raster_file:  # its data is credited on every map and report that draws it
            provenance[f"flood_depth:{self.raster_file}"] = flood.raster_provenance(ctx.path(self.raster_file))
        timetable = twin.timetable
        if timetable is not None:
            resolution.stops_closed = self._stops_under(twin, depth)
            resolution.legs_cut = self._legs_under(twin, depth)
            timetable = timetable_edits.cut_legs(timetable, resolution.legs_cut)
            timetable = timetable_edits.close_stops(timetable, resolution.stops_closed)
        return twin.replace(flood_depth=depth.rename("depth_m"), edge_factors=factors, provenance=provenance,
                            timetable=timetable)

    def impacts(self, variant_twin: Twin, resolution: Water, ctx: Context) -> FloodImpacts:
        """What the water reaches on the final variant twin (this flood the last one applied to it): homes,
        households by group, streets, facilities, damage, and the expected annual damage of the return periods.
        Kept out of apply so that it runs once, after every intervention."""
        from ...hazards import flood, impacts

        name = self.damage_curve if self.damage_curve in CURVES else str(ctx.path(self.damage_curve))
        curve = impacts.curve_for(name, None)
        found = impacts.assess(variant_twin, curve=curve, value_per_m2=self.value_per_m2,
                               street_depths=resolution.street_depths)
        if not self.return_periods:
            return found
        buildings = variant_twin.layers["buildings"]
        damages = []
        for depth in resolution.events:
            if depth is resolution.depth and not resolution.combined:  # the grid assess just sampled
                damages.append(found.damage_eur)
                continue
            damage = flood.building_damage(flood.building_depths(depth, buildings), buildings, curve=curve,
                                           value_per_m2=self.value_per_m2, threshold_m=impacts.FLOODED_HOME_M,
                                           area_column=impacts.DAMAGED_AREA)
            damages.append(float(damage["damage_eur"].sum()))
        probabilities = [event.annual_probability for event in self.return_periods]
        return dataclasses.replace(found, expected_annual_damage_eur=flood.expected_annual_damage(damages,
                                                                                                  probabilities))

    @staticmethod
    def effects(found: FloodImpacts) -> dict[str, int]:
        """The flood's counts among a scenario's effects."""
        return {"buildings_flooded": len(found.buildings),
                "households_home_flooded": int(found.groups.loc["all", "households_home_flooded"]),
                "households_stranded": int(found.groups.loc["all", "households_stranded"])}

    def _design_key(self) -> GridKey:
        """The grid the twin floods to: the flood's own, else (a water level given only by return periods) the
        rarest event's."""
        if self.hazard == "water_level" and self.level_m is None:
            return self._event_key(min(self.return_periods, key=lambda e: e.annual_probability))
        return {"water_level": ("level", self.level_m), "depth_raster": ("raster", self.raster_file),
                "extent": ("extent",)}[self.hazard]

    def _event_key(self, event: ReturnPeriod) -> GridKey:
        if event.raster_file is not None:
            return "raster", event.raster_file
        if self.hazard == "water_level":
            return "level", event.level_m
        return self._design_key()  # a level means nothing to a raster or drawn flood: the event is the flood

    def _depth(self, key: GridKey, twin: Twin, extent: shapely.Geometry | None, ctx: Context) -> xr.DataArray:
        """One depth grid in the twin's CRS."""
        from ...hazards import flood

        if key[0] == "level":
            water = twin.layers["water"]
            sources = water.geometry[water["kind"].isin(SOURCE_WATER)] if "kind" in water else water.geometry.iloc[:0]
            return flood.bathtub(twin.terrain, key[1], sources=sources if len(sources) else None,
                                 connected=self.connected)
        area = shapely.box(*twin.extent).buffer(FLOOD_MARGIN_M, join_style="mitre")
        if key[0] == "raster":
            return flood.depth_from_raster(ctx.path(key[1]), crs=self.raster_crs, to_crs=twin.crs, bbox=area.bounds)
        shapes = gpd.GeoDataFrame(geometry=[extent], crs=twin.crs)
        return flood.depth_from_extents(shapes, depth_m=self.depth_m, bounds=area.bounds,
                                        resolution_m=self.resolution_m, crs=twin.crs)
