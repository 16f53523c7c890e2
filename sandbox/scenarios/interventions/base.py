"""What every intervention unit shares: its base model, the resolution it hands to apply, the registry, helpers."""

from __future__ import annotations

import functools
import inspect
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ...population import households_from_ages
from ...privacy import DEFAULT_K
from ...transit import stop_points
from ...twin import Twin
from ..fields import Model, input_file


class _Grid:
    """A spatial index that grows one geometry at a time (shapely's STRtree cannot): bounding boxes on a grid of
    ``cell_m`` squares; geometries covering many cells are checked on every query."""

    def __init__(self, cell_m: float = 100.0, most_cells: int = 64) -> None:
        self.cell_m, self.most_cells = cell_m, most_cells
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.large: list[int] = []
        self.geometries: list[shapely.Geometry] = []
        self.ids: list[int] = []

    def _cells(self, geometry: shapely.Geometry) -> list[tuple[int, int]] | None:
        left, bottom, right, top = (int(np.floor(v / self.cell_m)) for v in geometry.bounds)
        if (right - left + 1) * (top - bottom + 1) > self.most_cells:
            return None
        return [(x, y) for x in range(left, right + 1) for y in range(bottom, top + 1)]

    def add(self, id_: int, geometry: shapely.Geometry) -> None:
        position = len(self.ids)
        self.ids.append(id_)
        self.geometries.append(geometry)
        cells = self._cells(geometry)
        if cells is None:
            self.large.append(position)
        for cell in cells or []:
            self.cells.setdefault(cell, []).append(position)

    def candidates(self, geometry: shapely.Geometry) -> list[int]:
        """Positions of the geometries whose cells meet the geometry's (all of them for a very large one)."""
        cells = self._cells(geometry)
        if cells is None:
            return list(range(len(self.ids)))
        found = set(self.large)
        for cell in cells:
            found.update(self.cells.get(cell, ()))
        return sorted(found)


@dataclass
class Staged:
    """What steps of a plan added to the variant that is not in a Twin yet: rows per layer (with their ids, in
    order), households, closures' edge factors. :meth:`Context.build` joins them in one go: one concatenation
    per layer and one new Twin for many steps, where a concatenation and a Twin per step would make a scenario
    of thousands of additions check in minutes."""

    rows: dict[str, list[dict]] = field(default_factory=dict)  # per layer: {"_id", "_geometry", column: value}
    by_id: dict[tuple[str, int], dict] = field(default_factory=dict)  # (layer, id) -> its row
    dtypes: dict[str, dict[str, object]] = field(default_factory=dict)  # per layer: columns' dtypes once joined
    values: dict[tuple[str, str], tuple[int, set]] = field(default_factory=dict)  # (layer, column) -> rows seen, values
    grids: dict[str, _Grid] = field(default_factory=dict)  # per layer: the staged rows' geometries
    households: list[tuple[pd.DataFrame, int, float, float, int]] = field(default_factory=list)  # + their home
    first_household: int = 0  # the id of the first staged household (the others follow it)
    household_total: int = 0  # how many households are staged
    homes: dict[int, int] = field(default_factory=dict)  # staged households per building id
    factors: dict[str, np.ndarray] = field(default_factory=dict)  # per mode: every edge's travel-time factor

    @property
    def parts(self) -> set[str]:
        """The parts of the twin with something staged: layer names, ``households``, ``edge_factors``."""
        return {*self.rows, *(["households"] if self.households else []), *(["edge_factors"] if self.factors else [])}


