"""What a scenario changed, as map features: new and removed buildings, parks, facilities and stops, closed or
slowed streets, flooded buildings."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from ..twin import Twin

LAYERS = (("buildings", "building"), ("parks", "park"), ("facilities", "facility"), ("transit_stops", "transit stop"))


def changes_layer(baseline: Twin, variant: Twin, *, flooded_buildings: gpd.GeoDataFrame | None = None
                  ) -> gpd.GeoDataFrame:
    """One row per changed feature with ``change`` ('new park', 'walk street closed', ...), ``name`` (None when
    it has none) and the feature's id in its layer, so a planner can name it in a scenario file."""
    rows = []
    for layer, label in LAYERS:
        before, after = baseline.layers[layer], variant.layers[layer]
        for change, frame, ids in ((f"new {label}", after, after.index.difference(before.index)),
                                   (f"removed {label}", before, before.index.difference(after.index))):
            for index in ids:
                rows.append({"change": change, "name": _name(frame.loc[index].get("name")), "id": int(index),
                             "geometry": frame.geometry.loc[index]})
    for mode, factors in variant.edge_factors.items():
        old = baseline.travel_time_factors(mode)
        changed = np.flatnonzero(factors != old)
        if len(changed):
            net = variant.networks[mode]
            for i in changed:
                rows.append({"change": f"{mode} street {'closed' if np.isinf(factors[i]) else 'slowed'}",
                             "name": _name(net.names[i]), "id": int(net.osmids[i]), "geometry": net.geometry[i]})
    if flooded_buildings is not None:
        for index, row in flooded_buildings.iterrows():
            rows.append({"change": "flooded building", "name": f"{row['max_depth_m']:.2f} m of water",
                         "id": int(index), "geometry": row.geometry})
    frame = pd.DataFrame(rows, columns=["change", "name", "id", "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=baseline.crs)


def _name(value: object) -> str | None:
    """A feature's name, or None: never the string 'nan'."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else str(value)
