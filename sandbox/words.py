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
MODES = {"walk": "on foot", "bike": "by bike", "drive": "by car", "transit": "by public transport"}
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


def percentile(value: float) -> str:
    """50 -> 'median', 80 -> '80th percentile'."""
    value = float(value)
    return "median" if value == 50 else f"{value:g}th percentile"


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


# --- text that is safe to show ------------------------------------------------------------------------------------

# Bidirectional controls reorder the text around them (U+202E turns "exe.txt" into "txt.exe"): shown as \u202e.
BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
# C0 controls (ESC, BEL, CR, newline...), DEL and C1 controls: a terminal obeys them (retitle, clear, move), so a
# printed line shows them as \x1b; U+2028/9 break lines like a newline does.
_CONTROLS = frozenset([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029])


def _escaped(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_PRINTABLE = {code: _escaped(code) for code in _CONTROLS | BIDI_CONTROLS}
_BIDI_VISIBLE = {code: _escaped(code) for code in BIDI_CONTROLS}


def printable(text: object) -> str:
    """``text`` as one line a terminal shows as it is: control characters (C0, C1, ESC, newlines) and
    bidirectional controls escaped, ``\\x1b[2J`` and ``\\u202e`` printed as those characters, not obeyed."""
    return str(text).translate(_PRINTABLE)


def bidi_visible(text: str) -> str:
    """``text`` with its bidirectional controls (U+202A-202E, U+2066-2069, U+200E/F, U+061C) written out as
    ``\\u202e``: an HTML page shows where they are instead of reordering the text around them."""
    return text.translate(_BIDI_VISIBLE)
