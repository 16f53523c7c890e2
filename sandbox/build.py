"""Assemble a Twin from source files: an OSM extract, a population (synthetic or a grid), an optional DEM and an
optional GTFS feed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from . import layers as osm_layers
from ._io import sha256_file
from . import population
from ._errors import TwinError
from .network import MODES, Speeds, build_network
from .timetable import read_gtfs
from .twin import Twin

GTFS_MARGIN_M = 500.0  # stops this far beyond the walking network are kept: a walk may start at the edge


@dataclasses.dataclass(frozen=True)
class PopulationGrid:
    """A real population grid to disaggregate instead of the synthetic default."""

    path: Path
    columns: population.GridColumns
    crs: str | int | None = None


def build_twin(
    osm: str | Path,
    *,
    name: str,
    crs: str | int | None = None,
    grid: PopulationGrid | None = None,
    calibration: population.Calibration | str | None = None,
    residents: int | None = None,
    age_shares: Mapping[str, float] | None = None,
    household_params: population.HouseholdParams = population.HouseholdParams(),
    seed: int = 0,
    speeds: Speeds = Speeds(),
    dem: str | Path | None = None,
    dem_crs: str | int | None = None,
    zone_cell_m: float = 250.0,
    osm_source: str | None = None,
    gtfs: str | Path | None = None,
    gtfs_date: str | None = None,
    gtfs_licence: str | None = None,
    progress: Any = None,
) -> Twin:
    """Build a twin from files on disk, recording for every layer where it came from and how it was made.

    Parameters
    ----------
    osm
        OSM extract (.osm.pbf, .osm or .xml).
    name
        The twin's name, shown in reports.
    crs
        Metric CRS of the twin; by default the UTM zone of the data.
    grid, calibration, residents, age_shares
        The population, always chosen explicitly (nothing is assumed; a TwinError says what is missing):

        - ``grid``: a population grid to disaggregate to residential buildings (nothing else with it);
        - ``calibration``: a synthetic population with the residents and age shares of a ``population.Calibration``
          or of a shipped one named in ``population.CALIBRATIONS`` (``"helsinki-centre"``: central Helsinki's
          10,287 residents, HSY 2015);
        - ``residents`` with ``age_shares`` (band -> share, keys ``population.AGE_BANDS``) or with ``calibration``
          for the age shares: a synthetic population of that many residents.
    seed
        Seed of the synthetic population: the same seed gives the same households.
    dem
        Optional elevation GeoTIFF, reprojected and clipped to the twin.
    osm_source
        How to describe the OSM file in provenance (defaults to its file name).
    gtfs, gtfs_date, gtfs_licence
        A GTFS feed (zip or folder) for the ``transit`` mode: one service date (``gtfs_date``, default the feed's
        busiest), its stops within the walking network's extent and 500 m around it; the licence as the
        publisher states it (GTFS carries none), credited in every map and report.
    progress
        Optional callable taking a short message, called before each step.
    """
    if grid is not None and (calibration is not None or residents is not None or age_shares is not None):
        raise TwinError("build_twin: population: grid= and calibration=/residents=/age_shares= both given; a grid "
                        "brings its own residents and ages: pass one or the other")
    synthetic = None if grid is not None else _synthetic_population(calibration, residents, age_shares)
    step = progress or (lambda message: None)
    step("reading OpenStreetMap")
    source = osm_layers.read_osm(osm)
    target = osm_layers.projected_crs(source, crs)
    ways = source.ways.to_crs(target)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    osm_prov = {"source": osm_source or Path(osm).name, "licence": osm_layers.OSM_LICENCE,
                "sha256": source.sha256, "created": when}

    step("building street networks")
    networks = {mode: build_network(ways, mode, speeds=speeds) for mode in MODES}
    extent = shapely.box(*networks["walk"].bounds)

    step("extracting layers")
    zones = osm_layers.zone_layer(extent, target, cell_m=zone_cell_m)
    buildings = osm_layers.building_layer(source.features, target)
    buildings["zone_id"] = osm_layers.assign_zones(buildings, zones)
    layers = {
        "buildings": buildings,
        "parks": osm_layers.park_layer(source.features, target),
        "transit_stops": osm_layers.transit_stop_layer(source.features, target),
        "facilities": osm_layers.facility_layer(source.features, target),
        "water": osm_layers.water_layer(source.features, target),
        "zones": zones,
    }
    how = {
        "buildings": "building=* polygons; levels from building:levels, else height / 3 m, else 1 for small "
                     "types and the extract's median tagged levels for others; floor_area_m2 = footprint x levels; "
                     "residential = homes by type, or untyped buildings of 60 m2+ without shop/amenity/office/"
                     "tourism tags outside commercial, civil and industrial land",
        "parks": "leisure=park/garden/playground/nature_reserve/common/dog_park and landuse=recreation_ground/"
                 "village_green polygons; a park inside another park is dropped",
        "transit_stops": "highway=bus_stop, railway=tram_stop/station/halt/subway_entrance, public_transport="
                         "platform/stop_position/station; points of one stop (same mode and name within 30 m) merged",
        "facilities": "kinds: " + ", ".join(f"{k}={v} -> {kind}" for (k, v), kind in
                                            osm_layers.FACILITY_KINDS.items()) + "; capacity from capacity/beds, else 1",
        "water": "natural=water/bay/strait, water=*, landuse=basin/reservoir, waterway=riverbank polygons",
        "zones": f"{zone_cell_m:g} m grid aligned to the CRS origin, covering the walking network's extent",
    }
    provenance: dict[str, dict[str, Any]] = {name: {**osm_prov, "how": text} for name, text in how.items()}
    provenance["zones"] = {"source": "generated by sandbox", "licence": "CC0", "how": how["zones"], "created": when}
    for mode, net in networks.items():
        provenance[f"network_{mode}"] = {
            **osm_prov,
            "how": f"OSM highways usable by {mode} (sandbox.network rules), largest strongly connected component "
                   f"kept ({net.dropped_nodes} nodes dropped); speeds {dataclasses.asdict(speeds)}",
        }

    step("placing households")
    if synthetic is not None:
        calibration, described, licence = synthetic
        households = population.synthesize_households(buildings, calibration, seed=seed, params=household_params)
        provenance["households"] = {
            "source": described,
            "licence": licence,
            "how": f"synthetic households (sandbox.population), seed {seed}; {calibration.residents} residents; "
                   f"age shares {dict(calibration.age_shares)}; {household_params}; placed in residential "
                   "buildings by floor area",
            "created": when,
        }
    else:
        cells, notes = population.read_population_grid(grid.path, columns=grid.columns, crs=grid.crs,
                                                       to_crs=target)
        cells = cells[cells.intersects(extent)]
        households = population.households_from_grid(cells, buildings, seed=seed, params=household_params)
        provenance["households"] = {
            "source": f"population grid {Path(grid.path).name}", "sha256": sha256_file(grid.path),
            "licence": "see the grid's publisher", "how": f"seed {seed}; {notes}", "created": when,
        }

    terrain = None
    if dem is not None:
        from .terrain import read_dem  # rioxarray is slow to import and only needed here

        step("reading terrain")
        terrain = read_dem(dem, crs=dem_crs, to_crs=target.to_string(), bbox=extent.bounds)
        provenance["terrain"] = {"source": Path(dem).name, "sha256": sha256_file(dem),
                                 "licence": "see the DEM's publisher", "how": "bilinear reprojection to the twin CRS, "
                                 "clipped to the twin's extent", "created": when}

    timetable = None
    if gtfs is not None:
        step("reading the timetable")
        timetable = read_gtfs(gtfs, date=gtfs_date, bbox=_lonlat_bounds(extent.buffer(GTFS_MARGIN_M), target),
                              licence=gtfs_licence)
        provenance["transit"] = {
            "source": timetable.source, "licence": timetable.licence, "sha256": sha256_file(gtfs) if Path(gtfs).is_file() else "a folder",
            "how": f"GTFS service date {timetable.service_date} (calendar, calendar_dates and frequencies read); "
                   f"stops within {GTFS_MARGIN_M:g} m of the walking network's extent; {timetable.n_stops} stops, "
                   f"{len(timetable.route_ids)} routes, {timetable.n_trips} trips; walks to, from and between stops on "
                   "the walking network",
            "created": when,
        }

    return Twin(name=name, crs=target.to_string(), layers=layers, households=households, networks=networks,
                terrain=terrain, provenance=provenance, timetable=timetable)


def _lonlat_bounds(area: shapely.Geometry, crs: Any) -> tuple[float, float, float, float]:
    corners = gpd.GeoSeries([area], crs=crs).to_crs(4326)
    return tuple(float(v) for v in corners.total_bounds)


def _synthetic_population(calibration: population.Calibration | str | None, residents: int | None,
                          age_shares: Mapping[str, float] | None) -> tuple[population.Calibration, str, str]:
    """The calibration of a synthetic population that ``build_twin``'s arguments choose, what provenance says of
    it and its licence; a TwinError when the choice is missing or ambiguous."""
    names = " or ".join(repr(name) for name in population.CALIBRATIONS)
    if calibration is None and residents is None and age_shares is None:
        raise TwinError(f"build_twin: no population chosen; pass grid=PopulationGrid(...), calibration={names} or "
                        "a population.Calibration, or residents=N with age_shares={band: share} or calibration= "
                        "for the age shares")
    if calibration is not None and age_shares is not None:
        raise TwinError("build_twin: age shares given twice (calibration= and age_shares=); pass one of them")
    if residents is None and calibration is None:
        raise TwinError("build_twin: age_shares= without residents=; pass residents=N as well")
    if residents is not None and calibration is None and age_shares is None:
        raise TwinError(f"build_twin: residents={residents!r} without age shares; pass age_shares={{band: share}} "
                        f"or calibration={names} for them")
    if isinstance(calibration, str):
        name, calibration = calibration, population.calibration_named(calibration)
    else:
        name = next((key for key, known in population.CALIBRATIONS.items() if known == calibration), None)
    not_real = "synthetic households are not real people"
    licence = f"{'CC BY 4.0 (calibration data)' if name else 'see the calibration source'}; {not_real}"
    if calibration is not None:
        of = f"age shares of {calibration.source or 'a calibration given by the user'}"
    if residents is None:  # the calibration's residents and age shares
        described = f"synthetic population of {calibration.residents} residents, {of}"
        return calibration, (f"calibration {name}: {described}" if name else described), licence
    if calibration is None:
        of, licence = "age shares given by the user", f"given by the user; {not_real}"
    described = f"synthetic population of {residents} residents given by the user, {of}"
    shares = calibration.age_shares if calibration is not None else age_shares
    return population.Calibration(residents=residents, age_shares=shares, source=described), described, licence
