"""Synthetic towns with terrain: a deterministic, seeded twin that runs anywhere, for flood and scale tests."""

from __future__ import annotations

import datetime
import itertools
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
from .network import MODES, StreetNetwork, build_network
from .population import HELSINKI_CENTRE, Calibration, synthesize_households
from .timetable import Timetable, Trips, from_trips, join_trips, line_trips
from .twin import Twin

TOWNS = ("riverside", "metro")
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


def town(*, kind: str = "riverside", households: int = 2000, seed: int = 0, name: str | None = None,
         cell_m: float = 10.0, crs: str = "EPSG:3067") -> Twin:
    """A synthetic town sized to ``households``: by default a riverside town on a slope down to the sea, with a
    hollow behind a dyke; ``kind="metro"`` a metropolitan region of several centres (see :func:`metro`).

    Real twins need downloads and carry their data's quirks; this one is made from arguments alone, so flood
    and scale tests run anywhere and the same arguments always give the same twin (equal fingerprints).

    Parameters
    ----------
    kind
        Which town: ``riverside`` (one 100 m street grid, about one walk node per 13 households) or ``metro``
        (several centres with their own street patterns, about one walk node per household).
    households
        About how many households to synthesize; the town grows with them (2,000 make a riverside town about
        1.2 km across of 100 m blocks).
    seed
        Seed of every random choice: street jitter, buildings, facilities, terrain noise and households.
    name
        The twin's name (by default the kind).
    cell_m
        Cell size of the terrain raster (1 to 20 m).
    crs
        A projected CRS in metres; the town sits at the same coordinates whatever it is.
    """
    if kind not in TOWNS:
        raise TwinError(f"town: kind: unknown {kind!r}; expected one of {', '.join(TOWNS)}")
    if kind == "metro":
        return metro(households=households, seed=seed, name=name or kind, cell_m=cell_m, crs=crs)
    name = name or kind
    _check_options(households, seed, cell_m)
    target = _metric_crs(crs)
    layout = _layout(households, seed, float(cell_m))
    ways = _ways(layout, target)
    networks, zones = _streets(ways, target)
    buildings = _buildings(layout, target)
    buildings["zone_id"] = assign_zones(buildings, zones)
    residents = _residents(households)
    timetable, stops = _transit(layout, target)
    layers = {"buildings": buildings, "parks": _parks(layout, target), "transit_stops": stops,
              "facilities": _facilities(layout, residents, target), "water": _water(layout, target), "zones": zones}

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
    streets = (f"street grid of 100 m blocks jittered by up to {JITTER_M:g} m, {MISSING_SHARE:.0%} of residential "
               f"segments left out, Main Road primary, the river crossed only by {bridges}")
    transit = (f"{len(timetable.route_ids) - 1} bus lines along Main Road and every {LINE_SPACING}th street and "
               f"avenue (split at the river where no bridge crosses), a stop every {BUS_STOP_EVERY} corners, shared "
               f"where lines cross; one rail line with {int((stops['mode'] == 'rail').sum())} stations beside the "
               f"river; average speeds with the stops {SPEED_KM_H} km/h; headways (from hour, to hour, minutes) "
               f"{HEADWAYS}")
    return _twin(name=name, target=target, seed=seed, households=households, layers=layers, networks=networks,
                 timetable=timetable, terrain=_terrain(layout, target), how=how, streets=streets, transit=transit)


def _streets(ways: gpd.GeoDataFrame, target: CRS) -> tuple[dict[str, StreetNetwork], gpd.GeoDataFrame]:
    """Every mode's street network, and the zones covering the walking network."""
    networks = {mode: build_network(ways, mode) for mode in MODES}
    return networks, zone_layer(shapely.box(*networks["walk"].bounds), target, cell_m=ZONE_CELL_M)


def _residents(households: int) -> int:
    return max(1, round(households * RESIDENTS_PER_HOUSEHOLD))


def _twin(*, name: str, target: CRS, seed: int, households: int, layers: dict[str, gpd.GeoDataFrame],
          networks: dict[str, StreetNetwork], timetable: Timetable, terrain: xr.DataArray, how: dict[str, str],
          streets: str, transit: str) -> Twin:
    """A town's twin from its parts: households placed in its residential buildings, and provenance from what
    each kind of town says of its parts (``how``), its streets and its transit lines."""
    buildings = layers["buildings"]
    residents = _residents(households)
    homes = buildings["floor_area_m2"].where(buildings["residential"], 0.0).sum()
    calibration = Calibration(residents=residents, age_shares=HELSINKI_CENTRE.age_shares,
                              floor_area_per_resident_m2=float(homes / residents),
                              source=f"HELSINKI_CENTRE age shares; {households} households x "
                                     f"{RESIDENTS_PER_HOUSEHOLD} residents")
    source = f"synthetic town (sandbox.synth, seed {seed})"
    provenance = {part: {"source": source, "licence": "CC0", "how": text} for part, text in how.items()}
    for mode, net in networks.items():
        provenance[f"network_{mode}"] = {
            "source": source, "licence": "CC0",
            "how": f"{streets}; streets usable by {mode} (sandbox.network rules), {net.dropped_nodes} "
                   "nodes dropped",
        }
    provenance["transit"] = {
        "source": timetable.source, "licence": timetable.licence,
        "how": f"{timetable.service_date} (a Tuesday): {transit}, each line's departures shifted by a seeded 0-9 "
               "min; no footpaths in the timetable (walks are on the street network)",
    }
    provenance["households"] = {
        "source": source, "licence": "CC BY 4.0 (calibration data); synthetic households are not real people",
        "how": f"seed {seed}; {residents} residents with HELSINKI_CENTRE age shares, placed in residential "
               "buildings by floor area (sandbox.population)",
    }
    return Twin(name=name, crs=target.to_string(), layers=layers,
                households=synthesize_households(buildings, calibration, seed=seed), networks=networks,
                terrain=terrain, provenance=provenance, timetable=timetable)


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
    return town(kind=town_name, name=town_name, **options)


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


# --- the metropolitan town ---------------------------------------------------------------------------------------
#
# Several centres, each the seed of a district (a power diagram: straight seams, the main centre's district
# larger) with its own street pattern on a lattice of LATTICE_M: a grid rotated at its own angle, rings and
# radials, or an irregular warped grid with staggered cross streets. Streets run along every few lattice lines
# (blocks of mixed sizes, smaller near the centre), footways cut through blocks and cross parks, and the lattice
# points along them are the walk nodes, as in an unsimplified OSM network. Seams are stitched by short streets,
# the river is crossed by bridges, pieces left apart are joined to the rest (or dropped when far), and the
# centres are joined by arterials (shortest street paths, upgraded to primary). Everything is arrays: no loop
# runs per street segment.

METRO_MIN_HOUSEHOLDS = 1000
LATTICE_M = 25.0  # spacing of the lattice every street pattern is drawn on: street nodes every 25 m
# Walk nodes per km2 of land that the street patterns give on average (measured over seeds and sizes); sets the
# town's size so that it has about one walk node per household.
WALK_NODES_PER_KM2 = 815.0
CENTRE_NAMES = ("Harbour", "Northgate", "Eastfield", "Westbrook", "Hillcrest", "Lakeside")
PATTERNS = ("grid", "radial", "irregular")
HIGHWAYS = np.array(["residential", "tertiary", "secondary", "primary", "footway"], dtype=object)
RESIDENTIAL, TERTIARY, SECONDARY, PRIMARY, FOOTWAY = range(5)
PATH_FACTOR = np.array([1.0, 0.8, 0.7, 0.6, np.inf])  # route weight per metre: bigger streets draw arterials, buses
SEAM_LINK_M = 60.0  # a dead end this close to another district's street is joined to it
BRIDGE_SPACING_M = 700.0
PARK_KM2_PER_PARK = 0.5
RESIDENTS_PER_FACILITY = {"care": 10_000, "grocery": 2_000, "school": 4_000, "kindergarten": 2_500,
                          "library": 30_000, "elderly_centre": 6_000}
METRO_CAPACITY = {**CAPACITY, "kindergarten": 100.0}
FACILITY_LABELS = {"care": ("Health Centre", "clinic"), "grocery": ("Grocery", "supermarket"),
                   "school": ("School", "school"), "kindergarten": ("Kindergarten", "kindergarten"),
                   "library": ("Library", "library"), "elderly_centre": ("Senior Centre", "social_facility")}
