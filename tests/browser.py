"""Headless Chromium for tests: Debian's `chromium` driven by Playwright, with no download.

`make test` installs the Debian package where it can (root with apt); elsewhere the browser
tests skip and say how to get it.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No background traffic: the test machines have no network, and Chromium's calls home fail.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page() -> Iterator:
    """A Playwright page in headless Chromium; skips the test when Chromium is missing."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (make test does, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
