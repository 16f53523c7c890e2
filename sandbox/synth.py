"""Synthetic towns with terrain: a deterministic, seeded twin that runs anywhere, for flood and scale tests."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from pyproj import CRS, Transformer
from scipy.interpolate import RectBivariateSpline
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._errors import TwinError
from .layers import WAY_TAGS, assign_zones, zone_layer
from .network import MODES, build_network, node_bounds
from .population import HELSINKI_CENTRE, Calibration, synthesize_households
from .timetable import Timetable, Trips, from_trips, join_trips, line_trips
from .twin import Twin

TOWNS = ("riverside",)
PARAMETERS = {"households": int, "seed": int, "cell_m": float}
EXAMPLES = {"households": "2000", "seed": "0", "cell_m": "10"}
# Mean household size that the default HouseholdParams form from HELSINKI_CENTRE's ages (measured on 10^5 residents).
RESIDENTS_PER_HOUSEHOLD = 1.72
CELL_RANGE_M = (1.0, 20.0)  # coarser cells would blur the 30 m river and the hollow away
BLOCK_M = 100.0
ORIGIN = (385_000.0, 6_670_000.0)  # south-west street corner; in EPSG:3067 the shore of Helsinki
JITTER_M = 8.0
SETBACK_M = 16.0  # from the straight street line to a block's buildable interior (more than the jitter)
SHORE_M = 40.0  # from the shoreline to the southernmost street
SEA_M = 150.0  # open sea kept in the raster south of the shore
MARGIN_M = 100.0  # raster beyond the street grid on the other sides
RIVER_HALF_WIDTH_M = 15.0
VALLEY_FLOOR_M = 50.0  # half-width of the flat valley floor, about the river's block column
VALLEY_SLOPE_M = 150.0  # width of the valley side, from the floor up to the town
HOLLOW_RADIUS_M = 45.0  # the bowl; its dyke crest (3 m) runs on for 15 m more, then slopes down over 20 m
NOISE_M = 0.1
NOISE_SPACING_M = 25.0  # noise is drawn on this grid and splined, so every cell size samples the same surface
MISSING_SHARE = 0.04  # of residential street segments, left out to break the perfect grid
ZONE_CELL_M = 250.0
CAPACITY = {"care": 80.0, "school": 400.0, "grocery": 1.0, "elderly_centre": 60.0, "library": 1.0}
_STREAMS = ("layout", "streets", "buildings", "facilities", "terrain", "transit")  # append only: seeds by index
# The timetable: one weekday of buses along every LINE_SPACING-th street and avenue (and Main Road), a stop every
# BUS_STOP_EVERY corners, where crossing lines share a stop; one rail line beside the river's west bank with a
# station about every STATION_SPACING blocks. Speeds are averages with the stops; headways (from hour, to hour,
# minutes) by time of day.
SERVICE_DATE = datetime.date(2026, 1, 13)  # a Tuesday
LINE_SPACING = 12
BUS_STOP_EVERY = 3
STATION_SPACING = 12
SPEED_KM_H = {"bus": 20.0, "rail": 45.0}
DWELL_S = {"bus": 20.0, "rail": 30.0}
HEADWAYS = {"bus": ((5, 6, 30), (6, 9, 10), (9, 15, 15), (15, 18, 10), (18, 22, 15), (22, 24, 30)),
            "rail": ((5, 6, 20), (6, 9, 10), (9, 15, 20), (15, 18, 10), (18, 24, 20))}


@dataclass(frozen=True)
class _Layout:
    """Where everything of one town goes; all lengths in metres of the twin CRS."""

    seed: int
    cell_m: float
    n: int  # blocks per side
    nodes: np.ndarray  # (n + 1, n + 1, 2) jittered street corners, indexed [row, col]
    river_col: int  # the block column the river runs through
    main_row: int  # the street row of Main Road
    bridge_rows: tuple[int, ...]
    meander: tuple[float, float, float]  # amplitude, wavelength, phase of the river's centreline
    hollow: tuple[float, float]
    park_blocks: tuple[tuple[int, int], ...]  # (col, row) of pocket parks
    bounds: tuple[float, float, float, float]  # the raster, snapped to cell_m

    @property
    def shore_y(self) -> float:
        return ORIGIN[1] - SHORE_M


def town(*, households: int = 2000, seed: int = 0, name: str = "riverside", cell_m: float = 10.0,
         crs: str = "EPSG:3067") -> Twin:
    """A riverside town on a slope down to the sea, with a hollow behind a dyke, sized to ``households``.

    Real twins need downloads and carry their data's quirks; this one is made from arguments alone, so flood
    and scale tests run anywhere and the same arguments always give the same twin (equal fingerprints).

    Parameters
    ----------
    households
        About how many households to synthesize; the town grows with them (2,000 make a town about 1.2 km
        across of 100 m blocks).
    seed
        Seed of every random choice: street jitter, buildings, facilities, terrain noise and households.
    name
        The twin's name.
    cell_m
        Cell size of the terrain raster (1 to 20 m).
    crs
        A projected CRS in metres; the town sits at the same coordinates whatever it is.
    """
    _check_options(households, seed, cell_m)
    target = _metric_crs(crs)
    layout = _layout(households, seed, float(cell_m))
    ways = _ways(layout, target)
    networks = {mode: build_network(ways, mode) for mode in MODES}
    zones = zone_layer(shapely.box(*node_bounds(networks["walk"])), target, cell_m=ZONE_CELL_M)
    buildings = _buildings(layout, target)
    buildings["zone_id"] = assign_zones(buildings, zones)
    residents = max(1, round(households * RESIDENTS_PER_HOUSEHOLD))
    homes = buildings["floor_area_m2"].where(buildings["residential"], 0.0).sum()
    calibration = Calibration(residents=residents, age_shares=HELSINKI_CENTRE.age_shares,
                              floor_area_per_resident_m2=float(homes / residents),
                              source=f"HELSINKI_CENTRE age shares; {households} households x "
                                     f"{RESIDENTS_PER_HOUSEHOLD} residents")
    timetable, stops = _transit(layout, target)
    layers = {"buildings": buildings, "parks": _parks(layout, target), "transit_stops": stops,
              "facilities": _facilities(layout, residents, target), "water": _water(layout, target), "zones": zones}

    source = f"synthetic town (sandbox.synth, seed {seed})"
    bridges = ", ".join(sorted(set(ways.loc[ways["name"].str.endswith("Bridge"), "name"])))
    how = {
        "buildings": f"{layout.n} x {layout.n} blocks of 100 m, none in the river's column or pocket parks; up to "
                     "four footprints of 12-30 m per block, 1-6 levels (taller towards the centre), commercial "
                     "more often along Main Road; floor_area_m2 = footprint x levels",
        "parks": "a riverside park on each bank and pocket parks filling random blocks",
        "transit_stops": "the timetable's stops: bus stops at street corners, rail stations beside the river",
        "facilities": "two clinics (one on the low west bank near the sea, one uphill), a library near the centre; "
                      "schools, groceries and senior centres in random blocks, their number growing with "
                      f"residents; capacity by kind {CAPACITY}",
        "water": "the sea south of the shore and the river from the north edge to the sea",
        "zones": f"{ZONE_CELL_M:g} m grid aligned to the CRS origin, covering the walking network's extent",
        "terrain": f"{cell_m:g} m grid: open sea at -0.5 to -2 m, the town rising from 2 m at the shore to 15 m in "
                   "the north, a river valley floor from 0.5 to 2 m (channel 1.5 m lower), a hollow down to "
                   f"0.8 m behind a 3 m dyke, seeded noise of about {NOISE_M:g} m",
    }
    provenance = {part: {"source": source, "licence": "CC0", "how": text} for part, text in how.items()}
    for mode, graph in networks.items():
        provenance[f"network_{mode}"] = {
            "source": source, "licence": "CC0",
            "how": f"street grid of 100 m blocks jittered by up to {JITTER_M:g} m, {MISSING_SHARE:.0%} of "
                   f"residential segments left out, Main Road primary, the river crossed only by {bridges}; "
                   f"streets usable by {mode} (sandbox.network rules), {graph.graph['dropped_nodes']} nodes dropped",
        }
    provenance["transit"] = {
        "source": timetable.source, "licence": timetable.licence,
        "how": f"{timetable.service_date} (a Tuesday): {len(timetable.route_ids) - 1} bus lines along Main Road and "
               f"every {LINE_SPACING}th street and avenue (split at the river where no bridge crosses), a stop every "
               f"{BUS_STOP_EVERY} corners, shared where lines cross; one rail line with "
               f"{int((stops['mode'] == 'rail').sum())} stations beside the river; average speeds with the stops "
               f"{SPEED_KM_H} km/h; headways (from hour, to hour, minutes) {HEADWAYS}, each line's departures "
               "shifted by a seeded 0-9 min; no footpaths in the timetable (walks are on the street network)",
    }
    provenance["households"] = {
        "source": source, "licence": "CC BY 4.0 (calibration data); synthetic households are not real people",
        "how": f"seed {seed}; {residents} residents with HELSINKI_CENTRE age shares, placed in residential "
               "buildings by floor area (sandbox.population)",
    }
    return Twin(name=name, crs=target.to_string(), layers=layers,
                households=synthesize_households(buildings, calibration, seed=seed), networks=networks,
                terrain=_terrain(layout, target), provenance=provenance, timetable=timetable)


def parse_synthetic(reference: str) -> Twin:
    """The synthetic twin a reference such as ``synthetic:riverside?households=5000&seed=2`` names.

    Scenario files name their twin in one string; this lets them ask for a generated town with its size and
    seed instead of a folder.
    """
    allowed = ", ".join(PARAMETERS)
    prefix, _, rest = reference.partition(":")
    if prefix != "synthetic" or not rest:
        raise TwinError(f"{reference}: not a synthetic twin reference; expected e.g. "
                        "synthetic:riverside?households=2000&seed=0")
    town_name, _, query = rest.partition("?")
    if town_name not in TOWNS:
        raise TwinError(f"{reference}: town: unknown '{town_name}'; expected one of {', '.join(TOWNS)}")
    options: dict[str, int | float] = {}
    for item in query.split("&") if query else []:
        key, _, text = item.partition("=")
        if key not in PARAMETERS:
            raise TwinError(f"{reference}: parameter: unknown '{key}'; expected one of {allowed}")
        if key in options:
            raise TwinError(f"{reference}: {key}: given twice; expected each of {allowed} at most once")
        try:
            options[key] = PARAMETERS[key](text)
        except ValueError:
            kind = "an integer" if PARAMETERS[key] is int else "a number"
            raise TwinError(f"{reference}: {key}: '{text}' is not {kind}; expected e.g. {key}={EXAMPLES[key]}"
                            ) from None
    return town(name=town_name, **options)


def _check_options(households: object, seed: object, cell_m: object) -> None:
    for key, value, least in (("households", households, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise TwinError(f"town: {key}: {value!r}; expected an integer >= {least}")
    low, high = CELL_RANGE_M
    if isinstance(cell_m, bool) or not isinstance(cell_m, (int, float)) or not low <= cell_m <= high:
        raise TwinError(f"town: cell_m: {cell_m!r}; expected a cell size from {low:g} to {high:g} m")


def _metric_crs(crs: str) -> CRS:
    try:
        target = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError for anything it cannot parse
        raise TwinError(f"town: crs: cannot parse '{crs}'; expected an EPSG code such as EPSG:3067") from exc
    if not target.is_projected or target.axis_info[0].unit_name not in ("metre", "meter"):
        raise TwinError(f"town: crs: '{target.to_string()}' is not a projected CRS in metres; expected e.g. EPSG:3067")
    return target


def _rng(seed: int, stream: str) -> np.random.Generator:
    """One generator per part of the town, so that a change in one part leaves the others' draws alone."""
    return np.random.default_rng([seed, _STREAMS.index(stream)])


