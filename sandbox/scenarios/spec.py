"""The scenario file's schema: a twin, interventions (a union on ``type``, see interventions/), indicators, outputs,
and a sweep (the same scenario over a range of values)."""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..catalog import NAMED_TWINS
from ..transit import TransitOptions
from ..twin import GROUP_COLUMNS
from ..words import bidi_visible
from .fields import MAX_NEW_HOUSEHOLDS, Limit, Mode, Model, input_file
from .interventions import REGISTRY, AddHousing, Intervention
from .interventions.add_housing import FLOOR_AREA_PER_HOUSEHOLD_M2


class Indicator(Model):
    """An accessibility indicator computed for the baseline and the scenario."""

    measure: Literal["nearest", "within", "supply"]
    to: str
    # At most 12 thresholds: each is a map, a table row and a menu entry.
    minutes: list[float] = Field(default_factory=lambda: [10.0], min_length=1, max_length=12)
    mode: Mode = "walk"
    capacity: str | None = None

    @field_validator("minutes", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("minutes")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(m <= 0 or m > 240 for m in value):
            raise ValueError("minutes must be between 0 and 240")
        return sorted(set(value))

    @property
    def key(self) -> str:
        """A short stable name, e.g. ``within-parks-walk`` or ``supply-parks-area_m2-walk``."""
        parts = [self.measure, self.to, *([self.capacity] if self.capacity else []), self.mode]
        return "-".join(parts)


class Outputs(Model):
    """What a run may publish: zones smaller than ``k`` households hidden; household rows only if allowed."""

    k: StrictInt = Field(default=5, ge=1, description="hide zones with fewer households than this")
    allow_microdata: bool = False


def _default_indicators() -> list[Indicator]:
    return [Indicator(measure="within", to="parks", minutes=[10]), Indicator(measure="nearest", to="care",
                                                                            minutes=[5, 10])]


# --- sweeps: the same scenario over a range of values -----------------------------------------------------------

# What a sweep may vary: what happens (interventions, the seed, transit options, k), not what is measured
# (indicators, groups) or where (the twin): every member must give results over the same zones, groups and
# indicators, so that they line up along the swept dimensions.
SWEEP_ROOTS = ("interventions", "seed", "transit", "outputs")
MAX_SWEEP_MEMBERS = Limit("SANDBOX_MAX_SWEEP_MEMBERS", 1000, "members per sweep")
_PATH = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[[0-9]+\])*")
_PART = re.compile(r"\.?([a-z_][a-z0-9_]*)|\[([0-9]+)\]")
SHARE_VARIABLES = ("share_reaching", "share_not_reaching", "share_unreachable")
SweepPath = tuple[str | int, ...]


def sweep_path(text: str) -> SweepPath:
    """``'interventions[0].level_m'`` -> ``('interventions', 0, 'level_m')``: the notation of the error messages
    (names joined by dots, list positions in brackets from 0). ValueError when the text is not such a path."""
    if not isinstance(text, str) or not _PATH.fullmatch(text):
        raise ValueError(f"'{text}' is not a path into the scenario; expected names joined by dots and list "
                         "positions in brackets, e.g. interventions[0].level_m")
    return tuple(name if name else int(index) for name, index in _PART.findall(text))


