"""Bounded disk: the app's own download folder is swept by age and removed at exit, and gradio's
cache of uploads and results is told the same TTL (SENSORIUM_CACHE_TTL)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from demo.settings import parse_settings
from demo.sweeper import FolderSweeper, sweep_interval
from tests.app_fixtures import CONTENT, STYLE, torch_threads


def test_the_sweeper_deletes_only_files_older_than_the_ttl_and_the_folder_at_exit(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    old, new = folder / "old.png", folder / "new.png"
    old.write_bytes(b"x" * 100)
    new.write_bytes(b"y" * 10)
    os.utime(old, (time.time() - 120, time.time() - 120))
    sweeper = FolderSweeper(folder, ttl=60)
    assert sweeper.sweep() == 100 and not old.exists() and new.exists()
    sweeper.remove()
    assert not folder.exists()
    assert sweep_interval(3600) == 600 and sweep_interval(2) == 1.0


def test_the_cache_ttl_comes_from_flag_or_environment():
    assert parse_settings([], {}).cache_ttl == 3600
    assert parse_settings([], {"SENSORIUM_CACHE_TTL": "30"}).cache_ttl == 30
    assert parse_settings(["--cache-ttl", "0"], {"SENSORIUM_CACHE_TTL": "30"}).cache_ttl == 0
    with pytest.raises(SystemExit):
        parse_settings(["--cache-ttl", "-1"], {})


@pytest.mark.slow
def test_the_running_app_deletes_its_cached_uploads_and_results_after_the_ttl(tmp_path):
    from gradio_client import Client, handle_file

    from tests.reliability_fixtures import launch

    with torch_threads(1):
        demo, url, _ = launch(tmp_path / "ckpt", cache_ttl=2.0)
        try:
            cache = Path(demo.GRADIO_CACHE)
            before = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
            Client(url, verbose=False).predict(handle_file(CONTENT), handle_file(STYLE), ["edges"], None, 64,
                                               api_name="/translate")  # fmt: skip
            made = {p for p in cache.rglob("*") if p.is_file()} - before
            assert made, "the request left no upload or result in gradio's cache"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(p.exists() for p in made):
                time.sleep(0.5)
            assert not [p for p in made if p.exists()], "files outlived the 2 s TTL"
        finally:
            demo.close()


def test_zerogpu_durations_are_sized_per_request_and_off_a_space_nothing_changes(monkeypatch):
    import spaces  # the real package (requirements-dev)

    from demo.ui import gpu, gpu_seconds

    def translate(content, style, modalities=None, strengths=None, resolution=None, style_b=None, mix=0.0, domain=0):
        return resolution

    assert gpu(translate) is translate  # off a Space, spaces.GPU hands the function back unchanged
    seen = {}
    real = spaces.GPU

    def recording(fn, duration=None, **kwargs):
        seen[fn.__name__] = duration
        return real(fn, duration=duration, **kwargs)

    monkeypatch.setattr(spaces, "GPU", recording)

    def random_styles(content, modalities=None, strengths=None, resolution=None, seed=0, n=4, domain=0):
        return n

    gpu(translate)
    gpu(images="n")(random_styles)
    assert seen["translate"]("c", "s", resolution=256) == gpu_seconds(256, 1) == 6
    assert seen["translate"]("c", "s", None, None, 512) == 10
    assert seen["random_styles"]("c", resolution=512, n=8) == 52
    assert seen["random_styles"]("c", resolution=2048, n=8) == 60  # capped
    assert gpu_seconds("not a number") == 6  # a bad request still gets a sane reservation


def test_a_repeated_download_renews_its_age_so_the_sweeper_keeps_it(tmp_path):
    from PIL import Image

    from demo import handlers as h
    from tests.app_fixtures import tiny_pipeline

    state = h.DemoState.create(tiny_pipeline())
    image = Image.new("RGB", (16, 16), (200, 30, 30))
    path = Path(h.save_png(state, image))
    os.utime(path, (time.time() - 120, time.time() - 120))  # an hour-old copy of the same result
    assert h.save_png(state, image) == str(path)  # handed out again …
    assert FolderSweeper(state.out_dir, ttl=60).sweep() == 0 and path.is_file()  # … so not swept
    assert Image.open(path).getpixel((0, 0)) == (200, 30, 30)


def test_the_cache_sweep_survives_files_added_while_it_runs(tmp_path):
    """gradio's own sweep raises when a request adds a file mid-sweep, which ends all sweeping for
    good (benchmarks/soak.py found the cache growing without bound); ours sweeps copies."""
    from types import SimpleNamespace

    from demo.cache_sweep import delete_files_created_by_app, gradio_sweep

    class GrowingSet(set):
        """A set of cached files to which a "request" adds a file while it is being iterated."""

        def __iter__(self):
            for i, item in enumerate(super().__iter__()):
                if i == 0:
                    self.add(str(tmp_path / f"new-{len(self)}.png"))
                yield item

    def cache():
        files = [tmp_path / f"old-{i}.png" for i in range(3)]
        for f in files:
            f.write_bytes(b"x")
            os.utime(f, (time.time() - 120, time.time() - 120))  # also renews ctime: touch as "now"
        kept = tmp_path / "example.png"
        kept.write_bytes(b"e")
        component = SimpleNamespace(keep_in_cache={str(kept)})
        return SimpleNamespace(blocks={1: component}, temp_file_sets=[GrowingSet(map(str, [*files, kept]))]), kept

    blocks, _ = cache()
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        gradio_sweep()(blocks, None)  # gradio 6.31's sweep (even after an app installed ours): the bug is still there
    blocks, kept = cache()
    delete_files_created_by_app(blocks, None)
    assert kept.exists() and not list(tmp_path.glob("old-*.png"))  # keep_in_cache spared, the rest gone
    blocks, kept = cache()
    delete_files_created_by_app(blocks, 60)  # ctime is now (utime touches it): nothing is old enough
    assert len(list(tmp_path.glob("old-*.png"))) == 3


def test_the_app_installs_the_safe_sweep(tmp_path):
    from gradio import route_utils

    from demo.cache_sweep import delete_files_created_by_app, gradio_sweep
    from demo.ui import build_demo
    from tests.app_fixtures import tiny_pipeline

    build_demo(tiny_pipeline())
    assert route_utils.delete_files_created_by_app is delete_files_created_by_app
    build_demo(tiny_pipeline())  # a second app in the process: still ours, gradio's kept aside
    assert route_utils.delete_files_created_by_app is delete_files_created_by_app
    assert gradio_sweep() is not delete_files_created_by_app


def test_a_long_ttl_does_not_slow_the_memory_trim_to_the_sweep_pace(tmp_path):
    """An hour's TTL sweeps every 10 minutes; the trim keeps its own, shorter period."""
    sweeper = FolderSweeper(tmp_path / "out", ttl=3600, trim_every=0.1)
    assert sweeper.every == 600
    sweeper.start()
    deadline = time.monotonic() + 10
    while sweeper.trims == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    sweeper.remove()
    assert sweeper.trims >= 1
