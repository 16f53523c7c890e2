"""The run report and the comparison page: offline HTML from jinja2 templates (``templates/``), headlines first,
then what changed, who gains and loses per measure, and the maps (one base map shared by every map of the page)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from .. import words
from ..results import BASELINE, SCENARIO, SIDES, indicator_names
from ..twin import Twin
from .maps import (MapPage, ZoneMap, ZoneTips, change_layers, change_scale, credits, destination_label,
                   destinations_of, overlay_layers, quantile_scale, scenario_maps, share_scale, tip_text, zone_map)
from .pages import render_page
from .summary import HIDDEN, number, value

Cell = dict[str, Any]  # {"text": str, "css": str, "rows": int}


def render_report(results: xr.DataTree, summary: dict, *, baseline: Twin, variant: Twin,
                  changes: gpd.GeoDataFrame, scenario_text: str) -> str:
    """The report page: headlines, what changed, the flood, per indicator a table of every group and threshold,
    maps of today, the scenario, the change and a swipe between the first two, the scenario file and credits."""
    keys = indicator_names(results)
    groups = [str(g) for g in results["group"].to_numpy()]
    page = MapPage(variant)
    made: dict[tuple[int, str], Any] = {}  # overlays per twin and destination, shared by every map of the page
    changed = change_layers(changes) if len(changes) else None
    for key in keys:
        to = results[key].attrs["to"]
        overlays = {}
        for side in SIDES:
            twin = baseline if side == BASELINE else variant
            if (id(twin), to) not in made:
                made[(id(twin), to)] = overlay_layers(twin, changed=changed, highlight=destinations_of(twin, to),
                                                      highlight_kind=destination_label(to))
            overlays[side] = made[(id(twin), to)]
        for group in groups:
            for minutes in results[key]["minutes"].to_numpy():
                maps = scenario_maps(results, key, group=group, minutes=float(minutes), baseline=baseline,
                                     variant=variant, changes=changes, overlays=overlays)
                for side, zone_map_ in maps.items():
                    page.add(f"{key}|{group}|{minutes:g}|{side}", zone_map_)
    thresholds = {key: [(f"{m:g}", f"{m:g} min") for m in results[key]["minutes"].to_numpy()] for key in keys}
    payload = page.payload(selects=["indicator", "group", "minutes", "view"],
                           dependent={"select": "minutes", "on": "indicator", "options": thresholds},
                           swipe={"select": "view", "value": "swipe", "left": BASELINE, "right": SCENARIO})
    default_group = "elderly" if "elderly" in groups else groups[0]
    first_key, first_minutes = first_map(summary, keys, default_group)
    return render_page(
        "report.html.j2", summary=summary, twin_name=baseline.name, fingerprint=baseline.fingerprint(),
        sections=[{"title": summary["indicators"][key]["what"], "head": table_head(summary["indicators"][key]),
                   "rows": table_rows(summary["indicators"][key], summary["k"])} for key in keys],
        flood=flood_context(summary), payload=payload, credits=credits(variant), scenario_text=scenario_text,
        controls=[("indicator", "Indicator", [(k, summary["indicators"][k]["what"]) for k in keys], first_key),
                  ("group", "Group", [(g, words.group(g)) for g in groups], default_group),
                  ("minutes", "Within", thresholds[first_key], first_minutes),
                  ("view", "Show", [("change", "change"), ("baseline", "today"), ("scenario", "with the scenario"),
                                    ("swipe", "today | with the scenario (swipe)")], "change")])


def first_map(summary: dict[str, Any], keys: list[str], group: str) -> tuple[str, str]:
    """The indicator and threshold the report's map opens on: where most of ``group`` cross a threshold (lose or
    gain reach), so that the first map shows what moved; else the first indicator's last threshold."""
    best, choice = 0, (keys[0], f"{summary['indicators'][keys[0]]['minutes'][-1]:g}")
    for key in keys:
        row = summary["indicators"][key]["groups"].get(group, {})
        for minutes, losing in row.get("residents_losing_reach", {}).items():
            moved = number(losing) + number(row["residents_gaining_reach"][minutes])
            if moved > best:
                best, choice = moved, (key, minutes)
    return choice


def people(count: Any, k: int) -> str:
    """A count of people or households; a hidden one reads "hidden" whether it is below ``k`` or hidden so that
    another cannot be worked out (saying which would tell which one is small)."""
    return "hidden" if count == HIDDEN else f"{count:,}"


def percent(share: float | None) -> str:
    return "hidden" if share is None else f"{share:.0%}"