BUS_STOP_SPACING_M = 400.0
FEEDER_CELL_M = 2000.0  # one feeder bus line from its nearest centre to each cell of this size
STATION_SPACING_M = 1500.0
METRO_SPEED_KM_H = {"bus": 20.0, "metro": 40.0}
METRO_DWELL_S = {"bus": 20.0, "metro": 30.0}
METRO_HEADWAYS = {
    "trunk": ((5, 6, 15), (6, 9, 6), (9, 15, 10), (15, 18, 6), (18, 22, 10), (22, 24, 15)),
    "feeder": ((5, 6, 30), (6, 9, 12), (9, 15, 20), (15, 18, 12), (18, 22, 20), (22, 24, 30)),
    "metro": ((5, 6, 10), (6, 9, 4), (9, 15, 6), (15, 18, 4), (18, 24, 8)),
}
_METRO_STREAMS = ("centres", "fabric", "parks", "buildings", "facilities", "terrain", "transit", "coast")


def _mrng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, 100 + _METRO_STREAMS.index(stream)])


@dataclass(frozen=True, eq=False)
class _City:
    """Where the metropolitan town's parts go; lengths in metres of the twin CRS. Land lies north of the shore
    within the square (left, bottom) + side; the sea fills the rest of the raster to its south."""

    seed: int
    cell_m: float
    side: float
    centres: np.ndarray  # (K, 2); the first is the main centre, by the river mouth
    weights: np.ndarray  # (K,) power-diagram weights (m): a larger weight, a larger district
    patterns: tuple[str, ...]
    names: tuple[str, ...]
    coast: np.ndarray  # (3, 3) amplitude, wavelength, phase of the shore's bays and headlands
    river: np.ndarray  # x of the river's axis, then (amplitude, wavelength, phase) of two meanders
    bounds: tuple[float, float, float, float]  # the raster, snapped to cell_m

    @property
    def left(self) -> float:
        return ORIGIN[0]

    @property
    def bottom(self) -> float:
        return ORIGIN[1]

    def shore_y(self, x: np.ndarray) -> np.ndarray:
        waves = sum(a * np.sin(2 * math.pi * (x - self.left) / w + p) for a, w, p in self.coast)
        return self.bottom + 0.06 * self.side + waves

    def river_x(self, y: np.ndarray) -> np.ndarray:
        x0, *terms = self.river
        return x0 + sum(a * np.sin(2 * math.pi * (y - self.bottom) / w + p) for a, w, p in np.reshape(terms, (-1, 3)))

    def river_half_width(self, y: np.ndarray) -> np.ndarray:
        return 22.0 + 18.0 * np.clip(1 - (y - self.bottom) / self.side, 0.0, 1.0)

    def power(self, xy: np.ndarray) -> np.ndarray:
        """(n, K) power distances of points to the centres: a point belongs to the district of the least."""
        out = np.empty((len(xy), len(self.centres)))
        for k, (centre, weight) in enumerate(zip(self.centres, self.weights)):
            out[:, k] = (xy[:, 0] - centre[0]) ** 2 + (xy[:, 1] - centre[1]) ** 2 - weight**2
        return out

    def on_land(self, xy: np.ndarray, margin_m: float = 0.0) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        inside = (x >= self.left) & (x <= self.left + self.side) & (y <= self.bottom + self.side)
        return (inside & (y > self.shore_y(x) + margin_m)
                & (np.abs(x - self.river_x(y)) > self.river_half_width(y) + 5.0 + margin_m))


def metro(*, households: int = 20_000, seed: int = 0, name: str = "metro", cell_m: float = 10.0,
          crs: str = "EPSG:3067") -> Twin:
    """A metropolitan region of several centres on a coast and a river, with about one walk node per household.

    3 to 6 centres (more for more households, seeded), each with its own street pattern: a grid at its own angle,
    rings and radials, or an irregular warped grid; blocks of mixed sizes cut by footways, parks with paths,
    arterials joining the centres. Terrain is low by the coast and the river and rises inland, with seeded hills;
    buildings are taller and denser towards the centres, households are placed in them by floor area
    (sandbox.population), facilities grow with the residents and cluster near the centres; bus lines run from the
    centres along the streets and a metro line links the centres, with a weekday timetable.

    ``town(kind="metro", ...)`` and ``synthetic:metro?households=N&seed=S`` call this; the parameters are
    :func:`town`'s. Deterministic: the same arguments give the same fingerprint.
    """
    _check_options(households, seed, cell_m)
    if households < METRO_MIN_HOUSEHOLDS:
        raise TwinError(f"town: households: {households!r}; expected an integer >= {METRO_MIN_HOUSEHOLDS} for a "
                        "metro town (several centres need room)")
    target = _metric_crs(crs)
    city = _city(households, seed, float(cell_m))
    parks = _park_discs(city)
    fabric = _fabric(city, parks)
    routes = _routes(city, fabric)
    networks, zones = _streets(_metro_ways(fabric, target), target)
    buildings = _metro_buildings(city, fabric, target)
    buildings["zone_id"] = assign_zones(buildings, zones)
    residents = _residents(households)
    timetable, stops, lines = _metro_transit(city, fabric, routes, target)
    facilities = _metro_facilities(city, buildings, residents, target)
    layers = {"buildings": buildings, "parks": _metro_parks(city, parks, target), "transit_stops": stops,
              "facilities": facilities, "water": _metro_water(city, target), "zones": zones}

    centres = ", ".join(f"{n} ({p})" for n, p in zip(city.names, city.patterns))
    counts = facilities["kind"].value_counts().to_dict()
    how = {
        "buildings": f"one footprint or none per {LATTICE_M:g} m lattice cell clear of streets, seams, water and "
                     "parks; larger, taller (up to 10 levels) and more often built towards each centre, commercial "
                     "and offices near the centres; floor_area_m2 = footprint x levels",
        "parks": f"about one park per {PARK_KM2_PER_PARK:g} km2 of land, discs of 40-220 m, crossed by footways",
        "transit_stops": f"the timetable's stops: bus stops every ~{BUS_STOP_SPACING_M:g} m along the lines, "
                         "metro stations at the centres and between them",
        "facilities": f"per residents {RESIDENTS_PER_FACILITY}: one health centre, library, grocery and senior "
                      "centre at each centre, the rest in buildings drawn by floor area (so near the centres); "
                      f"counts {counts}; capacity by kind {METRO_CAPACITY}",
        "water": "the sea south of a shore with bays and headlands, the river from the north edge to the sea",
        "zones": f"{ZONE_CELL_M:g} m grid aligned to the CRS origin, covering the walking network's extent",
        "terrain": f"{cell_m:g} m grid: the sea down to -4.5 m, land from about 1.2 m at the shore rising inland "
                   "(40 m over ~6 km), the river valley floor from 0.6 m at the mouth rising 1.5 m per km upstream "
                   "(channel 1.5 m lower), seeded hills of a few metres away from the shore and the river, and "
                   "seeded noise of about 0.15 m",
    }
    streets = (f"{len(city.centres)} centres: {centres}; streets every 3-8 lattice lines of {LATTICE_M:g} m (blocks "
               "of mixed sizes), footways through blocks and parks (walk only), seams joined by short streets, "
               f"{fabric['bridges']} bridges over the river, arterials (primary) between the centres")
    transit = (f"{lines['trunk']} trunk bus lines between the centres and {lines['feeder']} feeder lines from the "
               f"nearest centre to each {FEEDER_CELL_M:g} m cell, along the streets, a stop every "
               f"~{BUS_STOP_SPACING_M:g} m; one metro line through the centres with {lines['stations']} stations; "
               f"average speeds with the stops {METRO_SPEED_KM_H} km/h; headways (from hour, to hour, minutes) "
               f"{METRO_HEADWAYS}")
    return _twin(name=name, target=target, seed=seed, households=households, layers=layers, networks=networks,
                 timetable=timetable, terrain=_metro_terrain(city, target), how=how, streets=streets,
                 transit=transit)


