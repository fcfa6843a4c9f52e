"""Headless Chromium for browser tests, driven by Selenium with Debian's chromedriver.

Nothing is downloaded: Chromium and chromedriver come from the system (Debian packages
``chromium`` and ``chromium-driver``), Selenium Manager is kept offline, and Chromium's background
networking is off. Use the session-scoped ``browser`` fixture (import it into a conftest.py)::

    from tests.browser import browser  # noqa: F401

    @pytest.mark.browser
    def test_page(browser, tmp_path):
        browser.open_html("<p>hi</p>", tmp_path / "page.html", width=375)
        assert browser.horizontal_overflow() == 0
        assert browser.console_errors() == []

Without Chromium the tests skip, saying what to install; when ``CI`` is set they fail instead.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Where screenshots are kept as test artefacts (gitignored).
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
INSTALL_HINT = "apt-get install -y chromium chromium-driver, and pip install selenium"


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed ({INSTALL_HINT})"
    if _find("chromium", "chromium-browser") is None:
        return f"Chromium is not installed ({INSTALL_HINT})"
    if _find("chromedriver") is None:
        return f"chromedriver is not installed ({INSTALL_HINT})"
    return None


def require_browser() -> None:
    """Skip the calling test when Chromium is missing, or fail when running in CI."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need headless Chromium: {reason}")
    pytest.skip(reason)


class Browser:
    """One headless Chromium window; each ``open`` sets the viewport width first."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver
        self._profile = tempfile.mkdtemp(prefix="acumbamail-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = _find("chromium", "chromium-browser") or "chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--force-color-profile=srgb",
                     f"--user-data-dir={self._profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=_find("chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(30)
        self.width = 800

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def set_width(self, width: int, height: int = 900) -> None:
        """Make the viewport exactly ``width`` CSS pixels wide.

        Not emulated as a phone ("mobile"): a phone browser would zoom out to fit a too-wide
        page and widen ``innerWidth`` with it, hiding the very overflow the tests look for.
        """
        self.width = width
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False,
        })

    def open(self, url: str, *, width: int = 800) -> None:
        """Load ``url`` at ``width``, after dropping the console messages of earlier pages."""
        self.set_width(width)
        self.driver.get_log("browser")
        self.driver.get(url)

    def open_html(self, html: str, path: Path, *, width: int = 800) -> None:
        """Write ``html`` to ``path`` and load it from there."""
        path.write_text(html, encoding="utf-8")
        self.open(path.resolve().as_uri(), width=width)

    def run(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
        return int(self.run(
            "return Math.max(0, document.documentElement.scrollWidth"
            " - Math.min(window.innerWidth, arguments[0]));", self.width))

    def inner_width(self) -> int:
        return int(self.run("return window.innerWidth;"))

    def console_errors(self) -> list[str]:
        """The console errors (level SEVERE) logged since the page was opened."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry.get("level") == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        """Save a full-page PNG under ``artifacts/screenshots/NAME.png`` and return its path."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1},
        })
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium shared by the session's browser tests."""
    require_browser()
    instance = Browser()
    try:
        yield instance
    finally:
        instance.close()
