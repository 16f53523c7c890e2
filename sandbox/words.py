"""Plain words for groups, destinations and modes, shared by maps, reports and the command line."""

from __future__ import annotations

from collections.abc import Sequence

GROUPS = {
    "all": "residents",
    "elderly": "elderly residents (65+)",
    "elderly_alone": "elderly people living alone",
    "children": "children (under 18)",
}
DESTINATIONS = {
    "parks": "a park", "transit_stops": "a transit stop", "facilities": "a facility",
    "care": "a health service (clinic, doctor, pharmacy)", "grocery": "a grocery shop", "school": "a school",
    "kindergarten": "a kindergarten", "library": "a library", "elderly_centre": "an elderly centre",
    "tram": "a tram stop", "bus": "a bus stop", "metro": "a metro entrance", "rail": "a railway station",
    "ferry": "a ferry pier",
}
MODES = {"walk": "on foot", "bike": "by bike", "drive": "by car"}
PLURALS = {"care": "health services", "grocery": "grocery shops", "elderly_centre": "elderly centres",
           "library": "libraries", "transit_stops": "transit stops", "ferry": "ferry piers",
           "metro": "metro entrances", "rail": "railway stations", "tram": "tram stops", "bus": "bus stops"}


def group(name: str) -> str:
    """'elderly' -> 'elderly residents (65+)'; a custom column reads as what it is."""
    return GROUPS.get(name, f"residents of households marked '{name}'")


def destination(name: str) -> str:
    return DESTINATIONS.get(name, f"a {name.replace('_', ' ')}")


def mode(name: str) -> str:
    return MODES.get(name, f"by {name}")


def minutes(values: Sequence[float]) -> str:
    """[5, 10, 15] -> '5, 10 and 15 min': every threshold, so none is silently left out of a sentence."""
    shown = [f"{float(v):g}" for v in values]
    return (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]) + " min"


def plural(to: str) -> str:
    """'elderly_centre' -> 'elderly centres', 'parks' -> 'parks'."""
    name = to.replace("_", " ")
    return PLURALS.get(to, name if name.endswith("s") else f"{name}s")


def amount(to: str, capacity: str | None) -> str:
    """What a supply measure shares out: 'parks area (m2)', 'care capacity', 'number of libraries'."""
    name = to.replace("_", " ")
    if capacity is None:
        return f"number of {plural(to)}"
    if capacity.endswith("_m2"):
        return f"{name} {capacity[:-3].replace('_', ' ')} (m2)"
    return f"{name} {capacity.replace('_', ' ')}"
