"""Presets: paired (content, style, senses) examples whose results are cached lazily.

On a CPU Space a first translation takes seconds (senses + generator); a preset is computed the
first time anyone clicks it and cached by gradio (gr.Examples, cache_mode="lazy", under
.gradio/cached_examples), so from then on every visitor sees its result the moment they click.
Clicking also fills the content, style and sense inputs, so tweaking a preset starts from it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from . import handlers as h
from .settings import EXAMPLES_DIR
from .state import DemoState


@dataclass(frozen=True)
class Preset:
    label: str
    content: str  # file names in assets/examples
    style: str
    senses: tuple[str, ...]  # the ones this checkpoint cannot run here are left unticked


PRESETS = (
    Preset("Portrait · Starry Night", "content_obama_portrait.jpg", "style_starry_night.jpg",
           ("face_parsing", "face_depth", "face_landmarks", "person", "edges")),  # fmt: skip
    Preset("Astronaut · graffiti", "content_astronaut.jpg", "style_graffiti.jpg",
           ("person", "pose", "face_landmarks", "face_parsing")),  # fmt: skip
    Preset("Four friends · cartoon", "content_group_four_women.jpg", "style_happy_fish_cartoon.jpg",
           ("person", "face_landmarks", "edges")),  # fmt: skip
    Preset("Footballer · elephants", "content_footballer_messi.jpg", "style_elephants_painting.jpg",
           ("pose", "person", "face_parsing", "edges")),  # fmt: skip
)


def preset_rows(state: DemoState) -> list[list]:
    """One example row per preset whose files exist: content, style, then a tick per modality."""
    rows = []
    for p in PRESETS:
        content, style = EXAMPLES_DIR / p.content, EXAMPLES_DIR / p.style
        if content.is_file() and style.is_file():
            rows.append([str(content), str(style), *(m in p.senses and m in state.available for m in state.modalities)])
    return rows


def compute(state: DemoState, content, style, use: list[str]) -> tuple:
    """A preset's result, maps and status, as the Translate button gives them (run once per preset
    and start). The download button is left to the live run that the filled-in inputs start."""
    r = h.translate(state, content, style, use, {}, state.default_resolution)
    return (r.content, r.image), r.maps, r.status


def presets_panel(state: DemoState, ui: dict, out: dict, gpu: Callable = lambda fn: fn) -> gr.Examples | None:
    """The presets under the result (needs the inputs and outputs built); `gpu` is demo.ui.gpu."""
    rows = preset_rows(state)
    if not rows:
        return None
    labels = [p.label for p in PRESETS if (EXAMPLES_DIR / p.content).is_file() and (EXAMPLES_DIR / p.style).is_file()]
    modalities = state.modalities

    def preset(content, style, *checks):
        return compute(state, content, style, [m for m, on in zip(modalities, checks, strict=True) if on])

    examples = gr.Examples(
        rows,
        inputs=[ui["content"], ui["style"], *ui["checks"]],
        outputs=[out["result"], out["maps"], out["status"]],
        fn=gpu(preset),
        cache_examples=True,
        cache_mode="lazy",
        example_labels=labels,
        label="Presets: click one (computed on its first click, then instant for everyone)",
        api_visibility="private",
        elem_id="presets",
    )
    # Results cached by an earlier start may come from another checkpoint: each start caches afresh.
    shutil.rmtree(examples.cached_folder, ignore_errors=True)
    return examples
