"""list_features: a layer's features with the ids a scenario names them by, filtered by kind and distance."""

from __future__ import annotations

import pytest

from sandbox import TwinError
from sandbox.features import list_features, parse_lonlat
from tests.tiny import lonlat, node_xy, tiny_twin


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin()


def test_facilities_of_the_tiny_twin(tiny):
    table = list_features(tiny, "facilities")
    assert table.columns.tolist() == ["id", "name", "kind", "lon", "lat", "category", "capacity"]
    row = table.iloc[0].to_dict()
    lon, lat = lonlat(*node_xy(0, 0))
    assert row == {"id": 0, "name": "Clinic", "kind": "care", "lon": pytest.approx(lon, abs=1e-6),
                   "lat": pytest.approx(lat, abs=1e-6), "category": "clinic", "capacity": 2.0}
    assert table.attrs == {"layer": "facilities", "id_name": "facility_id"}


def test_buildings_parks_and_stops_carry_their_extras(tiny):
    buildings = list_features(tiny, "buildings")
    assert buildings["id"].tolist() == [0, 1, 2, 3]
    assert buildings["kind"].tolist() == ["apartments"] * 4
    # One household per building: each a small count, so each is hidden (and no total less the others reveals one).
    assert buildings["households"].isna().all() and buildings["residential"].all()
    assert buildings["levels"].tolist() == [3.0] * 4
    parks = list_features(tiny, "parks")
    assert parks[["id", "name", "kind"]].values.tolist() == [[0, "Block park", "park"]]
    assert parks["area_m2"].iloc[0] == pytest.approx(90 * 90, abs=0.1)
    stops = list_features(tiny, "stops", kind="tram")
    assert stops[["id", "name", "kind"]].values.tolist() == [[0, "Corner", "tram"]]
    assert stops.attrs["id_name"] == "stop_id"


def test_near_and_within_measure_to_the_shape_and_sort_by_distance(tiny):
    # From the south-west corner: building 3's footprint (corner (1, 0)) starts 60 m east and 10 m south of it,
    # building 0's (corner (0, 3)) 10 m west and 260 m north.
    near = tuple(lonlat(*node_xy(0, 0)))
    table = list_features(tiny, "buildings", near=near)
    assert table["id"].tolist()[:2] == [3, 0]
    assert table["distance_m"].tolist()[:2] == pytest.approx([(60**2 + 10**2) ** 0.5, (10**2 + 260**2) ** 0.5],
                                                             abs=0.1)
    assert table["distance_m"].is_monotonic_increasing
    assert list_features(tiny, "buildings", near=near, within_m=100)["id"].tolist() == [3]
    assert list_features(tiny, "buildings", near=near, within_m=10).empty


def test_the_default_twin_has_13_care_facilities(helsinki):
    table = list_features(helsinki, "facilities", kind="care")
    facilities = helsinki.layers["facilities"]
    assert len(table) == 13 and set(table["kind"]) == {"care"}
    assert table["id"].tolist() == sorted(facilities.index[facilities["kind"] == "care"])
    assert table["lon"].between(24.93, 24.96).all() and table["lat"].between(60.16, 60.18).all()


def test_untyped_buildings_are_residential_or_other(helsinki):
    table = list_features(helsinki, "buildings").set_index("id")
    buildings = helsinki.layers["buildings"]
    untyped = buildings["building"] == "yes"
    assert (table.loc[untyped & buildings["residential"], "kind"] == "residential").all()
    assert (table.loc[untyped & ~buildings["residential"], "kind"] == "other").all()
    assert table.loc[394, "kind"] == "apartments" and table.loc[394, "households"] == 155
    counts = helsinki.households.groupby("building_id").size()
    shown = table["households"].dropna()
    assert (shown == counts.reindex(shown.index, fill_value=0)).all()  # what is shown is exact
    hidden = counts.reindex(table.index[table["households"].isna()])
    assert hidden.notna().all() and hidden.sum() >= 5 and len(hidden) >= 2  # never one alone, never fewer than k
    assert not ((shown > 0) & (shown < 5)).any()


@pytest.mark.parametrize("kwargs, message", [
    ({"layer": "roads"}, "layer: unknown 'roads'; expected one of facilities, buildings, parks, stops"),
    ({"layer": "facilities", "kind": "cares"},
     "kind: no facilities of kind 'cares' (did you mean 'care'?); expected one of care (1)"),
    ({"layer": "facilities", "kind": "school"}, "kind: no facilities of kind 'school'; expected one of care (1)"),
    ({"layer": "facilities", "within_m": 100.0}, "within: a distance needs a point; expected --near LON,LAT"),
    ({"layer": "parks", "near": (24.0, 60.0)}, "near: 24,60 lies outside the twin 'tiny'; expected a point within"),
    ({"layer": "parks", "near": (200.0, 60.0)}, "near: (200, 60) is not lon/lat"),
    ({"layer": "parks", "near": (24.9, 60.2), "within_m": -1.0}, "within: -1 m; expected a distance in metres"),
])
def test_bad_options_are_one_line_twin_errors(tiny, kwargs, message):
    options = {k: v for k, v in kwargs.items() if k != "layer"}
    with pytest.raises(TwinError) as caught:
        list_features(tiny, kwargs["layer"], **options)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_parse_lonlat():
    assert parse_lonlat("24.9384, 60.1699") == (24.9384, 60.1699)
    for text in ("24.9", "a,b", "1,2,3", "24.9,95"):
        with pytest.raises(TwinError, match=r"^near: '.*' is not LON,LAT; expected"):
            parse_lonlat(text)
