"""remove_park: parks lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, StrictInt, model_validator

from ...twin import Twin
from ..fields import Located
from .base import Context, Resolution, Unit, pick, register, to_twin


@dataclass
class Parks(Resolution):
    ids: list[int] = field(default_factory=list)


@register
class RemovePark(Located, Unit):
    """Parks lost: by ``ids``, ``names``, or those mostly inside ``area``."""

    type: Literal["remove_park"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)
    names: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> RemovePark:
        if self.place_count() + (self.ids is not None) + (self.names is not None) != 1:
            raise ValueError("give exactly one of area, area_file, ids or names")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Parks:
        ids, problems = self._chosen(twin, ctx)
        out = Parks(problems=problems, ids=ids)
        if ids:
            names = twin.layers["parks"].loc[ids, "name"].fillna("unnamed").tolist()
            out.notes.append(f"remove_park: {len(ids)} park(s): {', '.join(names)}")
            out.counts["parks_removed"] = len(ids)
        return out

    def apply(self, twin: Twin, resolution: Parks, ctx: Context) -> Twin:
        return twin.with_layer("parks", twin.layers["parks"].drop(index=resolution.ids))

    def _chosen(self, twin: Twin, ctx: Context) -> tuple[list[int], list[str]]:
        parks = twin.layers["parks"]
        if self.ids is not None or self.names is not None:
            return pick(parks, self.ids, self.names, "park")
        area = to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin)
        mostly_inside = parks.intersection(area).area > 0.5 * parks.area
        if not mostly_inside.any():
            return [], ["area: no park lies mostly inside the area; expected an area around the parks to remove"]
        return parks.index[mostly_inside].tolist(), []