def dotted(path: SweepPath) -> str:
    """``('interventions', 0, 'level_m')`` -> ``'interventions[0].level_m'``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


class SweepLimit(Model):
    """A line that a sweep's report looks for: where, along a swept key, one group's figure of one indicator
    crosses it (e.g. elderly residents reaching care within 10 minutes fall below 80 %)."""

    indicator: str = Field(description="an indicator's key, e.g. nearest-care-walk")
    group: str
    minutes: float | None = Field(default=None, description="one of the indicator's thresholds (default: the "
                                                             "longest)")
    variable: Literal["share_reaching", "share_not_reaching", "share_unreachable", "residents_not_reaching"] = \
        "share_reaching"
    below: float | None = None
    above: float | None = None
    along: str | None = Field(default=None, description="the swept key to read the crossing along (default: the "
                                                        "first with numbers)")

    @model_validator(mode="after")
    def _one_side(self) -> SweepLimit:
        if (self.below is None) == (self.above is None):
            raise ValueError("below or above: give exactly one, e.g. below: 0.8 (the figure falls below 80 %) or "
                             "above: 0.2")
        return self

    @property
    def value(self) -> float:
        return self.below if self.below is not None else self.above  # type: ignore[return-value]


class Sweep(Model):
    """What a sweep varies: each key a path into the scenario (``interventions[0].level_m``), each value the list
    of values it takes; several keys form a grid (every combination). ``limit`` names a line whose crossing the
    report looks for."""

    # The keys are the swept paths, any name: checked (with their values) against the scenario, in Scenario's
    # validator, where each problem gets the line of its key or value.
    model_config = ConfigDict(extra="allow")
    limit: SweepLimit | None = None

    @property
    def axes(self) -> dict[str, list[Any]]:
        """The swept keys as written, each with its values, in the file's order."""
        return dict(self.model_extra or {})


@dataclass(frozen=True)
class SweepMember:
    """One scenario of a sweep: its position in the grid, the value of each swept key, and the scenario itself
    (validated, without the sweep)."""

    index: int
    values: dict[str, Any]
    scenario: Scenario


def _value_text(value: Any) -> str:
    """A swept value, short, for messages: 1.5, 'text', or the name (or type) of an alternative."""
    if isinstance(value, dict):
        return repr(value.get("name") or value.get("type") or "a mapping")
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return "a list" if isinstance(value, list) else json.dumps(value, default=str)


def _find(scenario: BaseModel, path: SweepPath) -> str | None:
    """Why ``path`` names nothing a sweep can set in the validated scenario, or None when it does. A key of a
    mapping (``passable_m.walk``) need not be set already."""
    if path[0] not in SWEEP_ROOTS:
        return (f"'{path[0]}' cannot be swept; expected a path into {', '.join(SWEEP_ROOTS)} (a sweep varies what "
                "happens, not what is measured or where)")
    node: Any = scenario
    for depth, part in enumerate(path):
        where = dotted(path[:depth])
        if isinstance(part, int):
            if not isinstance(node, list):
                return f"{where} is not a list; expected a name after a dot, not [{part}]"
            if part >= len(node):
                count = f"{len(node)} item{'' if len(node) == 1 else 's'}"
                return f"{where} has {count}; expected a position from 0 to {len(node) - 1}" if node else \
                    f"{where} is empty; expected a path to something the scenario has"
            node = node[part]
        elif isinstance(node, BaseModel):
            names = list(type(node).model_fields)
            if part not in names:
                kind = f" ({node.type})" if isinstance(getattr(node, "type", None), str) else ""
                return f"'{part}' is not a field of {where or 'the scenario'}{kind}; expected one of {', '.join(names)}"
            node = getattr(node, part)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return f"{where} is a single value; expected a path that ends there"
        if node is None and depth < len(path) - 1:
            return f"{dotted(path[:depth + 1])} is not set in the scenario; set it first, then sweep inside it"
    return None


def _replace(node: Any, path: SweepPath, value: Any) -> Any:
    """``node`` (the file's plain data) with the value at ``path`` replaced; only the containers on the way are
    copied, the rest is shared."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        if not isinstance(node, list) or head >= len(node):
            raise ValueError(f"cannot set [{head}] here")
        copy = list(node)
        copy[head] = _replace(node[head], rest, value)
        return copy
    copy = dict(node) if isinstance(node, dict) else {}
    copy[head] = _replace(copy.get(head), rest, value)
    return copy


def _member_lines(lines: dict[tuple, int], path: SweepPath, key: str, index: int) -> dict[tuple, int]:
    """A member's line marks: what lies at the swept path is where the sweep wrote its value."""
    kept = {mark: line for mark, line in lines.items() if mark[:len(path)] != path}
    prefix = ("sweep", key, index)
    kept.update({path + mark[3:]: line for mark, line in lines.items() if mark[:3] == prefix})
    return kept


