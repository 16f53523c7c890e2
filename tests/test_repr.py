"""What a notebook shows: maps inline with no network, and short, escaped reprs of the twin, a scenario and a run."""

from __future__ import annotations

import html
import re

import pytest

import sandbox
from sandbox.output import maps, pages
from sandbox.scenarios.load import parse_scenario

SCRIPT = "<script>alert('x')</script>"
SCENARIO = f"""
schema_version: 1
name: escape-check
description: "{SCRIPT} & a description"
interventions:
  - {{type: add_facility, kind: care, at: [24.9528, 60.1735], name: "{SCRIPT}"}}
indicators: [{{measure: nearest, to: care, minutes: [5]}}]
"""
INLINE_SCRIPTS = re.compile(r"(<script\b[^>]*>)(.*?)(</script\s*>)", re.IGNORECASE | re.DOTALL)
FETCHING = [  # markup that makes a browser load something over the network
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE),
    re.compile(r"\b(?:src|href|srcset|poster|data)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE),
    re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE),
    re.compile(r"@import", re.IGNORECASE),
    re.compile(r"cdn", re.IGNORECASE),
]


def offline_problems(cell_html: str) -> list[str]:
    """Why a displayed HTML output would need the network: resource-loading markup in the output or in the page of
    its iframe (the inlined deck.gl bundle's own code and the deck's JSON are checked apart: the bundle mentions
    CDN defaults it never fetches here), a deck JSON that names a URL, or an iframe without deck.gl inlined."""
    problems = [f"output: {p.pattern}" for p in FETCHING[:2] if p.search(cell_html)]
    for escaped in re.findall(r'<iframe\b[^>]*\bsrcdoc="([^"]*)"', cell_html):
        page = html.unescape(escaped)
        scripts = INLINE_SCRIPTS.findall(page)
        markup = INLINE_SCRIPTS.sub(r"\1\3", page)
        problems += [f"page: {p.pattern}: {p.search(markup).group(0)}" for p in FETCHING if p.search(markup)]
        if pages.deck_bundle() not in [body for _, body, _ in scripts]:
            problems.append("page: deck.gl (createDeck) is not inlined")
        calls = [body for _, body, _ in scripts if "createDeck(" in body and len(body) < len(page) / 2]
        if not calls:
            problems.append("page: createDeck is never called")
        problems += [f"deck JSON names {url}" for body in calls for url in re.findall(r"https?://[^\"' ]+", body)]
    return problems


@pytest.fixture(scope="module")
def escape_run(helsinki):
    return sandbox.run_scenario(parse_scenario(SCENARIO), twin=helsinki)


def test_a_map_shows_inline_with_no_network(escape_run):
    zone_map = escape_run.map("nearest-care-walk", group="elderly", view="change")
    shown = zone_map._repr_html_()
    assert shown.startswith("<iframe ") and 'title="' in shown and "560px" in shown
    assert offline_problems(shown) == []
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1))
    assert page == maps.render_html(zone_map)  # the whole offline page: legend and credits too
    assert 'id="legend"' in page and "OpenStreetMap" in page
    assert len(repr(zone_map)) < 300 and "escape-check" in repr(zone_map)


def test_the_offline_check_catches_a_cdn():
    deck = '<iframe srcdoc="&lt;script src=&quot;https://cdn.example/deck.js&quot;&gt;&lt;/script&gt;"></iframe>'
    assert offline_problems(deck)
    assert offline_problems('<script src="https://unpkg.com/deck.gl"></script>')


def test_twin_repr_is_short_and_its_html_escaped(helsinki):
    text = repr(helsinki)
    assert len(text) < 1000 and "helsinki" in text and "EPSG:" in text and "households" in text
    renamed = helsinki.replace(name=SCRIPT)
    shown = renamed._repr_html_()
    assert "fingerprint" not in renamed.cache  # the repr computes no fingerprint
    assert len(shown) < 20_000 and SCRIPT not in shown and html.escape(SCRIPT) in shown
    assert "buildings" in shown and "elderly" in shown and len(repr(renamed)) < 1000


def test_run_and_scenario_reprs_are_short_and_their_html_escaped(escape_run):
    for obj in (escape_run, escape_run.scenario):
        text = repr(obj)
        assert len(text) < 1000 and "escape-check" in text and "\n" not in text
        shown = obj._repr_html_()
        assert len(shown) < 20_000
        assert SCRIPT not in shown and "<script" not in shown
        assert html.escape(f"{SCRIPT} & a description") in shown
    shown = escape_run._repr_html_()
    for line in [*escape_run.plan.notes, *escape_run.summary().get("headlines", []), "nearest-care-walk"]:
        assert html.escape(line) in shown
    assert "nearest-care-walk" in repr(escape_run) and "add_facility" in repr(escape_run.scenario)
