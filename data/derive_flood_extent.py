"""Derive the storm-surge flood of scenarios/flood-market-square.yaml from an open DEM (run once, by hand).

The embedded default twin (central Helsinki, ``sandbox.load_twin("helsinki")``) has no terrain, so its flood
example ships a small derived flood instead of the DEM. This script makes it from the National Land Survey of
Finland elevation model 10 m (map sheet L4133C, in ``../shared/data``) with the project's own connected bathtub:

1. the sea: DEM cells at the stored sea surface (about +0.25 m; at most ``SEA_SURFACE_M``) joined, through edge
   neighbours, to the sheet's south or east edge (the open Gulf of Finland);
2. the DEM clipped to the twin's extent plus ``MARGIN_M``; ``sandbox.hazards.flood.bathtub`` at ``LEVEL_M``
   (N2000, the DEM's vertical datum) with the sea as the source: land below the level and joined to the sea through
   other low land floods, a hollow behind higher ground stays dry;
3. the flooded land (the sea itself left out) polygonised (rasterio.features.shapes), holes under
   ``MIN_HOLE_M2`` filled and pieces under ``MIN_PART_M2`` dropped, clipped to the twin's extent;
4. written next to the scenario: the outline, simplified to ``SIMPLIFY_M``, in EPSG:4326
   (``flood-market-square.geojson``), and the depth (level minus ground) on the DEM's own 10 m grid inside that
   outline, 0 elsewhere (``flood-market-square-depth.tif``: Float32, DEFLATE, in the twin's CRS, clipped to the twin).

Rerunnable and deterministic: the same DEM gives byte-identical files. The DEM is read, never copied.

    .venv/bin/python data/derive_flood_extent.py            # DEM from $SANDBOX_SHARED_DATA or ../shared/data
    .venv/bin/python data/derive_flood_extent.py --check    # recompute and compare with the shipped files
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.features import rasterize, shapes
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SANDBOX_SHARED_DATA", REPO.parent / "shared" / "data"))
DEM = Path("helsinki") / "dem" / "L4133C_dem10m_epsg3067.tif"
OUT_DIR = REPO / "scenarios"
EXTENT_FILE = "flood-market-square.geojson"
DEPTH_FILE = "flood-market-square-depth.tif"

LEVEL_M = 2.5  # sea level, m N2000: see data/README.md for why
SEA_SURFACE_M = 0.30  # the DEM stores the sea surface as about +0.25 m
MARGIN_M = 500.0  # DEM read around the twin's extent, so the water can come round from the sea
MIN_HOLE_M2 = 500.0  # dry islands smaller than this (four 10 m cells or fewer) are filled
MIN_PART_M2 = 300.0  # wet pieces smaller than this (two cells or fewer) are dropped
SIMPLIFY_M = 5.0  # half a DEM cell: takes the staircase off the outline
DECIMALS = 6  # lon/lat decimals in the GeoJSON (about 0.1 m)

SOURCE = ("National Land Survey of Finland (Maanmittauslaitos), Elevation model 10 m (korkeusmalli 10 m), map "
          "sheet L4133C, 2013, vertical datum N2000")
LICENCE = "CC BY 4.0"
ATTRIBUTION = "Contains data from the National Land Survey of Finland Elevation Model 10 m, CC BY 4.0"


def twin_extent() -> tuple[tuple[float, float, float, float], str]:
    """The default twin's extent (its walking network's bounding box) and CRS."""
    import sandbox

    twin = sandbox.load_twin("helsinki")
    return tuple(float(v) for v in twin.extent), twin.crs


def open_sea(dem) -> np.ndarray:
    """Cells of the stored sea surface joined to the sheet's south or east edge (the open sea)."""
    from sandbox.hazards.flood import FOUR_NEIGHBOURS

    low = np.asarray(dem.values) <= SEA_SURFACE_M  # NaN compares False
    labels, _ = ndimage.label(low, structure=FOUR_NEIGHBOURS)
    edge = np.concatenate([labels[-1, :], labels[:, -1]])
    return np.isin(labels, edge[edge > 0])