def _layout(households: int, seed: int, cell_m: float) -> _Layout:
    n = max(6, round(math.sqrt(households) / 3.6))
    rng = _rng(seed, "layout")
    col, row = np.meshgrid(np.arange(n + 1), np.arange(n + 1))
    nodes = np.stack([ORIGIN[0] + col * BLOCK_M, ORIGIN[1] + row * BLOCK_M], axis=-1)
    nodes = nodes + rng.uniform(-JITTER_M, JITTER_M, nodes.shape)
    river_col = main_row = n // 2
    meander = (rng.uniform(4.0, 8.0), rng.uniform(500.0, 900.0), rng.uniform(0.0, 2 * math.pi))
    hollow_col = min(river_col + 3, n - 1)  # near the sea, clear of the valley
    hollow = (ORIGIN[0] + (hollow_col + 0.5) * BLOCK_M, ORIGIN[1] + 0.5 * BLOCK_M)
    taken = {(hollow_col, 0), *_fixed_facility_blocks(n, river_col, main_row)}
    free = [(c, r) for r in range(n) for c in range(n) if c != river_col and (c, r) not in taken]
    picks = rng.choice(len(free), size=max(2, round(n * n / 25)), replace=False)
    left = math.floor((ORIGIN[0] - MARGIN_M) / cell_m) * cell_m
    top = math.ceil((ORIGIN[1] + n * BLOCK_M + MARGIN_M) / cell_m) * cell_m
    right = left + math.ceil((ORIGIN[0] + n * BLOCK_M + MARGIN_M - left) / cell_m) * cell_m
    bottom = top - math.ceil((top - (ORIGIN[1] - SHORE_M - SEA_M)) / cell_m) * cell_m
    return _Layout(seed=seed, cell_m=cell_m, n=n, nodes=nodes, river_col=river_col, main_row=main_row,
                   bridge_rows=(1, main_row), meander=meander, hollow=hollow,
                   park_blocks=tuple(sorted(free[i] for i in picks)), bounds=(left, bottom, right, top))


