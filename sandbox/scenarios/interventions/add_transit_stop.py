"""add_transit_stop: a new stop, e.g. a tram stop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import shapely
from pydantic import Field, field_validator

from ...twin import Twin
from ..fields import LonLat, Model, lonlat
from .base import Context, Resolution, Unit, append_rows, outside_twin, register, to_twin


class StopSpec(Model):
    """A stop of a new line: where it is and its name."""

    at: LonLat
    name: str

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float]) -> tuple[float, float]:
        return lonlat(value)


@dataclass
class Stops(Resolution):
    points: list[shapely.Point] = field(default_factory=list)  # in the twin's CRS


@register
class AddTransitStop(StopSpec, Unit):
    """A new stop, e.g. a tram stop, with an optional headway (minutes between departures)."""

    type: Literal["add_transit_stop"]
    mode: str = "tram"
    headway_min: float | None = Field(default=None, gt=0)

    def resolve(self, twin: Twin, ctx: Context) -> Stops:
        out = Stops(points=[to_twin(shapely.Point(self.at), twin)])
        if problem := outside_twin(out.points[0], twin):
            out.problems.append(f"at {problem}")
        else:
            out.notes.append(f"add_transit_stop: {self.mode} stop '{self.name}'")
            out.counts["stops_added"] = 1
        return out

    def apply(self, twin: Twin, resolution: Stops, ctx: Context) -> Twin:
        return add_stops(twin, [self.name], resolution.points, mode=self.mode, headway=self.headway_min, line=None,
                         start=ctx.next_id(twin, "transit_stops"))


def add_stops(twin: Twin, names: list[str], points: list[shapely.Point], *, mode: str, headway: float | None,
              line: str | None, start: int) -> Twin:
    """The twin with new transit stops (twin-CRS points, ids from ``start``), each with the line's headway."""
    n = len(points)
    layer = append_rows(twin.layers["transit_stops"], {
        "name": names, "mode": [mode] * n, "osm_ids": [""] * n,
        "headway_min": [np.nan if headway is None else float(headway)] * n, "line": [line] * n}, points, start=start)
    layer["headway_min"] = layer["headway_min"].astype(float)
    return twin.with_layer("transit_stops", layer)
