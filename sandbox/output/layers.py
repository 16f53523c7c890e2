"""layers.gpkg for QGIS users: a zone layer per indicator and side, the scenario's own features, and default styles
in the GeoPackage's ``layer_styles`` table (where QGIS reads and saves styles), so that every layer opens coloured
as on the HTML maps."""

from __future__ import annotations

import contextlib
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import xarray as xr

from ..results import CHANGE, SIDES, indicator_names, zonal_variables, zones_frame
from .maps import NO_DATA_RGBA, Scale, change_scale, quantile_scale, share_scale
from .tables import column

FILL_ALPHA = 150  # class colours, translucent over a base map as on the HTML maps
OUTLINE_RGBA = [60, 60, 60, 160]  # zone borders, as on the HTML maps
CHANGES_RGBA = [200, 0, 160, 255]  # magenta, as the HTML maps outline what a scenario changed
NULL_AS = -1e300  # NULL (hidden, or no residents) as the renderer sees it: a graduated renderer skips NULL
FAMILIES = {"Polygon": "polygons", "MultiPolygon": "polygons", "LineString": "lines", "MultiLineString": "lines",
            "Point": "points", "MultiPoint": "points"}
QGIS_SYMBOLS = {"polygons": ("fill", "SimpleFill", "2"), "lines": ("line", "SimpleLine", "1"),
                "points": ("marker", "SimpleMarker", "0")}  # symbol type, symbol layer class, layerGeometryType
QGIS_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
QGIS_VERSION = "3.28.0-Firenze"
SLD_NAMESPACES = {"version": "1.0.0", "xmlns": "http://www.opengis.net/sld", "xmlns:ogc": "http://www.opengis.net/ogc",
                  "xmlns:xlink": "http://www.w3.org/1999/xlink",
                  "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance"}
LAYER_STYLES = """CREATE TABLE layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256),
  f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"""  # GeoPackage DATETIME: ISO 8601


def write_layers(path: str | Path, tree: xr.DataTree, extra: dict[str, gpd.GeoDataFrame], *,
                 default_group: str = "elderly") -> None:
    """Write ``path`` anew: ``<indicator>_<side>`` zone layers (:func:`zone_layer`), each styled on its headline for
    ``default_group`` (else the first group) at the longest threshold; then the ``extra`` layers, one geometry type
    each (:func:`split_geometries`), outlined in the maps' magenta. Every layer gets a default style."""
    path = Path(path)
    path.unlink(missing_ok=True)
    styles = []
    zones = zones_frame(tree)
    for key in indicator_names(tree):
        node = tree[key].to_dataset()
        for side in SIDES:
            name = f"{key}_{side}"
            pyogrio.write_dataframe(zone_layer(tree, key, side, zones=zones), path, layer=name)
            styles.append((name, *zone_style(node, side, default_group=default_group)))
    for name, frame in extra.items():
        for part_name, part, family in split_geometries(name, frame):
            pyogrio.write_dataframe(part, path, layer=part_name)
            styles.append((part_name, single_symbol_qml(family), single_symbol_sld(part_name, family),
                           f"{name} ({family})"))
    write_styles(path, styles)


def zone_layer(tree: xr.DataTree, key: str, side: str, *, zones: gpd.GeoDataFrame | None = None
               ) -> gpd.GeoDataFrame:
    """One side of one indicator by zone: ``<variable>_<group>`` (``..._<minutes>min`` per threshold) for its zonal
    variables, counts as integers (NULL where hidden), and ``suppressed_<group>`` flags."""
    node = tree[key].to_dataset()
    groups = [str(g) for g in node["group"].to_numpy()]
    columns = {}
    for name in zonal_variables(node):
        var = node[name].sel(side=side)
        for group in groups:
            part = var.sel(group=group)
            if "minutes" in part.dims:
                for minutes in part["minutes"].to_numpy():
                    columns[f"{name}_{group}_{minutes:g}min"] = column(part.sel(minutes=minutes))
            else:
                columns[f"{name}_{group}"] = column(part)
    for group in groups:
        columns[f"suppressed_{group}"] = node["suppressed"].sel(group=group).to_numpy()
    zones = zones_frame(tree) if zones is None else zones
    table = pd.DataFrame(columns, index=pd.Index(node["zone"].to_numpy(), name="zone_id")).reset_index()
    return gpd.GeoDataFrame(table, geometry=zones.geometry.reindex(table["zone_id"]).to_numpy(), crs=zones.crs)


