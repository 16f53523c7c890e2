"""Small-cell suppression: aggregates of fewer than k households are hidden, marked as such, never shown as zero."""

from __future__ import annotations

import xarray as xr

DEFAULT_K = 5


def suppress(ds: xr.Dataset, *, k: int = DEFAULT_K, households: xr.DataArray | None = None) -> xr.Dataset:
    """Hide every zonal value whose (zone, group) cell holds fewer than ``k`` households.

    The household-level variables (dimension ``household``) are dropped, so the result is safe to export. Pass
    ``households`` (e.g. the largest count over several scenarios) to hide the same cells in every layer that will
    be published together, so subtracting one layer from another reveals nothing.
    """
    counts = ds["households"] if households is None else households
    hidden = counts < k
    out = ds.drop_vars([name for name, var in ds.data_vars.items() if "household" in var.dims])
    out = out.drop_vars("household", errors="ignore")
    for name, var in out.data_vars.items():
        if "zone" in var.dims and name != "suppressed":
            out[name] = var.where(~hidden)
    out["suppressed"] = hidden.assign_attrs(long_name=f"hidden: fewer than {k} households", units="1")
    out.attrs["k"] = k
    return out
