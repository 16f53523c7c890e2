"""Flood depth from a water level on terrain, a depth raster or drawn extents, and what the water reaches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy import ndimage

from .._errors import DataError, TwinError
from ..network import StreetNetwork

# Cells join through their four edge neighbours only: on a DEM two low cells meeting at a corner are usually a
# gap in a wall one cell thick, and water should not leak through it.
FOUR_NEIGHBOURS = ndimage.generate_binary_structure(2, 1)
JRC_CSV = "jrc_depth_damage.csv"
CURVE_COLUMNS = "depth_m,fraction"
PASSABLE_M = {"walk": 0.2, "bike": 0.2, "drive": 0.3, "transit": 0.2}  # transit: water on a stop's platform
DEPTH_ATTRS = {"units": "m", "long_name": "flood depth"}
FOOTPRINT_BATCH = 5_000


# --- depth maps -------------------------------------------------------------------------------------------------


def bathtub(dem: xr.DataArray, level_m: float, *,
            sources: np.ndarray | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
            connected: bool = True) -> xr.DataArray:
    """Flood depth under a still water level (the connected bathtub).

    Ground below ``level_m`` holds ``level_m - ground`` metres of water if the water can get there. With
    ``connected=True`` only low ground joined to a source through other low ground floods, so a hollow behind a
    dyke stays dry. Cells join through their four edge neighbours, not diagonally: on a DEM two cells touching at
    a corner are usually a gap in a wall one cell thick. A static model: no flow, duration or drainage.

    Parameters
    ----------
    dem
        Ground elevation (dims y, x), e.g. ``twin.terrain``, in the vertical datum of ``level_m``.
    level_m
        Water level in metres.
    sources
        Where the water comes from: a boolean mask of the DEM's shape, or polygons (sea, lake, river; reprojected
        to the DEM's CRS) flagging every cell they touch. Source cells without ground (a sea stored as nodata) pass
        the water to their neighbours. ``None``: open water lies beyond the raster edge, so low ground touching the
        edge is connected; clip the DEM well beyond the area of interest, or an inland hollow cut by the edge floods.
    connected
        ``False`` floods every cell below the level, wherever it is; ``sources`` is then not used.

    Returns
    -------
    xr.DataArray
        ``depth_m`` on the DEM's grid and CRS: 0 where dry, NaN where the DEM has no ground; the level is the
        scalar coordinate ``water_level_m``.
    """
    if not np.isfinite(level_m):
        raise TwinError(f"bathtub: level_m: {level_m!r}; expected a finite water level in metres")
    _grid(dem, "bathtub")
    ground = np.asarray(dem.values, dtype="float64")
    wet = ground < level_m  # NaN ground compares False: no ground, no water
    if connected:
        labels, count = ndimage.label(wet, structure=FOUR_NEIGHBOURS)
        reached = np.zeros(count + 1, dtype=bool)
        reached[labels[_seeds(dem, ground, sources) & wet]] = True
        wet = reached[labels]
    depth = np.zeros_like(ground)
    np.subtract(level_m, ground, out=depth, where=wet)
    depth[np.isnan(ground)] = np.nan
    out = dem.copy(data=depth).assign_coords(water_level_m=float(level_m))
    out["water_level_m"].attrs = {"units": "m", "long_name": "water level"}
    out.name = "depth_m"
    out.attrs = dict(DEPTH_ATTRS)
    return out


def _seeds(dem: xr.DataArray, ground: np.ndarray, sources: np.ndarray | gpd.GeoSeries | gpd.GeoDataFrame | None
           ) -> np.ndarray:
    """Cells the water starts from (before the below-the-level test)."""
    if sources is None:
        edge = np.zeros(ground.shape, dtype=bool)
        edge[[0, -1], :] = True
        edge[:, [0, -1]] = True
        return edge
    if isinstance(sources, gpd.GeoSeries | gpd.GeoDataFrame):
        mask = _touched(sources, dem)
    else:
        mask = np.asarray(sources, dtype=bool)
        if mask.shape != ground.shape:
            raise TwinError(f"bathtub: sources: mask of shape {mask.shape}; expected the DEM's shape {ground.shape}")
    no_ground = mask & np.isnan(ground)
    if no_ground.any():
        mask = mask | ndimage.binary_dilation(no_ground, structure=FOUR_NEIGHBOURS)
    return mask


def _touched(shapes: gpd.GeoSeries | gpd.GeoDataFrame, grid: xr.DataArray) -> np.ndarray:
    """Cells of ``grid`` touched by any of the polygons (all_touched, so a river narrower than a cell counts)."""
    geoms = _geometries(shapes, grid.rio.crs)
    geoms = geoms[_present(geoms)]
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=bool)
    burnt = rasterize(geoms, out_shape=grid.shape, transform=grid.rio.transform(), fill=0, default_value=1,
                      all_touched=True, dtype="uint8")
    return burnt.astype(bool)


def level_series(dem: xr.DataArray, levels: Sequence[float], **kw) -> xr.DataArray:
    """Bathtub depths for several water levels, stacked on a new dimension ``water_level_m`` (sweeps, curves).

    ``kw`` are :func:`bathtub`'s options, the same for every level.
    """
    levels = [float(level) for level in levels]
    if not levels:
        raise TwinError("level_series: levels: empty; expected one or more water levels in metres")
    return xr.concat([bathtub(dem, level, **kw) for level in levels], dim="water_level_m")


def raster_provenance(path: str | Path) -> dict[str, str]:
    """Where a depth raster came from, as its own tags say (``source``, ``licence``, ``attribution``), for the
    credits of every map and report that draws it."""
    with rasterio.open(path) as src:
        tags = src.tags()
    source = tags.get("attribution") or tags.get("source") or f"flood depth raster {Path(path).name}"
    return {"source": source, "licence": tags.get("licence", "licence not recorded"),
            "how": tags.get("TIFFTAG_IMAGEDESCRIPTION", "a depth raster given by the scenario")}


def depth_from_raster(path: str | Path, *, like: xr.DataArray | None = None, crs: str | int | None = None,
                      to_crs: str | None = None, bbox: tuple[float, float, float, float] | None = None
                      ) -> xr.DataArray:
    """Flood depth from a hazard map (a GeoTIFF of depth in metres, e.g. a national flood-zone raster).

    Nodata, negative depths and areas the file does not cover are dry (0): hazard maps leave dry land blank.

    Parameters
    ----------
    like
        A grid (e.g. ``twin.terrain``) to resample onto, bilinear; then ``to_crs`` and ``bbox`` are not used.
    crs
        The file's CRS when it lacks one or states it wrongly.
    to_crs
        The twin's CRS; the depths are reprojected (bilinear) when it differs.
    bbox
        (left, bottom, right, top) in ``to_crs`` to clip to.
    """
    path = Path(path)
    if like is not None and (to_crs is not None or bbox is not None):
        raise TwinError("depth_from_raster: like: given with to_crs or bbox; expected like alone (it sets both)")
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a GeoTIFF of flood depth in metres")
    try:
        raw = rioxarray.open_rasterio(path, masked=True)
    except Exception as exc:  # rasterio raises several types on a broken file
        raise DataError(f"{path}: cannot read as a raster ({type(exc).__name__}); expected a GeoTIFF of flood "
                        "depth in metres") from exc
    if raw.sizes.get("band", 1) != 1:
        raise DataError(f"{path}: band: {raw.sizes['band']} bands; expected one band of depth in metres")
    depth = raw.squeeze("band", drop=True)
    if crs is not None:
        depth = depth.rio.write_crs(crs)
    if depth.rio.crs is None:
        raise DataError(f"{path}: crs: missing; pass crs= (for example crs=3067)")
    depth = depth.astype("float64").fillna(0.0).clip(min=0.0).rio.write_nodata(np.nan)
    if like is not None:
        depth = depth.rio.reproject_match(like, resampling=Resampling.bilinear, nodata=np.nan)
        depth = depth.assign_coords(x=like["x"].values, y=like["y"].values)
    elif to_crs is not None and not pyproj.CRS.from_user_input(to_crs).equals(depth.rio.crs):
        depth = depth.rio.reproject(to_crs, resampling=Resampling.bilinear, nodata=np.nan)
    if bbox is not None:
        try:
            depth = depth.rio.clip_box(*bbox)
        except Exception as exc:  # rioxarray raises NoDataInBounds and OneDimensionalRaster
            raise DataError(f"{path}: bbox: the raster does not cover {bbox}; expected a bbox inside it") from exc
    depth = depth.fillna(0.0)
    depth.name = "depth_m"
    depth.attrs = {**DEPTH_ATTRS, "source_file": path.name}
    return depth


def depth_from_extents(shapes: gpd.GeoDataFrame, *, depth_m: float | None = None, depth_column: str | None = None,
                       bounds: tuple[float, float, float, float], resolution_m: float = 5.0,
                       crs: str | int) -> xr.DataArray:
    """Flood depth from drawn flood extents (polygons of a known depth), on a new grid.

    A cell takes the depth of the polygons covering its centre, the deepest where they overlap.

    Parameters
    ----------
    depth_m
        One depth for every polygon; or
    depth_column
        The column holding each polygon's depth.
    bounds
        (left, bottom, right, top) of the grid in ``crs``; the grid starts at (left, top).
    crs
        The grid's metric CRS; polygons in another CRS are reprojected.
    """
    where = "depth_from_extents"
    if (depth_m is None) == (depth_column is None):
        given = "both" if depth_m is not None else "neither"
        raise TwinError(f"{where}: depth_m: {given} of depth_m and depth_column given; expected exactly one")
    if depth_column is not None and depth_column not in shapes.columns:
        raise TwinError(f"{where}: {depth_column}: missing column; expected the depth of each polygon in metres")
    depths = (shapes[depth_column].to_numpy(dtype="float64", na_value=np.nan) if depth_column is not None
              else np.full(len(shapes), depth_m, dtype="float64"))
    if not np.isfinite(depths).all() or (depths < 0).any():
        raise TwinError(f"{where}: {depth_column or 'depth_m'}: negative or missing depth; expected depths >= 0 m")
    left, bottom, right, top = bounds
    if not (right > left and top > bottom and resolution_m > 0):
        raise TwinError(f"{where}: bounds: {bounds} at {resolution_m} m; expected (left, bottom, right, top) with "
                        "left < right, bottom < top and resolution_m > 0")
    shape = (int(np.ceil((top - bottom) / resolution_m)), int(np.ceil((right - left) / resolution_m)))
    transform = from_origin(left, top, resolution_m, resolution_m)
    geoms = _geometries(shapes, crs)
    keep = _present(geoms)
    order = np.flatnonzero(keep)[np.argsort(depths[keep], kind="stable")]  # deepest burnt last: max where overlapping
    grid = np.zeros(shape)
    if len(order):
        grid = rasterize(zip(geoms[order], depths[order]), out_shape=shape, transform=transform, fill=0.0,
                         dtype="float64")
    x = left + resolution_m * (np.arange(shape[1]) + 0.5)
    y = top - resolution_m * (np.arange(shape[0]) + 0.5)
    out = xr.DataArray(grid, dims=("y", "x"), coords={"y": y, "x": x}, name="depth_m", attrs=dict(DEPTH_ATTRS))
    return out.rio.write_crs(crs).rio.write_transform(transform)


# --- damage curves ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DepthDamage:
    """A depth-damage curve: the fraction of a building's replacement value lost at each water depth.

    Calling it interpolates linearly between the knots; depths at or below 0 and below the first knot lose
    nothing, depths beyond the last knot lose the last knot's fraction.
    """

    depths_m: np.ndarray
    fractions: np.ndarray
    source: str

    def __post_init__(self) -> None:
        depths = np.asarray(self.depths_m, dtype="float64")
        fractions = np.asarray(self.fractions, dtype="float64")
        problem = _curve_problem(depths, fractions)
        if problem:
            raise TwinError(f"DepthDamage({self.source}): {problem}")
        object.__setattr__(self, "depths_m", depths)
        object.__setattr__(self, "fractions", fractions)

    def __call__(self, depth_m: np.ndarray) -> np.ndarray:
        depth = np.asarray(depth_m, dtype="float64")
        fraction = np.interp(depth, self.depths_m, self.fractions, left=0.0, right=self.fractions[-1])
        return np.where(depth > 0, fraction, 0.0)  # also maps NaN (no data) to no loss


def _curve_problem(depths: np.ndarray, fractions: np.ndarray) -> str | None:
    """What is wrong with a curve's knots, in the ``<field>: <what>; <expected>`` form, or None."""
    if depths.ndim != 1 or depths.shape != fractions.shape or len(depths) < 2:
        return (f"depth_m: {depths.size} depths for {fractions.size} fractions; expected two or more "
                "(depth, fraction) pairs")
    for name, values in (("depth_m", depths), ("fraction", fractions)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            return f"{name}: row {bad[0] + 1} is not a number; expected a number in every row"
    steps = np.flatnonzero(np.diff(depths) <= 0)
    if steps.size:
        return (f"depth_m: {depths[steps[0] + 1]:g} m after {depths[steps[0]]:g} m; expected increasing depths, "
                "each once")
    outside = np.flatnonzero((fractions < 0) | (fractions > 1))
    if outside.size:
        i = outside[0]
        return f"fraction: {fractions[i]:g} at {depths[i]:g} m; expected a share of the value lost, between 0 and 1"
    return None


def jrc_curve(kind: Literal["residential", "commercial"] = "residential") -> DepthDamage:
    """The JRC global flood depth-damage function for Europe (Huizinga, de Moel & Szewczyk 2017).

    The values are in ``sandbox/data/jrc_depth_damage.csv``; see ``sandbox/data/README.md`` for their source.
    """
    table = pd.read_csv(files("sandbox").joinpath("data", JRC_CSV))
    rows = table[table["kind"] == kind]
    if rows.empty:
        raise TwinError(f"jrc_curve: kind: unknown '{kind}'; expected one of {', '.join(table['kind'].unique())}")
    return DepthDamage(rows["depth_m"].to_numpy(), rows["fraction"].to_numpy(),
                       source=f"JRC global flood depth-damage functions (Huizinga et al. 2017), Europe, {kind}")


def read_curve(path: str | Path) -> DepthDamage:
    """A depth-damage curve from a CSV with columns ``depth_m,fraction`` (one knot per row, depths increasing)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a CSV with columns {CURVE_COLUMNS}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({type(exc).__name__}); expected columns {CURVE_COLUMNS}"
                        ) from exc
    missing = [c for c in CURVE_COLUMNS.split(",") if c not in table.columns]
    if missing:
        raise DataError(f"{path}: columns: {', '.join(missing)} missing; expected columns {CURVE_COLUMNS}")
    depths = pd.to_numeric(table["depth_m"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    fractions = pd.to_numeric(table["fraction"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    problem = _curve_problem(depths, fractions)
    if problem:
        raise DataError(f"{path}: {problem}")
    return DepthDamage(depths, fractions, source=str(path))


# --- impacts ----------------------------------------------------------------------------------------------------


def building_depths(depth: xr.DataArray, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Water at each building: the deepest over the cells its footprint touches, the mean over those it covers.

    The maximum looks at every touched cell (as ``all_touched`` rasterizing does), so water lapping at a wall
    counts; the mean is over the cells whose centre lies in the footprint, so the fringe does not dilute it. A
    building covering no cell centre (smaller than a cell) takes the mean of the cells it touches. Neighbours
    sharing a cell each get it. Cells without data are skipped; points and lines get nothing.

    Returns
    -------
    pd.DataFrame
        On ``buildings.index``: ``max_depth_m``, ``mean_depth_m`` (0 when dry or off the raster) and ``cells``
        (the cells the mean is over; 0 = off the raster).
    """
    transform, shape = _grid(depth, "building_depths")
    geoms = _geometries(buildings, depth.rio.crs)
    values = np.asarray(depth.values, dtype="float64").ravel()
    # In batches: the per-cell arrays of a batch stay small enough for the allocator to reuse, not fresh pages.
    stats = [_footprint_stats(geoms[i:i + FOOTPRINT_BATCH], values, transform, shape)
             for i in range(0, len(geoms), FOOTPRINT_BATCH)] or [_footprint_stats(geoms, values, transform, shape)]
    deepest, mean, cells = (np.concatenate(column) for column in zip(*stats))
    return pd.DataFrame({"max_depth_m": deepest, "mean_depth_m": mean, "cells": cells}, index=buildings.index)


def _footprint_stats(geoms: np.ndarray, values: np.ndarray, transform: Affine, shape: tuple[int, int]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deepest touched cell, mean over covered cells and their count, per footprint (``values``: flat raster)."""
    n = len(geoms)
    edges = _edges_in_cells(geoms, transform)
    inner_owner, inner_cell = _covered_cells(*edges, shape)
    edge_owner, edge_cell = _outline_cells(*edges, shape)
    inner = values[inner_cell]
    deepest = np.zeros(n)
    np.fmax.at(deepest, inner_owner, inner)  # fmax: cells without data do not count
    np.fmax.at(deepest, edge_owner, values[edge_cell])
    # A building covering no cell centre takes the mean over the distinct cells it touches.
    small = np.bincount(inner_owner, minlength=n) == 0
    alone = small[edge_owner]
    pairs = np.unique(edge_owner[alone].astype(np.int64) * values.size + edge_cell[alone])
    cells, total = np.zeros(n, dtype=np.int64), np.zeros(n)
    for who, found in ((inner_owner, inner), (pairs // values.size, values[pairs % values.size])):
        known = ~np.isnan(found)
        if not known.all():
            who, found = who[known], found[known]
        cells += np.bincount(who, minlength=n)
        total += np.bincount(who, weights=found, minlength=n)
    return deepest, np.divide(total, cells, out=np.zeros(n), where=cells > 0), cells


def building_damage(depths: pd.DataFrame, buildings: gpd.GeoDataFrame, *, curve: DepthDamage,
                    value_per_m2: float = 2000.0, threshold_m: float = 0.05,
                    area_column: str = "floor_area_m2") -> pd.DataFrame:
    """Flood damage per building: ``curve(max_depth_m) x area x value_per_m2`` for buildings with water above
    ``threshold_m`` (a few centimetres on a footprint are noise of the DEM, not a wet floor).

    Parameters
    ----------
    depths
        :func:`building_depths` of the same buildings.
    curve
        A depth-damage curve, e.g. ``jrc_curve("residential")``.
    value_per_m2
        Replacement value in EUR per m2 of ``area_column``. The default, 2000, is this package's assumption, of
        the order of the construction cost of new housing in Northern Europe; it is not from the JRC report. Set
        it from local costs.
    area_column
        The area the value applies to. The default, all floors, applies the curve to the whole building, which
        overstates the loss of tall buildings whose upper floors stay dry; ``"footprint_m2"`` counts one floor.

    Returns
    -------
    pd.DataFrame
        On ``buildings.index``: ``max_depth_m``, ``flooded``, ``damage_fraction``, ``damage_eur``.
    """
    if not depths.index.equals(buildings.index):
        raise TwinError("building_damage: depths: index differs from the buildings'; expected "
                        "building_depths(depth, buildings) of the same buildings")
    if area_column not in buildings.columns:
        raise TwinError(f"building_damage: {area_column}: missing column; expected the area in m2 that "
                        "value_per_m2 applies to")
    deepest = depths["max_depth_m"].to_numpy(dtype="float64")
    flooded = deepest > threshold_m
    fraction = np.where(flooded, curve(deepest), 0.0)
    area = buildings[area_column].to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame({"max_depth_m": deepest, "flooded": flooded, "damage_fraction": fraction,
                         "damage_eur": fraction * area * value_per_m2}, index=buildings.index)


def edge_depths(depth: xr.DataArray, net: StreetNetwork, *, step_m: float = 5.0,
                wet: WetCells | None = None) -> np.ndarray:
    """Deepest water along each street, in the network's edge order (the order of ``Twin.edge_factors``).

    Each edge's geometry (or the straight line between its nodes) is sampled every ``step_m`` or less, ends
    included; keep ``step_m`` at most half a cell so no cell along the street is skipped. Off the raster and
    where it has no data counts as dry. The samples are placed with numpy on the lines' vertices (GEOS's
    line_interpolate_point took 51 s for a million-household town), and only on streets near water (``wet``:
    :class:`WetCells` of ``depth``, made here when not given; pass one to share it between networks).
    """
    if step_m <= 0:
        raise TwinError(f"edge_depths: step_m: {step_m}; expected a positive distance in metres")
    transform, shape = _grid(depth, "edge_depths")
    lines = net.geometry
    deepest = np.zeros(len(lines))
    near = (wet or WetCells(depth)).near(lines)
    if near.size:
        x, y, first = _samples(lines[near], step_m)
        values = np.nan_to_num(_sample(depth, transform, shape, x, y), nan=0.0)
        deepest[near] = np.maximum.reduceat(values, first)
    return deepest


class WetCells:
    """Where a depth grid holds water, as a summed-area table: which lines can meet water, one lookup per line. A
    flood reaches a small part of a city, and sampling every street took 15 s at a million households."""

    def __init__(self, depth: xr.DataArray) -> None:
        self.transform, self.shape = _grid(depth, "edge_depths")
        wet = np.nan_to_num(np.asarray(depth.values, dtype="float64"), nan=0.0) > 0
        self.table = np.zeros((wet.shape[0] + 1, wet.shape[1] + 1), np.int64)
        self.table[1:, 1:] = wet.cumsum(axis=0).cumsum(axis=1)

    def near(self, lines: np.ndarray) -> np.ndarray:
        """Positions of the lines whose bounding box, one cell wider on each side, holds a wet cell: the only ones
        that can meet water."""
        if not len(lines):
            return np.zeros(0, np.int64)
        if self.transform.b != 0 or self.transform.d != 0:  # a rotated grid: no box arithmetic, every line
            return np.arange(len(lines))
        left, bottom, right, top = shapely.bounds(lines).T
        inverse = ~self.transform
        (col_a, row_a), (col_b, row_b) = inverse * (left, top), inverse * (right, bottom)
        rows, cols = self.shape
        first_col = np.clip(np.floor(np.minimum(col_a, col_b)) - 1, 0, cols).astype(np.int64)
        last_col = np.clip(np.floor(np.maximum(col_a, col_b)) + 2, 0, cols).astype(np.int64)  # exclusive
        first_row = np.clip(np.floor(np.minimum(row_a, row_b)) - 1, 0, rows).astype(np.int64)
        last_row = np.clip(np.floor(np.maximum(row_a, row_b)) + 2, 0, rows).astype(np.int64)
        table = self.table
        cells = (table[last_row, last_col] - table[first_row, last_col] - table[last_row, first_col]
                 + table[first_row, first_col])
        return np.flatnonzero(cells > 0)


def _samples(lines: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``step_m`` or less along each line, both ends included (at least two per line): their x, y and
    where each line's points start."""
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    n_lines = len(lines)
    vertices = np.bincount(owner, minlength=n_lines)
    start = np.r_[0, np.cumsum(vertices)[:-1]]
    same_line = owner[1:] == owner[:-1]
    run = np.r_[0.0, np.cumsum(np.where(same_line, np.hypot(*np.diff(coords, axis=0).T), 0.0))]  # along all lines
    length = run[start + vertices - 1] - run[start]
    count = np.maximum(np.ceil(length / step_m).astype(np.int64) + 1, 2)
    first = np.r_[0, np.cumsum(count)[:-1]]
    line = np.repeat(np.arange(n_lines), count)
    k = np.arange(count.sum()) - first[line]
    along = run[start][line] + k * (length / (count - 1))[line]
    segment = np.clip(np.searchsorted(run, along, side="right") - 1, start[line],
                      start[line] + np.maximum(vertices[line] - 2, 0))
    span = run[np.minimum(segment + 1, len(run) - 1)] - run[segment]
    share = np.clip(np.divide(along - run[segment], span, out=np.zeros_like(along), where=span > 0), 0.0, 1.0)
    ends = coords[np.minimum(segment + 1, len(coords) - 1)]
    xy = coords[segment] + share[:, None] * (ends - coords[segment])
    return xy[:, 0], xy[:, 1], first


def edge_factors(depths_m: np.ndarray, *, mode: str, limit_m: float | None = None, slow_from_m: float = 0.05,
                 factor_at_limit: float = 3.0) -> np.ndarray:
    """Travel-time multipliers for flooded streets (for ``Twin.edge_factors``): wading is slow, deep water stops.

    1 up to ``slow_from_m``, rising linearly to ``factor_at_limit`` at the limit, ``inf`` (impassable) above it.
    The limits in ``PASSABLE_M`` are assumptions: 0.3 m for cars, where the depth-disruption function of
    Pregnolato et al. (2017) brings vehicles to a stop, and 0.2 m on foot and by bike, where walking in moving
    water becomes unsafe for older people and children. A street without data counts as dry.
    """
    if limit_m is None:
        if mode not in PASSABLE_M:
            raise TwinError(f"edge_factors: mode: unknown '{mode}'; expected one of {', '.join(PASSABLE_M)} "
                            "or a limit_m")
        limit_m = PASSABLE_M[mode]
    if not (0 <= slow_from_m < limit_m) or factor_at_limit < 1:
        raise TwinError(f"edge_factors: limit_m: {limit_m} m with slow_from_m {slow_from_m} m and factor_at_limit "
                        f"{factor_at_limit}; expected 0 <= slow_from_m < limit_m and factor_at_limit >= 1")
    depth = np.nan_to_num(np.asarray(depths_m, dtype="float64"), nan=0.0)
    ramp = np.clip((depth - slow_from_m) / (limit_m - slow_from_m), 0.0, 1.0)
    return np.where(depth > limit_m, np.inf, 1.0 + ramp * (factor_at_limit - 1.0))


def flooded_points(depth: xr.DataArray, xy: np.ndarray, *, threshold_m: float = 0.05) -> np.ndarray:
    """Whether each point (a facility, a household; ``xy`` of shape (n, 2) in the raster's CRS) stands in water
    deeper than ``threshold_m``. Off the raster and where it has no data counts as dry."""
    xy = np.asarray(xy, dtype="float64")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise TwinError(f"flooded_points: xy: shape {xy.shape}; expected (n, 2) coordinates, e.g. "
                        "shapely.get_coordinates(layer.geometry)")
    transform, shape = _grid(depth, "flooded_points")
    return np.nan_to_num(_sample(depth, transform, shape, xy[:, 0], xy[:, 1]), nan=0.0) > threshold_m


def expected_annual_damage(damages: Sequence[float], probabilities: Sequence[float]) -> float:
    """Expected annual damage: the area under the risk curve (damage against annual exceedance probability).

    The standard trapezoid rule between the events, sorted by probability (a 100-year event has 0.01).
    Events rarer than the rarest one given count with its damage (a rectangle from 0 to its probability), and
    events more frequent than the most frequent one cause none: give a frequent event with damage 0 (e.g. the
    protection standard) to close the curve there.
    """
    d = np.asarray(damages, dtype="float64")
    p = np.asarray(probabilities, dtype="float64")
    if d.ndim != 1 or d.shape != p.shape or d.size == 0:
        raise TwinError(f"expected_annual_damage: damages: {d.size} damages for {p.size} probabilities; expected "
                        "one damage per event, one or more events")
    if not (np.isfinite(d).all() and (d >= 0).all()):
        raise TwinError("expected_annual_damage: damages: negative or missing damage; expected damages >= 0")
    if not (np.isfinite(p).all() and ((p > 0) & (p <= 1)).all()) or np.unique(p).size != p.size:
        raise TwinError(f"expected_annual_damage: probabilities: {p.tolist()}; expected distinct annual exceedance "
                        "probabilities in (0, 1], e.g. 0.01 for a 100-year event")
    order = np.argsort(p)
    p, d = p[order], d[order]
    return float(p[0] * d[0] + np.sum(np.diff(p) * (d[1:] + d[:-1]) / 2))


# --- grid helpers -----------------------------------------------------------------------------------------------


def _grid(da: xr.DataArray, where: str) -> tuple[Affine, tuple[int, int]]:
    if da.dims != ("y", "x"):
        raise TwinError(f"{where}: dims: {da.dims}; expected ('y', 'x'), e.g. a DEM from sandbox.terrain.read_dem")
    return da.rio.transform(), da.shape


def _sample(da: xr.DataArray, transform: Affine, shape: tuple[int, int], x: np.ndarray, y: np.ndarray
            ) -> np.ndarray:
    """Raster values at points (cell lookup by index arithmetic), NaN off the raster."""
    col, row = ~transform * (np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))
    col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    inside = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    values = np.asarray(da.values, dtype="float64")[np.where(inside, row, 0), np.where(inside, col, 0)]
    return np.where(inside, values, np.nan)


