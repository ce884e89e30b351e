"""Sense settings: Canny thresholds change the edges map and re-run only the edges sense; the
detection resolution runs the senses at another size and resamples their maps; HED replaces
Canny only where its weights are (here a randomly initialised HED saved as its weights file, so
the real loading path runs), and says so where they are not."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from sensorium.senses import SenseSet
from sensorium.senses.settings import SenseSettings

from .app_fixtures import CONTENT, tiny_pipeline, torch_threads
from .senses_fixtures import astronaut


@pytest.fixture(scope="module")
def pipe():
    with torch_threads(1):
        yield tiny_pipeline()


def test_canny_thresholds_change_edges_and_re_run_only_that_sense(pipe):
    content = Image.open(CONTENT)
    auto = pipe.sense(content, 128)
    misses = pipe.senses.cache.misses
    strict = pipe.sense(content, 128, settings=SenseSettings(canny_low=150, canny_high=300))
    assert pipe.senses.cache.misses == misses + 1  # the edges sense alone ran again
    assert strict.maps["person"] is auto.maps["person"] and strict.maps["face_landmarks"] is auto.maps["face_landmarks"]
    loose = pipe.sense(content, 128, settings=SenseSettings(canny_low=10, canny_high=30))
    counts = [float(c.maps["edges"].tensor.sum()) for c in (strict, auto, loose)]
    assert counts[0] < counts[1] < counts[2], counts  # higher thresholds keep fewer edges
    pipe.sense(content, 128, settings=SenseSettings(canny_low=150, canny_high=300))
    assert pipe.senses.cache.misses == misses + 2  # the same settings again: cached


def test_detection_resolution_runs_the_senses_at_that_size(pipe):
    content = Image.open(CONTENT)
    plain = pipe.sense(content, 128)
    fine = pipe.sense(content, 128, settings=SenseSettings(detect_resolution=384))
    for m, smap in fine.maps.items():
        assert smap.tensor.shape == plain.maps[m].tensor.shape and smap.preview.size == plain.maps[m].preview.size
    assert not torch.equal(fine.maps["edges"].tensor, plain.maps["edges"].tensor)


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="canny_low .* must not exceed canny_high"):
        SenseSettings(canny_low=200, canny_high=100)
    with pytest.raises(ValueError, match="detect_resolution must be from 32"):
        SenseSettings(detect_resolution=10)


def test_hed_only_where_its_weights_are(tmp_path):
    photo = astronaut()
    without = SenseSet(("edges",), overrides={"edges": str(tmp_path / "no-hed")}).extract(
        photo, 64, settings=SenseSettings(edges="hed"))  # fmt: skip
    assert "edges-hed cannot run here" in without.notes["edges"] and without["edges"].tensor.unique().numel() == 2

    from controlnet_aux.hed import ControlNetHED_Apache2

    torch.manual_seed(0)
    torch.save(ControlNetHED_Apache2().state_dict(), tmp_path / "ControlNetHED.pth")
    senses = SenseSet(("edges",), overrides={"edges": str(tmp_path)})
    hed = senses.extract(photo, 64, settings=SenseSettings(edges="hed"))
    canny = senses.extract(photo, 64)
    assert "edges" not in hed.notes and hed["edges"].tensor.unique().numel() > 2  # soft edges
    assert canny["edges"].tensor.unique().numel() == 2  # the default is still Canny


def test_a_failed_hed_default_still_lets_canny_be_picked(tmp_path):
    """A checkpoint trained on HED maps prefers HED; when its weights fail to load, the settings'
    Canny still runs (the failure is HED's, not the modality's)."""
    (tmp_path / "ControlNetHED.pth").write_bytes(b"not a checkpoint")
    senses = SenseSet(("edges",), overrides={"edges": str(tmp_path)}, preferred={"edges": "edges-hed"})
    photo = astronaut()
    failed = senses.extract(photo, 64)
    assert "edges" not in failed and "edges" in failed.notes
    canny = senses.extract(photo, 64, settings=SenseSettings(edges="canny"))
    assert "edges" in canny and canny["edges"].tensor.unique().numel() == 2
