"""The HTML pages (report, comparison, maps) from jinja2 templates with autoescape on: user text (names,
descriptions, credits) is escaped by the template engine, never by hand."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
import pydeck as pdk

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["deck_bundle"] = deck_bundle
    return env


@functools.cache
def deck_bundle() -> str:
    """deck.gl as pydeck ships it for offline notebooks, safe inside a <script> element: the page needs no CDN."""
    path = Path(pdk.__file__).parent / "nbextension" / "static" / "index.js"
    return path.read_text(encoding="utf-8").replace("</script>", "<\\/script>")


def render_page(template: str, **context: Any) -> str:
    """Render one of the templates in ``sandbox/output/templates``."""
    return environment().get_template(template).render(**context)
