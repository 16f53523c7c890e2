"""add_facility: a new facility of a kind at a point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import shapely
from pydantic import Field, field_validator

from ...twin import Twin
from ..fields import LonLat, lonlat
from .base import Context, Resolution, Unit, append_rows, outside_twin, register, to_twin


@dataclass
class Facility(Resolution):
    point: shapely.Point | None = None  # in the twin's CRS


@register
class AddFacility(Unit):
    """A new facility of a ``kind`` (care, grocery, school, elderly_centre, ...) at a point."""

    type: Literal["add_facility"]
    kind: str
    at: LonLat
    name: str = "new facility"
    capacity: float = Field(default=1.0, gt=0)

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float]) -> tuple[float, float]:
        return lonlat(value)

    def resolve(self, twin: Twin, ctx: Context) -> Facility:
        out = Facility(point=to_twin(shapely.Point(self.at), twin))
        if problem := outside_twin(out.point, twin):
            out.problems.append(f"at {problem}")
            return out
        out.notes.append(f"add_facility: {self.kind} '{self.name}' (capacity {self.capacity:g})")
        if self.kind not in set(twin.layers["facilities"]["kind"]):
            out.notes.append(f"add_facility: kind '{self.kind}' is new to this twin")
        out.counts["facilities_added"] = 1
        return out

    def apply(self, twin: Twin, resolution: Facility, ctx: Context) -> Twin:
        facilities = append_rows(twin.layers["facilities"], {
            "osm_id": [-1], "name": [self.name], "kind": [self.kind], "category": [self.kind],
            "capacity": [self.capacity]}, [resolution.point], start=ctx.next_id(twin, "facilities"))
        return twin.with_layer("facilities", facilities)
