"""plan/apply on the tiny twin: each intervention's effect on the variant twin, problems reported together with file
lines, every selection computed once, the derived type list, input files and README table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr

from sandbox import ScenarioError
from sandbox.hazards import flood as hazard
from sandbox.scenarios.interventions import INTERVENTION_TYPES, REGISTRY, Flood, readme_table
from sandbox.scenarios.interventions import close_streets as close_streets_module
from sandbox.scenarios.load import load_scenario, parse_scenario
from sandbox.scenarios.plan import apply, plan
from tests.tiny import CRS, lonlat, node_xy, square, tiny_timetable, tiny_twin

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXAMPLES = sorted((REPO / "scenarios").glob("*.yaml"))


def street(a: tuple[int, int], b: tuple[int, int]) -> str:
    return json.dumps({"type": "LineString", "coordinates": [lonlat(*node_xy(*a)), lonlat(*node_xy(*b))]})


def scenario(interventions: str, indicators: str = "[{measure: nearest, to: care, minutes: [5]}]",
             groups: str = "[all, elderly]"):
    return parse_scenario(f"""
schema_version: 1
name: tiny-test
twin: tiny
seed: 3
interventions: {interventions}
indicators: {indicators}
groups: {groups}
""")


@pytest.fixture(scope="module")
def tiny():
    return tiny_twin()


def sloped(twin):
    """The tiny twin on ground rising 1 m per block eastwards from 0 m at the west street (water at the edge)."""
    from rasterio.transform import from_origin

    ox, oy = node_xy(0, 0)
    xs = ox - 300 + 10 * (np.arange(90) + 0.5)
    ys = oy + 600 - 10 * (np.arange(90) + 0.5)
    ground = np.broadcast_to((xs - ox) / 100.0, (len(ys), len(xs))).copy()
    dem = xr.DataArray(ground, dims=("y", "x"), coords={"y": ys, "x": xs}, name="elevation_m")
    dem = dem.rio.write_transform(from_origin(ox - 300, oy + 600, 10, 10)).rio.write_crs(CRS)
    return twin.replace(terrain=dem)


def counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call's first argument."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args[0] if args else None)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# --- what each intervention does to the variant -----------------------------------------------------------------


def test_closing_a_clinic_and_opening_another(tiny):
    before = tiny._content_hash()
    planned = plan(scenario(f"""
  - {{type: close_facility, names: [Clinic]}}
  - {{type: add_facility, kind: care, name: New clinic, at: {lonlat(*node_xy(3, 3))}}}"""), tiny)
    variant = apply(planned)
    assert planned.problems == []
    assert planned.notes == ["[0] close_facility: Clinic (care)", "[1] add_facility: care 'New clinic' (capacity 1)",
                             "[1] add_facility: kind 'care' is new to this twin"]  # the only clinic closed before
    facilities = variant.layers["facilities"]
    assert facilities["name"].tolist() == ["New clinic"] and facilities.index.tolist() == [1]
    assert facilities.geometry.iloc[0].distance(shapely.Point(node_xy(3, 3))) < 0.01
    assert planned.effects == {"facilities_closed": 1, "facilities_added": 1}
    assert tiny.layers["facilities"]["name"].tolist() == ["Clinic"] and tiny._content_hash() == before


def test_an_unknown_facility_kind_is_a_problem_with_a_did_you_mean(tiny):
    at = lonlat(*node_xy(3, 3))
    planned = plan(scenario(f"""[{{type: add_facility, kind: senior_center, at: {at}}},
  {{type: add_facility, kind: Care, at: {at}}}, {{type: add_facility, kind: doctors, at: {at}}},
  {{type: add_facility, kind: zoo, at: {at}}}]"""), tiny)
    on_purpose = "add new_kind: true to add a kind on purpose"
    assert planned.problems == [
        f"tiny-test:6: interventions[0]: kind: unknown 'senior_center'; did you mean 'elderly_centre'? "
        f"({on_purpose})",
        f"tiny-test:7: interventions[1]: kind: unknown 'Care'; did you mean 'care'? ({on_purpose})",
        f"tiny-test:7: interventions[2]: kind: unknown 'doctors'; did you mean 'care'? (OSM's doctors counts as "
        f"care; {on_purpose})",
        "tiny-test:8: interventions[3]: kind: unknown 'zoo'; expected one of care, elderly_centre, grocery, "
        f"kindergarten, library, school (or {on_purpose})"]
    assert not any(step.applied for step in planned.steps)
    assert planned.twin.layers["facilities"]["kind"].tolist() == ["care"] and planned.effects == {}


def test_new_kind_adds_a_kind_on_purpose_that_indicators_can_reach(tiny):
    planned = plan(scenario(f"[{{type: add_facility, kind: senior_center, new_kind: true, at: "
                            f"{lonlat(*node_xy(3, 3))}}}]", indicators="[{measure: nearest, to: senior_center}]"),
                   tiny)
    assert planned.problems == [] and planned.warnings == []
    assert planned.notes[1] == ("[0] add_facility: kind 'senior_center' is new (new_kind: true); indicators reach it "
                                "with to: senior_center")
    assert apply(planned).layers["facilities"]["kind"].tolist() == ["care", "senior_center"]
    known = plan(scenario(f"[{{type: add_facility, kind: elderly_centre, at: {lonlat(*node_xy(3, 3))}}}]"), tiny)
    assert known.problems == [] and known.notes[1] == "[0] add_facility: kind 'elderly_centre' is new to this twin"


def test_housing_over_a_building_that_stays_is_a_warning_not_a_note(tiny):
    x, y = node_xy(0, 3)
    site = lonlat(x - 25, y - 25)  # the middle of building 0, where household 0 lives
    over = plan(scenario(f"[{{type: add_housing, name: Infill, at: {site}, households: 2}}]"), tiny)
    assert over.problems == []
    assert over.warnings == [
        "tiny-test:6: interventions[0]: at: the site of 'Infill' overlaps 1 building(s) that stay: 0 (apartments, "
        "fewer than 5 households); expected a free site, or remove_buildings with ids: [0] before it"]
    assert over.notes == ["[0] add_housing: fewer than 5 households (fewer than 5 other) in 'Infill', 4 storeys on 30 m2"]
    assert over.steps[0].applied and len(apply(over).households) == 6
    replaced = plan(scenario(f"""
  - {{type: remove_buildings, ids: [0]}}
  - {{type: add_housing, name: Infill, at: {site}, households: 2}}"""), tiny)
    assert replaced.problems == [] and replaced.warnings == []


def test_street_closure_is_an_edge_weight_for_its_modes(tiny):
    before = tiny._content_hash()
    planned = plan(scenario(f"[{{type: close_streets, line: {street((0, 0), (0, 1))}, buffer_m: 5, "
                            "modes: [walk]}]"), tiny)
    variant = apply(planned)
    walk = variant.travel_time_factors("walk")
    net = variant.networks["walk"]
    closed = [(u, v) for u, v, factor in zip(net.node_ids[net.edge_u].tolist(), net.node_ids[net.edge_v].tolist(), walk)
              if np.isinf(factor)]
    assert sorted(closed) == [(1, 5), (5, 1)]  # the west street's first block, both ways
    assert np.isfinite(walk).sum() == len(walk) - 2
    assert set(variant.edge_factors) == {"walk"}  # bike and drive untouched
    assert planned.notes == [f"[0] close_streets: 'street closure': 2 of {len(walk)} walk edges closed"]
    assert planned.effects == {"walk_edges_affected": 2}
    assert tiny.edge_factors == {} and tiny._content_hash() == before


def test_slowing_streets_is_a_speed_factor(tiny):
    planned = plan(scenario(f"[{{type: close_streets, line: {street((0, 1), (0, 2))}, buffer_m: 5, "
                            "speed_factor: 0.5, modes: [walk, drive]}]"), tiny)
    variant = apply(planned)
    for mode in ("walk", "drive"):
        factors = variant.travel_time_factors(mode)
        assert sorted(factors[factors != 1].tolist()) == [2.0, 2.0]
    assert "walk edges slowed to 50% of normal speed" in planned.notes[0]


def test_new_housing_adds_households_and_demolition_displaces_them(tiny):
    before = tiny._content_hash()
    planned = plan(scenario(f"""
  - {{type: remove_buildings, ids: [1]}}
  - {{type: add_housing, area: {square(1.5, 1.5, 20)}, households: 10, levels: 2,
      composition: {{elderly_alone: 0.5, family: 0.5}}}}"""), tiny)
    variant = apply(planned)
    households = variant.households
    assert len(households) == 4 - 1 + 10 and 1 not in households.index
    new = households.iloc[3:]
    assert new.index.tolist() == list(range(4, 14))
    assert new["elderly_alone"].sum() == 5 and new["children"].sum() == 5 and (new["building_id"] == 4).all()
    assert (new["n_elderly"] == [sum(int(a) >= 65 for a in ages.split()) for ages in new["ages"]]).all()
    buildings = variant.layers["buildings"]
    assert buildings.index.tolist() == [0, 2, 3, 4]
    assert buildings.loc[4, "floor_area_m2"] == pytest.approx(1600 * 2, rel=1e-3)
    assert planned.effects["displaced_households"] == 1 and planned.effects["added_households"] == 10
    assert planned.effects["displaced_residents"] == 4 and planned.effects["buildings_removed"] == 1
    assert planned.notes[1].startswith("[1] add_housing: 10 households (5 elderly alone, 5 family)")
    assert tiny._content_hash() == before
    again = apply(plan(planned.scenario, tiny))  # the seed makes the same people
    assert again.households.equals(variant.households)


def test_new_features_never_take_the_id_of_removed_ones(tiny):
    planned = plan(scenario(f"""
  - {{type: remove_buildings, ids: [3]}}
  - {{type: remove_park, ids: [0]}}
  - {{type: add_housing, at: {lonlat(*node_xy(2, 1))}, households: 2}}
  - {{type: add_park, area: {square(1.5, 0.5, 20)}}}"""), tiny)
    variant = apply(planned)
    assert variant.households.index.tolist() == [0, 1, 2, 4, 5]  # household 3 lived in building 3
    assert variant.layers["buildings"].index.tolist() == [0, 1, 2, 4]
    assert variant.layers["parks"].index.tolist() == [1]


def test_parks_stops_lines_and_ageing(tiny):
    planned = plan(scenario(f"""
  - {{type: add_park, name: Corner park, area: {square(0.5, 0.5, 30)}}}
  - {{type: remove_park, names: [Block park]}}
  - {{type: add_transit_stop, name: Square, at: {lonlat(*node_xy(2, 1))}}}
  - {{type: add_transit_line, name: Line 9, headway_min: 6, stops: [{{at: {lonlat(*node_xy(0, 3))}, name: A}},
      {{at: {lonlat(*node_xy(3, 0))}, name: B}}]}}
  - {{type: age_population, years: 10}}"""), tiny.replace(timetable=tiny_timetable()))
    variant = apply(planned)
    parks = variant.layers["parks"]
    assert parks["name"].tolist() == ["Corner park"] and parks["area_m2"].iloc[0] == pytest.approx(3600, rel=1e-3)
    stops = variant.layers["transit_stops"]
    assert stops["name"].tolist() == ["Corner", "Square", "A", "B"]
    assert stops["line"].tolist()[1:] == [None, "Line 9", "Line 9"]
    line = variant.timetable
    assert line.n_stops == 4 and list(line.stop_names[2:]) == ["A", "B"]  # the tram's two, then the line's
    assert line.n_trips == tiny_timetable().n_trips + 2 * 190  # every 6 min from 05:00 to 24:00, both ways
    assert "[3] add_transit_line: tram line 'Line 9': 2 stops (2 new), 380 trips a day, 40 between 07:00 and 09:00" \
        in planned.notes[3]
    assert variant.households["ages"].tolist() == ["91", "51 49 18 15", "80 82", "40 41"]
    assert variant.households["n_children"].tolist() == [0, 1, 0, 0]  # the 8-year-old is 18 now
    assert variant.households["n_elderly"].tolist() == [1, 0, 2, 0]
    assert planned.notes[-1] == "[4] age_population: everyone 10 years older; residents aged 65+ fewer than 5 -> fewer than 5"
    assert planned.effects == {"parks_added": 1, "parks_removed": 1, "stops_added": 3, "years": 10}


def test_each_intervention_sees_the_ones_before_it(tiny):
    planned = plan(scenario(f"""
  - {{type: add_facility, kind: care, name: Pop-up, at: {lonlat(*node_xy(2, 2))}}}
  - {{type: close_facility, names: [Pop-up]}}"""), tiny)
    assert planned.problems == []
    assert apply(planned).layers["facilities"]["name"].tolist() == ["Clinic"]


def test_problems_are_reported_together_with_file_lines(tmp_path, tiny):
    path = tmp_path / "bad.yaml"
    path.write_text(f"""schema_version: 1
