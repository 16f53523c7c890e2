"""The run report: one offline HTML page with what changed, who gains and loses, and the maps."""

from __future__ import annotations

import html
import json
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from .. import words
from ..access import destination_names, destinations
from ..results import SIDES, indicator_names
from ..twin import Twin
from .maps import (MAP_CSS, TOOLTIP, base_layers, bundle, change_scale, credits, deck_spec, layer_spec,
                   overlay_layers, quantile_scale, scenario_map, script_json, share_scale, view_state, zone_map)

STYLE = MAP_CSS + """
  body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px 20px 40px; }
  h1 { font-size: 24px; margin: 8px 0 4px; } h2 { font-size: 19px; margin-top: 28px; }
  .lead { font-size: 15px; color: #444; }
  table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
  th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .gain { color: #05609f; font-weight: 600; } .loss { color: #b2182b; font-weight: 600; }
  #map-wrap { position: relative; height: 620px; border: 1px solid #ccc; border-radius: 6px; overflow: hidden; }
  #map-title { top: 8px; left: 8px; max-width: 520px; font-size: 14px; font-weight: 600; }
  .controls { margin: 8px 0; font-size: 14px; } .controls select { font-size: 14px; margin-right: 12px; }
  pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }
  .small { font-size: 12px; color: #555; }
"""

SCRIPT = """
const base = {base};
const variants = {variants};
const overlays = {overlays};
const pick = (id) => document.getElementById(id);
function key() {{ return [pick("indicator").value, pick("group").value, pick("view").value].join("|"); }}
function compose(k) {{
  const extra = (variants[k].overlays || []).map((name) => overlays[name]);
  return Object.assign({{}}, base, {{layers: base.layers.concat(variants[k].layers, extra)}});
}}
const deckInstance = createDeck({{container: pick("deck-container"), jsonInput: compose(key()), tooltip: {tooltip}}});
function show() {{
  const k = key();
  updateDeck(compose(k), deckInstance);
  pick("map-title").textContent = variants[k].title;
  pick("legend").innerHTML = variants[k].legend;
}}
["indicator", "group", "view"].forEach((id) => pick(id).addEventListener("change", show));
show();
"""


def _percent(value: float | None) -> str:
    return "hidden" if value is None else f"{value:.0%}"


def _count(value: Any) -> str:
    return "fewer than k" if value == "suppressed" else f"{value:,}"


def _change(before: float | None, after: float | None) -> tuple[str, str]:
    if before is None or after is None:
        return "", ""
    points = (after - before) * 100
    return f"{points:+.1f} pp", ("gain" if points >= 0.05 else "loss" if points <= -0.05 else "")


def _gini(values: dict) -> str:
    before, after = values["baseline"], values["scenario"]
    return "" if before is None or after is None else f"{before:.3f} &rarr; {after:.3f}"