@dataclass
class Context:
    """What an intervention needs besides the twin: where relative files live (and the other folders they may lie
    in), the scenario's random stream and the baseline twin; and, during a plan, what earlier steps staged (see
    :class:`Staged`, :meth:`Unit.stage`)."""

    base_dir: Path | None
    rng: np.random.Generator
    baseline: Twin
    allow_paths: tuple[Path, ...] = ()
    k: int = DEFAULT_K  # the scenario's outputs.k: notes say 1 to k - 1 people or households as "fewer than k"
    staged: Staged = field(default_factory=Staged, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)  # (what, key) -> (the object it was made for, value)

    def next_id(self, twin: Twin, layer: str) -> int:
        """The first free id of ``layer`` (a layer name or ``households``) after every id in ``twin``, in the
        baseline and staged: a new feature never takes the id of one the scenario removed, as comparisons match by
        id."""
        ids = [t.households.index if layer == "households" else t.layers[layer].index for t in (twin, self.baseline)]
        first = max((int(index.max()) + 1 for index in ids if len(index)), default=0)
        if layer == "households" and self.staged.households:
            first = max(first, self.staged.first_household + self.staged.household_total)
        elif self.staged.rows.get(layer):
            first = max(first, self.staged.rows[layer][-1]["_id"] + 1)
        return first

    def path(self, name: str, expected: str = "a file") -> Path:
        """A file named in the scenario, relative to the scenario file; ValueError (one message, whether or not
        the file exists) when it lies outside the scenario's folder and the allowed ones, symlinks followed."""
        return input_file(name, self.base_dir, self.allow_paths, expected=expected)

    # --- staging: many steps' additions joined to the twin at once ---------------------------------------------

    def stage(self, twin: Twin, layer: str, row: dict, geometry: shapely.Geometry, *,
              dtypes: dict[str, object] | None = None) -> int:
        """Add a feature to ``layer`` of the variant (``row``: its columns; ``dtypes``: what those columns must be
        once joined); its id, the next free one. :meth:`build` joins it to the twin."""
        id_ = self.next_id(twin, layer)
        row = {**row, "_id": id_, "_geometry": geometry}
        self.staged.rows.setdefault(layer, []).append(row)
        self.staged.by_id[(layer, id_)] = row
        self.staged.dtypes.setdefault(layer, {}).update(dtypes or {})
        self.staged.grids.setdefault(layer, _Grid()).add(id_, geometry)
        return id_

    def stage_households(self, twin: Twin, households: pd.DataFrame, *, building_id: int, x: float, y: float,
                         zone_id: int) -> None:
        """Add households (the twin's columns but their home) living in one building to the variant; their ids are
        the next free ones."""
        if not self.staged.households:
            self.staged.first_household = self.next_id(twin, "households")
        self.staged.households.append((households, building_id, x, y, zone_id))
        self.staged.household_total += len(households)
        self.staged.homes[building_id] = self.staged.homes.get(building_id, 0) + len(households)

    def stage_factors(self, twin: Twin, mode: str, multiplier: np.ndarray) -> None:
        """Multiply the travel-time factors of ``mode``'s edges (closures) in the variant."""
        current = self.staged.factors.get(mode)
        self.staged.factors[mode] = (twin.travel_time_factors(mode) if current is None else current) * multiplier

    def build(self, twin: Twin) -> Twin:
        """``twin`` with everything staged joined to it (one concatenation per layer), nothing staged after."""
        staged = self.staged
        if not staged.parts:
            return twin
        changes: dict = {}
        if staged.rows:
            layers = dict(twin.layers)
            for layer, rows in staged.rows.items():
                columns = list(dict.fromkeys(key for row in rows for key in row if key not in ("_id", "_geometry")))
                frame = _append(layers[layer], {c: [row.get(c) for row in rows] for c in columns},
                                [row["_geometry"] for row in rows], pd.Index([row["_id"] for row in rows]))
                for column, dtype in staged.dtypes.get(layer, {}).items():
                    frame[column] = frame[column].astype(dtype)
                layers[layer] = frame
            changes["layers"] = layers
        if staged.households:
            frames = [frame for frame, *_ in staged.households]
            sizes = [len(frame) for frame in frames]
            new = pd.concat(frames)
            for position, column in enumerate(("building_id", "x", "y", "zone_id"), start=1):
                new[column] = np.repeat([home[position] for home in staged.households], sizes)
            new.index = pd.RangeIndex(staged.first_household, staged.first_household + len(new),
                                      name=twin.households.index.name)
            changes["households"] = pd.concat([twin.households, new[twin.households.columns]])
        if staged.factors:
            changes["edge_factors"] = {**twin.edge_factors, **staged.factors}
        self.staged = Staged()
        return twin.replace(**changes)

    # --- what resolve may read of the variant so far (the twin and what is staged) -----------------------------

    def derived(self, what: str, source: Any, make: Callable[[Any], Any]) -> Any:
        """``make(source)``, made once while ``source`` (a layer, the households) stays the same object: what
        resolve derives from a whole layer costs once per plan, not once per step."""
        held = self._memo.get(what)
        if held is None or held[0] is not source:
            held = self._memo[what] = (source, make(source))
        return held[1]

    def values(self, twin: Twin, layer: str, column: str) -> set:
        """The distinct values of a layer's column in the variant so far (the twin's rows and staged ones)."""
        found = self.derived(f"values:{layer}:{column}", twin.layers[layer],
                             lambda frame: set(frame[column].dropna().unique()))
        rows = self.staged.rows.get(layer, [])
        seen, staged = self.staged.values.get((layer, column), (0, set()))
        staged |= {row.get(column) for row in rows[seen:]} - {None}  # only rows staged since the last call
        self.staged.values[(layer, column)] = (len(rows), staged)
        return found | staged

    def overlaps(self, twin: Twin, layer: str, geometry: shapely.Geometry, *, more_than_m2: float) -> list[int]:
        """Ids of the layer's features (the twin's and staged ones) that share more than ``more_than_m2`` of area
        with ``geometry``, in id order."""
        frame = twin.layers[layer]
        shapes, tree = self.derived(f"tree:{layer}", frame, _tree)
        positions = np.sort(tree.query(geometry, predicate="intersects"))
        inside = shapely.area(shapely.intersection(shapes[positions], geometry)) > more_than_m2
        ids = frame.index[positions[inside]].tolist()
        grid = self.staged.grids.get(layer)
        if grid is not None:
            for position in grid.candidates(geometry):
                shape = grid.geometries[position]
                if shape.intersects(geometry) and shape.intersection(geometry).area > more_than_m2:
                    ids.append(grid.ids[position])
        return ids

    def staged_row(self, layer: str, id_: int) -> dict | None:
        """The columns of a feature staged in ``layer`` (None for one that is not staged)."""
        row = self.staged.by_id.get((layer, id_))
        return None if row is None else {k: v for k, v in row.items() if k not in ("_id", "_geometry")}

    def homes(self, twin: Twin, ids: list[int]) -> dict[int, int]:
        """Households living in each of the buildings (the twin's and staged ones)."""
        counts = self.derived("homes", twin.households, lambda frame: frame["building_id"].value_counts().to_dict())
        return {i: int(counts.get(i, 0)) + self.staged.homes.get(i, 0) for i in ids}

    def zone_of(self, twin: Twin, geometry: shapely.Geometry) -> int:
        """The zone of a twin-CRS geometry's representative point, as :func:`sandbox.layers.assign_zones` finds
        it (the first of several on a border, -1 outside every zone)."""
        zones = twin.layers["zones"]
        _, tree = self.derived("tree:zones", zones, _tree)
        hits = tree.query(geometry.representative_point(), predicate="intersects")
        return int(zones.index[hits].min()) if len(hits) else -1


