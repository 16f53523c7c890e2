"""A tiny twin built in code: a 4 x 4 street grid of 100 m blocks, a few buildings, one park, one clinic,
households at known places. Distances in it can be worked out by hand."""

from __future__ import annotations

import datetime
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sandbox import Twin, layers
from sandbox.network import MODES, Speeds, build_network
from sandbox.timetable import Timetable

from .test_raptor import arrays_of

CRS = "EPSG:3067"
ORIGIN = (385_000.0, 6_672_000.0)
BLOCK_M = 100.0
H = 3600


def node_xy(col: int, row: int) -> tuple[float, float]:
    """Coordinates of grid node (col, row); (0, 0) is the south-west corner."""
    return ORIGIN[0] + col * BLOCK_M, ORIGIN[1] + row * BLOCK_M


def lonlat(x: float, y: float) -> list[float]:
    """A point of the grid's CRS as [longitude, latitude], as a scenario file gives it."""
    point = gpd.GeoSeries([shapely.Point(x, y)], crs=CRS).to_crs(4326).iloc[0]
    return [round(point.x, 7), round(point.y, 7)]


def square(col: float, row: float, half_m: float) -> str:
    """A GeoJSON square (lon/lat) centred on a point of the grid given in blocks from the south-west corner."""
    x, y = node_xy(0, 0)
    x, y = x + col * 100, y + row * 100
    ring = [lonlat(x - half_m, y - half_m), lonlat(x + half_m, y - half_m), lonlat(x + half_m, y + half_m),
            lonlat(x - half_m, y + half_m), lonlat(x - half_m, y - half_m)]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def node_id(col: int, row: int) -> int:
    return 1 + col + 4 * row


def grid_ways(*, closed: set[tuple[int, int]] = frozenset()) -> gpd.GeoDataFrame:
    """Residential streets between neighbouring grid nodes, both ways; ``closed`` lists (u, v) node ids to omit."""
    rows = []
    for row in range(4):
        for col in range(4):
            for dc, dr in ((1, 0), (0, 1)):
                if col + dc > 3 or row + dr > 3:
                    continue
                u, v = node_id(col, row), node_id(col + dc, row + dr)
                if (u, v) in closed:
                    continue
                record = {tag: None for tag in layers.WAY_TAGS}
                record.update(u=u, v=v, osm_id=1000 + len(rows), highway="residential", name=f"street {len(rows)}")
                record["geometry"] = shapely.LineString([node_xy(col, row), node_xy(col + dc, row + dr)])
                rows.append(record)
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=frame["geometry"].tolist(), crs=CRS)


def household(hid: int, building: int, at: tuple[float, float], ages: list[int], zone: int = 0) -> dict:
    return {"household_id": hid, "building_id": building, "size": len(ages), "ages": " ".join(map(str, ages)),
            "n_elderly": sum(a >= 65 for a in ages), "n_children": sum(a < 18 for a in ages),
            "elderly": any(a >= 65 for a in ages), "elderly_alone": len(ages) == 1 and ages[0] >= 65,
            "children": any(a < 18 for a in ages), "x": at[0], "y": at[1], "zone_id": zone}


