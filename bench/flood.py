"""Flood benchmark: the connected bathtub and building impact sampling against peers measured in the same run.

Run ``.venv/bin/python bench/flood.py [--sizes 1000,5000] [--buildings 100000]`` (about 20 s, ~1.2 GB peak).

Grids are seeded synthetic DEMs of 2 m cells (smooth hills on a slope up from a sea along the south edge), flooded
at 3 m from the raster edge. Peers for the bathtub: a plain breadth-first flood fill in Python (only up to 1000 x
1000 cells), scipy's ``binary_propagation`` and the same fill compiled with numba. Buildings are 100,000 seeded
rectangles of 6-40 m, a third of them turned, on the last grid; the peer is a rasterstats-style loop (window, rasterio
mask, statistics) timed on 2,000 of them and extrapolated. Every peer's result is checked against ours before its
row is printed. Times are medians of 3 runs (a run over 2 s is not repeated). Memory is resident memory (RSS), for
ours and every peer alike: one more call of each after its timing, with the kernel's peak mark reset before it and
read after (bench/timing.py); the table gives how far the process's RSS rose during that call over the RSS at its
start (the grid, the buildings and earlier results are resident before). The process's peak RSS is printed at the
end. Shared virtual machines vary by 20-30% between runs: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numba
import numpy as np
import shapely
import xarray as xr
from affine import Affine
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sandbox.hazards.flood import bathtub, building_depths  # noqa: E402
from timing import peak_rss, peak_rss_mb  # noqa: E402  (bench/timing.py, beside this script)

CELL_M = 2.0
LEVEL_M = 3.0
PYTHON_BFS_MAX_CELLS = 1_000_000  # the plain-Python flood fill runs only on the 1000 x 1000 grid
LOOP_SAMPLE = 2_000  # buildings measured one by one in the per-building peer; its time is extrapolated
SLOW_S = 2.0
TARGETS = {("bathtub", 5000 * 5000): 3.0, ("building_depths", 100_000): 2.0}


def synthetic_dem(side: int, *, seed: int = 0) -> xr.DataArray:
    """Smooth hills (noise at 40 m, bilinear) on a slope rising 12 m from a sea along the south edge."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0.0, 2.0, (side // 20 + 2, side // 20 + 2))
    hills = ndimage.zoom(coarse, 20, order=1)[:side, :side]
    slope = np.linspace(12.0, -1.0, side)[:, None]
    top = 6_700_000.0
    dem = xr.DataArray(hills + slope, dims=("y", "x"), name="elevation_m",
                       coords={"y": top - CELL_M * (np.arange(side) + 0.5),
                               "x": 380_000.0 + CELL_M * (np.arange(side) + 0.5)})
    return dem.rio.write_transform(from_origin(380_000.0, top, CELL_M, CELL_M)).rio.write_crs("EPSG:3067")


def edge_seeds(shape: tuple[int, int]) -> np.ndarray:
    seeds = np.zeros(shape, dtype=bool)
    seeds[[0, -1], :] = seeds[:, [0, -1]] = True
    return seeds


def python_bfs(ground: np.ndarray, level: float) -> np.ndarray:
    """Plain breadth-first flood fill from the raster edge, one cell at a time."""
    rows, cols = ground.shape
    below = (ground < level).tolist()
    wet = [[False] * cols for _ in range(rows)]
    queue = deque((r, c) for r, c in zip(*np.nonzero(edge_seeds(ground.shape) & (ground < level))))
    for r, c in queue:
        wet[r][c] = True
    while queue:
        r, c = queue.popleft()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < rows and 0 <= cc < cols and below[rr][cc] and not wet[rr][cc]:
                wet[rr][cc] = True
                queue.append((rr, cc))
    return np.array(wet)


