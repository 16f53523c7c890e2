"""Maps: zone values over the twin's own base map, as offline pages that make no network request.

A page (:class:`MapPage`) ships its base map, the zone outlines and the overlays once, and each map it can show as
numbers: a colour class per zone, and per tooltip set the zones' figures, which the page's script (``maps.js``)
writes into the tooltip's sentence. Coordinates and numbers travel in binary (base64 of little-endian typed arrays,
``"f4:..."``), never as JSON per feature; the same :class:`ZoneMap` serves the report, ``sandbox access``,
notebooks and figures.

What grows with a town is bounded, so that a page stays within a few megabytes beyond deck.gl at any size:

- the base map's layers stay vectors while they are small (:data:`BASE_VECTOR_BYTES`); the largest (buildings,
  then streets) are otherwise drawn into one picture laid on the map, at most :data:`PICTURE_PX` on its long side;
- what a scenario changed stays vector (with its tooltips) up to :data:`CHANGE_VECTOR_BYTES`, the rest (the most
  numerous kinds, e.g. flooded buildings) drawn in a picture in the same colours; destinations become dots when
  their outlines would take more than :data:`DESTINATION_VECTOR_BYTES`;
- zones merge into cells of several zones of the zone grid when their figures would take more than
  :data:`ZONE_BYTES`. A cell's figures are computed from the published (suppressed) figures of the zones it holds:
  a hidden zone adds nothing to it, the tooltip says how many of its zones are hidden, and a cell with fewer than
  ``k`` households shown is hidden too. The page never holds a hidden value.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr

from .. import words
from .._errors import TwinError
from ..access import destination_names, destinations
from ..privacy import DEFAULT_K, suppress
from ..results import BASELINE, SCENARIO, SIDES
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
# The base map: fill and outline of its areas, in drawing order, then the walkable streets on top.
BASE_STYLES = {"water": WATER_RGBA, "parks": ([200, 228, 180, 255], [150, 190, 130, 255]),
               "buildings": ([222, 218, 210, 255], [170, 165, 155, 255])}
STREET_RGBA = [150, 150, 150, 200]
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
TOOLTIP = {"html": "{tooltip}", "style": {"fontSize": "13px", "maxWidth": "320px"}}

# What a page may spend (characters of its map data, base64 included) on the parts that grow with a town; with
# the flood picture and the pictures these fall back to, a page stays within deck.gl + 5 MB (tests/test_report_size).
BASE_VECTOR_BYTES = 600_000
CHANGE_VECTOR_BYTES = 500_000
DESTINATION_VECTOR_BYTES = 250_000
ZONE_BYTES = 1_800_000
SEGMENT_VERTICES = 2_000  # lines with more vertices than this are drawn as segments (MapLayer.segments)
PICTURE_PX = 2048  # the long side of a picture of the base map or of changes; its pixels are at least PICTURE_MIN_M
PICTURE_MIN_M = 1.0
FLOOD_PICTURE_PX = 1024  # the flood depth is smooth: its picture needs fewer pixels
_TYPES = {"f4": "<f4", "f8": "<f8", "u1": "u1", "u2": "<u2", "u4": "<u4"}
_PLACE = re.compile(r"\{(\w+):(\w+)\}")


def packed(values: Any, code: str) -> str:
    """An array as the page's script reads it (``maps.js``: ``array``): a type code (``f4`` float32, ``f8``,
    ``u1``, ``u2``, ``u4``), a colon, then the array's little-endian bytes in base64."""
    array = np.ascontiguousarray(np.asarray(values), dtype=_TYPES[code])
    return f"{code}:{base64.b64encode(array.tobytes()).decode('ascii')}"


def unpacked(text: str) -> np.ndarray:
    """:func:`packed` read back (for tests and notebooks)."""
    code, data = text.split(":", 1)
    return np.frombuffer(base64.b64decode(data), dtype=_TYPES[code])


# ------------------------------------------------------------------------------------------------ colour classes

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

    def indices(self, values: Any) -> np.ndarray:
        """:meth:`index` of every value of an array."""
        values = np.asarray(values, dtype=float)
        found = np.clip(np.searchsorted(self.edges, values, side="right") - 1, 0, len(self.colors) - 1)
        return np.where(np.isfinite(values), found, -1)

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


# ------------------------------------------------------------------------------------------------------ tooltips

def _integer(value: float) -> str:
    return f"{int(value)}" if np.isfinite(value) else f"{value}"


# How a figure is written in a tooltip (Python's format specs); maps.js writes them the same way, digit for digit.
FORMATS: dict[str, Callable[[float], str]] = {
    "share": lambda v: f"{v:.0%}",
    "pp": lambda v: f"{v * 100:+.0f} pp",
    "number": _number,
    "g3": lambda v: f"{v:,.3g}",
    "signed": lambda v: f"{v:+,.3g}",
    "int": _integer,
    "minutes": lambda v: f"{v / 60:.1f}",
}


def tip_text(text: object) -> str:
    """Words for a tooltip's sentence: escaped (deck.gl shows tooltips as HTML, and group names can be user
    columns), braces too, so that no user text reads as one of the sentence's ``{field:format}`` places."""
    return html.escape(str(text)).replace("{", "&#123;").replace("}", "&#125;")


def fill(template: str, values: dict[str, float]) -> str:
    """A tooltip sentence with its ``{field:format}`` places written out (:data:`FORMATS`)."""
    return _PLACE.sub(lambda m: FORMATS[m.group(2)](values[m.group(1)]), template)


@dataclass(eq=False)
class ZoneTips:
    """The tooltips of a map's zones as figures and sentences.

    ``text`` is the sentence of a zone shown and ``hidden`` that of a zone that is not (hidden to protect privacy,
    or without residents of the group); their ``{field:format}`` places are filled from ``fields`` (by zone id;
    ``zone`` is the zone's id). Only the figures of shown zones are written. When zones merge into cells,
    ``combine`` says how each field adds up over a cell's shown zones (``sum``, ``mean`` or ``mean:<weight
    field>``, ``diff:<a>,<b>``), and ``cell_text`` and ``cell_hidden`` are a cell's sentences, with ``zones`` (how
    many zones it holds) and ``hidden`` (how many of them are not shown); ``size`` names a count a shown cell needs
    at least ``k`` of. ``texts`` (by zone id) are fixed sentences instead (maps made from strings; never merged).
    """

    text: str = ""
    hidden: str = ""
    fields: dict[str, pd.Series] = field(default_factory=dict)
    shown: pd.Series | None = None
    combine: dict[str, str] = field(default_factory=dict)
    cell_text: str = ""
    cell_hidden: str = ""
    size: str | None = None
    texts: pd.Series | None = None

    @classmethod
    def from_strings(cls, tooltips: pd.Series) -> ZoneTips:
        return cls(texts=tooltips.map(tip_text))

    @property
    def mergeable(self) -> bool:
        return self.texts is None and bool(self.cell_text)

    def figures(self, zone_ids: pd.Index) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Per zone (in ``zone_ids`` order) each field as float32 (NaN where the zone is not shown) and whether it
        is shown."""
        shown = self.shown.reindex(zone_ids, fill_value=False).to_numpy(dtype=bool)
        values = {name: np.where(shown, series.reindex(zone_ids).to_numpy(dtype=float), np.nan).astype(np.float32)
                  for name, series in self.fields.items()}
        values["zone"] = np.asarray(zone_ids, dtype=float)
        return values, shown

    def rendered(self, zone_ids: pd.Index) -> list[str]:
        """The tooltips as the page's script writes them, in ``zone_ids`` order."""
        if self.texts is not None:
            return [str(self.texts.get(zone_id, "")) for zone_id in zone_ids]
        values, shown = self.figures(zone_ids)
        return [fill(self.text if shown[i] else self.hidden, {name: float(v[i]) for name, v in values.items()})
                for i in range(len(zone_ids))]


