"""The HTML pages (report, comparison, maps) from jinja2 templates with autoescape on: user text (names,
descriptions, credits) is escaped by the template engine, never by hand; so are bidirectional controls (U+202E
would reorder the text around it), shown as ``\\u202e`` in the page's text and in its map data."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pydeck as pdk
from jinja2.utils import htmlsafe_json_dumps

from ..words import BIDI_CONTROLS, bidi_visible

TEMPLATES = Path(__file__).parent / "templates"
# In JSON (ASCII, as tojson writes it): an escaped backslash, or a bidi control's \u escape (e.g. \u202e).
_JSON_BIDI = re.compile(r"\\\\|\\u(" + "|".join(f"{code:04x}" for code in sorted(BIDI_CONTROLS)) + ")",
                        re.IGNORECASE)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined, finalize=_finalize)
    env.globals["deck_bundle"] = deck_bundle
    env.filters["tojson"] = _tojson
    return env


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` a template writes: text with its bidi controls visible (then autoescaped); markup
    the templates made (macros, tojson) as it is."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return bidi_visible(value)
    return value


@jinja2.pass_environment
def _tojson(env: jinja2.Environment, value: Any) -> markupsafe.Markup:
    """jinja2's ``tojson`` (safe in a ``<script>``), with bidi controls in strings written out as the visible text
    ``\\u202e``: the map's tooltips and labels, made into DOM text by the page's script, cannot reorder."""
    text = str(htmlsafe_json_dumps(value, dumps=env.policies["json.dumps_function"],
                                   **env.policies["json.dumps_kwargs"]))
    cleaned = _JSON_BIDI.sub(lambda m: m.group(0) if m.group(1) is None else "\\\\u" + m.group(1).lower(), text)
    return markupsafe.Markup(cleaned)


@functools.cache
def deck_bundle() -> str:
    """deck.gl as pydeck ships it for offline notebooks, safe inside a <script> element: the page needs no CDN."""
    path = Path(pdk.__file__).parent / "nbextension" / "static" / "index.js"
    return path.read_text(encoding="utf-8").replace("</script>", "<\\/script>")


def render_page(template: str, **context: Any) -> str:
    """Render one of the templates in ``sandbox/output/templates``."""
    return environment().get_template(template).render(**context)
