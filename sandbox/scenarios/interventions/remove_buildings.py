"""remove_buildings: demolition; the households living there are displaced and counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
from pydantic import Field, StrictInt, model_validator

from ...privacy import people
from ...twin import Twin
from ..fields import Located
from .base import Context, Resolution, Unit, household_counts, outside_twin, pick, register, to_twin


@dataclass
class Demolition(Resolution):
    ids: list[int] = field(default_factory=list)
    displaced: pd.Index | None = None  # the households that lived there


@register
class RemoveBuildings(Located, Unit):
    """Demolition: buildings in ``area`` or with the given ``ids``; the households living there are displaced."""

    type: Literal["remove_buildings"]
    ids: list[StrictInt] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> RemoveBuildings:
        if self.place_count() + (self.ids is not None) != 1:
            raise ValueError("give exactly one of area, area_file or ids")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Demolition:
        ids, problems = self._chosen(twin, ctx)
        households = twin.households[twin.households["building_id"].isin(ids)]
        out = Demolition(problems=problems, buildings=set(ids), ids=ids, displaced=households.index)
        if ids:
            displaced = household_counts(households)
            out.counts = {**{f"displaced_{k}": v for k, v in displaced.items()}, "buildings_removed": len(ids)}
            out.notes.append(f"remove_buildings: {len(ids)} building(s); {people(displaced['households'], ctx.k)} "
                             f"households ({people(displaced['residents'], ctx.k)} residents, "
                             f"{people(displaced['with_elderly'], ctx.k)} with elderly) are displaced")
        return out

    def apply(self, twin: Twin, resolution: Demolition, ctx: Context) -> Twin:
        buildings = twin.layers["buildings"].drop(index=resolution.ids)
        return twin.with_layer("buildings", buildings).replace(
            households=twin.households.drop(index=resolution.displaced))

    def _chosen(self, twin: Twin, ctx: Context) -> tuple[list[int], list[str]]:
        buildings = twin.layers["buildings"]
        if self.ids is not None:
            return pick(buildings, self.ids, None, "building")
        area = to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin)
        if problem := outside_twin(area, twin):
            return [], [f"area {problem}"]
        inside = buildings.representative_point().within(area)
        if not inside.any():
            return [], ["area: no building stands in the area; expected an area around the buildings to remove"]
        return buildings.index[inside].tolist(), []
