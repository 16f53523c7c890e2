"""Maps: readable titles and tooltips, credits, and offline HTML that asks the network for nothing."""

from __future__ import annotations

import html
import json
import re

from sandbox import access
from sandbox.output.maps import access_map, render_html
from sandbox.output.pages import deck_bundle as bundle
from tests.tiny import tiny_twin


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
    data = json.loads(html.unescape(re.search(r'<script type="application/json" id="map-data">(.*?)</script>',
                                              page, re.S).group(1)))
    assert len(data["zones"]) == len(twin.layers["zones"])
    (entry,) = data["maps"].values()
    assert len(entry["classes"]) == len(twin.layers["zones"]) and set(entry["classes"]) <= set(range(-1, 5))
    tooltips = " ".join(data["tips"][entry["tips"]])
    assert "reach a health service" in tooltips and "households of elderly residents" in tooltips
    assert {layer["id"] for layer in data["base"]} >= {"base-buildings", "base-streets", "base-water"}
    assert [data["overlays"][name]["@@type"] for name in entry["overlays"]] == ["ScatterplotLayer"]  # the clinics
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
