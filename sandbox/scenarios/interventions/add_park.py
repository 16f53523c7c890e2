"""add_park: a new park, reached where it meets the streets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import shapely
from pydantic import model_validator

from ...twin import Twin
from ..fields import Located
from .base import Context, Resolution, Unit, outside_twin, register, to_twin


@dataclass
class Park(Resolution):
    area: shapely.Geometry | None = None  # in the twin's CRS


@register
class AddPark(Located, Unit):
    """A new park on ``area``, reached where it meets the streets."""

    type: Literal["add_park"]
    name: str = "new park"

    @model_validator(mode="after")
    def _complete(self) -> AddPark:
        if self.place_count() != 1:
            raise ValueError("give exactly one of area or area_file")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Park:
        out = Park(area=to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin))
        if problem := outside_twin(out.area, twin):
            out.problems.append(f"area {problem}")
        else:
            out.notes.append(f"add_park: '{self.name}', {out.area.area:,.0f} m2")
            out.counts["parks_added"] = 1
        return out

    reads = frozenset()  # the twin's extent and CRS only

    def stage(self, twin: Twin, resolution: Park, ctx: Context) -> bool:
        area = resolution.area
        ctx.stage(twin, "parks", {"osm_id": -1, "name": self.name, "kind": "park", "area_m2": area.area}, area)
        return True

    def apply(self, twin: Twin, resolution: Park, ctx: Context) -> Twin:
        self.stage(twin, resolution, ctx)
        return ctx.build(twin)