# ------------------------------------------------------------------------------------------------------- layers

@dataclass(eq=False)
class MapLayer:
    """One deck.gl layer as the page's script makes it (``maps.js``: ``layer``): the layer's ``type`` and ``id``,
    constant ``props`` (deck.gl's names), its ``geometry`` in binary (:func:`polygon_geometry`, :func:`path_geometry`,
    :func:`point_geometry`), per-feature ``styles`` (``index``: a small table row per feature; ``get``: accessor
    name to table) and ``tips`` (:func:`labelled_tips`). With ``segments`` its lines are drawn as straight
    segments (a LineLayer): a path layer's joints cost a software renderer (headless Chromium) about a second a
    frame for thousands of lines, and at the one or two pixels these lines are wide they look the same."""

    type: str
    id: str
    props: dict[str, Any]
    geometry: dict[str, Any] | None = None
    styles: dict[str, Any] | None = None
    tips: dict[str, Any] | None = None
    segments: bool = False  # draw the lines (paths, areas' outlines) as straight segments (see maps.js)

    def spec(self) -> dict[str, Any]:
        parts = {"type": self.type, "id": self.id, "props": self.props, "geometry": self.geometry,
                 "styles": self.styles, "tips": self.tips, "segments": self.segments or None}
        return {name: part for name, part in parts.items() if part is not None}

    @functools.cached_property
    def digest(self) -> str:
        """What the layer draws (its id aside): a page ships two layers that draw the same once."""
        spec = {**self.spec(), "id": ""}
        return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()

    @functools.cached_property
    def size(self) -> int:
        """Characters the layer takes in the page."""
        return len(json.dumps(self.spec(), default=str))


def _offsets(owner: np.ndarray, count: int) -> np.ndarray:
    """Where each of ``count`` groups starts in an array sorted by group (``owner``), and its end."""
    return np.searchsorted(owner, np.arange(count + 1))


def _lonlat(geometries: Any, crs: Any) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(np.asarray(geometries, dtype=object), crs=crs).to_crs(4326).values,
                      dtype=object)


def _flat(geometries: Any) -> np.ndarray:
    """Geometries without z (copied only when some have one: a copy of a city's buildings takes seconds)."""
    geometries = np.asarray(geometries, dtype=object)
    return shapely.force_2d(geometries) if shapely.has_z(geometries).any() else geometries