def _problem(loc: tuple, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "input": None, "ctx": {"error": ValueError(message)}}


def _is_tag(loc: tuple, i: int) -> bool:
    """Whether ``loc[i]`` is an intervention's union tag (``('interventions', 0, 'flood', 'level_m')``)."""
    part = loc[i]
    return part == "[key]" or (isinstance(part, str) and part in REGISTRY and i > 0 and isinstance(loc[i - 1], int))


def _file_path(loc: tuple) -> SweepPath:
    """A pydantic location as a path in the file: without union tags."""
    return tuple(part for i, part in enumerate(loc) if not _is_tag(loc, i))


def _tail(loc: tuple, length: int) -> tuple:
    """What follows the first ``length`` parts of the file's path in a pydantic location (tags kept)."""
    seen = 0
    for i in range(len(loc)):
        if seen == length:
            return loc[i:]
        seen += not _is_tag(loc, i)
    return ()


def _relocated(error: dict[str, Any], path: SweepPath, loc: tuple, prefix: str = "") -> dict[str, Any]:
    """A member's validation error put at the sweep's value (``loc``) that caused it: an error inside the swept
    value keeps its place within it (and pydantic's type, so the loader words it as any other), one elsewhere in
    the scenario says where it is."""
    kind, at = error["type"], tuple(error["loc"])
    found = _file_path(at)
    if found[:len(path)] == path and not prefix:
        tail = _tail(at, len(path))
        tags = [part for i, part in enumerate(tail) if _is_tag(loc + tail, len(loc) + i)]
        if kind == "extra_forbidden" and tail:
            names = list(REGISTRY[tags[-1]].model_fields) if tags and len(tail) > 1 and tail[-2] == tags[-1] else []
            expected = f"; expected one of {', '.join(names)}" if names else ""
            return _problem(loc + tuple(p for p in tail[:-1] if p not in tags), f"unknown key '{tail[-1]}'{expected}")
        if not (kind == "missing" and not tail):
            detail = {"type": kind, "loc": loc + tail, "input": error.get("input"),
                      **({"ctx": error["ctx"]} if "ctx" in error else {})}
            try:
                ValidationError.from_exception_data("check", [detail])
                return detail
            except (KeyError, TypeError, ValueError):  # a custom error type: its words, below
                pass
    message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    where = dotted(found)
    return _problem(loc, f"{prefix or 'with this value, '}{where + ': ' if where else ''}{message}")


_RESERVED_DIMS = ("side", "group", "zone", "minutes", "zone_node")


def sweep_dimensions(axes: dict[str, Any]) -> dict[str, str]:
    """Each swept key's dimension name in the results: its last name (``level_m``), with the position for a whole
    list item (``interventions_0``), or the whole path when two keys would share a name."""
    names = {}
    for key in axes:
        try:
            path = sweep_path(key)
        except ValueError:
            path = (re.sub(r"\W+", "_", str(key)),)
        names[key] = "_".join(str(p) for p in path[-2:]) if isinstance(path[-1], int) else str(path[-1])
    clashing = {name for name in names.values() if list(names.values()).count(name) > 1 or name in _RESERVED_DIMS}
    for key, name in names.items():
        if name in clashing:
            names[key] = re.sub(r"\W+", "_", key).strip("_")
    return names


