"""Debian's chromium driven by Playwright for Python, as the browser tests use it.

The network here is closed: without these switches chromium keeps trying to reach Google's services
(QUIC, component updates, sync) and pages stall behind those connections.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def chromium() -> Iterator[Any]:
    """A headless chromium page (1280x800, a laptop screen); skipped, saying why, without chromium."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("no %s: scripts/setup.sh installs Debian's chromium (apt-get install chromium)" % CHROMIUM)
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def screenshot(page: Any, name: str, full_page: bool = False) -> None:
    """With CONSOLE_SCREENSHOTS=folder, the page as a small PNG (palette of 128 colours) for the README."""
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".png")
    page.screenshot(path=path, full_page=full_page)
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)
