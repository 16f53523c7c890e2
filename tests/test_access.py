"""Accessibility measures: known answers on the tiny twin, brute-force oracles, realistic walks in Helsinki."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from sandbox import TwinError, access, routing
from sandbox.network import polygon_candidates, snap_points
from tests.tiny import BLOCK_M, CRS, node_xy, tiny_twin

WALK = 1.2


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin()


def test_nearest_clinic_known_answers(tiny):
    ds = access.nearest(tiny, "care", minutes=[5, 10])
    expected_m = np.array([3, 3, 6, 1]) * BLOCK_M
    assert ds["travel_time_s"].to_numpy() == pytest.approx(expected_m / WALK)
    assert ds["nearest_id"].to_numpy().tolist() == [0, 0, 0, 0]
    # Within 5 min (360 m at 1.2 m/s): households 0, 1, 3 but not 2.
    assert ds["share_not_reaching"].sel(minutes=5, group="all").item() == pytest.approx(2 / 9)
    assert ds["share_not_reaching"].sel(minutes=5, group="elderly").item() == pytest.approx(2 / 3)
    assert ds["share_not_reaching"].sel(minutes=10, group="all").item() == 0


def test_park_is_reached_at_its_edge_not_its_centroid(tiny):
    ds = access.nearest(tiny, "parks")
    # Along the streets to the park's block, then straight from the street corner to the park's corner, set 5 m
    # back from both streets; household 2 lives on the park's block: 5 m along its street and 5 m across.
    corner = np.hypot(5, 5)
    expected_m = np.array([200 + corner, 200 + corner, 10, 300 + corner])
    assert ds["travel_time_s"].to_numpy() == pytest.approx(expected_m / WALK, abs=1e-6)


def test_within_counts_and_sums(tiny):
    ds = access.within(tiny, "parks", minutes=[2, 3, 5], weight="area_m2")
    area = tiny.layers["parks"]["area_m2"].iloc[0]
    reached = ds["reachable"].to_numpy()  # (minutes, household); walks of 207, 207, 10 and 307 m
    assert reached[0].tolist() == [0, 0, area, 0]           # 2 min = 144 m
    assert reached[1].tolist() == [area, area, area, 0]     # 3 min = 216 m
    assert reached[2].tolist() == [area, area, area, area]  # 5 min = 360 m
    counts = access.within(tiny, "care", minutes=[5])["reachable"].to_numpy()[0]
    assert counts.tolist() == [1, 1, 0, 1]


def test_two_step_floating_catchment_by_hand(tiny):
    ds = access.supply(tiny, "care", capacity="capacity", minutes=5, groups=["all", "elderly"])
    per_all = ds["supply_per_resident"].sel(group="all").to_numpy()
    # Within 5 min of the clinic live 1 + 4 + 2 residents; capacity 2 is shared among them.
    assert per_all == pytest.approx([2 / 7, 2 / 7, 0, 2 / 7])
    per_elderly = ds["supply_per_resident"].sel(group="elderly").to_numpy()
    assert per_elderly == pytest.approx([2 / 1, 2 / 1, 0, 2 / 1])  # one elderly resident in reach


def test_zonal_statistics_and_groups(tiny):
    ds = access.nearest(tiny, "care", minutes=[5])
    total = ds["residents"].sel(group="all").sum().item()
    assert total == 9
    assert ds["households"].sel(group="elderly_alone").sum().item() == 1
    share = ds["share_reaching"].sel(minutes=5, group="all")
    residents = ds["residents"].sel(group="all")
    # Residents-weighted shares add up to the overall share.
    overall = (share.fillna(0) * residents).sum().item() / total
    assert overall == pytest.approx(1 - ds["share_not_reaching"].sel(minutes=5, group="all").item())
    assert set(ds.group.values) == {"all", "elderly", "elderly_alone", "children"}


def test_custom_boolean_group_and_bad_names(tiny):
    households = tiny.households.assign(big=tiny.households["size"] >= 4)
    twin = tiny.replace(households=households)
    ds = access.nearest(twin, "care", groups=["big"])
    assert ds["weight"].sel(group="big").to_numpy().tolist() == [0, 4, 0, 0]
    with pytest.raises(TwinError, match="group: unknown 'pensioners'; expected all, elderly, children"):
        access.nearest(tiny, "care", groups=["pensioners"])
    with pytest.raises(TwinError, match="to: unknown destination 'spa'; expected one of parks"):
        access.nearest(tiny, "spa")
    with pytest.raises(TwinError, match="mode: unknown 'boat'"):
        access.nearest(tiny, "care", mode="boat")
    with pytest.raises(TwinError, match="capacity: 'beds' is not a numeric column of care"):
        access.supply(tiny, "care", capacity="beds")


def test_closed_streets_lengthen_walks(tiny):
    net = tiny.networks["walk"]
    corner_0_0, corner_0_1 = 1, 5
    closed = np.array([{u, v} == {corner_0_0, corner_0_1}
                       for u, v in zip(net.node_ids[net.edge_u].tolist(), net.node_ids[net.edge_v].tolist())])
    assert closed.sum() == 2
    before = access.nearest(tiny, "care")["travel_time_s"].to_numpy()
    closed_twin = tiny.replace(edge_factors={"walk": np.where(closed, np.inf, 1.0)})
    after = access.nearest(closed_twin, "care")["travel_time_s"].to_numpy()
    assert after[0] == pytest.approx(500 / WALK)  # the way north is cut: around by (1, 0)..(1, 1)
    assert after[1:] == pytest.approx(before[1:])
    slowed_twin = tiny.replace(edge_factors={"walk": np.where(closed, 2.0, 1.0)})
    slowed = access.nearest(slowed_twin, "care")["travel_time_s"].to_numpy()
    assert slowed[0] == pytest.approx(400 / WALK)  # 100 m at half speed, then 200 m
    assert closed_twin.fingerprint() != tiny.fingerprint() != slowed_twin.fingerprint()


def test_isochrones_grow_with_time_and_contain_what_they_reach(tiny):
    rings = access.isochrones(tiny, node_xy(0, 0), minutes=[1, 3, 10], lonlat=False)
    assert rings["area_m2"].is_monotonic_increasing
    assert rings.crs == tiny.crs
    one_minute = rings.geometry.iloc[0]
    assert one_minute.contains(shapely.Point(node_xy(0, 0)))
    assert one_minute.contains(shapely.Point(east_of_clinic(50)))      # 50 m in 42 s
    assert not one_minute.contains(shapely.Point(east_of_clinic(100)))  # 100 m needs 83 s
    assert rings.geometry.iloc[2].contains(shapely.Point(node_xy(3, 3)))  # everything in 10 min


def east_of_clinic(metres: float) -> tuple[float, float]:
    x, y = node_xy(0, 0)
    return x + metres, y


def test_travel_times_matrix_with_access_legs(tiny):
    origins = gpd.GeoDataFrame(geometry=[shapely.Point(node_xy(0, 0)), shapely.Point(node_xy(1, 1))], crs=CRS)
    targets = gpd.GeoDataFrame(geometry=[shapely.Point(node_xy(3, 3)[0], node_xy(3, 3)[1] - 50),
                                         shapely.Point(node_xy(0, 0)[0] + 30, node_xy(0, 0)[1] + 10)], crs=CRS)
    table = access.travel_times(tiny, origins, targets)
    times = table.pivot(index="from_id", columns="to_id", values="travel_time_s").to_numpy()
    assert times[0, 0] == pytest.approx((300 + 250) / WALK)
    assert times[0, 1] == pytest.approx((30 + 10) / WALK)  # along the street 30 m, then 10 m across
    assert times[1, 1] == pytest.approx((100 + 70 + 10) / WALK)


def brute_force_times(twin, households_xy, targets, *, arrive_polygons: bool) -> np.ndarray:
    """Household -> destination times by networkx: every pair of open entry candidates, full Dijkstra over the
    open streets."""
    net = twin.networks["walk"]
    factors = twin.travel_time_factors("walk")
    time_s = net.travel_times(factors)
    graph = nx.DiGraph()
    for u, v, w in zip(net.edge_u, net.edge_v, time_s):
        if np.isfinite(w) and (not graph.has_edge(u, v) or graph[u][v]["w"] > w):
            graph.add_edge(int(u), int(v), w=float(w))
    homes = snap_points(net, households_xy, factors=factors)
    ends = polygon_candidates(net, targets.geometry).entries(time_s) if arrive_polygons else snap_points(
        net, np.column_stack([targets.geometry.x, targets.geometry.y]), arrive=True, factors=factors)
    lengths = {a: nx.single_source_dijkstra_path_length(graph, a, weight="w") for a in set(homes.node.tolist())}
    out = np.full((homes.n_points, ends.n_points), np.inf)
    for (p, a, ca), (d, b, cb) in itertools.product(zip(homes.point, homes.node, homes.cost_s),
                                                     zip(ends.point, ends.node, ends.cost_s)):
        if b in lengths.get(a, {}):
            out[p, d] = min(out[p, d], ca + lengths[a][b] + cb)
    return out


@pytest.mark.parametrize("to, polygons", [("parks", True), ("care", False)])
@pytest.mark.parametrize("closures", [False, True])
def test_measures_equal_a_brute_force_oracle_on_helsinki_sample(helsinki, to, polygons, closures):
    rng = np.random.default_rng(5)
    sample = helsinki.households.iloc[np.sort(rng.choice(len(helsinki.households), 25, replace=False))]
    twin = helsinki.replace(households=sample)
    if closures:  # a fifth of the streets closed, another fifth at half speed
        draw = rng.random(twin.networks["walk"].n_edges)
        twin = twin.replace(edge_factors={"walk": np.select([draw < 0.2, draw < 0.4], [np.inf, 2.0], 1.0)})
    targets = access.destinations(twin, to)
    times = brute_force_times(twin, sample[["x", "y"]].to_numpy(), targets, arrive_polygons=polygons)
    nearest = access.nearest(twin, to, minutes=[10])
    assert nearest["travel_time_s"].to_numpy() == pytest.approx(times.min(axis=1), abs=1e-6)
    within = access.within(twin, to, minutes=[5, 10])
    for k, minutes in enumerate([5, 10]):
        assert within["reachable"].to_numpy()[k].tolist() == (times <= minutes * 60).sum(axis=1).tolist()
    supply = access.supply(twin, to, minutes=10, groups=["all"])
    demand = sample["size"].to_numpy(float)
    reach = times <= 600
    ratio = np.divide(1.0, (reach * demand[:, None]).sum(axis=0), out=np.zeros(reach.shape[1]),
                      where=(reach * demand[:, None]).sum(axis=0) > 0)
    assert supply["supply_per_resident"].sel(group="all").to_numpy() == pytest.approx(reach @ ratio, rel=1e-9)


def test_gini_matches_the_pairwise_definition():
    rng = np.random.default_rng(3)
    values, weights = rng.uniform(0, 100, 40), rng.integers(1, 5, 40).astype(float)
    pairwise = (weights[:, None] * weights[None, :] * np.abs(values[:, None] - values[None, :])).sum()
    expected = pairwise / (2 * weights.sum() ** 2 * np.average(values, weights=weights))
    assert access.gini(values, weights) == pytest.approx(expected)
    assert access.gini(np.full(5, 7.0)) == 0
    assert access.gini(np.array([0, 0, 0, 10.0])) == pytest.approx(0.75)


def test_helsinki_walks_are_realistic(helsinki):
    """Random points 300-1,500 m apart: the walk should rarely be much longer than the straight line."""
    rng = np.random.default_rng(11)
    left, bottom, right, top = helsinki.extent
    xy = np.column_stack([rng.uniform(left, right, 150), rng.uniform(bottom, top, 150)])
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=helsinki.crs)
    table = access.travel_times(helsinki, points, points)
    straight = np.hypot(*(xy[table["from_id"]] - xy[table["to_id"]]).T)
    keep = (straight >= 300) & (straight <= 1500)
    detour = table["travel_time_s"].to_numpy()[keep] * WALK / straight[keep]
    assert keep.sum() > 5000 and np.isfinite(detour).all()
    assert np.median(detour) <= 1.5
    assert np.percentile(detour, 75) <= 1.8


# --- search graphs: built once, shared by variants that only change weights ----------------------------------


def fresh_nearest(twin, to: str) -> np.ndarray:
    """Household times to the nearest ``to``, from a search graph compiled from scratch for this twin: only the
    open entries, the closures applied to the streets (the pipeline before search graphs were cached)."""
    net = twin.networks["walk"]
    factors = twin.travel_time_factors("walk")
    time_s = net.travel_times(factors)
    unique, home_of = np.unique(twin.households[["x", "y"]].to_numpy(float), axis=0, return_inverse=True)
    homes = snap_points(net, unique, factors=factors)
    features = access.destinations(twin, to)
    if features.geom_type.isin(["Polygon", "MultiPolygon"]).all() and len(features):
        ends = polygon_candidates(net, features.geometry).entries(time_s)
    else:
        points = features.geometry.representative_point()
        ends = snap_points(net, np.column_stack([points.x, points.y]), arrive=True, factors=factors)
    n = net.n_nodes
    source_ids = n + np.arange(ends.n_points)
    home_ids = n + ends.n_points + np.arange(homes.n_points)
    graph = routing.compile_graph(np.concatenate([net.edge_v, source_ids[ends.point], homes.node]),
                                  np.concatenate([net.edge_u, ends.node, home_ids[homes.point]]),
                                  np.concatenate([time_s, ends.cost_s, homes.cost_s]),
                                  n_nodes=n + ends.n_points + homes.n_points)
    return routing.nearest(graph, source_ids)[0][home_ids[home_of.ravel()]]


def test_a_measure_builds_its_search_graph_once(tiny, monkeypatch):
    twin = tiny.replace()  # a fresh twin object: an empty cache
    first = access.search_graph(twin, "care")
    compiled = []
    compile_graph = routing.compile_graph
    monkeypatch.setattr(routing, "compile_graph", lambda *a, **k: compiled.append(a) or compile_graph(*a, **k))
    access.nearest(twin, "care")
    access.within(twin, "care")
    access.supply(twin, "care")
    assert access.search_graph(twin, "care") is first
    # A variant that only closes streets shares the structure and re-prices its weights.
    closed = twin.replace(edge_factors={"walk": np.where(np.arange(len(twin.travel_time_factors("walk"))) < 4,
                                                         np.inf, 1.0)})
    variant = access.search_graph(closed, "care")
    assert variant.graph.indptr is first.graph.indptr and variant.graph.indices is first.graph.indices
    assert not np.array_equal(variant.graph.weights, first.graph.weights)
    assert compiled == []


@pytest.mark.parametrize("to", ["care", "parks"])
def test_closed_streets_equal_a_freshly_built_search(helsinki, to):
    rng = np.random.default_rng(8)
    access.nearest(helsinki, to)  # the baseline's structure is cached first, then shared by the variants
    draw = rng.random(helsinki.networks["walk"].n_edges)
    for factors in (np.where(draw < 0.1, np.inf, 1.0), np.select([draw < 0.05, draw < 0.3], [np.inf, 3.0], 1.0)):
        variant = helsinki.replace(edge_factors={"walk": factors})
        got = access.nearest(variant, to)["travel_time_s"].to_numpy()
        np.testing.assert_array_equal(got, fresh_nearest(variant, to))
        assert access.search_graph(variant, to).graph.indptr is access.search_graph(helsinki, to).graph.indptr
    np.testing.assert_array_equal(access.nearest(helsinki, to)["travel_time_s"].to_numpy(),
                                  fresh_nearest(helsinki, to))


def test_variants_with_other_homes_or_destinations_get_their_own_search(tiny):
    before = access.nearest(tiny, "care")["travel_time_s"].to_numpy()
    homes = tiny.households
    moved = tiny.replace(households=homes.assign(x=homes["x"].where(homes.index != 3, node_xy(2, 0)[0])))
    added = tiny.replace(households=pd.concat([homes, homes.iloc[[3]].set_axis([9]).assign(y=node_xy(0, 1)[1],
                                                                                            x=node_xy(0, 1)[0])]))
    clinics = tiny.layers["facilities"]
    elsewhere = tiny.with_layer("facilities", clinics.set_geometry([shapely.Point(node_xy(3, 3))], crs=CRS))
    closed = tiny.with_layer("facilities", clinics.iloc[:0])
    assert access.nearest(moved, "care")["travel_time_s"].to_numpy() == pytest.approx(
        np.array([300, 300, 600, 200]) / WALK)
    assert access.nearest(added, "care")["travel_time_s"].to_numpy() == pytest.approx(
        np.array([300, 300, 600, 100, 100]) / WALK)
    assert access.nearest(elsewhere, "care")["travel_time_s"].to_numpy() == pytest.approx(
        np.array([300, 300, 0, 500]) / WALK)
    unreached = access.nearest(closed, "care")
    assert np.isinf(unreached["travel_time_s"]).all() and (unreached["nearest_id"] == -1).all()
    assert access.nearest(tiny, "care")["travel_time_s"].to_numpy().tolist() == before.tolist()


def test_a_removed_facility_equals_a_freshly_built_search(helsinki):
    care = access.destinations(helsinki, "care")
    access.nearest(helsinki, "care")
    fewer = helsinki.with_layer("facilities", helsinki.layers["facilities"].drop(care.index[:3]))
    ds = access.nearest(fewer, "care")
    np.testing.assert_array_equal(ds["travel_time_s"].to_numpy(), fresh_nearest(fewer, "care"))
    assert not set(ds["nearest_id"].to_numpy().tolist()) & set(care.index[:3])