def split_geometries(name: str, frame: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame, str]]:
    """(layer name, features, family) per geometry family in ``frame``, since a GeoPackage layer holds one geometry
    type: ``name`` itself when there is one family, else ``<name>_polygons``, ``<name>_lines``, ``<name>_points``.
    Features without a polygon, line or point (none, or a collection) are left out; so is an empty frame."""
    family = frame.geom_type.map(FAMILIES).to_numpy()
    present = [f for f in ("polygons", "lines", "points") if (family == f).any()]
    return [(name if len(present) == 1 else f"{name}_{f}", frame[family == f], f) for f in present]


def zone_style(node: xr.Dataset, side: str, *, default_group: str) -> tuple[str, str, str]:
    """(QML, SLD, description) of a zone layer, from the HTML maps' colour classes for its headline column: shares
    in fixed 0-100 % classes, amounts in quantile classes shared by baseline and scenario, changes diverging."""
    headline = node.attrs["headline"]
    groups = [str(g) for g in node["group"].to_numpy()]
    group = default_group if default_group in groups else groups[0]
    values = node[headline].sel(group=group)
    name = f"{headline}_{group}"
    if "minutes" in values.dims:
        minutes = node["minutes"].to_numpy().max()
        values, name = values.sel(minutes=minutes), f"{name}_{minutes:g}min"
    unit, share = values.attrs.get("units", ""), headline.startswith("share")
    if side == CHANGE:
        scale = change_scale(values.sel(side=CHANGE).to_numpy(), unit=unit, percent=share)
    elif share:
        scale = share_scale()
    else:
        scale = quantile_scale(values.sel(side=[s for s in SIDES if s != CHANGE]).to_numpy().ravel(), unit=unit)
    no_data = (f"no residents of the group, or hidden (fewer than {node.attrs.get('k', 'k')} households, or hidden "
               "with them)")
    qml = graduated_qml(name, scale, values.sel(side=side).to_numpy(), no_data=no_data)
    description = f"{node.attrs.get('long_name', headline)}: {side}, coloured by {name}"
    return qml, graduated_sld(name, scale, no_data=no_data), description


def graduated_qml(column: str, scale: Scale, values: np.ndarray, *, no_data: str) -> str:
    """A QGIS graduated renderer on ``column`` with the classes of ``scale`` and a grey class for NULL.

    QGIS takes the first range with lower <= value <= upper, the maps take edges[i] <= value < edges[i+1]: every
    edge moves down by one ulp so both agree. Infinite end edges become the values' range."""
    finite = values[np.isfinite(values)]
    edges = np.array(scale.edges, float)
    inner = edges[np.isfinite(edges)]
    edges[0] = min(inner.min(), finite.min(initial=np.inf))
    edges[-1] = np.nextafter(max(inner.max(), finite.max(initial=-np.inf)), np.inf)
    edges = np.nextafter(edges, -np.inf)
    renderer = ET.Element("renderer-v2", {"type": "graduatedSymbol", "attr": f'coalesce("{column}", {NULL_AS!r})',
                                          "graduatedMethod": "GraduatedColor", "symbollevels": "0",
                                          "forceraster": "0", "enableorderby": "0"})
    ranges, symbols = ET.SubElement(renderer, "ranges"), ET.SubElement(renderer, "symbols")
    classes = [(NULL_AS, NULL_AS, no_data, NO_DATA_RGBA),
               *((lo, hi, label, [*rgb, FILL_ALPHA])
                 for lo, hi, label, rgb in zip(edges[:-1], edges[1:], scale.labels, scale.colors))]
    for i, (lo, hi, label, rgba) in enumerate(classes):
        ET.SubElement(ranges, "range", {"lower": repr(float(lo)), "upper": repr(float(hi)), "symbol": str(i),
                                        "label": label, "render": "true"})
        symbols.append(_qml_symbol(str(i), "polygons", {
            "color": _rgba(rgba), "style": "solid", "outline_color": _rgba(OUTLINE_RGBA), "outline_style": "solid",
            "outline_width": "0.26", "outline_width_unit": "MM"}))
    return _qml(renderer, "polygons")


