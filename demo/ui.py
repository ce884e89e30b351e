"""The Blocks layout: inputs on the left, result and maps on the right, named API endpoints.

    demo = build_demo(pipeline)           # any TranslationPipeline (tests inject a tiny one)
    demo.queue(**queue_options(settings)).launch(**launch_options(settings))

UI events are private; the public API is /translate, /extract, /random_styles, /info, /contributions and
/style_freedom, each a thin wrapper over `demo.handlers` (or `demo.explore`) so the UI and gradio_client
get the same behaviour.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import gradio as gr

from sensorium.pipeline import TranslationPipeline

from . import app_builds, atomic_cache, cache_sweep, explore_ui, own_maps, sense_settings, webcam
from . import handlers as h
from .inputs import MAX_STRENGTH, guard_preprocess, pretty, request_inputs, short, user_error
from .mcp_tools import fetch_policy, mcp_endpoints, tools_lifespan
from .presets import presets_panel
from .sense_inputs import SensePanel
from .settings import EXAMPLES_DIR, Settings, load_pipeline, max_resolution_for
from .state import MODEL, DemoState
from .sweeper import sweep_interval
from .text import BIBTEX, CSS, HEADER, HOW_IT_WORKS, TITLE, contributes

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate")


def gpu(fn: Callable | None = None, *, images: int | str = 1) -> Callable:
    """`spaces.GPU(fn, duration=…)` on a ZeroGPU Space (when `spaces` is importable; off a Space it
    returns `fn` unchanged), else `fn`. The duration is sized per request from its `resolution`
    and number of output images (`images`: a count, or the name of the argument holding it), not
    the 60 s default: shorter declared durations get higher priority in ZeroGPU's queue."""
    if fn is None:
        return lambda f: gpu(f, images=images)
    try:
        import spaces
    except ImportError:
        return fn
    signature = inspect.signature(fn)

    def duration(*args, **kwargs) -> int:
        bound = signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()  # an argument left out counts with its default (e.g. n=4)
        n = bound.arguments.get(images) if isinstance(images, str) else images
        return gpu_seconds(bound.arguments.get("resolution"), n)

    return spaces.GPU(fn, duration=duration)


def gpu_seconds(resolution, images=1) -> int:
    """Seconds to reserve for one request: start-up and senses (~4 s, mostly the first call) plus
    the generator, which grows with pixels and images; at least 5 s, at most 60 s."""
    try:
        side, n = min(max(float(resolution or 256), 64.0), 2048.0), min(max(int(images or 1), 1), 16)
    except (TypeError, ValueError, OverflowError):
        side, n = 256.0, 1
    return int(min(60, max(5, math.ceil(4 + 1.5 * n * (side / 256) ** 2))))


def upload(label: str, **kwargs) -> gr.Image:
    """An image input whose unreadable uploads raise our friendly message, not a bare "Error".

    filepath + image_mode None: the file reaches `load_image` untouched (16-bit, EXIF, alpha).
    Wrapping the instance's preprocess (not subclassing: gradio writes a .pyi for every subclass).
    """
    image = gr.Image(label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"], **kwargs)

    def refuse(message: str):
        raise user_error(f"{label[:1].upper()}{label[1:]}: {message}")  # as load_upload words it

    return guard_preprocess(image, refuse)


def examples(prefixes: Sequence[str]) -> list[str]:
    return [str(p) for prefix in prefixes for p in sorted(EXAMPLES_DIR.glob(f"{prefix}_*.jpg"))]


def build_demo(pipeline: TranslationPipeline | None = None, settings: Settings | None = None) -> gr.Blocks:
    """The whole app around `pipeline` (default: load `settings.checkpoint` once per process)."""
    settings = settings or Settings()
    atomic_cache.install()  # gradio rewrites shared result files in place; see demo/atomic_cache.py
    cache_sweep.install()  # gradio's cache sweep dies on its first race; see demo/cache_sweep.py
    pipe = pipeline if pipeline is not None else load_pipeline(settings.checkpoint, settings.device, settings.runtime)
    state = DemoState.create(pipe, max_resolution_for(pipe.device.type, settings.max_resolution),
                               checkpoint=getattr(pipe, "name", None) or settings.checkpoint,
                               time_limit=settings.time_limit, concurrency=settings.concurrency,
                               cache_ttl=settings.cache_ttl, trim_every=settings.trim_every)  # fmt: skip
    # gradio's cache of uploads and results: files older than the TTL are deleted as it goes
    ttl = int(settings.cache_ttl)
    with app_builds.skipped(), gr.Blocks(title=TITLE, delete_cache=(int(sweep_interval(ttl)), ttl) if ttl else None) as demo:
        gr.HTML(HEADER)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=360):
                ui = inputs_panel(state)
            with gr.Column(scale=7, min_width=420):
                out = results_panel(state)
                presets_panel(state, ui, out, gpu)
                about_panel(state)
        wire_ui(state, ui, out)
        api_endpoints(state)
        if settings.mcp:
            mcp_endpoints(state, fetch_policy(settings), gpu)
    return demo