name: bad
twin: tiny
interventions:
  - type: close_facility
    names: [Nowhere]
  - type: add_park
    area: {square(40, 40, 10)}
  - type: add_housing
    area: {square(0, 3, 30)}
    households: 5
  - type: remove_buildings
    ids: [0]
indicators:
  - {{measure: nearest, to: spa}}
groups: [all, pensioners]
""")
    before = tiny._content_hash()
    planned = plan(load_scenario(path), tiny)
    problems = planned.problems
    assert len(problems) == 5, problems
    assert problems[0].startswith(f"{path}:5: interventions[0]: names: no facility named 'Nowhere'; expected one "
                                  "of Clinic")
    assert problems[1].startswith(f"{path}:7: interventions[1]: area lies outside the twin; expected a place within")
    assert problems[2] == (f"{path}:12: interventions[3]: building 0 is also changed by interventions[2]; expected "
                           "each building to be changed once")
    assert problems[3].startswith(f"{path}:15: indicators[0].to: unknown destination 'spa'; expected one of")
    assert problems[4].startswith(f"{path}:16: groups[1]: unknown 'pensioners'")
    assert all("\n" not in p and re.match(rf"^{re.escape(str(path))}:\d+: \S+: ", p) for p in problems)
    with pytest.raises(ScenarioError) as caught:
        apply(planned)
    assert caught.value.problems == problems
    assert tiny._content_hash() == before


def test_a_street_closure_without_streets_and_an_unknown_capacity(tiny):
    planned = plan(scenario("[{type: close_streets, osm_ids: [1], modes: [bike]}]",
                            indicators="[{measure: supply, to: parks, capacity: size_m2}]"), tiny)
    assert planned.problems == [
        "tiny-test:6: interventions[0]: modes: no bike street in the closure; expected streets to close",
        "tiny-test:7: indicators[0].capacity: 'size_m2' is not a column of parks; expected one of osm_id, area_m2"]


# --- each selection once ----------------------------------------------------------------------------------------


def test_street_edges_are_selected_once(tiny, monkeypatch):
    calls = counting(monkeypatch, close_streets_module, "edge_flags")
    planned = plan(scenario(f"[{{type: close_streets, line: {street((0, 0), (0, 1))}, modes: [walk, drive]}}]"),
                   tiny)
    variant = apply(planned)
    assert len(calls) == 2  # one per mode, in plan; apply uses them
    assert [int(np.isinf(variant.travel_time_factors(m)).sum()) for m in ("walk", "drive")] == [2, 2]


def test_flood_grids_and_building_depths_are_computed_once_per_event(tiny, monkeypatch):
    twin = sloped(tiny)
    before = twin._content_hash()
    tubs = counting(monkeypatch, hazard, "bathtub")
    depths = counting(monkeypatch, hazard, "building_depths")
    spec = scenario("""
  - type: flood
    hazard: water_level
    return_periods: [{annual_probability: 0.1, level_m: 0.5}, {annual_probability: 0.02, level_m: 1.0},
                     {annual_probability: 0.005, level_m: 1.5}]""")
    planned = plan(spec, twin)
    variant = apply(planned)
    found = planned.flood_impacts
    assert planned.effects["buildings_flooded"] == len(found.buildings) == 2  # the two western buildings
    assert planned.flood_impacts is found  # assessed once
    assert len(tubs) == 3  # one per event; the rarest is the design flood the twin holds
    assert len(depths) == 3  # assess samples the design grid; the two other events once each
    assert float(variant.flood_depth["water_level_m"]) == 1.5
    monkeypatch.undo()
    damages = []
    curve = hazard.jrc_curve("residential")
    for level in (0.5, 1.0, 1.5):
        depth = hazard.bathtub(twin.terrain, level)
        damage = hazard.building_damage(hazard.building_depths(depth, twin.layers["buildings"]),
                                        twin.layers["buildings"], curve=curve, value_per_m2=2000.0,
                                        threshold_m=0.05, area_column="footprint_m2")
        damages.append(float(damage["damage_eur"].sum()))
    assert damages[0] < damages[1] < damages[2] == pytest.approx(found.damage_eur)
    assert found.expected_annual_damage_eur == pytest.approx(
        hazard.expected_annual_damage(damages, [0.1, 0.02, 0.005]))
    assert twin._content_hash() == before and twin.flood_depth is None


def test_a_design_level_shared_with_an_event_is_computed_once(tiny, monkeypatch):
    tubs = counting(monkeypatch, hazard, "bathtub")
    spec = scenario("""
  - {type: flood, hazard: water_level, level_m: 1.0, return_periods: [{annual_probability: 0.1, level_m: 0.5},
     {annual_probability: 0.01, level_m: 1.0}]}""")
    planned = plan(spec, sloped(tiny))
    apply(planned)
    assert planned.flood_impacts.expected_annual_damage_eur > 0
    assert len(tubs) == 2


def test_a_drawn_flood_is_rasterised_once(tiny, monkeypatch):
    grids = counting(monkeypatch, hazard, "depth_from_extents")
    planned = plan(scenario(f"[{{type: flood, hazard: extent, depth_m: 0.5, resolution_m: 2, "
                            f"area: {square(0, 1.5, 15)}}}]"), tiny)
    variant = apply(planned)
    assert planned.flood.index == 0 and planned.flood_impacts.summary()["streets_impassable_m"]["walk"] > 0
    assert len(grids) == 1
    assert np.isinf(variant.travel_time_factors("walk")).sum() == 2
    assert planned.notes[0].startswith("[0] flood: 'flood' (extent) covers")


def test_two_floods_combine_and_the_last_one_is_assessed(tiny):
    planned = plan(scenario(f"""
  - {{type: flood, hazard: extent, depth_m: 0.5, resolution_m: 2, area: {square(0, 1.5, 15)}}}
  - {{type: flood, hazard: extent, depth_m: 0.8, resolution_m: 2, area: {square(3, 0, 40)}}}"""), tiny)
    variant = apply(planned)
    assert planned.flood.index == 1
    assert float(variant.flood_depth.max()) == pytest.approx(0.8)
    assert np.isinf(variant.travel_time_factors("walk")).sum() >= 2 + 2
    assert len(planned.flood_impacts.buildings) == 1  # household 1's building, east


# --- what is derived from the units -----------------------------------------------------------------------------


def test_the_type_list_is_the_registry():
    assert INTERVENTION_TYPES == ("add_housing", "remove_buildings", "add_park", "remove_park", "add_facility",
                                  "close_facility", "close_streets", "add_transit_stop", "add_transit_line",
                                  "change_service", "close_stops", "age_population", "flood")
    for kind, unit in REGISTRY.items():
        assert unit.model_fields["type"].annotation.__args__ == (kind,)
        assert unit.description() and unit.description().endswith(".")


def test_readme_table_of_interventions_is_the_registered_units():
    text = README.read_text(encoding="utf-8")
    tables = re.findall(r"^\| type \| fields \| what it does \|\n(?:\|.*\|\n)+", text, flags=re.M)
    assert len(tables) == 1, "expected one table of interventions in README.md"
    assert tables[0].rstrip("\n") == readme_table(), \
        "README.md's table of interventions differs: paste sandbox.scenarios.interventions.readme_table()"


def test_input_files_are_the_scenario_and_what_its_interventions_read(tmp_path, tiny):
    ring = [lonlat(*xy) for xy in (node_xy(0, 0), node_xy(1, 0), node_xy(1, 1), node_xy(0, 0))]
    (tmp_path / "shapes").mkdir()
    (tmp_path / "shapes" / "park.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    path = tmp_path / "files.yaml"
    path.write_text("""schema_version: 1