def single_symbol_qml(family: str) -> str:
    """A QGIS single-symbol renderer in the maps' magenta: outlined polygons (no fill), thin lines, dots."""
    properties = {
        "polygons": {"color": "0,0,0,0", "style": "no", "outline_color": _rgba(CHANGES_RGBA),
                     "outline_style": "solid", "outline_width": "0.4", "outline_width_unit": "MM"},
        "lines": {"line_color": _rgba(CHANGES_RGBA), "line_style": "solid", "line_width": "0.4",
                  "line_width_unit": "MM", "capstyle": "round", "joinstyle": "round"},
        "points": {"name": "circle", "color": _rgba(CHANGES_RGBA), "size": "2.4", "size_unit": "MM",
                   "outline_color": "255,255,255,255", "outline_style": "solid", "outline_width": "0.3"},
    }[family]
    renderer = ET.Element("renderer-v2", {"type": "singleSymbol", "symbollevels": "0", "forceraster": "0",
                                          "enableorderby": "0"})
    ET.SubElement(renderer, "symbols").append(_qml_symbol("0", family, properties))
    return _qml(renderer, family)


def _qml_symbol(name: str, family: str, properties: dict[str, str]) -> ET.Element:
    kind, layer_class, _ = QGIS_SYMBOLS[family]
    symbol = ET.Element("symbol", {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1",
                                   "force_rhr": "0"})
    layer = ET.SubElement(symbol, "layer", {"class": layer_class, "enabled": "1", "locked": "0", "pass": "0"})
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in properties.items():
        ET.SubElement(options, "Option", {"type": "QString", "name": key, "value": value})
    return symbol


def _qml(renderer: ET.Element, family: str) -> str:
    document = ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": "Symbology"})
    document.append(renderer)
    ET.SubElement(document, "layerGeometryType").text = QGIS_SYMBOLS[family][2]
    ET.indent(document)
    return QGIS_DOCTYPE + ET.tostring(document, encoding="unicode")


def graduated_sld(column: str, scale: Scale, *, no_data: str) -> str:
    """The same classes as an SLD 1.0 (GeoServer, other GIS): a rule per class, one for NULL."""
    rules = []
    for lo, hi, label, rgb in zip(scale.edges[:-1], scale.edges[1:], scale.labels, scale.colors):
        tests = [("ogc:PropertyIsGreaterThanOrEqualTo", lo), ("ogc:PropertyIsLessThan", hi)]
        tests = [(test, edge) for test, edge in tests if np.isfinite(edge)]
        condition = [_sld_compare(test, column, edge) for test, edge in tests]
        if len(condition) > 1:
            both = ET.Element("ogc:And")
            both.extend(condition)
            condition = [both]
        rules.append(_sld_rule(label, condition, _sld_fill([*rgb, FILL_ALPHA], OUTLINE_RGBA)))
    is_null = ET.Element("ogc:PropertyIsNull")
    ET.SubElement(is_null, "ogc:PropertyName").text = column
    rules.append(_sld_rule(no_data, [is_null], _sld_fill(NO_DATA_RGBA, OUTLINE_RGBA)))
    return _sld(column, rules)


