"""Maps: pydeck decks of zone values over the twin's own base map, and offline HTML that makes no network request."""

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

NO_DATA_RGBA = [200, 200, 200, 110]
# ColorBrewer YlGnBu: sequential, readable by most colour-blind viewers.
SEQUENTIAL = [[255, 255, 204], [161, 218, 180], [65, 182, 196], [44, 127, 184], [37, 52, 148]]


@dataclass(frozen=True)
class Scale:
    """Colour classes: ``edges`` has one more entry than ``colors``; ``labels`` say each class in words."""

    edges: list[float]
    colors: list[list[int]]
    labels: list[str]

    def color(self, value: float) -> list[int]:
        if not np.isfinite(value):
            return NO_DATA_RGBA
        position = int(np.clip(np.searchsorted(self.edges, value, side="right") - 1, 0, len(self.colors) - 1))
        return [*self.colors[position], 150]


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
    labels = [f"{_number(a)}-{_number(b)} {unit}" for a, b in zip(edges[:-1], edges[1:])]
    colors = [SEQUENTIAL[round(i * (len(SEQUENTIAL) - 1) / max(len(labels) - 1, 1))] for i in range(len(labels))]
    return Scale(list(edges), colors, labels)


def _number(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


@dataclass
class ZoneMap:
    """A map ready to show (``deck`` in a notebook) or to write as offline HTML (:func:`write_html`): the twin's
    base layers plus this map's own layers, a title, a legend and the data credits."""

    twin: Twin
    layers: list[pdk.Layer]
    view: pdk.ViewState
    title: str
    legend_title: str
    scale: Scale
    credits: list[str]
    notes: list[str] = field(default_factory=list)
    k: int = DEFAULT_K

    @property
    def deck(self) -> pdk.Deck:
        return pdk.Deck(layers=[*base_layers(self.twin), *self.layers], initial_view_state=self.view, map_provider=None,
                        map_style=None, tooltip=TOOLTIP)

    def layers_json(self) -> list[dict]:
        """This map's own layers as deck.gl JSON (the base layers are shared between maps of one page)."""
        return [layer_spec(layer) for layer in self.layers]

    def legend_html(self) -> str:
        rows = "".join(f'<div class="row"><span class="swatch" style="background: rgb({c[0]},{c[1]},{c[2]})">'
                       f"</span>{html.escape(label)}</div>" for c, label in zip(self.scale.colors, self.scale.labels))
        rows += (f'<div class="row"><span class="swatch" style="background: rgba(200,200,200,0.6)"></span>'
                 f"no residents of the group, or hidden (fewer than {self.k} households)</div>")
        if self.twin.flood_depth is not None:
            rows += ('<div class="row"><span class="swatch" style="background: linear-gradient(90deg, '
                     'rgb(198,219,239), rgb(8,48,107))"></span>flood water, shallow to 2 m or deeper</div>')
        return f"<b>{html.escape(self.legend_title)}</b>{rows}"

    def _repr_html_(self) -> str:  # so that a ZoneMap shows itself in Jupyter like a Deck
        return self.deck._repr_html_()


def layer_spec(layer: pdk.Layer) -> dict[str, Any]:
    """A layer as deck.gl JSON. pydeck's serializer walks every record in Python; the records (plain lists and
    dicts) are left to the standard library's C encoder when the page is written, many times faster."""
    data, layer.data = layer.data, []
    try:
        spec = json.loads(layer.to_json())
    finally:
        layer.data = data
    spec["data"] = data
    return spec


def deck_spec(layers: list[pdk.Layer], view: pdk.ViewState) -> dict[str, Any]:
    """A deck (view and layers) as deck.gl JSON, the layers as :func:`layer_spec` makes them."""
    spec = json.loads(pdk.Deck(layers=[], initial_view_state=view, map_provider=None, map_style=None).to_json())
    spec["layers"] = [layer_spec(layer) for layer in layers]
    return spec


TOOLTIP = {"html": "{tooltip}", "style": {"fontSize": "13px", "maxWidth": "320px"}}


def credits(twin: Twin) -> list[str]:
    """Sources and licences of the twin's layers, once each, for every map and report."""
    lines = []
    for name, prov in twin.provenance.items():
        line = f"{prov.get('source', name)} ({prov.get('licence', 'licence not recorded')})"
        if line not in lines:
            lines.append(line)
    return lines


def base_layers(twin: Twin) -> list[pdk.Layer]:
    """The twin itself as the base map: water, parks, buildings and walkable streets (no tile server)."""
    layers = []
    styles = {"water": ([170, 205, 235, 255], [120, 160, 200, 255]),
              "parks": ([200, 228, 180, 255], [150, 190, 130, 255]),
              "buildings": ([222, 218, 210, 255], [170, 165, 155, 255])}
    for name, (fill, line) in styles.items():
        if name in twin.layers and len(twin.layers[name]):
            frame = twin.layers[name][["geometry"]].to_crs(4326)
            layers.append(pdk.Layer("GeoJsonLayer", json.loads(frame.to_json()), id=f"base-{name}", filled=True,
                                    stroked=True, get_fill_color=fill, get_line_color=line, line_width_min_pixels=0.5,
                                    pickable=False))
    graph = twin.networks.get("walk")
    if graph is not None:
        layers.append(pdk.Layer("PathLayer", street_paths(graph, twin.crs), id="base-streets", get_path="path",
                                get_color=[140, 140, 140, 200], width_min_pixels=1, width_max_pixels=2, get_width=2,
                                pickable=False))
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
        rounded = np.round(coords, 6).tolist()
        starts = np.searchsorted(owner, np.arange(len(lines) + 1))
        _street_paths[graph] = [{"path": rounded[a:b]} for a, b in zip(starts[:-1], starts[1:])]
    return _street_paths[graph]


def view_state(twin: Twin, *, width_px: int = 1100, height_px: int = 700) -> pdk.ViewState:
    """Centre on the twin and zoom so that its extent fills a typical browser window."""
    corners = gpd.GeoSeries.from_xy([twin.extent[0], twin.extent[2]], [twin.extent[1], twin.extent[3]], crs=twin.crs)
    left, bottom, right, top = corners.to_crs(4326).total_bounds
    latitude = (bottom + top) / 2
    lon_zoom = np.log2(width_px * 360 / (512 * max(right - left, 1e-9)))  # deck.gl: 512 px tiles
    lat_zoom = np.log2(height_px * 360 * np.cos(np.radians(latitude)) / (512 * max(top - bottom, 1e-9)))
    return pdk.ViewState(longitude=(left + right) / 2, latitude=latitude,
                         zoom=float(np.clip(min(lon_zoom, lat_zoom) - 0.5, 3, 18)))


def zone_map(twin: Twin, values: pd.Series, tooltips: pd.Series, *, title: str, legend_title: str, scale: Scale,
             highlight: gpd.GeoDataFrame | None = None, notes: list[str] | None = None,
             k: int = DEFAULT_K, outlines: gpd.GeoDataFrame | None = None,
             overlays: list[pdk.Layer] | None = None) -> ZoneMap:
    """Zones coloured by ``values`` (indexed by zone id; NaN = no data or hidden) over the twin's base map.

    ``tooltips`` (by zone id) are shown on hover, in plain words. ``highlight`` draws destinations on top;
    ``outlines`` (with a ``change`` column) draws what a scenario changed; ``overlays``, when given, are those layers
    already made (a page with many maps makes them once).
    """
    if overlays is None:
        overlays = overlay_layers(twin, highlight=highlight, outlines=outlines)
    return ZoneMap(twin, [zones_layer(twin, values, tooltips, scale=scale), *overlays], view_state(twin), title,
                   legend_title, scale, credits(twin), notes or [], k)


def zones_layer(twin: Twin, values: pd.Series, tooltips: pd.Series, *, scale: Scale) -> pdk.Layer:
    """The zones of one map, coloured by class, with their tooltips."""
    if "zone_rings" not in twin.cache:
        zones = twin.layers["zones"].to_crs(4326)
        twin.cache["zone_rings"] = {zone_id: [[round(x, 6), round(y, 6)] for x, y in geometry.exterior.coords]
                                    for zone_id, geometry in zones.geometry.items()}
    records = [{"polygon": ring, "color": scale.color(float(values.get(zone_id, np.nan))),
                "tooltip": tooltips.get(zone_id, "")} for zone_id, ring in twin.cache["zone_rings"].items()]
    return pdk.Layer("PolygonLayer", records, id="zones", get_polygon="polygon", get_fill_color="color",
                     get_line_color=[60, 60, 60, 160], line_width_min_pixels=1, pickable=True, auto_highlight=True)


def overlay_layers(twin: Twin, *, highlight: gpd.GeoDataFrame | None = None,
                   outlines: gpd.GeoDataFrame | None = None) -> list[pdk.Layer]:
    """What is drawn over the zones: flood water, what the scenario changed, the destinations."""
    layers = []
    if twin.flood_depth is not None:
        layers.append(depth_layer(twin.flood_depth))
    if outlines is not None and len(outlines):
        layers.append(_outline_layer(outlines))
    if highlight is not None and len(highlight):
        layers.append(_highlight_layer(highlight))
    return layers


def depth_layer(depth: xr.DataArray, *, deepest_m: float = 2.0) -> pdk.Layer:
    """Flood depth as a picture laid on the map: light to dark blue up to ``deepest_m``, dry cells clear. The
    image travels inside the page as a data URI, so the map still needs no network."""
    from matplotlib import colormaps
    from PIL import Image

    shown = depth.rio.reproject("EPSG:4326", nodata=np.nan)
    values = np.nan_to_num(shown.to_numpy(), nan=0.0)
    rgba = (colormaps["Blues"](np.clip(0.35 + 0.65 * values / deepest_m, 0, 1)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(values > 0.01, 200, 0)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    left, bottom, right, top = shown.rio.bounds()
    return pdk.Layer("BitmapLayer", id="flood-depth", bounds=[left, bottom, right, top], pickable=False,
                     image=pdk.types.String("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()))


def _outline_layer(changes: gpd.GeoDataFrame) -> pdk.Layer:
    """What a scenario changed, drawn in magenta so it stands apart from the colour scale."""
    shown = changes.to_crs(4326)
    shown = shown.assign(tooltip=[html.escape(f"{c}: {n}" if n else c) for c, n in zip(shown["change"],
                                                                                        shown["name"])])
    return pdk.Layer("GeoJsonLayer", json.loads(shown[["tooltip", "geometry"]].to_json()), id="changes",
                     filled=False, stroked=True, get_line_color=[200, 0, 160, 255], line_width_min_pixels=3,
                     point_radius_min_pixels=6, pickable=False)


def _highlight_layer(features: gpd.GeoDataFrame) -> pdk.Layer:
    """Destinations on top of the zones: areas outlined, points as dots, named in their tooltip."""
    names = features["name"].fillna("").astype(str) if "name" in features else pd.Series("", features.index)
    shown = gpd.GeoDataFrame({"tooltip": [html.escape(n) or "unnamed" for n in names]},
                             geometry=features.geometry.values, crs=features.crs).to_crs(4326)
    if shown.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        parts = shown.explode(index_parts=False)
        data = [{"polygon": [[round(x, 6), round(y, 6)] for x, y in g.exterior.coords], "tooltip": t}
                for g, t in zip(parts.geometry, parts["tooltip"])]
        return pdk.Layer("PolygonLayer", data, id="destinations", get_polygon="polygon", filled=False, stroked=True,
                         get_line_color=[230, 85, 13, 255], line_width_min_pixels=2, pickable=True)
    points = shown.geometry.representative_point()
    data = [{"position": [round(p.x, 6), round(p.y, 6)], "tooltip": t} for p, t in zip(points, shown["tooltip"])]
    return pdk.Layer("ScatterplotLayer", data, id="destinations", get_position="position",
                     get_fill_color=[230, 85, 13, 230], get_line_color=[255, 255, 255], stroked=True,
                     line_width_min_pixels=1, radius_min_pixels=4, get_radius=12, pickable=True)


# The map's panels, shared by the map pages and the report.
MAP_CSS = """
  #deck-container { position: absolute; inset: 0; background: #f4f3ef; }
  .panel { position: absolute; z-index: 2; background: rgba(255,255,255,0.94); border-radius: 6px;
           box-shadow: 0 1px 4px rgba(0,0,0,0.3); padding: 8px 10px; font-size: 12px; color: #222; }
  #legend { bottom: 28px; left: 8px; max-width: 300px; }
  #legend .row { display: flex; align-items: center; margin: 2px 0; }
  #legend .swatch { width: 18px; height: 12px; margin-right: 6px; border: 1px solid #888; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  html, body {{ margin: 0; height: 100%; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
  #title {{ top: 10px; left: 10px; max-width: 460px; font-size: 13px; }}
  #title h1 {{ font-size: 17px; margin: 0 0 4px 0; }}
  #credits {{ bottom: 4px; right: 4px; font-size: 11px; padding: 3px 6px; max-width: 70%; }}
{map_css}
</style>
<script>{bundle}</script>
</head>
<body>
<div id="deck-container"></div>
<div id="title" class="panel"><h1>{title}</h1>{notes}</div>
<div id="legend" class="panel">{legend}</div>
<div id="credits" class="panel">{credits}</div>
<script>
  const deckInstance = createDeck({{
    container: document.getElementById("deck-container"),
    jsonInput: {deck_json},
    tooltip: {tooltip},
  }});
</script>
</body>
</html>
"""


def bundle() -> str:
    """deck.gl as pydeck ships it for offline notebooks; inlined so the page needs no CDN."""
    path = Path(pdk.__file__).parent / "nbextension" / "static" / "index.js"
    return path.read_text(encoding="utf-8").replace("</script>", "<\\/script>")


def render_html(zone_map: ZoneMap) -> str:
    """The map as one self-contained HTML page: no scripts, styles, fonts or tiles from the network."""
    notes = "".join(f"<div>{html.escape(n)}</div>" for n in zone_map.notes)
    return PAGE.format(title=html.escape(zone_map.title), notes=notes, map_css=MAP_CSS, legend=zone_map.legend_html(),
                       credits="Data: " + "; ".join(html.escape(c) for c in zone_map.credits),
                       bundle=bundle(), tooltip=json.dumps(TOOLTIP), deck_json=script_json(json.dumps(
                           deck_spec([*base_layers(zone_map.twin), *zone_map.layers], zone_map.view))))


def script_json(text: str) -> str:
    """JSON safe inside a <script> element."""
    return text.replace("</", "<\\/")


def write_html(zone_map: ZoneMap, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path``."""
    path = Path(path)
    path.write_text(render_html(zone_map), encoding="utf-8")
    return path


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
        scale = quantile_scale(values.to_numpy(), unit=unit)
        capacity = ds.attrs.get("capacity")
        title = (f"{words.amount(to, None if capacity == 'count' else capacity).capitalize()} per person among "
                 f"{who}, within {minutes:g} minutes {how}")
        legend = f"{words.amount(to, None if capacity == 'count' else capacity)} per person within {minutes:g} min"
        text = {z: f"{_number(v)} {unit}" for z, v in values.items()}
        share = 1 - float(safe["share_not_reaching"].sel(group=group).item())
    else:
        values = safe["share_reaching"].sel(group=group, minutes=minutes).to_pandas()
        scale = share_scale()
        title = f"Share of {who} who reach {where} within {minutes:g} minutes {how}"
        legend = f"share of {who} within {minutes:g} min"
        text = {z: f"{v:.0%} reach {where} within {minutes:g} min" for z, v in values.items()}
        share = 1 - float(safe["share_not_reaching"].sel(group=group, minutes=minutes).item())
        if measure == "nearest":
            median = safe["median_travel_time_s"].sel(group=group).to_pandas()
            text = {z: f"{t}; median trip {median[z] / 60:.1f} min" for z, t in text.items()}
    tooltips = {}
    for zone_id in values.index:
        if hidden[zone_id] and counts[zone_id] > 0:
            tooltips[zone_id] = f"Zone {zone_id}: fewer than {k} households of {who}; hidden to protect privacy"
        elif counts[zone_id] == 0:
            tooltips[zone_id] = f"Zone {zone_id}: no {who}"
        else:
            tooltips[zone_id] = f"Zone {zone_id}: {text[zone_id]} ({int(counts[zone_id])} households of {who})"
    notes = [f"Across the area, {share:.0%} of {who} reach {where} within {minutes:g} minutes {how}.",
             f"Zones with fewer than {k} households of the group are hidden. Households are synthetic."]
    return zone_map(twin, values, pd.Series(tooltips, dtype=object), title=title, legend_title=legend, scale=scale,
                    highlight=destinations(twin, to), notes=notes, k=k)


DIVERGING = [[202, 0, 32], [244, 165, 130], [247, 247, 247], [146, 197, 222], [5, 113, 176]]  # RdBu: red = worse


def change_scale(values: np.ndarray, *, unit: str, percent: bool = False) -> Scale:
    """Five classes around no change, symmetric, blue for better and red for worse (higher is better)."""
    finite = np.abs(np.asarray(values, float)[np.isfinite(values)])
    limit = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    edges = [-np.inf, -limit / 3, -limit / 30, limit / 30, limit / 3, np.inf]
    show = (lambda v: f"{v * 100:+.1f} pp") if percent else (lambda v: f"{v:+,.3g} {unit}")
    labels = [f"worse by more than {show(-edges[1])[1:]}", "worse", "about the same", "better",
              f"better by more than {show(edges[4])[1:]}"]
    return Scale(edges, DIVERGING, labels)


def scenario_map(results: xr.DataTree, key: str, *, group: str, view: str, baseline: Twin, variant: Twin,
                 changes: gpd.GeoDataFrame | None = None, overlays: list[pdk.Layer] | None = None) -> ZoneMap:
    """One indicator of a run's results for one group: the ``baseline``, the ``scenario`` or the ``change`` between
    them, small cells hidden alike in all three, what the scenario changed outlined."""
    if view not in SIDES:
        raise TwinError(f"view: unknown '{view}'; expected one of {', '.join(SIDES)}")
    if key not in results.children:
        raise TwinError(f"indicator: unknown '{key}'; expected one of {', '.join(results.children)}")
    node = results[key].to_dataset()
    if group not in list(node["group"].to_numpy()):
        raise TwinError(f"group: '{group}' was not computed; expected one of {', '.join(node['group'].to_numpy())}")
    measure, to, mode = node.attrs["measure"], node.attrs["to"], node.attrs["mode"]
    name = str(results.attrs.get("scenario", "scenario"))
    k = int(node.attrs.get("k", DEFAULT_K))
    who, where, how = words.group(group), words.destination(to), words.mode(mode)
    minutes = float(node["minutes"].to_numpy()[-1])
    headline = node.attrs["headline"]
    part = node[headline].sel(group=group)
    if "minutes" in part.dims:
        part = part.sel(minutes=minutes)
    before, after, change = (part.sel(side=side).to_pandas() for side in SIDES)
    if measure == "supply":
        unit = node[headline].attrs.get("units", "")
        capacity = node.attrs.get("capacity")
        subject = (f"{words.amount(to, None if capacity == 'count' else capacity)} per person among {who}, "
                   f"within {minutes:g} min {how}")
        show = lambda v: f"{_number(v)} {unit}"  # noqa: E731
        scale = quantile_scale(np.concatenate([before.to_numpy(), after.to_numpy()]), unit=unit)
    else:
        subject = f"share of {who} who reach {where} within {minutes:g} minutes {how}"
        show = lambda v: f"{v:.0%}"  # noqa: E731
        scale = share_scale()
    values = {"baseline": before, "scenario": after, "change": change}[view]
    if view == "change":
        scale = change_scale(change.to_numpy(), unit=unit if measure == "supply" else "", percent=measure != "supply")
    counts = node["households"].sel(group=group).max("side").to_pandas()
    hidden = node["suppressed"].sel(group=group).to_pandas()
    tooltips = {}
    for zone_id in values.index:
        if hidden[zone_id]:
            tooltips[zone_id] = f"Zone {zone_id}: fewer than {k} households of {who}; hidden to protect privacy"
        elif not counts[zone_id] > 0:
            tooltips[zone_id] = f"Zone {zone_id}: no {who}"
        else:
            difference = (f"{change[zone_id] * 100:+.0f} pp" if measure != "supply"
                          else f"{change[zone_id]:+,.3g} {unit}")
            tooltips[zone_id] = (f"Zone {zone_id}: {show(before[zone_id])} before, {show(after[zone_id])} after "
                                 f"({difference}); {int(counts[zone_id])} households of {who}")
    twin = baseline if view == "baseline" else variant
    title = {"baseline": f"Today: {subject}", "scenario": f"With '{name}': {subject}",
             "change": f"Change with '{name}': {subject}"}[view]
    legend = "change (blue better, red worse)" if view == "change" else subject
    return zone_map(twin, values, pd.Series(tooltips, dtype=object), title=title, legend_title=legend,
                    scale=scale, highlight=destinations(twin, to) if to in destination_names(twin) else None,
                    notes=[], k=k, outlines=changes, overlays=overlays)