def _plain(value: Any) -> str:
    """A value as comparable text, to find a value listed twice."""
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _check_sweep(scenario: Scenario, data: dict[str, Any], context: dict[str, Any]
                 ) -> tuple[list[dict[str, Any]], list[SweepMember]]:
    """Problems of a scenario's sweep (as pydantic errors at the sweep's keys and values), else its members: every
    path names something the scenario has and a sweep may vary, and every member validates as a scenario would
    (each value alone first, so that a problem is that value's; then every combination of a grid)."""
    sweep = scenario.sweep
    assert sweep is not None
    axes = sweep.axes
    if not axes:
        return [_problem(("sweep",), "no key to sweep; expected a path with its values, e.g. "
                                     "interventions[0].level_m: [0.5, 1.0, 1.5]")], []
    problems: list[dict[str, Any]] = []
    paths: dict[str, SweepPath] = {}
    for key, values in axes.items():
        if not isinstance(values, list) or len(values) < 2:  # pydantic's own error types: worded as any other
            problems.append({"type": "list_type", "loc": ("sweep", key), "input": values} if not isinstance(
                values, list) else {"type": "too_short", "loc": ("sweep", key), "input": values, "ctx": {
                    "field_type": "List", "min_length": 2, "actual_length": len(values)}})
            continue
        try:
            path = sweep_path(key)
        except ValueError as exc:
            problems.append(_problem(("sweep", key), str(exc)))
            continue
        if (why := _find(scenario, path)) is not None:
            problems.append(_problem(("sweep", key), why))
            continue
        other = next((k for k, p in paths.items() if p[:len(path)] == path or path[:len(p)] == p), None)
        if other is not None:
            problems.append(_problem(("sweep", key), f"overlaps {other}; expected each part of the scenario swept "
                                                     "once"))
            continue
        paths[key] = path
        texts = [_plain(v) for v in values]
        problems += [_problem(("sweep", key, i), f"{_value_text(values[i])} is listed twice (first as item "
                                                 f"{texts.index(text)}); expected each value once")
                     for i, text in enumerate(texts) if text in texts[:i]]
    sizes = [len(values) if isinstance(values, list) else 1 for values in axes.values()]
    count = 1
    for size in sizes:
        count *= size
    if count > MAX_SWEEP_MEMBERS.value:
        shown = " x ".join(str(size) for size in sizes)
        return [_problem(("sweep",), MAX_SWEEP_MEMBERS.exceeded(f"{count:,} members ({shown} values)",
                                                                "sweep fewer values"))], []
    base = {key: value for key, value in data.items() if key != "sweep"}
    lines = dict(context.get("lines") or {})

    def member(choice: dict[str, int], prefix: str) -> tuple[Scenario | None, list[dict[str, Any]]]:
        member_data, member_lines = base, lines
        for key, i in choice.items():
            try:
                member_data = _replace(member_data, paths[key], axes[key][i])
            except ValueError:  # the file holds a single value where the scenario has a list (ids: 5)
                return None, [_problem(("sweep", key), f"{key} cannot be set in the file as written; expected the "
                                                       "list it is in written as a list, e.g. [5]")]
            member_lines = _member_lines(member_lines, paths[key], key, i)
        last = list(choice)[-1]
        try:
            return Scenario.model_validate(member_data, context={**context, "lines": member_lines}), []
        except ValidationError as exc:
            return None, [_relocated(error, paths[last], ("sweep", last, choice[last]), prefix)
                          for error in exc.errors(include_url=False)]

    alone: dict[tuple[str, int], Scenario] = {}
    for key in paths:  # the keys whose path is sound, each value alone
        texts = [_plain(v) for v in axes[key]]
        for i in range(len(texts)):
            if texts[i] in texts[:i]:
                continue
            built, found = member({key: i}, "")
            problems += found
            if built is not None:
                alone[key, i] = built
    members = []
    combinations = [] if problems else itertools.product(*(range(len(values)) for values in axes.values()))
    for index, combination in enumerate(combinations):
        choice = dict(zip(axes, combination))
        if len(choice) == 1:
            built, found = alone[next(iter(choice.items()))], []
        else:
            others = ", ".join(f"{key} = {_value_text(axes[key][i])}" for key, i in list(choice.items())[:-1])
            built, found = member(choice, f"together with {others}, ")
        problems += found
        if built is not None:
            members.append(SweepMember(index, {key: axes[key][i] for key, i in choice.items()}, built))
    problems += _limit_problems(scenario, sweep)
    unique = list({json.dumps([p["loc"], p["type"], str(p.get("ctx"))], default=str): p for p in problems}.values())
    return unique, members if not unique else []


