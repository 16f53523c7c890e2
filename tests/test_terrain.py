"""DEM reading: reprojection into the twin CRS, nodata, clipping and errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from rasterio.transform import from_origin

from sandbox import DataError
from sandbox.terrain import read_dem


def write_dem(path, values: np.ndarray, *, crs: str | None = "EPSG:3067", left=385_000.0, top=6_672_000.0,
              cell=10.0, nodata=None) -> None:
    """A GeoTIFF with the given values, north-up, written with rioxarray."""
    rows, cols = values.shape
    dem = xr.DataArray(values.astype("float32"), dims=("y", "x"),
                       coords={"y": top - cell * (np.arange(rows) + 0.5), "x": left + cell * (np.arange(cols) + 0.5)})
    dem = dem.rio.write_transform(from_origin(left, top, cell, cell))
    if crs:
        dem = dem.rio.write_crs(crs)
    if nodata is not None:
        dem = dem.rio.write_nodata(nodata)
    dem.rio.to_raster(path)


def test_values_nodata_and_clip(tmp_path):
    values = np.arange(100, dtype=float).reshape(10, 10)
    values[0, 0] = -9999
    write_dem(tmp_path / "dem.tif", values, nodata=-9999)
    dem = read_dem(tmp_path / "dem.tif")
    assert dem.shape == (10, 10) and np.isnan(dem.values[0, 0]) and dem.values[9, 9] == 99
    assert dem.attrs["units"] == "m"
    clipped = read_dem(tmp_path / "dem.tif", bbox=(385_000, 6_671_950, 385_030, 6_672_000))
    assert clipped.shape[0] <= 6 and clipped.shape[1] <= 4


def test_reprojection_keeps_heights(tmp_path):
    ramp = np.tile(np.linspace(0, 9, 10), (10, 1))  # rises 1 m per 10 m cell to the east
    write_dem(tmp_path / "ramp.tif", ramp)
    dem = read_dem(tmp_path / "ramp.tif", to_crs="EPSG:32635")
    assert dem.rio.crs.to_string() == "EPSG:32635"
    assert np.nanmin(dem.values) >= -0.01 and np.nanmax(dem.values) <= 9.01
    assert abs(dem.rio.resolution()[0]) == pytest.approx(10, rel=0.05)


def test_missing_crs_file_and_garbage_are_data_errors(tmp_path):
    write_dem(tmp_path / "nocrs.tif", np.zeros((3, 3)), crs=None)
    with pytest.raises(DataError, match="nocrs.tif: the DEM has no CRS; pass crs="):
        read_dem(tmp_path / "nocrs.tif")
    assert read_dem(tmp_path / "nocrs.tif", crs=3067).rio.crs.to_epsg() == 3067
    with pytest.raises(DataError, match="absent.tif: file not found"):
        read_dem(tmp_path / "absent.tif")
    (tmp_path / "junk.tif").write_text("not a raster")
    with pytest.raises(DataError, match="junk.tif: cannot read as a raster"):
        read_dem(tmp_path / "junk.tif")
    write_dem(tmp_path / "far.tif", np.zeros((3, 3)))
    with pytest.raises(DataError, match="does not cover"):
        read_dem(tmp_path / "far.tif", bbox=(0, 0, 10, 10))


def test_real_lon_lat_dem_is_reprojected_to_metres(shared_data):
    dem = read_dem(shared_data / "dem" / "elevation_model_2021_lapinlahti.tif", to_crs="EPSG:3067")
    assert dem.rio.crs.to_epsg() == 3067
    assert 0.5 <= abs(dem.rio.resolution()[0]) <= 2.0  # 0.84 x 1.7 m source cells
    assert -0.5 <= np.nanmin(dem.values) and np.nanmax(dem.values) <= 11.5


def test_real_national_dem_covers_the_market_square(shared_data):
    dem = read_dem(shared_data / "dem" / "L4133C_dem10m_epsg3067.tif",
                   bbox=(386_000, 6_671_450, 386_480, 6_672_000))
    assert abs(dem.shape[0] - 56) <= 1 and abs(dem.shape[1] - 49) <= 1
    assert 0.2 <= np.nanmin(dem.values) <= 0.3  # the sea surface is stored as about 0.25 m
    assert np.nanmax(dem.values) <= 22.5
