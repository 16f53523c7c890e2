"""Headless chromium for the browser tests (tests/test_browser.py, tests/test_report_size.py): Debian's chromium and
chromedriver through selenium, every http(s) URL blocked, nothing downloaded. Without them the tests skip, unless
SANDBOX_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

REQUIRED = os.environ.get("SANDBOX_REQUIRE_BROWSER") == "1"
BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
                "--disable-background-networking", "--window-size=1200,900"]

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError:  # selenium is in the dev extra; a bare install of the package has no browser tests
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [what for what, found in (("selenium (pip install -c constraints.txt -e '.[dev]')", webdriver),
                                     ("chromium (apt-get install chromium)", CHROMIUM),
                                     ("chromedriver (apt-get install chromium-driver)", CHROMEDRIVER)) if not found]


def require_browser() -> None:
    """Skip the calling test (or fail it under SANDBOX_REQUIRE_BROWSER=1) when the browser is missing."""
    if MISSING:
        if REQUIRED:
            pytest.fail(f"SANDBOX_REQUIRE_BROWSER=1 but {', '.join(MISSING)} missing; install them (see .ci/run)",
                        pytrace=False)
        pytest.skip(f"browser tests need {', '.join(MISSING)}")


@contextlib.contextmanager
def offline_browser(logs: dict[str, str]) -> Iterator[Any]:
    """A headless chromium with every http(s) URL blocked; ``logs`` are its logging preferences."""
    require_browser()
    options = webdriver.ChromeOptions()
    for argument in BROWSER_ARGS:
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", logs)
    with pytest.MonkeyPatch.context() as patch:
        # The explicit driver path already keeps selenium-manager out; offline makes sure it downloads nothing.
        patch.setenv("SE_OFFLINE", "true")
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
        yield browser
    finally:
        browser.quit()
