"""results.nc: the results tree as CF NetCDF-4 (HDF5 groups, one per indicator), readable by xarray, QGIS, Panoply
and any netCDF-4 tool, and read back here as the very same tree."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from .._errors import DataError
from ..results import GEOMETRY

ENGINE = "h5netcdf"


def write_results(tree: xr.DataTree, path: str | Path) -> Path:
    """Write a results tree to ``path`` (NetCDF-4); the same tree always gives the same bytes, so a file's checksum
    says whether a rerun changed anything. Uncompressed: zone tables are small, and HDF5's chunks for compression
    made the file larger, not smaller."""
    path = Path(path)
    tree.to_netcdf(path, engine=ENGINE)
    return path


def open_results(path: str | Path) -> xr.DataTree:
    """The results tree written by :func:`write_results`, loaded into memory (the file is closed on return, so it
    can be moved or overwritten)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a results.nc written by a run")
    try:
        with xr.open_datatree(path, engine=ENGINE) as opened:
            tree = opened.load()
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise DataError(f"{path}: not a NetCDF-4 file ({reason}); expected a results.nc written by a run") from None
    if "zone" not in tree.coords or GEOMETRY not in tree.variables:
        raise DataError(f"{path}: no zones in it; expected a results.nc written by a run (zone coordinate and "
                        f"{GEOMETRY})")
    return tree
