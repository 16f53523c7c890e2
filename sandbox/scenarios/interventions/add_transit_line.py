"""add_transit_line: a new line in the timetable (its trips change travel times by transit); new stops become
destinations too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import shapely
from pydantic import Field, field_validator, model_validator

from ... import timetable as tt
from ..._errors import DataError
from ...twin import Twin
from ..fields import LonLat, Model, lonlat
from .add_transit_stop import stage_stops
from .base import Context, Resolution, Unit, no_timetable, outside_twin, register, to_twin

# In-vehicle speeds (km/h, stops included) when neither run_times_min nor speed_km_h is given.
SPEEDS_KM_H = {"tram": 15.0, "bus": 18.0, "metro": 35.0, "rail": 45.0, "ferry": 15.0}
SERVICE_DAY = ("05:00", "24:00")  # headway_min alone: this span, every headway_min


class LineStop(Model):
    """A stop of a new line: a new one (``at`` and ``name``) or an existing timetable stop (``stop``: its
    stop_id or name)."""

    at: LonLat | None = None
    name: str | None = None
    stop: str | None = None

    @field_validator("at")
    @classmethod
    def _check_at(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if value is None else lonlat(value)

    @model_validator(mode="after")
    def _one_kind(self) -> LineStop:
        if (self.stop is None) == (self.at is None):
            raise ValueError("give either at (with name) for a new stop or stop for an existing one")
        if self.at is not None and not self.name:
            raise ValueError("a new stop needs a name")
        return self


class Headway(Model):
    """Departures every ``every_min`` minutes from ``start`` to ``end`` (HH:MM, end up to 30:00)."""

    start: str = Field(pattern=r"^([01]?\d|2\d|30):[0-5]\d$")
    end: str = Field(pattern=r"^([01]?\d|2\d|30):[0-5]\d$")
    every_min: float = Field(gt=0, le=240)

    @model_validator(mode="after")
    def _ordered(self) -> Headway:
        if _seconds(self.end) <= _seconds(self.start):
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


def _seconds(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@dataclass
class Line(Resolution):
    points: list[shapely.Point] = field(default_factory=list)  # the new stops, twin CRS
    timetable: tt.Timetable | None = None  # the twin's timetable with the line


@register
class AddTransitLine(Unit):
    """A new line in the timetable (stops new or existing, headway all day or by time of day, run times or speed).

    Its ``stops`` are new points (``at``, ``name``) or existing stops (``stop``); ``headway_min`` (05:00-24:00) or
    ``headways`` by time of day; ``run_times_min`` or ``speed_km_h``. Its trips change transit travel times. Both
    directions run unless ``both_directions`` is false; without run times or a speed, the mode's usual speed
    (tram 15, bus 18, metro 35, rail 45, ferry 15 km/h) over the straight line between stops times 1.3.
    """

    type: Literal["add_transit_line"]
    name: str
    mode: Literal["tram", "bus", "metro", "rail", "ferry"] = "tram"
    stops: list[LineStop] = Field(min_length=2, max_length=200)
    headway_min: float | None = Field(default=None, gt=0, le=240)
    headways: list[Headway] | None = Field(default=None, min_length=1, max_length=48)
    run_times_min: list[float] | None = None
    speed_km_h: float | None = Field(default=None, gt=0, le=300)
    dwell_s: float = Field(default=20.0, ge=0, le=600)
    both_directions: bool = True

    @model_validator(mode="after")
    def _complete(self) -> AddTransitLine:
        if (self.headway_min is None) == (self.headways is None):
            raise ValueError("give exactly one of headway_min (all day) or headways (by time of day)")
        if self.run_times_min is not None and self.speed_km_h is not None:
            raise ValueError("give run_times_min or speed_km_h, not both")
        if self.run_times_min is not None and (len(self.run_times_min) != len(self.stops) - 1
                                               or any(not 0 < t <= 600 for t in self.run_times_min)):
            raise ValueError(f"run_times_min needs {len(self.stops) - 1} times between 0 and 600 minutes, one per "
                             "pair of consecutive stops")
        return self

    def periods(self) -> list[tuple[float, float, float]]:
        """(start_s, end_s, headway_s) of each period of service."""
        if self.headways is None:
            start, end = SERVICE_DAY
            return [(_seconds(start), _seconds(end), self.headway_min * 60)]
        return [(_seconds(h.start), _seconds(h.end), h.every_min * 60) for h in self.headways]

    def resolve(self, twin: Twin, ctx: Context) -> Line:
        out = Line()
        if problem := no_timetable(twin):
            out.problems.append(problem)
            return out
        stops: list[int | tuple[float, float, str]] = []
        for i, stop in enumerate(self.stops):
            if stop.stop is not None:
                try:
                    found = tt.stop_indices(twin.timetable, [stop.stop], f"stops[{i}].stop")
                except DataError as exc:
                    out.problems.append(str(exc))
                    continue
                stops.append(int(found[0]))
            else:
                point = to_twin(shapely.Point(stop.at), twin)
                if problem := outside_twin(point, twin):
                    out.problems.append(f"stops[{i}] ({stop.name}) {problem}")
                out.points.append(point)
                stops.append((stop.at[0], stop.at[1], stop.name))
        if out.problems:
            return out
        out.timetable = tt.add_line(
            twin.timetable, name=self.name, mode=self.mode, stops=stops, headways=self.periods(),
            run_times_s=None if self.run_times_min is None else [t * 60 for t in self.run_times_min],
            speed_km_h=None if self.run_times_min is not None else self.speed_km_h or SPEEDS_KM_H[self.mode],
            dwell_s=self.dwell_s, both_directions=self.both_directions)
        route = tt.route_indices(out.timetable, [f"new:{self.name}"], "name")
        patterns = tt.route_patterns(out.timetable, route)
        peak = tt.trips_between(out.timetable, patterns, 7 * 3600, 9 * 3600)
        first, last = min(p[0] for p in self.periods()), max(p[1] for p in self.periods())
        out.notes.append(f"add_transit_line: {self.mode} line '{self.name}': {len(self.stops)} stops "
                         f"({len(out.points)} new), {tt.trips_between(out.timetable, patterns, first, last)} trips "
                         f"a day, {peak} between 07:00 and 09:00"
                         f"{' (both directions)' if self.both_directions else ''}")
        out.counts["stops_added"] = len(out.points)
        return out

    def apply(self, twin: Twin, resolution: Line, ctx: Context) -> Twin:
        new = [stop.name for stop in self.stops if stop.at is not None]
        stage_stops(twin, ctx, new, resolution.points, mode=self.mode, line=self.name)
        return ctx.build(twin).replace(timetable=resolution.timetable)
