"""Static maps for documents: one PNG per indicator, today / with the scenario / the change side by side.

The three maps are the report's (:func:`.maps.scenario_maps`: the same values, colour classes, legend titles with
units and hidden zones), drawn on matplotlib's Agg canvas directly (a :class:`~matplotlib.figure.Figure` with its
own canvas: no pyplot, no backend switch, no global state) over the twin's buildings and water, with what the
scenario changed and the flood drawn as the HTML maps draw them, a scale bar, a north arrow and the data credits.
The same results give the same bytes.
"""

from __future__ import annotations

import operator
import textwrap
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from .. import words
from ..results import BASELINE, CHANGE, SCENARIO, SIDES, indicator_names, zones_frame
from ..twin import Twin
from .maps import (CHANGE_STYLES, DESTINATION_RGBA, FILL_ALPHA, FLOOD_BLUES, WATER_RGBA, Picture, Scale, ZoneMap,
                   change_kind, credits, destinations_of, scenario_maps)

SIZE_IN = (15.0, 6.0)
DPI = 150
# The base map, drawn lightly under the zones: buildings and parks in pale tones, water as the HTML maps draw it.
BASE_COLORS = {"water": tuple(c / 255 for c in WATER_RGBA[0]), "parks": "#e3eedb", "buildings": "#d6d2ca"}
LINE_PT_PER_PX = 0.5  # the HTML maps' line widths (screen pixels) as points: thin on paper
# Flood depth in classes of matplotlib's Blues, over the part of it the HTML maps use (FLOOD_BLUES, up to 2 m).
FLOOD_CLASSES = ((0.01, 0.25, "under 0.5 m deep"), (0.5, 0.75, "0.5-1 m deep"), (1.0, 1.5, "1-2 m deep"),
                 (2.0, 2.0, "2 m deep or more"))  # (from, drawn as, label)
FLOOD_DEEPEST_M = 2.0
FLOOD_ALPHA = 190 / 255
# Pictures' long sides at most: a panel is 3.55 in at 150 dpi, about 530 pixels wide; twice that keeps them crisp.
FLOOD_IMAGE_PX = 1200
BASE_VECTOR_VERTICES = 1_000_000  # above, the base map is drawn as one image (BASE_IMAGE_PX) rather than as paths
BASE_IMAGE_PX = 1200
NICE_LENGTHS_M = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000)
HIDDEN_LABEL = "hidden (fewer than {k} households, or hidden with them) or no residents"

# Where things go, in inches: the three maps on the left, the legends on the right, title above, credits below.
TITLE_IN, PANEL_TITLE_IN, BOTTOM_IN, LEFT_IN, GAP_IN, MAP_WIDTH_IN = 0.8, 0.3, 0.5, 0.15, 0.1, 3.55
PANEL_TITLES = {BASELINE: "Today", SCENARIO: "With the scenario", CHANGE: "Change (with the scenario minus today)"}


def write_figures(folder: Path, results: xr.DataTree, *, baseline: Twin, variant: Twin,
                  changes: gpd.GeoDataFrame | None = None, group: str = "elderly") -> list[Path]:
    """Write ``map-<indicator key>.png`` into ``folder`` for every indicator of a run's results: today, with the
    scenario and the change, for ``group`` (the first group computed when that one was not), at the longest
    threshold. Returns the paths, in the order of the indicators."""
    folder = Path(folder)
    drawing = _Drawing(results, baseline, variant, changes)
    paths = []
    for key in indicator_names(results):
        path = folder / f"map-{key}.png"
        save_png(indicator_figure(results, key, baseline=baseline, variant=variant, changes=changes, group=group,
                                  drawing=drawing), path)
        paths.append(path)
    return paths


