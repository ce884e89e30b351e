"""What each sense adds and where style is free: the batched renders, the grid and the heat map,
through the real pipeline and senses around a tiny random model."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo import explore
from demo.state import DemoState
from sensorium.contributions import NONE_LABEL, contributions, contributions_sheet, subsets
from sensorium.freedom import colorize, spread, style_freedom
from tests.app_fixtures import CONTENT, STYLE, tiny_pipeline, torch_threads

RES = 64


@pytest.fixture(scope="module")
def state() -> Iterator[DemoState]:
    with torch_threads(1):
        yield DemoState.create(tiny_pipeline())


@pytest.fixture(scope="module")
def sensed(state):
    return state.pipe.sense(Image.open(CONTENT), RES, state.available)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def test_subsets_are_none_each_alone_each_left_out_and_all():
    labels = [(s.label, s.modalities) for s in subsets(["pose", "edges"])]
    assert labels == [(NONE_LABEL, ()), ("only pose", ("pose",)), ("only edges", ("edges",)),
                      ("all but pose", ("edges",)), ("all but edges", ("pose",)), ("all", ("pose", "edges"))]  # fmt: skip


def test_a_batch_of_subsets_equals_rendering_them_one_by_one(state, sensed):
    # Each batch row must get its own maps *and* presence; a shared presence row would pass a
    # shape check and silently render every cell with the first subset's senses.
    pipe, style = state.pipe, state.pipe.sample_styles(1, seed=1)[0]
    sets = [(), ("edges",), ("person", "face_landmarks"), state.available]
    batched = pipe.render_subsets(sensed, style, sets, {"person": 0.5})
    singles = [pipe.render(sensed, style, s, {"person": 0.5})[0] for s in sets]
    for b, s in zip(batched, singles, strict=True):
        assert np.abs(pixels(b) - pixels(s)).max() <= 2  # uint8 rounding of float batch differences
    assert np.abs(pixels(batched[0]) - pixels(batched[-1])).mean() > 1  # the subsets really differ


def test_contributions_grid_has_a_column_per_sense_and_renders_each_subset_once(state, sensed):
    style = state.pipe.sample_styles(1)[0]
    grid = contributions(state.pipe, sensed, style, ["edges", "person"])
    assert grid.modalities == ("edges", "person") and grid.rendered == 4  # "only edges" is "all but person"
    sheet = contributions_sheet(sensed, grid, cell=64)
    assert sheet.size == (3 * 68 + 4, 4 * 68 + 4)  # label column + 2 senses; header + only + all but + all·none
    one = contributions(state.pipe, sensed, style, ["edges"])
    assert one.rendered == 2 and one.images["only edges"] is one.images["all"]  # identical subsets share a render


def test_spread_and_colour_ramp():
    black, white = Image.new("RGB", (4, 3), 0), Image.new("RGB", (4, 3), (255, 255, 255))
    assert np.allclose(spread([black, white]), 0.5) and np.allclose(spread([black, black]), 0.0)
    ramp = colorize(np.array([[0.0, 1.0, 2.0]]))
    assert ramp.shape == (1, 3, 3) and ramp[0, 0].sum() < 10 and ramp[0, 1].sum() > 600 and (ramp[0, 1] == ramp[0, 2]).all()
    with pytest.raises(ValueError, match="at least 2"):
        spread([black])


def test_style_is_freer_where_a_sense_is_unticked(state, sensed):
    every = style_freedom(state.pipe, sensed, state.available, n=6)
    none = style_freedom(state.pipe, sensed, [], n=6)
    assert every.heat_map.size == sensed.image.size and len(every.samples) == 6
    assert every.spread.shape == (sensed.size[0], sensed.size[1])
    assert np.abs(every.spread - none.spread).mean() > 1e-3  # the senses change where style is free


def test_handlers_give_a_grid_and_a_heat_map_that_follows_the_ticks(state):
    grid = explore.contributions(state, str(CONTENT), str(STYLE), ["edges", "person"], {}, RES)
    assert grid.labels == (NONE_LABEL, "only edges", "only person", "all but edges", "all but person", "all")
    assert "6 cells from 4 images in one batch" in grid.status
    both = explore.style_freedom(state, str(CONTENT), ["edges", "person"], {}, RES)
    edges = explore.style_freedom(state, str(CONTENT), ["edges", "person"], {"person": 0}, RES)
    assert np.abs(pixels(both.heat_map) - pixels(edges.heat_map)).mean() > 0.5
    assert "under the senses edges;" in edges.status


def test_a_grid_with_no_ticked_sense_shows_the_style_alone(state):
    grid = explore.contributions(state, str(CONTENT), str(STYLE), [], {}, RES)
    assert grid.labels == (NONE_LABEL,) and "tick a sense" in grid.status


@pytest.mark.parametrize("kwargs, message", [
    (dict(content=None), "Please add a content image"),
    (dict(n=1), "from 2 to 16"),
    (dict(n="many"), "whole numbers"),
    (dict(modalities=["colour"]), "Unknown modality 'colour'"),
])  # fmt: skip
def test_style_freedom_errors_are_clear(state, kwargs, message):
    args = dict(content=str(CONTENT), resolution=RES) | kwargs
    with pytest.raises(gr.Error, match=message):
        explore.style_freedom(state, **args)


def test_live_frames_are_smoothed_uncached_and_encode_the_style_once(state, monkeypatch):
    from demo.webcam import live_frame

    calls = []
    real_style = state.pipe.style
    monkeypatch.setattr(state.pipe, "style", lambda *a, **k: calls.append(a) or real_style(*a, **k))
    cached = len(state.pipe.senses.cache)
    frame = np.asarray(Image.open(CONTENT).convert("RGB").resize((96, 120)))
    out, session, status = live_frame(state, frame, str(STYLE), None, ["edges", "person"], {}, RES)
    out2, session2, status2 = live_frame(state, frame[:, ::-1], str(STYLE), session, ["edges", "person"], {}, RES)
    assert session2 is session and session.frames == 2 and "frame 2" in status2 and max(out2.size) == RES
    assert len(calls) == 1  # the style is encoded once per stream
    assert set(session.smoother.state) == {"edges", "person"}  # the video path's smoother holds both maps
    assert len(state.pipe.senses.cache) == cached  # webcam frames never enter the map cache
    none, _, waiting = live_frame(state, frame, None, session)  # every 0.1 s: a status line, not an error toast
    assert none is None and "Add a style image" in waiting
    from sensorium.senses.settings import SenseSettings

    _, strict, _ = live_frame(state, frame, str(STYLE), None, ["edges"], {}, RES,
                              settings=SenseSettings(canny_low=240, canny_high=250))  # fmt: skip
    assert strict.smoother.state["edges"].sum() < session.smoother.state["edges"].sum()  # the app's Canny settings apply


def test_an_own_map_shows_in_the_grid_and_the_heat_map(state):
    # The panels follow the result: a person mask of one's own replaces the detected one there too.
    mask = Image.new("L", (48, 64), 0)
    mask.paste(255, (0, 0, 24, 64))  # the left half is "the person"
    args = (state, str(CONTENT))
    plain = explore.style_freedom(*args, ["person"], {}, RES)
    mine = explore.style_freedom(*args, ["person"], {}, RES, maps={"person": mask})
    assert np.abs(pixels(plain.heat_map) - pixels(mine.heat_map)).mean() > 0.5
    g1 = explore.contributions(state, str(CONTENT), str(STYLE), ["person"], {}, RES)
    g2 = explore.contributions(state, str(CONTENT), str(STYLE), ["person"], {}, RES, maps={"person": mask})
    assert np.abs(pixels(g1.image) - pixels(g2.image)).mean() > 0.5
