"""The demo's handlers: plain functions over a `DemoState` (the shared pipeline and its limits).

Images come in as anything `sensorium.images.load_image` reads (upload paths, PIL, numpy, bytes);
results go out as PIL images, gallery lists and Markdown. Bad input raises `gr.Error` with a
sentence for people; nothing here knows about the Blocks layout, so tests call these directly
with a tiny random model through the real pipeline and senses.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import gradio as gr
import torch
from PIL import Image

from sensorium.atomic import write_once
from sensorium.conditioning import DEFAULT_STRENGTH
from sensorium.modalities import MODALITIES
from sensorium.pipeline import Content
from sensorium.senses import Extraction, image_hash
from sensorium.senses.settings import SenseSettings

from .inputs import (
    check_domain,
    check_mix,
    check_modalities,
    check_resolution,
    check_strengths,
    load_upload,
    pipeline_checked,
    pretty,
    short,
    user_error,  # fmt: skip
)
from .state import DemoState

MAX_SAMPLES = 8
log = logging.getLogger(__name__)

Gallery = list[tuple[Image.Image, str]]
T = TypeVar("T")


@dataclass
class Translation:
    image: Image.Image  # the output, RGB
    content: Image.Image  # the content image at output size (the "before" of the slider)
    maps: Gallery  # (preview, caption) for every extracted map, used or not
    status: str  # Markdown: device, checkpoint, size, timings, notes
    notes: list[str]  # notices for people (downscaled upload, style only, …)
    warnings: list[str]  # maps skipped because their sense failed
    timings: dict[str, float]  # seconds: senses, style, generator, total
    modalities: tuple[str, ...]  # modalities that contributed a map


# -- the time limit ------------------------------------------------------------------------------
def time_limited(handler: Callable) -> Callable:
    """Answer within `state.time_limit` seconds. The handler runs in a worker thread; an overrun
    gets a clear error, which frees its queue slot so one slow request cannot hold up everyone.
    Python cannot stop a thread, so the overrun finishes in the background (its result dropped);
    `state.workers` bounds how many run at once, overruns included."""

    @functools.wraps(handler)
    def run(state: DemoState, *args, **kwargs):
        limit = state.time_limit
        if not limit:
            return no_traceback(lambda: handler(state, *args, **kwargs))
        if not state.workers.acquire(timeout=limit):
            raise user_error("The server is still busy with earlier requests; please try again in a minute.")

        def work():
            try:
                return handler(state, *args, **kwargs)
            finally:
                state.workers.release()

        pool = ThreadPoolExecutor(1, thread_name_prefix="sensorium-request")
        future = pool.submit(contextvars.copy_context().run, work)  # keeps gradio's request context
        pool.shutdown(wait=False)
        try:
            return no_traceback(lambda: future.result(timeout=limit))
        except FutureTimeout:
            raise user_error(f"This request took longer than {limit:g} s and was stopped. Please try a smaller "
                             "resolution, or try again (the first request also loads the senses).") from None  # fmt: skip

    return run


def no_traceback(call: Callable[[], T]) -> T:
    """call(), with a failure nobody foresaw logged here and told to the person in a sentence (the app
    shows only gr.Error messages), never as a bare "Error"."""
    try:
        return call()
    except (gr.Error, FutureTimeout):
        raise
    except Exception as exc:
        log.exception("request failed")
        raise user_error(f"Something went wrong on the server with this request ({type(exc).__name__}). "
                         "Please try again; if it keeps failing, try another image or a smaller resolution.") from None


# -- the handlers --------------------------------------------------------------------------------
@time_limited
def translate(state: DemoState, content, style, modalities: Sequence[str] | None = None,
              strengths: Mapping[str, float] | None = None, resolution: int | None = None,
              style_b=None, mix: float = 0.0, domain: int = 0, maps: Mapping | None = None,
              settings: SenseSettings | None = None) -> Translation:  # fmt: skip
    """Content image + style image → translation, with the maps used and a status line.

    Every available sense runs once per content image and size (maps are cached), so changing
    `modalities` or `strengths` afterwards only re-runs the content encoder and the generator.
    `style_b` + `mix` in [0, 1] interpolate the style vector towards a second style image.
    `maps`: modality → your own map (an upload in the map's preview encoding) instead of the sense's;
    a modality given a map is used. `settings`: Canny thresholds, HED, the detection resolution.
    """
    c, s = load_upload(state, content, "content"), load_upload(state, style, "style")
    b = load_upload(state, style_b, "second style") if style_b is not None else None
    req = content_request(state, modalities, strengths, resolution, maps)
    own, use, strengths, res = req.own, req.use, req.strengths, req.resolution
    domain = check_domain(state, domain)
    mix = check_mix(state, mix)
    notes = [f"Content image: {n}" for n in c.notes] + [f"Style image: {n}" for n in s.notes] + req.notes

    t0 = time.perf_counter()
    content = sense(state, c.image, res, own, settings)
    t1 = time.perf_counter()
    style_vec = state.pipe.style(s.image, res, domain, blend=(b.image, mix) if b is not None else None)
    t2 = time.perf_counter()
    (image,) = render(state, content, style_vec[None], use, strengths)
    t3 = time.perf_counter()
    prepared, maps = content.image, content.maps

    used = tuple(m for m in use if m in maps and strengths.get(m, DEFAULT_STRENGTH) > 0)
    if not used:
        notes.append("No modality is in use, so the output comes from the style alone (tick a sense to add content).")
    notes += [f"{m}: {maps.notes[m]}" for m in use if m in maps and maps.notes.get(m)]
    warnings = [f"The {m} map was skipped: {short(maps.notes.get(m, 'no map'))}" for m in use if m not in maps]
    cached = all(sec < 1e-3 for sec in maps.seconds.values())
    timings = {"senses": t1 - t0, "style": t2 - t1, "generator": t3 - t2, "total": t3 - t0}
    status = status_markdown(state, prepared.size, timings, notes + warnings, cached)
    gallery = map_gallery(state, maps, use, strengths)
    return Translation(image, prepared, gallery, status, notes, warnings, timings, used)


@time_limited
def extract_maps(state: DemoState, content, resolution: int | None = None) -> tuple[Gallery, str]:
    """Every available map of the content image, as (preview, caption), and a status line."""
    c = load_upload(state, content, "content")
    res, notes = check_resolution(state, resolution)
    t0 = time.perf_counter()
    content = sense(state, c.image, res)
    prepared, maps = content.image, content.maps
    timings = {"senses": time.perf_counter() - t0}
    notes = [f"Content image: {n}" for n in c.notes] + notes
    notes += [f"{m}: {short(msg)}" for m, msg in maps.notes.items() if msg]
    status = status_markdown(state, prepared.size, timings, notes, all(v < 1e-3 for v in maps.seconds.values()))
    return map_gallery(state, maps, state.available, {}), status


@time_limited
def random_styles(state: DemoState, content, modalities: Sequence[str] | None = None,
                  strengths: Mapping[str, float] | None = None, resolution: int | None = None,
                  seed: int = 0, n: int = 4, domain: int = 0) -> Gallery:  # fmt: skip
    """The same content under `n` style vectors sampled from the checkpoint (reproducible by seed)."""
    c = load_upload(state, content, "content")
    use, _ = check_modalities(state, modalities)
    strengths, _ = check_strengths(state, strengths)
    res, _ = check_resolution(state, resolution)
    domain = check_domain(state, domain)
    try:
        seed, n = int(seed or 0), int(n or 4)
        if abs(seed) >= 2**63:  # torch seeds are 64-bit
            raise ValueError(seed)
    except (TypeError, ValueError, OverflowError):
        raise user_error("Seed and number of samples must be whole numbers (seed below 2^63).") from None
    n = min(max(n, 1), MAX_SAMPLES)
    styles = state.pipe.sample_styles(n, seed=seed, domain=domain)
    images = render(state, sense(state, c.image, res), styles, use, strengths)
    return [(im, f"seed {seed} · #{i + 1}") for i, im in enumerate(images)]


def save_png(state: DemoState, image: Image.Image) -> str | None:
    """Write the result as a PNG (named by its content) for the download button; returns the path, or
    None (logged) when the disk refuses: the result is still shown, only its download is off."""
    path = state.out_dir / f"sensorium-{image_hash(image)[:12]}.png"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # a tmp cleaner may have taken the folder
        # Atomic, and a repeated result renews its age, so the folder's sweeper cannot take it mid-download.
        return str(write_once(path, lambda tmp: image.save(tmp, format="PNG")))
    except OSError:
        log.exception("could not write %s for download", path)
        return None


def info(state: DemoState) -> dict:
    """What this server runs: device, checkpoint, limits, and every modality's sense status."""
    senses = state.pipe.senses
    return {
        "device": device_label(state.pipe.device),
        "checkpoint": state.checkpoint,
        "runtime": state.pipe.runtime.name,
        "max_resolution": state.max_resolution,
        "resolutions": state.resolutions,
        "num_domains": state.pipe.config.num_domains,
        "domains": list(state.pipe.domain_names),  # the names `domain` takes, in head order
        "modalities": {
            m: {
                "available": state.availability[m].ok,
                "reason": state.availability[m].reason,
                "sense": getattr(senses.sense(m), "label", None),
                "description": MODALITIES[m].description,
            }
            for m in state.modalities
        },  # fmt: skip
    }


# -- helpers -------------------------------------------------------------------------------------
def sense(state: DemoState, image: Image.Image, resolution: int, maps: Mapping | None = None,
          settings: SenseSettings | None = None) -> Content:  # fmt: skip
    """The content at model size and all its available maps (cached by image content, size and sense
    settings), so a later toggle of modalities or strengths never re-extracts; `maps` (own maps)
    replace theirs."""
    modalities = [m for m in state.modalities if m in state.available or m in (maps or {})]
    return pipeline_checked(lambda: state.pipe.sense(image, resolution, modalities, maps, settings=settings))


def own_maps_of(state: DemoState, maps: Mapping | None) -> dict:
    """The given own maps (None and empty uploads dropped) for modalities this checkpoint was trained on."""
    out = {m: v for m, v in (maps or {}).items() if v is not None and not (isinstance(v, str) and not v.strip())}
    for m in out:
        if m not in state.modalities:
            raise user_error(f"Unknown modality {m!r} for a map; this checkpoint has: {', '.join(state.modalities)}.")
        if m not in state.pipe.trained_modalities:
            raise user_error(f"This checkpoint was not trained with {m} maps, so your {m} map cannot be used.")
    return out


@dataclass(frozen=True)
class ContentRequest:
    """What a request asks of the content, checked: own maps, the modalities to use (a modality given
    an own map is used), their strengths, the resolution, and the notes those checks made."""

    own: dict
    use: Sequence[str]
    strengths: Mapping[str, float]
    resolution: int
    notes: list[str]


def content_request(state: DemoState, modalities, strengths, resolution, maps) -> ContentRequest:
    """The one reading of modalities, strengths, resolution and own maps, for every handler that renders."""
    own = own_maps_of(state, maps)
    if isinstance(modalities, (list, tuple)):  # anything else is check_modalities' to refuse
        modalities = [*modalities, *(m for m in own if m not in modalities)]
    use, notes = check_modalities(state, modalities, tuple(own))
    strengths, strength_notes = check_strengths(state, strengths)
    res, res_notes = check_resolution(state, resolution)
    return ContentRequest(own, use, strengths, res, res_notes + notes + strength_notes)


def render(state: DemoState, content: Content, styles: torch.Tensor, use: Sequence[str],
           strengths: Mapping[str, float]) -> list[Image.Image]:  # fmt: skip
    return out_of_memory_is_friendly(lambda: state.pipe.render(content, styles, use, strengths))


def out_of_memory_is_friendly(fn: Callable[[], T]) -> T:
    """fn(), with the device running out of memory turned into a message for people."""
    try:
        return fn()
    except torch.OutOfMemoryError:
        raise user_error("The device ran out of memory at this resolution; please pick a smaller one.") from None


def map_gallery(state: DemoState, maps: Extraction, use: Sequence[str], strengths: Mapping[str, float]) -> Gallery:
    """(preview, caption) per extracted map in checkpoint order; captions say which are off."""
    out = []
    for m in state.modalities:
        if m not in maps:
            continue
        caption = pretty(m)
        strength = strengths.get(m, DEFAULT_STRENGTH)
        if m not in use or strength <= 0:
            caption += " · off"
        elif strength != DEFAULT_STRENGTH:
            caption += f" · ×{strength:.2f}"
        if maps[m].note:
            caption += f" · {maps[m].note}"
        out.append((maps[m].preview, caption))
    return out


def status_markdown(state: DemoState, size: tuple[int, int], timings: Mapping[str, float],
                    notes: Sequence[str], cached: bool = False) -> str:  # fmt: skip
    """One status line (device · checkpoint · size · per-stage seconds) and the notes as bullets."""
    stages = " · ".join(
        f"{k} {v:.2f} s" + (" (cached)" if k == "senses" and cached else "") for k, v in timings.items()
    )
    line = (f"**{device_label(state.pipe.device)}** · `{Path(state.checkpoint).name or state.checkpoint}` · "
            f"runtime {state.pipe.runtime_in_use()} · {size[0]}×{size[1]} px · {stages}")  # fmt: skip
    if state.pipe.runtime_note:
        notes = [*notes, state.pipe.runtime_note]
    if state.pipe.device.type == "cpu":
        notes = [*notes, "Running on CPU: fine for small sizes, a GPU is much faster."]
    return "\n".join([line, *(f"- {n}" for n in notes)])


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA · {torch.cuda.get_device_name(device)}"
    return device.type.upper()