def tiny_twin(*, speeds: Speeds = Speeds()) -> Twin:
    """The tiny twin. Households stand on street corners, so their walks start without an access leg:

    - household 0 (one person aged 81) at corner (0, 3), 300 m north of the clinic at corner (0, 0);
    - household 1 (a family of four) at corner (3, 0), 300 m east of the clinic;
    - household 2 (an elderly couple) at corner (3, 3), 600 m from the clinic;
    - household 3 (two adults) at corner (1, 0), 100 m from the clinic.

    The park fills the block between corners (2, 2) and (3, 3), set 5 m back from the streets, so reaching it
    from a corner of its block costs 5 m along the street plus 5 m across.
    """
    ways = grid_ways()
    networks = {mode: build_network(ways, mode, speeds=speeds) for mode in MODES}
    zones = layers.zone_layer(shapely.box(*ways.total_bounds), CRS, cell_m=250.0)
    corners = [(0, 3), (3, 0), (3, 3), (1, 0)]
    footprints = [shapely.box(x - 40, y - 40, x - 10, y - 10) for x, y in (node_xy(c, r) for c, r in corners)]
    buildings = gpd.GeoDataFrame({
        "osm_id": np.arange(1, 5), "building": "apartments", "name": None, "levels": 3.0, "levels_source": "tag",
        "residential": True, "footprint_m2": 900.0, "floor_area_m2": 2700.0,
    }, geometry=footprints, crs=CRS)
    buildings.index = pd.RangeIndex(4, name="building_id")
    buildings["zone_id"] = layers.assign_zones(buildings, zones)
    homes = [household(0, 0, node_xy(0, 3), [81]), household(1, 1, node_xy(3, 0), [41, 39, 8, 5]),
             household(2, 2, node_xy(3, 3), [70, 72]), household(3, 3, node_xy(1, 0), [30, 31])]
    households = pd.DataFrame(homes).set_index("household_id")
    households["zone_id"] = layers.assign_zones(
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(households["x"], households["y"]), index=households.index,
                         crs=CRS), zones)
    park = shapely.box(*node_xy(2, 2), *node_xy(3, 3)).buffer(-5)
    parks = gpd.GeoDataFrame({"osm_id": [50], "name": ["Block park"], "kind": ["park"], "area_m2": [park.area]},
                             geometry=[park], crs=CRS)
    parks.index = pd.RangeIndex(1, name="park_id")
    facilities = gpd.GeoDataFrame({"osm_id": [60], "name": ["Clinic"], "kind": ["care"], "category": ["clinic"],
                                   "capacity": [2.0]}, geometry=[shapely.Point(node_xy(0, 0))], crs=CRS)
    facilities.index = pd.RangeIndex(1, name="facility_id")
    stops = gpd.GeoDataFrame({"name": ["Corner"], "mode": ["tram"], "osm_ids": ["70"]},
                             geometry=[shapely.Point(node_xy(1, 1))], crs=CRS)
    stops.index = pd.RangeIndex(1, name="stop_id")
    water = gpd.GeoDataFrame({"osm_id": [80], "name": ["Pond"], "kind": ["pond"]},
                             geometry=[shapely.box(*node_xy(0, 1), *node_xy(1, 2)).buffer(-20)], crs=CRS)
    water.index = pd.RangeIndex(1, name="water_id")
    provenance = {name: {"source": "tests/tiny.py", "licence": "CC0", "how": "hand-made"} for name in
                  ("buildings", "parks", "transit_stops", "facilities", "water", "zones", "households")}
    return Twin(name="tiny", crs=CRS, networks=networks, households=households, provenance=provenance,
                layers={"buildings": buildings, "parks": parks, "transit_stops": stops, "facilities": facilities,
                        "water": water, "zones": zones})


def lonlat_of(col: int, row: int) -> tuple[float, float]:
    point = gpd.GeoSeries([shapely.Point(node_xy(col, row))], crs=CRS).to_crs(4326).iloc[0]
    return point.x, point.y


def tiny_timetable(headway_s: int = 600, ride_s: int = 60) -> Timetable:
    """A timetable for the tiny twin: one tram from corner (3, 3) to the clinic's corner (0, 0), every ``headway_s`` from 07:00 to 10:00,
    taking ``ride_s``; and back."""
    departures = np.arange(7 * H, 10 * H, headway_s)
    there = (np.column_stack([departures, departures + ride_s]),) * 2
    back = (np.column_stack([departures, departures + ride_s]),) * 2
    arrays = arrays_of(2, [([0, 1], *there), ([1, 0], *back)], [])
    n_trips = 2 * len(departures)
    return Timetable(
        **arrays._asdict(),
        stop_ids=np.array(["A", "B"], object), stop_names=np.array(["Far corner", "Clinic corner"], object),
        stop_lonlat=np.array([lonlat_of(3, 3), lonlat_of(0, 0)]),
        route_ids=np.array(["T"], object), route_names=np.array(["Tiny tram"], object),
        route_modes=np.array(["tram"], object), pattern_route=np.zeros(2, np.int32),
        trip_ids=np.array([f"t{i}" for i in range(n_trips)], object),
        service_date=datetime.date(2026, 1, 13), source="tests/test_transit.py", licence="CC0",
    )
