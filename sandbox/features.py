"""What a scenario can name: a twin's facilities, buildings, parks and stops with their ids, kinds and lon/lat.

A planner writing ``close_facility: ids: [16]`` or ``remove_buildings: ids: [382]`` needs the ids the twin uses;
:func:`list_features` lists them (``sandbox layers``), filtered by kind and by distance from a point.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import TwinError
from .privacy import DEFAULT_K, complete, small
from .twin import Twin

__all__ = ["LAYERS", "FeatureLayer", "building_kinds", "list_features", "parse_lonlat"]

OUTSIDE_MARGIN_M = 50.0  # as a scenario's `at`: a point this close to the twin's extent still counts as inside


@dataclass(frozen=True)
class FeatureLayer:
    """A listable layer: the twin's layer behind it, the name of its ids and what in a scenario takes them."""

    layer: str
    id_name: str
    named_by: str
    extras: tuple[str, ...]


LAYERS: dict[str, FeatureLayer] = {
    "facilities": FeatureLayer("facilities", "facility_id",
                               "close_facility takes it as ids (or the name as names)", ("category", "capacity")),
    "buildings": FeatureLayer("buildings", "building_id", "remove_buildings takes it as ids",
                              ("levels", "residential", "households")),
    "parks": FeatureLayer("parks", "park_id", "remove_park takes it as ids (or the name as names)", ("area_m2",)),
    "stops": FeatureLayer("transit_stops", "stop_id", "kind is the mode an indicator reaches (to: tram)", ()),
}


def parse_lonlat(text: str, option: str = "near") -> tuple[float, float]:
    """``"24.9384,60.1699"`` as (lon, lat) in degrees, so a command line can give a point in one word."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise TwinError(f"{option}: '{text}' is not LON,LAT; expected two numbers in degrees, "
                        f"e.g. 24.9384,60.1699") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise TwinError(f"{option}: '{text}' is not LON,LAT; expected longitude -180..180 and latitude -90..90 "
                        f"in degrees, e.g. 24.9384,60.1699")
    return lon, lat


def list_features(twin: Twin, layer: str, *, kind: str | None = None, near: tuple[float, float] | None = None,
                  within_m: float | None = None) -> pd.DataFrame:
    """The features of one layer with the ids a scenario names them by, to look before editing the twin.

    Parameters
    ----------
    twin
        The twin to look at.
    layer
        ``facilities``, ``buildings``, ``parks`` or ``stops`` (the ``transit_stops`` layer).
    kind
        Only features of this kind: a facility kind (care, grocery, ...), a park kind, a stop's mode (tram,
        bus, ...), or for buildings the OSM ``building`` tag, where an untyped building (``yes``) is
        ``residential`` if the twin counts it as homes (its ``residential`` flag) and ``other`` if not.
    near
        (longitude, latitude) in degrees: adds ``distance_m`` (metres from the point to the feature's shape) and
        sorts by it.
    within_m
        With ``near``: only features at most this far from the point.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``id``, ``name``, ``kind``, ``lon``, ``lat`` (WGS84, 6 decimals; a point inside
        polygons), the layer's extras (facilities: ``category``, ``capacity``; buildings: ``levels``,
        ``residential``, ``households``; parks: ``area_m2``), and ``distance_m`` with ``near``. Sorted by id,
        or by distance. ``attrs`` holds ``layer`` and ``id_name``.

    Raises
    ------
    TwinError
        One line naming the option: an unknown layer or kind, ``within_m`` without ``near``, a point outside
        the twin.
    """
    spec = LAYERS.get(layer)
    if spec is None:
        raise TwinError(f"layer: unknown '{layer}'; expected one of {', '.join(LAYERS)}")
    if spec.layer not in twin.layers:
        raise TwinError(f"layer: the twin '{twin.name}' has no {spec.layer} layer; expected one of "
                        f"{', '.join(k for k, v in LAYERS.items() if v.layer in twin.layers)}")
    if within_m is not None and near is None:
        raise TwinError("within: a distance needs a point; expected --near LON,LAT as well")
    if within_m is not None and not (math.isfinite(within_m) and within_m > 0):
        raise TwinError(f"within: {within_m:g} m; expected a distance in metres greater than 0")
    frame = twin.layers[spec.layer]
    kinds = _kinds(layer, frame)
    if kind is not None:
        if kind not in set(kinds):
            raise TwinError(f"kind: no {layer} of kind '{kind}'{_did_you_mean(kind, kinds)}; expected one of "
                            f"{', '.join(f'{k} ({n})' for k, n in kinds.value_counts().sort_index().items())}")
        frame, kinds = frame[kinds == kind], kinds[kinds == kind]
    points = frame.geometry.where(frame.geom_type == "Point", frame.geometry.representative_point())
    lonlat = gpd.GeoSeries(points, crs=twin.crs).to_crs(4326)
    names = frame["name"] if "name" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    table = pd.DataFrame({
        "id": frame.index.to_numpy(dtype=np.int64),
        "name": [None if pd.isna(name) else str(name) for name in names],
        "kind": kinds.to_numpy(),
        "lon": lonlat.x.round(6).to_numpy(), "lat": lonlat.y.round(6).to_numpy()})
    for column, values in _extras(twin, spec, frame).items():
        table[column] = values
    if near is not None:
        point = _point_in_twin(twin, near)
        table["distance_m"] = frame.geometry.distance(point).round(1).to_numpy()
        if within_m is not None:
            table = table[table["distance_m"] <= within_m]
        table = table.sort_values(["distance_m", "id"], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs.update(layer=layer, id_name=spec.id_name)
    return table


def building_kinds(buildings: gpd.GeoDataFrame) -> pd.Series:
    """Each building's kind as ``sandbox layers`` shows it: the OSM ``building`` tag, an untyped one (``yes``)
    being ``residential`` or ``other`` by the twin's residential flag, since "yes" says nothing to a planner."""
    tag = buildings["building"].fillna("yes").astype(str)
    return tag.where(tag != "yes", np.where(buildings["residential"].astype(bool), "residential", "other"))


