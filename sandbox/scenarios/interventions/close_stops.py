"""close_stops: stops out of service (trips pass them by); as destinations they are gone too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ... import timetable as tt
from ..._errors import DataError
from ...twin import Twin
from ..fields import Located
from .base import Context, Resolution, Unit, no_timetable, outside_twin, register, stops_inside, to_twin


@dataclass
class ClosedStops(Resolution):
    stops: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # timetable stop indices
    features: list[int] = field(default_factory=list)  # transit_stops layer ids


@register
class CloseStops(Located, Unit):
    """Stops out of service (by stop ids or names, or an area): trips pass them by.

    They also leave the transit_stops destinations (those of the same name, or inside the area)."""

    type: Literal["close_stops"]
    name: str = "stops closed"
    stops: list[str] | None = Field(default=None, min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _complete(self) -> CloseStops:
        if self.place_count() + (self.stops is not None) != 1:
            raise ValueError("give exactly one of stops, area or area_file")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> ClosedStops:
        out = ClosedStops()
        if problem := no_timetable(twin):
            out.problems.append(problem)
            return out
        layer = twin.layers["transit_stops"]
        if self.stops is not None:
            try:
                out.stops = tt.stop_indices(twin.timetable, self.stops, "stops")
            except DataError as exc:
                out.problems.append(str(exc))
                return out
            names = {str(twin.timetable.stop_names[s]).casefold() for s in out.stops}
            out.features = layer.index[layer["name"].astype(str).str.casefold().isin(names)].tolist()
        else:
            area = to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin)
            if problem := outside_twin(area, twin):
                out.problems.append(f"area {problem}")
                return out
            out.stops = stops_inside(twin, area)
            out.features = layer.index[layer.within(area)].tolist()
            if not len(out.stops):
                out.problems.append("area: no timetable stop inside it; expected an area around stops to close")
                return out
        names = sorted({str(twin.timetable.stop_names[s]) for s in out.stops})
        out.notes.append(f"close_stops: '{self.name}': {len(out.stops)} stops out of service "
                         f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
        out.counts["stops_closed"] = int(len(out.stops))
        return out

    def apply(self, twin: Twin, resolution: ClosedStops, ctx: Context) -> Twin:
        layer = twin.layers["transit_stops"].drop(index=resolution.features)
        return twin.replace(timetable=tt.close_stops(twin.timetable, resolution.stops),
                            layers={**twin.layers, "transit_stops": layer})