def single_symbol_sld(layer: str, family: str) -> str:
    """:func:`single_symbol_qml` as an SLD 1.0."""
    if family == "polygons":
        symbolizer = _sld_fill(None, CHANGES_RGBA)
    elif family == "lines":
        symbolizer = ET.Element("LineSymbolizer")
        symbolizer.append(_sld_stroke(CHANGES_RGBA, width=1.5))
    else:
        symbolizer = ET.Element("PointSymbolizer")
        graphic = ET.SubElement(symbolizer, "Graphic")
        mark = ET.SubElement(graphic, "Mark")
        ET.SubElement(mark, "WellKnownName").text = "circle"
        _sld_parameters(ET.SubElement(mark, "Fill"), {"fill": _hex(CHANGES_RGBA)})
        mark.append(_sld_stroke([255, 255, 255, 255], width=1))
        ET.SubElement(graphic, "Size").text = "7"
    return _sld(layer, [_sld_rule(layer, [], symbolizer)])


def _sld(name: str, rules: list[ET.Element]) -> str:
    document = ET.Element("StyledLayerDescriptor", SLD_NAMESPACES)
    layer = ET.SubElement(document, "NamedLayer")
    ET.SubElement(layer, "Name").text = name
    style = ET.SubElement(layer, "UserStyle")
    ET.SubElement(style, "Title").text = name
    ET.SubElement(style, "FeatureTypeStyle").extend(rules)
    ET.indent(document)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, encoding="unicode")


def _sld_rule(title: str, condition: list[ET.Element], symbolizer: ET.Element) -> ET.Element:
    rule = ET.Element("Rule")
    ET.SubElement(rule, "Name").text = title
    ET.SubElement(rule, "Title").text = title
    if condition:
        ET.SubElement(rule, "ogc:Filter").extend(condition)
    rule.append(symbolizer)
    return rule


def _sld_compare(test: str, column: str, value: float) -> ET.Element:
    element = ET.Element(test)
    ET.SubElement(element, "ogc:PropertyName").text = column
    ET.SubElement(element, "ogc:Literal").text = repr(float(value))
    return element


def _sld_fill(fill: list[int] | None, stroke: list[int]) -> ET.Element:
    symbolizer = ET.Element("PolygonSymbolizer")
    if fill is not None:
        _sld_parameters(ET.SubElement(symbolizer, "Fill"), {"fill": _hex(fill), "fill-opacity": _opacity(fill)})
    symbolizer.append(_sld_stroke(stroke, width=1))
    return symbolizer


def _sld_stroke(rgba: list[int], *, width: float) -> ET.Element:
    stroke = ET.Element("Stroke")
    _sld_parameters(stroke, {"stroke": _hex(rgba), "stroke-opacity": _opacity(rgba), "stroke-width": f"{width:g}"})
    return stroke


def _sld_parameters(element: ET.Element, parameters: dict[str, str]) -> None:
    for name, value in parameters.items():
        ET.SubElement(element, "CssParameter", {"name": name}).text = value


def _rgba(rgba: list[int]) -> str:
    return ",".join(str(int(c)) for c in rgba)


def _hex(rgba: list[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgba[:3])


def _opacity(rgba: list[int]) -> str:
    return f"{rgba[3] / 255:.2f}"


def write_styles(path: Path, styles: list[tuple[str, str, str, str]]) -> None:
    """Add (layer, QML, SLD, description) rows as each layer's default style to the ``layer_styles`` table of the
    GeoPackage at ``path`` (registered as an attributes table, as QGIS does when it saves a style there)."""
    geometry = {layer: pyogrio.read_info(path, layer=layer)["geometry_name"] for layer, *_ in styles}
    rows = [(layer, geometry[layer], layer, qml, sld, description) for layer, qml, sld, description in styles]
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(LAYER_STYLES)
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                   "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles')")
        db.executemany("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                       "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                       "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '')", rows)
