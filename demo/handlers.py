"""The demo's handlers: plain functions over a `DemoState` (the shared pipeline and its limits).

Images come in as anything `sensorium.images.load_image` reads (upload paths, PIL, numpy, bytes);
results go out as PIL images, gallery lists and Markdown. Bad input raises `gr.Error` with a
sentence for people; nothing here knows about the Blocks layout, so tests call these directly
with a tiny random model through the real pipeline and senses.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from sensorium.images import ImageError, LoadedImage, load_image
from sensorium.lru import LRU
from sensorium.modalities import MODALITIES
from sensorium.pipeline import TranslationPipeline
from sensorium.senses import Availability, Extraction, image_hash

MAX_STRENGTH = 1.5
MAX_SAMPLES = 8
RESOLUTION_STEPS = (128, 192, 256, 320, 384, 448, 512, 640, 768, 1024)

Gallery = list[tuple[Image.Image, str]]


def user_error(message: str) -> gr.Error:
    """A gr.Error for a person's mistake: shown in the UI and the API, no server traceback."""
    return gr.Error(message, print_exception=False)


@dataclass
class DemoState:
    """What every session shares: the pipeline, which senses run here, and the limits."""

    pipe: TranslationPipeline
    max_resolution: int
    checkpoint: str  # shown in the status line
    availability: dict[str, Availability]  # modality -> can its sense run here (and why not)
    out_dir: Path  # PNG downloads are written here
    images: LRU[LoadedImage] = field(default_factory=lambda: LRU(16))  # decoded uploads by path

    @classmethod
    def create(cls, pipe: TranslationPipeline, max_resolution: int | None = None,
               checkpoint: str | None = None) -> DemoState:  # fmt: skip
        """Check the senses once (may take seconds: it imports their libraries) and pick limits."""
        if max_resolution is None:
            max_resolution = 512 if pipe.device.type == "cuda" else 256
        name = checkpoint or getattr(pipe, "name", None) or "model"
        out_dir = Path(tempfile.mkdtemp(prefix="sensorium-demo-"))
        return cls(pipe, int(max_resolution), str(name), pipe.senses.status(), out_dir)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The checkpoint's modalities, in its order."""
        return tuple(self.pipe.config.modalities)

    @property
    def available(self) -> tuple[str, ...]:
        """The checkpoint's modalities whose sense can run here."""
        return tuple(m for m in self.modalities if self.availability[m].ok)

    @property
    def resolutions(self) -> list[int]:
        """Output sizes (long side) offered in the UI: multiples of the model stride up to the limit."""
        stride = self.pipe.config.stride
        steps = [r for r in RESOLUTION_STEPS if r <= self.max_resolution and r % stride == 0]
        return steps or [max(stride, self.max_resolution // stride * stride)]

    @property
    def default_resolution(self) -> int:
        return max(r for r in self.resolutions if r <= 256) if min(self.resolutions) <= 256 else self.resolutions[0]


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


# -- input checks --------------------------------------------------------------------------------
def load_upload(state: DemoState, source, role: str) -> LoadedImage:
    """Decode an upload (path, PIL, numpy, bytes) to RGB, or raise a friendly gr.Error."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise user_error(f"Please add a {role} image: upload one or click an example below it.")
    try:
        if isinstance(source, (str, Path)):
            return state.images.get_or_compute(str(source), lambda: load_image(source))
        return load_image(source)
    except ImageError as err:
        raise user_error(f"{role.capitalize()} image: {err}") from None


def check_modalities(state: DemoState, modalities: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Requested modalities in checkpoint order, and notes for the ones that cannot run here."""
    if modalities is None:
        return list(state.available), []
    if isinstance(modalities, str):
        modalities = [modalities]
    unknown = [m for m in modalities if m not in state.modalities]
    if unknown:
        raise user_error(f"Unknown modality {', '.join(map(repr, unknown))}; this checkpoint uses: "
                         f"{', '.join(state.modalities)}.")  # fmt: skip
    wanted = [m for m in state.modalities if m in modalities]
    off = [m for m in wanted if not state.availability[m].ok]
    notes = [f"{m} is not available here, so it was left out ({short(state.availability[m].reason)})." for m in off]
    return [m for m in wanted if m not in off], notes


def check_strengths(state: DemoState, strengths: Mapping[str, float] | None) -> dict[str, float]:
    """modality -> strength in [0, 1.5] (default 1); unknown names or non-numbers raise gr.Error."""
    if strengths is None:
        return {}
    if not isinstance(strengths, Mapping):
        raise user_error('Strengths must be a mapping like {"edges": 0.5}.')
    out = {}
    for name, value in strengths.items():
        if name not in state.modalities:
            raise user_error(
                f"Unknown modality {name!r} in strengths; this checkpoint uses: {', '.join(state.modalities)}."
            )
        try:
            out[name] = min(max(float(value), 0.0), MAX_STRENGTH)
        except (TypeError, ValueError):
            raise user_error(
                f"The strength of {name} must be a number from 0 to {MAX_STRENGTH}, got {value!r}."
            ) from None
    return out


def check_resolution(state: DemoState, resolution) -> tuple[int, list[str]]:
    """A valid output size (multiple of the model stride, within the limit) and a note if changed."""
    if resolution in (None, ""):
        return state.default_resolution, []
    try:
        wanted = int(float(resolution))
    except (TypeError, ValueError):
        raise user_error(f"Resolution must be a number of pixels, got {resolution!r}.") from None
    stride = state.pipe.config.stride
    low = max(stride, 64 // stride * stride)
    res = min(max(wanted, low), state.max_resolution) // stride * stride
    notes = []
    if wanted > state.max_resolution:
        notes.append(f"Resolution is limited to {state.max_resolution} px here; used {res} px.")
    elif res != wanted:
        notes.append(f"Resolution must be a multiple of {stride} from {low} px; used {res} px.")
    return res, notes


# -- the handlers --------------------------------------------------------------------------------
def translate(state: DemoState, content, style, modalities: Sequence[str] | None = None,
              strengths: Mapping[str, float] | None = None, resolution: int | None = None,
              style_b=None, mix: float = 0.0, domain: int = 0) -> Translation:  # fmt: skip
    """Content image + style image → translation, with the maps used and a status line.

    Every available sense runs once per content image and size (maps are cached), so changing
    `modalities` or `strengths` afterwards only re-runs the content encoder and the generator.
    `style_b` + `mix` in [0, 1] interpolate the style vector towards a second style image.
    """
    c, s = load_upload(state, content, "content"), load_upload(state, style, "style")
    b = load_upload(state, style_b, "second style") if style_b is not None else None
    use, notes = check_modalities(state, modalities)
    strengths = check_strengths(state, strengths)
    res, res_notes = check_resolution(state, resolution)
    domain = check_domain(state, domain)
    mix = min(max(float(mix or 0.0), 0.0), 1.0)
    notes = [f"Content image: {n}" for n in c.notes] + [f"Style image: {n}" for n in s.notes] + res_notes + notes

    t0 = time.perf_counter()
    prepared, maps = extract(state, c.image, res)
    t1 = time.perf_counter()
    style_vec = state.pipe.encode_style(s.image, res, domain)
    if b is not None:
        style_vec = state.pipe.interpolate_styles(style_vec, state.pipe.encode_style(b.image, res, domain), mix)
    t2 = time.perf_counter()
    (image,) = generate(state, maps, prepared, style_vec[None], use, strengths)
    t3 = time.perf_counter()

    used = tuple(m for m in use if m in maps and strengths.get(m, 1.0) > 0)
    if not used:
        notes.append("No modality is in use, so the output comes from the style alone (tick a sense to add content).")
    notes += [f"{m}: {maps.notes[m]}" for m in use if m in maps and maps.notes.get(m)]
    warnings = [f"The {m} map was skipped: {short(maps.notes.get(m, 'no map'))}" for m in use if m not in maps]
    cached = all(sec < 1e-3 for sec in maps.seconds.values())
    timings = {"senses": t1 - t0, "style": t2 - t1, "generator": t3 - t2, "total": t3 - t0}
    status = status_markdown(state, prepared.size, timings, notes + warnings, cached)
    gallery = map_gallery(state, maps, use, strengths)
    return Translation(image, prepared, gallery, status, notes, warnings, timings, used)


def extract_maps(state: DemoState, content, resolution: int | None = None) -> tuple[Gallery, str]:
    """Every available map of the content image, as (preview, caption), and a status line."""
    c = load_upload(state, content, "content")
    res, notes = check_resolution(state, resolution)
    t0 = time.perf_counter()
    prepared, maps = extract(state, c.image, res)
    timings = {"senses": time.perf_counter() - t0}
    notes = [f"Content image: {n}" for n in c.notes] + notes
    notes += [f"{m}: {short(msg)}" for m, msg in maps.notes.items() if msg]
    status = status_markdown(state, prepared.size, timings, notes, all(v < 1e-3 for v in maps.seconds.values()))
    return map_gallery(state, maps, state.available, {}), status


def random_styles(state: DemoState, content, modalities: Sequence[str] | None = None,
                  strengths: Mapping[str, float] | None = None, resolution: int | None = None,
                  seed: int = 0, n: int = 4, domain: int = 0) -> Gallery:  # fmt: skip
    """The same content under `n` style vectors sampled from the checkpoint (reproducible by seed)."""
    c = load_upload(state, content, "content")
    use, _ = check_modalities(state, modalities)
    strengths = check_strengths(state, strengths)
    res, _ = check_resolution(state, resolution)
    domain = check_domain(state, domain)
    try:
        seed, n = int(seed or 0), int(n or 4)
    except (TypeError, ValueError):
        raise user_error("Seed and number of samples must be whole numbers.") from None
    n = min(max(n, 1), MAX_SAMPLES)
    prepared, maps = extract(state, c.image, res)
    styles = state.pipe.sample_styles(n, seed=seed, domain=domain)
    images = generate(state, maps, prepared, styles, use, strengths)
    return [(im, f"seed {seed} · sample {i + 1}") for i, im in enumerate(images)]


def save_png(state: DemoState, image: Image.Image) -> str:
    """Write the result as a PNG (named by its content) for the download button; returns the path."""
    path = state.out_dir / f"sensorium-{image_hash(image)[:12]}.png"
    if not path.exists():
        image.save(path, format="PNG")
    return str(path)


def info(state: DemoState) -> dict:
    """What this server runs: device, checkpoint, limits, and every modality's sense status."""
    senses = state.pipe.senses
    return {
        "device": device_label(state.pipe.device),
        "checkpoint": state.checkpoint,
        "max_resolution": state.max_resolution,
        "resolutions": state.resolutions,
        "num_domains": state.pipe.config.num_domains,
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
def check_domain(state: DemoState, domain) -> int:
    n = state.pipe.config.num_domains
    try:
        d = int(domain or 0)
    except (TypeError, ValueError):
        raise user_error(f"Domain must be a whole number from 0 to {n - 1}.") from None
    if not 0 <= d < n:
        raise user_error(f"Domain must be from 0 to {n - 1} for this checkpoint, got {d}.")
    return d


def extract(state: DemoState, image: Image.Image, resolution: int) -> tuple[Image.Image, Extraction]:
    """The content at model size and all its available maps (cached by image content and size)."""
    prepared = state.pipe.prepare(image, resolution)
    maps = state.pipe.senses.extract(prepared, (prepared.height, prepared.width), state.available)
    return prepared, maps


def generate(state: DemoState, maps: Extraction, prepared: Image.Image, styles: torch.Tensor,
             use: Sequence[str], strengths: Mapping[str, float]) -> list[Image.Image]:  # fmt: skip
    size = (prepared.height, prepared.width)
    try:
        return state.pipe.generate(maps, size, styles, use, strengths)
    except torch.OutOfMemoryError:
        raise user_error("The device ran out of memory at this resolution; please pick a smaller one.") from None


def map_gallery(state: DemoState, maps: Extraction, use: Sequence[str], strengths: Mapping[str, float]) -> Gallery:
    """(preview, caption) per extracted map in checkpoint order; captions say which are off."""
    out = []
    for m in state.modalities:
        if m not in maps:
            continue
        caption = pretty(m)
        strength = strengths.get(m, 1.0)
        if m not in use or strength <= 0:
            caption += " · off"
        elif strength != 1.0:
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
    line = f"**{device_label(state.pipe.device)}** · `{Path(state.checkpoint).name or state.checkpoint}` · {size[0]}×{size[1]} px · {stages}"
    if state.pipe.device.type == "cpu":
        notes = [*notes, "Running on CPU: fine for small sizes, a GPU is much faster."]
    return "\n".join([line, *(f"- {n}" for n in notes)])


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA · {torch.cuda.get_device_name(device)}"
    return device.type.upper()


def pretty(modality: str) -> str:
    return modality.replace("_", " ")


def short(reason: str, limit: int = 160) -> str:
    """The first sentence-ish of a long reason, for captions and checkbox hints."""
    text = " ".join(reason.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
