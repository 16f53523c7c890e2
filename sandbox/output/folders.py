"""Run, access and comparison folders: which files each holds, written into a staging folder by the caller."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from .._errors import DataError, writing
from .._io import staged_folder
from ..privacy import DEFAULT_K, suppress
from ..results import is_count
from ..twin import Twin
from .maps import access_map, access_page
from .layers import write_layers
from .netcdf import write_results
from .raster import write_depth_cog
from .tables import long_table, write_csv, write_geoparquet, zones_geoparquet


def write_run_files(staging: Path, *, results: xr.DataTree, summary: dict[str, Any],
                    extra_layers: dict[str, gpd.GeoDataFrame], report: str, flood_depth: xr.DataArray | None,
                    microdata: pd.DataFrame | None, baseline: Twin, variant: Twin,
                    changes: gpd.GeoDataFrame | None) -> None:
    """Every file of a run folder but the manifest: results.nc, indicators.csv, zones.parquet, layers.gpkg,
    summary.json, report.html, map-<indicator>.png (static maps of the ``baseline`` and ``variant`` twins, what
    ``changes`` outlined), flood_depth.tif (floods), households.csv (only when microdata is given)."""
    from .figures import write_figures  # matplotlib, loaded only when a run folder is written

    write_results(results, staging / "results.nc")
    write_csv(long_table(results), staging / "indicators.csv")
    write_geoparquet(zones_geoparquet(results), staging / "zones.parquet")
    write_layers(staging / "layers.gpkg", results, extra_layers)
    write_json(staging / "summary.json", summary)
    (staging / "report.html").write_text(report, encoding="utf-8")
    write_figures(staging, results, baseline=baseline, variant=variant, changes=changes)
    if flood_depth is not None:
        write_depth_cog(flood_depth, staging / "flood_depth.tif")
    if microdata is not None:
        microdata.to_csv(staging / "households.csv")


def write_json(path: Path, data: Any) -> None:
    """JSON with numpy numbers as plain numbers, indented for people."""
    path.write_text(json.dumps(data, indent=2, default=_plain), encoding="utf-8")


def read_summary(folder: str | Path) -> dict[str, Any]:
    """summary.json of a run folder."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise DataError(f"{folder}: not a run folder (no summary.json); expected a folder written by `sandbox run`")
    return json.loads(path.read_text(encoding="utf-8"))


def write_access(folder: str | Path, twin: Twin, ds: xr.Dataset, *, group: str, k: int = DEFAULT_K,
                 versions: dict[str, str | None] | None = None) -> Path:
    """An accessibility folder: access.html (offline, a map per threshold), access.gpkg and access.csv (zones,
    small cells hidden) and manifest.json (what was computed, from what). Household values are not written."""
    zone_map = access_map(twin, ds, group=group, k=k)
    table = access_table(twin, ds, k=k)
    manifest = {
        "what": zone_map.title, "measure": ds.attrs["measure"], "to": ds.attrs["to"], "mode": ds.attrs["mode"],
        "groups": [str(g) for g in ds["group"].to_numpy()], "minutes": ds["minutes"].to_numpy().tolist(),
        "k": k, "twin": twin.name, "twin_fingerprint": twin.fingerprint(), "packages": versions or {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "data": zone_map.credits,
        **_transit_attrs(ds.attrs),
    }
    with writing(folder), staged_folder(folder) as staging:
        (staging / "access.html").write_text(access_page(twin, ds, group=group, k=k), encoding="utf-8")
        table.to_file(staging / "access.gpkg", layer="access", engine="pyogrio")
        table.drop(columns="geometry").to_csv(staging / "access.csv")
        write_json(staging / "manifest.json", manifest)
    return Path(folder)


def write_matrix(folder: str | Path, table: pd.DataFrame, manifest: dict[str, Any]) -> Path:
    """An OD folder: matrix.parquet (from_id, to_id, travel_time_s; empty where unreached) and manifest.json."""
    with writing(folder), staged_folder(folder) as staging:
        table.to_parquet(staging / "matrix.parquet", index=False)
        write_json(staging / "manifest.json", {**manifest, **_transit_attrs(table.attrs)})
    return Path(folder)


def write_isochrones(folder: str | Path, frame: gpd.GeoDataFrame, manifest: dict[str, Any]) -> Path:
    """An isochrone folder: isochrones.gpkg, isochrones.parquet (GeoParquet; one polygon per threshold, in
    lon/lat) and manifest.json."""
    manifest = {**manifest, **_transit_attrs(frame.attrs)}
    frame = frame.to_crs(4326)
    with writing(folder), staged_folder(folder) as staging:
        frame.to_file(staging / "isochrones.gpkg", layer="isochrones", engine="pyogrio")
        write_geoparquet(frame, staging / "isochrones.parquet")
        write_json(staging / "manifest.json", manifest)
    return Path(folder)


def _transit_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """A transit result's percentile, window, date and limits, for a manifest."""
    options = {k.removeprefix("transit_"): v for k, v in attrs.items() if k.startswith("transit_")}
    return {"transit": options} if options else {}


def access_table(twin: Twin, ds: xr.Dataset, *, k: int = DEFAULT_K) -> gpd.GeoDataFrame:
    """Zones with one column per zonal variable, group and threshold (``share_reaching_elderly_10min``), small
    cells NULL and flagged in ``suppressed_<group>``; counts as integers."""
    safe = suppress(ds, k=k)
    columns: dict[str, pd.Series] = {}
    for name, var in safe.data_vars.items():
        if "zone" not in var.dims:
            continue
        for group in safe["group"].to_numpy():
            part = var.sel(group=group)
            for minutes in part["minutes"].to_numpy() if "minutes" in part.dims else [None]:
                values = part if minutes is None else part.sel(minutes=minutes)
                column = f"{name}_{group}" + ("" if minutes is None else f"_{minutes:g}min")
                series = values.to_pandas()
                columns[column] = series.round().astype("Int64") if is_count(var) else series
    zones = twin.layers["zones"]
    table = pd.DataFrame(columns, index=pd.Index(safe["zone"].to_numpy(), name="zone_id"))
    return gpd.GeoDataFrame(table, geometry=zones.geometry.reindex(table.index).values, crs=zones.crs)


def write_comparison(folder: str | Path, *, page: str, results: xr.DataTree) -> Path:
    """A comparison folder: compare.html (tables and a map with a scenario selector) and compare.csv (long)."""
    with writing(folder), staged_folder(folder) as staging:
        (staging / "compare.html").write_text(page, encoding="utf-8")
        # One row per run and value: the "side" column names the run (baseline first).
        by_run = results.map_over_datasets(lambda ds: ds.rename({"scenario": "side"}) if "scenario" in ds.dims
                                           else ds)
        write_csv(long_table(by_run), staging / "compare.csv")
    return Path(folder)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
