"""Tables of a results tree for spreadsheets, pandas and GIS: indicators.csv (long form), zones.parquet (GeoParquet,
one row per zonal value with its polygon) and one indicator as a GeoDataFrame.

indicators.csv, as ``pd.read_csv(path)`` reads it: indicator, variable, units, group, side (text; side is empty for
the per-group equity counts), zone (float64: integer ids, empty on area-wide rows; pass ``dtype={"zone": "Int64"}``
for nullable integers), minutes (float64, empty where the variable has no threshold), value (float64, empty where
hidden or undefined; counts are written as integers) and suppressed (bool: the value is hidden by disclosure
control).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import xarray as xr

from .._errors import TwinError
from ..results import COUNT_UNITS, SIDES, indicator_names, is_count, zonal_variables, zones_frame

CSV_COLUMNS = ["indicator", "variable", "units", "group", "zone", "minutes", "side", "value", "suppressed"]
PARQUET_COLUMNS = ["indicator", "variable", "units", "group", "zone", "minutes", *SIDES, "suppressed", "geometry"]


def long_table(tree: xr.DataTree) -> pd.DataFrame:
    """Every published value of every indicator, one per row (:data:`CSV_COLUMNS`): zonal values with their zone,
    area-wide values per group with an empty zone, equity counts with an empty side too. Hidden values are NaN with
    ``suppressed`` true, so nobody mistakes a hidden cell for a missing one."""
    parts = []
    for key in indicator_names(tree):
        node = tree[key].to_dataset()
        for name, var in node.data_vars.items():
            if name == "suppressed":
                continue
            var = var.reset_coords(drop=True)
            frame = var.to_series().rename("value").reset_index()
            if "zone" in var.dims:
                hidden = node["suppressed"].reset_coords(drop=True).broadcast_like(var).transpose(*var.dims)
                frame["suppressed"] = hidden.to_numpy().ravel()
            else:
                frame["suppressed"] = frame["value"].isna() & is_count(var)
            parts.append(frame.assign(indicator=key, variable=name, units=var.attrs.get("units", "")))
    table = pd.concat(parts, ignore_index=True).reindex(columns=CSV_COLUMNS)
    return table.astype({"zone": "Int64", "minutes": "float64", "value": "float64", "suppressed": bool})


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`long_table` (or a table like it: a sweep's, several runs') so that counts read as whole numbers ("12", not "12.0") and every other value
    reads back as exactly the float it was (Python's shortest repr).

    Written column by column, each distinct text formatted once: pandas' ``to_csv`` took 18 s for the 4 million
    rows of a million-household town. The text is what ``to_csv`` wrote (minimal quoting, booleans as True/False,
    empty for missing)."""
    path = Path(path)
    counts = table["units"].isin(COUNT_UNITS).to_numpy()
    columns = [_values(table[name].to_numpy(float), counts) if name == "value" else _repeated(table[name])
               for name in table.columns]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(map(_field, table.columns)) + "\n")
        if len(table):
            out.write("\n".join(map(",".join, zip(*columns))) + "\n")
    return path


def _repeated(column: pd.Series) -> np.ndarray:
    """A column of few distinct values as CSV fields: each distinct value formatted once, missing ones empty."""
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    fields = np.array([*map(_field, distinct.tolist()), ""], dtype=object)
    return fields[codes]  # code -1 (missing) takes the last, empty field