def _kinds(layer: str, frame: gpd.GeoDataFrame) -> pd.Series:
    """Each feature's kind (see :func:`list_features`)."""
    if layer == "stops":
        return frame["mode"].astype(str)
    if layer == "buildings":
        return building_kinds(frame)
    return frame["kind"].astype(str)


def _extras(twin: Twin, spec: FeatureLayer, frame: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """The layer's extra columns; ``households`` counted from the twin's households."""
    out = {}
    for column in spec.extras:
        if column == "households":
            out[column] = building_households(twin, frame.index)
        elif column == "residential":
            out[column] = frame[column].astype(bool).to_numpy()
        elif column == "area_m2":
            out[column] = frame[column].astype(float).round(1).to_numpy()
        elif column in frame:
            out[column] = frame[column].to_numpy()
    return out


def building_households(twin: Twin, ids: pd.Index, *, k: int = DEFAULT_K) -> pd.arrays.IntegerArray:
    """Households per building, as a planner may see them: counts of 1 to ``k`` - 1 hidden (NA), and more buildings
    hidden with them where the twin's total less the shown buildings would give a hidden one away."""
    everyone = twin.households.groupby("building_id").size().reindex(twin.layers["buildings"].index, fill_value=0)
    counts = everyone.to_numpy(dtype=float)[None, :]
    hidden, _ = complete(small(counts, k), [(counts, np.ones(1, bool))], k=k)
    shown = pd.Series(pd.array(everyone.to_numpy(), dtype="Int64"), index=everyone.index).mask(hidden[0])
    return shown.reindex(ids).array


def _did_you_mean(word: str, choices: pd.Series) -> str:
    close = difflib.get_close_matches(word.casefold(), sorted(set(choices)), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _point_in_twin(twin: Twin, near: tuple[float, float]) -> shapely.Point:
    """``near`` in the twin's CRS, or a TwinError when it misses the twin's extent."""
    lon, lat = near
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise TwinError(f"near: ({lon:g}, {lat:g}) is not lon/lat; expected longitude -180..180 and latitude -90..90")
    point = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(twin.crs).iloc[0]
    extent = shapely.box(*twin.extent)
    if extent.distance(point) > OUTSIDE_MARGIN_M:
        left, bottom, right, top = gpd.GeoSeries([extent], crs=twin.crs).to_crs(4326).total_bounds
        raise TwinError(f"near: {lon:g},{lat:g} lies outside the twin '{twin.name}'; expected a point within "
                        f"lon {left:.4f}..{right:.4f}, lat {bottom:.4f}..{top:.4f}")
    return point
