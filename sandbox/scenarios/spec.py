"""The scenario file's schema: a twin, interventions (a union on ``type``, see interventions/), indicators, outputs."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..catalog import NAMED_TWINS
from ..transit import TransitOptions
from ..twin import GROUP_COLUMNS
from ..words import bidi_visible
from .fields import MAX_NEW_HOUSEHOLDS, Mode, Model, input_file
from .interventions import AddHousing, Intervention
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
