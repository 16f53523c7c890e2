"""A sweep's report: where a figure crosses the limit the sweep file names (in a sentence), and curves of every
indicator against the swept values, one line per group, drawn as inline SVG here (no script, no CDN: the page
opens offline and stays small whatever the town's size)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import markupsafe
import numpy as np
import xarray as xr

from .. import words
from ..results import BASELINE, SCENARIO, indicator_names
from ..scenarios.spec import Sweep, SweepLimit, sweep_axis, sweep_dimensions
from .pages import render_page

# Okabe-Ito: told apart with any colour vision, one per group in the scenario's order.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MAX_PANELS = 12  # charts per indicator and threshold when other keys are swept too (one per combination)
VARIABLES = {"share_reaching": "group_share_reaching"}  # the limit's names -> the results' variables


@dataclass(frozen=True)
class Crossing:
    """Where the limit's figure crosses it along one swept key, for one combination of the other keys (``where``),
    in a sentence; ``x``/``y`` mark the interpolated point on the curve (None when it does not cross)."""

    sentence: str
    where: dict[str, Any]
    x: float | None = None
    y: float | None = None
    x_text: str = ""


def along_dimension(sweep: Sweep, results: xr.DataTree) -> str:
    """The dimension the curves and the crossing run along: the limit's ``along``, else the first swept key whose
    values are numbers, else the first key."""
    dims = sweep_dimensions(sweep.axes)
    if sweep.limit is not None and sweep.limit.along is not None:
        key = sweep_axis(sweep, sweep.limit.along)
        if key is not None:
            return dims[key]
    node = results[indicator_names(results)[0]]
    numeric = [dim for dim in dims.values() if np.issubdtype(node[dim].dtype, np.number)]
    return numeric[0] if numeric else next(iter(dims.values()))


def limit_values(results: xr.DataTree, limit: SweepLimit) -> tuple[xr.DataArray, float, float]:
    """The limit's figure with the scenario over the swept dimensions, its value today, and the threshold."""
    node = results[limit.indicator].to_dataset()
    minutes = float(limit.minutes if limit.minutes is not None else node["minutes"].max())
    variable = node[VARIABLES.get(limit.variable, limit.variable)].sel(group=limit.group)
    if "minutes" in variable.dims:
        variable = variable.sel(minutes=minutes)
    today = variable.sel(side=BASELINE)
    today = today.isel({dim: 0 for dim in today.dims})  # the same in every member: one baseline
    return variable.sel(side=SCENARIO).drop_vars("side"), float(today), minutes


def crossings(results: xr.DataTree, sweep: Sweep) -> list[Crossing]:
    """Per combination of the keys not swept along: where the limit's figure crosses it (interpolated linearly
    between the two members on either side), or that it never does, or that it already has at the first."""
    limit = sweep.limit
    if limit is None:
        return []
    values, today, minutes = limit_values(results, limit)
    along = along_dimension(sweep, results)
    others = [dim for dim in values.dims if dim != along]
    out = []
    for combination in itertools.product(*(values[dim].to_numpy().tolist() for dim in others)):
        where = dict(zip(others, combination))
        series = values.sel(where) if where else values
        prefix = "With " + ", ".join(f"{dim} = {_text(value)}" for dim, value in where.items()) + ": " if where else ""
        out.append(_crossing(series, along, limit, today, _subject(results, limit, minutes), prefix, where))
    return out


def crossing_sentences(results: xr.DataTree, sweep: Sweep) -> list[str]:
    """The sentences of :func:`crossings`, e.g. "Elderly residents (65+) reaching a grocery shop within 10 min on
    foot fall below 50% from level_m 1.4 (53% at 1.0, 49% at 1.5; 59% today)."."""
    return [crossing.sentence for crossing in crossings(results, sweep)]


def _subject(results: xr.DataTree, limit: SweepLimit, minutes: float) -> str:
    node = results[limit.indicator]
    to, how = str(node.attrs.get("to", "")), words.mode(str(node.attrs.get("mode", "")))
    who = words.group(limit.group)
    who = who[:1].upper() + who[1:]
    if limit.variable == "share_unreachable":
        return f"{who} with no way to reach {words.destination(to)} {how}"
    reach = "reaching" if limit.variable == "share_reaching" else "not reaching"
    return f"{who} {reach} {words.destination(to)} within {minutes:g} min {how}"