def save_png(figure: Figure, path: Path) -> Path:
    """The figure as a PNG without the software version or a date in it, so that reruns give the same bytes."""
    figure.savefig(path, dpi=DPI, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return path


def indicator_figure(results: xr.DataTree, key: str, *, baseline: Twin, variant: Twin,
                     changes: gpd.GeoDataFrame | None = None, group: str = "elderly",
                     drawing: _Drawing | None = None) -> Figure:
    """The figure :func:`write_figures` saves for one indicator (a Figure with its own Agg canvas, for notebooks
    and tests): the three maps are labelled by side (``figure.axes``), the zones' collections ``zones-<side>``.
    ``drawing`` is what the figures of one run share (made here when not given)."""
    node = results[key]
    groups = [str(g) for g in node["group"].to_numpy()]
    group = group if group in groups else groups[0]
    drawing = drawing or _Drawing(results, baseline, variant, changes)
    no_overlays: dict[str, tuple[list[Any], list[tuple[str, str]]]] = {side: ([], []) for side in SIDES}
    maps = scenario_maps(results, key, group=group, baseline=baseline, variant=variant, overlays=no_overlays)
    thresholds = node["minutes"].to_numpy()
    minutes = float(thresholds[-1])
    name = str(results.attrs.get("scenario", "scenario"))
    k = maps[BASELINE].k
    to = str(node.attrs["to"])

    figure = Figure(figsize=SIZE_IN, dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    width, height = SIZE_IN
    long_name = str(node.attrs.get("long_name", key))
    figure.text(LEFT_IN / width, 1 - 0.1 / height, _wrap(f"{long_name[:1].upper()}{long_name[1:]}: "
                                                         f"{words.group(group)}", 150),
                ha="left", va="top", fontsize=14, fontweight="bold")
    subject = maps[BASELINE].title.split(": ", 1)[-1]  # "Today: share of ... who reach ..."
    threshold = (f"Maps at {minutes:g} min, the longest threshold computed." if len(thresholds) > 1
                 else f"Maps at {minutes:g} min.")
    figure.text(LEFT_IN / width, 1 - 0.42 / height,
                _wrap(f"Scenario '{name}'. Colours: {subject}. {threshold} Zones with fewer than {k} households of "
                      "the group are hidden in all three maps; households are synthetic.", 200),
                ha="left", va="top", fontsize=10, color="#333333")
    map_height = height - TITLE_IN - PANEL_TITLE_IN - BOTTOM_IN
    limits = _fill_box(_padded(drawing.bounds), MAP_WIDTH_IN / map_height)
    for i, side in enumerate(SIDES):
        zone_map = maps[side]
        ax = figure.add_axes(((LEFT_IN + i * (MAP_WIDTH_IN + GAP_IN)) / width, BOTTOM_IN / height,
                              MAP_WIDTH_IN / width, map_height / height), label=side)
        _frame(ax, limits, PANEL_TITLES[side])
        drawing.base(ax, zone_map.twin)
        colors = _zone_colors(zone_map.scale, zone_map.values.reindex(drawing.zones.index).to_numpy(float))
        ax.add_collection(PathCollection(drawing.zone_paths, facecolors=colors, edgecolors=(0.3, 0.3, 0.3, 0.45),
                                         linewidths=0.3, zorder=4, gid=f"zones-{side}"), autolim=False)
        if zone_map.twin.flood_depth is not None:
            drawing.flood(ax, zone_map.twin.flood_depth)
        drawing.changes(ax)
        drawing.destinations(ax, zone_map.twin, to)
        _scale_bar(ax, limits)
        _north_arrow(ax)

    legends = [(maps[BASELINE].legend_title + ", today and with the scenario", _class_handles(maps[BASELINE])),
               (maps[CHANGE].legend_title, _class_handles(maps[CHANGE])),
               ("On the maps", _context_handles(drawing, maps[BASELINE], k=k, to=to))]
    left = (LEFT_IN + 3 * MAP_WIDTH_IN + 2 * GAP_IN + 0.2) / width
    top = 1 - TITLE_IN / height
    renderer = figure.canvas.get_renderer()
    for title, handles in legends:
        for handle in handles:
            handle.set_label(_wrap(handle.get_label(), 50))
        legend = figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(left, top),
                               bbox_transform=figure.transFigure, title=_wrap(title[:1].upper() + title[1:], 52),
                               fontsize=8.5, title_fontsize=9, alignment="left", frameon=False, borderaxespad=0,
                               borderpad=0, handlelength=1.6, handleheight=1.0, labelspacing=0.3)
        top -= legend.get_window_extent(renderer).height / figure.bbox.height + 0.12 / height

    lines = list(dict.fromkeys([*credits(baseline), *credits(variant)]))
    figure.text(LEFT_IN / width, 0.06 / height, _wrap("Data: " + "; ".join(lines) + ".", 260), ha="left",
                va="bottom", fontsize=7, color="#444444")
    return figure


class _Drawing:
    """What the panels draw besides the zones' colours, made once per run as matplotlib paths and arrays: the
    zones' outlines, buildings, parks and water underneath, flood water, changes and destinations on top."""

    def __init__(self, results: xr.DataTree, baseline: Twin, variant: Twin,
                 changes: gpd.GeoDataFrame | None) -> None:
        self.baseline, self.variant = baseline, variant
        self.zones = zones_frame(results)
        self.zone_paths = _polygon_paths(self.zones.geometry.to_numpy())
        left, bottom, right, top = self.zones.total_bounds
        extent = baseline.extent  # the twin's extent, which may reach past the zones
        self.bounds = min(left, extent[0]), min(bottom, extent[1]), max(right, extent[2]), max(top, extent[3])
        self.base_paths: dict[int, dict[str, MplPath]] = {}
        self.base_images: dict[int, np.ndarray] = {}  # a large town's base map, as one RGBA image per twin
        self.base_names: set[str] = set()  # the base layers drawn, for the legend
        for twin in (baseline, variant):
            layers = {name: twin.layers[name].geometry.to_numpy() for name in BASE_COLORS
                      if name in twin.layers and len(twin.layers[name])}
            # A scenario's twin keeps the baseline's geometries where it left a layer alone: drawn once.
            same = twin is not baseline and all(
                name in baseline.layers and len(baseline.layers[name]) == len(geometries)
                and all(map(operator.is_, baseline.layers[name].geometry.to_numpy(), geometries))
                for name, geometries in layers.items())
            self.base_names.update(layers)
            if same:
                self.base_paths[id(twin)] = self.base_paths[id(baseline)]
                if id(baseline) in self.base_images:
                    self.base_images[id(twin)] = self.base_images[id(baseline)]
            elif sum(int(shapely.get_num_coordinates(g).sum()) for g in layers.values()) > BASE_VECTOR_VERTICES:
                self.base_paths[id(twin)] = {}
                self.base_images[id(twin)] = _base_image(layers, self.bounds)
            else:
                self.base_paths[id(twin)] = {name: _compound_path(g) for name, g in layers.items()}
        self._floods: dict[int, tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]] = {}
        self._destinations: dict[tuple[int, str], tuple[list[np.ndarray], np.ndarray]] = {}
        self.change_kinds: list[str] = []
        self._changes: list[tuple[str, MplPath | None, np.ndarray]] = []  # (kind, lines, symbol points)
        if changes is not None and len(changes):
            kinds = np.array([change_kind(str(c)) for c in changes["change"]])
            self.change_kinds = [kind for kind in CHANGE_STYLES if kind in set(kinds)]
            for kind in self.change_kinds:
                geometries = changes.geometry.to_numpy()[kinds == kind]
                areas = np.isin(shapely.get_type_id(geometries), (0, 3, 4, 6))  # points and areas get a symbol
                points = shapely.get_coordinates(shapely.point_on_surface(geometries[areas]))
                self._changes.append((kind, _line_path(geometries), points))

    def base(self, ax: Axes, twin: Twin) -> None:
        if id(twin) in self.base_images:
            left, bottom, right, top = self.bounds
            ax.imshow(self.base_images[id(twin)], extent=(left, right, bottom, top), origin="upper",
                      interpolation="nearest", zorder=1, gid="base-image")
            return
        for zorder, (name, path) in enumerate(self.base_paths[id(twin)].items(), start=1):
            ax.add_collection(PathCollection([path], facecolors=[BASE_COLORS[name]], edgecolors="none",
                                             zorder=zorder, gid=f"base-{name}"), autolim=False)

    def changes(self, ax: Axes) -> None:
        for kind, lines, points in self._changes:
            color, width_px, symbol, _ = CHANGE_STYLES[kind]
            if lines is not None:
                ax.add_collection(PathCollection([lines], facecolors="none", edgecolors=[_rgba(color)],
                                                 linewidths=width_px * LINE_PT_PER_PX, zorder=6,
                                                 gid=f"changes-{kind}"), autolim=False)
            if symbol and len(points):
                ax.plot(points[:, 0], points[:, 1], linestyle="none", zorder=6.5, **_symbol(symbol, color))

    def destination_shapes(self, twin: Twin, to: str) -> tuple[list[np.ndarray], np.ndarray]:
        """The destinations ``to`` of a twin: outlines of areas (parks) and points (facilities, stops)."""
        if (id(twin), to) not in self._destinations:
            features = destinations_of(twin, to)
            geometries = np.asarray([] if features is None else features.geometry.to_numpy(), dtype=object)
            areas = np.isin(shapely.get_type_id(geometries), (3, 6))
            self._destinations[id(twin), to] = (_lines(geometries[areas]),
                                                shapely.get_coordinates(geometries[~areas]))
        return self._destinations[id(twin), to]

    def destinations(self, ax: Axes, twin: Twin, to: str) -> None:
        outlines, points = self.destination_shapes(twin, to)
        if outlines:
            ax.add_collection(LineCollection(outlines, colors=[_rgba(DESTINATION_RGBA)], linewidths=0.9, zorder=7,
                                             gid="destinations"), autolim=False)
        if len(points):
            ax.plot(points[:, 0], points[:, 1], linestyle="none", zorder=7, **DOT)

    def flood(self, ax: Axes, depth: xr.DataArray) -> None:
        if id(depth) not in self._floods:
            self._floods[id(depth)] = _flood_image(depth)
        image, extent, wet = self._floods[id(depth)]
        ax.imshow(image, extent=extent, origin="upper", interpolation="nearest", zorder=5, aspect="auto")
        xs = np.linspace(extent[0], extent[1], wet.shape[1] + 1)
        ys = np.linspace(extent[3], extent[2], wet.shape[0] + 1)
        ax.contour((xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2, wet, levels=[0.5], colors=[FLOOD_EDGE],
                   linewidths=0.7, zorder=5.5)


DOT = {"marker": "o", "markersize": 3.2, "markerfacecolor": tuple(c / 255 for c in DESTINATION_RGBA[:3]),
       "markeredgecolor": "white", "markeredgewidth": 0.5}


def flood_color(depth_m: float) -> tuple[float, float, float, float]:
    """The colour of water ``depth_m`` deep, as the HTML maps draw it (a part of Blues, deepest at 2 m)."""
    low, high = FLOOD_BLUES
    r, g, b, _ = colormaps["Blues"](float(np.clip(low + (high - low) * depth_m / FLOOD_DEEPEST_M, 0, 1)))
    return r, g, b, FLOOD_ALPHA


FLOOD_EDGE = flood_color(FLOOD_DEEPEST_M)[:3]  # the flood's outline, so it stands out on any zone colour


def _flood_image(depth: xr.DataArray) -> tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """Flood depth in classes as an RGBA picture, north up, dry cells clear; its extent in the twin's CRS; where
    it is wet (1) or dry (0), for the outline."""
    values = np.nan_to_num(depth.transpose("y", "x").to_numpy().astype(float), nan=0.0)
    xs, ys = depth["x"].to_numpy(), depth["y"].to_numpy()
    step = int(np.ceil(max(values.shape) / FLOOD_IMAGE_PX))  # a city's flood grid is finer than a panel shows
    if step > 1:
        values, xs, ys = values[::step, ::step], xs[::step], ys[::step]
    if len(ys) > 1 and ys[0] < ys[-1]:
        values = values[::-1]
    if len(xs) > 1 and xs[0] > xs[-1]:
        values = values[:, ::-1]
    dx = abs(float(xs[1] - xs[0])) if len(xs) > 1 else 1.0
    dy = abs(float(ys[1] - ys[0])) if len(ys) > 1 else 1.0
    image = np.zeros((*values.shape, 4), dtype=np.uint8)
    for lowest, drawn_as, _ in FLOOD_CLASSES:
        image[values >= lowest] = np.round(np.asarray(flood_color(drawn_as)) * 255).astype(np.uint8)
    extent = (float(xs.min()) - dx / 2, float(xs.max()) + dx / 2, float(ys.min()) - dy / 2, float(ys.max()) + dy / 2)
    return image, extent, (values >= FLOOD_CLASSES[0][0]).astype(float)


def _class_handles(zone_map: ZoneMap) -> list[Any]:
    return [Patch(facecolor=_rgba(zone_map.scale.color(_inside(zone_map.scale.edges, i))), edgecolor="#777777",
                  linewidth=0.4, label=label) for i, label in enumerate(zone_map.scale.labels)]


def _context_handles(drawing: _Drawing, zone_map: ZoneMap, *, k: int, to: str) -> list[Any]:
    """Legend rows for all but the classes: hidden zones, destinations, changes, flood water, the base map."""
    handles: list[Any] = [Patch(facecolor=_rgba(zone_map.scale.color(np.nan)), edgecolor="#777777", linewidth=0.4,
                                label=HIDDEN_LABEL.format(k=k))]
    where = _without_article(words.destination(to))
    shapes = [drawing.destination_shapes(twin, to) for twin in (drawing.baseline, drawing.variant)]
    if any(points.size for _, points in shapes):
        handles.append(Line2D([], [], linestyle="none", label=where, **DOT))
    elif any(outlines for outlines, _ in shapes):
        handles.append(Line2D([], [], color=_rgba(DESTINATION_RGBA), linewidth=0.9, label=f"{where} (outline)"))
    for kind in drawing.change_kinds:
        color, width_px, symbol, label = CHANGE_STYLES[kind]
        handles.append(Line2D([], [], color=_rgba(color), linewidth=max(width_px * LINE_PT_PER_PX, 0.8),
                              label=label, **(_symbol(symbol, color) if symbol else {})))
    if drawing.baseline.flood_depth is not None or drawing.variant.flood_depth is not None:
        handles += [Patch(facecolor=flood_color(drawn_as), edgecolor=FLOOD_EDGE, linewidth=0.4,
                          label=f"flood water {label}") for _, drawn_as, label in FLOOD_CLASSES]
    handles += [Patch(facecolor=BASE_COLORS[name], edgecolor="none", label=name) for name in BASE_COLORS
                if name in drawing.base_names][::-1]
    return handles


def _symbol(symbol: str, color: list[int]) -> dict[str, Any]:
    """A change's mark (+ new, × removed) as a matplotlib marker."""
    return {"marker": "P" if symbol == "+" else "X", "markersize": 6.5, "markerfacecolor": _rgba(color),
            "markeredgecolor": "white", "markeredgewidth": 0.6}


def _base_image(layers: dict[str, np.ndarray], bounds: tuple[float, float, float, float]) -> np.ndarray:
    """The base map's layers drawn into one RGBA image over ``bounds`` (:class:`~.maps.Picture`, in the twin's
    CRS): a panel shows a large town's buildings smaller than its pixels, and drawing them as paths took most of
    the figures' time (half a million buildings, nine panels)."""
    picture = Picture(bounds, long_px=BASE_IMAGE_PX)
    for name, geometries in layers.items():
        color = [round(255 * c) for c in to_rgba(BASE_COLORS[name])]
        picture.polygons(geometries, color, color)
    return np.array(picture.palette, dtype=np.uint8)[picture.pixels]  # index 0 is clear


def _ragged(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Polygons and multipolygons as matplotlib path vertices and codes (holes wound the other way so they stay
    open), and where each geometry's vertices start."""
    geometries = np.asarray(geometries, dtype=object)
    keep = np.isin(shapely.get_type_id(geometries), (3, 6)) & ~shapely.is_empty(geometries)
    if not keep.any():
        return None
    shapes = shapely.orient_polygons(shapely.force_2d(geometries[keep]))
    kind, coords, offsets = shapely.to_ragged_array(shapes)
    rings = offsets[0]
    first_ring = offsets[1] if kind == shapely.GeometryType.POLYGON else offsets[1][offsets[2]]
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[rings[:-1]] = MplPath.MOVETO
    codes[rings[1:] - 1] = MplPath.CLOSEPOLY
    return coords, codes, rings[first_ring]


def _polygon_paths(geometries: np.ndarray) -> list[MplPath]:
    """Polygons and multipolygons as one matplotlib path each."""
    found = _ragged(geometries)
    if found is None:
        return []
    coords, codes, starts = found
    return [MplPath(coords[a:b], codes[a:b]) for a, b in zip(starts[:-1], starts[1:])]


def _compound_path(geometries: np.ndarray) -> MplPath:
    """Polygons and multipolygons as one matplotlib path, filled in one colour (a base map layer): one path for
    fifty thousand buildings draws many times faster than fifty thousand paths."""
    found = _ragged(geometries)
    if found is None:
        return MplPath(np.zeros((0, 2)))
    coords, codes, _ = found
    return MplPath(coords, codes)


def _line_coords(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of lines, and of the outlines of areas, with the line each belongs to (points left out)."""
    geometries = np.asarray(geometries, dtype=object)
    areas = np.isin(shapely.get_type_id(geometries), (3, 6))
    geometries = np.where(areas, shapely.boundary(geometries), geometries)
    parts = shapely.get_parts(geometries)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    return shapely.get_coordinates(parts, return_index=True)


def _lines(geometries: np.ndarray) -> list[np.ndarray]:
    """Lines, and the outlines of areas, as vertex arrays for a LineCollection (points are left out)."""
    if not len(geometries):
        return []
    coords, owner = _line_coords(geometries)
    return np.split(coords, np.flatnonzero(np.diff(owner)) + 1) if len(coords) else []


def _line_path(geometries: np.ndarray) -> MplPath | None:
    """Lines, and the outlines of areas, as one matplotlib path (a LineCollection of a flood's hundred thousand
    closed streets took seconds a panel to make)."""
    coords, owner = _line_coords(geometries) if len(geometries) else (np.zeros((0, 2)), np.zeros(0, np.int64))
    if not len(coords):
        return None
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.flatnonzero(np.diff(owner, prepend=-1))] = MplPath.MOVETO
    return MplPath(coords, codes)


def _frame(ax: Axes, limits: tuple[float, float, float, float], title: str) -> None:
    ax.set_xlim(limits[0], limits[2])
    ax.set_ylim(limits[1], limits[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
        spine.set_linewidth(0.6)
    ax.set_title(title, fontsize=11, loc="left", pad=4)


def _padded(bounds: tuple[float, float, float, float], share: float = 0.02) -> tuple[float, float, float, float]:
    left, bottom, right, top = (float(b) for b in bounds)
    pad = share * max(right - left, top - bottom)
    return left - pad, bottom - pad, right + pad, top + pad


def _fill_box(bounds: tuple[float, float, float, float], aspect: float) -> tuple[float, float, float, float]:
    """Widen or heighten ``bounds`` about their centre to the box's width / height, so the map fills its panel."""
    left, bottom, right, top = bounds
    width, height = right - left, top - bottom
    if width / height < aspect:
        extra = (height * aspect - width) / 2
        return left - extra, bottom, right + extra, top
    extra = (width / aspect - height) / 2
    return left, bottom - extra, right, top + extra


def _scale_bar(ax: Axes, limits: tuple[float, float, float, float]) -> None:
    """A bar about a quarter of the map wide, in round metres or kilometres (the twin's CRS is metric)."""
    target = (limits[2] - limits[0]) / 4
    length = max((n for n in NICE_LENGTHS_M if n <= target), default=NICE_LENGTHS_M[0])
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(ax.transData, length, label, loc="lower left", pad=0.35, borderpad=0.5, sep=3,
                          frameon=True, size_vertical=(limits[3] - limits[1]) / 150, color="black",
                          fontproperties=FontProperties(size=8))
    bar.patch.set_facecolor((1, 1, 1, 0.85))
    bar.patch.set_edgecolor("none")
    bar.set_zorder(9)
    ax.add_artist(bar)


def _north_arrow(ax: Axes) -> None:
    """An arrow pointing up with N under it (north is up: the twin's CRS is a projected grid)."""
    ax.annotate("N", xy=(0.93, 0.97), xytext=(0.93, 0.86), xycoords="axes fraction", textcoords="axes fraction",
                ha="center", va="center", fontsize=10, fontweight="bold", zorder=9,
                bbox={"boxstyle": "circle,pad=0.15", "facecolor": (1, 1, 1, 0.85), "edgecolor": "none"},
                arrowprops={"arrowstyle": "-|>,head_width=0.3,head_length=0.6", "color": "black", "linewidth": 1.5,
                            "shrinkA": 0, "shrinkB": 0})


def _inside(edges: list[float], i: int) -> float:
    """A value inside class ``i`` (edges may be infinite)."""
    low, high = edges[i], edges[i + 1]
    if np.isfinite(low) and np.isfinite(high):
        return (low + high) / 2
    return high - 1 if np.isfinite(high) else low + 1


def _zone_colors(scale: Scale, values: np.ndarray) -> np.ndarray:
    """Each zone's fill (RGBA, 0-1) in ``scale``'s classes, as :meth:`Scale.color` gives it, for every zone at
    once: one call per zone took 5 s for a million-household town's nine panels."""
    table = np.array([_rgba(scale.color(np.nan)), *(_rgba([*c, FILL_ALPHA]) for c in scale.colors)])
    return table[scale.indices(values) + 1]  # class -1 (no data) reads the first row


def _rgba(color: list[int] | tuple[int, ...]) -> tuple[float, float, float, float]:
    return color[0] / 255, color[1] / 255, color[2] / 255, (color[3] if len(color) > 3 else 255) / 255


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _without_article(phrase: str) -> str:
    for article in ("a ", "an "):
        if phrase.startswith(article):
            return phrase[len(article):]
    return phrase
