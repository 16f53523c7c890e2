"""age_population: the same households, older."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import Field, StrictInt

from ...population import ELDERLY_AGE
from ...privacy import people, small
from ...twin import Twin
from .base import Context, Resolution, Unit, households_of, register


@dataclass
class Aged(Resolution):
    households: pd.DataFrame | None = None  # the group columns recomputed from the older ages


@register
class AgePopulation(Unit):
    """The same households, ``years`` older (no births, deaths or moves)."""

    type: Literal["age_population"]
    years: StrictInt = Field(ge=1, le=50)

    def resolve(self, twin: Twin, ctx: Context) -> Aged:
        ages = [[int(a) + self.years for a in text.split()] for text in twin.households["ages"]]
        aged = households_of(ages).set_index(twin.households.index)
        before, after = int(twin.households["n_elderly"].sum()), int(aged["n_elderly"].sum())
        today = int(ctx.baseline.households["n_elderly"].sum())  # published by `sandbox info`
        return Aged(notes=[f"age_population: everyone {self.years} years older; residents aged {ELDERLY_AGE}+ "
                           f"{_shown(before, [today], ctx.k)} -> {_shown(after, [before, today], ctx.k)}"],
                    counts={"years": self.years}, households=aged)

    def apply(self, twin: Twin, resolution: Aged, ctx: Context) -> Twin:
        households = twin.households.copy()
        households[resolution.households.columns] = resolution.households
        return twin.replace(households=households)


def _shown(count: int, published: list[int], k: int) -> str:
    """A count of residents as the note says it: "fewer than k" when small, and "hidden" when it differs from a
    published count (the twin's today, the note's before) by 1 to k - 1 people, who would otherwise be singled out
    as those who turned 65 (or moved) in between."""
    if any(small(count - other, k) for other in published):
        return "hidden"
    return people(count, k)