def _field(value: object) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _values(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Counts that are whole as integers, other numbers as Python's repr, missing (hidden) ones empty."""
    fields = np.full(len(values), "", dtype=object)
    whole = counts & np.isfinite(values) & (np.floor(values) == values)
    rest = ~np.isnan(values) & ~whole
    fields[whole] = list(map(str, values[whole].astype(np.int64).tolist()))
    fields[rest] = list(map(repr, values[rest].tolist()))
    return fields


def zones_geoparquet(tree: xr.DataTree) -> gpd.GeoDataFrame:
    """The zonal values of every indicator (:data:`PARQUET_COLUMNS`), one row per indicator, variable, group,
    threshold and zone, with baseline, scenario and change side by side and the zone's polygon in the twin's CRS.
    ``minutes`` is NaN for variables without a threshold; hidden values are NaN with ``suppressed`` true."""
    zones = zones_frame(tree)
    parts = []
    for key in indicator_names(tree):
        node = tree[key].to_dataset()
        hidden = node["suppressed"].reset_coords(drop=True).to_series().rename("suppressed")
        for name in zonal_variables(node):
            var = node[name].reset_coords(drop=True)
            frame = var.to_dataset(dim="side").to_dataframe().reset_index()
            frame = frame.join(hidden, on=["group", "zone"])
            parts.append(frame.assign(indicator=key, variable=name, units=var.attrs.get("units", "")))
    table = pd.concat(parts, ignore_index=True).reindex(columns=PARQUET_COLUMNS[:-1])
    table = table.astype({"zone": "int64", "minutes": "float64", **dict.fromkeys(SIDES, "float64"),
                          "suppressed": bool})
    return gpd.GeoDataFrame(table, geometry=zones.geometry.reindex(table["zone"]).to_numpy(), crs=zones.crs)


def write_geoparquet(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write :func:`zones_geoparquet` as GeoParquet 1.0 (WKB geometry, CRS and bounding box in the ``geo``
    metadata), which QGIS, DuckDB and ``gpd.read_parquet`` open directly.

    Each zone's polygon is encoded once and repeated on its rows (a million-household town's 1.3 million rows share
    22,000 polygons; encoding every row took 2 s)."""
    path = Path(path)
    geometries = np.asarray(frame.geometry.values, dtype=object)
    _, first, shared = np.unique(np.fromiter(map(id, geometries), np.int64, len(geometries)), return_index=True,
                                 return_inverse=True)
    wkb = shapely.to_wkb(geometries[first], output_dimension=2)
    table = pa.Table.from_pandas(pd.DataFrame(frame.drop(columns=frame.geometry.name)), preserve_index=False)
    table = table.append_column(frame.geometry.name, pa.array(wkb[shared.ravel()], type=pa.binary()))
    present = geometries[first][~shapely.is_missing(geometries[first])]
    geo = {"version": "1.0.0", "primary_column": frame.geometry.name,
           "columns": {frame.geometry.name: {
               "encoding": "WKB", "geometry_types": sorted(set(gpd.GeoSeries(present).geom_type)),
               "crs": None if frame.crs is None else frame.crs.to_json_dict(),
               "bbox": [float(v) for v in shapely.total_bounds(present)] if len(present) else []}}}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()})
    pq.write_table(table, path)
    return path


def to_geodataframe(tree: xr.DataTree, indicator: str, *, group: str,
                    minutes: float | None = None) -> gpd.GeoDataFrame:
    """One indicator for one group and threshold, indexed by zone: ``<variable>_<side>`` for its zonal variables,
    ``suppressed`` and the zone polygons; counts are nullable integers (NA where hidden), ready for ``.explore()``
    or a spatial join. ``minutes`` is needed only when the indicator has several thresholds."""
    names = indicator_names(tree)
    if indicator not in names:
        raise TwinError(f"indicator: unknown '{indicator}'; expected one of {', '.join(names)}")
    node = tree[indicator].to_dataset()
    groups = [str(g) for g in node["group"].to_numpy()]
    if group not in groups:
        raise TwinError(f"group: '{group}' was not computed for {indicator}; expected one of {', '.join(groups)}")
    thresholds = node["minutes"].to_numpy()
    choices = ", ".join(f"{m:g}" for m in thresholds)
    if minutes is None and len(thresholds) > 1:
        raise TwinError(f"minutes: {indicator} has several thresholds; expected one of {choices}")
    minutes = float(thresholds[0] if minutes is None else minutes)
    if minutes not in thresholds:
        raise TwinError(f"minutes: {minutes:g} was not computed for {indicator}; expected one of {choices}")
    columns = {}
    for name in zonal_variables(node):
        var = node[name].sel(group=group)
        if "minutes" in var.dims:
            var = var.sel(minutes=minutes)
        for side in SIDES:
            columns[f"{name}_{side}"] = column(var.sel(side=side))
    columns["suppressed"] = node["suppressed"].sel(group=group).to_numpy()
    zones = zones_frame(tree)
    index = pd.Index(node["zone"].to_numpy(), name="zone")
    return gpd.GeoDataFrame(columns, index=index, geometry=zones.geometry.reindex(index).to_numpy(), crs=zones.crs)


def column(var: xr.DataArray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A variable's values as a table column: counts as nullable integers (NA where hidden), the rest as floats."""
    values = var.to_numpy()
    return pd.array(values, dtype="Float64").astype("Int64") if is_count(var) else values
