"""Maps: zone values over the twin's own base map, as offline pages that make no network request.

A page ships its base map, the zone outlines and the overlays once, and each map it can show as numbers only (a
colour class and a tooltip per zone), which the page's script turns into deck.gl layers; so a report with dozens of
maps stays small, and the same :class:`ZoneMap` serves the report, ``sandbox access``, notebooks and figures.
"""

from __future__ import annotations

import base64
import html
import io
import json
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import networkx as nx
import pandas as pd
import pydeck as pdk
import shapely
import xarray as xr

from .. import words
from .._errors import TwinError
from ..access import destination_names, destinations
from ..privacy import DEFAULT_K, suppress
from ..results import SIDES
from ..twin import Twin
from .pages import render_page

NO_DATA_RGBA = [200, 200, 200, 110]
FILL_ALPHA = 150
# ColorBrewer YlGn (sequential) and PuOr (diverging: orange worse, purple better): both readable with the common
# colour-vision deficiencies, and neither uses the blue kept for water and floods.
SEQUENTIAL = [[255, 255, 204], [194, 230, 153], [120, 198, 121], [49, 163, 84], [0, 104, 55]]
DIVERGING = [[230, 97, 1], [253, 184, 99], [247, 247, 247], [178, 171, 210], [94, 60, 153]]
WATER_RGBA = ([214, 226, 234, 255], [170, 190, 205, 255])  # the sea and ponds on the base map: pale grey-blue
FLOOD_BLUES = (0.45, 1.0)  # the part of matplotlib's Blues the flood uses: clearly bluer than the base map's water
# What a scenario changed: line colour, width in pixels and a symbol at points (and at removed areas' centres).
CHANGE_STYLES = {
    "new": ([20, 20, 20, 255], 2.0, "+", "new (black outline, +)"),
    "removed": ([120, 120, 120, 255], 1.5, "×", "removed (grey outline, ×)"),
    "closed": ([30, 30, 30, 230], 1.5, None, "street closed (dark line)"),
    "slowed": ([140, 140, 140, 230], 1.0, None, "street slowed (grey line)"),
    "flooded": ([8, 48, 107, 255], 1.0, None, "flooded building (dark blue outline)"),
}
DESTINATION_RGBA = [40, 40, 40, 230]
PLURAL_KINDS = {"facility": "facilities", "park": "parks", "stop": "stops"}
LITERAL_PROPS = {"characterSet": "character_set", "fontWeight": "font_weight", "widthUnits": "width_units"}
TOOLTIP = {"html": "{tooltip}", "style": {"fontSize": "13px", "maxWidth": "320px"}}


@dataclass(frozen=True)
class Scale:
    """Colour classes: ``edges`` has one more entry than ``colors``; ``labels`` say each class in words."""

    edges: list[float]
    colors: list[list[int]]
    labels: list[str]

    def index(self, value: float) -> int:
        """The class of ``value``; -1 for no data."""
        if not np.isfinite(value):
            return -1
        return int(np.clip(np.searchsorted(self.edges, value, side="right") - 1, 0, len(self.colors) - 1))

    def color(self, value: float) -> list[int]:
        position = self.index(value)
        return NO_DATA_RGBA if position < 0 else [*self.colors[position], FILL_ALPHA]


def share_scale() -> Scale:
    """Shares of residents, 0 to 100 %, in five classes."""
    edges = [0, 0.2, 0.4, 0.6, 0.8, 1.0000001]
    labels = ["under 20 %", "20-40 %", "40-60 %", "60-80 %", "80 % or more"]
    return Scale(edges, SEQUENTIAL, labels)


def quantile_scale(values: np.ndarray, *, unit: str) -> Scale:
    """Five classes of roughly equal size, for amounts without a natural range (m2 of park per resident)."""
    finite = np.asarray(values, float)[np.isfinite(values)]
    if len(finite) == 0:
        finite = np.array([0.0, 1.0])
    edges = np.unique(np.round(np.quantile(finite, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), 3))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0] + 1])
    edges[-1] = np.nextafter(edges[-1], np.inf)
    labels = [f"{_number(a)}-{_number(b)} {unit}".rstrip() for a, b in zip(edges[:-1], edges[1:])]
    colors = [SEQUENTIAL[round(i * (len(SEQUENTIAL) - 1) / max(len(labels) - 1, 1))] for i in range(len(labels))]
    return Scale(list(edges), colors, labels)