def _parts(geometries: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each geometry's parts with the geometry each belongs to; single parts as they are (splitting a city's
    streets and buildings, nearly all single, took seconds)."""
    flat = _flat(geometries)
    if not np.isin(shapely.get_type_id(flat), (4, 5, 6, 7)).any():
        return flat, np.arange(len(flat))
    return shapely.get_parts(flat, return_index=True)


def _polygon_parts(geometries: Any) -> tuple[np.ndarray, np.ndarray]:
    parts, owner = _parts(geometries)
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep]


def polygon_geometry(geometries: Any) -> dict[str, Any]:
    """Polygons and multipolygons (lon/lat) in binary: ``coords`` (lon, lat float32 pairs), ``lines`` (where each
    ring starts, in vertices; rings left open, deck.gl closes them), ``parts`` (where each polygon's rings start:
    the outer ring, then its holes) and ``features`` (where each feature's polygons start)."""
    geometries = np.asarray(geometries, dtype=object)
    parts, owner = _polygon_parts(geometries)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    closing = np.append(ring_of[1:] != ring_of[:-1], True) if len(ring_of) else np.zeros(0, bool)
    coords, ring_of = coords[~closing], ring_of[~closing]
    return {"kind": "polygon", "coords": packed(coords, "f4"), "lines": packed(_offsets(ring_of, len(rings)), "u4"),
            "parts": packed(_offsets(ring_part, len(parts)), "u4"),
            "features": packed(_offsets(owner, len(geometries)), "u4")}


def _line_parts(geometries: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lines, and the outer rings of areas, one per part, with the feature each belongs to."""
    parts, owner = _parts(geometries)
    kind = shapely.get_type_id(parts)
    parts = np.where(kind == 3, shapely.get_exterior_ring(parts), parts)
    keep = np.isin(kind, (1, 2, 3)) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep]


def path_geometry(geometries: Any) -> dict[str, Any]:
    """Lines (and areas as their outlines; lon/lat) in binary: ``coords``, ``lines`` (where each path starts, in
    vertices) and ``features`` (where each feature's paths start)."""
    geometries = np.asarray(geometries, dtype=object)
    parts, owner = _line_parts(geometries)
    coords, path_of = shapely.get_coordinates(parts, return_index=True)
    return {"kind": "path", "coords": packed(coords, "f4"), "lines": packed(_offsets(path_of, len(parts)), "u4"),
            "features": packed(_offsets(owner, len(geometries)), "u4")}


def point_geometry(points: Any) -> dict[str, Any]:
    """Points (lon/lat), one per feature, in binary: ``coords``."""
    return {"kind": "point", "coords": packed(shapely.get_coordinates(np.asarray(points, dtype=object)), "f4")}


def _estimate(vertices: int, offsets: int) -> int:
    """Characters a binary geometry takes in the page: float32 pairs and uint32 offsets, in base64."""
    return (8 * vertices + 4 * offsets) * 4 // 3


def labelled_tips(prefixes: Sequence[str], ids: Any, suffixes: Sequence[str]) -> dict[str, Any]:
    """Tooltips of the form ``"<prefix> <id><suffix>"`` ("park 12: Esplanadi", "flooded building 9: 0.40 m of
    water"): the distinct prefixes and suffixes once, each feature's as an index, ids as float64 (exact to 2^53).
    Text is escaped here; ids that are not numbers go into the suffix."""
    ids = pd.Series(np.asarray(ids, dtype=object))
    numeric = pd.to_numeric(ids, errors="coerce")
    whole = bool(numeric.notna().all()) and bool(np.all(np.mod(numeric.to_numpy(dtype=float), 1) == 0))
    suffixes = [tip_text(s) if whole else f"{tip_text(i)}{tip_text(s)}" for i, s in zip(ids, suffixes)]
    prefix_codes, prefix_names = pd.factorize(pd.Series([tip_text(p) for p in prefixes], dtype=object))
    suffix_codes, suffix_names = pd.factorize(pd.Series(suffixes, dtype=object))
    return {"prefix": list(prefix_names), "p": packed(prefix_codes, "u4"),
            "ids": packed(numeric.to_numpy(dtype=float) if whole else np.full(len(ids), np.nan), "f8"),
            "suffix": list(suffix_names), "s": packed(suffix_codes, "u4")}


# ------------------------------------------------------------------------------------------------------ pictures

class Picture:
    """A picture laid on the map (a deck.gl BitmapLayer) in Web Mercator, the projection deck.gl stretches an
    image in, over ``bounds``, at most ``long_px`` on its long side and no finer than :data:`PICTURE_MIN_M`:
    polygons and lines in a few palette colours, without anti-aliasing (a small PNG). Geometries and bounds are in
    ``crs``, projected to Web Mercator as they are drawn; without a ``crs`` they are drawn as given (a figure's
    picture in the twin's CRS)."""

    def __init__(self, bounds: Sequence[float], *, crs: Any = None, long_px: int = PICTURE_PX) -> None:
        # Geometries in ``crs`` are drawn with their coordinates projected (not the geometries: reprojecting a
        # city's buildings and streets as geometries took 4 s); ``bounds`` are in ``crs`` then.
        self._project = None if crs is None else pyproj.Transformer.from_crs(crs, 3857, always_xy=True)
        if self._project is not None:
            bounds = self._project.transform_bounds(*bounds, densify_pts=21)
        left, bottom, right, top = (float(b) for b in bounds)
        span = max(right - left, top - bottom, 1.0)
        self.scale = min(long_px / span, 1 / PICTURE_MIN_M)  # pixels per metre of Web Mercator
        self.left, self.top = left, top
        self.width = max(int(np.ceil((right - left) * self.scale)), 1)
        self.height = max(int(np.ceil((top - bottom) * self.scale)), 1)
        self.right, self.bottom = left + self.width / self.scale, top - self.height / self.scale
        self.pixels = np.zeros((self.height, self.width), dtype=np.uint8)  # palette indices, 0 clear
        self.palette: list[tuple[int, ...]] = [(0, 0, 0, 0)]

    def _coordinates(self, geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The geometries' vertices in Web Mercator, with the geometry each belongs to."""
        coords, owner = shapely.get_coordinates(geometries, return_index=True)
        if self._project is not None and len(coords):
            coords = np.column_stack(self._project.transform(coords[:, 0], coords[:, 1]))
        return coords, owner

    def _index(self, rgba: Sequence[int]) -> int:
        color = tuple(int(c) for c in (*rgba, 255)[:4])
        if color not in self.palette:
            self.palette.append(color)
        return self.palette.index(color)

    def _pixel_rings(self, geometries: Any) -> tuple[Callable[[np.ndarray], list[list[float]]], np.ndarray,
                                                      np.ndarray]:
        """Coordinates of ``geometries`` in pixels: a function giving the flat pixel lists of the chosen ones, and
        each one's size (of its bounding box) and centre in pixels."""
        shown = np.asarray(geometries, dtype=object)
        coords, owner = self._coordinates(shown)
        x = (coords[:, 0] - self.left) * self.scale
        y = (self.top - coords[:, 1]) * self.scale
        starts = _offsets(owner, len(shown))
        counts = np.diff(starts)
        extent = np.zeros(len(shown))
        centre = np.zeros((len(shown), 2))
        filled = counts > 0
        if filled.any():
            first = starts[:-1][filled]
            size = np.maximum(np.maximum.reduceat(x, first) - np.minimum.reduceat(x, first),
                              np.maximum.reduceat(y, first) - np.minimum.reduceat(y, first))
            extent[filled] = size
            centre[filled] = np.column_stack([np.add.reduceat(x, first), np.add.reduceat(y, first)]) \
                / counts[filled][:, None]

        def lines(chosen: np.ndarray) -> list[list[float]]:
            flat = np.column_stack([x, y]).ravel()
            return [flat[2 * starts[i]:2 * starts[i + 1]].tolist() for i in np.flatnonzero(chosen)]

        return lines, extent, centre

    def _dots(self, centre: np.ndarray, index: int) -> None:
        """Features smaller than a pixel: one pixel each."""
        cols, rows = np.floor(centre[:, 0]).astype(int), np.floor(centre[:, 1]).astype(int)
        inside = (cols >= 0) & (cols < self.width) & (rows >= 0) & (rows < self.height)
        self.pixels[rows[inside], cols[inside]] = index

    def polygons(self, geometries: Any, fill: Sequence[int], edge: Sequence[int]) -> None:
        """Areas filled with ``fill`` and outlined in ``edge``, holes left open."""
        from PIL import Image, ImageDraw

        parts, _ = _polygon_parts(geometries)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        outer = np.append(True, ring_part[1:] != ring_part[:-1]) if len(ring_part) else np.zeros(0, bool)
        lines, extent, centre = self._pixel_rings(rings)
        mask = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(mask)
        small = extent < 1.5  # a pixel or so: a dot (holes that small are left out)
        for line, is_outer in zip(lines(~small), outer[~small]):
            if len(line) >= 6:
                draw.polygon(line, fill=1 if is_outer else 0, outline=2)
        drawn = np.asarray(mask)
        self.pixels[drawn == 1] = self._index(fill)
        self.pixels[drawn == 2] = self._index(edge)
        self._dots(centre[small & outer], self._index(edge))

    def lines(self, geometries: Any, rgba: Sequence[int], width_px: float = 1.0) -> None:
        """Lines (and areas' outlines) ``width_px`` wide."""
        from PIL import Image, ImageDraw

        parts, _ = _line_parts(geometries)
        if round(width_px) <= 1:  # every line at once (PIL drew a town's million streets one at a time: 8 s)
            self._trace(parts, self._index(rgba))
            return
        lines, extent, centre = self._pixel_rings(parts)
        mask = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(mask)
        small = extent < 1
        for line in lines(~small):
            if len(line) >= 4:
                draw.line(line, fill=1, width=round(width_px))
        self.pixels[np.asarray(mask) == 1] = self._index(rgba)
        self._dots(centre[small], self._index(rgba))

    def _trace(self, lines: np.ndarray, index: int) -> None:
        """One-pixel lines, as a line-drawing algorithm draws them: along each segment, one pixel per step of its
        longer axis, the pixel under the point."""
        coords, owner = self._coordinates(lines)
        x = (coords[:, 0] - self.left) * self.scale
        y = (self.top - coords[:, 1]) * self.scale
        same = np.flatnonzero(owner[1:] == owner[:-1])  # segments: consecutive vertices of one line
        x0, y0, dx, dy = x[same], y[same], x[same + 1] - x[same], y[same + 1] - y[same]
        steps = np.ceil(np.maximum(np.abs(dx), np.abs(dy))).astype(np.int64) + 1  # points per segment
        segment = np.repeat(np.arange(len(same)), steps)
        at = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)) / np.maximum(steps - 1, 1)[segment]
        self._dots(np.column_stack([x0[segment] + at * dx[segment], y0[segment] + at * dy[segment]]), index)

    def dots(self, geometries: Any, rgba: Sequence[int], radius_px: float) -> None:
        """A round dot at each feature's representative point."""
        from PIL import Image, ImageDraw

        _, _, centre = self._pixel_rings(shapely.point_on_surface(np.asarray(geometries, dtype=object)))
        mask = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(mask)
        for x, y in centre.tolist():
            draw.ellipse((x - radius_px, y - radius_px, x + radius_px, y + radius_px), fill=1)
        self.pixels[np.asarray(mask) == 1] = self._index(rgba)

    def layer(self, layer_id: str) -> MapLayer:
        """The picture as a BitmapLayer, the PNG inlined (a data URI: no request)."""
        from PIL import Image

        image = Image.fromarray(self.pixels, "P")
        image.putpalette([c for color in self.palette for c in color[:3]])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=6, transparency=bytes(c[3] for c in self.palette))
        corners = gpd.GeoSeries(shapely.points([(self.left, self.bottom), (self.right, self.top)]), crs=3857)
        (west, south), (east, north) = shapely.get_coordinates(corners.to_crs(4326).values)
        uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        return MapLayer("BitmapLayer", layer_id, {"bounds": [west, south, east, north], "image": uri,
                                                   "pickable": False})


def _bounds(*frames: Any) -> tuple[float, float, float, float]:
    boxes = np.array([shapely.total_bounds(np.asarray(f, dtype=object)) for f in frames if len(f)])
    return (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))


