"""change_service: routes run more or less often, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from ... import timetable as tt
from ..._errors import DataError
from ...twin import Twin
from .base import Context, Resolution, Unit, no_timetable, register


@dataclass
class Service(Resolution):
    timetable: tt.Timetable | None = None  # the twin's timetable with the change


@register
class ChangeService(Unit):
    """Routes (ids or names) run more or less often (headway_factor, headway_min) or not at all (remove).

    ``headway_factor`` 2 doubles the headway (half the trips), 0.5 halves it; ``headway_min`` sets it from the
    route's first trip to its last; ``remove: true`` takes every trip away. Run times stay as they were."""

    type: Literal["change_service"]
    name: str = "service change"
    routes: list[str] = Field(min_length=1, max_length=500)
    headway_factor: float | None = Field(default=None, gt=0, le=10)
    headway_min: float | None = Field(default=None, gt=0, le=240)
    remove: bool = False

    @model_validator(mode="after")
    def _one_change(self) -> ChangeService:
        if (self.headway_factor is not None) + (self.headway_min is not None) + self.remove != 1:
            raise ValueError("give exactly one of headway_factor, headway_min or remove: true")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Service:
        out = Service()
        if problem := no_timetable(twin):
            out.problems.append(problem)
            return out
        try:
            routes = tt.route_indices(twin.timetable, self.routes, "routes")
        except DataError as exc:
            out.problems.append(str(exc))
            return out
        out.timetable = tt.change_service(twin.timetable, routes, headway_factor=self.headway_factor,
                                          headway_s=None if self.headway_min is None else self.headway_min * 60,
                                          remove=self.remove)
        before = tt.trips_between(twin.timetable, tt.route_patterns(twin.timetable, routes), 0, 48 * 3600)
        after = tt.trips_between(out.timetable, tt.route_patterns(out.timetable, routes), 0, 48 * 3600)
        how = ("removed" if self.remove else f"headway x{self.headway_factor:g}" if self.headway_factor
               else f"every {self.headway_min:g} min")
        names = ", ".join(sorted({str(twin.timetable.route_names[r]) for r in routes}))
        out.notes.append(f"change_service: '{self.name}': routes {names} ({how}): {before:,} trips a day -> {after:,}")
        out.counts["trips_removed"] = max(before - after, 0)
        return out

    def apply(self, twin: Twin, resolution: Service, ctx: Context) -> Twin:
        return twin.replace(timetable=resolution.timetable)