def _limit_problems(scenario: Scenario, sweep: Sweep) -> list[dict[str, Any]]:
    """What in the sweep's limit names nothing of the scenario."""
    limit = sweep.limit
    if limit is None:
        return []
    at = ("sweep", "limit")
    problems = []
    indicators = {indicator.key: indicator for indicator in scenario.indicators}
    indicator = indicators.get(limit.indicator)
    if indicator is None:
        problems.append(_problem(at + ("indicator",), f"unknown '{limit.indicator}'; expected one of the "
                                                      f"scenario's indicators: {', '.join(indicators)}"))
    else:
        if limit.minutes is not None and limit.minutes not in indicator.minutes:
            problems.append(_problem(at + ("minutes",), f"{limit.minutes:g} is not a threshold of {indicator.key}; "
                                     f"expected one of {', '.join(f'{m:g}' for m in indicator.minutes)}"))
        if limit.variable == "share_unreachable" and indicator.measure != "nearest":
            problems.append(_problem(at + ("variable",), f"share_unreachable is a figure of nearest measures; "
                                                         f"{indicator.key} is {indicator.measure}: expected "
                                                         "share_reaching, share_not_reaching or "
                                                         "residents_not_reaching"))
    if limit.group not in scenario.groups:
        problems.append(_problem(at + ("group",), f"unknown '{limit.group}'; expected one of the scenario's groups: "
                                                  f"{', '.join(scenario.groups)}"))
    side = "below" if limit.below is not None else "above"
    if limit.variable in SHARE_VARIABLES and not 0 <= limit.value <= 1:
        problems.append(_problem(at + (side,), f"{limit.value:g} is not a share; expected a number from 0 to 1, "
                                               "e.g. 0.8 for 80 %"))
    if limit.along is not None and sweep_axis(sweep, limit.along) is None:
        problems.append(_problem(at + ("along",), f"'{limit.along}' is not a swept key; expected one of "
                                                  f"{', '.join(sweep.axes)}"))
    return problems


def sweep_axis(sweep: Sweep, name: str) -> str | None:
    """The swept key that ``name`` names: the key as written, the same path written alike, or its dimension."""
    dims = sweep_dimensions(sweep.axes)
    for key in sweep.axes:
        try:
            same = dotted(sweep_path(key)) == dotted(sweep_path(name))
        except ValueError:
            same = False
        if name in (key, dims[key]) or same:
            return key
    return None