def _city(households: int, seed: int, cell_m: float) -> _City:
    rng = _mrng(seed, "centres")
    side = 1000.0 * math.sqrt(households / WALK_NODES_PER_KM2 / 0.9)  # about a tenth of the square is sea or river
    k = min(6, 3 + (households >= 50_000) + (households >= 200_000) + (households >= 600_000)
            + int(rng.random() < 0.5))
    left, bottom = ORIGIN
    coast_rng = _mrng(seed, "coast")
    coast = np.column_stack([side * np.array([0.025, 0.012, 0.005]) * coast_rng.uniform(0.7, 1.3, 3),
                             side * np.array([1.1, 0.37, 0.13]) * coast_rng.uniform(0.8, 1.2, 3),
                             coast_rng.uniform(0, 2 * math.pi, 3)])
    river = np.r_[left + side * coast_rng.uniform(0.35, 0.65),
                  side * 0.035, side * coast_rng.uniform(0.6, 0.9), coast_rng.uniform(0, 2 * math.pi),
                  side * 0.012, side * coast_rng.uniform(0.15, 0.25), coast_rng.uniform(0, 2 * math.pi)]
    probe = _City(seed, cell_m, side, np.zeros((0, 2)), np.zeros(0), (), (), coast, river, (0, 0, 0, 0))
    # The main centre by the river mouth, on one bank; the others inland, apart from each other and the river.
    mouth_y = bottom + 0.06 * side
    bank = probe.river_x(np.array([mouth_y]))[0] + rng.choice([-1.0, 1.0]) * min(max(0.08 * side, 400.0), 1500.0)
    main = np.array([bank, float(probe.shore_y(np.array([bank]))[0]) + min(max(0.07 * side, 350.0), 2000.0)])
    centres = [main]
    spacing = 0.55 * side / math.sqrt(k)
    for _ in range(20_000):
        if len(centres) == k:
            break
        xy = np.array([left + side * rng.uniform(0.1, 0.9), bottom + side * rng.uniform(0.22, 0.9)])
        river_gap = abs(xy[0] - probe.river_x(xy[1:])[0])
        if (min(np.hypot(*(xy - c)) for c in centres) >= spacing and river_gap > 0.04 * side + 150.0
                and xy[1] - probe.shore_y(xy[:1])[0] > 0.12 * side):
            centres.append(xy)
        else:
            spacing *= 0.9995  # a crowded square: let the centres come a little closer
    centres = np.array(centres)
    weights = 0.2 * side / math.sqrt(k) * np.r_[1.4, rng.uniform(0.7, 1.1, k - 1)]
    patterns = tuple(rng.permutation(PATTERNS).tolist()) + tuple(rng.choice(PATTERNS, k - 3).tolist())
    margin = MARGIN_M + 0.0
    raster_left = math.floor((left - margin) / cell_m) * cell_m
    top = math.ceil((bottom + side + margin) / cell_m) * cell_m
    right = raster_left + math.ceil((left + side + margin - raster_left) / cell_m) * cell_m
    lowest_shore = bottom + 0.06 * side - np.abs(coast[:, 0]).sum()
    raster_bottom = top - math.ceil((top - (lowest_shore - SEA_M - margin)) / cell_m) * cell_m
    return _City(seed=seed, cell_m=cell_m, side=side, centres=centres, weights=weights, patterns=patterns,
                 names=CENTRE_NAMES[:k], coast=coast, river=river,
                 bounds=(raster_left, raster_bottom, right, top))


def _district_polygon(city: _City, d: int) -> shapely.Polygon:
    """District ``d``'s cell of the power diagram within the land square."""
    left, bottom, side = city.left, city.bottom, city.side
    cell = shapely.box(left, bottom - 0.2 * side, left + side, bottom + side)
    c, w = city.centres, city.weights
    big = 10.0 * side
    for other in range(len(c)):
        if other == d:
            continue
        normal = c[other] - c[d]  # inside: normal . p <= h
        h = ((c[other] ** 2).sum() - (c[d] ** 2).sum() - w[other] ** 2 + w[d] ** 2) / 2
        unit = normal / np.hypot(*normal)
        at = c[d] + unit * (h - normal @ c[d]) / np.hypot(*normal)  # on the seam, beside the centre
        along = np.array([-unit[1], unit[0]])
        half = shapely.Polygon([at + big * along, at - big * along, at - big * along - big * unit,
                                at + big * along - big * unit])
        cell = cell.intersection(half)
    return cell


def _warp(city: _City, xy: np.ndarray, amplitude_m: float, wavelength_m: float, stream: int) -> np.ndarray:
    """Smooth seeded displacements of a district's points: normal draws every ``wavelength_m`` over the points'
    extent, interpolated by cubic B-splines."""
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng([city.seed, 200 + stream])
    origin = xy.min(axis=0) - 2 * wavelength_m
    size = np.ceil((xy.max(axis=0) + 2 * wavelength_m - origin) / wavelength_m).astype(int) + 1
    at = ((xy - origin) / wavelength_m).T
    out = xy.copy()
    for axis in range(2):
        out[:, axis] += map_coordinates(rng.normal(0.0, amplitude_m, tuple(size)), at, order=3, mode="nearest")
    return out