name: files
interventions:
  - {type: add_park, area_file: shapes/park.geojson}
  - {type: flood, hazard: depth_raster, raster_file: depth.tif, damage_curve: curve.csv,
     return_periods: [{annual_probability: 0.1, raster_file: depth_10y.tif},
                      {annual_probability: 0.01, raster_file: depth.tif}]}
""")
    spec = load_scenario(path)
    assert spec.interventions[1].input_files() == ["depth.tif", "depth_10y.tif", "curve.csv"]
    assert isinstance(spec.interventions[1], Flood)
    planned = plan(spec, tiny)
    assert planned.input_files() == [path, tmp_path / "shapes" / "park.geojson", tmp_path / "depth.tif",
                                     tmp_path / "depth_10y.tif", tmp_path / "curve.csv"]
    assert [p.split(": ", 2)[2] for p in planned.problems] == [
        "raster_file: 'depth.tif' not found next to the scenario file; expected a depth GeoTIFF",
        "raster_file: 'depth_10y.tif' not found next to the scenario file; expected a depth GeoTIFF",
        "damage_curve: 'curve.csv' is neither jrc_residential, jrc_commercial nor a CSV next to the scenario file; "
        "expected one of those"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_scenario_plans_without_problems(path, helsinki):
    from sandbox import load_twin

    spec = load_scenario(path)
    twin = helsinki if spec.twin == "helsinki" else load_twin(spec.twin)
    before = twin._content_hash()
    planned = plan(spec, twin)
    assert planned.problems == [] and len(planned.steps) == len(spec.interventions) and planned.notes
    assert planned.warnings == []  # e.g. senior-housing-kamppi's new block stands where 382 was, over nothing
    assert apply(planned)._content_hash() != before and twin._content_hash() == before
    assert planned.input_files()[0] == path and all(p.is_file() for p in planned.input_files())
    if path.stem == "clinic-closure":
        assert "[0] close_facility: Diacor Keskusta (care), Mehiläinen (care)" in planned.notes