def inputs_panel(state: DemoState) -> dict:
    ui: dict = {}
    with gr.Row(equal_height=True):
        ui["content"] = upload("Content image", height=250, elem_id="content")
        ui["style"] = upload("Style image", height=250, elem_id="style")
    with gr.Row():
        ui["swap"] = gr.Button("⇄ Swap", size="md", variant="secondary", scale=1)
        ui["run"] = gr.Button("Translate", size="md", variant="primary", scale=2, elem_id="run")
    gr.Examples(
        examples(["content", "scene"]),
        inputs=ui["content"],
        label="Content examples",
        examples_per_page=12,
        elem_id="content-examples",
    )
    gr.Examples(
        examples(["style"]), inputs=ui["style"], label="Style examples", examples_per_page=12, elem_id="style-examples"
    )
    ui["checks"], ui["strengths"], ui["sources"] = senses_panel(state)
    ui["own"] = own_maps.own_maps_panel(state)
    ui["settings"] = sense_settings.settings_panel(state)
    with gr.Accordion("Explore style: blend two styles", open=False):
        ui["style_b"] = upload("Second style image", height=180)
        gr.Examples(
            examples(["style"]),
            inputs=ui["style_b"],
            label="Second style examples",
            examples_per_page=12,
            elem_id="style-b-examples",
        )
        ui["mix"] = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="Mix: first style → second style")
    with gr.Row():
        ui["resolution"] = gr.Radio(state.resolutions, value=state.default_resolution, scale=3,
                                    label="Resolution (long side, px)", elem_id="resolution")  # fmt: skip
        names = state.pipe.domain_names
        ui["domain"] = gr.Dropdown([(name, i) for i, name in enumerate(names)], value=0, label="Style domain",
                                   info="which style head reads the style image", visible=len(names) > 1, scale=1)  # fmt: skip
    return ui


def senses_panel(state: DemoState) -> tuple[list[gr.Checkbox], list[gr.Slider], dict[str, gr.Radio]]:
    """A card per sense (tick + strength + detected / my map), two a row, the ones that cannot run here
    last and disabled with the reason. Returns the checkboxes and sliders in the checkpoint's modality
    order, and the map-source radios by modality."""
    checks, sliders, sources = {}, {}, {}
    order = [*state.available, *(m for m in state.modalities if m not in state.available)]
    with gr.Accordion("Senses: what the content image contributes", open=True, elem_id="senses"):
        for i in range(0, len(order), 2):
            with gr.Row():
                for m in order[i : i + 2]:
                    ok = state.availability[m]
                    info = contributes(m) if ok else f"Unavailable here: {short(ok.reason, 90)}"
                    with gr.Column(min_width=200, elem_classes="sense-card"), gr.Group():
                        checks[m] = gr.Checkbox(value=bool(ok), label=pretty(m), info=info, interactive=bool(ok),
                                                elem_id=f"use-{m}")  # fmt: skip
                        sliders[m] = gr.Slider(0.0, MAX_STRENGTH, value=1.0, step=0.05, label="strength",
                                               visible=bool(ok), elem_id=f"strength-{m}")  # fmt: skip
                        sources[m] = own_maps.source_radio(state, m)
                if len(order[i : i + 2]) == 1:
                    gr.Column(min_width=200)  # keeps the last card half wide
    sources = {m: sources[m] for m in state.modalities if sources[m] is not None}
    return [checks[m] for m in state.modalities], [sliders[m] for m in state.modalities], sources