def _fixed_facility_blocks(n: int, river_col: int, main_row: int) -> list[tuple[int, int]]:
    """Blocks of the low clinic, the uphill clinic and the library."""
    return [(river_col - 1, 0), (max(0, river_col - 3), n - 1), (river_col + 1, main_row)]


def _river_x(layout: _Layout, y: np.ndarray) -> np.ndarray:
    amplitude, wavelength, phase = layout.meander
    centre = ORIGIN[0] + (layout.river_col + 0.5) * BLOCK_M
    return centre + amplitude * np.sin(2 * math.pi * (y - layout.shore_y) / wavelength + phase)


def _block_centre(col: int, row: int) -> tuple[float, float]:
    return ORIGIN[0] + (col + 0.5) * BLOCK_M, ORIGIN[1] + (row + 0.5) * BLOCK_M


def _ways(layout: _Layout, crs: CRS) -> gpd.GeoDataFrame:
    """Street segments in the schema of sandbox.layers, crossing the river only at the bridge rows."""
    n, kr, main = layout.n, layout.river_col, layout.main_row
    segments = []  # (col, row, col2, row2, highway, name, osm_id, may be left out)
    for row in range(n + 1):
        street = {0: "Shore Road", main: "Main Road"}.get(row, f"Street {row}")
        highway = "primary" if row == main else "residential"
        for col in range(n):
            if col != kr:
                segments.append((col, row, col + 1, row, highway, street, 100_000 + row, highway == "residential"))
            elif row in layout.bridge_rows:
                bridge = "Main Road Bridge" if row == main else "Harbour Bridge"
                segments.append((col, row, col + 1, row, highway, bridge, 300_000 + row, False))
    for col in range(n + 1):
        for row in range(n):
            segments.append((col, row, col, row + 1, "residential", f"Avenue {col}", 200_000 + col, True))
    c1, r1, c2, r2, highway, names, osm_id, optional = map(np.array, zip(*segments))
    u, v = 1 + c1 + (n + 1) * r1, 1 + c2 + (n + 1) * r2
    keep = _drop_segments(u - 1, v - 1, optional, _rng(layout.seed, "streets"))
    columns = {tag: [None] * len(u) for tag in WAY_TAGS}
    columns.update(highway=highway.tolist(), name=names.tolist())
    frame = pd.DataFrame({"u": u.astype("int64"), "v": v.astype("int64"), "osm_id": osm_id.astype("int64"),
                          **columns})
    geometry = shapely.linestrings(np.stack([layout.nodes[r1, c1], layout.nodes[r2, c2]], axis=1))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)[keep].reset_index(drop=True)


