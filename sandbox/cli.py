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
from rich.table import Table

from . import words
from ._errors import SandboxError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Urban digital-twin scenario sandbox: what-if scenarios, accessibility, floods.")
console = Console(soft_wrap=True)
errors = Console(stderr=True)


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
    rows = [[_cell(column, value) for column, value in row.items()] for row in table.to_dict("records")]
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
    return "" if value is None else str(value)


@app.command()
@user_errors
def build(
    osm: Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm or .xml.")],
    out: Annotated[Path, typer.Option("--out", help="Twin folder to write.")],
    name: Annotated[Optional[str], typer.Option(help="Twin name (default: the folder name).")] = None,
    crs: Annotated[Optional[str], typer.Option(help="Metric CRS, e.g. EPSG:3067 (default: UTM zone).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 0,
    residents: Annotated[Optional[int], typer.Option(
        min=1, help="Residents of the synthetic population (default: central Helsinki's 10,287).")] = None,
    population_grid: Annotated[Optional[Path], typer.Option(
        help="Population grid to disaggregate instead of the synthetic default.")] = None,
    grid_format: Annotated[str, typer.Option(help="Column names of the grid: hsy2015.")] = "hsy2015",
    grid_crs: Annotated[Optional[str], typer.Option(help="The grid's CRS if its file lacks an EPSG code.")] = None,
    dem: Annotated[Optional[Path], typer.Option(help="Elevation GeoTIFF.")] = None,
    dem_crs: Annotated[Optional[str], typer.Option(help="The DEM's CRS if its file lacks one.")] = None,
) -> None:
    """Build a twin folder from your own files, once, to load it later by path."""
    from . import population
    from .build import PopulationGrid, build_twin
    from .twin import save_twin

    formats = {"hsy2015": population.HSY_2015}
    if grid_format not in formats:
        raise typer.BadParameter(f"unknown '{grid_format}'; expected one of {', '.join(formats)}",
                                 param_hint="--grid-format")
    grid = None if population_grid is None else PopulationGrid(population_grid, formats[grid_format], grid_crs)
    calibration = population.HELSINKI_CENTRE
    if residents is not None:
        calibration = population.Calibration(residents=residents, age_shares=calibration.age_shares,
                                             source=f"{residents} residents given by the user; age shares of "
                                                    f"{calibration.source}")
    with errors.status("building twin...") as status:
        twin = build_twin(osm, name=name or out.name, crs=crs, seed=seed, calibration=calibration, grid=grid,
                          dem=dem, dem_crs=dem_crs, progress=_progress(status))
        save_twin(twin, out)
    console.print(f"wrote {out} (fingerprint {twin.fingerprint()}); `sandbox info {out}` shows it")



@app.command()
@user_errors
def access(
    to: Annotated[str, typer.Option(help="Destination: parks, transit_stops, a facility kind (care, grocery, "
                                         "school, library, elderly_centre, ...) or a transit mode (tram, bus, ...).")],
    group: Annotated[str, typer.Option(help="Group to map: all, elderly, elderly_alone, children or a boolean "
                                            "household column.")] = "elderly",
    minutes: Annotated[list[float], typer.Option(help="Time threshold(s) in minutes; repeat for several.")] = [10.0],
    mode: Annotated[str, typer.Option(help="walk, bike or drive.")] = "walk",
    measure: Annotated[str, typer.Option(help="nearest, within or supply.")] = "within",
    capacity: Annotated[Optional[str], typer.Option(
        help="Column to sum (within) or share out (supply), e.g. area_m2 for parks, capacity for facilities.")] = None,
    twin: Annotated[str, typer.Option(help="A named twin (helsinki) or a twin folder.")] = "helsinki",
    out: Annotated[Optional[Path], typer.Option(help="Folder to write (default runs/access-<to>-<group>).")] = None,
    k: Annotated[int, typer.Option(min=1, help="Hide zones with fewer households than this.")] = 5,
) -> None:
    """Map who can reach what: writes access.html (offline map), access.gpkg and access.csv."""
    from .access import DEFAULT_GROUPS, compute
    from .output.folders import write_access
    from .run import package_versions

    loaded = _load(twin)
    groups = list(dict.fromkeys([*DEFAULT_GROUPS, group]))
    with errors.status(f"computing {measure} access to {to}..."):
        ds = compute(loaded, measure, to, mode=mode, minutes=sorted(minutes), groups=groups, capacity=capacity)
        folder = write_access(out or Path("runs") / f"access-{to}-{group}", loaded, ds, group=group, k=k,
                              versions=package_versions())
    summary = ds["share_not_reaching"].sel(group=group)
    thresholds = summary["minutes"].to_numpy() if "minutes" in summary.dims else [ds["minutes"].to_numpy()[-1]]
    shares = [1 - float(summary.sel(minutes=m).item() if "minutes" in summary.dims else summary.item())
              for m in thresholds]
    reach = ", ".join(f"{share:.0%} within {m:g} minutes" for share, m in zip(shares, thresholds))
    console.print(f"{words.group(group).capitalize()} reaching {words.destination(to)} {words.mode(mode)}: {reach}")
    console.print(f"wrote {folder}/access.html, access.gpkg, access.csv")


def _print_problems(error: SandboxError) -> None:
    for line in getattr(error, "problems", None) or str(error).splitlines():
        print(f"error: {line}", file=sys.stderr)


def _print_warnings(warnings: list[str]) -> None:
    """What a plan does that the planner probably did not mean: on stderr, but not a failure (exit code 0)."""
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Validate scenarios and dry-run their interventions on the twin, without computing indicators."""
    from .run import check as plan_scenario

    failed = False
    for path in files:
        try:
            planned = plan_scenario(path)
        except SandboxError as exc:
            _print_problems(exc)
            failed = True
            continue
        problems, scenario = planned.problems, planned.scenario
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        _print_warnings(planned.warnings)
        failed |= bool(problems)
        status = "problems" if problems else "ok"
        console.print(f"[bold]{path}[/bold]: {status}: {len(scenario.interventions)} intervention(s), "
                      f"{len(scenario.indicators)} indicator(s)", markup=True)
        for note in planned.notes:
            console.print(f"  {note}", markup=False)
    if failed:
        raise typer.Exit(2)


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
    out: Annotated[Path, typer.Option(help="Folder for run folders (one per scenario, named after it).")] = Path("runs"),
    allow_microdata: Annotated[bool, typer.Option("--allow-microdata",
                                                  help="Also write household-level values.")] = False,
) -> None:
    """Run scenarios: writes <out>/<name>/ with report.html, layers.gpkg, results.nc, indicators.csv,
    summary.json and manifest.json."""
    from .output.summary import figures
    from .run import run_scenario
    from .scenarios.load import load_scenario

    failed = False
    for path in files:
        try:
            scenario = load_scenario(path)
            with errors.status(f"running {scenario.name}...") as status:
                result = run_scenario(scenario, progress=_progress(status))
                folder = result.write(out / scenario.name, allow_microdata=allow_microdata or None)
        except SandboxError as exc:
            _print_problems(exc)
            failed = True
            continue
        _print_warnings(result.plan.warnings)
        console.print(f"[bold]{scenario.name}[/bold]: wrote {folder}/report.html")
        summary = result.summary()
        for line in summary["headlines"]:
            console.print(f"  {line}", markup=False)
        for key, item in summary["indicators"].items():
            console.print(f"  {key}: {item['what']}", markup=False)
            for group, row in item["groups"].items():
                console.print(f"    {words.group(group)}: {figures(item, row, result.k)}", markup=False)
    if failed:
        raise typer.Exit(2)


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

    comparison = compare_runs(runs, force=force)
    twin = load_twin(comparison.twin_reference)
    page = render_comparison(comparison.results, twin, names=comparison.names,
                             summaries=comparison.summaries, k=comparison.k)
    folder = write_comparison(out, page=page, results=comparison.results)
    console.print(f"compared {', '.join(comparison.names)}: wrote {folder}/compare.html")
