"""add_transit_line: a line whose stops become destinations, with their headway."""

from __future__ import annotations

from typing import Literal

import shapely
from pydantic import Field

from ...twin import Twin
from .add_transit_stop import Stops, StopSpec, stage_stops
from .base import Context, Unit, outside_twin, register, to_twin


@register
class AddTransitLine(Unit):
    """A line whose ``stops`` (each ``at`` and ``name``) become destinations, with the line's headway."""

    type: Literal["add_transit_line"]
    name: str
    mode: str = "tram"
    headway_min: float = Field(gt=0)
    stops: list[StopSpec] = Field(min_length=2)

    def resolve(self, twin: Twin, ctx: Context) -> Stops:
        out = Stops(points=[to_twin(shapely.Point(stop.at), twin) for stop in self.stops])
        for i, (stop, point) in enumerate(zip(self.stops, out.points)):
            if problem := outside_twin(point, twin):
                out.problems.append(f"stops[{i}] ({stop.name}) {problem}")
        if not out.problems:
            out.notes.append(f"add_transit_line: {self.mode} line '{self.name}', {len(self.stops)} stops, "
                             f"every {self.headway_min:g} min")
            out.counts["stops_added"] = len(self.stops)
        return out

    reads = frozenset()  # the twin's extent and CRS only

    def stage(self, twin: Twin, resolution: Stops, ctx: Context) -> bool:
        stage_stops(twin, ctx, [stop.name for stop in self.stops], resolution.points, mode=self.mode,
                    headway=self.headway_min, line=self.name)
        return True

    def apply(self, twin: Twin, resolution: Stops, ctx: Context) -> Twin:
        self.stage(twin, resolution, ctx)
        return ctx.build(twin)
