"""add_facility: a new facility of a kind at a point."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import shapely
from pydantic import Field, field_validator

from ...access import FACILITY_KIND_NAMES
from ...layers import FACILITY_KINDS
from ...twin import Twin
from ..fields import LonLat, lonlat
from .base import Context, Resolution, Unit, outside_twin, register, to_twin


@dataclass
class Facility(Resolution):
    point: shapely.Point | None = None  # in the twin's CRS


@register
class AddFacility(Unit):
    """A new facility of a ``kind`` (care, grocery, school, elderly_centre, ...) at a point.

    An unknown kind is a problem with a did-you-mean (a typo would otherwise count for nothing in ``to:``);
    ``new_kind: true`` adds a kind on purpose.
    """

    type: Literal["add_facility"]
    kind: str
    at: LonLat
    name: str = "new facility"
    capacity: float = Field(default=1.0, gt=0)
    new_kind: bool = False

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float]) -> tuple[float, float]:
        return lonlat(value)

    def resolve(self, twin: Twin, ctx: Context) -> Facility:
        out = Facility(point=to_twin(shapely.Point(self.at), twin))
        in_twin = ctx.values(twin, "facilities", "kind") | ctx.values(ctx.baseline, "facilities", "kind")
        known = in_twin | set(FACILITY_KIND_NAMES)
        if self.kind not in known and not self.new_kind:
            out.problems.append(f"kind: unknown '{self.kind}'; {_did_you_mean(self.kind, known)}")
        if problem := outside_twin(out.point, twin):
            out.problems.append(f"at {problem}")
        if out.problems:
            return out
        out.notes.append(f"add_facility: {self.kind} '{self.name}' (capacity {self.capacity:g})")
        if self.kind not in known:
            out.notes.append(f"add_facility: kind '{self.kind}' is new (new_kind: true); indicators reach it "
                             f"with to: {self.kind}")
        elif self.kind not in ctx.values(twin, "facilities", "kind"):
            out.notes.append(f"add_facility: kind '{self.kind}' is new to this twin")
        out.counts["facilities_added"] = 1
        return out

    reads = frozenset()  # the facilities' kinds, through ctx.values (which sees those staged)

    def stage(self, twin: Twin, resolution: Facility, ctx: Context) -> bool:
        ctx.stage(twin, "facilities", {"osm_id": -1, "name": self.name, "kind": self.kind, "category": self.kind,
                                       "capacity": self.capacity}, resolution.point)
        return True

    def apply(self, twin: Twin, resolution: Facility, ctx: Context) -> Twin:
        self.stage(twin, resolution, ctx)
        return ctx.build(twin)


def _did_you_mean(kind: str, known: set[str]) -> str:
    """The likeliest kind meant: the same word in other case or spacing, the kind an OSM tag value stands for
    (clinic -> care), or the closest spelling; else the list of kinds."""
    on_purpose = "add new_kind: true to add a kind on purpose"
    word = kind.strip().casefold().replace(" ", "_").replace("-", "_")
    tags = {value: meant for (_, value), meant in FACILITY_KINDS.items() if meant in known}
    if word in known:
        return f"did you mean '{word}'? ({on_purpose})"
    if word in tags:
        return f"did you mean '{tags[word]}'? (OSM's {word} counts as {tags[word]}; {on_purpose})"
    close = difflib.get_close_matches(word, sorted(known | set(tags)), n=1, cutoff=0.5)
    if close:
        return f"did you mean '{tags.get(close[0], close[0])}'? ({on_purpose})"
    return f"expected one of {', '.join(sorted(known))} (or {on_purpose})"