def equity_table(summary: dict, key: str) -> str:
    """Per group and threshold: reach before and after, residents not reaching, Gini; per group: households
    better and worse off."""
    rows = []
    item = summary["indicators"][key]
    for group, row in item["groups"].items():
        thresholds = list(row["share_reaching"])
        for i, minutes in enumerate(thresholds):
            reach = row["share_reaching"][minutes]
            change, css = _change(reach["baseline"], reach["scenario"])
            missing = row["residents_not_reaching"][minutes]
            gini = row["gini"].get(minutes, row["gini"].get("all"))
            counts = "".join(f'<td rowspan="{len(thresholds)}" class="{c}">{_count(row[what])}</td>'
                             for what, c in (("gaining", "gain"), ("losing", "loss"), ("unchanged", ""),
                                             ("displaced", ""), ("new", ""))) if i == 0 else ""
            label = (f'<td rowspan="{len(thresholds)}">{html.escape(words.group(group))}</td>' if i == 0 else "")
            rows.append(f"<tr>{label}<td>{minutes} min</td><td>{_percent(reach['baseline'])}</td>"
                        f"<td>{_percent(reach['scenario'])}</td><td class=\"{css}\">{change}</td>"
                        f"<td>{_count(missing['baseline'])} &rarr; {_count(missing['scenario'])}</td>"
                        f"<td>{_gini(gini)}</td>{counts}</tr>")
    head = ("<tr><th>group</th><th>within</th><th>reach today</th><th>reach with the scenario</th><th>change</th>"
            "<th>residents not reaching</th><th>Gini (0 = equal)</th><th>households better off</th>"
            "<th>worse off</th><th>unchanged</th><th>displaced</th><th>new</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def headline(summary: dict, key: str) -> str:
    """One sentence for the group and threshold whose reach moves most."""
    item = summary["indicators"][key]
    moves = [((r["share_reaching"][m]["scenario"] or 0) - (r["share_reaching"][m]["baseline"] or 0), g, m)
             for g, r in item["groups"].items() for m in r["share_reaching"]]
    _, group, minutes = max(moves, key=lambda move: abs(move[0]))
    row = item["groups"][group]
    reach = row["share_reaching"][minutes]
    return (f"{words.group(group).capitalize()}: {_percent(reach['baseline'])} reach within {minutes} min today, "
            f"{_percent(reach['scenario'])} with the scenario ({item['what']}); "
            f"{_count(row['gaining'])} households better off, {_count(row['losing'])} worse off.")


def flood_section(summary: dict) -> str:
    """What the water reaches: homes and people by group, facilities, streets, damage."""
    found = summary.get("flood")
    if not found:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(words.group(group))}</td><td>{_count(row['households_home_flooded'])}</td>"
        f"<td>{_count(row['residents_home_flooded'])}</td><td>{_count(row['households_stranded'])}</td>"
        f"<td>{_count(row['residents_stranded'])}</td></tr>" for group, row in found["groups"].items())
    streets = ", ".join(f"{words.mode(mode)} {metres:,} m" for mode, metres in found["streets_impassable_m"].items())
    expected = found.get("expected_annual_damage_eur")
    listed = (lambda names: html.escape(", ".join(names)) if names else "none")  # noqa: E731
    return (f"<h2>Flood: what the water reaches</h2><p>{found['buildings_flooded']:,} buildings flooded; estimated "
            f"damage {found['damage_eur']:,} EUR (JRC depth-damage curve x replacement value)"
            + (f"; expected annual damage {expected:,} EUR" if expected is not None else "") + ".</p>"
            "<table><tr><th>group</th><th>households whose home is flooded</th><th>residents</th>"
            "<th>households stranded (no dry way out)</th><th>residents</th></tr>" + rows + "</table>"
            f"<p>Facilities flooded: {listed(found['facilities_flooded'])}.<br>Facilities cut off from the dry "
            f"network: {listed(found['facilities_cut_off'])}.<br>Streets impassable: {html.escape(streets) or 'none'}."
            "</p>")


def _options(values: list[tuple[str, str]], chosen: str) -> str:
    return "".join(f'<option value="{html.escape(v)}"{" selected" if v == chosen else ""}>{html.escape(label)}'
                   f"</option>" for v, label in values)