def derive(dem_path: Path, out_dir: Path, level_m: float = LEVEL_M) -> dict[str, object]:
    """Write the outline and the depth raster into ``out_dir``; return what was made (for the README)."""
    from sandbox.hazards.flood import bathtub
    from sandbox.terrain import read_dem

    out_dir.mkdir(parents=True, exist_ok=True)
    extent, twin_crs = twin_extent()
    full = read_dem(dem_path)
    dem_crs = pyproj.CRS.from_user_input(full.rio.crs)
    to_dem = pyproj.Transformer.from_crs(twin_crs, dem_crs, always_xy=True)
    box_dem = reproject(shapely.segmentize(shapely.box(*extent), 50.0), to_dem)
    around = shapely.buffer(box_dem, MARGIN_M, join_style="mitre").bounds
    sea_full = full.copy(data=open_sea(full).astype("float64"))
    dem = full.rio.clip_box(*around)
    sea = sea_full.rio.clip_box(*around).values > 0
    depth = bathtub(dem, level_m, sources=sea)
    wet = (np.nan_to_num(depth.values) > 0) & ~sea  # flooded land; the sea itself is not a flood
    transform = dem.rio.transform()

    parts = [shapely.geometry.shape(g) for g, v in shapes(wet.astype("uint8"), mask=wet, transform=transform,
                                                          connectivity=4) if v == 1]
    flooded = clean(shapely.union_all(parts))
    flooded = clean(shapely.intersection(flooded, box_dem))
    outline = shapely.make_valid(shapely.simplify(flooded, SIMPLIFY_M, preserve_topology=True))

    # The depth raster: on the DEM's grid, inside the (unsimplified) outline, clipped to the twin's extent.
    inside = rasterize([flooded], out_shape=wet.shape, transform=transform, fill=0, default_value=1,
                       dtype="uint8").astype(bool)
    values = np.where(inside & wet, np.round(np.nan_to_num(depth.values), 2), 0.0).astype("float32")
    grid = dem.copy(data=values).rio.clip_box(*box_dem.bounds)
    # In the twin's CRS, so that a run takes the cells as they are: a run reprojects a raster in another CRS
    # bilinearly, which smears the depths into the neighbouring dry cells. Nearest neighbour keeps them (EPSG:3067
    # and the twin's UTM 35N share their grid: the values come through unchanged).
    grid = grid.rio.reproject(twin_crs, resolution=abs(grid.rio.resolution()[0]), resampling=Resampling.nearest,
                              nodata=np.nan).fillna(0.0)
    write_depth(grid, out_dir / DEPTH_FILE, level_m)

    to_lonlat = pyproj.Transformer.from_crs(dem_crs, "EPSG:4326", always_xy=True)
    lonlat = shapely.set_precision(reproject(outline, to_lonlat), 10.0 ** -DECIMALS)
    lonlat = shapely.make_valid(lonlat)
    write_outline(lonlat, out_dir / EXTENT_FILE, level_m, dem_path)
    area_ha = flooded.area / 10_000
    return {"level_m": level_m, "area_ha": round(area_ha, 2), "parts": len(shapely.get_parts(flooded)),
            "max_depth_m": float(grid.max()), "dem_sha256": sha256(dem_path),
            "files": {name: (out_dir / name).stat().st_size for name in (EXTENT_FILE, DEPTH_FILE)}}


def reproject(geometry: shapely.Geometry, transformer: pyproj.Transformer) -> shapely.Geometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def clean(geometry: shapely.Geometry) -> shapely.Geometry:
    """Polygons without holes under MIN_HOLE_M2 and without pieces under MIN_PART_M2."""
    kept = []
    for part in shapely.get_parts(shapely.make_valid(geometry)):
        if part.geom_type != "Polygon" or part.area < MIN_PART_M2:
            continue
        holes = [ring for ring in part.interiors if shapely.Polygon(ring).area >= MIN_HOLE_M2]
        kept.append(shapely.Polygon(part.exterior, holes))
    return shapely.MultiPolygon(kept) if kept else shapely.MultiPolygon()


def write_depth(grid, path: Path, level_m: float) -> None:
    """A small Float32 GeoTIFF, DEFLATE, with its source, licence and level in the tags; no timestamps."""
    transform = grid.rio.transform()
    profile = {"driver": "GTiff", "width": grid.shape[1], "height": grid.shape[0], "count": 1, "dtype": "float32",
               "crs": grid.rio.crs, "transform": transform, "compress": "deflate", "predictor": 3, "zlevel": 9}
    with rasterio.open(path, "w", **profile) as out:
        out.write(grid.values.astype("float32"), 1)
        out.set_band_description(1, "flood depth (m)")
        out.update_tags(1, units="m")
        out.update_tags(TIFFTAG_IMAGEDESCRIPTION=f"Sea flood depth at {level_m} m N2000 (connected bathtub) for "
                                                 "scenarios/flood-market-square.yaml",
                        source=SOURCE, licence=LICENCE, attribution=ATTRIBUTION, water_level_m_n2000=str(level_m),
                        derived_by="data/derive_flood_extent.py (sandbox.hazards.flood.bathtub)")


def write_outline(geometry: shapely.Geometry, path: Path, level_m: float, dem_path: Path) -> None:
    """One GeoJSON Feature (RFC 7946, EPSG:4326) with where it comes from in its properties."""
    feature = {"type": "Feature",
               "properties": {"name": f"sea at {level_m} m N2000 (storm surge), flooded land",
                              "water_level_m": level_m, "vertical_datum": "N2000",
                              "source": SOURCE, "licence": LICENCE, "attribution": ATTRIBUTION,
                              "dem_file": dem_path.name, "dem_sha256": sha256(dem_path),
                              "derived_by": "data/derive_flood_extent.py (sandbox.hazards.flood.bathtub)"},
               "geometry": json.loads(shapely.to_geojson(geometry))}
    text = json.dumps({"type": "FeatureCollection", "features": [feature]}, separators=(",", ":"))
    path.write_text(text + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dem", type=Path, default=SHARED_DATA / DEM, help="the NLS 10 m DEM GeoTIFF (L4133C)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into (default scenarios/)")
    parser.add_argument("--level", type=float, default=LEVEL_M, help="sea level in m N2000")
    parser.add_argument("--check", action="store_true", help="derive into a temporary folder and compare with "
                        "the files in --out; exit 1 when they differ")
    args = parser.parse_args(argv)
    if not args.dem.is_file():
        print(f"error: {args.dem}: not found; set SANDBOX_SHARED_DATA or pass --dem", file=sys.stderr)
        return 2
    if not args.check:
        print(json.dumps(derive(args.dem, args.out, args.level), indent=1))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        made = derive(args.dem, Path(tmp), args.level)
        differ = [name for name in made["files"] if sha256(Path(tmp) / name) != sha256(args.out / name)]
    print(json.dumps({**made, "differ": differ}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
