"""The demo's handlers, called directly with a tiny random model through the real pipeline and senses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo import handlers as h
from tests.app_fixtures import (
    CONTENT,
    STYLE,
    STYLE_B,
    corrupt_jpeg,
    grayscale16,
    png_bytes,
    text_file,
    tiny_pipeline,
    torch_threads,
)

RES = 64  # small outputs keep the whole file at a few seconds on a loaded 2-core CPU


@pytest.fixture(scope="module")
def state() -> Iterator[h.DemoState]:
    with torch_threads(1):
        yield h.DemoState.create(tiny_pipeline())


def fresh_content(seed: int) -> Image.Image:
    """The example portrait with a few pixels changed: a new image for the map cache."""
    im = Image.open(CONTENT).convert("RGB")
    arr = np.asarray(im).copy()
    arr[:80, :80] = (seed * 40) % 256
    return Image.fromarray(arr)


def count_calls(monkeypatch, state: h.DemoState, modality: str) -> list[int]:
    """Wrap the real sense's `_extract` (it still runs) and count how often the SenseSet reaches it."""
    sense = state.pipe.senses.sense(modality)
    real, calls = sense._extract, [0]

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(sense, "_extract", counted)
    return calls


def test_translate_returns_image_maps_and_status(state):
    r = h.translate(state, str(CONTENT), str(STYLE), ["edges", "person"], {"edges": 0.5}, RES)
    assert isinstance(r.image, Image.Image) and r.image.mode == "RGB"
    assert r.image.size == r.content.size and max(r.image.size) == RES
    captions = [c for _, c in r.maps]
    assert captions == ["edges · ×0.50", "person", "face landmarks · off"]  # depth is unavailable: no map
    assert all(isinstance(p, Image.Image) for p, _ in r.maps)
    assert r.modalities == ("edges", "person")
    assert "CPU" in r.status and "generator" in r.status and "total" in r.status
    assert set(r.timings) == {"senses", "style", "generator", "total"}


def test_toggles_and_strengths_never_re_extract(state, monkeypatch):
    edges, person = count_calls(monkeypatch, state, "edges"), count_calls(monkeypatch, state, "person")
    content = fresh_content(1)
    h.translate(state, content, str(STYLE), ["edges"], None, RES)  # a new image: every sense runs once
    assert (edges[0], person[0]) == (1, 1)
    for modalities, strengths in [(["person"], None), ([], None), (["edges", "person"], {"edges": 0.2}),
                                  (["edges"], {"edges": 1.5, "person": 0.0})]:  # fmt: skip
        h.translate(state, content, str(STYLE), modalities, strengths, RES)
    h.translate(state, content, str(STYLE_B), ["edges"], None, RES, style_b=str(STYLE), mix=0.3)
    h.random_styles(state, content, ["edges", "person"], None, RES, seed=1, n=2)
    assert (edges[0], person[0]) == (1, 1)  # toggles, strengths, styles: generator only
    h.translate(state, fresh_content(2), str(STYLE), ["edges"], None, RES)
    assert (edges[0], person[0]) == (2, 2)  # another image runs its senses once


def test_no_modality_gives_style_only_output_with_a_notice(state):
    r = h.translate(state, str(CONTENT), str(STYLE), [], None, RES)
    assert r.image.size == r.content.size and r.modalities == ()
    assert any("style alone" in n for n in r.notes)
    assert all(c.endswith("· off") for _, c in r.maps)


@pytest.mark.parametrize("content, style, expected", [(None, STYLE, "content image"), (CONTENT, None, "style image"),
                                                      ("", STYLE, "content image")])  # fmt: skip
def test_missing_images_raise_friendly_errors(state, content, style, expected):
    with pytest.raises(gr.Error) as err:
        h.translate(state, content and str(content), style and str(style), ["edges"], None, RES)
    assert f"Please add a {expected}" in err.value.message
    with pytest.raises(gr.Error, match="content image"):
        h.random_styles(state, None)
    with pytest.raises(gr.Error, match="content image"):
        h.extract_maps(state, None)


def test_unreadable_uploads_raise_friendly_errors(state, tmp_path):
    cases = [(corrupt_jpeg(tmp_path / "cut.jpg"), "damaged or incomplete"),
             (text_file(tmp_path / "notes.jpg"), "not an image"), (b"\x00\x01garbage" * 50, "not an image")]  # fmt: skip
    for source, phrase in cases:
        with pytest.raises(gr.Error) as err:
            h.translate(state, str(CONTENT), source if isinstance(source, bytes) else str(source), ["edges"], None, RES)
        assert err.value.message.startswith("Style image: ") and phrase in err.value.message
        assert "Traceback" not in err.value.message


def test_unusual_images_work_with_notes(state, tmp_path):
    rgba = Image.new("RGBA", (90, 70), (200, 40, 40, 0))
    wide = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 2600, 3), dtype=np.uint8))
    for content in [str(grayscale16(tmp_path / "g16.png")), png_bytes(rgba), np.asarray(rgba), wide]:
        r = h.translate(state, content, str(STYLE), ["edges"], None, RES)
        assert r.image.mode == "RGB" and max(r.image.size) == RES
    assert any("scaled the image down from 2600×120" in n for n in r.notes)


def test_random_styles_are_n_images_reproducible_by_seed(state):
    a = h.random_styles(state, str(CONTENT), ["edges"], None, RES, seed=7, n=4)
    b = h.random_styles(state, str(CONTENT), ["edges"], None, RES, seed=7, n=4)
    assert len(a) == 4 and [c for _, c in a] == [f"seed 7 · #{i}" for i in range(1, 5)]
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for (x, _), (y, _) in zip(a, b, strict=True))
    assert not np.array_equal(np.asarray(a[0][0]), np.asarray(a[1][0]))
    assert len(h.random_styles(state, str(CONTENT), n=100)) == h.MAX_SAMPLES


