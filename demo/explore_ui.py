"""Layout, events and API endpoints of the exploring panels (demo/explore.py holds their handlers):
the "Where style is free" heat map beside the result, and the "What each sense adds" tab.

`build_demo` (demo/ui.py) places the panels and calls `wire` and `api_endpoints`; the heat map
follows the same live triggers as the result, on the cached maps.
"""

from __future__ import annotations

import gradio as gr

from sensorium.contributions import subsets

from . import explore
from .inputs import request_inputs
from .sense_inputs import SensePanel
from .state import MODEL, DemoState

FREEDOM_HELP = ("The content under 8 sampled styles: **bright** where the style decides, **dark** where the "
                "ticked senses pin the image. Untick a sense to see what it held.")  # fmt: skip
# The heat map's colour ramp (sensorium.freedom) as a legend strip.
LEGEND = """<div id="freedom-legend"><span>pinned</span><div class="ramp"></div><span>free</span></div>"""
GRID_HELP = ("The current content and style under each ticked sense **alone**, each **left out**, **all** and "
             "**none**, rendered as one batch: compare a column's two cells to see what that sense adds.")  # fmt: skip


def freedom_panel(state: DemoState) -> dict:
    """The heat map and its legend, for a column beside the result."""
    out: dict = {}
    with gr.Column(scale=2, min_width=220, elem_id="freedom-panel"):
        out["freedom"] = gr.Image(label="Where style is free", type="pil", format="png", height=360, interactive=False,
                                  elem_id="freedom")  # fmt: skip
        gr.HTML(LEGEND)
        gr.Markdown(FREEDOM_HELP, elem_id="freedom-help")
        out["freedom_on"] = gr.Checkbox(value=True, label="Update with the senses",
                                        info="8 extra images per change", elem_id="freedom-on")  # fmt: skip
        out["freedom_status"] = gr.Markdown(elem_id="freedom-status")
    return out


def contributions_tab(state: DemoState) -> dict:
    out: dict = {}
    with gr.Tab("What each sense adds"):
        gr.Markdown(GRID_HELP)
        out["grid_run"] = gr.Button("Compare the senses", variant="primary", elem_id="grid-run")
        out["grid"] = gr.Image(label="What each sense adds", show_label=False, type="pil", format="png",
                               interactive=False, elem_id="grid")  # fmt: skip
        out["grid_status"] = gr.Markdown(elem_id="grid-status")
    return out


def grid_images(state: DemoState) -> int:
    """Images one contributions grid renders at most (none, each alone, each left out, all), for the
    GPU time it reserves: 14 for the bundled checkpoint's 6 senses."""
    return len(subsets(state.pipe.trained_modalities))


def wire(state: DemoState, ui: dict, out: dict, panel: SensePanel) -> None:
    """Private UI events: the grid on its button, the heat map live with the senses and the content,
    both from the inputs the result is made from."""
    from .ui import gpu  # at call time: demo.ui imports this module

    common = dict(api_visibility="private", concurrency_id=MODEL, show_progress="minimal")
    senses = panel.components()

    @gpu(images=grid_images(state))
    def grid(content, style, resolution, domain, *values):
        s = panel.read(values, warn=False)  # the result's own event warned
        g = explore.contributions(state, content, style, s.use, s.strengths, resolution, domain, s.maps, s.settings)
        return g.image, g.status

    @gpu(images=explore.DEFAULT_STYLES)
    def freedom(content, on, resolution, domain, *values):
        if content is None or not on:  # nothing to show yet, or switched off: leave it as it is
            return gr.skip(), gr.skip()
        s = panel.read(values, warn=False)
        f = explore.style_freedom(state, content, s.use, s.strengths, resolution, domain=domain, maps=s.maps,
                                  settings=s.settings)  # fmt: skip
        return f.heat_map, f.status

    out["grid_run"].click(grid, [ui["content"], ui["style"], ui["resolution"], ui["domain"], *senses],
                          [out["grid"], out["grid_status"]], **common)  # fmt: skip
    triggers = [ui["content"].change, ui["resolution"].change, ui["domain"].change, out["freedom_on"].change,
                *panel.triggers()]  # fmt: skip
    gr.on(triggers, freedom, [ui["content"], out["freedom_on"], ui["resolution"], ui["domain"], *senses],
          [out["freedom"], out["freedom_status"]], trigger_mode="always_last", **common)  # fmt: skip


def api_endpoints(state: DemoState) -> None:
    """/contributions and /style_freedom for gradio_client, on hidden components."""
    from .ui import gpu, parse_json, upload

    with gr.Group(visible=False):
        content, style = upload("content image"), upload("style image")
        modalities, strengths, resolution, domain, seed, n = request_inputs(
            state, "modalities", "strengths", "resolution", "domain", "seed", "n", n=explore.DEFAULT_STYLES)
        grid, heat = gr.Image(type="pil", format="png", label="grid"), gr.Image(type="pil", format="png", label="heat map")
        labels, mean = gr.JSON(label="labels"), gr.Number(label="mean spread")
        grid_status, heat_status = gr.Textbox(label="status"), gr.Textbox(label="status")

    @gpu(images=grid_images(state))
    def contributions(content, style, modalities=None, strengths=None, resolution=None, domain=0):
        """`content` in the style of `style` under each sense alone, each left out, all and none, as one
        labelled grid image; also the subset labels and a status line."""
        g = explore.contributions(state, content, style, modalities, parse_json(strengths), resolution, domain)
        return g.image, list(g.labels), g.status

    @gpu(images="n")
    def style_freedom(content, modalities=None, strengths=None, resolution=None, n=explore.DEFAULT_STYLES, seed=0,
                      domain=0):  # fmt: skip
        """Where style is free: the per-pixel spread of `content` under `n` (2-16) sampled styles with the
        given senses, as a heat map over the content (bright = style decides), its mean, and a status line."""
        f = explore.style_freedom(state, content, modalities, parse_json(strengths), resolution, n, seed, domain)
        return f.heat_map, f.mean, f.status

    gr.on([], contributions, [content, style, modalities, strengths, resolution, domain], [grid, labels, grid_status],
          api_name="contributions", concurrency_id=MODEL)  # fmt: skip
    gr.on([], style_freedom, [content, modalities, strengths, resolution, n, seed, domain], [heat, mean, heat_status],
          api_name="style_freedom", concurrency_id=MODEL)  # fmt: skip
