"""Flood depths and impacts: hand-computed grids, an independent flood-fill oracle, and Helsinki's shore."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
import xarray as xr
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from scipy import ndimage

from sandbox import DataError, TwinError
from sandbox.hazards import flood
from sandbox.network import StreetNetwork
from sandbox.terrain import read_dem
from tests.tiny import CRS, node_xy, tiny_twin

LEFT, TOP = 385_000.0, 6_672_000.0


def grid(values, *, cell: float = 10.0, left: float = LEFT, top: float = TOP, crs: str | None = CRS) -> xr.DataArray:
    """A north-up raster with cell (0, 0) at the top-left corner (left, top)."""
    values = np.asarray(values, dtype="float64")
    rows, cols = values.shape
    da = xr.DataArray(values, dims=("y", "x"), name="elevation_m",
                      coords={"y": top - cell * (np.arange(rows) + 0.5), "x": left + cell * (np.arange(cols) + 0.5)})
    da = da.rio.write_transform(from_origin(left, top, cell, cell))
    return da.rio.write_crs(crs) if crs else da


def cell_box(row: int, col: int, *, inset: float = 1.0, cell: float = 10.0) -> shapely.Polygon:
    """The square of cell (row, col) of :func:`grid`, shrunk by ``inset`` metres on each side."""
    x0, y1 = LEFT + col * cell, TOP - row * cell
    return shapely.box(x0 + inset, y1 - cell + inset, x0 + cell - inset, y1 - inset)


def oracle_wet(ground: np.ndarray, level: float, seeds: np.ndarray) -> np.ndarray:
    """Breadth-first flood fill from the seed cells below the level through 4-neighbours below the level."""
    below = ground < level
    wet = np.zeros_like(below)
    queue = deque(zip(*np.nonzero(seeds & below)))
    for r, c in queue:
        wet[r, c] = True
    while queue:
        r, c = queue.popleft()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < ground.shape[0] and 0 <= cc < ground.shape[1] and below[rr, cc] and not wet[rr, cc]:
                wet[rr, cc] = True
                queue.append((rr, cc))
    return wet


def edge_cells(shape) -> np.ndarray:
    edge = np.zeros(shape, dtype=bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    return edge


def random_dem(seed: int, shape=(60, 60)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(0, 1, shape), 2) * 3 + np.linspace(0, 1.5, shape[1])


# --- bathtub ----------------------------------------------------------------------------------------------------


def test_ramp_depths_by_hand():
    dem = grid(np.tile(np.arange(5.0), (5, 1)))  # 0..4 m from west to east
    depth = flood.bathtub(dem, 2.5)
    assert depth.values[0].tolist() == [2.5, 1.5, 0.5, 0.0, 0.0]
    assert (depth.values == depth.values[0]).all()
    assert depth.name == "depth_m" and depth.attrs["units"] == "m" and float(depth["water_level_m"]) == 2.5
    assert depth.rio.crs.to_epsg() == 3067 and depth.rio.transform() == dem.rio.transform()
    assert np.array_equal(depth["x"], dem["x"]) and np.array_equal(depth["y"], dem["y"])
    assert dem.values[0, 0] == 0  # the DEM is not changed
    assert flood.bathtub(dem, 0.0).values.sum() == 0  # ground at the level is dry


def test_nodata_stays_nodata_and_does_not_carry_water():
    ground = np.zeros((3, 5))
    ground[:, 2] = np.nan  # a column without data splits the grid
    sea = np.zeros((3, 5), dtype=bool)
    sea[:, 0] = True
    depth = flood.bathtub(grid(ground), 1.0, sources=sea).values
    assert np.isnan(depth[:, 2]).all()
    assert (depth[:, :2] == 1.0).all() and (depth[:, 3:] == 0).all()
    # A sea stored as nodata, flagged as the source, passes the water on to the cells next to it.
    depth = flood.bathtub(grid(ground), 1.0, sources=np.isnan(ground)).values
    assert np.isnan(depth[:, 2]).all() and (depth[:, [1, 3]] == 1.0).all()
    assert (depth[:, [0, 4]] == 1.0).all()  # and on through low ground


def test_hollow_behind_a_dyke_stays_dry_only_when_connected():
    ground = np.full((7, 7), 3.0)
    ground[:, 0] = 0.0  # sea along the west edge
    ground[2:5, 3:6] = 0.5  # a hollow behind the 3 m high ground
    connected = flood.bathtub(grid(ground), 2.0).values
    assert (connected[:, 0] == 2.0).all() and connected[:, 1:].sum() == 0
    plain = flood.bathtub(grid(ground), 2.0, connected=False).values
    assert (plain[2:5, 3:6] == 1.5).all() and plain.sum() == 7 * 2.0 + 9 * 1.5


def test_water_does_not_leak_through_a_diagonal_gap():
    ground = np.full((6, 6), 3.0)
    ground[:, 0] = 0.0
    ground[2, 1] = 0.0  # an inlet from the sea
    ground[3, 2] = 0.5  # touches the inlet only at a corner
    depth = flood.bathtub(grid(ground), 2.0).values
    assert depth[2, 1] == 2.0 and depth[3, 2] == 0.0
    ground[3, 1] = 0.5  # open the gap along an edge
    assert flood.bathtub(grid(ground), 2.0).values[3, 2] == 1.5


def test_sources_as_mask_and_as_polygons_in_any_crs():
    ground = np.full((8, 8), 3.0)
    ground[1:3, 1:3] = 0.0  # lake A
    ground[5:7, 5:7] = 1.0  # hollow B
    dem = grid(ground)
    assert flood.bathtub(dem, 2.0).values.sum() == 0  # nothing low touches the raster edge
    mask = np.zeros_like(ground, dtype=bool)
    mask[1, 1] = True
    by_mask = flood.bathtub(dem, 2.0, sources=mask).values
    assert (by_mask[1:3, 1:3] == 2.0).all() and by_mask.sum() == 4 * 2.0
    lake = gpd.GeoSeries([cell_box(1, 1, inset=3)], crs=CRS)
    assert np.array_equal(flood.bathtub(dem, 2.0, sources=lake).values, by_mask)
    in_lonlat = gpd.GeoDataFrame(geometry=lake.to_crs(4326))
    assert np.array_equal(flood.bathtub(dem, 2.0, sources=in_lonlat).values, by_mask)
    both = gpd.GeoSeries([cell_box(1, 1), cell_box(6, 6)], crs=CRS)
    depth = flood.bathtub(dem, 2.0, sources=both).values
    assert (depth[5:7, 5:7] == 1.0).all() and depth.sum() == 4 * 2.0 + 4 * 1.0
    assert flood.bathtub(dem, 2.0, sources=gpd.GeoSeries([], crs=CRS)).values.sum() == 0
    with pytest.raises(TwinError, match=r"bathtub: sources: mask of shape \(2, 2\); expected the DEM's shape"):
        flood.bathtub(dem, 2.0, sources=np.ones((2, 2), dtype=bool))
    with pytest.raises(TwinError, match="bathtub: level_m: nan; expected a finite water level"):
        flood.bathtub(dem, float("nan"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_cells_match_a_breadth_first_flood_fill(seed):
    ground = random_dem(seed)
    for level in (-1.0, 0.0, 0.7, 1.5):
        wet = flood.bathtub(grid(ground), level).values > 0
        assert np.array_equal(wet, oracle_wet(ground, level, edge_cells(ground.shape)))
    sources = np.zeros(ground.shape, dtype=bool)
    sources[30, 30] = True
    wet = flood.bathtub(grid(ground), 1.0, sources=sources).values > 0
    assert np.array_equal(wet, oracle_wet(ground, 1.0, sources))


def test_level_series_is_monotone_and_every_flooded_cell_reaches_the_source():
    ground = random_dem(7)
    ground[10, 10] = np.nan
    levels = np.round(np.arange(-1.0, 2.01, 0.25), 2)
    series = flood.level_series(grid(ground), levels)
    assert series.dims == ("water_level_m", "y", "x") and series["water_level_m"].values.tolist() == levels.tolist()
    depth = series.values
    assert np.isnan(depth[:, 10, 10]).all()
    filled = np.nan_to_num(depth)
    assert (np.diff(filled, axis=0) >= -1e-12).all()  # no cell gets shallower as the water rises
    area = (filled > 0).sum(axis=(1, 2))
    assert (np.diff(area) >= 0).all() and area[0] < area[-1]
    edge = edge_cells(ground.shape)
    for wet in filled > 0:
        labels, count = ndimage.label(wet)  # scipy's default in 2-D: 4-connectivity
        touching = np.unique(labels[edge & wet])
        assert set(range(1, count + 1)) == set(touching.tolist())
    with pytest.raises(TwinError, match="level_series: levels: empty"):
        flood.level_series(grid(ground), [])


# --- other depth sources ----------------------------------------------------------------------------------------


def test_depth_from_extents_takes_the_deepest_where_polygons_overlap():
    shapes = gpd.GeoDataFrame({"depth": [2.0, 1.0]}, crs=CRS, geometry=[
        shapely.box(LEFT + 30, TOP - 50, LEFT + 100, TOP - 30),  # deeper, listed first
        shapely.box(LEFT, TOP - 50, LEFT + 50, TOP)])
    depth = flood.depth_from_extents(shapes, depth_column="depth", bounds=(LEFT, TOP - 50, LEFT + 100, TOP),
                                     resolution_m=10, crs=CRS)
    x = depth["x"].values - LEFT
    y = TOP - depth["y"].values
    expected = np.where((x[None, :] > 30) & (y[:, None] > 30), 2.0, 0.0)
    expected = np.maximum(expected, np.where(x[None, :] < 50, 1.0, 0.0))
    assert depth.shape == (5, 10) and np.array_equal(depth.values, expected)
    assert depth.values[4].tolist() == [1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    assert depth.rio.crs.to_epsg() == 3067 and depth.rio.transform() == from_origin(LEFT, TOP, 10, 10)
    one = flood.depth_from_extents(shapes, depth_m=0.4, bounds=(LEFT, TOP - 50, LEFT + 100, TOP),
                                   resolution_m=10, crs=CRS)
    assert set(np.unique(one.values)) == {0.0, 0.4} and (one.values > 0).sum() == 25 + 14 - 4
    with pytest.raises(TwinError, match="depth_from_extents: depth_m: both of depth_m and depth_column given"):
        flood.depth_from_extents(shapes, depth_m=1, depth_column="depth", bounds=(0, 0, 1, 1), crs=CRS)
    with pytest.raises(TwinError, match="depth_from_extents: level: missing column"):
        flood.depth_from_extents(shapes, depth_column="level", bounds=(0, 0, 1, 1), crs=CRS)


def test_depth_from_raster_round_trip_and_reprojection(tmp_path):
    values = np.tile(np.arange(20) * 0.1, (20, 1))  # 0.1 m deeper every 10 m to the east
    values[0, 0] = -0.5
    values[0, 1] = -9999
    dem = grid(values).rio.write_nodata(-9999)
    dem.rio.to_raster(tmp_path / "depth.tif")
    depth = flood.depth_from_raster(tmp_path / "depth.tif")
    assert depth.values[0, 0] == 0 and depth.values[0, 1] == 0 and depth.values[5, 7] == pytest.approx(0.7)
    assert depth.name == "depth_m" and depth.attrs["units"] == "m"
    # Onto a grid shifted half a cell east: bilinear on a linear field gives the midpoints.
    like = grid(np.zeros((10, 10)), left=LEFT + 5)
    matched = flood.depth_from_raster(tmp_path / "depth.tif", like=like)
    assert np.array_equal(matched["x"], like["x"]) and np.array_equal(matched["y"], like["y"])
    assert matched.values[5, 1:9] == pytest.approx(np.arange(1, 9) * 0.1 + 0.05, abs=1e-6)
    # Into another metric CRS (ETRS-GK25FIN): the water stays where it was and as deep.
    gk = flood.depth_from_raster(tmp_path / "depth.tif", to_crs="EPSG:3879")
    assert gk.rio.crs.to_epsg() == 3879 and not np.isnan(gk.values).any()
    cell_area = abs(np.prod(gk.rio.resolution()))
    assert gk.values.sum() * cell_area == pytest.approx(depth.values.sum() * 100, rel=0.05)
    assert gk.values.max() == pytest.approx(1.9, abs=0.1)
    point = gpd.GeoSeries([shapely.Point(LEFT + 155, TOP - 105)], crs=CRS).to_crs(3879).iloc[0]
    assert gk.sel(x=point.x, y=point.y, method="nearest").item() == pytest.approx(1.5, abs=0.1)


def test_depth_from_raster_errors(tmp_path):
    with pytest.raises(DataError, match="absent.tif: file not found; expected a GeoTIFF of flood depth"):
        flood.depth_from_raster(tmp_path / "absent.tif")
    (tmp_path / "junk.tif").write_text("not a raster")
    with pytest.raises(DataError, match="junk.tif: cannot read as a raster"):
        flood.depth_from_raster(tmp_path / "junk.tif")
    grid(np.ones((3, 3)), crs=None).rio.to_raster(tmp_path / "nocrs.tif")
    with pytest.raises(DataError, match="nocrs.tif: crs: missing; pass crs="):
        flood.depth_from_raster(tmp_path / "nocrs.tif")
    assert flood.depth_from_raster(tmp_path / "nocrs.tif", crs=3067).rio.crs.to_epsg() == 3067


# --- damage curves ----------------------------------------------------------------------------------------------


def test_depth_damage_interpolates_between_knots():
    curve = flood.DepthDamage([0, 1, 2], [0, 0.5, 0.8], source="test")
    depths = np.array([-1, 0, 0.5, 1, 1.5, 2, 5, np.nan])
    assert curve(depths) == pytest.approx([0, 0, 0.25, 0.5, 0.65, 0.8, 0.8, 0])
    late = flood.DepthDamage([0.5, 1], [0.2, 0.4], source="test")
    assert late(np.array([0.3, 0.5, 0.75])) == pytest.approx([0, 0.2, 0.3])
    with pytest.raises(TwinError, match=r"DepthDamage\(bad\): fraction: 1.5 at 1 m; expected a share"):
        flood.DepthDamage([0, 1], [0, 1.5], source="bad")


def test_jrc_curves():
    residential = flood.jrc_curve()
    assert residential.depths_m.tolist() == [0, 0.5, 1, 1.5, 2, 3, 4, 5, 6]
    assert residential.fractions.tolist() == [0, 0.25, 0.40, 0.50, 0.60, 0.75, 0.85, 0.95, 1.00]
    assert residential(np.array([0.5, 2.5, 10])) == pytest.approx([0.25, 0.675, 1.0])
    commercial = flood.jrc_curve("commercial")
    assert commercial.fractions.tolist() == [0, 0.15, 0.30, 0.45, 0.55, 0.75, 0.90, 1.00, 1.00]
    assert "Huizinga" in commercial.source and "commercial" in commercial.source
    with pytest.raises(TwinError, match="jrc_curve: kind: unknown 'industrial'; expected one of residential"):
        flood.jrc_curve("industrial")


def test_read_curve_and_its_errors(tmp_path):
    good = tmp_path / "curve.csv"
    good.write_text("depth_m,fraction\n0,0\n0.5,0.3\n2,1\n")
    curve = flood.read_curve(good)
    assert curve(np.array([0.25, 1.25])) == pytest.approx([0.15, 0.65]) and curve.source == str(good)
    cases = {
        "unsorted.csv": ("depth_m,fraction\n0,0\n1,0.5\n1,0.6\n", r"depth_m: 1 m after 1 m; expected increasing"),
        "share.csv": ("depth_m,fraction\n0,0\n1,1.2\n", "fraction: 1.2 at 1 m; expected a share"),
        "text.csv": ("depth_m,fraction\n0,0\none,0.5\n", "depth_m: row 2 is not a number"),
        "columns.csv": ("depth,share\n0,0\n1,1\n", "columns: depth_m, fraction missing; expected columns"),
        "short.csv": ("depth_m,fraction\n0,0\n", "depth_m: 1 depths for 1 fractions; expected two or more"),
        "empty.csv": ("", "cannot read as CSV"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=f"{name}: {message}"):
            flood.read_curve(tmp_path / name)
    with pytest.raises(DataError, match="absent.csv: file not found"):
        flood.read_curve(tmp_path / "absent.csv")


# --- impacts ----------------------------------------------------------------------------------------------------


def test_building_depths_by_hand():
    depth = grid(np.arange(16).reshape(4, 4) * 0.1)
    buildings = gpd.GeoDataFrame({"floor_area_m2": [200.0, 4.0, 4.0, 4.0, 100.0, 500.0]}, crs=CRS, geometry=[
        shapely.box(LEFT + 1, TOP - 19, LEFT + 19, TOP - 1),  # cells (0,0) (0,1) (1,0) (1,1)
        cell_box(2, 3, inset=4),  # 2 m x 2 m inside cell (2, 3)
        cell_box(0, 3, inset=3),  # two kiosks in cell (0, 3)
        cell_box(0, 3, inset=4),
        shapely.box(LEFT + 1000, TOP - 20, LEFT + 1010, TOP - 10),  # off the raster
        shapely.box(LEFT + 1, TOP - 39, LEFT + 29, TOP - 21),  # cells rows 2-3, cols 0-2
    ], index=pd.Index([10, 11, 12, 13, 14, 15], name="building_id"))
    result = flood.building_depths(depth, buildings)
    assert result.index.equals(buildings.index)
    assert result["max_depth_m"].tolist() == pytest.approx([0.5, 1.1, 0.3, 0.3, 0, 1.4])
    assert result["mean_depth_m"].tolist() == pytest.approx([0.25, 1.1, 0.3, 0.3, 0, (8 + 9 + 10 + 12 + 13 + 14) / 60])
    assert result["cells"].tolist() == [4, 1, 1, 1, 0, 6]


def test_neighbours_sharing_a_cell_both_get_it():
    depth = grid(np.array([[0.0, 0.0], [0.0, 2.0]]))
    buildings = gpd.GeoDataFrame(geometry=[shapely.box(LEFT + 1, TOP - 19, LEFT + 19, TOP - 1),
                                           cell_box(1, 1, inset=4)], crs=CRS)
    result = flood.building_depths(depth, buildings)
    assert result["max_depth_m"].tolist() == [2.0, 2.0] and result["mean_depth_m"].tolist() == [0.5, 2.0]
    assert result["cells"].tolist() == [4, 1]


def random_footprints(rng: np.random.Generator, n: int) -> list:
    """Boxes, rounded blobs, rings with holes, two-part buildings and turned L-shapes around a 50 x 40 grid,
    some hanging off its edges and some smaller than a cell."""
    shapes = []
    for _ in range(n):
        x, y = LEFT + rng.uniform(-10, 110), TOP - rng.uniform(-10, 90)
        kind = rng.integers(5)
        if kind == 0:
            shape = shapely.box(x, y, x + rng.uniform(0.1, 30), y + rng.uniform(0.1, 30))
        elif kind == 1:
            shape = shapely.Point(x, y).buffer(rng.uniform(0.3, 12), quad_segs=int(rng.integers(1, 6)))
        elif kind == 2:
            shape = shapely.Point(x, y).buffer(10).difference(shapely.Point(x, y).buffer(5))
        elif kind == 3:
            shape = shapely.MultiPolygon([shapely.box(x, y, x + 3, y + 3), shapely.box(x + 8, y, x + 12, y + 9)])
        else:
            shape = shapely.Polygon([(x, y), (x + 20, y), (x + 20, y + 4), (x + 4, y + 4), (x + 4, y + 15),
                                     (x, y + 15)])
            shape = shapely.affinity.rotate(shape, rng.uniform(0, 360), origin=(x, y))
        shapes.append(shape)
    return shapes


def test_building_depths_match_rasterio_masks_one_building_at_a_time(monkeypatch):
    rng = np.random.default_rng(5)
    values = rng.uniform(0, 2, (40, 50))
    values[rng.random(values.shape) < 0.05] = np.nan
    depth = grid(values, cell=2.0)
    buildings = gpd.GeoDataFrame(geometry=random_footprints(rng, 150), crs=CRS)
    monkeypatch.setattr(flood, "FOOTPRINT_BATCH", 7)  # batches must not change anything
    result = flood.building_depths(depth, buildings)
    transform = depth.rio.transform()
    for i, shape in enumerate(buildings.geometry):
        touched = values[~geometry_mask([shape], out_shape=values.shape, transform=transform, all_touched=True)]
        covered = values[~geometry_mask([shape], out_shape=values.shape, transform=transform)]
        covered = covered if covered.size else touched
        covered = covered[~np.isnan(covered)]
        expected = (np.nanmax(touched, initial=0.0), covered.mean() if covered.size else 0.0, covered.size)
        assert result.iloc[i].tolist() == pytest.approx(expected, rel=1e-12), i
    assert (result["cells"] > 0).sum() > 100 and (result["cells"] == 1).sum() > 0


def test_building_damage_by_hand():
    buildings = gpd.GeoDataFrame({"floor_area_m2": [100.0, 100.0, 300.0], "footprint_m2": [100.0, 100.0, 100.0]},
                                 geometry=[shapely.Point(0, 0)] * 3, crs=CRS)
    depths = pd.DataFrame({"max_depth_m": [0.5, 0.04, 2.5], "mean_depth_m": [0.2, 0.04, 1.0]}, index=buildings.index)
    damage = flood.building_damage(depths, buildings, curve=flood.jrc_curve())
    assert damage["flooded"].tolist() == [True, False, True]
    assert damage["damage_fraction"].tolist() == pytest.approx([0.25, 0, 0.675])
    assert damage["damage_eur"].tolist() == pytest.approx([0.25 * 100 * 2000, 0, 0.675 * 300 * 2000])
    one_floor = flood.building_damage(depths, buildings, curve=flood.jrc_curve(), value_per_m2=1000,
                                      area_column="footprint_m2")
    assert one_floor["damage_eur"].tolist() == pytest.approx([25_000, 0, 67_500])
    with pytest.raises(TwinError, match="building_damage: depths: index differs"):
        flood.building_damage(depths.iloc[:2], buildings, curve=flood.jrc_curve())
    with pytest.raises(TwinError, match="building_damage: value_m2: missing column"):
        flood.building_damage(depths, buildings, curve=flood.jrc_curve(), area_column="value_m2")


def test_edge_depths_across_a_flooded_strip():
    values = np.zeros((10, 10))
    values[:, 4] = 0.25
    values[:, 5] = 0.4
    depth = grid(values)
    graph = nx.MultiDiGraph(crs=CRS)
    xy = {1: (5, 55), 2: (95, 55), 3: (5, 5), 4: (35, 5), 5: (5, 85), 6: (95, 85), 7: (2000, 0), 8: (2100, 0)}
    for node, (x, y) in xy.items():
        graph.add_node(node, x=LEFT + x, y=TOP - y)

    def line(*points):
        return shapely.LineString([(LEFT + x, TOP - y) for x, y in points])

    times = {"length": 1.0, "travel_time_s": 1.0}  # edge_depths reads only the lines
    graph.add_edge(1, 2, geometry=line((5, 55), (95, 55)), **times)  # crosses the strip
    graph.add_edge(3, 4, geometry=line((5, 5), (35, 5)), **times)  # stays west of it
    graph.add_edge(5, 6, **times)  # no geometry: the straight line between its nodes, across the strip
    graph.add_edge(1, 3, geometry=line((5, 55), (45, 55), (45, 5), (5, 5)), **times)  # into the shallow column only
    graph.add_edge(1, 2, geometry=line((5, 55), (42, 55)), **times)  # a second edge 1 -> 2 (key 1), 2 m into it
    graph.add_edge(7, 8, **times)  # off the raster
    got = flood.edge_depths(depth, StreetNetwork.from_networkx(graph))
    order = [(u, v, k) for u, v, k in graph.edges(keys=True)]
    expected = {(1, 2, 0): 0.4, (1, 2, 1): 0.25, (1, 3, 0): 0.25, (3, 4, 0): 0.0, (5, 6, 0): 0.4, (7, 8, 0): 0.0}
    assert got.tolist() == [expected[key] for key in order]
    assert flood.edge_depths(depth, StreetNetwork.from_networkx(nx.MultiDiGraph(crs=CRS))).shape == (0,)


def test_edge_factors_per_mode():
    depths = np.array([0, 0.05, 0.1, 0.2, 0.25, 0.3, 0.31, np.nan])
    assert flood.edge_factors(depths, mode="drive").tolist() == pytest.approx(
        [1, 1, 1.4, 2.2, 2.6, 3.0, np.inf, 1])
    assert flood.edge_factors(depths, mode="walk").tolist() == pytest.approx(
        [1, 1, 1 + 2 / 3, 3.0, np.inf, np.inf, np.inf, 1])
    assert flood.edge_factors(depths, mode="bike").tolist() == flood.edge_factors(depths, mode="walk").tolist()
    assert flood.edge_factors(depths, mode="boat", limit_m=1.0, slow_from_m=0.0, factor_at_limit=1.0).tolist() == \
        [1] * 8
    with pytest.raises(TwinError, match="edge_factors: mode: unknown 'boat'; expected one of walk, bike, drive"):
        flood.edge_factors(depths, mode="boat")
    with pytest.raises(TwinError, match="edge_factors: limit_m: 0.05 m with slow_from_m 0.05 m"):
        flood.edge_factors(depths, mode="walk", limit_m=0.05)


def test_flooded_points():
    depth = grid(np.array([[0.0, 0.5], [0.04, np.nan]]))
    xy = np.array([[LEFT + 15, TOP - 5], [LEFT + 5, TOP - 5], [LEFT + 5, TOP - 15], [LEFT + 15, TOP - 15],
                   [LEFT - 5, TOP - 5]])
    assert flood.flooded_points(depth, xy).tolist() == [True, False, False, False, False]
    assert flood.flooded_points(depth, xy, threshold_m=0.01).tolist() == [True, False, True, False, False]
    with pytest.raises(TwinError, match=r"flooded_points: xy: shape \(3,\); expected \(n, 2\)"):
        flood.flooded_points(depth, np.zeros(3))


def test_edge_depths_sample_only_streets_near_water_and_miss_none():
    """Streets are sampled only where their box holds a wet cell: the depths equal sampling every street, for
    short and long streets, streets touching a pond at a corner, and streets off the raster."""
    rng = np.random.default_rng(7)
    values = np.zeros((60, 80))
    values[20:24, 30:33] = 0.3  # a pond
    values[rng.integers(0, 60, 15), rng.integers(0, 80, 15)] = 0.05  # puddles of one cell
    values[40, 70] = np.nan
    depth = grid(values)
    starts = rng.uniform([LEFT - 100, TOP - 700], [LEFT + 900, TOP + 100], (400, 2))
    ends = starts + rng.normal(0, 60, (400, 2)) * rng.choice([0.1, 1.0, 5.0], (400, 1))
    bends = (starts + ends) / 2 + rng.normal(0, 20, (400, 2))
    lines = shapely.linestrings(np.stack([starts, bends, ends], axis=1))
    lines[:3] = [shapely.LineString([(LEFT + 300, TOP - 200.5), (LEFT + 300, TOP - 150)]),  # ends in the pond
                 shapely.LineString([(LEFT + 200, TOP - 230), (LEFT + 400, TOP - 230)]),  # crosses it
                 shapely.LineString([(LEFT - 50, TOP + 50), (LEFT - 10, TOP + 10)])]  # off the raster
    net = SimpleNamespace(geometry=lines)
    x, y, first = flood._samples(lines, 5.0)
    transform, shape = depth.rio.transform(), depth.shape
    every = np.maximum.reduceat(np.nan_to_num(flood._sample(depth, transform, shape, x, y), nan=0.0), first)
    assert np.array_equal(flood.edge_depths(depth, net), every)
    assert (every > 0).sum() > 10 and every[0] == 0.3 and every[1] == 0.3 and every[2] == 0.0
    assert len(flood.WetCells(depth).near(lines)) < 0.5 * len(lines)  # most streets are not sampled


def test_flood_on_the_tiny_twin_closes_the_streets_it_covers():
    twin = tiny_twin()
    x0, y0 = node_xy(0, 0)
    ground = np.full((40, 40), 2.0)  # 10 m cells from (x0 - 50, y0 + 350) to (x0 + 350, y0 - 50)
    ground[:, 19:21] = 0.0  # a channel under the middle of the streets between grid columns 1 and 2
    dem = grid(ground, left=x0 - 50, top=y0 + 350)
    depth = flood.bathtub(dem, 0.5)
    net = twin.networks["walk"]
    edge = flood.edge_depths(depth, net)
    (ux, uy), (vx, vy) = net.xy[net.edge_u].T, net.xy[net.edge_v].T
    crossing = ((np.minimum(ux, vx) == x0 + 100) & (uy == vy)).tolist()
    assert np.array_equal(edge, np.where(crossing, 0.5, 0.0)) and sum(crossing) == 8
    factors = flood.edge_factors(edge, mode="walk")
    flooded = twin.replace(edge_factors={"walk": factors})
    assert np.isinf(flooded.travel_time_factors("walk")).sum() == 8
    assert flood.building_depths(depth, twin.layers["buildings"])["max_depth_m"].sum() == 0
    clinic = flood.flooded_points(depth, shapely.get_coordinates(twin.layers["facilities"].geometry))
    assert clinic.tolist() == [False]


def test_expected_annual_damage_by_hand():
    # Events of 10, 100 and 1000 years: trapezoids 0.09 * (10 + 100) / 2 and 0.009 * (100 + 200) / 2, plus the
    # rarest event's damage for everything rarer, 0.001 * 200.
    assert flood.expected_annual_damage([10, 100, 200], [0.1, 0.01, 0.001]) == pytest.approx(4.95 + 1.35 + 0.2)
    assert flood.expected_annual_damage([200, 10, 100], [0.001, 0.1, 0.01]) == pytest.approx(6.5)
    assert flood.expected_annual_damage([100], [0.01]) == pytest.approx(1.0)
    assert flood.expected_annual_damage([0, 100], [0.1, 0.01]) == pytest.approx(0.09 * 50 + 1.0)
    with pytest.raises(TwinError, match="expected_annual_damage: probabilities: .*expected distinct annual"):
        flood.expected_annual_damage([1, 2], [0.1, 0.1])
    with pytest.raises(TwinError, match="expected_annual_damage: probabilities: .*in \\(0, 1\\]"):
        flood.expected_annual_damage([1], [10])
    with pytest.raises(TwinError, match="expected_annual_damage: damages: 2 damages for 1 probabilities"):
        flood.expected_annual_damage([1, 2], [0.1])


# --- Helsinki's shore -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki_dem(shared_data):
    """NLS 10 m DEM of Helsinki's shore (../shared/data, via $SANDBOX_SHARED_DATA); the sea is stored as ~0.25 m."""
    path = shared_data / "dem" / "L4133C_dem10m_epsg3067.tif"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return read_dem(path)