def change_scale(values: np.ndarray, *, unit: str, percent: bool = False) -> Scale:
    """Five classes around no change, symmetric, purple for better and orange for worse (higher is better)."""
    finite = np.abs(np.asarray(values, float)[np.isfinite(values)])
    limit = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    edges = [-np.inf, -limit / 3, -limit / 30, limit / 30, limit / 3, np.inf]
    show = (lambda v: f"{v * 100:.1f} pp") if percent else (lambda v: f"{v:,.3g} {unit}".rstrip())
    labels = [f"worse by more than {show(-edges[1])}", f"worse by {show(-edges[2])} to {show(-edges[1])}",
              f"within ±{show(edges[3])}: about the same", f"better by {show(edges[3])} to {show(edges[4])}",
              f"better by more than {show(edges[4])}"]
    return Scale(edges, DIVERGING, labels)


def _number(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _rgb(color: list[int]) -> str:
    return f"rgb({color[0]},{color[1]},{color[2]})"


@dataclass
class ZoneMap:
    """One map: zones coloured by class over the twin's base map, with what is drawn on top (flood, changes,
    destinations), a title, a legend with units and the data credits. Shown inline in a notebook (offline), written
    as a page by :func:`write_html`, and one of many in a report (:class:`MapPage`)."""

    twin: Twin
    values: pd.Series  # by zone id; NaN: no residents of the group, or hidden
    tooltips: pd.Series  # by zone id
    title: str
    legend_title: str
    scale: Scale
    credits: list[str]
    notes: list[str] = field(default_factory=list)
    k: int = DEFAULT_K
    overlays: list[pdk.Layer] = field(default_factory=list)
    symbols: list[tuple[str, str]] = field(default_factory=list)  # legend rows for the overlays: (css, label)

    def classes(self) -> list[int]:
        """Each zone's colour class (-1: no data), in the order of the twin's zones."""
        return [self.scale.index(float(self.values.get(zone_id, np.nan))) for zone_id in self.twin.layers["zones"].index]

    def tips(self) -> list[str]:
        """Each zone's tooltip, escaped: deck.gl shows tooltips as HTML, and group names can be user columns."""
        return [html.escape(str(self.tooltips.get(zone_id, ""))) for zone_id in self.twin.layers["zones"].index]

    def legend_html(self) -> str:
        """The legend: the classes with units in the title, no data, then the symbols of what is drawn on top."""
        rows = [(f"background: {_rgb(c)}", label) for c, label in zip(self.scale.colors, self.scale.labels)]
        rows.append(("background: rgba(200,200,200,0.6)",
                      f"no residents of the group, or hidden (fewer than {self.k} households, or with them)"))
        rows += self.symbols
        cells = "".join(f'<div class="row"><span class="swatch" style="{css}"></span>{html.escape(label)}</div>'
                        for css, label in rows)
        return f"<b>{html.escape(self.legend_title)}</b>{cells}"

    def _repr_html_(self) -> str:
        """In Jupyter: the offline page of :func:`render_html` (deck.gl inlined, legend, credits) in an iframe,
        so the map shows with no network (pydeck's own HTML loads deck.gl from a CDN)."""
        page = html.escape(render_html(self), quote=True)
        return (f'<iframe srcdoc="{page}" title="{html.escape(self.title, quote=True)}" width="100%" height="560" '
                f'style="width: 100%; height: 560px; border: 1px solid #ddd" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"ZoneMap({self.title!r}, {len(self.overlays)} overlays over the base map of {self.twin.name})"


class MapPage:
    """The map data of one page: the base map, zone outlines and overlays once, then each map by key as numbers
    (colour classes, a shared tooltip list, title, legend and the names of its overlays)."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.maps: dict[str, dict[str, Any]] = {}
        self.overlays: dict[str, dict[str, Any]] = {}
        self._overlay_names: dict[int, str] = {}
        self.tips: dict[str, list[str]] = {}
        self._tip_names: dict[tuple[str, ...], str] = {}

    def add(self, key: str, zone_map: ZoneMap) -> None:
        names = []
        for layer in zone_map.overlays:
            if id(layer) not in self._overlay_names:
                name = f"{layer.id}-{len(self.overlays)}"
                self._overlay_names[id(layer)] = name
                self.overlays[name] = {**layer_spec(layer), "id": name}  # one id per layer: deck.gl matches by id
            names.append(self._overlay_names[id(layer)])
        tips = tuple(zone_map.tips())
        if tips not in self._tip_names:
            self._tip_names[tips] = f"t{len(self.tips)}"
            self.tips[self._tip_names[tips]] = list(tips)
        self.maps[key] = {"classes": zone_map.classes(), "colors": zone_map.scale.colors, "title": zone_map.title,
                          "legend": zone_map.legend_html(), "overlays": names, "tips": self._tip_names[tips]}

    def payload(self, **options: Any) -> dict[str, Any]:
        """Everything the page's script needs, as JSON-ready data; ``options`` name the selects and the swipe."""
        deck = deck_spec([], view_state(self.twin))
        return {"view": deck["initialViewState"], "views": deck["views"], "tooltip": TOOLTIP,
                "base": [layer_spec(layer) for layer in base_layers(self.twin)], "zones": zone_rings(self.twin),
                "overlays": self.overlays, "tips": self.tips, "maps": self.maps, **options}


def layer_spec(layer: pdk.Layer) -> dict[str, Any]:
    """A layer as deck.gl JSON. pydeck's serializer walks every record in Python; the records (plain lists and
    dicts) are left to the standard library's C encoder when the page is written, many times faster."""
    data, layer.data = layer.data, []
    try:
        spec = json.loads(layer.to_json())
    finally:
        layer.data = data
    spec["data"] = data
    for name, attribute in LITERAL_PROPS.items():  # pydeck reads these strings and lists as expressions
        if attribute in layer._kwargs:
            spec[name] = layer._kwargs[attribute]
    return spec


def deck_spec(layers: list[pdk.Layer], view: pdk.ViewState) -> dict[str, Any]:
    """A deck (view and layers) as deck.gl JSON, the layers as :func:`layer_spec` makes them."""
    spec = json.loads(pdk.Deck(layers=[], initial_view_state=view, map_provider=None, map_style=None).to_json())
    spec["layers"] = [layer_spec(layer) for layer in layers]
    return spec


def credits(twin: Twin) -> list[str]:
    """Sources and licences of the twin's layers, once each, for every map and report."""
    lines = []
    for name, prov in twin.provenance.items():
        line = f"{prov.get('source', name)} ({prov.get('licence', 'licence not recorded')})"
        if line not in lines:
            lines.append(line)
    return lines


def _rings(geometry: shapely.Geometry) -> list[list[list[list[float]]]]:
    """Polygons as deck.gl PolygonLayer polygons (outer ring, then holes), 5 decimals (about a metre)."""
    parts = getattr(geometry, "geoms", [geometry])
    return [[np.round(np.asarray(ring.coords)[:, :2], 5).tolist() for ring in (part.exterior, *part.interiors)]
            for part in parts if isinstance(part, shapely.Polygon) and not part.is_empty]


def base_layers(twin: Twin) -> list[pdk.Layer]:
    """The twin itself as the base map: water, parks, buildings and walkable streets (no tile server)."""
    if "base_layers" in twin.cache:
        return twin.cache["base_layers"]
    layers = []
    styles = {"water": WATER_RGBA, "parks": ([200, 228, 180, 255], [150, 190, 130, 255]),
              "buildings": ([222, 218, 210, 255], [170, 165, 155, 255])}
    for name, (fill, line) in styles.items():
        if name in twin.layers and len(twin.layers[name]):
            polygons = [{"polygon": p} for g in twin.layers[name].geometry.to_crs(4326) for p in _rings(g)]
            layers.append(pdk.Layer("PolygonLayer", polygons, id=f"base-{name}", get_polygon="polygon", filled=True,
                                    stroked=True, get_fill_color=fill, get_line_color=line,
                                    line_width_min_pixels=0.5, pickable=False))
    graph = twin.networks.get("walk")
    if graph is not None:
        layers.append(pdk.Layer("PathLayer", street_paths(graph, twin.crs), id="base-streets", get_path="path",
                                get_color=[150, 150, 150, 200], width_min_pixels=1, width_max_pixels=2, get_width=2,
                                pickable=False))
    twin.cache["base_layers"] = layers
    return layers


_street_paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def street_paths(graph: nx.MultiDiGraph, crs: str) -> list[dict[str, Any]]:
    """Each street once (not both directions) in lon/lat, made once per graph object: a scenario's twin shares
    its street graphs with the baseline, so every map of a session reuses them."""
    if graph not in _street_paths:
        seen, paths = set(), []
        for u, v, data in graph.edges(data=True):
            if (v, u) in seen:
                continue
            seen.add((u, v))
            paths.append(data["geometry"])
        lines = gpd.GeoSeries(paths, crs=crs).to_crs(4326)
        coords, owner = shapely.get_coordinates(lines.values, return_index=True)
        rounded = np.round(coords, 5).tolist()
        starts = np.searchsorted(owner, np.arange(len(lines) + 1))
        _street_paths[graph] = [{"path": rounded[a:b]} for a, b in zip(starts[:-1], starts[1:])]
    return _street_paths[graph]


def zone_rings(twin: Twin) -> list[list[list[list[float]]]]:
    """The zones' outlines in lon/lat, in the order of the twin's zones (made once per twin)."""
    if "zone_rings" not in twin.cache:
        zones = twin.layers["zones"].to_crs(4326)
        twin.cache["zone_rings"] = [(_rings(g) or [[]])[0] for g in zones.geometry]
    return twin.cache["zone_rings"]


def view_state(twin: Twin, *, width_px: int = 1100, height_px: int = 700) -> pdk.ViewState:
    """Centre on the twin and zoom so that its extent fills a typical browser window."""
    corners = gpd.GeoSeries.from_xy([twin.extent[0], twin.extent[2]], [twin.extent[1], twin.extent[3]], crs=twin.crs)
    left, bottom, right, top = corners.to_crs(4326).total_bounds
    latitude = (bottom + top) / 2
    lon_zoom = np.log2(width_px * 360 / (512 * max(right - left, 1e-9)))  # deck.gl: 512 px tiles
    lat_zoom = np.log2(height_px * 360 * np.cos(np.radians(latitude)) / (512 * max(top - bottom, 1e-9)))
    return pdk.ViewState(longitude=(left + right) / 2, latitude=latitude,
                         zoom=float(np.clip(min(lon_zoom, lat_zoom) - 0.5, 3, 18)))


def overlay_layers(twin: Twin, *, highlight: gpd.GeoDataFrame | None = None, highlight_kind: str = "",
                   outlines: gpd.GeoDataFrame | None = None,
                   changed: tuple[list[pdk.Layer], list[tuple[str, str]]] | None = None
                   ) -> tuple[list[pdk.Layer], list[tuple[str, str]]]:
    """What is drawn over the zones (flood water, what the scenario changed, the destinations), and their legend
    rows. ``changed`` is :func:`change_layers` of ``outlines`` already made (a page shares them between maps)."""
    layers, symbols = [], []
    if twin.flood_depth is not None:
        layers.append(depth_layer(twin.flood_depth))
        symbols.append(("background: linear-gradient(90deg, rgb(107,174,214), rgb(8,48,107))",
                        "flood water, shallow to 2 m or deeper"))
    if changed is None and outlines is not None and len(outlines):
        changed = change_layers(outlines)
    if changed is not None:
        layers += changed[0]
        symbols += changed[1]
    if highlight is not None and len(highlight):
        layers.append(_highlight_layer(highlight, highlight_kind))
        areas = highlight.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        symbols.append((f"background: transparent; border: 1.5px solid {_rgb(DESTINATION_RGBA)}" if areas else
                        f"background: {_rgb(DESTINATION_RGBA)}; border-radius: 50%; width: 8px; height: 8px",
                        f"{PLURAL_KINDS.get(highlight_kind, 'destinations')} (hover for id and name)"))
    return layers, symbols


def depth_layer(depth: xr.DataArray, *, deepest_m: float = 2.0) -> pdk.Layer:
    """Flood depth as a picture laid on the map: mid to dark blue up to ``deepest_m``, dry cells clear. The image
    travels inside the page as a data URI, so the map still needs no network."""
    from matplotlib import colormaps
    from PIL import Image

    shown = depth.rio.reproject("EPSG:4326", nodata=np.nan)
    values = np.nan_to_num(shown.to_numpy(), nan=0.0)
    low, high = FLOOD_BLUES
    rgba = (colormaps["Blues"](np.clip(low + (high - low) * values / deepest_m, 0, 1)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(values > 0.01, 190, 0)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=True)
    left, bottom, right, top = shown.rio.bounds()
    return pdk.Layer("BitmapLayer", id="flood-depth", bounds=[left, bottom, right, top], pickable=False,
                     image=pdk.types.String("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()))


def change_kind(change: str) -> str:
    """'new park' -> 'new', 'walk street closed' -> 'closed', 'flooded building' -> 'flooded'."""
    for kind in CHANGE_STYLES:
        if change.startswith(kind) or change.endswith(kind):
            return kind
    return "new"


def change_layers(changes: gpd.GeoDataFrame) -> tuple[list[pdk.Layer], list[tuple[str, str]]]:
    """What a scenario changed: thin outlines coloured by kind (new, removed, closed, slowed, flooded), with a
    symbol (+, ×) at new and removed places; hover says what and its id."""
    shown = changes.to_crs(4326)
    kinds = [change_kind(c) for c in shown["change"]]
    tips = [html.escape(f"{c} {i}: {n}" if isinstance(n, str) and n else f"{c} {i}")
            for c, i, n in zip(shown["change"], shown["id"], shown["name"])]
    lines, marks = [], []
    for geometry, kind, tip in zip(shown.geometry, kinds, tips):
        color, width, symbol, _ = CHANGE_STYLES[kind]
        if isinstance(geometry, (shapely.Polygon, shapely.MultiPolygon)):
            for polygon in _rings(geometry):
                lines.append({"path": polygon[0], "color": color, "width": width, "tooltip": tip})
        elif isinstance(geometry, (shapely.LineString, shapely.MultiLineString)):
            for part in getattr(geometry, "geoms", [geometry]):
                lines.append({"path": np.round(np.asarray(part.coords), 5).tolist(), "color": color, "width": width,
                              "tooltip": tip})
        if symbol and not isinstance(geometry, (shapely.LineString, shapely.MultiLineString)):
            point = geometry.representative_point()
            marks.append({"position": [round(point.x, 5), round(point.y, 5)], "text": symbol, "color": color,
                          "tooltip": tip})
    layers = [pdk.Layer("PathLayer", lines, id="changes", get_path="path", get_color="color", get_width="width",
                        width_units="pixels", pickable=True)]
    if marks:
        layers.append(pdk.Layer("TextLayer", marks, id="change-marks", get_position="position", get_text="text",
                                get_color="color", get_size=20, font_weight="bold", character_set=["+", "×"],
                                pickable=True))
    present = [kind for kind in CHANGE_STYLES if kind in kinds]
    symbols = [(f"background: transparent; border: {CHANGE_STYLES[k][1] + 0.5}px solid {_rgb(CHANGE_STYLES[k][0])}",
                CHANGE_STYLES[k][3]) for k in present]
    return layers, symbols


def _highlight_layer(features: gpd.GeoDataFrame, kind: str) -> pdk.Layer:
    """Destinations on top of the zones: areas outlined, points as small dark dots; hover gives the id and name
    that a scenario file can use."""
    names = features["name"].fillna("").astype(str) if "name" in features else pd.Series("", features.index)
    label = kind or "destination"
    tips = [html.escape(f"{label} {i}: {n}" if n else f"{label} {i} (unnamed)") for i, n in zip(features.index, names)]
    shown = gpd.GeoDataFrame({"tooltip": tips}, geometry=features.geometry.values, crs=features.crs).to_crs(4326)
    if shown.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        data = [{"path": polygon[0], "tooltip": t} for g, t in zip(shown.geometry, shown["tooltip"])
                for polygon in _rings(g)]
        return pdk.Layer("PathLayer", data, id="destinations", get_path="path", get_color=DESTINATION_RGBA,
                         get_width=1.5, width_units="pixels", pickable=True)
    points = shown.geometry.representative_point()
    data = [{"position": [round(p.x, 5), round(p.y, 5)], "tooltip": t} for p, t in zip(points, shown["tooltip"])]
    return pdk.Layer("ScatterplotLayer", data, id="destinations", get_position="position",
                     get_fill_color=DESTINATION_RGBA, get_line_color=[255, 255, 255], stroked=True,
                     line_width_min_pixels=1, radius_min_pixels=3.5, get_radius=8, pickable=True)


def render_html(zone_map: ZoneMap) -> str:
    """The map as one self-contained HTML page: no scripts, styles, fonts or tiles from the network."""
    page = MapPage(zone_map.twin)
    page.add("", zone_map)
    return render_page("map.html.j2", title=zone_map.title, notes=zone_map.notes, credits=zone_map.credits,
                       payload=page.payload(selects=[]), controls=[])


def access_page(twin: Twin, ds: xr.Dataset, *, group: str, k: int = DEFAULT_K) -> str:
    """The page of one accessibility result for one group, with a map per threshold and a select between them;
    the note under the title gives the area-wide share at every threshold."""
    minutes = [float(m) for m in ds["minutes"].to_numpy()]
    maps_ = {m: access_map(twin, ds, group=group, minutes=m, k=k) for m in minutes}
    page = MapPage(twin)
    for m, each in maps_.items():
        page.add(f"{m:g}", each)
    shown = maps_[minutes[-1]]
    notes = shown.notes
    if ds.attrs["measure"] != "supply":
        safe = suppress(ds, k=k)
        shares = [f"{1 - float(safe['share_not_reaching'].sel(group=group, minutes=m)):.0%} within {m:g} minutes"
                  for m in minutes]
        notes = [f"Across the area, {words.group(group)} reaching {words.destination(ds.attrs['to'])} "
                 f"{words.mode(ds.attrs['mode'])}: {', '.join(shares)}.", *shown.notes[1:]]
    several = len(minutes) > 1
    controls = [("minutes", "Within", [(f"{m:g}", f"{m:g} min") for m in minutes], f"{minutes[-1]:g}")] \
        if several else []
    return render_page("map.html.j2", title=shown.title, notes=notes, credits=shown.credits,
                       payload=page.payload(selects=["minutes"] if several else []), controls=controls)


def write_html(zone_map: ZoneMap, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path``."""
    path = Path(path)
    path.write_text(render_html(zone_map), encoding="utf-8")
    return path


def zone_map(twin: Twin, values: pd.Series, tooltips: pd.Series, *, title: str, legend_title: str, scale: Scale,
             highlight: gpd.GeoDataFrame | None = None, highlight_kind: str = "", notes: list[str] | None = None,
             k: int = DEFAULT_K, outlines: gpd.GeoDataFrame | None = None,
             overlays: tuple[list[pdk.Layer], list[tuple[str, str]]] | None = None) -> ZoneMap:
    """Zones coloured by ``values`` (indexed by zone id; NaN = no data or hidden) over the twin's base map.

    ``tooltips`` (by zone id) are shown on hover, in plain words. ``highlight`` draws destinations on top;
    ``outlines`` (with ``change``, ``id`` and ``name`` columns) draws what a scenario changed; ``overlays``, when
    given, are those layers already made with their legend rows (a page with many maps makes them once).
    """
    if overlays is None:
        overlays = overlay_layers(twin, highlight=highlight, highlight_kind=highlight_kind, outlines=outlines)
    layers, symbols = overlays
    return ZoneMap(twin, values, tooltips, title, legend_title, scale, credits(twin), notes or [], k, list(layers),
                   list(symbols))


def destination_label(to: str) -> str:
    """What one destination is called in tooltips next to its id: the id a scenario file names it by."""
    if to == "parks":
        return "park"
    if to == "transit_stops" or to in ("tram", "bus", "metro", "rail", "ferry"):
        return "stop"
    return "facility"


def access_map(twin: Twin, ds: xr.Dataset, *, group: str, minutes: float | None = None,
               k: int = DEFAULT_K) -> ZoneMap:
    """The map of one accessibility result for one group: share reaching within ``minutes`` (nearest, within) or
    supply per resident (supply), zones with fewer than ``k`` households hidden."""
    measure, to, mode = ds.attrs["measure"], ds.attrs["to"], ds.attrs["mode"]
    safe = suppress(ds, k=k)
    who, where, how = words.group(group), words.destination(to), words.mode(mode)
    minutes = float(minutes if minutes is not None else safe["minutes"].to_numpy()[-1])
    if minutes not in safe["minutes"].to_numpy():
        raise TwinError(f"minutes: {minutes:g} was not computed; expected one of "
                        f"{', '.join(f'{m:g}' for m in safe['minutes'].to_numpy())}")
    counts = ds["households"].sel(group=group).to_pandas()
    hidden = safe["suppressed"].sel(group=group).to_pandas()
    if measure == "supply":
        values = safe["mean_supply_per_resident"].sel(group=group).to_pandas()
        unit = ds["supply_per_resident"].attrs.get("units", "per resident")
        scale = quantile_scale(values.to_numpy(), unit="")
        capacity = ds.attrs.get("capacity")
        what = words.amount(to, None if capacity == "count" else capacity)
        title = f"{what.capitalize()} per person among {who}, within {minutes:g} minutes {how}"
        legend = f"{what} per person within {minutes:g} min ({unit})"
        text = {z: f"{_number(v)} {unit}" for z, v in values.items()}
        share = 1 - float(safe["share_not_reaching"].sel(group=group).item())
    else:
        values = safe["share_reaching"].sel(group=group, minutes=minutes).to_pandas()
        scale = share_scale()
        title = f"Share of {who} who reach {where} within {minutes:g} minutes {how}"
        legend = f"share of {who} within {minutes:g} min (% of residents)"
        text = {z: f"{v:.0%} reach {where} within {minutes:g} min" for z, v in values.items()}
        share = 1 - float(safe["share_not_reaching"].sel(group=group, minutes=minutes).item())
        if measure == "nearest":
            median = safe["median_travel_time_s"].sel(group=group).to_pandas()
            text = {z: f"{t}; median trip {median[z] / 60:.1f} min" for z, t in text.items()}
    tooltips = {}
    for zone_id in values.index:
        if hidden[zone_id] and counts[zone_id] > 0:
            tooltips[zone_id] = (f"Zone {zone_id}: hidden to protect privacy (no households of {who}, fewer than {k}, "
                                  "or hidden alongside such a zone)")
        elif counts[zone_id] == 0:
            tooltips[zone_id] = (f"Zone {zone_id}: hidden to protect privacy (no households of {who}, fewer than {k}, "
                                  "or hidden alongside such a zone)")
        else:
            tooltips[zone_id] = f"Zone {zone_id}: {text[zone_id]} ({int(counts[zone_id])} households of {who})"
    notes = [f"Across the area, {share:.0%} of {who} reach {where} within {minutes:g} minutes {how}.",
             f"Zones with fewer than {k} households of the group are hidden. Households are synthetic."]
    return zone_map(twin, values, pd.Series(tooltips, dtype=object), title=title, legend_title=legend, scale=scale,
                    highlight=destinations(twin, to), highlight_kind=destination_label(to), notes=notes, k=k)


def scenario_maps(results: xr.DataTree, key: str, *, group: str, minutes: float | None = None, baseline: Twin,
                  variant: Twin, changes: gpd.GeoDataFrame | None = None,
                  overlays: dict[str, tuple[list[pdk.Layer], list[tuple[str, str]]]] | None = None
                  ) -> dict[str, ZoneMap]:
    """One indicator of a run's results for one group and threshold (the longest by default), as three maps: the
    ``baseline``, the ``scenario`` and the ``change`` between them, small cells hidden alike in all three, what the
    scenario changed drawn on each. ``overlays`` (per side, as :func:`overlay_layers` makes them) saves making the
    flood picture and the outlines again for every map of a page."""
    if key not in results.children:
        raise TwinError(f"indicator: unknown '{key}'; expected one of {', '.join(results.children)}")
    node = results[key].to_dataset()
    if group not in list(node["group"].to_numpy()):
        raise TwinError(f"group: '{group}' was not computed; expected one of {', '.join(node['group'].to_numpy())}")
    thresholds = [float(m) for m in node["minutes"].to_numpy()]
    minutes = thresholds[-1] if minutes is None else float(minutes)
    if minutes not in thresholds:
        raise TwinError(f"minutes: {minutes:g} was not computed for {key}; expected one of "
                        f"{', '.join(f'{m:g}' for m in thresholds)}")
    measure, to, mode = node.attrs["measure"], node.attrs["to"], node.attrs["mode"]
    name = str(results.attrs.get("scenario", "scenario"))
    k = int(node.attrs.get("k", DEFAULT_K))
    who, where, how = words.group(group), words.destination(to), words.mode(mode)
    headline = node.attrs["headline"]
    part = node[headline].sel(group=group)
    if "minutes" in part.dims:
        part = part.sel(minutes=minutes)
    before, after, change = (part.sel(side=side).to_pandas() for side in SIDES)
    unit = node[headline].attrs.get("units", "")
    if measure == "supply":
        capacity = node.attrs.get("capacity")
        what = words.amount(to, None if capacity == "count" else capacity)
        subject = f"{what} per person among {who}, within {minutes:g} min {how}"
        legend = f"{what} per person ({unit})"
        show = lambda v: f"{_number(v)} {unit}"  # noqa: E731
        scale = quantile_scale(np.concatenate([before.to_numpy(), after.to_numpy()]), unit="")
        difference = lambda v: f"{v:+,.3g} {unit}"  # noqa: E731
        change_legend = f"change in {what} per person ({unit}; purple better, orange worse)"
    else:
        subject = f"share of {who} who reach {where} within {minutes:g} minutes {how}"
        legend = f"share of {who} within {minutes:g} min (% of residents)"
        show = lambda v: f"{v:.0%}"  # noqa: E731
        scale = share_scale()
        difference = lambda v: f"{v * 100:+.0f} pp"  # noqa: E731
        change_legend = "change in the share reaching (percentage points; purple better, orange worse)"
    counts = node["households"].sel(group=group).max("side").to_pandas()
    hidden = node["suppressed"].sel(group=group).to_pandas()
    tooltips = {}
    for zone_id in before.index:
        if hidden[zone_id]:
            tooltips[zone_id] = (f"Zone {zone_id}: hidden to protect privacy (no households of {who}, fewer than {k}, "
                                  "or hidden alongside such a zone)")
        elif not counts[zone_id] > 0:
            tooltips[zone_id] = (f"Zone {zone_id}: hidden to protect privacy (no households of {who}, fewer than {k}, "
                                  "or hidden alongside such a zone)")
        else:
            tooltips[zone_id] = (f"Zone {zone_id}: {show(before[zone_id])} today, {show(after[zone_id])} with the "
                                 f"scenario ({difference(change[zone_id])}); {int(counts[zone_id])} households of "
                                 f"{who}")
    tips = pd.Series(tooltips, dtype=object)
    if overlays is None:
        changed = change_layers(changes) if changes is not None and len(changes) else None
        made = {id(twin_): overlay_layers(twin_, changed=changed, highlight=destinations_of(twin_, to),
                                          highlight_kind=destination_label(to)) for twin_ in (baseline, variant)}
        overlays = {side: made[id(baseline if side == "baseline" else variant)] for side in SIDES}
    change_scale_ = change_scale(change.to_numpy(), unit=unit, percent=measure != "supply")
    titles = {"baseline": f"Today: {subject}", "scenario": f"With '{name}': {subject}",
              "change": f"Change with '{name}': {subject}"}
    values = {"baseline": before, "scenario": after, "change": change}
    return {side: zone_map(baseline if side == "baseline" else variant, values[side], tips, title=titles[side],
                           legend_title=change_legend if side == "change" else legend,
                           scale=change_scale_ if side == "change" else scale, k=k, overlays=overlays[side])
            for side in SIDES}


def destinations_of(twin: Twin, to: str) -> gpd.GeoDataFrame | None:
    """The destinations of ``to`` when they are features of the twin (not, e.g., a transit mode's stops)."""
    return destinations(twin, to) if to in destination_names(twin) else None


def scenario_map(results: xr.DataTree, key: str, *, group: str, view: str, baseline: Twin, variant: Twin,
                 changes: gpd.GeoDataFrame | None = None, minutes: float | None = None) -> ZoneMap:
    """One of :func:`scenario_maps`: ``view`` is baseline, scenario or change."""
    if view not in SIDES:
        raise TwinError(f"view: unknown '{view}'; expected one of {', '.join(SIDES)}")
    return scenario_maps(results, key, group=group, minutes=minutes, baseline=baseline, variant=variant,
                         changes=changes)[view]
