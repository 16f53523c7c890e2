"""flood_depth.tif: the flood depth grid as a Cloud-Optimized GeoTIFF, which QGIS, GDAL and web viewers read
tile by tile (even over HTTP) with overviews for zoomed-out views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

BLOCK_PX = 512


def write_depth_cog(depth: xr.DataArray, path: str | Path) -> Path:
    """Write water depth in metres (a grid with a CRS, as ``Twin.flood_depth``) as a Float32 COG, DEFLATE
    compressed, with dry cells (depth <= 0 or NaN) as nodata (NaN) so viewers draw only the water."""
    path = Path(path)
    wet = depth.where(depth > 0).astype(np.float32).rio.write_nodata(np.nan, encoded=False)
    wet.attrs.update(units="m", long_name="flood water depth")
    # DEFLATE level 1: a city's flood grid compresses twice as fast, and the file is a few per cent larger.
    wet.rio.to_raster(path, driver="COG", compress="DEFLATE", level=1, predictor="YES", blocksize=BLOCK_PX)
    return path
