"""A real headless Chromium for the UI tests (Debian's, never a downloaded one): its path, flags and
timeout in one place, and the launch-and-close every browser test starts with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TIMEOUT_MS = 90_000  # a loaded 2-core CPU: first run imports and loads the senses
VIEWPORT = {"width": 1400, "height": 1000}


@contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator:
    """A launched headless Chromium (Playwright), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url: str):
    """A new page at `url`, at the tests' viewport and timeout."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page
