"""Your own maps in the app: per sense a choice of the detected map or your own, an upload or a
paint/erase editor over the detected preview, and the API's `map_<modality>` inputs.

The editors hold pictures in each map's preview encoding (the colours the maps gallery shows);
`sensorium.senses.codec` decodes them, so what you paint is what the model gets.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import gradio as gr
import numpy as np
from PIL import Image

from sensorium.modalities import FACE_PARSING_CLASSES

from .inputs import guard_preprocess, pretty
from .state import DemoState

DETECTED, MINE = "detected", "my map"


def api_parameter(modality: str) -> str:
    """The /translate parameter that carries an own map, e.g. map_person."""
    return f"map_{modality}"


def with_map_parameters(modalities: Sequence[str]) -> Callable[[Callable], Callable]:
    """A decorator: `fn(…, *maps)` gets one named, optional `map_<modality>` parameter per modality
    in its signature, so gradio's API lists them by name (gradio reads parameter names from it)."""

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        extra = [inspect.Parameter(api_parameter(m), inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                 for m in modalities]  # fmt: skip
        fn.__signature__ = signature.replace(parameters=[*fixed, *extra])
        return fn

    return decorate


def maps_by_modality(state: DemoState, values: Sequence) -> dict:
    """The positional map values of /translate (one per checkpoint modality) as modality → upload."""
    return {m: v for m, v in zip(state.modalities, values, strict=True) if v is not None}


# -- the app's panel -----------------------------------------------------------------------------
EDITABLE = ("person", "edges", "face_parsing", "segmentation", "depth")  # where strokes make sense
HELP = {
    "person": "Paint black to take away from the person (e.g. an arm), orange or white to add.",
    "edges": "Draw white lines to add edges, black (or the eraser) to remove them.",
    "face_parsing": f"Paint face regions in their colours: {', '.join(FACE_PARSING_CLASSES)}.",
    "segmentation": "Paint scene labels in the label colours; black is no label.",
    "depth": "Paint nearer in red, farther in blue (the turbo scale), or in grey levels (white = near).",
}
BRUSH_PX = 8  # default brush width in map pixels (maps are 128–512 px)
UPLOAD_HELP = "Upload a map drawn like its preview in the maps gallery."


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def brush_colours(modality: str) -> list[str]:
    """The colours that paint meaningful values of `modality`, from its own palette."""
    from sensorium.senses.face_parsing import FACE_PARSING_COLORS
    from sensorium.senses.palette import turbo
    from sensorium.senses.person import PERSON_COLOR
    from sensorium.senses.segmentation import segmentation_colours

    if modality == "person":
        return ["#000000", _hex(PERSON_COLOR), "#ffffff"]  # taking away (an arm) first
    if modality == "edges":
        return ["#ffffff", "#000000"]
    if modality == "face_parsing":
        return [_hex(c) for c in FACE_PARSING_COLORS]
    if modality == "segmentation":
        return [_hex(c) for c in segmentation_colours()[:13]]
    return [_hex(c) for c in turbo(np.linspace(1.0, 0.0, 5)[None])[0]] + ["#000000"]  # depth: near → far


def own_maps_panel(state: DemoState) -> dict:
    """An accordion with one tab per modality the checkpoint was trained on: a paint/erase editor
    over the detected preview (EDITABLE ones) or an upload. Returns modality → input component."""
    inputs: dict = {}
    trained = [m for m in state.modalities if m in state.pipe.trained_modalities]
    with gr.Accordion("Your own maps: upload or paint what a sense saw", open=False, elem_id="own-maps"):
        gr.Markdown("Pick **my map** on a sense's card to use the map here instead of the detected one. "
                    "Editors start from the detected map of the content image.")  # fmt: skip
        with gr.Tabs():
            for m in trained:
                with gr.Tab(pretty(m), elem_id=f"own-tab-{m}"):
                    if m in EDITABLE:
                        gr.Markdown(HELP[m])
                        colours = brush_colours(m)
                        component = gr.ImageEditor(
                            type="pil", image_mode="RGBA", format="png", sources=["upload"], layers=False,
                            transforms=(), label=f"{pretty(m)} map", height=420, elem_id=f"own-{m}",
                            brush=gr.Brush(default_size=BRUSH_PX, colors=colours, default_color=colours[0], color_mode="fixed"),
                            eraser=gr.Eraser(),
                        )  # fmt: skip
                    else:  # the file itself, decoded by the pipeline as the API's maps are (16-bit, alpha)
                        gr.Markdown(UPLOAD_HELP)
                        component = gr.Image(type="filepath", image_mode=None, format="png", sources=["upload"],
                                             label=f"{pretty(m)} map", height=300, elem_id=f"own-{m}")  # fmt: skip
                    # Every render reads these inputs: a file gradio cannot convert must not fail them all.
                    inputs[m] = guard_preprocess(component, Unreadable)
    return inputs


def source_radio(state: DemoState, modality: str) -> gr.Radio | None:
    """The card's detected / my map choice (None for a modality the checkpoint never saw)."""
    if modality not in state.pipe.trained_modalities:
        return None
    return gr.Radio([DETECTED, MINE], value=DETECTED, show_label=False, container=False,
                    elem_id=f"source-{modality}", elem_classes="map-source")  # fmt: skip


class Unreadable(str):
    """An own-map upload gradio could not convert; the text says why. Handed to the handlers in place
    of the picture, so only a card set to "my map" hears of it."""


def flatten(value) -> Image.Image | str | None:
    """An editor value (background + strokes) as one RGB picture, erased = black (nothing); an
    upload's file path as it is (the pipeline decodes it)."""
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None or isinstance(value, str):
        return value
    if value.mode in ("RGBA", "LA", "PA"):
        black = Image.new("RGBA", value.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, value.convert("RGBA")).convert("RGB")
    return value.convert("RGB")


def chosen_maps(sources: dict, values: Sequence, use: Sequence[str], warn: bool = True) -> dict:
    """modality → own picture for the ticked cards set to "my map"; `values` are the radios' values,
    then the map inputs', both in `sources`' order. `warn=False` for the panels that follow the
    result, whose own event already warned."""
    out = {}
    for (m, _), source, value in zip(sources.items(), values[: len(sources)], values[len(sources) :], strict=True):
        if m not in use:
            continue
        picture = flatten(value) if source == MINE else None
        if isinstance(picture, Unreadable):
            if warn:
                gr.Warning(f"{pretty(m)} map: {picture} The detected map is used.")
            continue
        if source == MINE and picture is None and warn:
            gr.Warning(f"{pretty(m)}: “my map” is chosen but no map was given, so the detected map is used.")
        if picture is not None:
            out[m] = picture
    return out


def editor_backgrounds(state: DemoState, inputs: dict, content, resolution, settings=None,
                       keep: Sequence[str] = ()) -> list:  # fmt: skip
    """Each editor's value reset to the detected preview of `content` (uploads left as they are, and
    the editors of `keep`: the cards on "my map" when only the size or the sense settings change, so
    what was painted stays; the codec resizes it)."""
    from . import handlers as h
    from .inputs import check_resolution, load_upload

    if content is None:
        return [gr.skip() for _ in inputs]
    res, _ = check_resolution(state, resolution)
    sensed = h.sense(state, load_upload(state, content, "content").image, res, None, settings)
    maps, out = sensed.maps, []
    for m, component in inputs.items():
        if m in keep:
            out.append(gr.skip())
        elif isinstance(component, gr.ImageEditor) and m in maps:
            out.append({"background": maps[m].preview, "layers": [], "composite": None})
        elif isinstance(component, gr.ImageEditor):  # no detected map (sense missing here): a blank canvas
            out.append({"background": Image.new("RGB", sensed.image.size), "layers": [], "composite": None})
        else:
            out.append(gr.skip())
    return out


def wire(state: DemoState, ui: dict, common: dict, settings: Callable[[Sequence], object]) -> None:
    """Events of the panel: editors refill with the detected maps when the content, size or sense
    settings change; on a card whose sense cannot run here, "my map" enables its tick. The live
    views' triggers are demo/sense_inputs.py's. `settings` reads the values of `ui["settings"]`."""
    from . import sense_settings

    editors = list(ui["own"].values())
    radios = [ui["sources"][m] for m in ui["own"]]  # the own-map inputs' cards, in the same order
    inputs = [ui["content"], ui["resolution"], *radios, *ui["settings"]]
    n = len(radios)

    def refill(editors_of: dict, keep_mine: bool) -> Callable:
        """The handler refilling `editors_of` from `inputs`' values; `keep_mine`: cards on "my map" keep
        their strokes (a new size or new settings), a new content refills them all."""
        def run(content, resolution, *values):
            keep = [m for m, source in zip(ui["own"], values[:n], strict=True) if source == MINE] if keep_mine else ()
            return editor_backgrounds(state, editors_of, content, resolution, settings(values[n:]), keep=keep)
        return run

    ui["content"].change(refill(ui["own"], keep_mine=False), inputs, editors, **common)
    ui["resolution"].change(refill(ui["own"], keep_mine=True), inputs, editors, **common)
    if "edges" in ui["own"]:  # new edge settings redraw only the edges editor (other strokes stay)
        only = {"edges": ui["own"]["edges"]}
        redraw = refill(only, keep_mine=True)
        gr.on(sense_settings.triggers(ui["settings"]), lambda *values: redraw(*values)[0], inputs, [only["edges"]],
              **common)  # fmt: skip
    checks = dict(zip(state.modalities, ui["checks"], strict=True))
    for m, radio in ui["sources"].items():
        if not state.availability[m].ok:
            radio.change(lambda source: gr.Checkbox(value=source == MINE, interactive=source == MINE), radio,
                         checks[m], api_visibility="private", queue=False)  # fmt: skip
