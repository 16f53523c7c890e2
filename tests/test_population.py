"""Tests of sandbox.population: synthetic households, grid reading, disaggregation and grid-based households."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sandbox._errors import DataError, TwinError
from sandbox.population import (
    AGE_BANDS,
    HELSINKI_CENTRE,
    HSY_2015,
    Calibration,
    GridColumns,
    HouseholdParams,
    disaggregate_grid,
    form_households,
    households_from_grid,
    place_households,
    read_population_grid,
    synthesize_ages,
    synthesize_households,
)

HSY_FILE = (
    Path(os.environ.get("SANDBOX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "helsinki"
    / "population"
    / "Vaestotietoruudukko_2015.shp"
)
X0, Y0 = 385_000.0, 6_672_000.0  # central Helsinki in EPSG:3067
BAND_LOW = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80])


def make_buildings(specs: list[tuple[float, float, bool, float, int]]) -> gpd.GeoDataFrame:
    """Square 20 m footprints centred at (x, y) with residential flag, floor area and zone."""
    x, y, residential, area, zone = map(np.array, zip(*specs))
    return gpd.GeoDataFrame(
        {
            "residential": residential.astype(bool),
            "floor_area_m2": area.astype(float),
            "zone_id": zone.astype(np.int64),
        },
        geometry=shapely.box(x - 10, y - 10, x + 10, y + 10),
        crs=3067,
        index=pd.Index(np.arange(len(specs), dtype=np.int64) * 10 + 100, name="building_id"),
    )


@pytest.fixture
def buildings() -> gpd.GeoDataFrame:
    return make_buildings(
        [
            (X0, Y0, True, 1000.0, 1),  # 100: one share
            (X0 + 50, Y0, True, 3000.0, 1),  # 110: three times 100
            (X0 + 100, Y0, False, 5000.0, 2),  # 120: office, never a home
            (X0 + 150, Y0, True, 0.0, 2),  # 130: residential but no floor area
            (X0 + 200, Y0, True, 2000.0, 2),  # 140
        ]
    )


@pytest.fixture
def households(buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    return synthesize_households(buildings, HELSINKI_CENTRE, seed=1)


def member_ages(households: pd.DataFrame) -> list[list[int]]:
    return [[int(a) for a in text.split()] for text in households["ages"]]


def band_counts(ages: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(BAND_LOW, ages, side="right") - 1, minlength=len(AGE_BANDS))


# --- synthetic households --------------------------------------------------------------------------------------


def test_table_follows_the_data_contract(households: pd.DataFrame, buildings: gpd.GeoDataFrame) -> None:
    assert list(households.columns) == [
        "building_id", "size", "ages", "n_elderly", "n_children", "elderly", "elderly_alone", "children", "x", "y",
        "zone_id",
    ]
    assert households.index.name == "household_id"
    assert (households.index == np.arange(len(households))).all()
    for name in ("building_id", "size", "n_elderly", "n_children", "zone_id"):
        assert households[name].dtype == np.int64, name
    for name in ("elderly", "elderly_alone", "children"):
        assert households[name].dtype == bool, name
    assert households["x"].dtype == np.float64 and households["y"].dtype == np.float64
    assert (households["zone_id"] == buildings.loc[households["building_id"], "zone_id"].to_numpy()).all()


def test_zone_id_is_omitted_without_zones(buildings: gpd.GeoDataFrame) -> None:
    assert "zone_id" not in synthesize_households(buildings.drop(columns="zone_id")).columns


def test_total_residents_match_the_calibration_exactly(households: pd.DataFrame) -> None:
    assert households["size"].sum() == HELSINKI_CENTRE.residents == 10287
    small = Calibration(residents=7, age_shares=HELSINKI_CENTRE.age_shares)
    assert synthesize_households(make_buildings([(X0, Y0, True, 50.0, 1)]), small)["size"].sum() == 7


def test_age_shares_match_the_calibration(households: pd.DataFrame) -> None:
    ages = np.concatenate([np.array(a) for a in member_ages(households)])
    shares = band_counts(ages) / len(ages)
    expected = np.array([HELSINKI_CENTRE.age_shares[b] for b in AGE_BANDS])
    assert np.abs(shares - expected).max() < 0.01
    assert ages.min() >= 0 and ages.max() <= HouseholdParams().oldest_age


def test_synthesize_ages_counts_are_exact_per_band() -> None:
    shares = dict(zip(AGE_BANDS, [0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05]))
    ages = synthesize_ages(1000, shares, rng=np.random.default_rng(0))
    assert ages.dtype == np.int64 and len(ages) == 1000
    assert band_counts(ages).tolist() == [100, 100, 200, 200, 100, 100, 100, 50, 50]
    assert len(synthesize_ages(0, shares, rng=np.random.default_rng(0))) == 0


def test_flags_are_consistent_with_ages(households: pd.DataFrame) -> None:
    ages = member_ages(households)
    assert [len(a) for a in ages] == households["size"].tolist()
    n_elderly = np.array([sum(x >= 65 for x in a) for a in ages])
    n_children = np.array([sum(x < 18 for x in a) for a in ages])
    assert (households["n_elderly"].to_numpy() == n_elderly).all()
    assert (households["n_children"].to_numpy() == n_children).all()
    assert (households["elderly"].to_numpy() == (n_elderly > 0)).all()
    assert (households["children"].to_numpy() == (n_children > 0)).all()
    alone = (households["size"].to_numpy() == 1) & (n_elderly == 1)
    assert (households["elderly_alone"].to_numpy() == alone).all()


def test_children_live_with_an_adult_of_parent_age(households: pd.DataFrame) -> None:
    families = [a for a in member_ages(households) if min(a) < 18]
    assert families
    assert all(max(a) >= 18 for a in families)
    # Helsinki centre has plenty of adults aged 20-59, so every family gets at least one
    assert all(any(20 <= x <= 59 for x in a) for a in families)
    assert all(sum(x >= 18 for x in a) <= 2 for a in families)


def test_elderly_alone_share_follows_the_parameter(households: pd.DataFrame) -> None:
    n_65plus = households["n_elderly"].sum()
    assert n_65plus > 1000
    share = households["elderly_alone"].sum() / n_65plus
    assert abs(share - HouseholdParams().elderly_alone_share) < 0.01
    params = HouseholdParams(elderly_alone_share=0.2)
    other = synthesize_households(make_buildings([(X0, Y0, True, 500.0, 1)]), seed=1, params=params)
    assert abs(other["elderly_alone"].sum() / other["n_elderly"].sum() - 0.2) < 0.01


def test_households_live_only_in_homes(households: pd.DataFrame, buildings: gpd.GeoDataFrame) -> None:
    assert set(households["building_id"]) == {100, 110, 140}


def test_points_lie_inside_the_home(households: pd.DataFrame, buildings: gpd.GeoDataFrame) -> None:
    footprints = buildings.geometry.loc[households["building_id"]].to_numpy()
    assert shapely.contains_xy(footprints, households["x"].to_numpy(), households["y"].to_numpy()).all()


def test_residents_follow_floor_area(households: pd.DataFrame) -> None:
    residents = households.groupby("building_id")["size"].sum()
    assert 2.0 <= residents[110] / residents[100] <= 4.0
    assert 1.5 <= residents[140] / residents[100] <= 2.5


def test_same_seed_same_households_other_seed_other_households(buildings: gpd.GeoDataFrame) -> None:
    first = synthesize_households(buildings, seed=7)
    assert first.equals(synthesize_households(buildings, seed=7))
    assert not first.equals(synthesize_households(buildings, seed=8))


def test_no_home_is_a_twin_error(buildings: gpd.GeoDataFrame) -> None:
    offices = buildings.assign(residential=False)
    with pytest.raises(TwinError, match="residential") as error:
        synthesize_households(offices)
    assert "\n" not in str(error.value)


def test_calibration_validates_its_shares() -> None:
    shares = dict(HELSINKI_CENTRE.age_shares)
    del shares["80+"]
    with pytest.raises(TwinError, match="80\\+") as error:
        Calibration(residents=10, age_shares=shares)
    assert "\n" not in str(error.value)
    with pytest.raises(TwinError, match="sum to 1.19"):
        Calibration(residents=10, age_shares={**HELSINKI_CENTRE.age_shares, "0-9": 0.27})
    nearly = Calibration(residents=10, age_shares={**HELSINKI_CENTRE.age_shares, "0-9": 0.075})
    assert sum(nearly.age_shares.values()) == pytest.approx(1.0)


def test_form_households_keeps_every_person_once() -> None:
    rng = np.random.default_rng(3)
    ages = rng.integers(0, 100, 2000)
    table = form_households(ages, params=HouseholdParams(), rng=rng)
    assert table["size"].sum() == 2000
    together = sorted(int(a) for text in table["ages"] for a in text.split())
    assert together == sorted(ages.tolist())


def test_children_without_any_adult_share_one_household() -> None:
    table = form_households(np.array([3, 5, 8, 12, 15]), rng=np.random.default_rng(0))
    assert table["size"].tolist() == [5]
    assert form_households(np.zeros(0, np.int64), rng=np.random.default_rng(0)).empty


def test_place_households_only_in_homes(buildings: gpd.GeoDataFrame) -> None:
    table = pd.DataFrame({"size": np.ones(400, np.int64)})
    homes = place_households(table, buildings, rng=np.random.default_rng(0))
    counts = homes.value_counts()
    assert set(counts.index) <= {100, 110, 140}
    assert abs(counts[100] - 400 / 6) <= 1 and abs(counts[110] - 400 / 2) <= 1 and abs(counts[140] - 400 / 3) <= 1


# --- population grids ------------------------------------------------------------------------------------------


def square_cells(origins: list[tuple[float, float]], size: float = 100.0) -> np.ndarray:
    x, y = np.array(origins).T
    return shapely.box(x, y, x + size, y + size)


def test_disaggregate_conserves_every_cell() -> None:
    grid = gpd.GeoDataFrame(
        {"cell_id": [1, 2, 3, 4], "residents": [17, 5, 8, 10]},
        geometry=square_cells([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0), (X0 + 300, Y0)]),
        crs=3067,
    )
    buildings = make_buildings(
        [
            (X0 + 20, Y0 + 20, True, 100.0, 1),  # cell 1
            (X0 + 70, Y0 + 70, True, 200.0, 1),  # cell 1
            (X0 + 40, Y0 + 70, False, 900.0, 1),  # cell 1, office: gets nobody
            (X0 + 150, Y0 + 50, False, 300.0, 1),  # cell 2 has no home: falls back to its office
            (X0 + 320, Y0 + 50, True, 1.0, 1),  # cell 4: three equal homes
            (X0 + 350, Y0 + 50, True, 1.0, 1),
            (X0 + 380, Y0 + 50, True, 1.0, 1),
            (X0 + 900, Y0, True, 100.0, 1),  # outside the grid
        ]
    )  # cell 3 has no building at all
    residents = disaggregate_grid(grid, buildings)
    assert residents.dtype == np.int64
    assert (residents.index == buildings.index).all()
    assert residents.tolist() == [6, 11, 0, 5, 4, 3, 3, 0]
    assert residents.attrs == {"unplaced_residents": 8, "unplaced_cells": [3]}
    assert residents.sum() + residents.attrs["unplaced_residents"] == grid["residents"].sum()


def test_disaggregate_needs_the_same_crs(buildings: gpd.GeoDataFrame) -> None:
    grid = gpd.GeoDataFrame({"cell_id": [1], "residents": [3]}, geometry=square_cells([(X0, Y0)]), crs=3067)
    with pytest.raises(TwinError, match="crs"):
        disaggregate_grid(grid.to_crs(3879), buildings)


def grid_with_ages() -> gpd.GeoDataFrame:
    bands = np.array(
        [
            [5, 3, 20, 25, 10, 8, 6, 4, 2],  # 83 residents
            [0, 0, 30, 10, 2, 0, 0, 0, 0],  # 42 residents
            [2, 2, 1, 3, 4, 5, 20, 30, 40],  # 107 residents, many elderly
        ],
        dtype=float,
    )
    return gpd.GeoDataFrame(
        {"cell_id": [7, 8, 9], "residents": bands.sum(axis=1).astype(np.int64)}
        | {band: bands[:, i] for i, band in enumerate(AGE_BANDS)}
        | {"ages_filled": [False, False, False]},
        geometry=square_cells([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)]),
        crs=3067,
    )


def test_households_from_grid_conserve_cells_and_ages() -> None:
    grid = grid_with_ages()
    buildings = make_buildings(
        [
            (X0 + 30, Y0 + 30, True, 400.0, 1),
            (X0 + 70, Y0 + 70, True, 1200.0, 1),
            (X0 + 150, Y0 + 50, True, 800.0, 2),
            (X0 + 250, Y0 + 50, False, 500.0, 3),  # office only: the cell falls back to it
        ]
    )
    cell_of_building = {100: 7, 110: 7, 120: 8, 130: 9}
    table = households_from_grid(grid, buildings, seed=2)
    assert list(table.columns) == list(synthesize_households(buildings.assign(residential=True)).columns)
    cell = table["building_id"].map(cell_of_building)
    assert table.groupby(cell)["size"].sum().to_dict() == {7: 83, 8: 42, 9: 107}
    ages = table.groupby(cell)["ages"].agg(" ".join)
    for row in grid.itertuples():
        counts = band_counts(np.array(ages[row.cell_id].split(), dtype=np.int64))
        assert counts.tolist() == grid.loc[row.Index, list(AGE_BANDS)].astype(int).tolist()
    assert table.attrs["unplaced_residents"] == 0
    assert table.equals(households_from_grid(grid, buildings, seed=2))


def write_grid(path: Path, rows: list[dict], crs: object = 3879) -> Path:
    cells = square_cells([(25_496_000.0 + 250 * i, 6_672_000.0) for i in range(len(rows))], 250.0)
    gpd.GeoDataFrame(pd.DataFrame(rows), geometry=cells, crs=crs).to_file(path, engine="pyogrio")
    return path


def hsy_row(index: int, bands: list[int], total: int | None = None) -> dict:
    columns = list(HSY_2015.age_bands.values())
    return {"INDEX": index, "ASUKKAITA": sum(bands) if total is None else total} | dict(zip(columns, bands))


def test_read_grid_fills_hidden_bands(tmp_path: Path) -> None:
    rows = [
        hsy_row(1, [100, 100, 200, 200, 100, 100, 100, 50, 50]),  # complete
        hsy_row(2, [99] * 9, total=30),  # hidden by the publisher
        hsy_row(3, [99, 1, 0, 0, 0, 0, 0, 0, 0]),  # 99 is a real count: the bands add up
        hsy_row(4, [99, 99, 10, 10, 10, 10, 99, 99, 99], total=60),  # some bands hidden
    ]
    path = write_grid(tmp_path / "grid.gpkg", rows)
    grid, notes = read_population_grid(path, columns=HSY_2015, crs=3879, to_crs=3067)
    assert grid.crs.to_epsg() == 3067
    assert list(grid.columns) == ["cell_id", "residents", *AGE_BANDS, "ages_filled", "geometry"]
    assert grid["residents"].dtype == np.int64 and grid["residents"].tolist() == [1000, 30, 100, 60]
    assert grid["ages_filled"].tolist() == [False, True, False, True]
    assert notes["cells"] == 4 and notes["residents"] == 1190
    assert notes["cells_age_filled"] == 2 and notes["cells_marker_kept"] == 1
    region = np.array([199, 101, 200, 200, 100, 100, 100, 50, 50]) / 1100
    assert np.allclose(list(notes["region_age_shares"].values()), region)
    bands = grid[list(AGE_BANDS)].to_numpy()
    assert np.allclose(bands.sum(axis=1), grid["residents"])
    assert np.allclose(bands[1], region * 30)
    assert bands[2].tolist() == [99, 1, 0, 0, 0, 0, 0, 0, 0]
    assert bands[3][2:6].tolist() == [10, 10, 10, 10]  # known bands kept, the 20 others spread by region shares
    hidden = [0, 1, 6, 7, 8]
    assert np.allclose(bands[3][hidden], region[hidden] / region[hidden].sum() * 20)


def test_read_grid_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere.gpkg") as error:
        read_population_grid(tmp_path / "nowhere.gpkg", columns=HSY_2015)
    assert "\n" not in str(error.value)


def test_read_grid_missing_column_names_file_and_column(tmp_path: Path) -> None:
    row = hsy_row(1, [1] * 9)
    del row["IKA_YLI80"]
    path = write_grid(tmp_path / "partial.gpkg", [row])
    with pytest.raises(DataError) as error:
        read_population_grid(path, columns=HSY_2015)
    message = str(error.value)
    assert "partial.gpkg" in message and "IKA_YLI80" in message and "ASUKKAITA" in message
    assert "\n" not in message


def test_read_grid_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.gpkg"
    path.write_text("not a geopackage")
    with pytest.raises(DataError, match="broken.gpkg"):
        read_population_grid(path, columns=HSY_2015)


def test_read_csv_grid_needs_a_crs_and_reads_centres(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    pd.DataFrame({"x": [X0 + 125, X0 + 375], "y": [Y0 + 125, Y0 + 125], "pop": [12, 0]}).to_csv(path, index=False)
    columns = GridColumns(total="pop")
    with pytest.raises(DataError, match="grid.csv: crs"):
        read_population_grid(path, columns=columns, cell_size_m=250)
    with pytest.raises(DataError, match="cell_size_m"):
        read_population_grid(path, columns=columns, crs=3067)
    grid, notes = read_population_grid(
        path, columns=columns, crs=3067, cell_size_m=250, age_shares=HELSINKI_CENTRE.age_shares
    )
    assert grid.geometry.area.tolist() == [62_500.0, 62_500.0]
    assert grid["ages_filled"].all() and notes["cells_age_filled"] == 2
    assert np.allclose(grid[list(AGE_BANDS)].sum(axis=1), [12, 0])


# --- real data: HSY population grid 2015 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsy_raw() -> gpd.GeoDataFrame:
    if not HSY_FILE.is_file():
        pytest.skip(f"{HSY_FILE} is absent")
    return gpd.read_file(HSY_FILE, engine="pyogrio")


def test_hsy_grid(hsy_raw: gpd.GeoDataFrame) -> None:
    grid, notes = read_population_grid(HSY_FILE, columns=HSY_2015, crs=3879)
    assert len(grid) == notes["cells"] == 5784
    assert grid["residents"].sum() == notes["residents"] == 1_117_552
    raw_bands = hsy_raw[list(HSY_2015.age_bands.values())].to_numpy()
    marked = (raw_bands == 99).any(axis=1)
    adds_up = raw_bands.sum(axis=1) == hsy_raw["ASUKKAITA"].to_numpy()
    assert marked.sum() == 2773
    # a 99 in a cell whose bands add up is a real count and is kept
    assert notes["cells_age_filled"] + notes["cells_marker_kept"] == marked.sum()
    assert notes["cells_age_filled"] == grid["ages_filled"].sum() == (marked & ~adds_up).sum()
    assert (grid["ages_filled"].to_numpy() == ~adds_up).all()
    bands = grid[list(AGE_BANDS)].to_numpy()
    assert np.allclose(bands.sum(axis=1), grid["residents"], rtol=1e-6, atol=0)
    assert not (bands[grid["ages_filled"].to_numpy()] == 99).any()
    kept = ~grid["ages_filled"].to_numpy()
    assert (bands[kept] == raw_bands[kept]).all()


def test_hsy_cells_of_the_helsinki_extract(hsy_raw: gpd.GeoDataFrame) -> None:
    grid, _ = read_population_grid(HSY_FILE, columns=HSY_2015, crs=3879, to_crs=3067)
    extract = grid[grid.intersects(shapely.box(385413, 6671453, 386476, 6673149))]
    assert len(extract) == 29 and (extract["residents"] > 0).all()
    assert extract["residents"].sum() == 10_287
    # one home per cell: households reproduce every cell
    centres = extract.geometry.representative_point()
    homes = make_buildings([(p.x, p.y, True, 1000.0, 1) for p in centres])
    table = households_from_grid(extract, homes, seed=0)
    per_cell = table.groupby("building_id")["size"].sum()
    assert per_cell.tolist() == extract["residents"].tolist()
