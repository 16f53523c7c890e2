"""Writing results: folders that appear whole or not at all, and zone tables that are safe to publish."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from . import __version__
from .privacy import DEFAULT_K, suppress
from .twin import Twin


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Write into a hidden sibling folder and move it into place only when the block succeeds, so a failed or
    interrupted run leaves nothing half-written (an existing folder of the same name is replaced)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield staging
        staging.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def zone_table(twin: Twin, ds: xr.Dataset, *, k: int = DEFAULT_K,
               households: xr.DataArray | None = None) -> gpd.GeoDataFrame:
    """Zones with one column per zonal indicator, group and time threshold, small cells hidden (NaN) and flagged.

    Column names read like ``share_reaching_elderly_10min``; ``suppressed_<group>`` is true where fewer than
    ``k`` households of the group live (or of ``households``, to hide the same cells in several tables).
    """
    safe = suppress(ds, k=k, households=households)
    columns: dict[str, np.ndarray] = {}
    for name, var in safe.data_vars.items():
        if "zone" not in var.dims:
            continue
        for group in safe["group"].to_numpy():
            part = var.sel(group=group)
            if "minutes" in part.dims:
                for minutes in part["minutes"].to_numpy():
                    columns[f"{name}_{group}_{minutes:g}min"] = part.sel(minutes=minutes).to_numpy()
            else:
                columns[f"{name}_{group}"] = part.to_numpy()
    zones = twin.layers["zones"]
    table = pd.DataFrame(columns, index=pd.Index(safe["zone"].to_numpy(), name="zone_id"))
    return gpd.GeoDataFrame(table, geometry=zones.geometry.reindex(table.index).values, crs=zones.crs)


def write_access(twin: Twin, ds: xr.Dataset, folder: str | Path, *, group: str, minutes: float | None = None,
                 k: int = DEFAULT_K) -> Path:
    """An accessibility folder: ``access.html`` (offline map), ``access.gpkg`` and ``access.csv`` (zones, small
    cells hidden) and ``manifest.json`` (what was computed, from what). Household values are not written."""
    from .maps import access_map, write_html

    zone_map = access_map(twin, ds, group=group, minutes=minutes, k=k)
    table = zone_table(twin, ds, k=k)
    with staged_folder(folder) as staging:
        write_html(zone_map, staging / "access.html")
        table.to_file(staging / "access.gpkg", layer="access", engine="pyogrio")
        table.drop(columns="geometry").to_csv(staging / "access.csv")
        manifest = {
            "what": zone_map.title, "measure": ds.attrs["measure"], "to": ds.attrs["to"], "mode": ds.attrs["mode"],
            "groups": [str(g) for g in ds["group"].to_numpy()], "minutes": ds["minutes"].to_numpy().tolist(),
            "k": k, "twin": twin.name, "twin_fingerprint": twin.fingerprint(), "sandbox_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "data": zone_map.credits,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return Path(folder)


def write_comparison(comparison: Any, folder: str | Path, *, k: int = DEFAULT_K) -> Path:
    """A comparison folder: ``compare.html`` (a table and a map with a scenario selector) and ``compare.csv``."""
    from .catalog import load_twin
    from .report import render_comparison

    twin = load_twin(comparison.twin_reference)
    page = render_comparison(comparison, twin, k=k)
    with staged_folder(folder) as staging:
        (staging / "compare.html").write_text(page, encoding="utf-8")
        table = comparison.results.drop_vars([v for v in comparison.results.data_vars
                                              if "zone" not in comparison.results[v].dims])
        table.to_dataframe().reset_index().to_csv(staging / "compare.csv", index=False)
    return Path(folder)
