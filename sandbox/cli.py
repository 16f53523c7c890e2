"""The `sandbox` command: thin wrappers over the library, one-line errors, exit code 2 for user mistakes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import words
from ._errors import SandboxError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Urban digital-twin scenario sandbox: what-if scenarios, accessibility, floods.")
console = Console(soft_wrap=True)
errors = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"sandbox {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


def user_errors(command: Callable) -> Callable:
    """Turn a SandboxError into one line on stderr and exit code 2 (a traceback would mean a bug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SandboxError as exc:
            _print_problems(exc)
            raise typer.Exit(2) from None

    return wrapper


def _progress(status: Any) -> Callable[[str], None]:
    return lambda message: status.update(f"[bold]{message}...")


def _check_out(folder: Path, *, replace: bool = True) -> None:
    """Fail before any work, in one line, when --out cannot be written: a file, read-only, no permission, a full
    disk. ``replace``: the folder itself is written; otherwise folders are written into it. Creates nothing."""
    from ._errors import writing
    from ._io import check_writable

    with writing(f"--out {folder}"):
        check_writable(folder, replace=replace)


def _load(twin: str) -> Any:
    from .catalog import load_twin

    with errors.status("loading twin...") as status:
        return load_twin(twin, progress=_progress(status))


@app.command()
@user_errors
def info(
    twin: Annotated[str, typer.Argument(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show what a twin holds: layers, networks, households by group, sources and licences."""
    summary = _load(twin).summary()
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    console.print(f"[bold]Twin {summary['name']}[/bold]  CRS {summary['crs']}  fingerprint {summary['fingerprint']}")
    console.print(f"extent (left, bottom, right, top): {summary['extent']}")
    sources = list(dict.fromkeys((row["source"], row["licence"]) for row in summary["layers"].values()))
    layers = Table(title="Layers")
    for column in ("layer", "rows", "geometry", "source"):
        layers.add_column(column)
    for name, row in summary["layers"].items():
        layers.add_row(name, str(row["rows"]), row["geometry"], f"[{sources.index((row['source'], row['licence'])) + 1}]")
    console.print(layers)
    for number, (source, licence) in enumerate(sources, start=1):
        console.print(f"[{number}] {source}; licence: {licence}", markup=False)
    networks = Table(title="Street networks")
    for column in ("mode", "nodes", "edges", "nodes dropped (not connected)"):
        networks.add_column(column)
    for mode, row in summary["networks"].items():
        networks.add_row(mode, str(row["nodes"]), str(row["edges"]), str(row["dropped_nodes"]))
    console.print(networks)
    groups = Table(title="Households by group")
    for column in ("group", "households", "residents in them"):
        groups.add_column(column)
    for group, row in summary["households"].items():
        groups.add_row(group, str(row["households"]), str(row["residents"]))
    console.print(groups)
    console.print(f"households: {summary['households_source']}")
    if summary["terrain"]:
        console.print(f"terrain: {summary['terrain']['shape']} cells of {summary['terrain']['resolution_m']} m "
                      f"({summary['terrain']['source']})")
    else:
        console.print("terrain: none")


@app.command()
@user_errors
def layers(
    twin: Annotated[str, typer.Argument(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    layer: Annotated[str, typer.Option(help="facilities, buildings, parks or stops.")] = "facilities",
    kind: Annotated[Optional[str], typer.Option(
        help="Only this kind: a facility kind (care, grocery, ...), a stop's mode (tram, bus, ...), a building's "
             "OSM tag (apartments, office, ...; untyped ones are residential or other).")] = None,
    near: Annotated[Optional[str], typer.Option(
        help="LON,LAT in degrees, e.g. 24.9378,60.1656: adds distance_m and sorts by it.")] = None,
    within: Annotated[Optional[float], typer.Option(help="With --near: only features this many metres away.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """List a layer's features with the ids a scenario names them by (close_facility, remove_buildings, ...)."""
    from .features import LAYERS, list_features, parse_lonlat

    if as_json and as_csv:
        raise SandboxError("--json, --csv: both given; expected one of them (or neither, for a table)")
    point = None if near is None else parse_lonlat(near, "near")
    table = list_features(_load(twin), layer, kind=kind, near=point, within_m=within)
    if as_json:
        print(json.dumps(json.loads(table.to_json(orient="records", force_ascii=False)), indent=2,
                         ensure_ascii=False))
        return
    if as_csv:
        print(table.to_csv(index=False), end="")
        return
    spec = LAYERS[layer]
    title = f"{layer}" + (f" of kind {kind}" if kind else "") + (
        f" within {within:g} m of {near}" if within is not None else f" nearest {near} first" if near else "")
    out = Table(title=f"{title}: {len(table)}", caption=f"id = {spec.id_name}: {spec.named_by}; lon/lat in WGS84")
    shown = table.astype(object).where(table.notna(), None)  # NA (a hidden count) prints as "hidden"
    rows = [[_cell(column, value) for column, value in row.items()] for row in shown.to_dict("records")]
    # Only long names wrap: ids, kinds and coordinates are copied into scenario files and must stay whole.
    widths = [max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(table.columns)]
    widths = [min(width, 30) if column == "name" else width for column, width in zip(table.columns, widths)]
    for column, width in zip(table.columns, widths):
        out.add_column(column, justify="left" if column in ("name", "kind", "category") else "right",
                       min_width=width, no_wrap=column != "name")
    for row in rows:
        out.add_row(*row)
    needed = sum(widths) + 3 * len(widths) + 1
    (console if console.width >= needed else Console(soft_wrap=True, width=needed)).print(out)


def _cell(column: str, value: Any) -> str:
    """A table cell: coordinates to 6 decimals, areas and distances to the metre, no 'nan' for a missing name."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return ""
        if column in ("lon", "lat"):
            return f"{value:.6f}"
        return f"{value:,.0f}" if column in ("area_m2", "distance_m") else f"{value:g}"
    if value is None:
        return "hidden" if column == "households" else ""
    return words.printable(value)


@app.command()
@user_errors
def build(
    osm: Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm or .xml.")],
    out: Annotated[Path, typer.Option("--out", help="Twin folder to write.")],
    name: Annotated[Optional[str], typer.Option(help="Twin name (default: the folder name).")] = None,
    crs: Annotated[Optional[str], typer.Option(help="Metric CRS, e.g. EPSG:3067 (default: UTM zone).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 0,
    residents: Annotated[Optional[int], typer.Option(
        min=1, help="Residents of a synthetic population; their ages from --age-shares or --calibration.")] = None,
    age_shares: Annotated[Optional[str], typer.Option(
        help="Age shares of the synthetic population: 0-9=0.07,10-19=0.05,...,80+=0.03 (every band).")] = None,
    calibration: Annotated[Optional[str], typer.Option(
        help="A shipped calibration: helsinki-centre (central Helsinki, HSY 2015: 10,287 residents and their age "
             "shares; with --residents, only the age shares).")] = None,
    population_grid: Annotated[Optional[Path], typer.Option(
        help="Population grid to disaggregate instead of a synthetic population.")] = None,
    grid_format: Annotated[str, typer.Option(help="Column names of the grid: hsy2015.")] = "hsy2015",
    grid_crs: Annotated[Optional[str], typer.Option(help="The grid's CRS if its file lacks an EPSG code.")] = None,
    dem: Annotated[Optional[Path], typer.Option(help="Elevation GeoTIFF.")] = None,
    dem_crs: Annotated[Optional[str], typer.Option(help="The DEM's CRS if its file lacks one.")] = None,
    gtfs: Annotated[Optional[Path], typer.Option(help="GTFS feed (zip or folder) for the transit mode.")] = None,
    gtfs_date: Annotated[Optional[str], typer.Option(
        help="The feed's service date to use, YYYY-MM-DD (default: its busiest).")] = None,
    gtfs_licence: Annotated[Optional[str], typer.Option(
        help="The feed's licence and credit, e.g. 'CC BY 4.0 (© HSL)': GTFS does not carry one.")] = None,
) -> None:
    """Build a twin folder from your own files, once, to load it later by path. The population is your choice:
    --population-grid, --calibration helsinki-centre, or --residents with --age-shares or --calibration."""
    from . import population
    from .build import PopulationGrid, build_twin
    from .twin import save_twin

    formats = {"hsy2015": population.HSY_2015}
    if grid_format not in formats:
        raise typer.BadParameter(f"unknown '{grid_format}'; expected one of {', '.join(formats)}",
                                 param_hint="--grid-format")
    grid = None if population_grid is None else PopulationGrid(population_grid, formats[grid_format], grid_crs)
    shares = _population_choice(grid is not None, residents, age_shares, calibration)
    _check_out(out)
    with errors.status("building twin...") as status:
        twin = build_twin(osm, name=name or out.name, crs=crs, seed=seed, grid=grid, calibration=calibration,
                          residents=residents, age_shares=shares, dem=dem, dem_crs=dem_crs, gtfs=gtfs,
                          gtfs_date=gtfs_date, gtfs_licence=gtfs_licence, progress=_progress(status))
        save_twin(twin, out)
    console.print(f"wrote {out} (fingerprint {twin.fingerprint()}); `sandbox info {out}` shows it")


def _population_choice(grid: bool, residents: int | None, age_shares: str | None,
                       calibration: str | None) -> dict[str, float] | None:
    """Check that `sandbox build` was told where its population comes from (nothing is assumed); the parsed
    --age-shares."""
    from .population import CALIBRATIONS, parse_age_shares

    names = "|".join(CALIBRATIONS)
    if grid:
        if residents is not None or age_shares is not None or calibration is not None:
            raise SandboxError("--population-grid brings its own residents and ages; drop --residents, "
                               "--age-shares and --calibration")
        return None
    if calibration is not None and calibration not in CALIBRATIONS:
        raise SandboxError(f"--calibration: unknown '{calibration}'; expected one of {', '.join(CALIBRATIONS)}")
    if residents is None and age_shares is None and calibration is None:
        raise SandboxError(f"no population chosen; pass --population-grid FILE, --calibration {names} (its "
                           "residents and age shares), or --residents N with --age-shares 0-9=...,80+=... or "
                           f"--calibration {names} (its age shares)")
    if age_shares is not None and calibration is not None:
        raise SandboxError("--age-shares and --calibration both give age shares; pass one of them")
    if residents is None and age_shares is not None:
        raise SandboxError("--age-shares needs --residents N")
    if residents is not None and age_shares is None and calibration is None:
        raise SandboxError(f"--residents {residents} needs age shares; add --age-shares 0-9=...,80+=... or "
                           f"--calibration {names}")
    try:
        return None if age_shares is None else parse_age_shares(age_shares)
    except SandboxError as exc:
        raise SandboxError(f"--age-shares{str(exc).removeprefix('age shares')}") from None



# Transit options, shared by access, matrix and isochrones (used only with --mode transit).
Departure = Annotated[str, typer.Option(help="transit: first departure, HH:MM or YYYY-MM-DDTHH:MM (the "
                                             "timetable's service date).")]
WindowMin = Annotated[float, typer.Option(help="transit: minutes of departures, one a minute.")]
Percentile = Annotated[float, typer.Option(help="transit: percentile of the travel times over the departures "
                                                "(50 = median).")]
MaxWalkMin = Annotated[float, typer.Option(help="transit: longest walk to or from a stop, minutes.")]
MaxTransfers = Annotated[int, typer.Option(help="transit: most transfers in a trip.")]


@app.command()
@user_errors
def access(
    to: Annotated[str, typer.Option(help="Destination: parks, transit_stops, a facility kind (care, grocery, "
                                         "school, library, elderly_centre, ...) or a transit mode (tram, bus, ...).")],
    group: Annotated[str, typer.Option(help="Group to map: all, elderly, elderly_alone, children or a boolean "
                                            "household column.")] = "elderly",
    minutes: Annotated[list[float], typer.Option(help="Time threshold(s) in minutes; repeat for several.")] = [10.0],
    mode: Annotated[str, typer.Option(help="walk, bike, drive or transit.")] = "walk",
    measure: Annotated[str, typer.Option(help="nearest, within or supply.")] = "within",
    capacity: Annotated[Optional[str], typer.Option(
        help="Column to sum (within) or share out (supply), e.g. area_m2 for parks, capacity for facilities.")] = None,
    twin: Annotated[str, typer.Option(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    out: Annotated[Optional[Path], typer.Option(help="Folder to write (default runs/access-<to>-<group>).")] = None,
    k: Annotated[int, typer.Option(min=1, help="Hide zones with fewer households than this.")] = 5,
    departure: Departure = "08:00", window_min: WindowMin = 60, percentile: Percentile = 50,
    max_walk_min: MaxWalkMin = 15, max_transfers: MaxTransfers = 3,
) -> None:
    """Map who can reach what: writes access.html (offline map), access.gpkg and access.csv."""
    from .access import DEFAULT_GROUPS, compute
    from .output.folders import write_access
    from .run import package_versions

    out = out or Path("runs") / f"access-{to}-{group}"
    _check_out(out)
    loaded = _load(twin)
    groups = list(dict.fromkeys([*DEFAULT_GROUPS, group]))
    with errors.status(f"computing {measure} access to {to}..."):
        ds = compute(loaded, measure, to, mode=mode, minutes=sorted(minutes), groups=groups, capacity=capacity,
                     transit=_transit(departure, window_min, percentile, max_walk_min, max_transfers))
        folder = write_access(out, loaded, ds, group=group, k=k, versions=package_versions())
    summary = ds["share_not_reaching"].sel(group=group)
    thresholds = summary["minutes"].to_numpy() if "minutes" in summary.dims else [ds["minutes"].to_numpy()[-1]]
    shares = [1 - float(summary.sel(minutes=m).item() if "minutes" in summary.dims else summary.item())
              for m in thresholds]
    reach = ", ".join(f"{share:.0%} within {m:g} minutes" for share, m in zip(shares, thresholds))
    console.print(f"{words.group(group).capitalize()} reaching {words.destination(to)} {words.mode(mode)}: {reach}")
    if "transit_times" in ds.attrs:
        console.print(f"transit times: {ds.attrs['transit_times']}")
    console.print(f"wrote {folder}/access.html, access.gpkg, access.csv")


@app.command()
@user_errors
def matrix(
    origins: Annotated[str, typer.Option("--from", help="Origins: zones (their centres), a destination name "
                                                        "(care, parks, ...) or a vector file of points.")],
    destinations: Annotated[str, typer.Option("--to", help="Destinations, as --from.")],
    mode: Annotated[str, typer.Option(help="walk, bike, drive or transit.")] = "walk",
    max_minutes: Annotated[Optional[float], typer.Option(min=0, help="Leave out longer trips (empty cells).")] = None,
    twin: Annotated[str, typer.Option(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    out: Annotated[Optional[Path], typer.Option(help="Folder to write (default runs/matrix-<from>-<to>-<mode>).")
                   ] = None,
    departure: Departure = "08:00", window_min: WindowMin = 60, percentile: Percentile = 50,
    max_walk_min: MaxWalkMin = 15, max_transfers: MaxTransfers = 3,
) -> None:
    """Travel times between every origin and destination: matrix.parquet, a long table (from_id, to_id,
    travel_time_s), like r5py's TravelTimeMatrix."""
    from .access import travel_times
    from .output.folders import write_matrix

    out = out or Path("runs") / f"matrix-{_slug(origins)}-{_slug(destinations)}-{mode}"
    _check_out(out)
    loaded = _load(twin)
    options = _transit(departure, window_min, percentile, max_walk_min, max_transfers)
    start, end = _points(loaded, origins, "--from"), _points(loaded, destinations, "--to")
    with errors.status(f"timing {len(start):,} x {len(end):,} trips {words.mode(mode)}..."):
        table = travel_times(loaded, start, end, mode=mode, max_minutes=max_minutes, transit=options)
        write_matrix(out, table, {"from": origins, "to": destinations, "mode": mode, "max_minutes": max_minutes,
                                  "twin": loaded.name, "twin_fingerprint": loaded.fingerprint(),
                                  "rows": len(table), "reached": int(table.travel_time_s.notna().sum())})
    console.print(f"{int(table.travel_time_s.notna().sum()):,} of {len(table):,} pairs reached {words.mode(mode)}")
    console.print(f"wrote {out}/matrix.parquet")


@app.command()
@user_errors
def isochrones(
    origin: Annotated[str, typer.Option("--from", help="lon,lat of the origin, or a destination name (from any "
                                                       "of its features).")],
    minutes: Annotated[list[float], typer.Option(help="Time threshold(s) in minutes; repeat for several.")] = [
        5.0, 10.0, 15.0],
    mode: Annotated[str, typer.Option(help="walk, bike, drive or transit.")] = "walk",
    twin: Annotated[str, typer.Option(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    out: Annotated[Optional[Path], typer.Option(help="Folder to write (default runs/isochrones-<mode>).")] = None,
    departure: Departure = "08:00", window_min: WindowMin = 60, percentile: Percentile = 50,
    max_walk_min: MaxWalkMin = 15, max_transfers: MaxTransfers = 3,
) -> None:
    """The areas reachable within each threshold, as polygons: isochrones.gpkg and isochrones.parquet."""
    from .access import isochrones as reachable
    from .output.folders import write_isochrones

    out = out or Path("runs") / f"isochrones-{mode}"
    _check_out(out)
    loaded = _load(twin)
    where = _lonlat(origin) if any(c.isdigit() for c in origin) else origin
    with errors.status(f"mapping what is reachable {words.mode(mode)}..."):
        frame = reachable(loaded, where, minutes=sorted(minutes), mode=mode,
                          transit=_transit(departure, window_min, percentile, max_walk_min, max_transfers))
        write_isochrones(out, frame, {"from": origin, "mode": mode, "minutes": sorted(minutes), "twin": loaded.name,
                                      "twin_fingerprint": loaded.fingerprint()})
    for row in frame.itertuples():
        console.print(f"within {row.minutes:g} min {words.mode(mode)}: {row.area_m2 / 1e6:.2f} km2")
    console.print(f"wrote {out}/isochrones.gpkg, isochrones.parquet")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in Path(text).stem)[:40] or "points"


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not lon,lat; expected e.g. 24.94,60.17", param_hint="--from") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise typer.BadParameter(f"'{text}' is outside lon -180..180, lat -90..90", param_hint="--from")
    return lon, lat


def _points(twin: Any, spec: str, option: str) -> Any:
    """Origins or destinations: zone centres, a destination layer or kind, or a vector file (GeoPackage,
    GeoJSON, GeoParquet) whose CRS is set."""
    import geopandas as gpd
    import pyogrio

    from ._errors import DataError
    from .access import destination_names, destinations

    if spec == "zones":
        zones = twin.layers["zones"]
        return gpd.GeoDataFrame(geometry=zones.geometry.centroid, crs=zones.crs)
    if spec in destination_names(twin):
        return destinations(twin, spec)
    path = Path(spec)
    if not path.is_file():
        raise DataError(f"{option} {spec}: neither zones, a destination ({', '.join(destination_names(twin))}) "
                        "nor a file")
    try:
        frame = gpd.read_parquet(path) if path.suffix == ".parquet" else pyogrio.read_dataframe(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same user error: not a vector file
        raise DataError(f"{option} {spec}: cannot be read as a vector file ({exc}); expected GeoPackage, "
                        "GeoJSON or GeoParquet") from None
    if frame.crs is None:
        raise DataError(f"{option} {spec}: has no CRS; set one (e.g. EPSG:4326 for lon/lat)")
    if "id" in frame.columns and frame["id"].is_unique:
        frame = frame.set_index("id")
    return frame


def _transit(departure: str, window_min: float, percentile: float, max_walk_min: float, max_transfers: int) -> Any:
    """The transit options, or a one-line error naming the option."""
    from pydantic import ValidationError

    from .transit import TransitOptions

    try:
        return TransitOptions(departure=departure, window_min=window_min, percentile=percentile,
                              max_walk_min=max_walk_min, max_transfers=max_transfers)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise typer.BadParameter(error["msg"].removeprefix("Value error, "),
                                 param_hint=f"--{str(error['loc'][0]).replace('_', '-')}") from None


def _print_problems(error: SandboxError) -> None:
    for line in getattr(error, "problems", None) or str(error).splitlines():
        print(f"error: {words.printable(line)}", file=sys.stderr)


def _print_warnings(warnings: list[str]) -> None:
    """What a plan does that the planner probably did not mean: on stderr, but not a failure (exit code 0)."""
    for line in warnings:
        print(f"warning: {words.printable(line)}", file=sys.stderr)


def _say(text: str, *, bold: str = "") -> None:
    """One line on stdout with the user's text shown as it is (control characters escaped, no rich markup);
    ``bold`` goes first, in bold."""
    head = f"[bold]{escape(words.printable(bold))}[/bold]" if bold else ""
    console.print(head + escape(words.printable(text)), markup=True)


ALLOW_PATH_HELP = ("A folder the scenario's files (area_file, raster_file, damage_curve, twin folder) may also lie in; "
                   "by default only the scenario's own folder. Repeat for several.")


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    allow_path: Annotated[Optional[list[Path]], typer.Option("--allow-path", help=ALLOW_PATH_HELP)] = None,
) -> None:
    """Validate scenarios and dry-run their interventions on the twin, without computing indicators."""
    from .run import check as plan_scenario
    from .scenarios.load import load_scenario

    failed = False
    for path in files:
        try:
            planned = plan_scenario(load_scenario(path, allow_paths=allow_path or ()))
        except SandboxError as exc:
            _print_problems(exc)
            failed = True
            continue
        problems, scenario = planned.problems, planned.scenario
        for line in problems:
            print(f"error: {words.printable(line)}", file=sys.stderr)
        _print_warnings(planned.warnings)
        failed |= bool(problems)
        status = "problems" if problems else "ok"
        _say(f": {status}: {len(scenario.interventions)} intervention(s), {len(scenario.indicators)} indicator(s)",
             bold=str(path))
        for note in planned.notes:
            _say(f"  {note}")
    if failed:
        raise typer.Exit(2)


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    out: Annotated[Path, typer.Option(help="Folder for run folders (one per scenario, named after it).")] = Path("runs"),
    allow_microdata: Annotated[bool, typer.Option("--allow-microdata",
                                                  help="Also write household-level values.")] = False,
    allow_path: Annotated[Optional[list[Path]], typer.Option("--allow-path", help=ALLOW_PATH_HELP)] = None,
) -> None:
    """Run scenarios: writes <out>/<name>/ with report.html, layers.gpkg, results.nc, indicators.csv,
    summary.json and manifest.json."""
    from ._errors import writing
    from .output.summary import figures
    from .run import run_scenario
    from .scenarios.load import load_scenario

    try:
        _check_out(out, replace=False)
    except SandboxError as exc:
        _print_problems(exc)
        raise typer.Exit(2) from None
    failed = False
    for path in files:
        try:
            scenario = load_scenario(path, allow_paths=allow_path or ())
            with errors.status(f"running {scenario.name}...") as status:
                result = run_scenario(scenario, progress=_progress(status))
                with writing(out / scenario.name):  # a full disk is one line too, and leaves nothing behind
                    folder = result.write(out / scenario.name, allow_microdata=allow_microdata or None)
        except SandboxError as exc:
            _print_problems(exc)
            failed = True
            continue
        _print_warnings(result.plan.warnings)
        _say(f": wrote {folder}/report.html", bold=scenario.name)
        summary = result.summary()
        for line in summary["headlines"]:
            _say(f"  {line}")
        for key, item in summary["indicators"].items():
            _say(f"  {key}: {item['what']}")
            for group, row in item["groups"].items():
                _say(f"    {words.group(group)}: {figures(item, row, result.k)}")
    if failed:
        raise typer.Exit(2)


@app.command()
@user_errors
def sweep(
    file: Annotated[Path, typer.Argument(help="A scenario YAML file with a sweep: (paths to lists of values).")],
    workers: Annotated[Optional[int], typer.Option(
        min=1, help="Workers of the local Dask cluster started for the sweep (default: one per CPU).")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Run on an existing Dask cluster instead: its scheduler's address, e.g. tcp://10.0.0.5:8786.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the sweep's folder (named after the scenario).")] = Path("runs"),
    allow_path: Annotated[Optional[list[Path]], typer.Option("--allow-path", help=ALLOW_PATH_HELP)] = None,
) -> None:
    """Run a scenario over every value of its sweep on Dask: writes <out>/<name>/ with results.nc (the swept keys
    as dimensions), sweep.csv, report.html (curves, where a limit is crossed) and manifest.json. An interrupted
    sweep continues from the members already written when run again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .scenarios.load import load_scenario
    from .sweep import require_sweep, run_sweep, work_folder

    _check_out(out, replace=False)
    scenario = load_scenario(file, allow_paths=allow_path or ())
    require_sweep(scenario)
    columns = (TextColumn("[bold]members"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=False) as progress:
        task = progress.add_task("members", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        def say(line: str) -> None:
            progress.console.print(escape(words.printable(line)), soft_wrap=True)

        try:
            result = run_sweep(scenario, out=out, workers=workers, scheduler=scheduler, say=say, advance=advance)
        except KeyboardInterrupt:
            progress.stop()
            print(f"interrupted: the members finished so far are kept in {work_folder(out, scenario.name)}; run the "
                  "same command again to continue", file=sys.stderr)
            raise typer.Exit(130) from None
    for line in result.sentences:
        _say(f"  {line}")
    timings = result.manifest["timings_s"]
    ran = len(result.manifest["members"]) - result.resumed
    _say(f": wrote {result.folder}/report.html, results.nc, sweep.csv ({ran} members run, {result.resumed} from an "
         f"earlier run; {timings['total_s']:.1f} s)", bold=scenario.name)


@app.command()
@user_errors
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders written by `sandbox run`.")],
    out: Annotated[Path, typer.Option(help="Folder to write compare.html and compare.csv to.")] = Path(
        "runs/comparison"),
    force: Annotated[bool, typer.Option("--force", help="Compare even if twins, seeds or versions differ.")] = False,
) -> None:
    """Put several scenario runs side by side: one table, one map per indicator with a scenario selector."""
    from .catalog import load_twin
    from .output.folders import write_comparison
    from .output.report import render_comparison
    from .run import compare_runs

    _check_out(out)
    comparison = compare_runs(runs, force=force)
    twin = load_twin(comparison.twin_reference)
    page = render_comparison(comparison.results, twin, names=comparison.names,
                             summaries=comparison.summaries, k=comparison.k)
    folder = write_comparison(out, page=page, results=comparison.results)
    _say(f"compared {', '.join(comparison.names)}: wrote {folder}/compare.html")


cache_app = typer.Typer(no_args_is_help=True, help="The cache of built twins and compiled kernels: where it is, "
                                                   "what it holds; clear it.")
app.add_typer(cache_app, name="cache")


def _cache_source() -> str:
    import os

    if os.environ.get("SANDBOX_CACHE"):
        return "from SANDBOX_CACHE"
    return "the user cache folder" + (" (from XDG_CACHE_HOME)" if os.environ.get("XDG_CACHE_HOME") else "") + \
        "; set SANDBOX_CACHE to move it"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@cache_app.command("info")
@user_errors
def cache_info(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Where the cache is and what it holds: built twins (current or left by an older version), compiled kernels."""
    from .catalog import cache_dir, cache_entries

    entries = [entry for entry in cache_entries() if entry["kind"] != "locks"]
    if as_json:
        print(json.dumps({"cache_dir": str(cache_dir()), "entries": entries}, indent=2))
        return
    console.print(f"cache: {cache_dir()} ({_cache_source()})", markup=False)
    if not entries:
        console.print("empty", markup=False)
        return
    table = Table()
    for column in ("entry", "what", "size"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for entry in entries:
        what = entry.get("what") or (f"twin {entry['twin']}, fingerprint {entry['fingerprint']}"
                                     + ("" if entry["current"] else " (stale: built by another version)"))
        table.add_row(Path(entry["path"]).name, what, _megabytes(entry["size_bytes"]))
    console.print(table)
    console.print(f"total {_megabytes(sum(entry['size_bytes'] for entry in entries))}; "
                  "`sandbox cache clear` deletes it all (twins are rebuilt when next needed)", markup=False)


@cache_app.command("clear")
@user_errors
def cache_clear() -> None:
    """Delete the built twins and compiled kernels (rebuilt when next needed); other files there are kept."""
    from .catalog import cache_dir, clear_cache

    removed = clear_cache()
    console.print(f"removed {len(removed)} entries ({_megabytes(sum(e['size_bytes'] for e in removed))}) "
                  f"from {cache_dir()}", markup=False)
