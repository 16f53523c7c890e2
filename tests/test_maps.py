"""Maps: readable titles and tooltips, credits, and offline HTML that asks the network for nothing."""

from __future__ import annotations

import json
import re

from sandbox import access
from sandbox.output.maps import bundle, access_map, render_html
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
    deck = json.loads(re.search(r"jsonInput: (\{.*\}),\n\s*tooltip", page, re.S).group(1).replace("<\\/", "</"))
    zones = next(layer for layer in deck["layers"] if layer["id"] == "zones")
    assert len(zones["data"]) == len(twin.layers["zones"])
    tooltips = " ".join(z["tooltip"] for z in zones["data"])
    assert "reach a health service" in tooltips and "households of elderly residents" in tooltips
    assert {layer["id"] for layer in deck["layers"]} >= {"base-buildings", "base-streets", "base-water", "zones",
                                                        "destinations"}
    assert "mapStyle" not in deck or not deck["mapStyle"]
    assert "tests/tiny.py (CC0)" in page


def test_user_text_is_escaped_and_small_zones_are_explained():
    twin = tiny_twin()
    provenance = {**twin.provenance, "parks": {"source": "<script>alert(1)</script>", "licence": "CC0"}}
    twin = twin.replace(provenance=provenance)
    ds = access.within(twin, "parks", minutes=[5])
    page = render_html(access_map(twin, ds, group="all", k=5))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "fewer than 5 households of residents; hidden to protect privacy" in page