def _geometries(shapes: gpd.GeoSeries | gpd.GeoDataFrame, crs) -> np.ndarray:
    """Geometries as an array, reprojected to ``crs`` when both CRSs are known and differ."""
    series = shapes.geometry if isinstance(shapes, gpd.GeoDataFrame) else shapes
    if crs is not None and series.crs is not None and not series.crs.equals(pyproj.CRS.from_user_input(crs)):
        series = series.to_crs(pyproj.CRS.from_user_input(crs))
    return np.asarray(series.values, dtype=object)


def _present(geoms: np.ndarray) -> np.ndarray:
    """Which geometries are there to burn (rasterio rejects missing and empty ones)."""
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


# --- polygons to cells: one vectorised pass over all footprints, in grid units (column u, row v) ----------------


def _edges_in_cells(geoms: np.ndarray, transform: Affine) -> tuple[np.ndarray, ...]:
    """Every ring segment of the polygons as (owner, u0, v0, u1, v1), in fractional column and row units."""
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    # A polygon without holes is a single ring; the others (holes, multi-polygons) are split into rings first.
    parts, part_owner = shapely.get_parts(geoms[~simple], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_owner = np.concatenate([np.flatnonzero(simple), np.flatnonzero(~simple)[part_owner[ring_part]]])
    xy, vertex_ring = shapely.get_coordinates(np.concatenate([geoms[simple], rings]), return_index=True)
    u, v = ~transform * (xy[:, 0], xy[:, 1])
    same = np.flatnonzero(vertex_ring[1:] == vertex_ring[:-1])  # consecutive vertices of one ring
    return ring_owner[vertex_ring[same]], u[same], v[same], u[same + 1], v[same + 1]


def _ranges(first: np.ndarray, last: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """How many values each range first[i], first[i] + step, ... up to last[i] holds (0 when last < first), and
    all of them in one array, built by one cumulative sum (few large temporaries: these arrays are the big ones).
    """
    count = np.maximum((last - first) // step + 1, 0)
    fits32 = not count.size or max(np.abs(first).max(), np.abs(last).max()) < 2**30
    value = np.full(int(count.sum()), step, dtype=np.int32 if fits32 else np.int64)
    filled = np.flatnonzero(count)
    if filled.size:
        head, n = first[filled], count[filled]
        tail = head + (n - 1) * step
        value[np.cumsum(n) - n] = head - np.concatenate([[0], tail[:-1]])  # the jump from the previous range
        np.cumsum(value, out=value)
    return count, value


def _covered_cells(owner: np.ndarray, u0: np.ndarray, v0: np.ndarray, u1: np.ndarray, v1: np.ndarray,
                   shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, flat cell) of every cell whose centre lies inside a polygon: a scanline through each row of
    centres, crossings paired by the even-odd rule (so holes stay out). Each pair appears once."""
    rows, cols = shape
    top, bottom = np.minimum(v0, v1), np.maximum(v0, v1)
    # Rows whose centre r + 0.5 lies in [top, bottom): half-open, so a vertex on a scanline counts once.
    count, row = _ranges(np.maximum(np.ceil(top - 0.5), 0).astype(np.int64),
                         np.minimum(np.ceil(bottom - 0.5) - 1, rows - 1).astype(np.int64))
    seg = np.repeat(np.arange(len(count)), count)
    x = u0[seg] + (row + 0.5 - v0[seg]) * (u1[seg] - u0[seg]) / (v1[seg] - v0[seg])
    line = owner[seg] * rows + row
    # One float key sorts by line, then x (clipped: beyond the grid only the side matters); exact unless
    # crossings on one line are closer than the key's precision, then sort on both keys.
    order = np.argsort(line * (cols + 3.0) + (np.clip(x, -1.0, cols + 1.0) + 1.0))
    x, line = x[order], line[order]
    if (np.diff(x)[line[1:] == line[:-1]] < 0).any():
        order = np.lexsort((x, line))
        x, line = x[order], line[order]
    start, end, line = x[0::2], x[1::2], line[0::2]
    base = (line % rows) * cols
    count, cell = _ranges(base + np.maximum(np.ceil(start - 0.5), 0).astype(np.int64),
                          base + np.minimum(np.ceil(end - 0.5) - 1, cols - 1).astype(np.int64))
    return np.repeat((line // rows).astype(np.int32), count), cell


def _outline_cells(owner: np.ndarray, u0: np.ndarray, v0: np.ndarray, u1: np.ndarray, v1: np.ndarray,
                   shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(owner, flat cell) of every cell a polygon's outline passes through: per segment and column, the rows
    between the segment's heights at the column's two sides. A cell may appear more than once."""
    rows, cols = shape
    left, right = np.minimum(u0, u1), np.maximum(u0, u1)
    count, col = _ranges(np.maximum(np.floor(left), 0).astype(np.int64),
                         np.minimum(np.floor(right), cols - 1).astype(np.int64))
    seg = np.repeat(np.arange(len(count)), count)
    a, b = np.maximum(left[seg], col), np.minimum(right[seg], col + 1)  # the segment's stretch in this column
    du = (u1 - u0)[seg]
    slope = np.divide((v1 - v0)[seg], du, out=np.zeros_like(du), where=du != 0)
    va = np.where(du != 0, v0[seg] + (a - u0[seg]) * slope, v0[seg])
    vb = np.where(du != 0, v0[seg] + (b - u0[seg]) * slope, v1[seg])
    top = np.maximum(np.floor(np.minimum(va, vb)), 0).astype(np.int64)
    bottom = np.minimum(np.floor(np.maximum(va, vb)), rows - 1).astype(np.int64)
    count, cell = _ranges(top * cols + col, bottom * cols + col, step=cols)
    return np.repeat(owner[seg].astype(np.int32), count), cell
