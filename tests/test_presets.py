"""Presets: paired (content, style, senses) examples, computed on their first click, then served
from gradio's example cache to everyone (a real headless Chromium against the running app)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_fixtures import launch_app, torch_threads
from tests.browser import CHROMIUM, TIMEOUT_MS, chromium, open_page


def test_preset_rows_tick_only_senses_that_run_here():
    from demo.presets import PRESETS, preset_rows
    from demo.state import DemoState
    from tests.app_fixtures import tiny_pipeline

    state = DemoState.create(tiny_pipeline())
    rows = preset_rows(state)
    assert len(rows) == len(PRESETS) >= 3
    for row, preset in zip(rows, PRESETS, strict=True):
        assert Path(row[0]).is_file() and Path(row[1]).is_file()
        ticks = dict(zip(state.modalities, row[2:], strict=True))
        assert not ticks["depth"]  # unavailable here, so never ticked
        assert {m for m, on in ticks.items() if on} == set(preset.senses) & set(state.available)


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:.*(no_silent_downcasting|copy keyword)")
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)")
def test_a_preset_is_computed_on_its_first_click_then_served_from_the_cache(tmp_path, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    import demo.presets as presets

    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "cached_examples"))
    calls = []
    real = presets.compute
    monkeypatch.setattr(presets, "compute", lambda *a: calls.append(a[1:]) or real(*a))
    with torch_threads(1):
        demo, url = launch_app(tmp_path / "ckpt")
        try:
            with chromium() as browser:
                for visit in range(2):  # two visitors, two sessions
                    page = open_page(browser, url)
                    page.locator("#presets").get_by_text(presets.PRESETS[0].label).click()
                    sync_api.expect(page.locator("#result img")).to_have_count(2, timeout=TIMEOUT_MS)
                    sync_api.expect(page.locator("#status")).to_contain_text("total")
                    sync_api.expect(page.locator("#maps img").first).to_be_visible()
                    assert len(calls) == 1, f"visit {visit}: the preset ran {len(calls)} times"
                    page.close()
        finally:
            demo.close()
    assert any((tmp_path / "cached_examples").rglob("log.csv"))
