"""add_transit_stop: a new stop, e.g. a tram stop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import shapely
from pydantic import field_validator

from ...twin import Twin
from ..fields import LonLat, Model, lonlat
from .base import Context, Resolution, Unit, outside_twin, register, to_twin


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
    """A new stop as a destination (e.g. "nearest tram stop"), served by no trip: add_transit_line adds trips.

    add_transit_line may also stop at existing timetable stops."""

    type: Literal["add_transit_stop"]
    mode: str = "tram"

    def resolve(self, twin: Twin, ctx: Context) -> Stops:
        out = Stops(points=[to_twin(shapely.Point(self.at), twin)])
        if problem := outside_twin(out.points[0], twin):
            out.problems.append(f"at {problem}")
        else:
            out.notes.append(f"add_transit_stop: {self.mode} stop '{self.name}'")
            out.counts["stops_added"] = 1
        return out

    reads = frozenset()  # the twin's extent and CRS only

    def stage(self, twin: Twin, resolution: Stops, ctx: Context) -> bool:
        stage_stops(twin, ctx, [self.name], resolution.points, mode=self.mode, line=None)
        return True

    def apply(self, twin: Twin, resolution: Stops, ctx: Context) -> Twin:
        self.stage(twin, resolution, ctx)
        return ctx.build(twin)


def stage_stops(twin: Twin, ctx: Context, names: list[str], points: list[shapely.Point], *, mode: str,
                line: str | None) -> None:
    """New transit stops (twin-CRS points) staged in ``ctx`` as destinations, with their line's name."""
    for name, point in zip(names, points):
        ctx.stage(twin, "transit_stops", {"name": name, "mode": mode, "osm_ids": "", "line": line}, point)