def test_interpolation_endpoints_equal_the_pure_styles(state):
    def image(style, style_b=None, mix=0.0):
        return np.asarray(h.translate(state, str(CONTENT), str(style), ["edges"], None, RES, style_b, mix).image)

    pure_a, pure_b = image(STYLE), image(STYLE_B)
    assert not np.array_equal(pure_a, pure_b)
    np.testing.assert_array_equal(image(STYLE, STYLE_B, 0.0), pure_a)
    np.testing.assert_array_equal(image(STYLE, STYLE_B, 1.0), pure_b)
    middle = image(STYLE, STYLE_B, 0.5)
    assert not np.array_equal(middle, pure_a) and not np.array_equal(middle, pure_b)


def test_a_failing_extractor_skips_its_map_and_the_rest_run(state, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(state.pipe.senses.sense("person"), "_extract", broken)
    r = h.translate(state, fresh_content(3), str(STYLE), ["edges", "person"], None, RES)
    assert r.modalities == ("edges",)
    assert len(r.warnings) == 1 and "person map was skipped" in r.warnings[0] and "simulated crash" in r.warnings[0]
    assert "person" not in [c.split(" ·")[0] for _, c in r.maps]


def test_unavailable_and_unknown_modalities(state):
    assert state.available == ("edges", "person", "face_landmarks") and not state.availability["depth"].ok
    r = h.translate(state, str(CONTENT), str(STYLE), ["depth", "edges"], None, RES)
    assert r.modalities == ("edges",) and any("depth is not available here" in n for n in r.notes)
    with pytest.raises(gr.Error, match="Unknown modality 'colour'"):
        h.translate(state, str(CONTENT), str(STYLE), ["colour"], None, RES)
    with pytest.raises(gr.Error, match="strength of edges must be a number"):
        h.translate(state, str(CONTENT), str(STYLE), ["edges"], {"edges": "lots"}, RES)
    r = h.translate(state, str(CONTENT), str(STYLE), ["edges"], {"edges": 3, "person": 0.5}, RES)  # an API caller's 3
    assert [n for n in r.notes if "strength" in n] == ["The strength of edges was 3; it ran at 1.5 (strengths go from 0 to 1.5)."]


def test_resolution_is_bounded_and_rounded(state):
    assert h.check_resolution(state, 5000) == (
        state.max_resolution,
        [f"Resolution is limited to {state.max_resolution} px here; used {state.max_resolution} px."],
    )
    res, notes = h.check_resolution(state, 100)
    assert res % state.pipe.config.stride == 0 and res <= 100 and notes
    assert h.check_resolution(state, None) == (state.default_resolution, [])
    with pytest.raises(gr.Error, match="number of pixels"):
        h.check_resolution(state, "big")


def test_download_is_a_png(state):
    r = h.translate(state, str(CONTENT), str(STYLE), ["edges"], None, RES)
    path = h.save_png(state, r.image)
    with Image.open(path) as saved:
        assert saved.format == "PNG" and np.array_equal(np.asarray(saved.convert("RGB")), np.asarray(r.image))


def test_the_app_opens_at_the_checkpoints_training_resolution(tmp_path):
    # A model looks best at the scale it learnt: a 64² export opens at 64, a 256² one at 256.
    from sensorium import Sensorium, tiny_config
    from sensorium.pipeline import TranslationPipeline

    for trained, expected in ((64, 64), (256, 256), (100, 256), (None, 256)):
        metadata = {"resolution": trained} if trained else {}
        path = Sensorium(tiny_config()).save_pretrained(tmp_path / str(trained), metadata=metadata)
        state = h.DemoState.create(TranslationPipeline.from_pretrained(path, device="cpu"), max_resolution=256)
        assert state.default_resolution == expected and expected in state.resolutions, (trained, state.resolutions)
        assert h.check_resolution(state, None) == (expected, [])


def test_an_unforeseen_failure_is_a_sentence_and_a_refused_download_keeps_the_result(state, tmp_path):
    with pytest.raises(gr.Error, match=r"Something went wrong on the server with this request \(ZeroDivisionError\)"):
        h.no_traceback(lambda: 1 / 0)
    with pytest.raises(gr.Error, match="Please add"):  # our own messages pass unchanged
        h.translate(state, None, str(STYLE), resolution=RES)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the download folder should be")
    image = Image.new("RGB", (8, 8))
    assert h.save_png(state, image) is not None
    assert h.save_png(dataclasses.replace(state, out_dir=blocked), image) is None


def test_using_an_upload_renews_its_age_for_the_cache_sweep(state, tmp_path):
    """gradio's cache is swept by ctime: an upload a person keeps toggling on must not age out."""
    import os
    import time

    from demo.inputs import load_upload

    path = tmp_path / "content.png"
    Image.open(CONTENT).save(path)
    before = os.stat(path)
    time.sleep(0.05)
    load_upload(state, str(path), "content")
    after = os.stat(path)
    assert after.st_ctime_ns > before.st_ctime_ns and after.st_mtime_ns == before.st_mtime_ns


def test_editors_on_my_map_keep_their_strokes_when_only_the_size_changes(state):
    from demo.own_maps import editor_backgrounds

    with gr.Blocks():
        editors = {"person": gr.ImageEditor(), "edges": gr.ImageEditor()}
    fresh = editor_backgrounds(state, editors, str(CONTENT), RES)
    assert all(isinstance(v, dict) and v["background"] is not None for v in fresh)
    kept = editor_backgrounds(state, editors, str(CONTENT), RES, keep=["person"])
    assert kept[0] == gr.skip() and isinstance(kept[1], dict)
