"""OSM tags -> layers: levels, residential flags, parks, stops, facilities, zones, readers' errors."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from sandbox import DataError, TwinError
from sandbox import layers

CRS_M = CRS.from_epsg(3067)


def features(*rows: dict) -> gpd.GeoDataFrame:
    """OSM-like features: each row gives tags and a geometry in EPSG:3067; the layer is returned in lon/lat."""
    records = []
    for i, row in enumerate(rows):
        tags = {tag: None for tag in layers.FEATURE_TAGS}
        tags.update({k: v for k, v in row.items() if k != "geometry"})
        records.append({"osm_id": i + 1, **tags})
    frame = gpd.GeoDataFrame(pd.DataFrame(records), geometry=[r["geometry"] for r in rows], crs=CRS_M)
    return frame.to_crs(4326)


def square(x: float, y: float, side: float) -> shapely.Polygon:
    return shapely.box(x, y, x + side, y + side)


def test_building_levels_come_from_tags_then_height_then_defaults():
    frame = features(
        {"building": "apartments", "building:levels": "6", "geometry": square(0, 0, 20)},
        {"building": "yes", "height": "15 m", "geometry": square(100, 0, 20)},
        {"building": "yes", "geometry": square(200, 0, 20)},
        {"building": "shed", "geometry": square(300, 0, 10)},
        {"building": "yes", "building:levels": "4", "geometry": square(400, 0, 20)},
    )
    buildings = layers.building_layer(frame, CRS_M)
    assert buildings["levels"].tolist() == pytest.approx([6, 5, 5, 1, 4])  # default = median of tagged (6, 4)
    assert buildings["levels_source"].tolist() == ["tag", "height", "default", "default", "tag"]
    assert buildings["floor_area_m2"].iloc[0] == pytest.approx(400 * 6, rel=1e-3)
    assert buildings.index.name == "building_id"


def test_residential_flag_follows_type_business_tags_size_and_land_use():
    frame = features(
        {"building": "apartments", "geometry": square(0, 0, 20)},
        {"building": "yes", "geometry": square(100, 0, 20)},
        {"building": "yes", "shop": "clothes", "geometry": square(200, 0, 20)},
        {"building": "yes", "geometry": square(300, 0, 5)},  # 25 m2: too small for homes
        {"building": "office", "geometry": square(400, 0, 20)},
        {"building": "yes", "geometry": square(500, 0, 20)},  # on commercial land, below
        {"landuse": "commercial", "geometry": square(490, -10, 40)},
    )
    buildings = layers.building_layer(frame, CRS_M)
    assert buildings["residential"].tolist() == [True, True, False, False, False, False]


def test_building_layer_without_buildings_is_a_twin_error():
    frame = features({"leisure": "park", "geometry": square(0, 0, 50)})
    with pytest.raises(TwinError, match="buildings: .*no building polygons"):
        layers.building_layer(frame, CRS_M)


def test_parks_drop_a_playground_inside_a_park_and_keep_separate_ones():
    frame = features(
        {"leisure": "park", "name": "Big", "geometry": square(0, 0, 100)},
        {"leisure": "playground", "geometry": square(10, 10, 20)},
        {"landuse": "recreation_ground", "geometry": square(300, 0, 50)},
        {"leisure": "park", "name": "Twin A", "geometry": square(600, 0, 30)},
        {"leisure": "park", "name": "Twin B", "geometry": square(600, 0, 30)},
    )
    parks = layers.park_layer(frame, CRS_M)
    assert parks["name"].tolist()[:1] == ["Big"]
    assert len(parks) == 3
    assert parks["area_m2"].tolist() == pytest.approx([10_000, 2_500, 900], rel=1e-3)
    assert parks["kind"].tolist() == ["park", "recreation_ground", "park"]


def test_transit_stop_parts_of_one_stop_are_merged_but_modes_and_names_kept_apart():
    frame = features(
        {"highway": "bus_stop", "name": "Kamppi", "geometry": shapely.Point(0, 0)},
        {"public_transport": "platform", "name": "Kamppi", "geometry": shapely.Point(8, 3)},
        {"public_transport": "stop_position", "geometry": shapely.Point(12, 0)},
        {"railway": "tram_stop", "name": "Kamppi", "geometry": shapely.Point(10, 10)},
        {"highway": "bus_stop", "name": "Other", "geometry": shapely.Point(15, 0)},
        {"highway": "bus_stop", "name": "Kamppi", "geometry": shapely.Point(500, 0)},
    )
    stops = layers.transit_stop_layer(frame, CRS_M)
    summary = sorted(zip(stops["mode"], stops["name"].fillna("")))
    assert summary == [("bus", "Kamppi"), ("bus", "Kamppi"), ("bus", "Other"), ("tram", "Kamppi")]


def test_facility_kinds_and_capacity():
    frame = features(
        {"amenity": "pharmacy", "name": "Apteekki", "geometry": shapely.Point(0, 0)},
        {"healthcare": "clinic", "geometry": square(100, 0, 20)},
        {"amenity": "social_facility", "social_facility:for": "senior", "geometry": shapely.Point(200, 0)},
        {"amenity": "social_facility", "social_facility:for": "homeless", "geometry": shapely.Point(300, 0)},
        {"shop": "supermarket", "capacity": "40", "geometry": shapely.Point(400, 0)},
        {"amenity": "cafe", "geometry": shapely.Point(500, 0)},
    )
    facilities = layers.facility_layer(frame, CRS_M)
    assert facilities["kind"].tolist() == ["care", "care", "elderly_centre", "grocery"]
    assert facilities["capacity"].tolist() == [1.0, 1.0, 1.0, 40.0]
    assert (facilities.geom_type == "Point").all()


def test_zones_are_an_aligned_grid_covering_the_extent():
    extent = shapely.box(1010, 2020, 1600, 2400)
    zones = layers.zone_layer(extent, CRS_M, cell_m=250)
    assert len(zones) == 3 * 2
    assert zones.total_bounds.tolist() == [1000, 2000, 1750, 2500]
    assert zones.area.eq(62_500).all()
    assigned = layers.assign_zones(gpd.GeoDataFrame(geometry=[shapely.Point(1100, 2100), shapely.Point(0, 0)],
                                                    crs=CRS_M), zones)
    assert assigned.iloc[1] == -1 and assigned.iloc[0] >= 0


def test_read_osm_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.osm.pbf: file not found"):
        layers.read_osm(tmp_path / "missing.osm.pbf")
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"not a protobuf at all")
    with pytest.raises(DataError, match="garbage.osm.pbf: "):
        layers.read_osm(garbage)
    text = tmp_path / "city.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match="city.txt: unknown OSM format"):
        layers.read_osm(text)


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand">
  <node id="1" lat="60.1700" lon="24.9400"/>
  <node id="2" lat="60.1700" lon="24.9420"/>
  <node id="3" lat="60.1710" lon="24.9420"/>
  <node id="4" lat="60.1710" lon="24.9400"/>
  <node id="10" lat="60.17020" lon="24.94050"/>
  <node id="11" lat="60.17020" lon="24.94090"/>
  <node id="12" lat="60.17040" lon="24.94090"/>
  <node id="13" lat="60.17040" lon="24.94050"/>
  <node id="20" lat="60.17060" lon="24.94150"><tag k="amenity" v="pharmacy"/><tag k="name" v="Apteekki"/></node>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="name" v="Katu"/></way>
  <way id="101"><nd ref="3"/><nd ref="4"/><nd ref="1"/><tag k="highway" v="footway"/></way>
  <way id="200"><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/>
    <tag k="building" v="apartments"/><tag k="building:levels" v="5"/></way>
</osm>
"""


