"""The senses panel's inputs: `read` takes back exactly what `components` lists, in each shape an
event uses (the result, grid and heat map with own maps; the webcam without; random styles with
ticks and strengths only)."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo.own_maps import DETECTED, MINE
from demo.sense_inputs import SensePanel
from demo.sense_settings import OUTPUT_SIZE

MODALITIES = ["edges", "pose", "depth"]


def panel() -> tuple[SensePanel, dict]:
    with gr.Blocks():
        ui = {"checks": [gr.Checkbox() for _ in MODALITIES], "strengths": [gr.Slider() for _ in MODALITIES],
              "sources": {m: gr.Radio([DETECTED, MINE]) for m in ("edges", "pose")},  # depth: no own map
              "own": {m: gr.Image() for m in ("edges", "pose")},
              "settings": [gr.Radio([OUTPUT_SIZE]), gr.Radio(["Canny", "HED"]), gr.Checkbox(), gr.Slider(), gr.Slider()]}  # fmt: skip
    return SensePanel(MODALITIES, ui), ui


@pytest.mark.parametrize(("with_maps", "with_settings"), [(True, True), (False, True), (False, False)])
def test_read_takes_back_what_components_lists(with_maps, with_settings):
    sensed, ui = panel()
    maps_part = [*ui["sources"].values(), *ui["own"].values()] if with_maps else []
    want = [*ui["checks"], *ui["strengths"], *maps_part, *(ui["settings"] if with_settings else [])]
    assert [id(c) for c in sensed.components(with_maps, with_settings)] == [id(c) for c in want]

    mine = Image.new("RGB", (8, 8), (255, 255, 255))
    values = [True, True, False, 0.5, 1.0, 1.5]  # edges and pose ticked; every strength
    values += [DETECTED, MINE, None, mine] if with_maps else []  # pose from my map, edges detected
    values += [OUTPUT_SIZE, "Canny", False, 200, 50] if with_settings else []  # thresholds given swapped
    request = sensed.read(values, with_maps, with_settings, warn=False)
    assert request.use == ["edges", "pose"]
    assert request.strengths == {"edges": 0.5, "pose": 1.0, "depth": 1.5}
    assert list(request.maps) == (["pose"] if with_maps else [])
    if with_maps:
        assert np.asarray(request.maps["pose"]).min() == 255
    if with_settings:
        assert (request.settings.canny_low, request.settings.canny_high, request.settings.detect_resolution) == (50, 200, None)
    else:
        assert request.settings is None


def test_the_live_triggers_cover_every_input():
    sensed, ui = panel()
    assert len(sensed.triggers()) == len(sensed.components())  # one event per input, settings included


def test_an_own_map_gradio_cannot_read_leaves_the_detected_map_and_the_other_inputs_working(tmp_path):
    """Every render reads the own-map inputs: a junk upload there must not fail them all (it did, as a
    bare "Error" on every tick), only be skipped, and only heard of on a card set to "my map"."""
    from gradio.data_classes import ImageData

    from demo.inputs import guard_preprocess
    from demo.own_maps import Unreadable

    junk = tmp_path / "mask.png"
    junk.write_text("not an image")
    with gr.Blocks():
        component = guard_preprocess(gr.Image(type="filepath", image_mode=None), Unreadable)
    value = component.preprocess(ImageData(path=str(junk)))
    assert isinstance(value, Unreadable) and "not an image we can read" in value
    sensed, _ = panel()
    for source in (DETECTED, MINE):
        values = [True, True, False, 1.0, 1.0, 1.0, DETECTED, source, None, value]
        request = sensed.read(values, True, False, warn=False)
        assert request.use == ["edges", "pose"] and request.maps == {}
