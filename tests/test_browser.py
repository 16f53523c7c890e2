"""The offline pages in a real browser: report.html, access.html and compare.html open from file:// with the network
blocked, ask for nothing over http(s), log no error, draw their deck.gl map, and the report's controls change it.

Uses Debian's chromium and chromedriver through selenium (no browser or driver download). Without them the module
skips, unless SANDBOX_REQUIRE_BROWSER=1 (set by .ci/run), when every test fails saying what is missing. Screenshots
go to a temporary ``browser-artefacts`` folder whose path is printed and named in every failure message.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sandbox import run_scenario
from sandbox.cli import app
from tests.browser import MISSING, REQUIRED, offline_browser

REPO = Path(__file__).resolve().parents[1]
DRAW_TIMEOUT_S = 20.0
# Requests a page may make: itself, images inlined as data: URIs (deck.gl's icons, the flood depth), blobs.
LOCAL_SCHEMES = ("file:", "data:", "blob:")

if MISSING and not REQUIRED:
    pytest.skip(f"browser tests need {', '.join(MISSING)}", allow_module_level=True)
if not MISSING:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select


# ---------------------------------------------------------------------------------------------------- the pages

@pytest.fixture(scope="module")
def runs(helsinki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders, written once: the two example reports, and a third run for the comparison (event-street-closure:
    senior-housing-kamppi has seed 7 and other groups than the flood, so those two are not comparable)."""
    out = tmp_path_factory.mktemp("browser-runs")
    return {name: run_scenario(REPO / "scenarios" / f"{name}.yaml", twin=helsinki).write(out / name)
            for name in ("senior-housing-kamppi", "flood-market-square", "event-street-closure")}


@pytest.fixture(scope="module")
def access_page(helsinki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-access") / "access"
    result = CliRunner().invoke(app, ["access", "--to", "care", "--group", "elderly", "--minutes", "5",
                                      "--minutes", "10", "--measure", "nearest", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "access.html"


@pytest.fixture(scope="module")
def compare_page(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-compare") / "compare"
    result = CliRunner().invoke(app, ["compare", str(runs["flood-market-square"]), str(runs["event-street-closure"]),
                                      "--out", str(out)])
    assert result.exit_code == 0, f"{result.output}{result.exception!r}"
    return out / "compare.html"


def built(request: pytest.FixtureRequest, which: str) -> Path:
    """A page by name, built when a test first asks for it: a page that cannot be built fails only its own tests."""
    if which in ("access", "compare"):
        return request.getfixturevalue(f"{which}_page")
    run = {"report-senior-housing": "senior-housing-kamppi", "report-flood": "flood-market-square"}[which]
    return request.getfixturevalue("runs")[run] / "report.html"


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every screenshot goes, for a failing CI run to be looked at."""
    folder = tmp_path_factory.mktemp("browser-artefacts")
    print(f"browser screenshots: {folder}")
    return folder


# -------------------------------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def driver():
    """One headless chromium for the module, with every http(s) URL blocked and every request recorded."""
    with offline_browser({"performance": "ALL", "browser": "ALL"}) as browser:
        yield browser


class Page:
    """A page open in the browser, with the log of what it asked for and said since it was opened."""

    def __init__(self, driver, artefacts: Path, name: str):
        self.driver, self.artefacts, self.name = driver, artefacts, name
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.console: list[dict[str, Any]] = []
        self.shots = 0

    def open(self, path: Path) -> Page:
        assert path.is_file(), path
        self.drain()  # forget what earlier pages did
        self.requests, self.blocked, self.console = [], [], []
        self.driver.get(path.as_uri())
        return self

    def drain(self) -> None:
        """Read the performance (network) and console logs gathered since the last call."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.requests.append(params["url"])
            elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
                self.blocked.append(params["requestId"])
        self.console.extend(self.driver.get_log("browser"))

    def assert_offline_and_quiet(self) -> None:
        """No request but to the page itself and data:/blob: URIs, and no console error."""
        self.drain()
        assert any(url.startswith("file:") for url in self.requests), \
            f"the network log recorded nothing, not even the page: {self.requests}"
        remote = [url[:200] for url in self.requests if not url.startswith(LOCAL_SCHEMES)]
        assert not remote, f"{self.name} asked the network for {remote}; screenshots in {self.artefacts}"
        # Nothing ignored: a page that works offline has no reason to log an error.
        errors = [entry["message"][:500] for entry in self.console if entry["level"] == "SEVERE"]
        assert not errors, f"{self.name} logged errors: {errors}; screenshots in {self.artefacts}"

    # -- the map

    def map_png(self) -> bytes:
        """The map alone: the panels over it (title, legend) and the swipe slider hidden, so that what is
        compared is what deck.gl drew."""
        container = self.driver.find_element(By.ID, "deck-container")
        # Two animation frames: deck.gl draws what a control changed on the next one.
        self.driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                         "requestAnimationFrame(() => requestAnimationFrame(done));")
        self.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});"
            "document.querySelectorAll('.panel, #swipe').forEach((e) => e.style.visibility = 'hidden');", container)
        try:
            return container.screenshot_as_png
        finally:
            self.driver.execute_script(
                "document.querySelectorAll('.panel, #swipe').forEach((e) => e.style.visibility = '');")

    def save(self, png: bytes, label: str) -> Path:
        self.shots += 1
        path = self.artefacts / f"{self.name}-{self.shots:02d}-{label}.png"
        path.write_bytes(png)
        return path

    def settled_map(self, label: str, *, unlike: np.ndarray | None = None) -> np.ndarray:
        """Wait (up to DRAW_TIMEOUT_S) until deck.gl has drawn a map that is not blank and holds still (two shots
        in a row alike) and, with ``unlike``, differs from that picture; save it and return its pixels."""
        deadline = time.monotonic() + DRAW_TIMEOUT_S
        previous, pixels, reason = None, None, "no canvas in #deck-container"
        while time.monotonic() < deadline:
            if self.driver.find_elements(By.CSS_SELECTOR, "#deck-container canvas"):
                png = self.map_png()
                if png == previous and reason is None:
                    self.save(png, label)
                    return pixels
                previous, pixels = png, _pixels(png)
                if blank(pixels):
                    reason = "the map is blank (one colour, or nearly)"
                elif unlike is not None and same(pixels, unlike):
                    reason = "the map did not change"
                else:
                    reason = None  # drawn: once more alike and it holds still
            time.sleep(0.1)
        shot = self.save(self.driver.get_screenshot_as_png(), f"{label}-timeout")
        raise AssertionError(f"{self.name}: {reason or 'the map kept changing'} after {DRAW_TIMEOUT_S:g} s "
                             f"({label}); see {shot}")

    def choose(self, select_id: str, value: str) -> None:
        Select(self.driver.find_element(By.ID, select_id)).select_by_value(value)

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int32)