# ----------------------------------------------------------------------------------------------------- base map

def street_lines(twin: Twin) -> np.ndarray | None:
    """Each walkable street once (not both directions), in the twin's CRS, from the compiled network's arrays."""
    net = twin.networks.get("walk")
    if net is None or net.n_edges == 0:
        return None
    return net.geometry[net.undirected()]


def base_layers(twin: Twin) -> list[MapLayer]:
    """The twin itself as the base map (no tile server): water, parks, buildings and walkable streets. Layers stay
    vectors while they take at most :data:`BASE_VECTOR_BYTES` together; beyond, the largest are drawn into one
    picture (:class:`Picture`) in their place. Made once per twin."""
    if "base_map" in twin.cache:
        return twin.cache["base_map"]
    found: list[tuple[str, np.ndarray, str]] = []  # (name, geometries in the twin's CRS, kind)
    for name in BASE_STYLES:
        if name in twin.layers and len(twin.layers[name]):
            found.append((name, np.asarray(twin.layers[name].geometry.values, dtype=object), "polygon"))
    streets = street_lines(twin)
    if streets is not None:
        found.append(("streets", streets, "path"))
    vertices = [int(shapely.get_num_coordinates(geometries).sum()) for _, geometries, _ in found]
    sizes = [_estimate(count, 3 * len(geometries)) for count, (_, geometries, _) in zip(vertices, found)]
    drawn = _pictured(sizes, BASE_VECTOR_BYTES)
    layers: list[MapLayer] = []
    picture = None
    for i, (name, geometries, kind) in enumerate(found):
        if i in drawn:
            if picture is None:
                picture = Picture(_bounds(*(found[j][1] for j in drawn)), crs=twin.crs)
                layers.append(picture)  # its place in the drawing order; made into a layer below
            if kind == "polygon":
                picture.polygons(geometries, *BASE_STYLES[name])
            else:
                picture.lines(geometries, STREET_RGBA)
        elif kind == "polygon":
            fill_rgba, line_rgba = BASE_STYLES[name]
            layers.append(MapLayer("PolygonLayer", f"base-{name}",
                                   {"filled": True, "stroked": True, "getFillColor": fill_rgba,
                                    "getLineColor": line_rgba, "lineWidthMinPixels": 0.5, "pickable": False},
                                   polygon_geometry(_lonlat(geometries, twin.crs)),
                                   segments=vertices[i] > SEGMENT_VERTICES))
        else:
            layers.append(MapLayer("PathLayer", "base-streets",
                                   {"getColor": STREET_RGBA, "widthMinPixels": 1, "widthMaxPixels": 2, "getWidth": 2,
                                    "pickable": False}, path_geometry(_lonlat(geometries, twin.crs)),
                                   segments=vertices[i] > SEGMENT_VERTICES))
    made = [layer.layer("base-picture") if isinstance(layer, Picture) else layer for layer in layers]
    twin.cache["base_map"] = made
    return made


def _pictured(sizes: list[int], budget: int) -> set[int]:
    """Which layers to draw as one picture: none while all fit the budget, else the largest until the rest fit,
    and those between them (one picture keeps one place in the drawing order)."""
    if sum(sizes) <= budget:
        return set()
    chosen: set[int] = set()
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        if sum(s for j, s in enumerate(sizes) if j not in chosen) <= budget:
            break
        chosen.add(i)
    return set(range(min(chosen), max(chosen) + 1))


# ----------------------------------------------------------------------------------------------------- zone maps

