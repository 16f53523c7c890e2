"""close_facility: facilities closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, StrictInt, model_validator

from ...twin import Twin
from .base import Context, Resolution, Unit, pick, register


@dataclass
class Closure(Resolution):
    ids: list[int] = field(default_factory=list)


@register
class CloseFacility(Unit):
    """Facilities closed, by ``ids`` (facility_id) or ``names``."""

    type: Literal["close_facility"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)
    names: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> CloseFacility:
        if (self.ids is None) == (self.names is None):
            raise ValueError("give exactly one of ids or names")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Closure:
        facilities = twin.layers["facilities"]
        ids, problems = pick(facilities, self.ids, self.names, "facility")
        out = Closure(problems=problems, ids=ids)
        if ids:
            listed = ", ".join(f"{n or 'unnamed'} ({k})" for n, k in
                               zip(facilities.loc[ids, "name"], facilities.loc[ids, "kind"]))
            out.notes.append(f"close_facility: {listed}")
            out.counts["facilities_closed"] = len(ids)
        return out

    def apply(self, twin: Twin, resolution: Closure, ctx: Context) -> Twin:
        return twin.with_layer("facilities", twin.layers["facilities"].drop(index=resolution.ids))