def _drop_segments(a: np.ndarray, b: np.ndarray, optional: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which segments (between node positions ``a`` and ``b``) to keep after leaving out a few optional ones,
    never one that would cut the grid in two."""
    keep = np.ones(len(a), bool)
    nodes = int(max(a.max(), b.max())) + 1
    wanted = round(MISSING_SHARE * optional.sum())
    for index in rng.permutation(np.flatnonzero(optional)):
        if wanted == 0:
            break
        keep[index] = False
        graph = coo_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(nodes, nodes))
        if connected_components(graph, directed=False)[0] == 1:
            wanted -= 1
        else:
            keep[index] = True
    return keep


def _buildings(layout: _Layout, crs: CRS) -> gpd.GeoDataFrame:
    """Up to four footprints per block, in every block but the river's column and the pocket parks."""
    n, rng = layout.n, _rng(layout.seed, "buildings")
    plot = (BLOCK_M - 2 * SETBACK_M) / 2
    blocks = [(c, r) for r in range(n) for c in range(n) if c != layout.river_col and (c, r) not in layout.park_blocks]
    col, row = (np.repeat(np.array(side), 4) for side in zip(*blocks))
    px, py = np.tile([0, 1, 0, 1], len(blocks)), np.tile([0, 0, 1, 1], len(blocks))
    size = len(col)
    built = rng.random(size) > 0.1
    width, depth = rng.uniform(12.0, 30.0, size), rng.uniform(12.0, 30.0, size)
    x = (ORIGIN[0] + col * BLOCK_M + SETBACK_M + (px + 0.5) * plot
         + rng.uniform(-1.0, 1.0, size) * (plot - width) / 2)
    y = (ORIGIN[1] + row * BLOCK_M + SETBACK_M + (py + 0.5) * plot
         + rng.uniform(-1.0, 1.0, size) * (plot - depth) / 2)
    centre_y = ORIGIN[1] + layout.main_row * BLOCK_M
    centrality = np.clip(1 - np.hypot(x - _river_x(layout, centre_y), y - centre_y) / (0.6 * n * BLOCK_M), 0, 1)
    levels = np.clip(np.round(1 + 4.5 * centrality + rng.normal(0.0, 0.8, size)), 1, 6)
    on_main_road = (row == layout.main_row) | (row == layout.main_row - 1)
    commercial = rng.random(size) < np.where(on_main_road, 0.35, 0.06)
    kind = np.where(commercial, np.where(rng.random(size) < 0.5, "commercial", "retail"),
                    np.where(levels >= 3, "apartments", "house"))
    x, y, width, depth, levels, kind, commercial = (a[built] for a in (x, y, width, depth, levels, kind, commercial))
    footprint = width * depth
    layer = gpd.GeoDataFrame({
        "osm_id": np.arange(1, len(x) + 1, dtype="int64"), "building": kind, "name": None, "levels": levels,
        "levels_source": "synthetic", "residential": ~commercial, "footprint_m2": footprint,
        "floor_area_m2": footprint * levels,
    }, geometry=shapely.box(x - width / 2, y - depth / 2, x + width / 2, y + depth / 2), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="building_id")
    return layer


def _river(layout: _Layout) -> shapely.Polygon:
    left, _, right, top = layout.bounds
    y = np.arange(layout.shore_y - 50.0, top + 50.0, 10.0)
    channel = shapely.LineString(np.column_stack([_river_x(layout, y), y])).buffer(RIVER_HALF_WIDTH_M)
    return channel.intersection(shapely.box(left, layout.shore_y, right, top))


def _parks(layout: _Layout, crs: CRS) -> gpd.GeoDataFrame:
    """A riverside park on each bank (the river column between its streets) and pocket parks filling blocks."""
    west = ORIGIN[0] + layout.river_col * BLOCK_M
    strip = shapely.box(west + 12.0, layout.shore_y + 5.0, west + BLOCK_M - 12.0, ORIGIN[1] + layout.n * BLOCK_M)
    banks = sorted(shapely.get_parts(strip.difference(_river(layout).buffer(3.0))), key=lambda p: p.centroid.x)
    pockets = [shapely.box(ORIGIN[0] + c * BLOCK_M + SETBACK_M, ORIGIN[1] + r * BLOCK_M + SETBACK_M,
                           ORIGIN[0] + (c + 1) * BLOCK_M - SETBACK_M, ORIGIN[1] + (r + 1) * BLOCK_M - SETBACK_M)
               for c, r in layout.park_blocks]
    names = ["Riverside Park West", "Riverside Park East"] + [f"Pocket Park {i + 1}" for i in range(len(pockets))]
    shapes = banks + pockets
    layer = gpd.GeoDataFrame({"osm_id": np.arange(400_001, 400_001 + len(shapes), dtype="int64"), "name": names,
                              "kind": "park", "area_m2": shapely.area(shapes)}, geometry=shapes, crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="park_id")
    return layer


def _street(layout: _Layout, row: int) -> str:
    return {0: "Shore Road", layout.main_row: "Main Road"}.get(row, f"Street {row}")


def _station(layout: _Layout, row: int) -> str:
    return {layout.n: "Riverside station", 0: "Harbour station"}.get(row, f"{_street(layout, row)} station")


def _transit(layout: _Layout, crs: CRS) -> tuple[Timetable, gpd.GeoDataFrame]:
    """The town's timetable and its stops as the transit_stops layer (the same points, names and order).

    Bus lines run along Main Road and every LINE_SPACING-th street from it (split at the river where no bridge
    crosses), and along every LINE_SPACING-th avenue from the river's banks outwards; they stop every
    BUS_STOP_EVERY corners, aligned so that crossing lines share the stop at their crossing. The rail line runs
    north-south beside the river's west bank. Stops sit a few metres inside a street corner (on the walk network);
    run times are along the streets at SPEED_KM_H; each line's departures are shifted by a seeded 0-9 min.
    """
    n, river, main = layout.n, layout.river_col, layout.main_row
    west = max(0, river - 3)  # the avenue of the first bus line west of the river; stops in its columns mod 3
    east = river + 3 + (west - river - 3) % BUS_STOP_EVERY
    columns = [*range(west, -1, -LINE_SPACING), *range(east, n + 1, LINE_SPACING)]
    rows = sorted({*range(main, -1, -LINE_SPACING), *range(main, n + 1, LINE_SPACING)},
                  key=lambda row: (abs(row - main), row))  # Main Road is line 1
    lines = []  # (name, mode, corners (row, col) in order, the positions in them with a stop)
    for row in rows:
        spans = {"": (0, n)} if row in layout.bridge_rows else {" west": (0, river), " east": (river + 1, n)}
        for part, (c0, c1) in spans.items():
            corners = [(row, c) for c in range(c0, c1 + 1)]
            lines.append((f"{_street(layout, row)}{part}", "bus", corners,
                          [i for i, (_, c) in enumerate(corners) if (c - west) % BUS_STOP_EVERY == 0]))
    for col in columns:
        corners = [(r, col) for r in range(n + 1)]
        lines.append((f"Avenue {col}", "bus", corners,
                      [i for i, (r, _) in enumerate(corners) if (r - main) % BUS_STOP_EVERY == 0]))
    rail_col = max(0, river - 1)
    stations = max(2, round(n / STATION_SPACING) + 1)
    station_rows = set(np.round(np.linspace(0, n, stations)).astype(int).tolist())
    corners = [(r, rail_col) for r in range(n, -1, -1)]
    lines.append(("Riverside Line", "rail", corners, [i for i, (r, _) in enumerate(corners) if r in station_rows]))

    index: dict[tuple[str, int, int], int] = {}  # (mode, row, col) -> stop
    xy, names = [], []
    rng = _rng(layout.seed, "transit")
    parts: list[Trips] = []
    route_ids, route_names, route_modes = [], [], []
    for name, mode, corners, at in lines:
        if len(at) < 2:
            continue
        stops = []
        for i in at:
            row, col = corners[i]
            if (mode, row, col) not in index:
                index[(mode, row, col)] = len(xy)
                inward = np.where(np.array([col, row]) < n / 2, 1.0, -1.0) * (6.0 if mode == "bus" else 12.0)
                xy.append(layout.nodes[row, col] + inward)
                names.append(_station(layout, row) if mode == "rail" else f"{_street(layout, row)} / Avenue {col}")
            stops.append(index[(mode, row, col)])
        points = layout.nodes[tuple(np.array(corners).T)]
        along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))][at]
        speed_m_s, dwell = SPEED_KM_H[mode] / 3.6, DWELL_S[mode]
        run_s = np.maximum(np.diff(along) / speed_m_s - dwell, np.diff(along) / speed_m_s / 2)
        shift = 60 * int(rng.integers(0, 10))
        headways = [(h0 * 3600 + shift, h1 * 3600 + shift, minutes * 60) for h0, h1, minutes in HEADWAYS[mode]]
        number = route_modes.count(mode) + 1
        parts.append(line_trips(len(route_ids), f"{mode[0].upper()}{number}", stops, run_s, headways, dwell_s=dwell))
        route_ids.append(f"{mode[0].upper()}{number}")
        route_names.append(f"{number} {name}" if mode == "bus" else name)
        route_modes.append(mode)

    xy = np.array(xy)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    modes = [mode for mode, _, _ in index]
    timetable = from_trips(
        stop_ids=[f"{mode}:{row}:{col}" for mode, row, col in index], stop_names=names,
        stop_lonlat=np.column_stack([lon, lat]), route_ids=route_ids, route_names=route_names,
        route_modes=route_modes, **join_trips(parts)._asdict(), service_date=SERVICE_DATE,
        source=f"synthetic timetable (sandbox.synth, seed {layout.seed})", licence="CC0")
    layer = gpd.GeoDataFrame({"name": names, "mode": modes, "osm_ids": ""},
                             geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="stop_id")
    return timetable, layer