@dataclass
class ZoneMap:
    """One map: zones coloured by class over the twin's base map, with what is drawn on top (flood, changes,
    destinations), a title, a legend with units and the data credits. Shown inline in a notebook (offline), written
    as a page by :func:`write_html`, and one of many in a report (:class:`MapPage`). ``value_field`` names the
    tooltips' figure that ``values`` are (what lets a page merge zones into cells and colour the cells)."""

    twin: Twin
    values: pd.Series  # by zone id; NaN: no residents of the group, or hidden
    tooltips: ZoneTips | pd.Series  # by zone id
    title: str
    legend_title: str
    scale: Scale
    credits: list[str]
    notes: list[str] = field(default_factory=list)
    k: int = DEFAULT_K
    overlays: list[MapLayer] = field(default_factory=list)
    symbols: list[tuple[str, str]] = field(default_factory=list)  # legend rows for the overlays: (css, label)
    value_field: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tooltips, ZoneTips):
            self.tooltips = ZoneTips.from_strings(pd.Series(self.tooltips, dtype=object))

    def classes(self) -> list[int]:
        """Each zone's colour class (-1: no data), in the order of the twin's zones."""
        return self.scale.indices(self.values.reindex(self.twin.layers["zones"].index)).tolist()

    def tips(self) -> list[str]:
        """Each zone's tooltip (HTML, escaped), in the order of the twin's zones, as the page writes it."""
        return self.tooltips.rendered(self.twin.layers["zones"].index)

    def legend_html(self, note: str = "") -> str:
        """The legend: the classes with units in the title, no data, then the symbols of what is drawn on top."""
        rows = [(f"background: {_rgb(c)}", label) for c, label in zip(self.scale.colors, self.scale.labels)]
        rows.append(("background: rgba(200,200,200,0.6)",
                     f"no residents of the group, or hidden (fewer than {self.k} households, or with them)"))
        rows += self.symbols
        cells = "".join(f'<div class="row"><span class="swatch" style="{css}"></span>{html.escape(label)}</div>'
                        for css, label in rows)
        extra = f'<div class="note">{html.escape(note)}</div>' if note else ""
        return f"<b>{html.escape(self.legend_title)}</b>{cells}{extra}"

    def _repr_html_(self) -> str:
        """In Jupyter: the offline page of :func:`render_html` (deck.gl inlined, legend, credits) in an iframe,
        so the map shows with no network (pydeck's own HTML loads deck.gl from a CDN)."""
        page = html.escape(render_html(self), quote=True)
        return (f'<iframe srcdoc="{page}" title="{html.escape(self.title, quote=True)}" width="100%" height="560" '
                f'style="width: 100%; height: 560px; border: 1px solid #ddd" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"ZoneMap({self.title!r}, {len(self.overlays)} overlays over the base map of {self.twin.name})"


@dataclass(frozen=True, eq=False)
class Cells:
    """How a page shows the zones: each zone's cell (``member``, in the order of the twin's zones), the cells'
    outlines (lon/lat) and how many zones each holds. ``factor`` 1 is the zones themselves; ``factor`` n merges
    the zones whose centres fall in one square of n x n zone sizes (``size_m``) of a grid aligned to the CRS
    origin, as the zone grid is."""

    factor: int
    size_m: float
    member: np.ndarray
    geometry: np.ndarray
    zones: np.ndarray


def zone_cells(twin: Twin, factor: int) -> Cells:
    """:class:`Cells` of ``factor`` for the twin's zones (made once per twin and factor)."""
    key = ("zone_cells", factor)
    if key in twin.cache:
        return twin.cache[key]
    zones = twin.layers["zones"]
    size = _zone_size(zones)
    if factor == 1:
        made = Cells(1, size, np.arange(len(zones)), _lonlat(zones.geometry.values, zones.crs),
                     np.ones(len(zones), dtype=np.int64))
    else:
        codes = _cell_codes(zones, factor * size)
        member, first = pd.factorize(pd.Series(codes))
        merged = gpd.GeoDataFrame({"cell": member}, geometry=zones.geometry.values, crs=zones.crs)
        dissolved = merged.dissolve(by="cell").geometry
        outlines = shapely.simplify(dissolved.reindex(np.arange(len(first))).values, 0.01)
        made = Cells(factor, size, member, _lonlat(outlines, zones.crs), np.bincount(member, minlength=len(first)))
    twin.cache[key] = made
    return made


def _zone_size(zones: gpd.GeoDataFrame) -> float:
    areas = zones.geometry.area.to_numpy()
    return float(np.sqrt(np.median(areas))) if len(areas) and np.median(areas) > 0 else 1.0


def _cell_codes(zones: gpd.GeoDataFrame, side_m: float) -> np.ndarray:
    """Each zone's square of ``side_m`` (by its centroid: a grid zone's centre) as one number."""
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(zones.geometry.values, dtype=object)))
    cols, rows = np.floor(centres[:, 0] / side_m).astype(np.int64), np.floor(centres[:, 1] / side_m).astype(np.int64)
    return (cols - cols.min()) * (rows.max() - rows.min() + 1) + (rows - rows.min())