def _street_lines(lo: int, hi: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Lattice lines that carry streets: 0 and outwards both ways past ``lo`` and ``hi``, 3-8 lines apart, blocks
    growing away from the centre (``scale`` lattice steps is the district's radius)."""
    out = [0]
    for step, bound in ((1, hi), (-1, lo)):
        at = 0
        while at * step < bound * step:
            t = abs(at) / scale
            at += step * ((3 if t < 0.15 else 4 if t < 0.4 else 5 if t < 0.8 else 6) + int(rng.integers(0, 3)))
            out.append(at)
    return np.unique(out)


def _block_choice(lines: np.ndarray, other: int, share: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per block (interval of ``lines`` x ``other`` intervals): the line inside it a footway follows, or -1.
    ``share`` is the chance per block (broadcast to (len(lines) - 1, other))."""
    gap = np.diff(lines)
    share = np.broadcast_to(share, (len(gap), other))
    offset = np.floor(1 + rng.random((len(gap), other)) * (gap[:, None] - 1)).astype(np.int64)
    chosen = (rng.random((len(gap), other)) < share) & (gap[:, None] >= 2)
    return np.where(chosen, lines[:-1, None] + offset, -1)


def _interval(lines: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which interval of ``lines`` each lattice index lies in (line <= at < next line), and whether it lies in one."""
    index = np.searchsorted(lines, at, side="right") - 1
    return np.clip(index, 0, max(len(lines) - 2, 0)), (index >= 0) & (index < len(lines) - 1)


@dataclass
class _Piece:
    """One district's lattice within its district and on land: points, candidate segments (positions in ``xy``;
    code -1 for a lattice segment that carries nothing) and cells (four corners, in order around)."""

    xy: np.ndarray
    a: np.ndarray
    b: np.ndarray
    code: np.ndarray
    osm_id: np.ndarray
    name: np.ndarray
    cells: np.ndarray


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _grid_piece(city: _City, d: int, polygon: shapely.Polygon, scale_m: float, irregular: bool,
                rng: np.random.Generator) -> _Piece:
    """A grid at the district's own angle; irregular: strongly warped, cross streets staggered, more dead ends.
    Only the lattice points inside the (convex) district and on land are made: each side of the district is a
    half-plane, linear in the lattice indices."""
    from shapely.geometry.polygon import orient

    s, c = LATTICE_M, city.centres[d]
    theta = rng.uniform(0.0, math.pi / 2)
    e1, e2 = np.array([math.cos(theta), math.sin(theta)]), np.array([-math.sin(theta), math.cos(theta)])
    ring = shapely.get_coordinates(orient(polygon, 1.0).exterior)
    u, v = (ring - c) @ e1 / s, (ring - c) @ e2 / s
    imin, imax, jmin, jmax = math.floor(u.min()), math.ceil(u.max()), math.floor(v.min()), math.ceil(v.max())
    ivals, jvals = np.arange(imin, imax + 1), np.arange(jmin, jmax + 1)
    inside = np.ones((len(ivals), len(jvals)), bool)
    for p, q in itertools.pairwise(ring):  # counter-clockwise: the inside is on the left of every side
        side = q - p
        inside &= (s * _cross(side, e1) * ivals[:, None] + s * _cross(side, e2) * jvals[None, :]
                   + _cross(side, c - p)) >= 0
    ri, rj = np.nonzero(inside)
    xy = c + (ivals[ri, None] * e1 + jvals[rj, None] * e2) * s
    xy = _warp(city, xy, 9.0 if irregular else 1.5, 150.0 if irregular else 60.0, 2 * d + irregular)
    land = city.on_land(xy, margin_m=2.0)  # after the warp, which moves points by up to ~15 m
    inside[ri[~land], rj[~land]] = False
    ri, rj, xy = ri[land], rj[land], xy[land]
    rank = np.full(inside.shape, -1, np.int64)
    rank[ri, rj] = np.arange(len(ri))

    scale = scale_m / s
    lines_i, lines_j = _street_lines(imin, imax, scale, rng), _street_lines(jmin, jmax, scale, rng)
    mid_i, mid_j = (lines_i[:-1] + lines_i[1:]) / 2, (lines_j[:-1] + lines_j[1:]) / 2
    foot_share = np.clip(0.8 - 0.45 * np.hypot(mid_i[:, None], mid_j[None, :]) / scale, 0.3, 0.8)
    foot_i = _block_choice(lines_i, len(lines_j) - 1, foot_share, rng)  # footway along a line of constant i
    foot_j = _block_choice(lines_j, len(lines_i) - 1, foot_share.T, rng)
    kept_cross = rng.random((len(lines_i) - 1, len(lines_j))) < (0.7 if irregular else 1.0)  # staggered j-streets
    is_i, is_j = np.isin(ivals, lines_i), np.isin(jvals, lines_j)
    rank_i, rank_j = np.searchsorted(lines_i, ivals), np.searchsorted(lines_j, jvals)  # which street line

    # segments along j (constant i), then along i (constant j), between points that both exist
    e1i, e1j = np.nonzero(inside[:, :-1] & inside[:, 1:])
    e2i, e2j = np.nonzero(inside[:-1, :] & inside[1:, :])
    i1, j1, i2, j2 = ivals[e1i], jvals[e1j], ivals[e2i], jvals[e2j]
    a_i, in_a = _interval(lines_i, i1)
    b_j, in_b = _interval(lines_j, j1)
    street1 = is_i[e1i]
    foot1 = ~street1 & in_a & in_b & (foot_i[a_i, b_j] == i1)
    a2, in_a2 = _interval(lines_i, i2)
    b2, in_b2 = _interval(lines_j, j2)
    street2 = is_j[e2j] & (kept_cross[a2, rank_j[e2j]] | (j2 == 0) | ~in_a2)
    foot2 = ~street2 & in_a2 & in_b2 & (foot_j[b2, a2] == j2)
    a = np.r_[rank[e1i, e1j], rank[e2i, e2j]]
    b = np.r_[rank[e1i, e1j + 1], rank[e2i + 1, e2j]]
    street, foot = np.r_[street1, street2], np.r_[foot1, foot2]
    line = np.r_[rank_i[e1i], rank_j[e2j]]
    along_i = np.r_[np.ones(len(i1), bool), np.zeros(len(i2), bool)]
    main = np.r_[i1 == 0, j2 == 0]
    code = np.where(foot, FOOTWAY, np.where(main, SECONDARY, np.where(line % 4 == 0, TERTIARY, RESIDENTIAL)))
    code = np.where(street | foot, code, -1)
    base = 10_000_000 * (d + 1)
    osm_id = np.where(along_i, base + line, base + 500_000 + line)
    block = np.r_[a_i * len(lines_j) + b_j, 2_000_000 + a2 * len(lines_j) + b2]
    osm_id = np.where(foot, base + 1_000_000 + block, osm_id)
    name = city.names[d]
    street_names = np.array([f"{name} Street {k}" for k in range(len(lines_i) + 1)]
                            + [f"{name} Avenue {k}" for k in range(len(lines_j) + 1)], dtype=object)
    names = np.where(along_i, street_names[np.minimum(line, len(lines_i))],
                     street_names[len(lines_i) + 1 + np.minimum(line, len(lines_j))])
    names = np.where(foot, None, names)
    ci, cj = np.nonzero(inside[:-1, :-1] & inside[1:, :-1] & inside[1:, 1:] & inside[:-1, 1:])
    cells = np.column_stack([rank[ci, cj], rank[ci + 1, cj], rank[ci + 1, cj + 1], rank[ci, cj + 1]])
    return _Piece(xy, a, b, code.astype(np.int8), osm_id.astype(np.int64), names, cells)


def _radial_piece(city: _City, d: int, polygon: shapely.Polygon, scale_m: float,
                  rng: np.random.Generator) -> _Piece:
    """Rings and radials around a small square; radials double outwards so that blocks keep their size. Only the
    points inside the district (closer to the centre than its edge in their direction) and on land are made."""
    s, c = LATTICE_M, city.centres[d]
    r0 = 2 * s
    reach = float(np.hypot(*(shapely.get_coordinates(polygon.exterior) - c).T).max())
    top = math.ceil((reach - r0) / s) + 1
    rings = _street_lines(0, top, scale_m / s, rng)
    starts, counts, m = [0], [16], 16
    for ring in rings[1:]:
        if ring < top and 2 * math.pi * (r0 + ring * s) / m > 2 * s:
            starts.append(int(ring))
            m *= 2
            counts.append(m)
    finest = counts[-1]
    ends = starts[1:] + [top + 1]
    phase = rng.uniform(0.0, 2 * math.pi)
    angles = phase + 2 * math.pi * np.arange(finest) / finest
    rays = shapely.linestrings(np.stack([np.broadcast_to(c, (finest, 2)),
                                         c + 2 * reach * np.column_stack([np.cos(angles), np.sin(angles)])], axis=1))
    edge_m = shapely.length(shapely.intersection(polygon, rays))  # from the centre to the district's edge
    bands = []  # per band its points inside the district: ring and angle indices
    for start, end, m in zip(starts, ends, counts):
        ii, jj = np.meshgrid(np.arange(start, end), np.arange(m), indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        wanted = r0 + ii * s <= edge_m[jj * (finest // m)]
        bands.append((ii[wanted], jj[wanted], np.full(wanted.sum(), m)))
    rings_of, angles_of, band_of = (np.concatenate(parts) for parts in zip(*bands))
    angle = angles[angles_of * (finest // band_of)]
    xy = _warp(city, c + (r0 + rings_of * s)[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]), 1.5, 60.0,
               2 * d)
    land = city.on_land(xy, margin_m=2.0)  # after the warp
    keys, xy_parts, edges, cells = [], [], [], []
    for m in counts:
        f = finest // m
        here = land & (band_of == m)
        ii, jj = rings_of[here], angles_of[here]
        xy_parts.append(xy[here])
        keys.append(ii * finest + jj * f)
        ring_a, in_ring = _interval(rings, ii)
        block = jj // 4
        share = np.clip(0.8 - 0.45 * (r0 + (rings[:-1, None] + rings[1:, None]) / 2 * s) / scale_m, 0.3, 0.8)
        ring_foot = _block_choice(rings, m // 4, share, rng)
        spoke_off = np.where(rng.random((len(rings) - 1, m // 4)) < share,
                             rng.integers(1, 4, (len(rings) - 1, m // 4)), -1)
        key = ii * finest + jj * f
        around = ii * finest + ((jj + 1) % m) * f
        out = (ii + 1) * finest + jj * f
        street_ring = np.isin(ii, rings)
        foot_ring = ~street_ring & in_ring & (ring_foot[ring_a, block] == ii)
        spoke = jj % 4 == 0
        foot_spoke = ~spoke & in_ring & (spoke_off[ring_a, block] == jj % 4)
        ring_rank = np.searchsorted(rings, ii)
        main = spoke & (jj % (m // 4) == 0)
        for head, street, foot, code, osm, label, number in (
                (around, street_ring, foot_ring, np.where(ring_rank % 3 == 0, TERTIARY, RESIDENTIAL), ring_rank,
                 "Ring", ring_rank),
                (out, spoke, foot_spoke, np.where(main, SECONDARY, RESIDENTIAL), 500_000 + jj * f, "Radial",
                 jj * f)):
            code = np.where(foot, FOOTWAY, np.where(street, code, -1))
            osm = np.where(foot, 1_000_000 + ring_a * finest + block * f + 2_000_000 * (label == "Radial"), osm)
            edges.append((key, head, code, osm, label, number, foot))
        cells.append(np.column_stack([key, around, (ii + 1) * finest + ((jj + 1) % m) * f, out]))
    centre_key = (top + 2) * finest
    keys = np.r_[np.concatenate(keys), centre_key]
    xy = np.vstack([*xy_parts, c[None, :]])
    order = np.argsort(keys)
    sorted_keys = keys[order]

    def pos(k: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(sorted_keys, k), len(keys) - 1)
        return np.where(sorted_keys[at] == k, order[at], -1)

    squares = np.arange(0, counts[0], 4) * (finest // counts[0])  # the square: radials meet at the centre
    name = city.names[d]
    a, b = [np.full(len(squares), len(keys) - 1)], [pos(squares)]
    code, osm_id = [np.full(len(squares), SECONDARY)], [np.full(len(squares), 700_000)]
    names = [np.full(len(squares), f"{name} Square", dtype=object)]
    for tail, head, kind, osm, label, number, foot in edges:
        a.append(pos(tail))
        b.append(pos(head))
        code.append(kind)
        osm_id.append(osm)
        text = np.array([f"{name} {label} {k}" for k in range(int(number.max(initial=0)) + 1)], dtype=object)
        names.append(np.where(foot, None, text[number]))
    a, b, code = np.concatenate(a), np.concatenate(b), np.concatenate(code)
    present = (a >= 0) & (b >= 0)
    cells = pos(np.vstack(cells))
    return _Piece(xy, a[present], b[present], code[present].astype(np.int8),
                  10_000_000 * (d + 1) + np.concatenate(osm_id).astype(np.int64)[present],
                  np.concatenate(names)[present], cells[(cells >= 0).all(axis=1)])


def _park_discs(city: _City) -> tuple[np.ndarray, np.ndarray]:
    """Centres and radii of the parks: discs on land, about one per PARK_KM2_PER_PARK km2."""
    rng = _mrng(city.seed, "parks")
    wanted = max(3, round(city.side**2 / 1e6 / PARK_KM2_PER_PARK))
    xy = np.array([city.left, city.bottom]) + city.side * rng.random((4 * wanted, 2))
    radius = rng.uniform(40.0, 220.0, len(xy))
    to_centre = np.hypot(*(xy[:, None] - city.centres[None]).transpose(2, 0, 1)).min(axis=1)
    ok = city.on_land(xy, margin_m=20.0) & (to_centre > radius + 150.0)
    return xy[ok][:wanted], radius[ok][:wanted]


def _in_parks(xy: np.ndarray, parks: tuple[np.ndarray, np.ndarray], cell_m: float = 5.0) -> np.ndarray:
    """Whether points lie in a park: the discs are drawn on a grid of ``cell_m`` once, then looked up."""
    centres, radii = parks
    if not len(centres):
        return np.zeros(len(xy), bool)
    low = (centres - radii[:, None]).min(axis=0) - cell_m
    shape = np.ceil(((centres + radii[:, None]).max(axis=0) + cell_m - low) / cell_m).astype(int) + 1
    grid = np.zeros(shape, bool)
    for (x, y), r in zip(centres, radii):  # one small window per park
        i0, j0 = np.floor((np.array([x, y]) - r - low) / cell_m).astype(int)
        i1, j1 = np.ceil((np.array([x, y]) + r - low) / cell_m).astype(int)
        gx = low[0] + (np.arange(i0, i1 + 1) + 0.5) * cell_m
        gy = low[1] + (np.arange(j0, j1 + 1) + 0.5) * cell_m
        grid[i0:i1 + 1, j0:j1 + 1] |= (gx[:, None] - x) ** 2 + (gy[None, :] - y) ** 2 < r * r
    index = np.floor((xy - low) / cell_m).astype(np.int64)
    inside = (index >= 0).all(axis=1) & (index < shape).all(axis=1)
    out = np.zeros(len(xy), bool)
    out[inside] = grid[index[inside, 0], index[inside, 1]]
    return out


def _touched(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The points (of ``n``) that some segment (a, b) ends at, in order."""
    used = np.zeros(n, bool)
    used[a] = True
    used[b] = True
    return np.flatnonzero(used)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _join_pieces(xy: np.ndarray, a: np.ndarray, b: np.ndarray, usable: np.ndarray, max_m: float,
                 same_side: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join every piece of the graph (a, b) apart from the largest to it, by one new segment from the piece's node
    nearest to the largest piece, if that is within ``max_m`` and on the same bank (``same_side``: a label per
    point); the pieces further away are dropped. Returns the new segments' ends and which segments to keep.
    One pass of connected components and one nearest-neighbour query: linear, whatever the number of pieces."""
    from scipy.spatial import cKDTree

    label = _components(len(xy), a, b)
    nodes = _touched(len(xy), a, b)
    sizes = np.bincount(label[nodes], minlength=len(xy))
    main = int(np.argmax(sizes))
    on_main = nodes[(label[nodes] == main) & usable[nodes]]
    others = nodes[label[nodes] != main]
    if not len(others):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.ones(len(a), bool)
    distance, nearest = cKDTree(xy[on_main]).query(xy[others], k=1)
    distance = np.where(same_side[others] == same_side[on_main[nearest]], distance, np.inf)
    order = np.lexsort((distance, label[others]))
    first = order[np.r_[True, label[others][order][1:] != label[others][order][:-1]]]
    near = np.isfinite(distance[first]) & (distance[first] <= max_m)
    new_a, new_b = others[first][near], on_main[nearest[first]][near]
    joined = np.zeros(len(xy), bool)
    joined[label[new_a]] = True
    joined[main] = True
    return new_a, new_b, joined[label[a]]


def _fabric(city: _City, parks: tuple[np.ndarray, np.ndarray]) -> dict:
    """Every street and footway segment of the town as arrays over its points, the building cells, the bridges."""
    from scipy.spatial import cKDTree

    rng = _mrng(city.seed, "fabric")
    pieces, district, scales = [], [], []
    for d, pattern in enumerate(city.patterns):
        polygon = _district_polygon(city, d)
        scale_m = math.sqrt(polygon.area / math.pi)
        scales.append(scale_m)
        if pattern == "radial":
            piece = _radial_piece(city, d, polygon, scale_m, rng)
        else:
            piece = _grid_piece(city, d, polygon, scale_m, pattern == "irregular", rng)
        pieces.append(piece)
        district.append(np.full(len(piece.xy), d, np.int16))
    offsets = np.r_[0, np.cumsum([len(p.xy) for p in pieces])]
    xy = np.vstack([p.xy for p in pieces])
    district = np.concatenate(district)
    a = np.concatenate([p.a + o for p, o in zip(pieces, offsets)])
    b = np.concatenate([p.b + o for p, o in zip(pieces, offsets)])
    code = np.concatenate([p.code for p in pieces])
    osm_id = np.concatenate([p.osm_id for p in pieces])
    name = np.concatenate([p.name for p in pieces])
    cells = np.vstack([p.cells + o for p, o in zip(pieces, offsets)])

    kept = np.ones(len(xy), bool)  # every piece made only the points inside its district and on land
    side = np.sign(xy[:, 0] - city.river_x(xy[:, 1])).astype(np.int8)  # which bank
    # park paths: lattice segments inside parks, about half of them
    mid = (xy[a] + xy[b]) / 2
    in_park = _in_parks(mid, parks)
    path = (code < 0) & in_park & (rng.random(len(a)) < 0.5)
    code = np.where(path, FOOTWAY, code).astype(np.int8)
    osm_id = np.where(path, 90_000_000 + district[a].astype(np.int64), osm_id)
    # a few streets left out (dead ends, irregular blocks): joined up again below where that cut a piece off
    missing = (code >= 0) & (code != FOOTWAY) & (rng.random(len(a)) < 0.03)
    keep = (code >= 0) & ~missing & kept[a] & kept[b] & (side[a] == side[b])
    a, b, code, osm_id, name = a[keep], b[keep], code[keep], osm_id[keep], name[keep]
    del mid, in_park, path, missing, keep

    # seams: a street's dead end near another district's street is joined to it
    street = code != FOOTWAY
    degree = np.bincount(a[street], minlength=len(xy)) + np.bincount(b[street], minlength=len(xy))
    ends = np.flatnonzero(degree == 1)
    streets = np.flatnonzero(degree > 0)
    tree = cKDTree(xy[streets])
    distance, found = tree.query(xy[ends], k=8, distance_upper_bound=SEAM_LINK_M)
    found = np.minimum(found, len(streets) - 1)
    other = streets[found]
    ok = np.isfinite(distance) & (district[other] != district[ends][:, None]) & (side[other] == side[ends][:, None])
    has = ok.any(axis=1)
    seam_a, seam_b = ends[has], other[has, np.argmax(ok[has], axis=1)]
    pair = np.unique(np.sort(np.column_stack([seam_a, seam_b]), axis=1), axis=0)
    seam_a, seam_b = pair[:, 0], pair[:, 1]

    # bridges: the nearest streets on either bank of points along the river, about every BRIDGE_SPACING_M
    y_low = float(city.shore_y(city.river_x(np.array([city.bottom])))[0]) + 150.0
    count = max(2, round((city.bottom + city.side - y_low) / BRIDGE_SPACING_M))
    by = np.linspace(y_low, city.bottom + city.side - 100.0, count) + rng.uniform(-100, 100, count)
    bx = city.river_x(by)
    bridge_a, bridge_b = [], []
    for bank in (-1, 1):
        chosen = streets[side[streets] == bank]
        distance, found = cKDTree(xy[chosen]).query(np.column_stack([bx, by]), k=1)
        (bridge_a if bank < 0 else bridge_b).append((chosen[found], distance))
    (west, dw), (east, de) = bridge_a[0], bridge_b[0]
    ok = (dw < 200) & (de < 200)
    west, east = west[ok], east[ok]
    n_bridges = len(west)
    middle = len(xy) + np.arange(n_bridges)
    xy = np.vstack([xy, (xy[west] + xy[east]) / 2])
    district = np.r_[district, district[west]]
    side = np.r_[side, np.zeros(n_bridges, np.int8)]
    kept = np.r_[kept, np.ones(n_bridges, bool)]
    bridge_names = np.array([f"{k + 1}. Bridge" for k in range(n_bridges)], dtype=object)

    a = np.r_[a, seam_a, west, middle]
    b = np.r_[b, seam_b, middle, east]
    code = np.r_[code, np.full(len(seam_a), RESIDENTIAL), np.full(2 * n_bridges, SECONDARY)].astype(np.int8)
    osm_id = np.r_[osm_id, 95_000_000 + np.arange(len(seam_a)), np.tile(96_000_000 + np.arange(n_bridges), 2)]
    name = np.r_[name, np.full(len(seam_a), None, dtype=object), np.tile(bridge_names, 2)]

    # pieces left apart (by the coast, the river, a missing street): streets first, then footways
    banks = np.where(side == 0, 2, side)  # a bridge's middle belongs to neither bank: never joined across
    for walk_only in (False, True):
        on = np.ones(len(a), bool) if walk_only else code != FOOTWAY
        usable = np.ones(len(xy), bool)
        if walk_only:
            usable[:] = False
            usable[a] = usable[b] = True
        new_a, new_b, stay = _join_pieces(xy, a[on], b[on], usable, 120.0 if walk_only else 400.0, banks)
        drop = np.zeros(len(a), bool)
        drop[np.flatnonzero(on)[~stay]] = True
        kind = FOOTWAY if walk_only else RESIDENTIAL
        a, b = np.r_[a[~drop], new_a], np.r_[b[~drop], new_b]
        code = np.r_[code[~drop], np.full(len(new_a), kind)].astype(np.int8)
        osm_id = np.r_[osm_id[~drop], (97_000_000 + 1_000_000 * walk_only) + np.arange(len(new_a))]
        name = np.r_[name[~drop], np.full(len(new_a), None, dtype=object)]

    # compact: only points on a segment are nodes
    used = np.zeros(len(xy), bool)
    used[a] = used[b] = True
    number = np.cumsum(used) - 1
    cell_ok = kept[cells].all(axis=1)
    centre_xy = xy[cells].mean(axis=1)
    power_cells = city.power(centre_xy)
    two = np.sort(power_cells, axis=1)[:, :2]
    nearest = np.argsort(power_cells, axis=1)[:, :2]
    apart = np.hypot(*(city.centres[nearest[:, 0]] - city.centres[nearest[:, 1]]).T)
    seam_m = (two[:, 1] - two[:, 0]) / (2 * apart)
    cell_ok &= (seam_m > 20.0) & city.on_land(centre_xy, margin_m=15.0) & ~_in_parks(centre_xy, parks)
    cells = cells[cell_ok]
    return {"xy": xy[used], "a": number[a], "b": number[b], "code": code, "osm_id": osm_id, "name": name,
            "district": district[used], "cells": xy[cells], "cell_district": district[cells[:, 0]],
            "bridges": n_bridges, "scale": np.array(scales)}


def _path(predecessors: np.ndarray, source: int, target: int) -> np.ndarray:
    """Nodes from ``source`` to ``target`` along a shortest-path tree (scipy's predecessors from ``source``)."""
    out = [target]
    while out[-1] != source:
        out.append(int(predecessors[out[-1]]))
        if out[-1] < 0:
            raise TwinError("metro: a centre cannot reach a street it should (a bug in the street generator)")
    return np.array(out[::-1], np.int64)


def _routes(city: _City, fabric: dict) -> dict:
    """Shortest street paths from every centre (one Dijkstra per centre, bigger streets cheaper): the arterials
    between neighbouring centres (made primary) and out of each centre (secondary), and the trees the bus lines
    follow. Changes ``fabric['code']``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    xy, a, b, code = fabric["xy"], fabric["a"], fabric["b"], fabric["code"]
    n = len(xy)
    street = code != FOOTWAY
    length = np.hypot(*(xy[a] - xy[b]).T)
    graph = csr_matrix((length[street] * PATH_FACTOR[code[street]], (a[street], b[street])), shape=(n, n))
    nodes = _touched(n, a[street], b[street])
    centre_nodes = nodes[cKDTree(xy[nodes]).query(city.centres)[1]]
    dist, pred = dijkstra(graph, directed=False, indices=centre_nodes, return_predecessors=True)
    keys = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(keys)

    def edges_of(path: np.ndarray) -> np.ndarray:
        wanted = np.minimum(path[:-1], path[1:]) * n + np.maximum(path[:-1], path[1:])
        return order[np.searchsorted(keys[order], wanted)]

    k = len(city.centres)
    apart = np.hypot(*(city.centres[:, None] - city.centres[None]).transpose(2, 0, 1))
    pairs = sorted({(min(i, j), max(i, j)) for i in range(k) for j in np.argsort(apart[i])[1:3].tolist()})
    trunks = []
    code = code.copy()
    for i, j in pairs:
        path = _path(pred[i], centre_nodes[i], centre_nodes[j])
        code[edges_of(path)] = PRIMARY
        trunks.append((i, j, path))
    rng = _mrng(city.seed, "transit")
    angle = np.arctan2(*(xy[nodes] - city.centres[:, None]).transpose(2, 0, 1)[::-1])  # (k, nodes)
    reach = np.hypot(*(xy[nodes] - city.centres[:, None]).transpose(2, 0, 1))
    for i in range(k):
        own = fabric["district"][nodes] == i
        for heading in rng.uniform(-math.pi, math.pi) + np.arange(4) * math.pi / 2:
            off = np.abs((angle[i] - heading + math.pi) % (2 * math.pi) - math.pi)
            fit = np.where(own & (off < 0.3), reach[i], -1.0)
            if fit.max() > 0:
                path = _path(pred[i], centre_nodes[i], nodes[int(np.argmax(fit))])
                on = edges_of(path)
                code[on] = np.maximum(code[on], SECONDARY)
    fabric["code"] = code
    return {"centre_nodes": centre_nodes, "dist": dist, "pred": pred, "trunks": trunks, "street_nodes": nodes,
            "length": length}


def _metro_ways(fabric: dict, crs: CRS) -> gpd.GeoDataFrame:
    xy, a, b = fabric["xy"], fabric["a"], fabric["b"]
    n = len(a)
    columns = {tag: np.full(n, None, dtype=object) for tag in WAY_TAGS}
    columns.update(highway=HIGHWAYS[fabric["code"]], name=fabric["name"])
    frame = pd.DataFrame({"u": a.astype("int64") + 1, "v": b.astype("int64") + 1,
                          "osm_id": fabric["osm_id"].astype("int64"), **columns})
    return gpd.GeoDataFrame(frame, geometry=shapely.linestrings(np.stack([xy[a], xy[b]], axis=1)), crs=crs)


def _centrality(city: _City, fabric: dict, xy: np.ndarray, district: np.ndarray) -> np.ndarray:
    """Distance from a point to its district's centre, in units of the district's radius (0 at the centre)."""
    return np.hypot(*(xy - city.centres[district]).T) / fabric["scale"][district]


def _metro_buildings(city: _City, fabric: dict, crs: CRS) -> gpd.GeoDataFrame:
    """In some lattice cells one footprint, a quadrilateral inside the cell: more, larger and taller near the
    centres; commercial, retail and offices mostly there."""
    rng = _mrng(city.seed, "buildings")
    corners, district = fabric["cells"], fabric["cell_district"]
    t = np.clip(_centrality(city, fabric, corners.mean(axis=1), district), 0.0, 1.5)
    close = np.clip(1.0 - t, 0.0, 1.0)
    built = rng.random(len(t)) < 0.1 + 0.55 * close  # the outskirts have yards, woods and fields between houses
    corners, t, close = corners[built], t[built], close[built]
    size = len(t)
    f = np.clip(0.4 + 0.3 * close[:, None] + rng.normal(0.0, 0.06, (size, 2)), 0.3, 0.76)  # share of the cell, per side
    lo = 0.12 + rng.random((size, 2)) * (0.76 - f)
    hi = lo + f
    u = np.column_stack([lo[:, 0], hi[:, 0], hi[:, 0], lo[:, 0]])
    v = np.column_stack([lo[:, 1], lo[:, 1], hi[:, 1], hi[:, 1]])
    p0, p1, p2, p3 = (corners[:, k, None, :] for k in range(4))
    ring = (((1 - u) * (1 - v))[..., None] * p0 + (u * (1 - v))[..., None] * p1 + (u * v)[..., None] * p2
            + ((1 - u) * v)[..., None] * p3)
    shapes = shapely.polygons(ring)
    levels = np.clip(np.round(1 + 8 * close**2 + rng.normal(0.0, 0.8, size)), 1, 10)
    commercial = rng.random(size) < 0.03 + 0.35 * close**2
    kind = np.where(commercial, rng.choice(np.array(["commercial", "retail", "office"], dtype=object), size),
                    np.where(levels >= 3, "apartments", "house"))
    footprint = shapely.area(shapes)
    layer = gpd.GeoDataFrame({
        "osm_id": np.arange(1, size + 1, dtype="int64"), "building": kind, "name": None, "levels": levels,
        "levels_source": "synthetic", "residential": ~commercial, "footprint_m2": footprint,
        "floor_area_m2": footprint * levels,
    }, geometry=shapes, crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="building_id")
    return layer


def _sea(city: _City) -> shapely.Polygon:
    left, bottom, right, _ = city.bounds
    x = np.linspace(left, right, max(50, int((right - left) / 20.0)))
    return shapely.Polygon(np.r_[np.column_stack([x, city.shore_y(x)]), [[right, bottom], [left, bottom]]])


def _metro_river(city: _City) -> shapely.Geometry:
    left, bottom, right, top = city.bounds
    y = np.linspace(bottom, top, max(50, int((top - bottom) / 20.0)))
    x, half = city.river_x(y), city.river_half_width(y)
    channel = shapely.Polygon(np.r_[np.column_stack([x - half, y]), np.column_stack([x + half, y])[::-1]])
    return channel.intersection(shapely.box(left, bottom, right, top)).difference(_sea(city))


def _metro_water(city: _City, crs: CRS) -> gpd.GeoDataFrame:
    layer = gpd.GeoDataFrame({"osm_id": np.array([600_001, 600_002], dtype="int64"),
                              "name": ["Metro Bay", "Metro River"], "kind": ["sea", "river"]},
                             geometry=[_sea(city), _metro_river(city)], crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="water_id")
    return layer


def _metro_parks(city: _City, parks: tuple[np.ndarray, np.ndarray], crs: CRS) -> gpd.GeoDataFrame:
    centres, radii = parks
    water = shapely.union(_sea(city), _metro_river(city))
    shapes = shapely.difference(shapely.buffer(shapely.points(centres), radii, quad_segs=8), water)
    order = np.argsort(np.hypot(*(centres[:, None] - city.centres[None]).transpose(2, 0, 1)).min(axis=1), kind="stable")
    layer = gpd.GeoDataFrame({"osm_id": np.arange(400_001, 400_001 + len(shapes), dtype="int64"),
                              "name": [f"Park {i + 1}" for i in range(len(shapes))], "kind": "park",
                              "area_m2": shapely.area(shapes)}, geometry=shapes, crs=crs)
    layer = layer.iloc[order].reset_index(drop=True)  # numbered from the centres out
    layer["name"] = [f"Park {i + 1}" for i in range(len(layer))]
    layer.index = pd.RangeIndex(len(layer), name="park_id")
    return layer


def _metro_facilities(city: _City, buildings: gpd.GeoDataFrame, residents: int, crs: CRS) -> gpd.GeoDataFrame:
    """Per RESIDENTS_PER_FACILITY residents one of each kind; every centre has a health centre, library, grocery
    and senior centre; the rest go to buildings drawn by floor area and nearness to a centre."""
    rng = _mrng(city.seed, "facilities")
    k = len(city.centres)
    points = shapely.get_coordinates(shapely.centroid(buildings.geometry.to_numpy()))  # convex quadrilaterals
    nearest = np.argmin(city.power(points), axis=1)
    close = np.clip(1 - np.hypot(*(points - city.centres[nearest]).T) / (0.6 * city.side / math.sqrt(k)), 0, 1)
    weight = buildings["floor_area_m2"].to_numpy(float) * (1 + 3 * close)
    rows = []
    for kind, per in RESIDENTS_PER_FACILITY.items():
        label, category = FACILITY_LABELS[kind]
        count = max(1, round(residents / per))
        at_centres = min(k, count) if kind in ("care", "library", "grocery", "elderly_centre") else 0
        for i in range(at_centres):
            x, y = city.centres[i] + rng.uniform(-30.0, 30.0, 2)
            rows.append((f"{city.names[i]} {label}", kind, category, x, y))
        rest = count - at_centres
        if rest > 0:
            keys = np.log(rng.random(len(weight))) / np.maximum(weight, 1e-9)  # weighted draw without replacement
            for number, pick in enumerate(np.sort(np.argpartition(-keys, rest - 1)[:rest]), start=at_centres + 1):
                rows.append((f"{label} {number}", kind, category, *points[pick]))
    name, kind, category, x, y = map(list, zip(*rows))
    layer = gpd.GeoDataFrame({"osm_id": np.arange(500_001, 500_001 + len(rows), dtype="int64"), "name": name,
                              "kind": kind, "category": category,
                              "capacity": [METRO_CAPACITY[k] for k in kind]},
                             geometry=gpd.points_from_xy(x, y), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="facility_id")
    return layer


def _stops_along(xy: np.ndarray, path: np.ndarray, spacing_m: float) -> np.ndarray:
    """Positions in ``path`` with a stop: the ends, and where the distance along it passes a multiple of the
    spacing."""
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy[path], axis=0).T))]
    step = np.floor(along / spacing_m)
    at = np.flatnonzero(np.r_[True, step[1:] != step[:-1]])
    if at[-1] != len(path) - 1:
        if along[-1] - along[at[-1]] < spacing_m / 3:
            at = at[:-1]
        at = np.r_[at, len(path) - 1]
    return at


def _metro_transit(city: _City, fabric: dict, routes: dict, crs: CRS) -> tuple[Timetable, gpd.GeoDataFrame, dict]:
    """Bus lines along the arterials between centres (trunk) and from each centre out to the cells around it
    (feeders), stops every BUS_STOP_SPACING_M and shared where lines pass the same corner; a metro line through
    the centres in the order that makes it shortest, with stations between them every STATION_SPACING_M."""
    from scipy.spatial import cKDTree

    rng = _mrng(city.seed, "transit")
    xy, district = fabric["xy"], fabric["district"]
    centre_nodes, dist, pred = routes["centre_nodes"], routes["dist"], routes["pred"]
    lines = []  # (route name, mode, kind of headway, node path, stop positions in it)
    for i, j, path in routes["trunks"]:
        lines.append((f"{city.names[i]}–{city.names[j]}", "bus", "trunk", path,
                      _stops_along(xy, path, BUS_STOP_SPACING_M)))
    trunks = len(lines)
    nodes = routes["street_nodes"]
    cx = np.arange(city.left + FEEDER_CELL_M / 2, city.left + city.side, FEEDER_CELL_M)
    cy = np.arange(city.bottom + FEEDER_CELL_M / 2, city.bottom + city.side, FEEDER_CELL_M)
    targets = np.column_stack([g.ravel() for g in np.meshgrid(cx, cy)])
    distance, found = cKDTree(xy[nodes]).query(targets, k=1)
    ends = np.unique(nodes[found[distance < 0.3 * FEEDER_CELL_M]])
    home = np.argmin(dist[:, ends], axis=0)
    far = dist[home, ends] > 1500.0
    for number, (end, i) in enumerate(zip(ends[far], home[far]), start=1):
        path = _path(pred[i], centre_nodes[i], int(end))
        lines.append((f"{city.names[i]}–{city.names[district[end]]} {number}", "bus", "feeder", path,
                      _stops_along(xy, path, BUS_STOP_SPACING_M)))
    feeders = len(lines) - trunks
    k = len(city.centres)
    order = min(itertools.permutations(range(k)),
                key=lambda p: sum(np.hypot(*(city.centres[p[m]] - city.centres[p[m + 1]])) for m in range(k - 1)))
    walk_tree = cKDTree(xy)
    stations, labels = [], []
    for m, (p, q) in enumerate(itertools.pairwise(order)):
        span = np.hypot(*(city.centres[q] - city.centres[p]))
        count = max(0, round(span / STATION_SPACING_M) - 1)
        share = np.linspace(0, 1, count + 2)[:-1] if m < k - 2 else np.linspace(0, 1, count + 2)
        for n_, s_ in enumerate(share):
            stations.append(city.centres[p] + s_ * (city.centres[q] - city.centres[p]))
            labels.append(f"{city.names[p]} station" if n_ == 0 else
                          f"{city.names[q]} station" if s_ == 1 else f"{city.names[p]}–{city.names[q]} {n_}")
    station_nodes = walk_tree.query(np.array(stations))[1]
    station_nodes[[0]] = centre_nodes[order[0]]
    keep = np.r_[True, station_nodes[1:] != station_nodes[:-1]]
    metro_path = station_nodes[keep]
    lines.append((f"Metro {city.names[order[0]]}–{city.names[order[-1]]}", "metro", "metro", metro_path,
                  np.arange(len(metro_path))))
    metro_names = dict(zip(station_nodes[keep].tolist(), np.array(labels, dtype=object)[keep].tolist()))

    index: dict[tuple[str, int], int] = {}
    stop_xy, stop_names, stop_modes = [], [], []
    parts: list[Trips] = []
    route_ids, route_names, route_modes = [], [], []
    for name, mode, kind, path, at in lines:
        stops = []
        for node in path[at].tolist():
            if (mode, node) not in index:
                index[(mode, node)] = len(stop_xy)
                stop_xy.append(xy[node])
                stop_names.append(metro_names[node] if mode == "metro" else
                                  f"{city.names[district[node]]} {len(stop_xy)}")
                stop_modes.append(mode)
            stops.append(index[(mode, node)])
        points = xy[path]
        along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))][at]
        if mode == "metro":
            along = along * 1.1  # tracks bend a little
        speed_m_s, dwell = METRO_SPEED_KM_H[mode] / 3.6, METRO_DWELL_S[mode]
        run_s = np.maximum(np.diff(along) / speed_m_s - dwell, np.diff(along) / speed_m_s / 2)
        shift = 60 * int(rng.integers(0, 10))
        headways = [(h0 * 3600 + shift, h1 * 3600 + shift, minutes * 60) for h0, h1, minutes in METRO_HEADWAYS[kind]]
        letter = {"trunk": "T", "feeder": "B", "metro": "M"}[kind]
        number = sum(r.startswith(letter) for r in route_ids) + 1
        route_id = f"{letter}{number}"
        parts.append(line_trips(len(route_ids), route_id, stops, run_s, headways, dwell_s=dwell))
        route_ids.append(route_id)
        route_names.append(f"{number} {name}" if mode == "bus" else name)
        route_modes.append(mode)

    stop_xy = np.array(stop_xy)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(stop_xy[:, 0], stop_xy[:, 1])
    timetable = from_trips(
        stop_ids=[f"{mode}:{node}" for mode, node in index], stop_names=stop_names,
        stop_lonlat=np.column_stack([lon, lat]), route_ids=route_ids, route_names=route_names,
        route_modes=route_modes, **join_trips(parts)._asdict(), service_date=SERVICE_DATE,
        source=f"synthetic timetable (sandbox.synth, seed {city.seed})", licence="CC0")
    layer = gpd.GeoDataFrame({"name": stop_names, "mode": stop_modes, "osm_ids": ""},
                             geometry=gpd.points_from_xy(stop_xy[:, 0], stop_xy[:, 1]), crs=crs)
    layer.index = pd.RangeIndex(len(layer), name="stop_id")
    return timetable, layer, {"trunk": trunks, "feeder": feeders, "stations": len(metro_path)}


def _metro_terrain(city: _City, crs: CRS) -> xr.DataArray:
    """Ground elevation: the sea floor, the shore, land rising inland, the river valley and channel, seeded hills."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from rasterio.transform import from_origin

    left, bottom, right, top = city.bounds
    cell = city.cell_m
    xs = left + cell * (np.arange(round((right - left) / cell)) + 0.5)
    ys = top - cell * (np.arange(round((top - bottom) / cell)) + 0.5)
    inland = ys[:, None] - city.shore_y(xs)[None, :]  # metres north of the shore
    land = 1.2 + 40.0 * (1.0 - np.exp(-np.maximum(inland, 0.0) / 6000.0))
    across = np.abs(xs[None, :] - city.river_x(ys)[:, None]) - city.river_half_width(ys)[:, None]
    floor = 0.6 + 0.0015 * np.maximum(inland, 0.0)
    valley = _smoothstep((across - 40.0) / 600.0)
    hills = _metro_noise(city, xs, ys, 800.0, 4.0, 0) * _smoothstep(inland / 800.0) * valley
    ground = floor + (land + hills - floor) * valley
    ground = np.where(across < 0, floor - 1.5, ground)
    ground = np.where(ground > 0, ground * _smoothstep(inland / 30.0), ground)  # a beach down to 0 m
    sea = -0.5 - 4.0 * np.clip(-inland / 500.0, 0.0, 1.0)
    ground = np.where(inland < 0, sea, ground) + _metro_noise(city, xs, ys, 50.0, 0.15, 1)
    dem = xr.DataArray(ground, dims=("y", "x"), coords={"y": ys, "x": xs}, name="elevation_m",
                       attrs={"units": "m", "long_name": "ground elevation"})
    return dem.rio.write_transform(from_origin(left, top, cell, cell)).rio.write_crs(crs.to_string())


def _metro_noise(city: _City, xs: np.ndarray, ys: np.ndarray, spacing_m: float, amplitude_m: float,
                 stream: int) -> np.ndarray:
    """Smooth seeded bumps drawn on a grid of ``spacing_m`` and splined: the same surface at every cell size."""
    rng = np.random.default_rng([city.seed, 300 + stream])
    left, bottom, right, top = city.bounds
    x0, y0 = left - 2 * spacing_m, bottom - 2 * spacing_m
    kx = x0 + np.arange(0.0, right - x0 + 3 * spacing_m, spacing_m)
    ky = y0 + np.arange(0.0, top - y0 + 3 * spacing_m, spacing_m)
    spline = RectBivariateSpline(ky, kx, rng.normal(0.0, amplitude_m, (len(ky), len(kx))))
    return spline(ys[::-1], xs)[::-1]
