"""Maps: readable titles and tooltips, credits, and offline HTML that asks the network for nothing."""

from __future__ import annotations

import html
import json
import re

from sandbox import access
from sandbox.output.maps import access_map, fill, render_html, unpacked
from sandbox.output.pages import deck_bundle as bundle
from tests.tiny import tiny_twin


def map_data(page: str) -> dict:
    """The map data of a page, as its script reads it."""
    return json.loads(html.unescape(re.search(r'<script type="application/json" id="map-data">(.*?)</script>',
                                              page, re.S).group(1)))


def page_tips(data: dict, entry: dict) -> list[str]:
    """The tooltips of one map of a page, per zone or cell, written from the page's figures as maps.js writes
    them."""
    tips = data["tips"][entry["tips"]]
    if "texts" in tips:
        return tips["texts"]
    shown = unpacked(data["fields"][tips["shown"]])
    fields = {name: unpacked(data["fields"][ref]) for name, ref in tips["fields"].items()}
    return [fill(tips["text"] if shown[i] else tips["hidden"], {name: float(v[i]) for name, v in fields.items()})
            for i in range(len(shown))]


def feature_count(geometry: dict) -> int:
    return len(unpacked(geometry["coords"])) // 2 if geometry["kind"] == "point" else \
        len(unpacked(geometry["features"])) - 1


def test_access_map_html_is_self_contained_and_says_what_it_shows():
    twin = tiny_twin()
    ds = access.nearest(twin, "care", minutes=[5, 10])
    page = render_html(access_map(twin, ds, group="elderly", minutes=5, k=1))
    assert "Share of elderly residents (65+) who reach a health service" in page
    assert "within 5 minutes on foot" in page
    # deck.gl is inlined (pydeck's offline bundle); around it, no script, style, font or tile from the network.
    assert page.count(bundle()) == 1
    markup = page.replace(bundle(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    assert "<link" not in markup and "@import" not in markup and "url(" not in markup
    assert "createDeck" in markup
    data = map_data(page)
    assert feature_count(data["zones"]["geometry"]) == len(twin.layers["zones"]) and data["zones"]["cells"] == 1
    (entry,) = data["maps"].values()
    classes = unpacked(entry["classes"]).astype(int) - 1  # 0: no data
    assert len(classes) == len(twin.layers["zones"]) and set(classes) <= set(range(-1, 5))
    tooltips = " ".join(page_tips(data, entry))
    assert "reach a health service" in tooltips and "households of elderly residents" in tooltips
    assert {layer["id"] for layer in data["base"]} >= {"base-buildings", "base-streets", "base-water"}
    assert [data["overlays"][name]["type"] for name in entry["overlays"]] == ["ScatterplotLayer"]  # the clinics
    assert "mapStyle" not in data["view"]
    assert "tests/tiny.py (CC0)" in page


def test_user_text_is_escaped_and_small_zones_are_explained():
    twin = tiny_twin()
    provenance = {**twin.provenance, "parks": {"source": "<script>alert(1)</script>", "licence": "CC0"}}
    twin = twin.replace(provenance=provenance)
    ds = access.within(twin, "parks", minutes=[5])
    page = render_html(access_map(twin, ds, group="all", k=5))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hidden to protect privacy (no households of residents, fewer than 5, or hidden alongside such a zone)" \
        in page