def before_after(values: dict[str, Any], show: Any = value, unit: str = "") -> str:
    """'8.5 → 9.1 min'; a side that is not a number ('unreachable', hidden) goes without the unit."""
    def one(number: Any) -> str:
        return f"{show(number)} {unit}" if unit and isinstance(number, (int, float)) else str(show(number))

    return f"{one(values[BASELINE])} → {one(values[SCENARIO])}"


def points(values: dict[str, Any]) -> Cell:
    """The change of a share in percentage points, coloured only when it is a change at the shown precision."""
    before, after = values[BASELINE], values[SCENARIO]
    if before is None or after is None:
        return {"text": "", "css": ""}
    moved = round((after - before) * 100, 1)
    if moved == 0:
        return {"text": "no change", "css": ""}
    return {"text": f"{moved:+.1f} pp", "css": "gain" if moved > 0 else "loss"}


def counted(count: Any, k: int, css: str) -> Cell:
    """A count of people or households, coloured as a gain or a loss only when there is one."""
    return {"text": people(count, k), "css": css if isinstance(count, int) and count > 0 else ""}


def table_head(item: dict[str, Any]) -> list[str]:
    unit = item["units"]
    equity = ["households better off", "worse off", "unchanged", "displaced", "new"]
    if item["measure"] == "nearest":
        return ["group", "median time", "with no way at all", "within", "reach today", "with the scenario",
                "change", "residents losing reach", "gaining reach", "residents not reaching",
                "Gini of times (those who reach)", *equity]
    if item["measure"] == "within":
        return ["group", "within", f"median reachable ({unit})", "reach any today", "with the scenario", "change",
                "residents losing reach", "gaining reach", "Gini", *equity]
    return ["group", f"median per resident ({unit.replace(' per resident', '')})", "10th percentile (worst-served tenth)",
            "reach any today", "with the scenario", "change", "Gini", *equity]


def table_rows(item: dict[str, Any], k: int) -> list[list[Cell]]:
    """Per group one row per threshold; figures that belong to the group alone span its rows."""
    rows = []
    for group, row in item["groups"].items():
        thresholds = list(row["share_reaching"])
        span = len(thresholds)
        equity = [{**counted(row[what], k, css), "rows": span}
                  for what, css in (("gaining", "gain"), ("losing", "loss"), ("unchanged", ""), ("displaced", ""),
                                    ("new", ""))]
        for i, m in enumerate(thresholds):
            reach = row["share_reaching"][m]
            moved = [counted(row["residents_losing_reach"][m], k, "loss"),
                     counted(row["residents_gaining_reach"][m], k, "gain")]
            first = i == 0
            cells: list[Cell] = [{"text": words.group(group), "rows": span}] if first else []
            if item["measure"] == "nearest":
                if first:
                    cells += [{"text": before_after(row["median_minutes"], unit="min"), "rows": span},
                              {"text": before_after(row["share_unreachable"], percent), "rows": span}]
                cells += [{"text": f"{m} min"}, {"text": percent(reach[BASELINE])}, {"text": percent(reach[SCENARIO])},
                          points(reach), *moved,
                          {"text": before_after(row["residents_not_reaching"][m], lambda c: people(c, k))},
                          {"text": before_after(row["gini"], lambda g: "" if g is None else f"{g:.3f}")}]
            elif item["measure"] == "within":
                cells += [{"text": f"{m} min"}, {"text": before_after(row["median_reachable"][m])},
                          {"text": percent(reach[BASELINE])}, {"text": percent(reach[SCENARIO])}, points(reach),
                          *moved, {"text": before_after(row["gini"][m], lambda g: "" if g is None else f"{g:.3f}")}]
            else:
                cells += [{"text": before_after(row["median_per_resident"])},
                          {"text": before_after(row["p10_per_resident"])},
                          {"text": percent(reach[BASELINE])}, {"text": percent(reach[SCENARIO])}, points(reach),
                          {"text": before_after(row["gini"], lambda g: "" if g is None else f"{g:.3f}")}]
            rows.append(cells + (equity if first else []))
    return rows


