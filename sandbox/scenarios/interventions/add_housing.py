"""add_housing: a new residential building with synthetic households of a chosen composition."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely
from pydantic import Field, StrictInt, model_validator

from ...features import building_kinds
from ...population import ADULT_AGE, ELDERLY_AGE
from ...privacy import complete, people, small
from ...twin import Twin
from ..fields import LonLat, Located, lonlat
from .base import Context, Resolution, Unit, household_counts, households_of, outside_twin, register, to_twin

FLOOR_AREA_PER_HOUSEHOLD_M2 = 60.0  # assumption: about the mean dwelling size in Helsinki
MAX_HOUSEHOLDS = 100_000  # per add_housing: a large new district; floor_area_m2 is held to the same cap
Kind = Literal["elderly_alone", "elderly_couple", "family", "other"]


@dataclass
class Housing(Resolution):
    footprint: shapely.Geometry | None = None
    floor_area_m2: float = 0.0
    households: pd.DataFrame | None = None  # the new households, without their home


@register
class AddHousing(Located, Unit):
    """A new residential building with synthetic households (60 m2 of floor per household).

    Placed on ``area``/``area_file`` or as a square building at ``at``; sized by ``households`` or
    ``floor_area_m2``.
    """

    type: Literal["add_housing"]
    name: str = "new housing"
    at: LonLat | None = None
    households: StrictInt | None = Field(default=None, gt=0, le=MAX_HOUSEHOLDS)
    floor_area_m2: float | None = Field(default=None, gt=0)
    levels: StrictInt = Field(default=4, ge=1, le=100)
    composition: dict[Kind, float] = Field(default_factory=lambda: {"other": 1.0})

    @model_validator(mode="after")
    def _complete(self) -> AddHousing:
        if self.place_count() + (self.at is not None) != 1:
            raise ValueError("give exactly one of area, area_file or at")
        if (self.households is None) == (self.floor_area_m2 is None):
            raise ValueError("give exactly one of households or floor_area_m2")
        if self.floor_area_m2 is not None and self.floor_area_m2 / FLOOR_AREA_PER_HOUSEHOLD_M2 > MAX_HOUSEHOLDS:
            most = MAX_HOUSEHOLDS * FLOOR_AREA_PER_HOUSEHOLD_M2
            raise ValueError(f"floor_area_m2 {self.floor_area_m2:,.0f} makes "
                             f"{self.floor_area_m2 / FLOOR_AREA_PER_HOUSEHOLD_M2:,.0f} households of "
                             f"{FLOOR_AREA_PER_HOUSEHOLD_M2:g} m2; expected at most {most:,.0f} m2, the cap of "
                             f"{MAX_HOUSEHOLDS:,} households per add_housing (split a larger development into "
                             "several add_housing)")
        if self.at is not None:
            lonlat(self.at)
        total = sum(self.composition.values())
        if any(v < 0 for v in self.composition.values()) or abs(total - 1) > 0.01:
            raise ValueError(f"composition shares sum to {total:g}; expected shares >= 0 that sum to 1")
        return self

    def resolve(self, twin: Twin, ctx: Context) -> Housing:
        footprint = self._footprint(twin, ctx)
        out = Housing(footprint=footprint)
        if problem := outside_twin(footprint, twin):
            out.problems.append(f"area {problem}")
            return out
        overlapped = ctx.overlaps(twin, "buildings", footprint, more_than_m2=1.0)
        out.buildings.update(overlapped)
        out.floor_area_m2 = self.floor_area_m2 or footprint.area * self.levels
        kinds = self._kinds(out.floor_area_m2)
        out.households = households_of([ages for kind, n in kinds.items() for ages in _ages(kind, n, ctx.rng)])
        out.counts = {f"added_{k}": v for k, v in household_counts(out.households).items()}
        out.notes.append(f"add_housing: {people(sum(kinds.values()), ctx.k)} households ({_mix(kinds, ctx.k)}) in "
                         f"'{self.name}', "
                         f"{self.levels} storeys on {footprint.area:,.0f} m2")
        if overlapped:
            out.warnings.append(self._overlap_warning(twin, overlapped, ctx))
        return out

    def _overlap_warning(self, twin: Twin, overlapped: list[int], ctx: Context) -> str:
        """A new building over ones that stay (an earlier remove_buildings would have taken them away): which ones
        and the homes in them, since the variant would then stack new homes on standing ones."""
        shown = overlapped[:10]
        staged = {i: row for i in shown if (row := ctx.staged_row("buildings", i)) is not None}
        kinds = ctx.derived("kinds:buildings", twin.layers["buildings"], building_kinds)  # as `sandbox layers`
        tags = {i: kinds[i] for i in shown if i not in staged}
        tags.update({i: _kind(row["building"], row["residential"]) for i, row in staged.items()})  # new ones
        homes = ctx.homes(twin, shown)

        def described(i: int) -> str:
            n = homes[i]
            count = people(n, ctx.k)
            return f"{i} ({tags[i]}, {count} household{'s' * (count != '1')})" if n else f"{i} ({tags[i]})"

        more = f" and {len(overlapped) - 10} more" if len(overlapped) > 10 else ""
        field = "at" if self.at is not None else "area_file" if self.area_file is not None else "area"
        return (f"{field}: the site of '{self.name}' overlaps {len(overlapped)} building(s) that stay: "
                f"{', '.join(map(described, shown))}{more}; expected a free site, or remove_buildings with "
                f"ids: [{', '.join(map(str, shown))}] before it")

    reads = frozenset()  # buildings and households, through ctx.overlaps, rows and homes (which see those staged)

    def stage(self, twin: Twin, resolution: Housing, ctx: Context) -> bool:
        footprint = resolution.footprint
        zone = ctx.zone_of(twin, footprint)
        building_id = ctx.stage(twin, "buildings", {
            "osm_id": -1, "building": "apartments", "name": self.name, "levels": float(self.levels),
            "levels_source": "scenario", "residential": True, "footprint_m2": footprint.area,
            "floor_area_m2": resolution.floor_area_m2, "zone_id": zone}, footprint, dtypes={"zone_id": "int64"})
        point = footprint.representative_point()
        ctx.stage_households(twin, resolution.households, building_id=building_id, x=point.x, y=point.y,
                             zone_id=zone)
        return True

    def apply(self, twin: Twin, resolution: Housing, ctx: Context) -> Twin:
        self.stage(twin, resolution, ctx)
        return ctx.build(twin)

    def _footprint(self, twin: Twin, ctx: Context) -> shapely.Geometry:
        if self.at is None:
            return to_twin(self.shape(ctx.base_dir, ctx.allow_paths), twin)
        floor = self.floor_area_m2 or self.households * FLOOR_AREA_PER_HOUSEHOLD_M2
        side = float(np.sqrt(floor / self.levels))
        centre = to_twin(shapely.Point(self.at), twin)
        return shapely.box(centre.x - side / 2, centre.y - side / 2, centre.x + side / 2, centre.y + side / 2)

    def _kinds(self, floor_area_m2: float) -> dict[str, int]:
        """Households of each kind: the composition's shares of the total, rounded by largest remainder."""
        total = self.households or max(1, round(floor_area_m2 / FLOOR_AREA_PER_HOUSEHOLD_M2))
        kinds = list(self.composition)
        shares = np.array([self.composition[k] for k in kinds]) * total
        whole = np.floor(shares).astype(int)
        whole[np.argsort(-(shares - whole), kind="stable")[: total - whole.sum()]] += 1
        return dict(zip(kinds, whole.tolist()))


