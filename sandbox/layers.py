"""Loaders: OpenStreetMap (PBF or XML) and vector files into tidy GeoDataFrames in the twin's CRS."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._errors import DataError, TwinError
from ._io import sha256_file

OSM_LICENCE = "ODbL 1.0 (© OpenStreetMap contributors)"

# Tags read from OSM; anything else is dropped so that layers stay small and stable.
FEATURE_TAGS = [
    "building", "building:levels", "height", "amenity", "shop", "leisure", "landuse", "natural", "water",
    "waterway", "healthcare", "public_transport", "highway", "railway", "social_facility", "social_facility:for",
    "name", "tram", "bus", "subway", "train", "ferry", "station", "office", "tourism", "capacity", "beds",
]
WAY_TAGS = ["highway", "name", "oneway", "foot", "bicycle", "access", "motor_vehicle", "motorcar", "maxspeed",
            "sidewalk", "area", "junction"]

RESIDENTIAL_BUILDINGS = {"apartments", "residential", "house", "detached", "semidetached_house", "terrace",
                         "dormitory", "bungalow", "farm", "cabin", "houseboat"}
NON_RESIDENTIAL_BUILDINGS = {
    "commercial", "office", "retail", "industrial", "warehouse", "church", "cathedral", "chapel", "mosque",
    "synagogue", "temple", "religious", "school", "university", "college", "kindergarten", "hospital", "public",
    "civic", "government", "train_station", "transportation", "kiosk", "roof", "shed", "garage", "garages",
    "parking", "service", "utility", "hangar", "museum", "hotel", "stadium", "sports_centre", "sports_hall",
    "pavilion", "tower", "bunker", "ship", "greenhouse", "construction", "ruins", "atrium", "bridge", "toilets",
    "fire_station", "supermarket", "grandstand", "boathouse", "carport", "barn", "castle", "gatehouse",
}
ONE_STOREY_BUILDINGS = {"house", "detached", "bungalow", "cabin", "shed", "garage", "garages", "kiosk", "roof",
                        "carport", "greenhouse", "pavilion", "hut", "toilets", "boathouse", "barn", "ship"}
# Land uses where an untyped building (building=yes) is assumed not to hold homes.
NON_RESIDENTIAL_LANDUSE = {"commercial", "retail", "industrial", "civil", "railway", "military", "construction"}
STOREY_HEIGHT_M = 3.0
MIN_RESIDENTIAL_FOOTPRINT_M2 = 60.0

PARK_LEISURE = {"park", "garden", "playground", "nature_reserve", "common", "dog_park"}
PARK_LANDUSE = {"recreation_ground", "village_green"}

# OSM tag value -> facility kind used by the indicators (`--to care`, `--to grocery`, ...).
FACILITY_KINDS = {
    ("amenity", "clinic"): "care", ("amenity", "doctors"): "care", ("amenity", "hospital"): "care",
    ("amenity", "pharmacy"): "care", ("healthcare", "clinic"): "care", ("healthcare", "doctor"): "care",
    ("healthcare", "hospital"): "care", ("healthcare", "pharmacy"): "care", ("healthcare", "centre"): "care",
    ("amenity", "school"): "school", ("amenity", "kindergarten"): "kindergarten",
    ("amenity", "library"): "library",
    ("amenity", "community_centre"): "elderly_centre", ("amenity", "social_facility"): "elderly_centre",
    ("shop", "supermarket"): "grocery", ("shop", "convenience"): "grocery", ("shop", "greengrocer"): "grocery",
}
WATER_NATURAL = {"water", "bay", "strait"}
WATER_LANDUSE = {"basin", "reservoir"}


@dataclass(frozen=True)
class OsmSource:
    """Raw OSM content: tagged features and street segments, in lon/lat, plus where they came from."""

    path: Path
    features: gpd.GeoDataFrame
    ways: gpd.GeoDataFrame
    sha256: str


def read_osm(path: str | Path) -> OsmSource:
    """Read an OSM extract (``.pbf`` via pyrosm, ``.osm``/``.xml`` via osmnx) without touching the network."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected an OSM extract (.osm.pbf, .osm or .xml)")
    suffixes = "".join(path.suffixes).lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffixes.endswith(".pbf"):
                features, ways = _read_pbf(path)
            elif suffixes.endswith((".osm", ".xml")):
                features, ways = _read_xml(path)
            else:
                raise DataError(f"{path}: unknown OSM format '{suffixes}'; expected .osm.pbf, .osm or .xml")
    except DataError:
        raise
    except Exception as exc:  # pyrosm/osmnx raise many types on corrupt input
        raise DataError(f"{path}: cannot read OSM data ({type(exc).__name__}: {exc}); expected a valid extract") from exc
    if features.empty and ways.empty:
        raise DataError(f"{path}: the extract holds no features or streets; expected a populated OSM extract")
    return OsmSource(path=path, features=features, ways=ways, sha256=sha256_file(path))