def _facilities(layout: _Layout, residents: int, crs: CRS) -> gpd.GeoDataFrame:
    """Clinics low by the river and uphill, a central library; schools, groceries, senior centres scattered."""
    n, rng = layout.n, _rng(layout.seed, "facilities")
    low, uphill, library = _fixed_facility_blocks(n, layout.river_col, layout.main_row)
    rows = [("Riverside Clinic", "care", "clinic", ORIGIN[0] + layout.river_col * BLOCK_M - 22.0,
             _block_centre(*low)[1]),
            ("Hillside Health Centre", "care", "clinic", *_block_centre(*uphill)),
            ("Town Library", "library", "library", *_block_centre(*library))]
    counts = {("School", "school", "school"): max(1, round(residents / 4000)),
              ("Grocery", "grocery", "supermarket"): max(2, round(residents / 2000)),
              ("Senior Centre", "elderly_centre", "social_facility"): max(1, round(residents / 6000))}
    taken = {low, uphill, library, *layout.park_blocks}
    free = [(c, r) for r in range(n) for c in range(n) if c != layout.river_col and (c, r) not in taken]
    picks = iter(rng.choice(len(free), size=min(len(free), sum(counts.values())), replace=False))
    for (label, kind, category), count in counts.items():
        for number, pick in zip(range(1, count + 1), picks):
            x, y = np.array(_block_centre(*free[pick])) + rng.uniform(-12.0, 12.0, 2)
            rows.append((f"{label} {number}", kind, category, x, y))
    name, kind, category, x, y = map(list, zip(*rows))
    layer = gpd.GeoDataFrame({"osm_id": np.arange(500_001, 500_001 + len(rows), dtype="int64"), "name": name,
                              "kind": kind, "category": category, "capacity": [CAPACITY[k] for k in kind]},
                             geometry=gpd.points_from_xy(x, y), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="facility_id")
    return layer