def render_report(results: xr.DataTree, summary: dict, *, baseline: Twin, variant: Twin,
                  changes: gpd.GeoDataFrame, scenario_text: str) -> str:
    """The report page: everything escaped, deck.gl inlined, nothing loaded from the network."""
    keys = indicator_names(results)
    groups = [str(g) for g in results["group"].to_numpy()]
    name = summary["scenario"]
    k = summary["k"]
    variants, overlays = {}, {}
    for key in keys:
        to = results[key].attrs["to"]
        for view in SIDES:
            twin = baseline if view == "baseline" else variant
            # Made once per destination and twin, shared by every group's map in the page.
            layers = overlay_layers(twin, highlight=destinations(twin, to) if to in destination_names(twin) else None,
                                    outlines=changes)
            names = [f"{layer.id}|{to if layer.id == 'destinations' else ''}|{view == 'baseline'}"
                     for layer in layers]
            for overlay_name, layer in zip(names, layers):
                overlays.setdefault(overlay_name, layer)
            for group in groups:
                zone_map = scenario_map(results, key, group=group, view=view, baseline=baseline, variant=variant,
                                        changes=changes, overlays=[])
                variants[f"{key}|{group}|{view}"] = {"layers": zone_map.layers_json(), "overlays": names,
                                                     "title": zone_map.title, "legend": zone_map.legend_html()}
    shared = {name: layer_spec(layer) for name, layer in overlays.items()}
    base = deck_spec(base_layers(variant), view_state(variant))
    script = SCRIPT.format(base=script_json(json.dumps(base)), variants=script_json(json.dumps(variants)),
                           overlays=script_json(json.dumps(shared)), tooltip=json.dumps(TOOLTIP))
    indicator_options = _options([(k, summary["indicators"][k]["what"]) for k in keys], keys[0])
    group_options = _options([(g, words.group(g)) for g in groups], "elderly" if "elderly" in groups else groups[0])
    view_options = _options([("change", "change"), ("baseline", "today"), ("scenario", "with the scenario")],
                            "change")
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in summary["interventions"]) or "<li>none</li>"
    sections = "".join(f"<h3>{html.escape(summary['indicators'][k]['what'])}</h3>"
                       f"<p>{html.escape(headline(summary, k))}</p>{equity_table(summary, k)}" for k in keys)
    data = "; ".join(html.escape(c) for c in credits(baseline))
    title = html.escape(name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: scenario report</title><style>{STYLE}</style><script>{bundle()}</script></head>
<body><main>
<h1>What if: {title}</h1>
<p class="lead">{html.escape(summary["description"])}</p>
<p class="small">Twin: {html.escape(baseline.name)} (fingerprint {baseline.fingerprint()}); seed
{summary["seed"]}; zones with fewer than {k} households of a group are hidden in every map and table.</p>
<h2>What changes</h2><ul>{notes}</ul>
{flood_section(summary)}
<h2>Who gains and who loses</h2>{sections}
<h2>Maps</h2>
<div class="controls">Indicator <select id="indicator">{indicator_options}</select>
Group <select id="group">{group_options}</select> Show <select id="view">{view_options}</select></div>
<div id="map-wrap"><div id="deck-container"></div><div id="map-title" class="panel"></div>
<div id="legend" class="panel"></div></div>
<p class="small">Hover a zone for its numbers. Magenta outlines: what the scenario changes. Blue is better, red
is worse. Households are synthetic.</p>
<h2>The scenario file</h2><pre>{html.escape(scenario_text)}</pre>
<h2>Data</h2><p class="small">{data}</p>
</main><script>{script}</script></body></html>
"""


def render_comparison(results: xr.DataTree, twin: Twin, *, names: list[str], k: int) -> str:
    """Several scenarios side by side: one table of reach per indicator and group, one map with a selector."""
    keys = indicator_names(results)
    scenarios = [str(s) for s in results[keys[0]]["scenario"].to_numpy()]
    groups = [str(g) for g in results["group"].to_numpy()]
    described = {key: results[key].attrs["long_name"] for key in keys}
    rows, variants = [], {}
    for key in keys:
        node = results[key].to_dataset()
        measure_var = node.attrs["headline"]
        values = node[measure_var]
        if "minutes" in values.dims:
            values = values.sel(minutes=float(node["minutes"].to_numpy()[-1]))
        residents = node["residents"]
        for group in groups:
            cells = []
            for scenario in scenarios:
                shown = values.sel(group=group, scenario=scenario)
                weight = residents.sel(group=group, scenario=scenario)
                total = float((shown * weight).sum() / weight.where(shown.notnull()).sum()) \
                    if float(weight.where(shown.notnull()).sum()) > 0 else float("nan")
                cells.append("hidden" if total != total else (f"{total:.0%}" if "share" in measure_var
                                                              else f"{total:,.3g}"))
            rows.append(f"<tr><td>{html.escape(described[key])}</td><td>{html.escape(words.group(group))}</td>"
                        + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            for scenario in scenarios:
                for show in ("value", "change"):
                    data = values.sel(group=group, scenario=scenario)
                    if show == "change":
                        data = data - values.sel(group=group, scenario="baseline")
                    series = data.to_pandas()
                    if show == "change":
                        scale = change_scale(series.to_numpy(), unit="", percent="share" in measure_var)
                    elif "share" in measure_var:
                        scale = share_scale()
                    else:
                        scale = quantile_scale(values.sel(group=group).to_numpy().ravel(), unit="")
                    tooltips = {z: (f"Zone {z}: hidden or no {words.group(group)}" if v != v else
                                    f"Zone {z}: {v:+.0%}" if show == "change" and "share" in measure_var else
                                    f"Zone {z}: {v:.0%}" if "share" in measure_var else f"Zone {z}: {v:,.3g}")
                                for z, v in series.items()}
                    title = (f"{scenario}: {described[key]}, {words.group(group)}" if show == "value" else
                             f"{scenario} against the baseline: {described[key]}, {words.group(group)}")
                    zone = zone_map(twin, series, pd.Series(tooltips, dtype=object), title=title,
                                    legend_title="change" if show == "change" else described[key], scale=scale, k=k)
                    variants[f"{key}|{group}|{scenario}|{show}"] = {"layers": zone.layers_json(), "title": title,
                                                                   "legend": zone.legend_html()}
    base = deck_spec(base_layers(twin), view_state(twin))
    script = COMPARE_SCRIPT.format(base=script_json(json.dumps(base)), variants=script_json(json.dumps(variants)),
                                   overlays="{}",
                                   tooltip=json.dumps(TOOLTIP))
    head = "<tr><th>indicator</th><th>group</th>" + "".join(f"<th>{html.escape(s)}</th>" for s in scenarios) + "</tr>"
    options = {
        "indicator": _options([(k2, described[k2]) for k2 in keys], keys[0]),
        "group": _options([(g, words.group(g)) for g in groups], "elderly" if "elderly" in groups else groups[0]),
        "scenario": _options([(s, s) for s in scenarios], scenarios[-1]),
        "show": _options([("change", "change against the baseline"), ("value", "value")], "change"),
    }
    controls = " ".join(f'{name.capitalize()} <select id="{name}">{opts}</select>' for name, opts in options.items())
    data = "; ".join(html.escape(c) for c in credits(twin))
    names = ", ".join(html.escape(n) for n in names)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Comparison: {names}</title><style>{STYLE}</style>
<script>{bundle()}</script></head><body><main>
<h1>Scenarios side by side: {names}</h1>
<p class="small">All runs on twin {html.escape(twin.name)}; a zone hidden in any run (fewer than {k}
households of a group) is hidden in all. Reach is the share of the group's residents, over the zones shown.</p>
<table>{head}{''.join(rows)}</table>
<div class="controls">{controls}</div>
<div id="map-wrap"><div id="deck-container"></div><div id="map-title" class="panel"></div>
<div id="legend" class="panel"></div></div>
<h2>Data</h2><p class="small">{data}</p>
</main><script>{script}</script></body></html>
"""


COMPARE_SCRIPT = SCRIPT.replace('[pick("indicator").value, pick("group").value, pick("view").value]',
                                '[pick("indicator").value, pick("group").value, pick("scenario").value, '
                                'pick("show").value]').replace('["indicator", "group", "view"]',
                                                               '["indicator", "group", "scenario", "show"]')
