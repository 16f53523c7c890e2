"""The intervention types, one unit each (model, resolve, apply, description), and what is derived from them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Union

from pydantic import Field
from pydantic.fields import PydanticUndefined

# Registration order is the order of the type list in messages and of the README table.
from . import (add_housing, remove_buildings, add_park, remove_park, add_facility, close_facility,  # noqa: F401
               close_streets, add_transit_stop, add_transit_line, change_service, close_stops, age_population,
               flood)
from .add_facility import AddFacility
from .add_housing import AddHousing
from .add_park import AddPark
from .add_transit_line import AddTransitLine
from .add_transit_stop import AddTransitStop, StopSpec
from .age_population import AgePopulation
from .change_service import ChangeService
from .close_stops import CloseStops
from .base import REGISTRY, Context, Resolution, Unit
from .close_facility import CloseFacility
from .close_streets import CloseStreets
from .flood import Flood, ReturnPeriod
from .remove_buildings import RemoveBuildings
from .remove_park import RemovePark

__all__ = ["INTERVENTION_TYPES", "REGISTRY", "AddFacility", "AddHousing", "AddPark", "AddTransitLine",
           "AddTransitStop", "AgePopulation", "ChangeService", "CloseFacility", "CloseStops", "CloseStreets", "Context", "Flood", "Intervention",
           "RemoveBuildings", "RemovePark", "Resolution", "ReturnPeriod", "StopSpec", "Unit", "readme_table"]

INTERVENTION_TYPES: tuple[str, ...] = tuple(REGISTRY)
Intervention = Annotated[Union[tuple(REGISTRY.values())], Field(discriminator="type")]


def readme_table() -> str:
    """The README's table of interventions (type | fields | what it does), made from the registered models, so
    the documentation cannot drift from the schema."""
    rows = ["| type | fields | what it does |", "|---|---|---|"]
    for kind, unit in REGISTRY.items():
        fields = ", ".join(_field(name, info) for name, info in unit.model_fields.items() if name != "type")
        rows.append(f"| `{kind}` | {fields} | {_markdown(unit.description())} |")
    return "\n".join(rows)


def _field(name: str, info: Any) -> str:
    """`name` with its default in parentheses, when it has one worth showing."""
    default = info.get_default(call_default_factory=True)
    if default is PydanticUndefined or default is None or default == {} or default == []:
        return f"`{name}`"
    return f"`{name}` ({_value(default)})"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _markdown(text: str) -> str:
    """reStructuredText literals (````x````) as Markdown code (```x```)."""
    return re.sub(r"``([^`]+)``", r"`\1`", text)