def test_read_osm_xml_gives_the_same_tidy_tables(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML)
    source = layers.read_osm(path)
    crs = layers.projected_crs(source)
    buildings = layers.building_layer(source.features, crs)
    assert len(buildings) == 1 and buildings["levels"].iloc[0] == 5 and bool(buildings["residential"].iloc[0])
    assert layers.facility_layer(source.features, crs)["kind"].tolist() == ["care"]
    assert set(source.ways["highway"]) == {"residential", "footway"}
    assert len(source.sha256) == 64


def test_projected_crs_refuses_degrees(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML)
    source = layers.read_osm(path)
    assert layers.projected_crs(source).to_epsg() == 32635
    with pytest.raises(TwinError, match="not a projected CRS in metres"):
        layers.projected_crs(source, 4326)
    with pytest.raises(TwinError, match="crs: cannot parse 'nonsense'"):
        layers.projected_crs(source, "nonsense")


def test_read_vector_sets_a_missing_crs_and_reports_problems(tmp_path):
    path = tmp_path / "cells.geojson"
    gpd.GeoDataFrame({"a": [1]}, geometry=[square(0, 0, 10)], crs=3067).to_file(path)
    assert layers.read_vector(path, crs=3879).crs.to_epsg() == 3879
    with pytest.raises(DataError, match="nowhere.gpkg: file not found"):
        layers.read_vector(tmp_path / "nowhere.gpkg")