def colours(pixels: np.ndarray) -> int:
    """How many distinct colours."""
    return len(np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2]))


def blank(pixels: np.ndarray) -> bool:
    """One flat colour (the container's background) or close to it: nothing drawn."""
    return float(pixels[::2, ::2].reshape(-1, 3).var(axis=0).sum()) < 50 or colours(pixels) < 16


def differing(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ visibly (by more than 24 of 255 in some channel)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((np.abs(a - b).max(axis=2) > 24).mean())


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and differing(a, b) < 0.0005


@pytest.fixture
def page(driver, artefacts: Path, request: pytest.FixtureRequest) -> Page:
    name = request.node.name.removeprefix("test_").replace("[", "-").rstrip("]")
    return Page(driver, artefacts, name)


# ------------------------------------------------------------------------------------------------------- tests

def test_the_browser_blocks_and_records_network_requests(driver, page: Page, tmp_path: Path):
    """The harness itself: a page that asks for an http image is seen asking and is refused; its errors, logged
    or thrown, are caught."""
    probe = tmp_path / "probe.html"
    probe.write_text('<!DOCTYPE html><img src="http://192.0.2.1/probe.png"><script>console.error("logged");'
                     'setTimeout(() => { throw new Error("thrown"); });</script>', encoding="utf-8")
    page.open(probe)
    time.sleep(0.5)
    page.drain()
    assert "http://192.0.2.1/probe.png" in page.requests
    assert page.blocked, "the http request was not blocked"
    severe = " ".join(entry["message"] for entry in page.console if entry["level"] == "SEVERE")
    assert "logged" in severe and "thrown" in severe, page.console
    with pytest.raises(AssertionError, match="asked the network"):
        page.assert_offline_and_quiet()


@pytest.mark.parametrize("which", ["report-senior-housing", "report-flood", "access", "compare"])
def test_page_draws_its_map_offline_without_errors(request: pytest.FixtureRequest, page: Page, which: str):
    page.open(built(request, which))
    pixels = page.settled_map("drawn")
    assert colours(pixels) > 50, f"{which}: only {colours(pixels)} colours in the map; see {page.artefacts}"
    page.save(page.driver.get_screenshot_as_png(), "window")
    page.assert_offline_and_quiet()


def test_report_controls_redraw_the_map_and_its_title(runs: dict[str, Path], page: Page):
    page.open(runs["flood-market-square"] / "report.html")
    pixels = page.settled_map("first")
    title = page.text("map-title")
    assert title
    for select_id in ("indicator", "group", "view"):
        options = [o.get_attribute("value") for o in Select(page.driver.find_element(By.ID, select_id)).options]
        chosen = Select(page.driver.find_element(By.ID, select_id)).first_selected_option.get_attribute("value")
        other = next(value for value in options if value not in (chosen, "swipe"))
        page.choose(select_id, other)
        pixels = page.settled_map(f"{select_id}-{other}", unlike=pixels)
        assert page.text("map-title") != title, \
            f"#map-title stayed '{title}' after #{select_id} = {other}; see {page.artefacts}"
        title = page.text("map-title")
    page.assert_offline_and_quiet()


def test_report_swipe_shows_the_baseline_left_and_the_scenario_right(runs: dict[str, Path], page: Page):
    """The swipe view: a slider (0-100) over the map; left of it the map of today, right of it the map with the
    scenario. Checked on the flood, whose water (lower right of the map) only the scenario shows."""
    page.open(runs["flood-market-square"] / "report.html")
    change = page.settled_map("first")
    page.choose("view", "baseline")
    baseline = page.settled_map("baseline", unlike=change)
    page.choose("view", "scenario")
    scenario = page.settled_map("scenario", unlike=baseline)
    width = baseline.shape[1]
    # The flood lies right of 40 % and left of 80 % of the map's width: the swipe shows it at 40 and hides it at 80.
    # It must be there to tell the two sides apart, or the checks below prove nothing.
    middle = slice(width * 46 // 100, width * 74 // 100)
    assert differing(baseline[:, middle], scenario[:, middle]) > 0.002, "baseline and scenario look alike"
    values = [o.get_attribute("value") for o in Select(page.driver.find_element(By.ID, "view")).options]
    assert "swipe" in values, f"#view offers {values}; expected a 'swipe' option"
    page.choose("view", "swipe")
    slider = page.driver.find_element(By.ID, "swipe")
    assert slider.is_displayed() and slider.get_attribute("type") == "range"
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", "100")
    over = page.driver.execute_script(
        "const s = arguments[0].getBoundingClientRect(), m = document.getElementById('map-wrap')"
        ".getBoundingClientRect(); return s.left >= m.left - 1 && s.right <= m.right + 1 && s.top >= m.top - 1 "
        "&& s.bottom <= m.bottom + 1;", slider)
    assert over, "the #swipe slider is not over the map"
    previous = None
    for value in (40, 80):
        page.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
            slider, str(value))
        pixels = page.settled_map(f"swipe-{value}", unlike=previous)
        # Leave out a band either side of the split, where a handle or divider may be drawn.
        split, band = width * value // 100, width * 6 // 100
        for side, columns, expected in (("left", slice(0, split - band), baseline),
                                        ("right", slice(split + band, width), scenario)):
            wrong = differing(pixels[:, columns], expected[:, columns])
            sides_differ = differing(baseline[:, columns], scenario[:, columns])
            # The same map draws the same pixels (here none differ); showing the wrong side differs as much as the
            # two sides do. A few pixels of a decoration are let through.
            assert wrong <= max(0.0005, sides_differ / 4), (
                f"at {value} the {side} of the swipe ({wrong:.2%} of pixels off) does not show the "
                f"{'baseline' if side == 'left' else 'scenario'} (the two differ in {sides_differ:.2%}); see "
                f"{page.artefacts}")
        previous = pixels
    page.assert_offline_and_quiet()


def test_compare_controls_redraw_the_map(compare_page: Path, page: Page):
    page.open(compare_page)
    pixels = page.settled_map("first")
    title = page.text("map-title")
    page.choose("show", "value")
    page.settled_map("show-value", unlike=pixels)
    assert page.text("map-title") != title, f"#map-title stayed '{title}' after #show = value; see {page.artefacts}"
    page.assert_offline_and_quiet()
