"""Small-cell suppression: aggregates of fewer than k households are hidden, marked as such, never shown as zero."""

from __future__ import annotations

import xarray as xr

DEFAULT_K = 5


def hidden_cells(*households: xr.DataArray, k: int = DEFAULT_K) -> xr.DataArray:
    """(group, zone) cells to hide: those where any of the given household counts (one per side of a comparison)
    is between 1 and ``k`` - 1. An empty cell reveals no one; a small one on either side would."""
    hidden = None
    for counts in households:
        small = (counts > 0) & (counts < k)
        hidden = small if hidden is None else hidden | small
    return hidden


def hide_small_counts(counts: xr.DataArray, *, k: int = DEFAULT_K) -> xr.DataArray:
    """A count of households or persons with every value between 1 and ``k`` - 1 hidden (NaN)."""
    return counts.where((counts >= k) | (counts == 0) | counts.isnull()).assign_attrs(counts.attrs)


def suppress(ds: xr.Dataset, *, k: int = DEFAULT_K) -> xr.Dataset:
    """One measure's result as it may be exported: household-level variables dropped, every zonal value of a
    (zone, group) cell with 1 to ``k`` - 1 households hidden, and a ``suppressed`` flag per cell."""
    hidden = hidden_cells(ds["households"], k=k)
    out = ds.drop_vars([name for name, var in ds.data_vars.items() if "household" in var.dims])
    out = out.drop_vars("household", errors="ignore")
    for name, var in out.data_vars.items():
        if "zone" in var.dims:
            out[name] = var.where(~hidden).assign_attrs(var.attrs)
    out["suppressed"] = hidden.assign_attrs(long_name=f"hidden: fewer than {k} households", units="1")
    out.attrs["k"] = k
    return out