def flood_context(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The flood's figures for the template, counts hidden below k as everywhere."""
    found = summary.get("flood")
    if not found:
        return None
    k = summary["k"]
    return {"buildings": found["buildings_flooded"], "damage": f"{found['damage_eur']:,}",
            "expected": None if found.get("expected_annual_damage_eur") is None
            else f"{found['expected_annual_damage_eur']:,}",
            "groups": [(words.group(g), *(people(r[n], k) for n in ("households_home_flooded", "residents_home_flooded",
                                                                    "households_stranded", "residents_stranded")))
                       for g, r in found["groups"].items()],
            "facilities_flooded": found["facilities_flooded"], "facilities_cut_off": found["facilities_cut_off"],
            "streets": [(words.mode(mode), f"{metres:,}") for mode, metres in found["streets_impassable_m"].items()]}


def render_comparison(results: xr.DataTree, twin: Twin, *, names: list[str], summaries: list[dict[str, Any]],
                      k: int) -> str:
    """Several scenarios side by side: per indicator, group and threshold the share reaching in each run (the same
    area-wide figure each run's report gives), what each scenario does, and maps of each run and its change."""
    keys = indicator_names(results)
    scenarios = [str(s) for s in results[keys[0]]["scenario"].to_numpy()]
    groups = [str(g) for g in results["group"].to_numpy()]
    rows = []
    page = MapPage(twin)
    for key in keys:
        node = results[key].to_dataset()
        described = node.attrs["long_name"]
        reach = 1 - node["share_not_reaching"]
        for group in groups:
            for minutes in node["minutes"].to_numpy():
                shares = reach.sel(group=group, minutes=minutes)
                rows.append([described, words.group(group), f"{minutes:g} min",
                             *(percent(None if np.isnan(v) else float(v)) for v in shares.sel(scenario=scenarios))])
            headline = node.attrs["headline"]
            supply = node.attrs["measure"] == "supply"
            unit = node[headline].attrs.get("units", "")
            for minutes in node["minutes"].to_numpy():
                values = node[headline].sel(group=group)
                if "minutes" in values.dims:
                    values = values.sel(minutes=minutes)
                for scenario in scenarios:
                    for show in ("value", "change"):
                        page.add(f"{key}|{group}|{minutes:g}|{scenario}|{show}",
                                 comparison_map(twin, values, scenario=scenario, show=show, supply=supply, unit=unit,
                                                title=f"{described}, {words.group(group)}", k=k))
    interventions = [(name, summary.get("interventions", [])) for name, summary in zip(names, summaries)]
    thresholds = {key: [(f"{m:g}", f"{m:g} min") for m in results[key]["minutes"].to_numpy()] for key in keys}
    payload = page.payload(selects=["indicator", "group", "minutes", "scenario", "show"],
                           dependent={"select": "minutes", "on": "indicator", "options": thresholds})
    default_group = "elderly" if "elderly" in groups else groups[0]
    return render_page(
        "compare.html.j2", names=names, twin_name=twin.name, k=k, scenarios=scenarios, rows=rows,
        interventions=interventions, payload=payload, credits=credits(twin),
        controls=[("indicator", "Indicator", [(key, results[key].attrs["long_name"]) for key in keys], keys[0]),
                  ("group", "Group", [(g, words.group(g)) for g in groups], default_group),
                  ("minutes", "Within", thresholds[keys[0]], thresholds[keys[0]][-1][0]),
                  ("scenario", "Scenario", [(s, s) for s in scenarios], scenarios[-1]),
                  ("show", "Show", [("change", "change against the baseline"), ("value", "value")], "change")])


def comparison_map(twin: Twin, values: xr.DataArray, *, scenario: str, show: str, supply: bool, unit: str,
                   title: str, k: int) -> ZoneMap:
    """One run's zones (``show`` value) or its change against the baseline, as the comparison page shows them."""
    data = values.sel(scenario=scenario)
    if show == "change":
        data = data - values.sel(scenario=BASELINE)
    series = data.to_pandas()
    if show == "change":
        scale = change_scale(series.to_numpy(), unit=unit, percent=not supply)
        figure = f"{{value:signed}} {tip_text(unit)}" if supply else "{value:pp}"
        legend = f"change ({unit if supply else 'percentage points'}; purple better, orange worse)"
    else:
        scale = quantile_scale(values.to_numpy().ravel(), unit="") if supply else share_scale()
        figure = f"{{value:g3}} {tip_text(unit)}" if supply else "{value:share}"
        legend = f"{title} ({unit if supply else '% of residents'})"
    hidden = "hidden, or no residents of the group"
    tips = ZoneTips(f"Zone {{zone:int}}: {figure}", f"Zone {{zone:int}}: {hidden}", {"value": series},
                    series.notna(), {"value": "mean"},
                    f"{{zones:int}} zones, {{hidden:int}} of them {hidden}: mean of the others {figure}",
                    f"{{zones:int}} zones, all {hidden}")
    heading = f"{scenario}: {title}" if show == "value" else f"{scenario} against the baseline: {title}"
    return zone_map(twin, series, tips, title=heading, legend_title=legend, scale=scale, k=k, overlays=([], []),
                    value_field="value")