def test_sea_level_rise_on_helsinki_shore(helsinki_dem):
    ground = helsinki_dem.values
    # The sea: the open water (stored as ~0.25 m) joined to the raster's south and east edges.
    labels, _ = ndimage.label(ground <= 0.3)
    open_edges = np.concatenate([labels[-1, :], labels[:, -1]])
    sea = np.isin(labels, open_edges[open_edges > 0])
    assert 0.6 < sea.mean() < 0.8
    levels = [1.5, 2.0, 2.5, 3.0]
    series = flood.level_series(helsinki_dem, levels, sources=sea)
    wet = series.values > 0
    area_m2 = wet.sum(axis=(1, 2)) * 100.0
    assert (np.diff(area_m2) > 0).all()
    assert area_m2[-1] - area_m2[0] > 1e6  # over a square kilometre of land more at 3 m than at 1.5 m
    for level_wet in wet:
        labels, count = ndimage.label(level_wet)
        assert set(np.unique(labels[sea & level_wet]).tolist()) == set(range(1, count + 1))
    plain = flood.bathtub(helsinki_dem, 1.5, connected=False).values > 0
    assert (plain & ~wet[0]).sum() > 100  # low ground not joined to the sea stays dry
    # The Market Square (ground 2.77 m) floods between 2.5 and 3 m; Kaartinkaupunki's blocks (19 m) stay dry.
    market = series.sel(x=386_330, y=6_671_800, method="nearest")
    blocks = series.sel(x=386_050, y=6_671_600, method="nearest")
    assert helsinki_dem.sel(x=386_330, y=6_671_800, method="nearest").item() == pytest.approx(2.77, abs=0.01)
    assert market.values.tolist() == pytest.approx([0, 0, 0, 3.0 - 2.768], abs=1e-3)
    assert blocks.values.tolist() == [0, 0, 0, 0]
    square = series.sel(x=slice(386_250, 386_420), y=slice(6_671_880, 6_671_720))
    assert ((square > 0).sum(("y", "x")).values == [34, 49, 92, 144]).all()