def merged_figures(tips: ZoneTips, zone_ids: pd.Index, cells: Cells, *, k: int) -> tuple[dict[str, np.ndarray],
                                                                                         np.ndarray]:
    """The figures of ``tips`` per cell from the zones' published figures: only shown zones count (the figures of
    a hidden zone are NaN in the results anyway); a cell is shown when it holds a shown zone and, where ``tips``
    names a ``size``, at least ``k`` of it. Adds ``zones`` and ``hidden`` (zones not shown) per cell."""
    values, shown = tips.figures(zone_ids)
    values = {name: v.astype(float) for name, v in values.items() if name != "zone"}
    member, count = cells.member, len(cells.zones)

    def total(v: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        usable = shown & np.isfinite(v) & (True if weight is None else np.isfinite(weight) & (weight > 0))
        w = np.ones(len(v)) if weight is None else weight
        return (np.bincount(member[usable], weights=(v * w)[usable], minlength=count),
                np.bincount(member[usable], weights=w[usable], minlength=count))

    out: dict[str, np.ndarray] = {}
    for name, rule in sorted(tips.combine.items(), key=lambda item: item[1].startswith("diff")):
        how, _, argument = rule.partition(":")
        if how == "diff":
            a, b = argument.split(",")
            out[name] = out[a] - out[b]
            continue
        sums, weights = total(values[name], values[argument] if argument else None)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(weights > 0, sums if how == "sum" else sums / weights, np.nan)
    shown_here = np.bincount(member[shown], minlength=count)
    visible = shown_here > 0
    if tips.size is not None:
        visible &= np.nan_to_num(out[tips.size]) >= k
    out = {name: np.where(visible, v, np.nan) for name, v in out.items()}
    out["zones"] = cells.zones.astype(float)
    out["hidden"] = (cells.zones - shown_here).astype(float)
    return out, visible


class _Pool:
    """Arrays of a page by content: the same figures (households of a group at every threshold, which zones are
    shown) are written once."""

    def __init__(self) -> None:
        self.arrays: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def add(self, values: np.ndarray, code: str) -> str:
        text = packed(values, code)
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest not in self._names:
            self._names[digest] = f"a{len(self.arrays)}"
            self.arrays[self._names[digest]] = text
        return self._names[digest]


class MapPage:
    """The map data of one page: the base map, zone outlines and overlays once, then each map by key as numbers
    (colour classes, a tooltip set shared by the maps that show the same zones' figures, title, legend and the names
    of its overlays). Zones merge into cells when their figures would take more than :data:`ZONE_BYTES`."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.entries: dict[str, tuple[ZoneMap, list[str]]] = {}
        self.overlays: dict[str, MapLayer] = {}
        self._overlay_names: dict[int, str] = {}
        self._digests: dict[str, str] = {}
        self._kept: list[MapLayer] = []  # keeps the ids of _overlay_names from being reused

    def add(self, key: str, zone_map: ZoneMap) -> None:
        names = []
        for layer in zone_map.overlays:
            if id(layer) not in self._overlay_names:
                name = self._digests.get(layer.digest)
                if name is None:
                    name = self._digests[layer.digest] = f"{layer.id}-{len(self.overlays)}"
                    self.overlays[name] = layer
                self._overlay_names[id(layer)] = name
                self._kept.append(layer)
            names.append(self._overlay_names[id(layer)])
        self.entries[key] = (zone_map, names)

    def cells(self) -> Cells:
        """The zones, or cells of several zones when the zones' figures would take more than :data:`ZONE_BYTES`
        (the smallest merge that fits)."""
        zones = self.twin.layers["zones"]
        zone_ids = zones.index
        maps = [zone_map for zone_map, _ in self.entries.values()]
        tips = list({id(m.tooltips): m.tooltips for m in maps}.values())
        if not maps or not all(m.value_field and m.tooltips.mergeable for m in maps):
            return zone_cells(self.twin, 1)
        arrays: set[bytes] = set()
        for each in tips:
            values, shown = each.figures(zone_ids)
            used = {name for template in (each.text, each.hidden) for name, _ in _PLACE.findall(template)}
            arrays.update(hashlib.sha1(values[name].tobytes()).digest() for name in used)
            arrays.add(hashlib.sha1(shown.tobytes()).digest())
        vertices = float(shapely.get_num_coordinates(zones.geometry.values).mean()) if len(zones) else 4.0
        per_zone = (8 * vertices + 12 + 4 * len(arrays) + len(maps)) * 4 / 3
        factor = 1
        while True:
            count = len(zone_ids) if factor == 1 else len(np.unique(_cell_codes(zones, factor * _zone_size(zones))))
            if count * per_zone <= ZONE_BYTES or count <= 1:
                return zone_cells(self.twin, factor)
            factor += 1

    def payload(self, **options: Any) -> dict[str, Any]:
        """Everything the page's script needs, as JSON-ready data; ``options`` name the selects and the swipe."""
        zone_ids = self.twin.layers["zones"].index
        cells = self.cells()
        pool = _Pool()
        tips: dict[int, str] = {}
        tip_specs: dict[str, dict[str, Any]] = {}
        merged: dict[int, dict[str, np.ndarray]] = {}
        note = ""
        if cells.factor > 1:
            note = (f"Zones are merged in cells of up to {cells.factor} x {cells.factor} zones "
                    f"({cells.factor * cells.size_m:,.0f} m) to keep the page small; hover a cell for its figures.")
        maps = {}
        for key, (zone_map, names) in self.entries.items():
            each = zone_map.tooltips
            if id(each) not in tips:
                tips[id(each)] = name = f"t{len(tips)}"
                tip_specs[name], figures = self._tip_spec(each, zone_ids, cells, pool, k=zone_map.k)
                merged[id(each)] = figures
            if cells.factor == 1:
                values = zone_map.values.reindex(zone_ids).to_numpy(dtype=float)
            else:
                values = merged[id(each)][zone_map.value_field]
            classes = zone_map.scale.indices(values) + 1  # 0: no data
            maps[key] = {"classes": packed(classes, "u1"), "colors": zone_map.scale.colors, "title": zone_map.title,
                         "legend": zone_map.legend_html(note), "overlays": names, "tips": tips[id(each)]}
        return {"view": view_state(self.twin), "views": [{"@@type": "MapView", "controller": True}],
                "tooltip": TOOLTIP, "base": [layer.spec() for layer in base_layers(self.twin)],
                "zones": {"geometry": polygon_geometry(cells.geometry), "cells": cells.factor},
                "overlays": {name: {**layer.spec(), "id": name} for name, layer in self.overlays.items()},
                "tips": tip_specs, "fields": pool.arrays, "maps": maps, **options}

    @staticmethod
    def _tip_spec(tips: ZoneTips, zone_ids: pd.Index, cells: Cells, pool: _Pool, *, k: int
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if tips.texts is not None:
            return {"texts": tips.rendered(zone_ids)}, {}
        if cells.factor == 1:
            values, shown = tips.figures(zone_ids)
            text, hidden = tips.text, tips.hidden
        else:
            values, shown = merged_figures(tips, zone_ids, cells, k=k)
            text, hidden = tips.cell_text, tips.cell_hidden
        used = dict.fromkeys(name for template in (text, hidden) for name, _ in _PLACE.findall(template))
        fields = {name: pool.add(values[name], "f8" if name == "zone" else "f4") for name in used}
        return {"text": text, "hidden": hidden, "fields": fields, "shown": pool.add(shown, "u1")}, values


def view_state(twin: Twin, *, width_px: int = 1100, height_px: int = 700) -> dict[str, float]:
    """Centre on the twin and zoom so that its extent fills a typical browser window."""
    corners = gpd.GeoSeries.from_xy([twin.extent[0], twin.extent[2]], [twin.extent[1], twin.extent[3]], crs=twin.crs)
    left, bottom, right, top = corners.to_crs(4326).total_bounds
    latitude = (bottom + top) / 2
    lon_zoom = np.log2(width_px * 360 / (512 * max(right - left, 1e-9)))  # deck.gl: 512 px tiles
    lat_zoom = np.log2(height_px * 360 * np.cos(np.radians(latitude)) / (512 * max(top - bottom, 1e-9)))
    return {"latitude": float(latitude), "longitude": float((left + right) / 2),
            "zoom": float(np.clip(min(lon_zoom, lat_zoom) - 0.5, 3, 18))}


def credits(twin: Twin) -> list[str]:
    """Sources and licences of the twin's layers, once each, for every map and report."""
    lines = []
    for name, prov in twin.provenance.items():
        line = f"{prov.get('source', name)} ({prov.get('licence', 'licence not recorded')})"
        if line not in lines:
            lines.append(line)
    return lines


# ------------------------------------------------------------------------------------------------------ overlays

def overlay_layers(twin: Twin, *, highlight: gpd.GeoDataFrame | None = None, highlight_kind: str = "",
                   outlines: gpd.GeoDataFrame | None = None,
                   changed: tuple[list[MapLayer], list[tuple[str, str]]] | None = None
                   ) -> tuple[list[MapLayer], list[tuple[str, str]]]:
    """What is drawn over the zones (flood water, what the scenario changed, the destinations), and their legend
    rows. ``changed`` is :func:`change_layers` of ``outlines`` already made (a page shares them between maps)."""
    layers, symbols = [], []
    if twin.flood_depth is not None:
        if "flood_layer" not in twin.cache:
            twin.cache["flood_layer"] = depth_layer(twin.flood_depth)
        layers.append(twin.cache["flood_layer"])
        symbols.append(("background: linear-gradient(90deg, rgb(107,174,214), rgb(8,48,107))",
                        "flood water, shallow to 2 m or deeper"))
    if changed is None and outlines is not None and len(outlines):
        changed = change_layers(outlines)
    if changed is not None:
        layers += changed[0]
        symbols += changed[1]
    if highlight is not None and len(highlight):
        layer, symbol = _highlight_layer(highlight, highlight_kind)
        layers.append(layer)
        symbols.append(symbol)
    return layers, symbols


def depth_layer(depth: xr.DataArray, *, deepest_m: float = 2.0) -> MapLayer:
    """Flood depth as a picture laid on the map: mid to dark blue up to ``deepest_m``, dry cells clear, at most
    :data:`FLOOD_PICTURE_PX` on its long side. The image travels inside the page as a data URI, so the map still
    needs no network."""
    from matplotlib import colormaps
    from PIL import Image

    shown = depth.rio.reproject("EPSG:4326", nodata=np.nan)
    if max(shown.shape) > FLOOD_PICTURE_PX:
        shrink = FLOOD_PICTURE_PX / max(shown.shape)
        shape = (max(int(shown.shape[0] * shrink), 1), max(int(shown.shape[1] * shrink), 1))
        shown = depth.rio.reproject("EPSG:4326", nodata=np.nan, shape=shape)
    values = np.nan_to_num(shown.to_numpy(), nan=0.0)
    low, high = FLOOD_BLUES
    rgba = (colormaps["Blues"](np.clip(low + (high - low) * values / deepest_m, 0, 1)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(values > 0.01, 190, 0)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=True)
    left, bottom, right, top = shown.rio.bounds()
    return MapLayer("BitmapLayer", "flood-depth", {"bounds": [left, bottom, right, top], "pickable": False,
                                                    "image": "data:image/png;base64,"
                                                             + base64.b64encode(buffer.getvalue()).decode()})


def change_kind(change: str) -> str:
    """'new park' -> 'new', 'walk street closed' -> 'closed', 'flooded building' -> 'flooded'."""
    for kind in CHANGE_STYLES:
        if change.startswith(kind) or change.endswith(kind):
            return kind
    return "new"


def change_layers(changes: gpd.GeoDataFrame) -> tuple[list[MapLayer], list[tuple[str, str]]]:
    """What a scenario changed: thin outlines coloured by kind (new, removed, closed, slowed, flooded), with a
    symbol (+, ×) at new and removed places; hover says what and its id. The changes stay vectors, the rarer kinds
    first, while they take at most :data:`CHANGE_VECTOR_BYTES`; the rest are drawn in a picture, in the same
    colours (a flood that reaches tens of thousands of buildings)."""
    kinds = np.array([change_kind(str(c)) for c in changes["change"]], dtype=object)
    order = list(CHANGE_STYLES)
    geometries = np.asarray(changes.geometry.values, dtype=object)
    vertices = shapely.get_num_coordinates(geometries)
    rank = np.argsort(np.array([order.index(k) for k in kinds]), kind="stable")
    cost = (8 * vertices[rank] + 40) * 4 // 3  # coordinates, offsets, style, tooltip
    vector = np.zeros(len(changes), dtype=bool)
    vector[rank[np.cumsum(cost) <= CHANGE_VECTOR_BYTES]] = True
    layers = []
    kept = changes[vector]
    if len(kept):
        layers += _change_vectors(kept, kinds[vector])
    if not vector.all():
        rest = geometries[~vector]
        picture = Picture(_bounds(rest), crs=changes.crs)
        for kind in order:
            chosen = rest[kinds[~vector] == kind]
            if len(chosen):
                color, width, _, _ = CHANGE_STYLES[kind]
                picture.lines(chosen, color, width)
        layers.insert(0, picture.layer("changes-picture"))
    present = [kind for kind in CHANGE_STYLES if kind in set(kinds)]
    symbols = [(f"background: transparent; border: {CHANGE_STYLES[k][1] + 0.5}px solid {_rgb(CHANGE_STYLES[k][0])}",
                CHANGE_STYLES[k][3]) for k in present]
    return layers, symbols


def _change_vectors(changes: gpd.GeoDataFrame, kinds: np.ndarray) -> list[MapLayer]:
    order = list(CHANGE_STYLES)
    shown = _lonlat(changes.geometry.values, changes.crs)
    style = np.array([order.index(k) for k in kinds], dtype=np.uint8)
    names = [f": {n}" if isinstance(n, str) and n else "" for n in changes["name"]]
    tips = labelled_tips([str(c) for c in changes["change"]], changes["id"].to_numpy(), names)
    get = {"getColor": [CHANGE_STYLES[k][0] for k in order], "getWidth": [CHANGE_STYLES[k][1] for k in order]}
    layers = [MapLayer("PathLayer", "changes", {"widthUnits": "pixels", "pickable": True}, path_geometry(shown),
                       {"index": packed(style, "u1"), "get": get}, tips,
                       segments=int(shapely.get_num_coordinates(shown).sum()) > SEGMENT_VERTICES)]
    types = shapely.get_type_id(shown)
    marked = np.array([CHANGE_STYLES[k][2] is not None for k in kinds]) & ~np.isin(types, (1, 5))
    if marked.any():
        chosen = np.flatnonzero(marked)
        points = shapely.point_on_surface(shown[chosen])
        texts = {"getText": [CHANGE_STYLES[k][2] or "" for k in order], "getColor": get["getColor"]}
        mark_tips = labelled_tips([str(changes["change"].iloc[i]) for i in chosen], changes["id"].to_numpy()[chosen],
                                  [names[i] for i in chosen])
        layers.append(MapLayer("TextLayer", "change-marks",
                               {"getSize": 20, "fontWeight": "bold", "characterSet": ["+", "×"], "pickable": True},
                               point_geometry(points), {"index": packed(style[chosen], "u1"), "get": texts},
                               mark_tips))
    return layers


def _highlight_layer(features: gpd.GeoDataFrame, kind: str) -> tuple[MapLayer, tuple[str, str]]:
    """Destinations on top of the zones: areas outlined, points as small dark dots; hover gives the id and name
    that a scenario file can use. When they would take more than :data:`DESTINATION_VECTOR_BYTES` (thousands of
    parks), they are drawn in a picture instead, the same way, without tooltips. Returns the layer and its legend
    row."""
    names = features["name"].fillna("").astype(str) if "name" in features else pd.Series("", features.index)
    label = kind or "destination"
    tips = labelled_tips([label] * len(features), features.index.to_numpy(),
                         [f": {n}" if n else " (unnamed)" for n in names])
    geometries = np.asarray(features.geometry.values, dtype=object)
    areas = bool(len(features)) and bool(np.isin(shapely.get_type_id(geometries), (3, 6)).all())
    plural = PLURAL_KINDS.get(kind, "destinations")
    row = (f"background: transparent; border: 1.5px solid {_rgb(DESTINATION_RGBA)}" if areas else
           f"background: {_rgb(DESTINATION_RGBA)}; border-radius: 50%; width: 8px; height: 8px")
    if areas:
        layer = MapLayer("PathLayer", "destinations", {"getColor": DESTINATION_RGBA, "getWidth": 1.5,
                                                       "widthUnits": "pixels", "pickable": True},
                         path_geometry(_lonlat(geometries, features.crs)), tips=tips,
                         segments=int(shapely.get_num_coordinates(geometries).sum()) > SEGMENT_VERTICES)
    else:
        points = _lonlat(gpd.GeoSeries(geometries).representative_point().values, features.crs)
        layer = MapLayer("ScatterplotLayer", "destinations",
                         {"getFillColor": DESTINATION_RGBA, "getLineColor": [255, 255, 255], "stroked": True,
                          "lineWidthMinPixels": 1, "radiusMinPixels": 3.5, "getRadius": 8, "pickable": True},
                         point_geometry(points), tips=tips)
    if layer.size <= DESTINATION_VECTOR_BYTES:
        return layer, (row, f"{plural} (hover for id and name)")
    shown = np.asarray(geometries, dtype=object)
    picture = Picture(_bounds(shown), crs=features.crs)
    if areas:
        picture.lines(shown, DESTINATION_RGBA, 1.5)
    else:
        picture.dots(shown, DESTINATION_RGBA, 3)
    return picture.layer("destinations-picture"), (row, plural)


# --------------------------------------------------------------------------------------------------------- pages

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


def zone_map(twin: Twin, values: pd.Series, tooltips: ZoneTips | pd.Series, *, title: str, legend_title: str,
             scale: Scale, highlight: gpd.GeoDataFrame | None = None, highlight_kind: str = "",
             notes: list[str] | None = None, k: int = DEFAULT_K, outlines: gpd.GeoDataFrame | None = None,
             overlays: tuple[list[MapLayer], list[tuple[str, str]]] | None = None,
             value_field: str | None = None) -> ZoneMap:
    """Zones coloured by ``values`` (indexed by zone id; NaN = no data or hidden) over the twin's base map.

    ``tooltips`` (by zone id: sentences, or a :class:`ZoneTips` with ``value_field`` naming its figure that
    ``values`` are) are shown on hover, in plain words. ``highlight`` draws destinations on top; ``outlines`` (with
    ``change``, ``id`` and ``name`` columns) draws what a scenario changed; ``overlays``, when given, are those
    layers already made with their legend rows (a page with many maps makes them once).
    """
    if overlays is None:
        overlays = overlay_layers(twin, highlight=highlight, highlight_kind=highlight_kind, outlines=outlines)
    layers, symbols = overlays
    return ZoneMap(twin, values, tooltips, title, legend_title, scale, credits(twin), notes or [], k, list(layers),
                   list(symbols), value_field)


def destination_label(to: str) -> str:
    """What one destination is called in tooltips next to its id: the id a scenario file names it by."""
    if to == "parks":
        return "park"
    if to == "transit_stops" or to in ("tram", "bus", "metro", "rail", "ferry"):
        return "stop"
    return "facility"


def _hidden_sentence(who: str, k: int) -> str:
    return f"hidden to protect privacy (no households of {tip_text(who)}, fewer than {k}, or hidden alongside such a zone)"


def _cell_sentences(who: str, k: int, figures: str) -> tuple[str, str]:
    """A merged cell's sentences: how many zones it holds and how many are not shown, then ``figures``."""
    shown = f"{{zones:int}} zones, {{hidden:int}} of them hidden or without households of {tip_text(who)}: {figures}"
    return shown, f"{{zones:int}} zones, all {_hidden_sentence(who, k)}"


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
    households = safe["households"].sel(group=group).to_pandas()
    shown = ~safe["suppressed"].sel(group=group).to_pandas().astype(bool) & (households > 0)
    residents = safe["residents"].sel(group=group).to_pandas()
    fields = {"households": households, "residents": residents}
    combine = {"households": "sum", "residents": "sum"}
    if measure == "supply":
        values = safe["mean_supply_per_resident"].sel(group=group).to_pandas()
        unit = ds["supply_per_resident"].attrs.get("units", "per resident")
        scale = quantile_scale(values.to_numpy(), unit="")
        capacity = ds.attrs.get("capacity")
        what = words.amount(to, None if capacity == "count" else capacity)
        title = f"{what.capitalize()} per person among {who}, within {minutes:g} minutes {how}"
        legend = f"{what} per person within {minutes:g} min ({unit})"
        name, figure = "supply", f"{{supply:number}} {tip_text(unit)}"
        share = 1 - float(safe["share_not_reaching"].sel(group=group).item())
    else:
        values = safe["share_reaching"].sel(group=group, minutes=minutes).to_pandas()
        scale = share_scale()
        title = f"Share of {who} who reach {where} within {minutes:g} minutes {how}"
        legend = f"share of {who} within {minutes:g} min (% of residents)"
        name, figure = "share", f"{{share:share}} reach {tip_text(where)} within {minutes:g} min"
        share = 1 - float(safe["share_not_reaching"].sel(group=group, minutes=minutes).item())
    fields[name], combine[name] = values, "mean:residents"
    text = figure
    if measure == "nearest":
        fields["median"] = safe["median_travel_time_s"].sel(group=group).to_pandas()
        text = f"{figure}; median trip {{median:minutes}} min"
    counted = f" ({{households:int}} households of {tip_text(who)})"
    tips = ZoneTips(f"Zone {{zone:int}}: {text}{counted}", f"Zone {{zone:int}}: {_hidden_sentence(who, k)}", fields,
                    shown, combine, *_cell_sentences(who, k, f"{figure}{counted}"), size="households")
    notes = [f"Across the area, {share:.0%} of {who} reach {where} within {minutes:g} minutes {how}.",
             f"Zones with fewer than {k} households of the group are hidden. Households are synthetic."]
    return zone_map(twin, values, tips, title=title, legend_title=legend, scale=scale,
                    highlight=destinations(twin, to), highlight_kind=destination_label(to), notes=notes, k=k,
                    value_field=name)


def scenario_maps(results: xr.DataTree, key: str, *, group: str, minutes: float | None = None, baseline: Twin,
                  variant: Twin, changes: gpd.GeoDataFrame | None = None,
                  overlays: dict[str, tuple[list[MapLayer], list[tuple[str, str]]]] | None = None
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
        show = lambda name: f"{{{name}:number}} {tip_text(unit)}"  # noqa: E731
        difference = f"{{change:signed}} {tip_text(unit)}"
        scale = quantile_scale(np.concatenate([before.to_numpy(), after.to_numpy()]), unit="")
        change_legend = f"change in {what} per person ({unit}; purple better, orange worse)"
    else:
        subject = f"share of {who} who reach {where} within {minutes:g} minutes {how}"
        legend = f"share of {who} within {minutes:g} min (% of residents)"
        show = lambda name: f"{{{name}:share}}"  # noqa: E731
        difference = "{change:pp}"
        scale = share_scale()
        change_legend = "change in the share reaching (percentage points; purple better, orange worse)"
    counts = node["households"].sel(group=group).max("side").to_pandas()
    hidden = node["suppressed"].sel(group=group).to_pandas().astype(bool)
    residents = node["residents"].sel(group=group)
    figures = (f"{show('before')} today, {show('after')} with the scenario ({difference}); {{households:int}} "
               f"households of {tip_text(who)}")
    tips = ZoneTips(f"Zone {{zone:int}}: {figures}", f"Zone {{zone:int}}: {_hidden_sentence(who, k)}",
                    {"before": before, "after": after, "change": change, "households": counts,
                     "w_before": residents.sel(side=BASELINE).to_pandas(),
                     "w_after": residents.sel(side=SCENARIO).to_pandas()},
                    ~hidden & (counts > 0),
                    {"before": "mean:w_before", "after": "mean:w_after", "change": "diff:after,before",
                     "households": "sum", "w_before": "sum", "w_after": "sum"},
                    *_cell_sentences(who, k, figures), size="households")
    if overlays is None:
        changed = change_layers(changes) if changes is not None and len(changes) else None
        made = {id(twin_): overlay_layers(twin_, changed=changed, highlight=destinations_of(twin_, to),
                                          highlight_kind=destination_label(to)) for twin_ in (baseline, variant)}
        overlays = {side: made[id(baseline if side == "baseline" else variant)] for side in SIDES}
    change_scale_ = change_scale(change.to_numpy(), unit=unit, percent=measure != "supply")
    titles = {"baseline": f"Today: {subject}", "scenario": f"With '{name}': {subject}",
              "change": f"Change with '{name}': {subject}"}
    values = {"baseline": before, "scenario": after, "change": change}
    fields = {"baseline": "before", "scenario": "after", "change": "change"}
    return {side: zone_map(baseline if side == "baseline" else variant, values[side], tips, title=titles[side],
                           legend_title=change_legend if side == "change" else legend,
                           scale=change_scale_ if side == "change" else scale, k=k, overlays=overlays[side],
                           value_field=fields[side])
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