def _crossing(series: xr.DataArray, along: str, limit: SweepLimit, today: float, subject: str, prefix: str,
              where: dict[str, Any]) -> Crossing:
    share = limit.variable != "residents_not_reaching"
    below = limit.below is not None
    bound = limit.value
    shown = _percent if share else _people
    verb, stay = ("fall below", "stay at or above") if below else ("rise above", "stay at or below")
    xs = series[along].to_numpy()
    ys = series.to_numpy().astype(float)
    past = (ys < bound) if below else (ys > bound)
    valid = ~np.isnan(ys)
    start = f"{prefix}{subject}" if not prefix else f"{prefix}{subject[:1].lower()}{subject[1:]}"
    today_text = f"{shown(today)} today" if not math.isnan(today) else "today hidden"
    if not valid.any():
        return Crossing(f"{start}: hidden in every member (too few people to publish).", where)
    if not np.issubdtype(xs.dtype, np.number):
        crossed = [f"{_text(x)} ({shown(y)})" for x, y, p, v in zip(xs, ys, past, valid) if v and p]
        kept = [f"{_text(x)} ({shown(y)})" for x, y, p, v in zip(xs, ys, past, valid) if v and not p]
        parts = ([f"{verb} {shown(bound)} with {', '.join(crossed)}"] if crossed else []) + \
                ([f"{stay} it with {', '.join(kept)}"] if kept else [])
        return Crossing(f"{start} {'; '.join(parts)} ({today_text}).", where)
    order = np.argsort(xs, kind="stable")
    xs, ys, past, valid = xs[order], ys[order], past[order], valid[order]
    digits = max(_digits(xs), _written(xs))
    first = next((i for i in range(len(xs)) if valid[i] and past[i]), None)
    if first is None:
        extreme = int(np.nanargmin(ys) if below else np.nanargmax(ys))
        word = "lowest" if below else "highest"
        return Crossing(f"{start} {stay} {shown(bound)} over the whole sweep, {along} {_number(xs[0], digits)} to "
                        f"{_number(xs[-1], digits)} ({word} {shown(ys[extreme])}, at {_number(xs[extreme], digits)}; "
                        f"{today_text}).", where)
    before = next((i for i in range(first - 1, -1, -1) if valid[i]), None)
    if before is None:
        return Crossing(f"{start} {'are already below' if below else 'are already above'} {shown(bound)} at "
                        f"{along} {_number(xs[first], digits)}, the {'lowest' if first == 0 else 'first published'} "
                        f"value swept ({shown(ys[first])}; {today_text}).", where, float(xs[first]),
                        float(ys[first]), _number(xs[first], digits))
    x0, x1, y0, y1 = float(xs[before]), float(xs[first]), float(ys[before]), float(ys[first])
    x = x0 + (bound - y0) * (x1 - x0) / (y1 - y0) if y1 != y0 else x1
    written = _written(xs)
    return Crossing(f"{start} {verb} {shown(bound)} from {along} {_number(x, digits)} ({shown(y0)} at "
                    f"{x0:.{written}f}, {shown(y1)} at {x1:.{written}f}; {today_text}).", where, x, bound,
                    _number(x, digits))


def _digits(xs: np.ndarray) -> int:
    """Decimals for a value interpolated between members: a fifth of their closest spacing."""
    steps = np.diff(np.unique(xs.astype(float)))
    if not len(steps) or steps.min() <= 0:
        return 2
    return max(0, int(-math.floor(math.log10(steps.min() / 5))))


def _written(xs: np.ndarray) -> int:
    """The decimals the swept values need (0.5, 1.0 -> 1), to show them as a planner wrote them."""
    return max((next(d for d in range(7) if d == 6 or round(float(x), d) == float(x)) for x in xs), default=0)


def _number(value: float, digits: int) -> str:
    text = f"{float(value):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(value: float) -> str:
    return "hidden" if value is None or math.isnan(value) else f"{value:.0%}"


