"""Maps: readable titles and tooltips, credits, and offline HTML that asks the network for nothing."""

from __future__ import annotations

import html
import json
import re

from sandbox import access
from sandbox.output.maps import access_map, fill, render_html, unpacked
from sandbox.output.pages import deck_bundle as bundle
from tests.tiny import tiny_twin


def map_data(page: str) -> dict:
    """The map data of a page, as its script reads it."""
    return json.loads(html.unescape(re.search(r'<script type="application/json" id="map-data">(.*?)</script>',
                                              page, re.S).group(1)))


def page_tips(data: dict, entry: dict) -> list[str]:
    """The tooltips of one map of a page, per zone or cell, written from the page's figures as maps.js writes
    them."""
    tips = data["tips"][entry["tips"]]
    if "texts" in tips:
        return tips["texts"]
    shown = unpacked(data["fields"][tips["shown"]])
    fields = {name: unpacked(data["fields"][ref]) for name, ref in tips["fields"].items()}
    return [fill(tips["text"] if shown[i] else tips["hidden"], {name: float(v[i]) for name, v in fields.items()})
            for i in range(len(shown))]


def feature_count(geometry: dict) -> int:
    return len(unpacked(geometry["coords"])) // 2 if geometry["kind"] == "point" else \
        len(unpacked(geometry["features"])) - 1