def _tree(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, shapely.STRtree]:
    """A layer's geometries (positions as in the layer) and their spatial index."""
    shapes = np.asarray(frame.geometry.values)
    return shapes, shapely.STRtree(shapes)


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

    # The parts of the twin (layer names, "households", "edge_factors") that resolve reads directly; None: any.
    # A plan joins what earlier steps staged (see stage) before resolving a step that reads a part of it; a unit
    # that reads nothing staged, or reads it through the Context (values, overlaps, staged_row, homes), lets the
    # plan join many steps' additions at once.
    reads: ClassVar[frozenset[str] | None] = None

    def stage(self, twin: Twin, resolution: Resolution, ctx: Context) -> bool:
        """Make the change as additions staged in ``ctx`` (joined by :meth:`Context.build`), if this unit can;
        False when it cannot, and :meth:`apply` makes it. A unit that stages makes apply ``stage`` + ``build``,
        so that the two cannot differ."""
        return False

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


# Per-step costs are kept to what the step itself touches, so that checking a scenario grows linearly with its
# interventions: what depends only on a twin's CRS (a transformer) is made once per CRS.
@functools.lru_cache(maxsize=16)
def _transformer(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(4326, crs, always_xy=True)


def to_twin(geometry: shapely.Geometry, twin: Twin) -> shapely.Geometry:
    """A lon/lat geometry in the twin's CRS."""
    transformer = _transformer(twin.crs)
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def outside_twin(geometry: shapely.Geometry, twin: Twin, *, margin_m: float = 50.0) -> str | None:
    """A problem text when a twin-CRS geometry misses the twin's extent (give or take ``margin_m``)."""
    left, bottom, right, top = twin.extent
    extent = shapely.box(left, bottom, right, top)
    if geometry.intersects(shapely.box(left - margin_m, bottom - margin_m, right + margin_m, top + margin_m)):
        return None
    left, bottom, right, top = gpd.GeoSeries([extent], crs=twin.crs).to_crs(4326).total_bounds
    return (f"lies outside the twin; expected a place within lon {left:.4f}..{right:.4f}, "
            f"lat {bottom:.4f}..{top:.4f}")


def no_timetable(twin: Twin) -> str | None:
    """A problem text when the twin has no timetable for a transit intervention to change."""
    if twin.timetable is not None:
        return None
    return (f"this twin ({twin.name}) has no timetable; expected a twin built with --gtfs, the default helsinki twin "
            "or a synthetic town")


def stops_inside(twin: Twin, area: shapely.Geometry) -> np.ndarray:
    """The timetable's stops (indices) inside a twin-CRS area."""
    xy = stop_points(twin)
    return np.flatnonzero(shapely.contains_xy(area, xy[:, 0], xy[:, 1]))


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
    """The layer with new rows, their ids from ``start`` (see :meth:`Context.next_id`); columns the rows lack are
    empty (None) in them."""
    return _append(frame, rows, geometry, pd.RangeIndex(start, start + len(geometry)))


def _column(values: list, index: pd.Index) -> list | pd.Series:
    """New rows' values of a column: as pandas infers them, except that a None among them keeps the column object
    (as None, not NaN), as when the rows are appended one at a time."""
    return pd.Series(values, index=index, dtype=object) if any(value is None for value in values) else values


def _append(frame: gpd.GeoDataFrame, rows: dict[str, list], geometry: list, index: pd.Index) -> gpd.GeoDataFrame:
    n = len(geometry)
    name = frame.geometry.name
    index = index.rename(frame.index.name)
    shapes = gpd.array.from_shapely(np.array(geometry, dtype=object), crs=frame.crs)
    # The layer's columns in its order, then the rows' new ones: built in order, since selecting columns of the
    # new frame took a third of a 3,000-step plan.
    columns = {column: shapes if column == name else _column(rows.get(column, [None] * n), index)
               for column in frame.columns}
    columns.update({column: _column(values, index) for column, values in rows.items() if column not in columns})
    combined = pd.concat([pd.DataFrame(frame), pd.DataFrame(columns, index=index)])
    return gpd.GeoDataFrame(combined, geometry=name, crs=frame.crs)


def household_counts(households: pd.DataFrame) -> dict[str, int]:
    """Households, residents and group members, for notes and the added/displaced tallies."""
    def total(column: str) -> int:
        return int(households[column].to_numpy().sum())

    return {"households": int(len(households)), "residents": total("size"), "with_elderly": total("elderly"),
            "elderly_alone": total("elderly_alone"), "with_children": total("children")}


def households_of(ages: list[list[int]]) -> pd.DataFrame:
    """The households table (without homes) of each household's members' ages, by population's one builder."""
    sizes = np.array([len(a) for a in ages], dtype=np.int64)
    flat = np.array([age for members in ages for age in members], dtype=np.int64)
    return households_from_ages(flat, np.repeat(np.arange(len(ages)), sizes))
