"""The "Sense settings" accordion: Canny thresholds, the resolution the senses run at, and HED
instead of Canny where HED's weights are present. A change re-runs only the senses it concerns
(their settings are in the map cache key) and then the generator."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from sensorium.senses import SenseChoice
from sensorium.senses.registry import resolve
from sensorium.senses.settings import SenseSettings

from .inputs import user_error
from .state import DemoState

OUTPUT_SIZE = "output size"
DETECT_STEPS = (128, 256, 384, 512, 768)


def hed_available(state: DemoState) -> bool:
    """Whether HED can run here (its weights found); the choice is offered only then."""
    if "edges" not in state.available:
        return False
    model = state.pipe.senses.overrides.get("edges", SenseChoice()).model
    return resolve("edges", SenseChoice(provider="edges-hed", model=model))[0] is not None


def settings_panel(state: DemoState) -> list:
    """The accordion's inputs, in the order `parse` reads them."""
    with gr.Accordion("Sense settings", open=False, elem_id="sense-settings"):
        detect = gr.Radio([OUTPUT_SIZE, *(r for r in DETECT_STEPS if r <= 2 * state.max_resolution)], value=OUTPUT_SIZE,
                          label="Detection resolution (long side the senses run at)", elem_id="detect-resolution",
                          info="maps are then resampled to the output size")  # fmt: skip
        edges = gr.Radio(["Canny", "HED"], value="Canny", label="Edge detector", elem_id="edge-detector",
                         visible=hed_available(state), info="HED: soft, learnt edges")  # fmt: skip
        auto = gr.Checkbox(value=True, label="Automatic Canny thresholds (from each image's gradients)",
                           elem_id="canny-auto")  # fmt: skip
        with gr.Row():
            low = gr.Slider(0, 400, value=40, step=5, label="Canny low threshold", interactive=False,
                            elem_id="canny-low")  # fmt: skip
            high = gr.Slider(0, 400, value=100, step=5, label="Canny high threshold", interactive=False,
                             elem_id="canny-high")  # fmt: skip
        auto.change(lambda on: (gr.Slider(interactive=not on), gr.Slider(interactive=not on)), auto, [low, high],
                    api_visibility="private", queue=False)  # fmt: skip
    return [detect, edges, auto, low, high]


def parse(values: Sequence) -> SenseSettings:
    """The accordion's values (as `settings_panel` orders them) as SenseSettings."""
    detect, edges, auto, low, high = values
    try:
        return SenseSettings(
            canny_low=None if auto else float(min(low, high)),
            canny_high=None if auto else float(max(low, high)),
            edges="hed" if edges == "HED" else "auto",
            detect_resolution=None if detect in (None, OUTPUT_SIZE) else int(detect),
        )
    except (TypeError, ValueError) as err:
        raise user_error(f"Sense settings: {err}") from None


def triggers(inputs: Sequence) -> list:
    detect, edges, auto, low, high = inputs
    return [detect.change, edges.change, auto.change, low.change, high.change]
