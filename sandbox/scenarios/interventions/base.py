"""What every intervention unit shares: its base model, the resolution it hands to apply, the registry, helpers."""

from __future__ import annotations

import inspect
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...population import households_from_ages
from ...twin import Twin
from ..fields import Model


@dataclass
class Context:
    """What an intervention needs besides the twin: where relative files live, the scenario's random stream and
    the baseline twin."""

    base_dir: Path | None
    rng: np.random.Generator
    baseline: Twin

    def next_id(self, twin: Twin, layer: str) -> int:
        """The first free id of ``layer`` (a layer name or ``households``) after every id in ``twin`` and in the
        baseline: a new feature never takes the id of one the scenario removed, as comparisons match by id."""
        ids = [t.households.index if layer == "households" else t.layers[layer].index for t in (twin, self.baseline)]
        return max((int(index.max()) + 1 for index in ids if len(index)), default=0)

    def path(self, name: str) -> Path:
        """A file named in the scenario, relative to the scenario file."""
        return Path(name) if self.base_dir is None else self.base_dir / name


@dataclass
class Resolution:
    """What an intervention selects on a twin, found once: apply uses it and never selects again.

    ``notes``, ``warnings`` and ``problems`` are one line each (warnings and problems without the file:line
    prefix); a warning is something the plan can do but the planner probably did not mean (a new building over
    one that stays), a problem stops the plan. ``buildings`` are the ids it changes (two interventions changing one
    building conflict), ``counts`` its effects (e.g. displaced_households). Each unit extends it with its own
    selection (ids, footprints, edge flags, depth grids, households).
    """

    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    buildings: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)


class Unit(Model):
    """One intervention type: its fields, what it selects (resolve) and how it changes the twin (apply).

    The docstring's first line is the type's description in the README's table of interventions.
    """

    @abstractmethod
    def resolve(self, twin: Twin, ctx: Context) -> Resolution:
        """Everything this intervention selects on ``twin``, with notes, problems and effects."""

    @abstractmethod
    def apply(self, twin: Twin, resolution: Resolution, ctx: Context) -> Twin:
        """A new twin with the change made, from ``resolution`` (found on this same ``twin``)."""

    def input_files(self) -> list[str]:
        """Files it reads, relative to the scenario file (for the run's manifest)."""
        return []

    @classmethod
    def description(cls) -> str:
        """The one-line description: the first line of the docstring."""
        return inspect.cleandoc(cls.__doc__ or "").splitlines()[0]


REGISTRY: dict[str, type[Unit]] = {}


def register(cls: type[Unit]) -> type[Unit]:
    """Class decorator: makes a unit one of the scenario's intervention types, named by its ``type`` literal."""
    (kind,) = get_args(cls.model_fields["type"].annotation)
    if kind in REGISTRY:
        raise RuntimeError(f"intervention type '{kind}' is registered twice")
    REGISTRY[kind] = cls
    return cls


# --- helpers the units share ------------------------------------------------------------------------------------


def to_twin(geometry: shapely.Geometry, twin: Twin) -> shapely.Geometry:
    """A lon/lat geometry in the twin's CRS."""
    return gpd.GeoSeries([geometry], crs=4326).to_crs(twin.crs).iloc[0]


def outside_twin(geometry: shapely.Geometry, twin: Twin, *, margin_m: float = 50.0) -> str | None:
    """A problem text when a twin-CRS geometry misses the twin's extent (give or take ``margin_m``)."""
    extent = shapely.box(*twin.extent)
    if geometry.intersects(extent.buffer(margin_m, join_style="mitre")):
        return None
    left, bottom, right, top = gpd.GeoSeries([extent], crs=twin.crs).to_crs(4326).total_bounds
    return (f"lies outside the twin; expected a place within lon {left:.4f}..{right:.4f}, "
            f"lat {bottom:.4f}..{top:.4f}")


def pick(frame: pd.DataFrame, ids: list[int] | None, names: list[str] | None, what: str) -> tuple[list, list[str]]:
    """Rows chosen by index or by name, with a problem text for each that does not exist."""
    problems = []
    if ids is not None:
        missing = [i for i in ids if i not in frame.index]
        if missing:
            problems.append(f"ids: no {what} with id {', '.join(map(str, missing))}; expected ids from "
                            f"0 to {frame.index.max() if len(frame) else 'none'}")
        return [i for i in ids if i in frame.index], problems
    chosen = []
    known = frame["name"].dropna().astype(str)
    for name in names or []:
        hits = known.index[known.str.casefold() == name.casefold()].tolist()
        if not hits:
            examples = ", ".join(sorted(set(known))[:8])
            problems.append(f"names: no {what} named '{name}'; expected one of {examples}")
        chosen.extend(hits)
    return chosen, problems


def append_rows(frame: gpd.GeoDataFrame, rows: dict[str, list], geometry: list, *, start: int) -> gpd.GeoDataFrame:
    """The layer with new rows, their ids from ``start`` (see :meth:`Context.next_id`)."""
    new = gpd.GeoDataFrame(rows, geometry=geometry, crs=frame.crs,
                           index=pd.RangeIndex(start, start + len(geometry), name=frame.index.name))
    for column in frame.columns:
        if column not in new.columns:
            new[column] = None
    combined = pd.concat([frame, new[frame.columns.union(new.columns, sort=False)]])
    return gpd.GeoDataFrame(combined, geometry="geometry", crs=frame.crs)


def household_counts(households: pd.DataFrame) -> dict[str, int]:
    """Households, residents and group members, for notes and the added/displaced tallies."""
    return {"households": int(len(households)), "residents": int(households["size"].sum()),
            "with_elderly": int(households["elderly"].sum()), "elderly_alone": int(households["elderly_alone"].sum()),
            "with_children": int(households["children"].sum())}


def households_of(ages: list[list[int]]) -> pd.DataFrame:
    """The households table (without homes) of each household's members' ages, by population's one builder."""
    sizes = np.array([len(a) for a in ages], dtype=np.int64)
    flat = np.array([age for members in ages for age in members], dtype=np.int64)
    return households_from_ages(flat, np.repeat(np.arange(len(ages)), sizes))
