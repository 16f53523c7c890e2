"""The results model: one xarray DataTree per run, a node per indicator, CF attributes, zone geometry inside.

The root holds what every indicator shares: the ``zone`` and ``group`` coordinates, the zones' polygons as a CF
geometry container (so a results file stands alone in any CF reader) and the CF global attributes. Each child node,
named by the indicator's key (``nearest-care-walk``), holds that indicator's variables over ``side`` (baseline,
scenario, change), ``group``, ``zone`` and ``minutes``; every variable has ``units`` and ``long_name``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import xarray as xr

BASELINE, SCENARIO, CHANGE = "baseline", "scenario", "change"
SIDES = (BASELINE, SCENARIO, CHANGE)
CONVENTIONS = "CF-1.10"
COUNT_UNITS = ("households", "persons")  # variables in these units are whole numbers
GEOMETRY = "zone_geometry"
GEOMETRY_VARIABLES = (GEOMETRY, "zone_crs", "zone_node_count", "zone_node_x", "zone_node_y", "zone_x", "zone_y")
MINUTES_ATTRS = {"units": "min", "long_name": "travel time threshold", "standard_name": ""}
ZONE_ATTRS = {"long_name": "zone id (cell of the twin's aggregation grid)", "cf_role": "timeseries_id"}
GROUP_ATTRS = {"long_name": "social group (all residents, elderly 65+, elderly living alone, children under 18, ...)"}
SIDE_ATTRS = {"long_name": "baseline (today), scenario, or change (scenario minus baseline)"}


def zone_geometry(zones: gpd.GeoDataFrame) -> xr.Dataset:
    """The zones' polygons as a CF-1.10 geometry container over ``zone`` (nodes in the twin's projected CRS).

    cf_xarray encodes the polygons (node coordinates, node counts); the ``zone_crs`` grid mapping carries the CRS as
    WKT, so QGIS, GDAL and cf_xarray readers place the zones without any other file.
    """
    import cf_xarray

    encoded = cf_xarray.shapely_to_cf(np.asarray(zones.geometry.values, dtype=object), grid_mapping="zone_crs")
    encoded = encoded.rename({"index": "zone", "node": "zone_node", "x": "zone_node_x", "y": "zone_node_y",
                              "crd_x": "zone_x", "crd_y": "zone_y", "node_count": "zone_node_count",
                              "geometry_container": GEOMETRY})
    encoded[GEOMETRY].attrs.update(node_count="zone_node_count", node_coordinates="zone_node_x zone_node_y",
                                   grid_mapping="zone_crs")
    encoded[GEOMETRY].attrs.pop("coordinates", None)
    encoded[GEOMETRY].encoding["coordinates"] = "zone_x zone_y"  # written to the file; xarray reads it back here
    encoded = encoded.assign_coords(zone=("zone", zones.index.to_numpy(), ZONE_ATTRS))
    crs = pyproj.CRS.from_user_input(zones.crs)
    encoded["zone_crs"] = xr.DataArray(np.int32(0), attrs={**crs.to_cf(), "long_name": "CRS of the zones",
                                                            "units": "1"})
    encoded[GEOMETRY].attrs.update(long_name="zone polygons (CF geometry container)", units="1")
    for axis, name in (("x", "zone_node_x"), ("y", "zone_node_y")):
        encoded[name].attrs.update(units="m", axis=axis.upper(), standard_name=f"projection_{axis}_coordinate")
    for name, what in (("zone_x", "x"), ("zone_y", "y")):
        encoded[name].attrs.update(units="m", long_name=f"representative {what} of the zone")
    encoded["zone_node_count"].attrs.update(long_name="nodes in each zone's polygon", units="1")
    return encoded


def zones_frame(results: xr.DataTree | xr.Dataset) -> gpd.GeoDataFrame:
    """The zone polygons of a results tree (or its root Dataset), decoded from the CF geometry container."""
    import cf_xarray

    root = results.to_dataset() if isinstance(results, xr.DataTree) else results
    parts = root[[name for name in GEOMETRY_VARIABLES if name in root.variables]]
    decoded = cf_xarray.cf_to_shapely(parts, container=GEOMETRY)
    crs = pyproj.CRS.from_cf(root["zone_crs"].attrs)
    return gpd.GeoDataFrame(geometry=np.asarray(decoded.values), index=root["zone"].to_index(), crs=crs)


def indicator_names(results: xr.DataTree) -> list[str]:
    """The indicators of a results tree, in the order the scenario lists them."""
    return list(results.children)


def zonal_variables(node: xr.Dataset | xr.DataTree) -> list[str]:
    """Variables with a value per zone (what maps, layers and tables show), besides the suppression flags."""
    return [name for name, var in node.data_vars.items() if "zone" in var.dims and name != "suppressed"]


def is_count(variable: xr.DataArray) -> bool:
    """Whether a variable counts households or persons (whole numbers, stored as integers where possible)."""
    return variable.attrs.get("units") in COUNT_UNITS