class Scenario(Model):
    """One what-if: a twin, the changes to make, and what to measure, for whom."""

    schema_version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
                      description="lowercase letters, digits, - and _; names the run folder")
    description: str = ""
    twin: str = "helsinki"
    seed: StrictInt = Field(default=0, ge=0)
    interventions: list[Intervention] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=_default_indicators, min_length=1)
    groups: list[str] = Field(default_factory=lambda: ["all", *GROUP_COLUMNS], min_length=1)
    outputs: Outputs = Field(default_factory=Outputs)
    # How indicators with mode: transit time their trips (departure window, percentile, walk limits).
    transit: TransitOptions = Field(default_factory=TransitOptions)
    # The same scenario over a range of values (`sandbox sweep`); `sandbox run` runs the file's own values.
    sweep: Sweep | None = None
    _members: list[SweepMember] = PrivateAttr(default_factory=list)
    _base_dir: Path | None = PrivateAttr(default=None)
    _source: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)
    _allow_paths: tuple[Path, ...] = PrivateAttr(default=())

    @field_validator("twin")
    @classmethod
    def _twin_in_folder(cls, value: str, info: ValidationInfo) -> str:
        """A twin folder follows the rule of every file a scenario names: in the scenario's folder (symlinks
        followed) or an allowed one; named and synthetic twins are not files."""
        if value in NAMED_TWINS or value.startswith("synthetic:"):
            return value
        context = info.context or {}
        try:
            input_file(value, context.get("base_dir"), context.get("allow_paths") or ())
        except ValueError:
            raise ValueError(f"'{value}' is not a twin folder in the scenario's folder; expected a named twin "
                             f"({', '.join(NAMED_TWINS)}, synthetic:...) or a twin folder next to the scenario "
                             "(or pass --allow-path)") from None
        return value

    @model_validator(mode="after")
    def _unique_indicators(self, info: ValidationInfo) -> Scenario:
        keys = [i.key for i in self.indicators]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"indicators repeat {', '.join(duplicates)}; list each measure/to/mode once")
        added = sum(i.households or round(i.floor_area_m2 / FLOOR_AREA_PER_HOUSEHOLD_M2)
                    for i in self.interventions if isinstance(i, AddHousing))
        if added > MAX_NEW_HOUSEHOLDS.value:
            raise ValueError("interventions " + MAX_NEW_HOUSEHOLDS.exceeded(
                f"add {added:,} households in all (add_housing)"))
        context = info.context or {}
        self._base_dir = context.get("base_dir")
        self._source = context.get("source")
        self._lines = dict(context.get("lines") or {})
        self._allow_paths = tuple(context.get("allow_paths") or ())
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _sweep_members(cls, data: Any, handler: Callable[[Any], Scenario], info: ValidationInfo) -> Scenario:
        """Check a sweep against the scenario it varies and keep its members. Its problems are raised as pydantic
        errors located at the sweep's keys and values, so the loader gives each the line of that key or value."""
        scenario = handler(data)
        if scenario.sweep is None or not isinstance(data, dict):
            return scenario
        problems, members = _check_sweep(scenario, data, dict(info.context or {}))
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        scenario._members = members
        return scenario

    def sweep_members(self) -> list[SweepMember]:
        """The scenarios of the sweep, one per combination of the swept values (the first key varying slowest),
        each validated; empty without a sweep."""
        return list(self._members)

    @property
    def base_dir(self) -> Path | None:
        """The folder of the scenario file: relative paths (area_file, twin folders) start there."""
        return self._base_dir

    @property
    def allow_paths(self) -> tuple[Path, ...]:
        """Folders besides :attr:`base_dir` that the scenario's files may lie in (``--allow-path``)."""
        return self._allow_paths

    @property
    def source(self) -> Path | None:
        return self._source

    def where(self, *path: str | int) -> str:
        """``file:line: field.path`` of a part of the scenario, for one-line messages."""
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        line = self._lines.get(tuple(path))
        place = f"{self._source or self.name}" + (f":{line}" if line else "")
        return f"{place}: {dotted}" if dotted else place

    def _intervention_counts(self) -> str:
        counts: dict[str, int] = {}
        for intervention in self.interventions:
            counts[intervention.type] = counts.get(intervention.type, 0) + 1
        return ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in counts.items()) or "none"

    def __repr__(self) -> str:
        return (f"Scenario({self.name!r}, twin={self.twin!r}, seed={self.seed}; interventions: "
                f"{self._intervention_counts()}; indicators: {', '.join(i.key for i in self.indicators)})")

    def _repr_html_(self) -> str:
        escape = _html_text

        def items(lines: list[str]) -> str:
            return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>" if lines else "none"

        def fields(model: Model) -> str:
            text = ", ".join(f"{k}: {v}" for k, v in model.model_dump(exclude={"type"}, exclude_none=True).items())
            return text if len(text) <= 160 else text[:159] + "…"

        description = f"<br>{escape(self.description)}" if self.description else ""
        rows = [("scenario", f"<b>{escape(self.name)}</b>{description}"),
                ("twin", escape(f"{self.twin} (seed {self.seed}; zones with fewer than {self.outputs.k} "
                                     "households hidden)")),
                ("interventions", items([f"[{i}] {x.type}: {fields(x)}" for i, x in enumerate(self.interventions)])),
                ("indicators", items([f"{i.key}: within {', '.join(f'{m:g}' for m in i.minutes)} min"
                                      for i in self.indicators])),
                ("groups", escape(", ".join(self.groups)))]
        return ("<table>" + "".join(f'<tr><th style="text-align: left; vertical-align: top">{name}</th>'
                                    f'<td style="text-align: left">{cell}</td></tr>' for name, cell in rows)
                + "</table>")


def _html_text(text: str) -> str:
    """Text for HTML: escaped, with bidirectional controls shown as ``\\u202e`` rather than obeyed."""
    return html.escape(bidi_visible(text))