def _people(value: float) -> str:
    return "hidden" if value is None or math.isnan(value) else f"{value:,.0f} people"


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def labels(values: np.ndarray) -> list[str]:
    """A swept dimension's values as text, numbers with the decimals they were written with (0.5, 1.0, 1.5)."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.floating):
        digits = _written(values)
        return [f"{float(v):.{digits}f}" for v in values]
    return [str(v.item() if hasattr(v, "item") else v) for v in values]


# --- the page -----------------------------------------------------------------------------------------------------


def render_sweep_report(results: xr.DataTree, sweep: Sweep, *, name: str, description: str, groups: Sequence[str],
                        sentences: Sequence[str], members: Sequence[dict[str, Any]], scenario_text: str) -> str:
    """report.html of a sweep: the crossing sentences, the limit's curve, the members, then per indicator and
    threshold the share of each group reaching one against the swept values (a chart and its numbers)."""
    along = along_dimension(sweep, results)
    dims = sweep_dimensions(sweep.axes)
    first = results[indicator_names(results)[0]]
    shape = [first.sizes[dim] for dim in dims.values()]
    limit = sweep.limit
    limit_panels = []
    figures: list[str] = []
    if limit is not None:
        values, _, minutes = limit_values(results, limit)
        share = limit.variable != "residents_not_reaching"
        subject = _subject(results, limit, minutes)
        for crossing in crossings(results, sweep):
            series = values.sel(crossing.where) if crossing.where else values
            where = ", ".join(f"{d} = {_text(v)}" for d, v in crossing.where.items())
            limit_panels.append({"title": subject + (f" ({where})" if where else ""), "svg": line_chart(
                series[along].to_numpy(), [(words.group(limit.group), series.to_numpy(), COLOURS[0])],
                x_title=along, y_title=limit.variable.replace("_", " "), share=share, limit=limit.value,
                marker=None if crossing.x is None else (crossing.x, crossing.y, crossing.x_text))})
        flat = values.transpose(*dims.values()).to_numpy().ravel()  # members in grid order: the first key outermost
        figures = [(_percent if share else _people)(float(value)) for value in flat]
    rows = []
    for member in sorted(members, key=lambda m: m["index"]):
        at = np.unravel_index(member["index"], shape)
        cells = [str(member["index"] + 1)] + [labels(first[dim].to_numpy())[i] for dim, i in zip(dims.values(), at)]
        if figures:
            cells.append(figures[member["index"]])
        timing = sum(member.get("timings_s", {}).values())
        cells.append(f"{timing:.1f}" + (" (earlier run)" if member.get("resumed") else ""))
        cells.append("; ".join(member.get("notes") or []) or "nothing")
        rows.append(cells)
    head = ["#", *dims.values()] + (["the limit's figure"] if figures else []) + ["time (s)", "what changes"]
    sections = [_indicator_section(results, key, along, groups) for key in indicator_names(results)]
    return render_page("sweep.html.j2", name=name, description=description, attrs=results.attrs,
                       sentences=list(sentences), limit_panels=limit_panels, head=head, rows=rows,
                       sections=sections, scenario_text=scenario_text, count=len(members),
                       keys=", ".join(f"{dim} ({key}: {len(sweep.axes[key])} values)" for key, dim in dims.items()),
                       along=along)


def _indicator_section(results: xr.DataTree, key: str, along: str, groups: Sequence[str]) -> dict[str, Any]:
    """One indicator: per threshold (and per combination of the other swept keys, at most MAX_PANELS), the share
    of each group reaching one with the scenario, against the swept values; the numbers below each chart."""
    node = results[key].to_dataset()
    reach = node["group_share_reaching"]
    others = [dim for dim in reach.dims if dim not in ("side", "minutes", "group", along)]
    combos = list(itertools.product(*(node[dim].to_numpy().tolist() for dim in others)))[:MAX_PANELS]
    charts = []
    present = [g for g in groups if g in node["group"].to_numpy().tolist()] or node["group"].to_numpy().tolist()
    for minutes in node["minutes"].to_numpy().tolist():
        for combination in combos:
            where = dict(zip(others, combination))
            today = reach.sel(side=BASELINE, minutes=minutes)
            series = reach.sel(side=SCENARIO, minutes=minutes)
            if where:
                series, today = series.sel(where), today.sel(where)
            today = today.isel({dim: 0 for dim in today.dims if dim != "group"})  # one baseline
            lines = []
            for i, group in enumerate(present):
                label = f"{words.group(group)} (today {_percent(float(today.sel(group=group)))})"
                lines.append((label, series.sel(group=group).to_numpy(), COLOURS[i % len(COLOURS)]))
            xs = series[along].to_numpy()
            title = f"within {minutes:g} min" + ("; " + ", ".join(f"{d} = {_text(v)}" for d, v in where.items())
                                                 if where else "")
            table = {"head": [along, *(words.group(g) for g in present)],
                     "rows": [[label, *(_percent(float(series.sel(group=g).isel({along: i}))) for g in present)]
                              for i, label in enumerate(labels(xs))]}
            charts.append({"title": title, "table": table, "svg": line_chart(
                xs, lines, x_title=along, y_title="share reaching", share=True)})
    return {"title": f"{key}: {node.attrs.get('long_name', key)}", "charts": charts}


def line_chart(xs: np.ndarray, series: Sequence[tuple[str, np.ndarray, str]], *, x_title: str, y_title: str,
               share: bool, limit: float | None = None,
               marker: tuple[float, float, str] | None = None) -> markupsafe.Markup:
    """An SVG chart: one line per series over numeric ``xs`` (dots over text ones), broken where a value is
    hidden; shares on 0-100 %; a dashed limit and the crossing marked when given. Text is escaped here."""
    width, height, left, right, top, bottom = 700, 300, 56, 300, 16, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    numeric = np.issubdtype(np.asarray(xs).dtype, np.number)
    if numeric:
        x_values = np.asarray(xs, dtype=float)
        low, high = float(x_values.min()), float(x_values.max())
        span = (high - low) or 1.0
        x_of = [left + (float(x) - low) / span * plot_w for x in x_values]
        position = (lambda value: left + (float(value) - low) / span * plot_w)
    else:
        step = plot_w / max(len(xs), 1)
        x_of = [left + step * (i + 0.5) for i in range(len(xs))]
        position = None
    values = np.concatenate([np.asarray(s[1], dtype=float) for s in series]) if series else np.zeros(0)
    if share:
        y_max = 1.0
    else:
        finite = values[np.isfinite(values)]
        y_max = float(max(finite.max() if len(finite) else 1.0, limit or 0.0)) * 1.1 or 1.0
    y_of = (lambda value: top + plot_h - float(value) / y_max * plot_h)
    esc = _svg_text
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(y_title)} against {esc(x_title)}" xmlns="http://www.w3.org/2000/svg">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>']
    for tick in np.linspace(0, y_max, 5):
        y = y_of(tick)
        label = f"{tick:.0%}" if share else f"{tick:,.0f}"
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    ticks = list(range(len(xs)))
    if len(ticks) > 12:
        ticks = sorted(set(np.linspace(0, len(xs) - 1, 11).round().astype(int).tolist()))
    texts = labels(xs)
    for i in ticks:
        text = texts[i] if len(texts[i]) <= 16 else texts[i][:15] + "…"
        out.append(f'<line x1="{x_of[i]:.1f}" y1="{top + plot_h}" x2="{x_of[i]:.1f}" y2="{top + plot_h + 4}" '
                   f'stroke="#888"/><text x="{x_of[i]:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'font-size="11">{esc(text)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="12">'
               f'{esc(x_title)}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{esc(y_title)}</text>')
    if limit is not None:
        y = y_of(limit)
        label = f"limit {limit:.0%}" if share else f"limit {limit:,.0f}"
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#b2182b" '
                   f'stroke-dasharray="6 4" stroke-width="1.5"/><text x="{left + plot_w - 4}" y="{y - 5:.1f}" '
                   f'text-anchor="end" font-size="11" fill="#b2182b">{label}</text>')
    for n, (label, ys, colour) in enumerate(series):
        ys = np.asarray(ys, dtype=float)
        points = [(x_of[i], y_of(y)) if np.isfinite(y) else None for i, y in enumerate(ys)]
        if numeric:
            path, pen = [], "M"
            for point in points:
                if point is None:
                    pen = "M"
                    continue
                path.append(f"{pen}{point[0]:.1f},{point[1]:.1f}")
                pen = "L"
            if path:
                out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="3" fill="{colour}"/>' for p in points if p is not None]
        legend_y = top + 14 + n * 18
        out.append(f'<line x1="{left + plot_w + 12}" y1="{legend_y - 4}" x2="{left + plot_w + 30}" '
                   f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="3"/><text x="{left + plot_w + 36}" '
                   f'y="{legend_y}" font-size="11">{esc(label)}</text>')
    if marker is not None and position is not None and np.isfinite(marker[1]):
        x, y = position(marker[0]), y_of(marker[1])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#b2182b" stroke-width="2"/>'
                   f'<text x="{x + 8:.1f}" y="{y + 16:.1f}" font-size="11" fill="#b2182b">{esc(x_title)} '
                   f'{esc(marker[2] or f"{marker[0]:.3g}")}</text>')
    out.append("</svg>")
    return markupsafe.Markup("".join(out))


def _svg_text(text: Any) -> str:
    """User text inside SVG: escaped, bidirectional controls shown rather than obeyed."""
    return str(markupsafe.escape(words.bidi_visible(str(text))))