def test_access_map_html_is_self_contained_and_says_what_it_shows():
    twin = tiny_twin()
    ds = access.nearest(twin, "care", minutes=[5, 10])
    page = render_html(access_map(twin, ds, group="elderly", minutes=5, k=1))
    assert "Share of elderly residents (65+) who reach a health service" in page
    assert "within 5 minutes on foot" in page
    # deck.gl is inlined (pydeck's offline bundle); around it, no script, style, font or tile from the network.
    assert page.count(bundle()) == 1
    markup = page.replace(bundle(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "<link" not in markup and "@import" not in markup and "url(" not in markup
    assert "createDeck" in markup
    data = map_data(page)
    assert feature_count(data["zones"]["geometry"]) == len(twin.layers["zones"]) and data["zones"]["cells"] == 1
    (entry,) = data["maps"].values()
    classes = unpacked(entry["classes"]).astype(int) - 1  # 0: no data
    assert len(classes) == len(twin.layers["zones"]) and set(classes) <= set(range(-1, 5))
    tooltips = " ".join(page_tips(data, entry))
    assert "reach a health service" in tooltips and "households of elderly residents" in tooltips
    assert {layer["id"] for layer in data["base"]} >= {"base-buildings", "base-streets", "base-water"}
    assert [data["overlays"][name]["type"] for name in entry["overlays"]] == ["ScatterplotLayer"]  # the clinics
    assert "mapStyle" not in data["view"]
    assert "tests/tiny.py (CC0)" in page


def test_user_text_is_escaped_and_small_zones_are_explained():
    twin = tiny_twin()
    provenance = {**twin.provenance, "parks": {"source": "<script>alert(1)</script>", "licence": "CC0"}}
    twin = twin.replace(provenance=provenance)
    ds = access.within(twin, "parks", minutes=[5])
    page = render_html(access_map(twin, ds, group="all", k=5))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hidden to protect privacy (no households of residents, fewer than 5, or hidden alongside such a zone)" \
        in page


def test_geometries_travel_in_binary_and_read_back():
    """Polygons with holes and several parts, lines and points as the page's script reads them: float32 lon/lat,
    rings open, offsets per ring, polygon and feature."""
    import numpy as np
    import shapely

    from sandbox.output.maps import labelled_tips, packed, path_geometry, point_geometry, polygon_geometry

    assert unpacked(packed([1.5, -2.25], "f4")).tolist() == [1.5, -2.25]
    holed = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    several = shapely.MultiPolygon([shapely.box(20, 20, 21, 21), shapely.box(30, 30, 31, 31)])
    found = polygon_geometry([holed, several, shapely.Point(1, 1)])
    coords = unpacked(found["coords"]).reshape(-1, 2)
    lines, parts, features = (unpacked(found[name]).tolist() for name in ("lines", "parts", "features"))
    assert features == [0, 1, 3, 3]  # one polygon, two, none (a point is no area)
    assert parts == [0, 2, 3, 4]  # the first polygon has a hole
    assert lines == [0, 4, 8, 12, 16] and coords[4:8].tolist() == [[2, 2], [4, 2], [4, 4], [2, 4]]
    paths = path_geometry([shapely.LineString([(0, 0), (1, 1), (2, 0)]), holed])
    assert unpacked(paths["lines"]).tolist() == [0, 3, 8]  # an area as its outer ring, closed
    assert unpacked(point_geometry([shapely.Point(5, 6)])["coords"]).tolist() == [5, 6]
    tips = labelled_tips(["park", "park"], np.array([12, 10_000_000_000]), [": <b>Esplanadi</b>", " (unnamed)"])
    assert unpacked(tips["ids"]).tolist() == [12, 10_000_000_000]  # OSM ids beyond 2^31
    assert tips["suffix"] == [": &lt;b&gt;Esplanadi&lt;/b&gt;", " (unnamed)"]
    named = labelled_tips(["stop"], np.array(["H0042"], dtype=object), [""])
    assert np.isnan(unpacked(named["ids"])).all() and named["suffix"] == ["H0042"]


def test_a_large_base_map_and_many_changes_are_drawn_in_pictures(monkeypatch):
    """Past their budgets the base map's layers, the changes and the destinations are drawn in PNG pictures laid on
    the map, in Web Mercator over what they draw, in the same colours; the legend keeps its rows."""
    import base64
    import io

    import geopandas as gpd
    import numpy as np
    import shapely
    from PIL import Image

    from sandbox.output import maps

    twin = tiny_twin()
    assert {layer.id: layer.type for layer in maps.base_layers(twin)}["base-buildings"] == "PolygonLayer"
    monkeypatch.setattr(maps, "BASE_VECTOR_BYTES", 0)
    twin = tiny_twin()
    layers = maps.base_layers(twin)
    assert [layer.type for layer in layers] == ["BitmapLayer"]
    picture = layers[0]
    west, south, east, north = picture.props["bounds"]
    corners = gpd.GeoSeries(shapely.points([twin.extent[:2], twin.extent[2:]]), crs=twin.crs).to_crs(4326)
    (left, bottom), (right, top) = shapely.get_coordinates(corners.values)
    assert west <= left + 1e-4 and east >= right - 1e-4 and south <= bottom + 1e-4 and north >= top - 1e-4
    image = Image.open(io.BytesIO(base64.b64decode(picture.props["image"].split(",", 1)[1])))
    assert image.format == "PNG" and max(image.size) <= maps.PICTURE_PX
    drawn = np.asarray(image.convert("RGBA")).reshape(-1, 4)
    colours = {tuple(c) for c in drawn[drawn[:, 3] > 0].tolist()}
    assert {(*maps.BASE_STYLES["buildings"][0][:3], 255), tuple(maps.STREET_RGBA)} <= colours

    buildings = twin.layers["buildings"]
    changes = gpd.GeoDataFrame({"change": ["flooded building"] * len(buildings), "name": "0.40 m of water",
                                "id": buildings.index.to_numpy()}, geometry=buildings.geometry.values, crs=twin.crs)
    monkeypatch.setattr(maps, "CHANGE_VECTOR_BYTES", 0)
    layers, symbols = maps.change_layers(changes)
    assert [layer.id for layer in layers] == ["changes-picture"]
    assert symbols == [("background: transparent; border: 1.5px solid rgb(8,48,107)",
                        "flooded building (dark blue outline)")]
    monkeypatch.setattr(maps, "DESTINATION_VECTOR_BYTES", 0)
    layer, row = maps._highlight_layer(twin.layers["parks"], "park")
    assert layer.id == "destinations-picture" and row[1] == "parks"  # no tooltips: the legend does not offer them
