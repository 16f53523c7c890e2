"""close_streets: streets closed or slowed for some modes; a weight on the network, not a rebuilt graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import Field, StrictInt, field_validator, model_validator

from ...network import MODES, StreetNetwork
from ...twin import Twin
from ..fields import LINES, Located, StreetMode, parse_geojson
from ... import timetable
from .base import Context, Resolution, Unit, outside_twin, register, stops_inside, to_twin


@dataclass
class Streets(Resolution):
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # per mode, one per edge in the network's order
    stops: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # timetable stops inside the closure


@register
class CloseStreets(Located, Unit):
    """Streets closed (or slowed to a share of their speed) in ``area``, along a ``line`` or by ``osm_ids``.

    For the ``modes`` given; a weight on the network, not a rebuilt graph. When walking is closed in an area (or
    along a line), the transit stops inside it are out of service too.
    """

    type: Literal["close_streets"]
    name: str = "street closure"
    line: dict[str, Any] | None = None
    buffer_m: float = Field(default=15.0, gt=0, le=1000)
    osm_ids: list[StrictInt] | None = Field(default=None, min_length=1)
    modes: list[StreetMode] = Field(default_factory=lambda: list(MODES), min_length=1)
    speed_factor: float | None = Field(default=None, gt=0, le=1)

    @field_validator("line")
    @classmethod
    def _check_line(cls, value: dict | None) -> dict | None:
        if value is not None:
            parse_geojson(value, kinds=LINES)
        return value

    @model_validator(mode="after")
    def _complete(self) -> CloseStreets:
        if self.place_count() + (self.line is not None) + (self.osm_ids is not None) != 1:
            raise ValueError("give exactly one of area, area_file, line or osm_ids")
        return self

    def line_shape(self) -> shapely.Geometry | None:
        """The ``line`` in lon/lat."""
        return None if self.line is None else parse_geojson(self.line, kinds=LINES)

    def resolve(self, twin: Twin, ctx: Context) -> Streets:
        out = Streets()
        shape = None
        if self.osm_ids is None:
            drawn = self.line_shape() if self.line is not None else self.shape(ctx.base_dir, ctx.allow_paths)
            shape = to_twin(drawn, twin)
            if problem := outside_twin(shape, twin):
                out.problems.append(f"{'line' if self.line is not None else 'area'} {problem}")
                return out
            if self.line is not None:
                shape = shape.buffer(self.buffer_m)
        how = "closed" if self.speed_factor is None else f"slowed to {self.speed_factor:.0%} of normal speed"
        for mode in self.modes:
            flags = edge_flags(twin.networks[mode], shape, self.osm_ids)
            out.flags[mode] = flags
            out.counts[f"{mode}_edges_affected"] = int(flags.sum())
            if not flags.any():
                out.problems.append(f"modes: no {mode} street in the closure; expected streets to close")
            else:
                out.notes.append(f"close_streets: '{self.name}': {int(flags.sum()):,} of {len(flags):,} {mode} "
                                 f"edges {how}")
        if shape is not None and twin.timetable is not None and "walk" in self.modes and self.speed_factor is None:
            out.stops = stops_inside(twin, shape)
            if len(out.stops):
                out.notes.append(f"close_streets: '{self.name}': {len(out.stops)} transit stops inside are out of "
                                 "service")
        return out

    reads = frozenset()  # the street networks, which no intervention changes (closures are edge factors)

    def stage(self, twin: Twin, resolution: Streets, ctx: Context) -> bool:
        if len(resolution.stops):
            return False  # the timetable changes too: apply
        self._stage_factors(twin, resolution, ctx)
        return True

    def apply(self, twin: Twin, resolution: Streets, ctx: Context) -> Twin:
        self._stage_factors(twin, resolution, ctx)
        twin = ctx.build(twin)
        return twin.replace(timetable=timetable.close_stops(twin.timetable, resolution.stops)) if len(resolution.stops) else twin

    def _stage_factors(self, twin: Twin, resolution: Streets, ctx: Context) -> None:
        multiplier = np.inf if self.speed_factor is None else 1.0 / self.speed_factor
        for mode, flags in resolution.flags.items():
            ctx.stage_factors(twin, mode, np.where(flags, multiplier, 1.0))


def edge_flags(net: StreetNetwork, shape: shapely.Geometry | None, osm_ids: list[int] | None) -> np.ndarray:
    """Flags of the network's edges (in its order) that a closure covers: by OSM id, or with half their length
    (at most 20 m) inside ``shape`` (twin CRS), so streets that merely touch it at a corner stay open."""
    if osm_ids is not None:
        return np.isin(net.osmids, np.asarray(osm_ids, dtype="int64"))
    needed = np.minimum(0.5 * net.length_m, 20.0)  # the lines' lengths, kept with the network
    flags = needed <= 0  # an edge of no length is covered wherever the closure is (as it always was)
    near = net.tree.query(shape)  # the others: only those whose boxes meet the closure's can be inside it
    inside = shapely.length(shapely.intersection(net.geometry[near], shape))
    flags[near] = inside >= needed[near]
    return flags
