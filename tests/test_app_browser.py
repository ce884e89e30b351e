"""The app in a real headless Chromium (Playwright): upload, see maps and a result, toggle a sense.

Saves a screenshot to $SENSORIUM_SCREENSHOT (default: the test's tmp_path) for a human look.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app_fixtures import CONTENT, STYLE, launch_app, torch_threads

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TIMEOUT_MS = 90_000  # a loaded 2-core CPU: first run imports and loads the senses

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*(no_silent_downcasting|copy keyword)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with torch_threads(1):
        demo, url = launch_app(tmp_path_factory.mktemp("ckpt") / "tiny-sensorium")
        try:
            yield url
        finally:
            demo.close()


def test_upload_toggle_and_see_maps_and_result(app_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url)
            expect = sync_api.expect
            expect(page.get_by_role("heading", name="Sensorium")).to_be_visible()

            # Nothing uploaded yet: Translate explains instead of failing.
            page.locator("#run").click()
            expect(page.get_by_text("Please add a content image").first).to_be_visible(timeout=TIMEOUT_MS)
            page.locator("[data-testid=toast-close]").first.click()

            page.locator("#content input[type=file]").set_input_files(str(CONTENT))
            page.locator("#style input[type=file]").set_input_files(str(STYLE))
            maps, status = page.locator("#maps"), page.locator("#status")
            expect(status).to_contain_text("total", timeout=TIMEOUT_MS)
            expect(maps.locator("img")).to_have_count(3)
            expect(maps).to_contain_text("face landmarks")
            expect(page.locator("#result img")).to_have_count(2)  # before / after slider
            expect(page.locator("#use-depth input[type=checkbox]")).to_be_disabled()  # sense missing here
            expect(page.locator("#senses")).to_contain_text("Unavailable here")

            # Untick a sense: the generator re-runs on the cached maps.
            page.locator("#use-person input[type=checkbox]").uncheck()
            expect(maps).to_contain_text("person · off", timeout=TIMEOUT_MS)
            expect(status).to_contain_text("(cached)")
            expect(status).to_contain_text("runtime fused")  # the toggle ran on a fast runtime, not eager
            expect(page.get_by_role("button", name="Download PNG")).to_be_enabled()

            shot = Path(os.environ.get("SENSORIUM_SCREENSHOT") or tmp_path / "app.png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            page.get_by_role("tab", name="Random styles").click()
            page.locator("#sample").click()
            expect(page.locator("#samples img")).to_have_count(4, timeout=TIMEOUT_MS)
        finally:
            browser.close()