def _read_pbf(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    import pyrosm

    osm = pyrosm.OSM(str(path))
    features = osm.get_data_by_custom_criteria(
        custom_filter={
            "building": True, "amenity": True, "shop": True, "leisure": True, "landuse": True, "natural": True,
            "water": True, "waterway": True, "healthcare": True, "public_transport": True,
            "highway": ["bus_stop", "platform"],
            "railway": ["tram_stop", "station", "halt", "stop", "subway_entrance", "platform"],
        },
        tags_as_columns=FEATURE_TAGS, keep_other_tags=False,
    )
    nodes, ways = osm.get_network(network_type="all", nodes=True, extra_attributes=WAY_TAGS)
    features = _tidy_features(features if features is not None else gpd.GeoDataFrame(geometry=[], crs=4326),
                              id_column="id")
    ways = _tidy_ways(ways, id_column="id")
    return features, ways


def _read_xml(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    import osmnx as ox

    ox.settings.useful_tags_way = list(dict.fromkeys(ox.settings.useful_tags_way + WAY_TAGS))
    tags = {key: True for key in ["building", "amenity", "shop", "leisure", "landuse", "natural", "water",
                                  "waterway", "healthcare", "public_transport"]}
    tags["highway"] = ["bus_stop", "platform"]
    tags["railway"] = ["tram_stop", "station", "halt", "stop", "subway_entrance", "platform"]
    features = ox.features_from_xml(path, tags=tags).reset_index()
    features = features.rename(columns={"id": "osm_id"}).rename(columns={"osm_id": "id"})
    graph = ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
    edges = ox.graph_to_gdfs(graph, nodes=False).reset_index()
    if "reversed" in edges:
        edges = edges[~edges["reversed"].astype(bool)]
    edges = edges.rename(columns={"osmid": "id"})
    return _tidy_features(features, id_column="id"), _tidy_ways(edges, id_column="id")


def _tidy_features(frame: gpd.GeoDataFrame, *, id_column: str) -> gpd.GeoDataFrame:
    columns = {tag: frame[tag] if tag in frame else pd.Series(None, index=frame.index, dtype=object)
               for tag in FEATURE_TAGS}
    tidy = pd.DataFrame(columns).astype(object).where(lambda df: df.notna(), None)
    tidy.insert(0, "osm_id", pd.to_numeric(frame[id_column], errors="coerce").fillna(-1).astype("int64"))
    return gpd.GeoDataFrame(tidy, geometry=frame.geometry.values, crs=frame.crs or 4326).reset_index(drop=True)


def _tidy_ways(frame: gpd.GeoDataFrame, *, id_column: str) -> gpd.GeoDataFrame:
    tidy = pd.DataFrame({tag: frame[tag].astype(object) if tag in frame else None for tag in WAY_TAGS})
    ids = frame[id_column].map(lambda value: value[0] if isinstance(value, list) else value)
    tidy.insert(0, "osm_id", pd.to_numeric(ids, errors="coerce").fillna(-1).astype("int64"))
    tidy.insert(0, "v", frame["v"].astype("int64").values)
    tidy.insert(0, "u", frame["u"].astype("int64").values)
    ways = gpd.GeoDataFrame(tidy.reset_index(drop=True), geometry=frame.geometry.values, crs=frame.crs or 4326)
    return ways[(ways["u"] != ways["v"]) & ways["highway"].notna()].reset_index(drop=True)


def projected_crs(source: OsmSource, crs: str | int | None = None) -> CRS:
    """The twin CRS: the one given, or the UTM zone estimated from the data; always metric."""
    if crs is None:
        target = source.ways.estimate_utm_crs() if not source.ways.empty else source.features.estimate_utm_crs()
    else:
        try:
            target = CRS.from_user_input(crs)
        except Exception as exc:
            raise TwinError(f"crs: cannot parse '{crs}'; expected an EPSG code such as 3067 or 32635") from exc
    if not target.is_projected or target.axis_info[0].unit_name not in ("metre", "meter"):
        raise TwinError(f"crs: '{target.to_string()}' is not a projected CRS in metres; expected e.g. a UTM zone")
    return target


def _numeric(values: pd.Series) -> pd.Series:
    """OSM numbers come as free text ('5', '3.5', '12 m', '4;5'): keep the first number."""
    text = values.astype("string").str.extract(r"(-?\d+(?:[.,]\d+)?)")[0].str.replace(",", ".")
    return pd.to_numeric(text, errors="coerce").astype(float)


def polygons_only(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows whose geometry is a (multi)polygon with some area."""
    keep = frame.geom_type.isin(["Polygon", "MultiPolygon"]) & frame.is_valid & (frame.area > 0)
    return frame[keep]


def building_layer(features: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Buildings with levels, floor area and a residential flag.

    Levels come from ``building:levels``, else ``height`` / 3 m, else 1 for small types (sheds, kiosks, houses)
    and the median tagged level count of the extract for the rest, so that unknown central blocks are not
    treated as bungalows. Untyped buildings (``building=yes``) count as residential unless they carry a
    shop/amenity/office/tourism tag, are small, or stand on commercial, civil or industrial land.
    """
    rows = features[features["building"].notna() & (features["building"] != "no")]
    rows = polygons_only(rows.to_crs(crs))
    if rows.empty:
        raise TwinError("buildings: the OSM extract has no building polygons; expected building=* ways")
    kind = rows["building"].astype(str).str.lower()
    tagged_levels = _numeric(rows["building:levels"]).where(lambda s: (s >= 1) & (s <= 100))
    height_levels = (_numeric(rows["height"]) / STOREY_HEIGHT_M).round().where(lambda s: s >= 1)
    typical = float(np.nanmedian(tagged_levels)) if tagged_levels.notna().any() else 3.0
    default_levels = pd.Series(np.where(kind.isin(ONE_STOREY_BUILDINGS), 1.0, typical), index=rows.index)
    levels = tagged_levels.fillna(height_levels).fillna(default_levels)
    source = np.select([tagged_levels.notna(), height_levels.notna()], ["tag", "height"], "default")
    footprint = rows.area

    landuse = features[features["landuse"].isin(NON_RESIDENTIAL_LANDUSE)]
    landuse = polygons_only(landuse.to_crs(crs))[["geometry"]]
    points = gpd.GeoDataFrame(geometry=rows.representative_point(), crs=crs)
    on_other_land = points.index.isin(gpd.sjoin(points, landuse, predicate="within").index)
    has_business = rows[["shop", "amenity", "office", "tourism"]].notna().any(axis=1)
    untyped_home = (~kind.isin(RESIDENTIAL_BUILDINGS | NON_RESIDENTIAL_BUILDINGS) & ~has_business
                    & ~on_other_land & (footprint >= MIN_RESIDENTIAL_FOOTPRINT_M2))
    residential = kind.isin(RESIDENTIAL_BUILDINGS) | untyped_home

    layer = gpd.GeoDataFrame({
        "osm_id": rows["osm_id"].values,
        "building": kind.values,
        "name": rows["name"].values,
        "levels": levels.values,
        "levels_source": source,
        "residential": residential.values.astype(bool),
        "footprint_m2": footprint.values,
        "floor_area_m2": (footprint * levels).values,
    }, geometry=rows.geometry.values, crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="building_id")
    return layer


def park_layer(features: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Parks and green spaces; a polygon lying inside another park (a playground in a park) is dropped."""
    is_park = features["leisure"].isin(PARK_LEISURE) | features["landuse"].isin(PARK_LANDUSE)
    rows = polygons_only(features[is_park].to_crs(crs)).reset_index(drop=True)
    inside = gpd.sjoin(rows[["geometry"]], rows[["geometry"]], predicate="covered_by")
    covered = {(a, b) for a, b in zip(inside.index, inside["index_right"]) if a != b}
    # Drop a park covered by another one; of two identical shapes keep the first.
    rows = rows.drop(index=sorted({a for a, b in covered if (b, a) not in covered or a > b}))
    layer = gpd.GeoDataFrame({
        "osm_id": rows["osm_id"].values,
        "name": rows["name"].values,
        "kind": rows["leisure"].fillna(rows["landuse"]).values,
        "area_m2": rows.area.values,
    }, geometry=rows.geometry.values, crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="park_id")
    return layer


def _transit_mode(rows: pd.DataFrame) -> pd.Series:
    railway, station = rows["railway"], rows["station"]
    return pd.Series(np.select(
        [
            (railway == "subway_entrance") | (station == "subway") | (rows["subway"] == "yes"),
            (railway == "tram_stop") | (rows["tram"] == "yes"),
            railway.isin(["station", "halt"]) | (rows["train"] == "yes"),
            (rows["ferry"] == "yes") | (rows["amenity"] == "ferry_terminal"),
        ],
        ["metro", "tram", "rail", "ferry"], "bus"), index=rows.index)


def transit_stop_layer(features: gpd.GeoDataFrame, crs: CRS, *, merge_within_m: float = 30.0) -> gpd.GeoDataFrame:
    """Transit stops, one row per stop: the OSM bus_stop node, platform and stop position of one stop
    (same mode and name, within ``merge_within_m``) are merged into one point."""
    is_stop = (features["highway"].isin(["bus_stop", "platform"])
               | features["railway"].isin(["tram_stop", "station", "halt", "stop", "subway_entrance", "platform"])
               | features["public_transport"].isin(["platform", "stop_position", "station"])
               | (features["amenity"] == "ferry_terminal"))
    rows = features[is_stop & features.geom_type.isin(["Point", "Polygon", "MultiPolygon", "LineString"])]
    rows = rows.to_crs(crs).reset_index(drop=True)
    if rows.empty:
        return _empty_layer(crs, "stop_id", {"name": object, "mode": object, "osm_ids": object})
    points = rows.geometry.representative_point()
    mode = _transit_mode(rows)
    name = rows["name"].fillna("").astype(str)
    coords = np.column_stack([points.x, points.y])
    pairs = cKDTree(coords).query_pairs(merge_within_m, output_type="ndarray")
    first, second = name.values[pairs[:, 0]], name.values[pairs[:, 1]]
    same_mode = mode.values[pairs[:, 0]] == mode.values[pairs[:, 1]]
    named = same_mode & (first == second) & (first != "")
    # An unnamed point joins only its nearest neighbour, so it cannot chain two named stops together.
    unnamed = same_mode & ((first == "") | (second == ""))
    distance = np.hypot(*(coords[pairs[:, 0]] - coords[pairs[:, 1]]).T)
    candidates = np.flatnonzero(unnamed)
    loose = np.where(first[candidates] == "", pairs[candidates, 0], pairs[candidates, 1])
    order = np.lexsort((distance[candidates], loose))
    nearest = candidates[order][np.r_[True, loose[order][1:] != loose[order][:-1]]] if len(order) else candidates
    pairs = np.vstack([pairs[named], pairs[nearest]])
    n = len(rows)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    frame = pd.DataFrame({"group": group, "x": coords[:, 0], "y": coords[:, 1], "mode": mode.values,
                          "name": name.values, "osm_id": rows["osm_id"].values})
    stops = frame.groupby("group", sort=True).agg(
        x=("x", "mean"), y=("y", "mean"), mode=("mode", "first"),
        name=("name", lambda s: max(s, key=len) or None),
        osm_ids=("osm_id", lambda s: " ".join(str(i) for i in sorted(set(s)))),
    )
    layer = gpd.GeoDataFrame(stops[["name", "mode", "osm_ids"]].reset_index(drop=True),
                             geometry=gpd.points_from_xy(stops["x"], stops["y"]), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="stop_id")
    return layer


def facility_layer(features: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Everyday facilities with a ``kind`` (care, school, kindergarten, library, elderly_centre, grocery).

    Social facilities count as elderly centres only when they serve seniors (or say nothing of whom they
    serve). ``capacity`` comes from the ``capacity`` or ``beds`` tag and is 1 where neither is given, so that
    supply indicators count facilities.
    """
    kinds = pd.Series(None, index=features.index, dtype=object)
    category = pd.Series(None, index=features.index, dtype=object)
    for (key, value), kind in FACILITY_KINDS.items():
        hit = (features[key] == value) & kinds.isna()
        kinds[hit], category[hit] = kind, value
    serves = features["social_facility:for"].fillna("senior").astype(str)
    not_seniors = (category == "social_facility") & ~serves.str.contains("senior|elder|aged", regex=True)
    kinds[not_seniors] = None
    rows = features[kinds.notna()].to_crs(crs)
    capacity = _numeric(rows["capacity"]).fillna(_numeric(rows["beds"])).where(lambda s: s > 0)
    layer = gpd.GeoDataFrame({
        "osm_id": rows["osm_id"].values,
        "name": rows["name"].values,
        "kind": kinds[rows.index].values,
        "category": category[rows.index].values,
        "capacity": capacity.fillna(1.0).values,
    }, geometry=rows.geometry.representative_point().values, crs=crs)
    # A facility mapped both as a node and as its building: keep one.
    layer = layer.assign(_x=layer.geometry.x.round(-1), _y=layer.geometry.y.round(-1))
    layer = layer.drop_duplicates(subset=["kind", "name", "_x", "_y"]).drop(columns=["_x", "_y"])
    layer.index = pd.RangeIndex(len(layer), name="facility_id")
    return layer


def water_layer(features: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Water bodies mapped as polygons: lakes, ponds, basins and bays (the open sea has no polygon in OSM)."""
    is_water = (features["natural"].isin(WATER_NATURAL) | features["water"].notna()
                | features["landuse"].isin(WATER_LANDUSE) | (features["waterway"] == "riverbank"))
    rows = polygons_only(features[is_water].to_crs(crs))
    layer = gpd.GeoDataFrame({
        "osm_id": rows["osm_id"].values,
        "name": rows["name"].values,
        "kind": rows["water"].fillna(rows["natural"]).fillna(rows["landuse"]).values,
    }, geometry=rows.geometry.values, crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="water_id")
    return layer


def zone_layer(extent: shapely.Polygon, crs: CRS, *, cell_m: float = 250.0) -> gpd.GeoDataFrame:
    """A regular grid of ``cell_m`` squares aligned to the CRS origin, covering ``extent``."""
    left, bottom, right, top = extent.bounds
    xs = np.arange(np.floor(left / cell_m) * cell_m, right, cell_m)
    ys = np.arange(np.floor(bottom / cell_m) * cell_m, top, cell_m)
    grid_x, grid_y = np.meshgrid(xs, ys[::-1])
    cells = shapely.box(grid_x.ravel(), grid_y.ravel(), grid_x.ravel() + cell_m, grid_y.ravel() + cell_m)
    layer = gpd.GeoDataFrame({"row": np.repeat(np.arange(len(ys)), len(xs)),
                              "col": np.tile(np.arange(len(xs)), len(ys))}, geometry=cells, crs=crs)
    layer = layer[layer.intersects(extent)].reset_index(drop=True)
    layer.index = pd.RangeIndex(len(layer), name="zone_id")
    return layer


def assign_zones(layer: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.Series:
    """The zone of each feature's representative point (-1 outside every zone); a point on a border between
    zones goes to the first of them."""
    points = gpd.GeoDataFrame(geometry=layer.geometry.representative_point(), index=layer.index, crs=layer.crs)
    cells = gpd.GeoDataFrame({"zone": zones.index.to_numpy()}, geometry=zones.geometry.values, crs=zones.crs)
    joined = gpd.sjoin(points, cells, predicate="intersects", how="left").sort_values("zone", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(points.index)
    return joined["zone"].fillna(-1).astype("int64").rename("zone_id")


def read_vector(path: str | Path, *, layer: str | None = None, crs: str | int | None = None,
                to_crs: CRS | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage, GeoParquet, GeoJSON or shapefile; ``crs`` sets a CRS the file lacks or misstates."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; expected a GeoPackage, GeoParquet, GeoJSON or shapefile")
    try:
        if path.suffix.lower() == ".parquet":
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, layer=layer)
    except Exception as exc:
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc}); expected a readable vector file") from exc
    if frame.empty:
        raise DataError(f"{path}: layer {layer or '(first)'} is empty; expected at least one feature")
    if crs is not None:
        frame = frame.set_crs(crs, allow_override=True)
    if frame.crs is None:
        raise DataError(f"{path}: no CRS; pass crs= (for example crs=3067)")
    return frame.to_crs(to_crs) if to_crs is not None else frame


def _empty_layer(crs: CRS, index_name: str, columns: dict) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()},
                             geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    frame.index = pd.RangeIndex(0, name=index_name)
    return frame