def results_panel(state: DemoState) -> dict:
    out: dict = {}
    n = max(1, len(state.available))  # maps shown; the gallery fits up to 4 a row into ~640 px
    maps_height = 60 + -(-n // 4) * 640 // min(n, 4)
    with gr.Tabs():
        with gr.Tab("Result"):
            with gr.Row(equal_height=False):
                out["result"] = gr.ImageSlider(label="Content ↔ result (drag to compare)", type="pil", format="png",
                                               height=520, max_height=520, interactive=False, elem_id="result",
                                               scale=3)  # fmt: skip
                out |= explore_ui.freedom_panel(state)
            out["maps"] = gr.Gallery(label="What the senses saw", columns=4, height=maps_height, object_fit="contain",
                                     format="png", elem_id="maps")  # fmt: skip
            with gr.Row():
                out["download"] = gr.DownloadButton("Download PNG", interactive=False, size="sm", scale=0)
            out["status"] = gr.Markdown(f"**{h.device_label(state.pipe.device)}** · ready", elem_id="status")
        with gr.Tab("Random styles"):
            gr.Markdown("The same content under style vectors sampled from the model's style distribution.")
            with gr.Row(elem_id="sample-row"):
                out["seed"] = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
                out["sample"] = gr.Button("Sample 4 styles", variant="primary", scale=2, elem_id="sample")
            out["samples"] = gr.Gallery(label="Random styles", columns=4, height=300, object_fit="contain",
                                        format="png", elem_id="samples")  # fmt: skip
        out |= explore_ui.contributions_tab(state)
        out |= webcam.webcam_tab(state)
    return out


def about_panel(state: DemoState) -> None:
    with gr.Accordion("How it works", open=False, elem_id="how"):
        gr.Markdown(HOW_IT_WORKS + "\n" + modality_table(state))
    with gr.Accordion("Citation", open=False, elem_id="citation"):
        gr.Markdown(f"Nederhood, Kolkin, Fu, Salavon. *Harnessing the Conditioning Sensorium for Improved "
                    f"Image Translation.* ICCV 2021.\n\n```bibtex\n{BIBTEX}\n```")  # fmt: skip


def modality_table(state: DemoState) -> str:
    rows = ["| sense | contributes | here |", "|---|---|---|"]
    for m in state.modalities:
        ok = state.availability[m]
        sense = state.pipe.senses.sense(m)
        here = (getattr(sense, "label", "available") if ok else f"unavailable: {short(ok.reason, 200)}").replace(
            "|", "/"
        )
        rows.append(f"| {pretty(m)} | {contributes(m)} | {here} |")
    return "\n".join(rows)


def download_button(path: str | None) -> gr.DownloadButton:
    """The result's download, off (with a word why) when its file could not be written."""
    if path is None:
        gr.Warning("The result could not be saved for download (the server's disk refused); it is shown above.")
    return gr.DownloadButton(value=path, interactive=path is not None)


def wire_ui(state: DemoState, ui: dict, out: dict) -> None:
    """Private UI events; the live ones re-run on cached maps and keep only the last request."""
    panel = SensePanel(state.modalities, ui)

    @gpu
    def run(content, style, style_b, mix, resolution, domain, *values):
        s = panel.read(values)
        r = h.translate(state, content, style, s.use, s.strengths, resolution, style_b, mix, domain, s.maps, s.settings)
        for w in r.warnings:
            gr.Warning(w)
        return (
            (r.content, r.image),
            r.maps,
            r.status,
            download_button(h.save_png(state, r.image)),
        )

    def live(content, style, *rest):
        if content is None or style is None:  # nothing to translate yet: stay quiet
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return run(content, style, *rest)

    @gpu(images=4)
    def sample(content, resolution, domain, seed, *values):
        s = panel.read(values, with_maps=False, with_settings=False)
        return h.random_styles(state, content, s.use, s.strengths, resolution, seed, 4, domain)

    inputs = [ui["content"], ui["style"], ui["style_b"], ui["mix"], ui["resolution"], ui["domain"], *panel.components()]
    outputs = [out["result"], out["maps"], out["status"], out["download"]]
    common = dict(api_visibility="private", concurrency_id=MODEL, show_progress="minimal")
    ui["run"].click(run, inputs, outputs, **common)
    own_maps.wire(state, ui, common, sense_settings.parse)
    triggers = [ui["content"].change, ui["style"].change, ui["style_b"].change, ui["resolution"].change,
                ui["domain"].change, ui["mix"].release, *panel.triggers()]  # fmt: skip
    gr.on(triggers, live, inputs, outputs, trigger_mode="always_last", **common)
    ui["swap"].click(lambda a, b: (b, a), [ui["content"], ui["style"]], [ui["content"], ui["style"]],
                     api_visibility="private", queue=False)  # fmt: skip
    out["sample"].click(sample, [ui["content"], ui["resolution"], ui["domain"], out["seed"],
                                 *panel.components(with_maps=False, with_settings=False)], out["samples"], **common)  # fmt: skip
    explore_ui.wire(state, ui, out, panel)
    webcam.wire(state, ui, out, panel)


def api_endpoints(state: DemoState) -> None:
    """Public endpoints for gradio_client, on hidden components with API-friendly types."""
    with gr.Group(visible=False):
        content, style, style_b = upload("content image"), upload("style image"), upload("second style image")
        modalities, strengths, resolution, mix, domain, seed, n = request_inputs(
            state, "modalities", "strengths", "resolution", "mix", "domain", "seed", "n")
        image, status = gr.Image(type="pil", format="png", label="image"), gr.Textbox(label="status")
        maps, samples = gr.Gallery(format="png", label="maps"), gr.Gallery(format="png", label="samples")
        about = gr.JSON(label="info")
        own = [upload(f"{pretty(m)} map") for m in state.modalities]

    @gpu
    @own_maps.with_map_parameters(state.modalities)  # adds map_<modality>=None per modality, by name
    def translate(content, style, modalities=None, strengths=None, resolution=None, style_b=None, mix=0.0, domain=0,
                  *maps):  # fmt: skip
        """Translate `content` into the style of `style` (optionally mixed towards `style_b` by `mix`).
        modalities: list of senses to use; strengths: {modality: 0..1.5}; resolution: long side;
        map_<modality>: your own map for that sense, drawn like its preview in the maps gallery."""
        r = h.translate(state, content, style, modalities, parse_json(strengths), resolution, style_b, mix, domain,
                        own_maps.maps_by_modality(state, maps))  # fmt: skip
        return r.image, r.maps, r.status

    @gpu
    def extract(content, resolution=None):
        """Every available sense map of `content` at `resolution`, with a status line."""
        return h.extract_maps(state, content, resolution)

    @gpu(images="n")
    def random_styles(content, modalities=None, strengths=None, resolution=None, seed=0, n=4, domain=0):
        """`content` under `n` (1-8) style vectors sampled from the model with `seed`."""
        return h.random_styles(state, content, modalities, parse_json(strengths), resolution, seed, n, domain)

    def info():
        """Device, checkpoint, resolution limit and the status of every sense on this server."""
        return h.info(state)

    common = dict(concurrency_id=MODEL)
    gr.on([], translate, [content, style, modalities, strengths, resolution, style_b, mix, domain, *own],
          [image, maps, status], api_name="translate", **common)  # fmt: skip
    gr.on([], extract, [content, resolution], [maps, status], api_name="extract", **common)
    gr.on([], random_styles, [content, modalities, strengths, resolution, seed, n, domain], samples,
          api_name="random_styles", **common)  # fmt: skip
    gr.on([], info, None, about, api_name="info", queue=False)
    explore_ui.api_endpoints(state)


def parse_json(value):
    """gr.JSON inputs may arrive as text from some clients."""
    if isinstance(value, str):
        import json

        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            raise user_error('Strengths must be JSON like {"edges": 0.5}.') from None
    return value


def queue_options(settings: Settings) -> dict:
    return dict(default_concurrency_limit=settings.concurrency, max_size=settings.max_queue)


def launch_options(settings: Settings) -> dict:
    """Keyword arguments of `Blocks.launch` (theme and CSS live there since gradio 6); with MCP on, the
    lifespan that limits its tools to ours before the server takes a request."""
    return dict(server_name=settings.host, server_port=settings.port, share=settings.share, theme=THEME, css=CSS,
                max_file_size=settings.max_file_size, allowed_paths=[str(EXAMPLES_DIR)], show_error=False,
                mcp_server=settings.mcp, app_kwargs={"lifespan": tools_lifespan} if settings.mcp else None)  # fmt: skip