def _mix(kinds: dict[str, int], k: int) -> str:
    """The new households by kind, as a note says them: a count of 1 to k - 1 reads "fewer than k"; and since the
    kinds add up to the total the note gives, the smallest other count is then hidden too ("hidden"), so that no
    small one follows from the rest (:func:`sandbox.privacy.complete`)."""
    names = [name for name, n in kinds.items() if n]
    counts = np.array([[kinds[name] for name in names]], dtype=float)
    tiny = small(counts, k)
    hidden, _ = complete(tiny, [(counts, np.array([not small(counts.sum(), k)]))], k=k)
    return ", ".join(f"{people(kinds[name], k) if tiny[0, i] else 'hidden' if hidden[0, i] else f'{kinds[name]:,}'} "
                     f"{name.replace('_', ' ')}" for i, name in enumerate(names))


@functools.lru_cache(maxsize=64)
def _kind(building: str | None, residential: bool) -> str:
    """The kind of a new building (staged: not in the twin's layer yet), by the rule of ``sandbox layers``."""
    return str(building_kinds(pd.DataFrame({"building": [building], "residential": [residential]})).iloc[0])


def _ages(kind: str, n: int, rng: np.random.Generator) -> list[list[int]]:
    """Members' ages of ``n`` synthetic households of one kind."""
    out = []
    for _ in range(n):
        if kind == "elderly_alone":
            out.append([int(rng.integers(ELDERLY_AGE, 96))])
        elif kind == "elderly_couple":
            out.append([int(a) for a in rng.integers(ELDERLY_AGE, 93, size=2)])
        elif kind == "family":
            children = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
            out.append([int(a) for a in rng.integers(28, 51, size=2)] +
                       [int(a) for a in rng.integers(0, ADULT_AGE, size=children)])
        else:
            out.append([int(a) for a in rng.integers(20, 65, size=int(rng.integers(1, 3)))])
    return out

