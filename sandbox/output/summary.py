"""summary.json: a run's numbers in plain terms, per indicator, group and threshold, small counts hidden, and the
headline sentences that the report, the command line and summary.json all open with."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import words
from ..compare import EQUITY
from ..privacy import small
from ..results import BASELINE, SCENARIO, indicator_names

HIDDEN = "suppressed"
MAX_HEADLINES = 5
# Whose loss is named first when two groups lose alike: the groups the mission puts first.
GROUP_PRIORITY = ("elderly_alone", "elderly", "children", "all")
BY_MEASURE = {  # each measure's own figures: their name in summary.json and the results variable behind it
    "nearest": {"median_minutes": "group_median_travel_time_s", "share_unreachable": "share_unreachable"},
    "within": {"median_reachable": "group_median_reachable"},
    "supply": {"median_per_resident": "group_median_supply", "p10_per_resident": "group_p10_supply"},
}


def summarise(results: xr.DataTree, *, scenario: Any, notes: list[str], effects: dict[str, int],
              warnings: list[str] | None = None, flood: Any = None) -> dict[str, Any]:
    """Per indicator and group: every threshold's share reaching, residents not reaching and residents who gain
    or lose reach; the measure's own figures (median travel time; median reachable; median and 10th percentile
    of supply per resident), the Gini and the households better and worse off; then the headlines."""
    k = int(results.attrs.get("k", scenario.outputs.k))
    indicators = {key: indicator_summary(results[key].to_dataset()) for key in indicator_names(results)}
    effects = {name: hide(value, k) if is_people(name) else value for name, value in effects.items()}
    out = {"scenario": scenario.name, "description": scenario.description, "twin": results.attrs.get("twin"),
           "seed": scenario.seed, "k": k, "headlines": [], "interventions": notes,
           "warnings": list(warnings or []), "effects": effects, "indicators": indicators}
    if flood is not None:
        found = flood.summary()
        found["groups"] = {group: flood_counts(row, k) for group, row in found["groups"].items()}
        for name in ("households_home_flooded", "households_stranded"):  # the table's, hidden alike
            if name in effects and "all" in found["groups"]:
                effects[name] = found["groups"]["all"][name]
        out["flood"] = found
    out["headlines"] = headlines(out)
    return out


def flood_counts(row: dict[str, int], k: int) -> dict[str, int | str]:
    """One group's row of the flood table as it may be published: each count of 1 to k - 1 hidden, and since
    those whose home floods are among the stranded, a homes-flooded count hidden too when the stranded less it
    (stranded with a dry home) is 1 to k - 1."""
    out: dict[str, int | str] = {name: hide(value, k) for name, value in row.items()}
    for what in ("households", "residents"):
        flooded, stranded = row.get(f"{what}_home_flooded"), row.get(f"{what}_stranded")
        if flooded is not None and stranded is not None and small(stranded - flooded, k):
            out[f"{what}_home_flooded"] = HIDDEN
    return out


def indicator_summary(node: xr.Dataset) -> dict[str, Any]:
    """One indicator of :func:`summarise`."""
    measure = node.attrs["measure"]
    thresholds = [float(m) for m in node["minutes"].to_numpy()]
    groups = {}
    for group in node["group"].to_numpy():
        part = node.sel(group=group)
        row: dict[str, Any] = {what: count(part[what]) for what in EQUITY}
        row["share_reaching"] = per_threshold(1 - part["share_not_reaching"], share)
        row["residents_not_reaching"] = per_threshold(part["residents_not_reaching"], count)
        for name in ("residents_losing_reach", "residents_gaining_reach"):
            row[name] = {label(m): count(part[name].sel(minutes=m)) for m in thresholds}
        for name, variable in BY_MEASURE[measure].items():
            values = part[variable]
            how = minutes_of if name == "median_minutes" else share if name == "share_unreachable" else amount
            row[name] = per_threshold(values, how) if "minutes" in values.dims else sides(values, how)
        row["gini"] = per_threshold(part["gini"], share) if "minutes" in part["gini"].dims else sides(part["gini"],
                                                                                                        share)
        groups[str(group)] = row
    units = node[BY_MEASURE[measure][next(iter(BY_MEASURE[measure]))]].attrs.get("units", "")
    if units == "1":  # a count of destinations reads as what they are
        units = words.plural(node.attrs["to"])
    return {"what": node.attrs["long_name"], "measure": measure, "to": node.attrs["to"], "mode": node.attrs["mode"],
            "capacity": node.attrs.get("capacity"), "units": units, "minutes": thresholds, "groups": groups}


def per_threshold(values: xr.DataArray, how: Any) -> dict[str, dict[str, Any]]:
    return {label(m): sides(values.sel(minutes=m), how) for m in values["minutes"].to_numpy()}


def sides(values: xr.DataArray, how: Any) -> dict[str, Any]:
    return {side: how(values.sel(side=side)) for side in (BASELINE, SCENARIO)}


def label(minutes: float) -> str:
    return f"{float(minutes):g}"


def share(value: xr.DataArray) -> float | None:
    number = float(value)
    return None if np.isnan(number) else round(number, 4)


def amount(value: xr.DataArray) -> float | str | None:
    number = float(value)
    return None if np.isnan(number) else "unreachable" if np.isinf(number) else round(number, 3)


def minutes_of(value: xr.DataArray) -> float | str | None:
    """Seconds as minutes, to a tenth; a median that is infinite (most reach nothing) says so."""
    number = float(value)
    return None if np.isnan(number) else "unreachable" if np.isinf(number) else round(number / 60, 1)


def count(value: xr.DataArray) -> int | str:
    number = float(value)
    return HIDDEN if np.isnan(number) else int(round(number))


def is_people(name: str) -> bool:
    """Whether an effect counts people or households (those are disclosure-controlled; parks and streets not)."""
    return any(word in name for word in ("households", "residents", "elderly", "children"))


def hide(value: Any, k: int) -> Any:
    """Counts of 1 to k - 1 people or households are hidden, as in zone tables."""
    return HIDDEN if isinstance(value, (int, np.integer)) and small(value, k) else value


def headlines(summary: dict[str, Any]) -> list[str]:
    """At most :data:`MAX_HEADLINES` plain sentences, by this rule (documented in the README):

    1. a flood first: whose homes flood and who is stranded;
    2. then, per indicator, the group and threshold where the most residents lose reach, largest losses first
       (ties: elderly living alone, elderly, children, all residents), with how many gain there;
    3. then each supply measure's median and 10th percentile per resident for the group whose median moves most;
    4. then, per indicator, the largest gain where nobody loses (residents crossing a threshold), and after all
       of those, the households better or worse off without crossing one (a longer trip, a park more within
       reach, less park per person);
    5. if nothing moves at all, one sentence that says so.
    """
    k = summary["k"]
    lines = [flood_sentence(summary["flood"], k)] if summary.get("flood") else []
    losses, gains, supplies, moved_only = [], [], [], []
    for item in summary["indicators"].values():
        place = f"{words.destination(item['to'])} within {{minutes}} minutes {words.mode(item['mode'])}"
        moves = [(number(row["residents_losing_reach"][m]), number(row["residents_gaining_reach"][m]), group, m)
                 for group, row in item["groups"].items() for m in row["residents_losing_reach"]]
        priority = {g: i for i, g in enumerate(GROUP_PRIORITY)}
        lost = sorted((mv for mv in moves if mv[0] > 0), key=lambda mv: (-mv[0], priority.get(mv[2], 9)))
        if lost:
            lose, gain, group, m = lost[0]
            row = item["groups"][group]
            losses.append((lose, f"{lose:,} {words.group(group)}{among(item, group, m, k)} no longer reach "
                                 f"{place.format(minutes=m)}{f'; {gain:,} newly do' if gain else ''} "
                                 f"(reach {reach(row, m)})."))
        gained = sorted((mv for mv in moves if mv[1] > 0), key=lambda mv: (-mv[1], priority.get(mv[2], 9)))
        if gained and not lost:
            _, gain, group, m = gained[0]
            gains.append((gain, f"{gain:,} {words.group(group)} newly reach {place.format(minutes=m)} "
                                f"(reach {reach(item['groups'][group], m)})."))
        supply = supply_sentence(item) if item["measure"] == "supply" else None
        if supply:
            supplies.append(supply)
        elif not lost and not gained and (moved := households_sentence(item, priority)):
            moved_only.append(moved)
    lines += [text for _, text in sorted(losses, key=lambda pair: -pair[0])]
    lines += supplies
    lines += [text for _, text in sorted(gains, key=lambda pair: -pair[0])]  # residents crossing a threshold first,
    lines += [text for _, text in sorted(moved_only, key=lambda pair: -pair[0])]  # then households moving within one
    if len(lines) == (1 if summary.get("flood") else 0):
        lines.append("No household's access changes: nobody gains or loses anything that was measured.")
    return lines[:MAX_HEADLINES]


def households_sentence(item: dict[str, Any], priority: dict[str, int]) -> tuple[int, str] | None:
    """Households better or worse off although nobody crosses a threshold (a longer trip, one park more within
    reach, less park per person): the losers first, else the winners, for the group with the most."""
    what = words.plural(item["to"])
    how = words.mode(item["mode"])
    longest = f"{item['minutes'][-1]:g} min"
    capacity = None if item.get("capacity") in (None, "count") else item.get("capacity")
    verbs = {"nearest": (f"take longer to reach {words.destination(item['to'])} {how}",
                         f"reach {words.destination(item['to'])} {how} sooner"),
             "within": (f"reach fewer {what} within {longest} {how}", f"reach more {what} within {longest} {how}"),
             "supply": (f"have less {words.amount(item['to'], capacity)} per person within {longest} {how}",
                        f"have more {words.amount(item['to'], capacity)} per person within {longest} {how}")}
    for side, verb in zip(("losing", "gaining"), verbs[item["measure"]]):
        moved = [(number(row[side]), group) for group, row in item["groups"].items() if number(row[side]) > 0]
        if moved:
            count_, group = min(moved, key=lambda pair: (-pair[0], priority.get(pair[1], 9)))
            who = "households" if group == "all" else f"households of {words.group(group)}"
            crossing = "" if item["measure"] == "supply" else \
                f", without crossing a threshold ({words.minutes(item['minutes'])})"
            median = item["groups"][group].get("median_minutes")
            after = f"; median {value(median[BASELINE])} → {value(median[SCENARIO])} min" if median else ""
            return count_, f"{count_:,} {who} {verb}{crossing}{after}."
    return None


def among(item: dict[str, Any], group: str, minutes: str, k: int) -> str:
    """' (70 of them aged 65 or over)': the elderly among all residents who lose, so that the first sentence names
    the group the sandbox puts first."""
    elderly = item["groups"].get("elderly")
    if group != "all" or elderly is None:
        return ""
    lose = elderly["residents_losing_reach"][minutes]
    if lose == HIDDEN:
        return " (how many of them are aged 65 or over is hidden)"
    return f" ({lose:,} of them aged 65 or over)"


def number(value: Any) -> int:
    """A count for ranking; a hidden one ranks as none, so it is never named."""
    return value if isinstance(value, int) else 0


def reach(row: dict[str, Any], minutes: str) -> str:
    values = row["share_reaching"][minutes]
    return f"{percent(values['baseline'])} today, {percent(values['scenario'])} with the scenario"


def percent(value: float | None) -> str:
    return "hidden" if value is None else f"{value:.0%}"


def flood_sentence(found: dict[str, Any], k: int) -> str:
    """Whose homes flood and who is stranded; a hidden count is said to be hidden, never named."""
    groups = found["groups"]
    elderly = groups.get("elderly")

    def residents(name: str) -> str:
        value = groups["all"][name]
        return "a hidden number of residents" if value == HIDDEN else f"{value:,} residents"

    def of_them(name: str, words_: str) -> str:
        if elderly is None:
            return ""
        value = elderly[name]
        return " (how many of them are elderly is hidden)" if value == HIDDEN else f" ({value:,} {words_})"

    return (f"The water reaches the homes of {residents('residents_home_flooded')}"
            f"{of_them('residents_home_flooded', 'of them elderly')}; {residents('residents_stranded')}"
            f"{of_them('residents_stranded', 'elderly')} are stranded with no dry way out.")


def supply_sentence(item: dict[str, Any]) -> str | None:
    """The median and the 10th percentile per resident, before and after, for the group whose median moves most."""
    def moved(row: dict[str, Any]) -> float:
        median = row["median_per_resident"]
        if not all(isinstance(median[s], (int, float)) for s in (BASELINE, SCENARIO)) or not median[BASELINE]:
            return 0.0
        return abs(median[SCENARIO] - median[BASELINE]) / median[BASELINE]

    group, row = max(item["groups"].items(), key=lambda pair: moved(pair[1]))
    if moved(row) < 1e-3:
        return None
    unit = item["units"].replace(" per resident", "")
    median, low = row["median_per_resident"], row["p10_per_resident"]
    what = words.amount(item["to"], None if item["capacity"] == "count" else item["capacity"])
    return (f"{what.capitalize()} per person among {words.group(group)} within {words.minutes(item['minutes'])} "
            f"{words.mode(item['mode'])}: median {value(median[BASELINE])} → {value(median[SCENARIO])} {unit}; "
            f"the worst-served tenth have at most {value(low[BASELINE])} → {value(low[SCENARIO])} {unit}.")


def figures(item: dict[str, Any], row: dict[str, Any], k: int) -> str:
    """One group's figures of one indicator on one line, every threshold included (the command line's output)."""
    def people(value_: Any) -> str:
        return "hidden" if value_ == HIDDEN else f"{value_:,}"

    def moved(m: str) -> str:
        lose, gain = row["residents_losing_reach"][m], row["residents_gaining_reach"][m]
        return "" if lose == gain == 0 else f" ({people(lose)} lose, {people(gain)} gain)"

    parts = []
    if item["measure"] == "nearest":
        median = row["median_minutes"]
        parts.append(f"median {value(median[BASELINE])} -> {value(median[SCENARIO])} min")
    if item["measure"] == "supply":
        unit = item["units"]
        median, low = row["median_per_resident"], row["p10_per_resident"]
        parts.append(f"median {value(median[BASELINE])} -> {value(median[SCENARIO])} {unit}, 10th percentile "
                     f"{value(low[BASELINE])} -> {value(low[SCENARIO])}")
    for m, reached in row["share_reaching"].items():
        median = f"median {value(row['median_reachable'][m][BASELINE])} -> " \
                 f"{value(row['median_reachable'][m][SCENARIO])} {item['units']}, " if "median_reachable" in row else ""
        parts.append(f"within {m} min {median}{percent(reached[BASELINE])} -> {percent(reached[SCENARIO])} "
                     f"reach{moved(m)}")
    parts.append(f"{people(row['gaining'])} households better off, {people(row['losing'])} worse off")
    return "; ".join(parts)


def value(number_: Any) -> str:
    if not isinstance(number_, (int, float)):
        return str(number_ or "hidden")
    return f"{number_:,.3g}" if abs(number_) < 1000 else f"{number_:,.0f}"
