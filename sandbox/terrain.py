"""Terrain: digital elevation models read with rioxarray and brought into the twin's CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling

from ._errors import DataError


def read_dem(path: str | Path, *, crs: str | int | None = None, to_crs: str | None = None,
             bbox: tuple[float, float, float, float] | None = None, resolution_m: float | None = None
             ) -> xr.DataArray:
    """Elevation in metres on a regular grid; nodata becomes NaN.

    Parameters
    ----------
    crs
        The file's CRS when it lacks one or states it wrongly.
    to_crs
        The twin's CRS; the DEM is reprojected (bilinear) when it differs.
    bbox
        (left, bottom, right, top) in ``to_crs`` to clip to, so a national sheet does not fill memory.
    resolution_m
        Target cell size when reprojecting; by default the source's, converted to metres.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a DEM GeoTIFF")
    try:
        dem = rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as a raster ({type(exc).__name__}); expected a GeoTIFF DEM") from exc
    if crs is not None:
        dem = dem.rio.write_crs(crs)
    if dem.rio.crs is None:
        raise DataError(f"{path}: the DEM has no CRS; pass crs= (for example crs=3067)")
    dem = dem.astype("float64")
    if to_crs is not None and dem.rio.crs.to_string() != str(to_crs):
        kwargs = {"resampling": Resampling.bilinear}
        if resolution_m is not None:
            kwargs["resolution"] = resolution_m
        elif not dem.rio.crs.is_projected:
            kwargs["resolution"] = _metres_per_cell(dem)
        dem = dem.rio.reproject(to_crs, nodata=np.nan, **kwargs)
    if bbox is not None:
        try:
            dem = dem.rio.clip_box(*bbox)
        except Exception as exc:  # rioxarray raises NoDataInBounds and OneDimensionalRaster
            raise DataError(f"{path}: the DEM does not cover the twin's extent {bbox}") from exc
    dem.name = "elevation_m"
    dem.attrs = {"units": "m", "long_name": "ground elevation", "source_file": path.name}
    return dem


def _metres_per_cell(dem: xr.DataArray) -> float:
    """Approximate cell size in metres of a lon/lat raster, at its centre latitude."""
    res_x, res_y = (abs(r) for r in dem.rio.resolution())
    lat = float(dem.y.mean())
    return round(max(res_x * 111_320 * np.cos(np.radians(lat)), res_y * 110_540), 2)