@numba.njit(cache=True)
def _numba_fill(below: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    rows, cols = below.shape
    wet = np.zeros((rows, cols), dtype=np.bool_)
    stack = np.empty(rows * cols, dtype=np.int64)
    top = 0
    for r in range(rows):
        for c in range(cols):
            if seeds[r, c] and below[r, c]:
                wet[r, c] = True
                stack[top] = r * cols + c
                top += 1
    while top > 0:
        top -= 1
        r, c = divmod(stack[top], cols)
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < rows and 0 <= cc < cols and below[rr, cc] and not wet[rr, cc]:
                wet[rr, cc] = True
                stack[top] = rr * cols + cc
                top += 1
    return wet


def numba_fill(ground: np.ndarray, level: float) -> np.ndarray:
    """The same flood fill compiled with numba (a depth-first stack, one pass)."""
    return _numba_fill(ground < level, edge_seeds(ground.shape))


def scipy_propagation(ground: np.ndarray, level: float) -> np.ndarray:
    """Repeated dilation of the edge seeds inside the low ground (scipy.ndimage.binary_propagation)."""
    below = ground < level
    return ndimage.binary_propagation(edge_seeds(ground.shape) & below, mask=below)


def synthetic_buildings(dem: xr.DataArray, n: int, *, seed: int = 1) -> gpd.GeoDataFrame:
    """Rectangles of 6-40 m, a third of them turned, scattered over the grid (some touch or overlap)."""
    rng = np.random.default_rng(seed)
    left, bottom, right, top = dem.rio.bounds()
    cx = rng.uniform(left + 50, right - 50, n)
    cy = rng.uniform(bottom + 50, top - 50, n)
    w, h = rng.uniform(6, 40, n), rng.uniform(6, 40, n)
    boxes = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    turned = rng.random(n) < 1 / 3
    angle = rng.uniform(0, np.pi / 2, n)
    coords = shapely.get_coordinates(boxes[turned]).reshape(-1, 5, 2)
    centre = np.stack([cx[turned], cy[turned]], axis=1)[:, None, :]
    cos, sin = np.cos(angle[turned])[:, None], np.sin(angle[turned])[:, None]
    d = coords - centre
    rotated = np.stack([d[..., 0] * cos - d[..., 1] * sin, d[..., 0] * sin + d[..., 1] * cos], axis=-1) + centre
    boxes[turned] = shapely.polygons(rotated)
    return gpd.GeoDataFrame(geometry=boxes, crs=dem.rio.crs)


def loop_building_depths(depth: xr.DataArray, buildings: gpd.GeoDataFrame) -> np.ndarray:
    """rasterstats-style zonal statistics, one building at a time: cut its window, mask it with rasterio (touched
    cells for the maximum, covered cell centres for the mean, touched cells when it covers none)."""
    values = depth.values
    transform = depth.rio.transform()
    out = np.zeros((len(buildings), 3))
    for i, geom in enumerate(buildings.geometry.values):
        minx, miny, maxx, maxy = geom.bounds
        col0, row0 = ~transform * (minx, maxy)
        col1, row1 = ~transform * (maxx, miny)
        r0, c0 = max(int(np.floor(row0)) - 1, 0), max(int(np.floor(col0)) - 1, 0)
        r1, c1 = min(int(np.ceil(row1)) + 1, values.shape[0]), min(int(np.ceil(col1)) + 1, values.shape[1])
        box = values[r0:r1, c0:c1]
        window = transform * Affine.translation(c0, r0)
        touched = box[~geometry_mask([geom], out_shape=box.shape, transform=window, all_touched=True)]
        covered = box[~geometry_mask([geom], out_shape=box.shape, transform=window)]
        if covered.size == 0:
            covered = touched
        out[i] = (touched.max(initial=0.0), covered.mean() if covered.size else 0.0, covered.size)
    return out


def timed(fn: Callable[[], object], *, repeats: int = 3) -> tuple[object, float]:
    """Median wall time; a run slower than SLOW_S is not repeated."""
    times, result = [], None
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
            if times[-1] > SLOW_S:
                break
    finally:
        gc.enable()
    return result, statistics.median(times)


def added_mb(fn: Callable[[], object]) -> float:
    """How far the process's RSS rose during one call of ``fn`` over the RSS at its start, in MB."""
    return peak_rss(fn)[1].added_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,5000", help="grid sides in cells, comma-separated")
    parser.add_argument("--buildings", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    _numba_fill(np.ones((2, 2), dtype=bool), np.ones((2, 2), dtype=bool))  # compile before timing
    rows, notes, verdicts = [], [], []

    def row(case, measure, ours_s, ours_mb, peer, peer_s, peer_mb, note=""):
        rows.append((case, measure, f"{ours_s:.3f}", f"{ours_mb:.0f}", peer, f"{peer_s:.3f}", f"{peer_mb:.0f}",
                     f"{peer_s / ours_s:.1f}", note))
        print("  ".join(rows[-1]), flush=True)

    depth_for_buildings = None
    for side in sizes:
        case = f"{side}x{side}"
        dem = synthetic_dem(side)
        ground = dem.values
        depth, ours_s = timed(lambda: bathtub(dem, LEVEL_M))
        ours_mb = added_mb(lambda: bathtub(dem, LEVEL_M))
        wet = depth.values > 0
        notes.append(f"{case}: {wet.mean():.0%} of {side * side:,} cells flooded at {LEVEL_M} m")
        peers = [("scipy binary_propagation", scipy_propagation), ("numba stack fill", numba_fill)]
        if side * side <= PYTHON_BFS_MAX_CELLS:
            peers.insert(0, ("python BFS", python_bfs))
        else:
            notes.append(f"{case}: python BFS skipped (run only up to {PYTHON_BFS_MAX_CELLS:,} cells)")
        for name, peer in peers:
            result, peer_s = timed(lambda: peer(ground, LEVEL_M))
            if not np.array_equal(result, wet):
                sys.exit(f"DISAGREE: {name} floods {int(result.sum())} cells, ours {int(wet.sum())} ({case})")
            del result
            row(case, "bathtub", ours_s, ours_mb, name, peer_s, added_mb(lambda: peer(ground, LEVEL_M)))
        target = TARGETS.get(("bathtub", side * side))
        if target:
            verdicts.append(f"{'PASS' if ours_s < target else 'MISS'}  bathtub {case}: {ours_s:.2f} s "
                            f"(target < {target:g} s)")
        depth_for_buildings = depth

    buildings = synthetic_buildings(depth_for_buildings, args.buildings)
    case = f"{args.buildings:,} bldg on {depth_for_buildings.shape[0]}x{depth_for_buildings.shape[1]}"
    result, ours_s = timed(lambda: building_depths(depth_for_buildings, buildings))
    ours_mb = added_mb(lambda: building_depths(depth_for_buildings, buildings))
    sample = buildings.sample(min(LOOP_SAMPLE, len(buildings)), random_state=0)
    loop, loop_s = timed(lambda: loop_building_depths(depth_for_buildings, sample), repeats=1)
    ours = result.loc[sample.index, ["max_depth_m", "mean_depth_m", "cells"]].to_numpy(dtype=float)
    if not np.allclose(ours, loop, rtol=1e-9, atol=1e-12):
        sys.exit(f"DISAGREE: the per-building loop differs for {int((~np.isclose(ours, loop)).any(axis=1).sum())} "
                 "buildings")
    extrapolated = loop_s * len(buildings) / len(sample)
    loop_mb = added_mb(lambda: loop_building_depths(depth_for_buildings, sample))
    row(case, "building_depths", ours_s, ours_mb, f"per-building loop x{len(buildings) / len(sample):.0f}",
        extrapolated, loop_mb, note=f"loop timed on {len(sample):,}, extrapolated (memory: on those)")
    notes.append(f"buildings: {int(result['cells'].sum()):,} covered cells in all, "
                 f"{result['max_depth_m'].gt(0).mean():.0%} of buildings wet; the {len(sample):,} sampled agree "
                 "with the loop (max, mean, cells)")
    target = TARGETS.get(("building_depths", args.buildings))
    if target and depth_for_buildings.size == 5000 * 5000:
        verdicts.append(f"{'PASS' if ours_s < target else 'MISS'}  building_depths {case}: {ours_s:.2f} s "
                        f"(target < {target:g} s)")

    header = ("case", "measure", "ours_s", "ours_+MB", "peer", "peer_s", "peer_+MB", "ratio", "note")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    print("\nratio = peer_s / ours_s (> 1: ours is faster); +MB = how far the process's RSS rose during one call over "
          "its RSS at the call's start (Linux: peak mark reset before the call)")
    for note in notes:
        print(f"note: {note}")
    print(f"process peak RSS: {peak_rss_mb():,.0f} MB")
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