def _water(layout: _Layout, crs: CRS) -> gpd.GeoDataFrame:
    left, bottom, right, _ = layout.bounds
    layer = gpd.GeoDataFrame({"osm_id": np.array([600_001, 600_002], dtype="int64"),
                              "name": ["Riverside Bay", "Town River"], "kind": ["sea", "river"]},
                             geometry=[shapely.box(left, bottom, right, layout.shore_y), _river(layout)], crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="water_id")
    return layer


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _terrain(layout: _Layout, crs: CRS) -> xr.DataArray:
    """Ground elevation: sea, shore, the slope up to the north, the river valley and the hollow behind its dyke."""
    import rioxarray  # noqa: F401  (registers the .rio accessor; slow to import, so only when a town is made)
    from rasterio.transform import from_origin

    left, bottom, right, top = layout.bounds
    cell = layout.cell_m
    xs = left + cell * (np.arange(round((right - left) / cell)) + 0.5)
    ys = top - cell * (np.arange(round((top - bottom) / cell)) + 0.5)
    x, y = np.meshgrid(xs, ys)
    shore = layout.shore_y
    uphill = np.clip((y - shore) / (top - shore), 0.0, 1.0)
    town_m = 2.0 + 13.0 * uphill**1.5
    floor_m = 0.5 + 1.5 * uphill
    across = np.abs(x - _river_x(layout, y))
    valley = floor_m + (town_m - floor_m) * _smoothstep((across - VALLEY_FLOOR_M) / VALLEY_SLOPE_M)
    ground = np.where(across < RIVER_HALF_WIDTH_M, floor_m - 1.5, valley)
    r = np.hypot(x - layout.hollow[0], y - layout.hollow[1])
    dyke = np.interp(r, [HOLLOW_RADIUS_M, HOLLOW_RADIUS_M + 15, HOLLOW_RADIUS_M + 35], [3.0, 3.0, 0.0],
                     right=-np.inf)
    ground = np.where(r < HOLLOW_RADIUS_M, 0.8 + 2.2 * (r / HOLLOW_RADIUS_M) ** 2, np.maximum(ground, dyke))
    ground = np.where(ground > 0, ground * _smoothstep((y - shore) / 30.0), ground)  # a beach down to 0 m
    sea = -0.5 - 1.5 * np.clip((shore - y) / 100.0, 0.0, 1.0)
    ground = np.where(y < shore, sea, ground) + _noise(layout, xs, ys)
    dem = xr.DataArray(ground, dims=("y", "x"), coords={"y": ys, "x": xs}, name="elevation_m",
                       attrs={"units": "m", "long_name": "ground elevation"})
    return dem.rio.write_transform(from_origin(left, top, cell, cell)).rio.write_crs(crs.to_string())


def _noise(layout: _Layout, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Smooth seeded bumps of about NOISE_M, the same surface at every cell size."""
    rng = _rng(layout.seed, "terrain")
    left, bottom = ORIGIN[0] - MARGIN_M - 100.0, ORIGIN[1] - SHORE_M - SEA_M - 100.0
    span = layout.n * BLOCK_M + SHORE_M + SEA_M + 2 * MARGIN_M + 200.0
    knots = np.arange(0.0, span + NOISE_SPACING_M, NOISE_SPACING_M)
    values = rng.normal(0.0, NOISE_M, (len(knots), len(knots)))
    spline = RectBivariateSpline(bottom + knots, left + knots, values)
    return spline(ys[::-1], xs)[::-1]
