"""End-to-end Sensorium inference: images in, translated image (and the maps it used) out.

    pipe = TranslationPipeline.from_pretrained("assets/checkpoints/sensorium-portraits")
    result = pipe(content_img, style_img, modalities=["pose", "face_landmarks"], resolution=256)
    result.image.save("out.png"); result.maps["pose"].preview; result.timings

The pipeline is the one orchestrator every frontend (app, CLI, video, showcase) goes through, in
three steps over typed values:

    content = pipe.sense(image, resolution)             # Content: the prepared image and its maps
    style = pipe.style(style_image, resolution, domain)  # (S,) style vector, or blend=(image_b, t)
    images = pipe.render(content, styles, modalities, strengths)

`__call__` is sense → style → render with timings. A request the checkpoint cannot serve (unknown
modality, domain, strength, mix, resolution) raises one `UsageError` with a sentence for people.
Maps are cached by image content (in the SenseSet) and style vectors by image content too, so a
call that only changes modalities or strengths runs just the content encoder and the generator.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .conditioning import DEFAULT_STRENGTH, stack_maps
from .config import DEFAULT_RESOLUTION
from .images import ImageError, fit_to_model, pil_to_tensor, tensor_to_pil, to_rgb
from .lru import LRU
from .model import Sensorium
from .own_maps import OwnMap, OwnMapError, read_own_maps, with_own_maps
from .precision import autocast, use_bf16
from .runtime.backends import Runtime
from .runtime.content_cache import ContentCache
from .runtime.names import runtime_name
from .runtime.select import faster_runtime, load_runtime
from .senses import Extraction, SenseSet, image_hash
from .senses.codec import resampled
from .senses.settings import SenseSettings

STYLE_CACHE_BYTES = 16 << 20  # style vectors are ~1 KB each: the entry count binds first; this is the backstop


class UsageError(ValueError):
    """A request this checkpoint cannot serve; the message says what is allowed. The app shows it
    as a friendly error, the CLI prints it and exits with code 2."""


@dataclass(frozen=True)
class Content:
    """A content image as the model sees it: prepared to model size, with its sense maps."""

    image: Image.Image  # RGB at model size (sides multiples of the stride)
    maps: Extraction  # modality → SenseMap, plus notes for the senses that found nothing or failed

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.image.height, self.image.width


@dataclass
class TranslationResult:
    image: Image.Image  # the translation, RGB
    maps: Extraction  # modality → SenseMap actually used (with .notes for the others)
    style: torch.Tensor  # (S,) the style vector used
    modalities: tuple[str, ...]  # modalities that contributed a map
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    notes: list[str] = field(default_factory=list)  # human messages (missing senses, …)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def trained_senses(model: Sensorium) -> dict[str, str]:
    """modality → the provider whose maps the checkpoint was trained on (its `metadata.senses`)."""
    return dict(model.info.senses)


class TranslationPipeline:
    """Senses + Sensorium model. `precision="auto"`: bf16 autocast on CUDA, fp32 on CPU (bf16 is
    much slower than fp32 on common CPUs). `runtime`: "auto" (default, or $SENSORIUM_RUNTIME), "eager"
    or a backend of sensorium/runtime; one that fails its parity check falls back to eager and
    `runtime_note` says why."""

    def __init__(self, model: Sensorium, senses: SenseSet | None = None, device: str | torch.device | None = None,
                 precision: str = "auto", style_cache: int = 128, name: str = "model",
                 runtime: str | None = None):  # fmt: skip
        self.device = pick_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.config = model.config
        self.senses = senses if senses is not None else SenseSet(self.config.modalities, device=self.device,
                                                                 preferred=trained_senses(model))  # fmt: skip
        self.bf16 = use_bf16(precision, self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self._styles: LRU[torch.Tensor] = LRU(style_cache, max_bytes=STYLE_CACHE_BYTES)
        asked = runtime_name(runtime)  # the argument, else $SENSORIUM_RUNTIME, else "auto"
        fp32_only = self.bf16 and self.device.type == "cpu" and asked != "eager"  # fused and onnx run fp32 only
        self._runtime_choice = "eager" if fp32_only else asked
        self.runtime, self.runtime_note = load_runtime(self.model, self._runtime_choice)
        if fp32_only and asked != "auto":
            self.runtime_note = f"Runtime: eager, because {asked} runs fp32 only and bf16 was asked for."
        self._rendered_on = threading.local()  # the runtime each thread's last render ran on
        self._contents = ContentCache()
        self.name = name  # the checkpoint it came from, for status lines

    def upgrade_runtime(self) -> str:
        """With runtime "auto": prepare what "auto" does not prepare at load (the ONNX graphs, exported
        once into the cache: seconds of CPU), check it against eager and switch to it when it is ahead
        of the current runtime in AUTO_ORDER. Returns a note for the log ("" when nothing was to do).
        Made for a thread after start-up: requests meanwhile keep the runtime they started with."""
        if self._runtime_choice != "auto":
            return ""
        runtime, note = faster_runtime(self.model, self.runtime)
        if runtime is not None:
            self.runtime, self.runtime_note = runtime, ""
        return note

    def _request_runtime(self) -> Runtime:
        """The runtime for one request, read once (upgrade_runtime may switch it while the request
        runs) and noted for this thread's runtime_in_use."""
        runtime = self.runtime
        self._rendered_on.name = runtime.name
        return runtime

    def runtime_in_use(self) -> str:
        """The runtime this thread's last render ran on (before any, the current one), so that a
        request's status line names the runtime it used even when upgrade_runtime switched meanwhile."""
        return getattr(self._rendered_on, "name", self.runtime.name)

    @classmethod
    def from_pretrained(cls, checkpoint: str | Path, senses: SenseSet | None = None,
                        device: str | torch.device | None = None, **kwargs) -> TranslationPipeline:  # fmt: skip
        dev = pick_device(device)
        model = Sensorium.from_pretrained(checkpoint, device=dev)
        return cls(model, senses=senses, device=dev, name=str(checkpoint), **kwargs)

    @property
    def trained_modalities(self) -> tuple[str, ...]:
        """Modalities the checkpoint saw during training (from its metadata; all when unknown)."""
        return self.model.info.trained_modalities or tuple(self.config.modalities)

    @property
    def domain_names(self) -> tuple[str, ...]:
        """One name per style head: the training set's domain folders when the export stored them."""
        names = self.model.info.domains
        n = self.config.num_domains
        return tuple(names) if len(names) == n else tuple(f"domain {i}" for i in range(n))

    # -- request checks: the one place a request is validated ----------------------------------
    def domain_index(self, domain: int | str | None) -> int:
        """A style head by name ("male") or number; UsageError naming the choices otherwise."""
        names = self.domain_names
        if isinstance(domain, str) and domain in names:
            return names.index(domain)
        try:
            index = int(domain or 0)
        except (TypeError, ValueError, OverflowError):
            index = None
        if index is None or not 0 <= index < len(names):
            rule = "a whole number from" if index is None else "from"
            raise UsageError(f"unknown domain {domain!r}; this checkpoint has {', '.join(names)}. "
                             f"Domain must be {rule} 0 to {len(names) - 1}, or one of those names.")  # fmt: skip
        return index

    def resolution_of(self, resolution: int) -> int:
        """A valid output size: a whole number of pixels, a multiple of the model stride, at least the
        model's smallest (ModelConfig.min_resolution)."""
        stride, low = self.config.stride, self.config.min_resolution
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < low or resolution % stride:
            raise UsageError(f"resolution must be a multiple of {stride} from {low} px, got {resolution!r}")
        return resolution

    def modalities_of(self, modalities: Sequence[str] | str | None) -> tuple[str, ...]:
        """The requested modalities in checkpoint order (None = all; [] = style only)."""
        if modalities is None:
            return tuple(self.config.modalities)
        if isinstance(modalities, str):
            modalities = [modalities]
        if not isinstance(modalities, (list, tuple)):
            raise UsageError(f'Modalities must be a list of names like ["edges"], got {repr(modalities)[:60]}.')
        unknown = [m for m in modalities if m not in self.config.modalities]
        if unknown:
            raise UsageError(f"Unknown modality {', '.join(map(repr, unknown))}; this checkpoint has: "
                             f"{', '.join(self.config.modalities)}.")  # fmt: skip
        return tuple(m for m in self.config.modalities if m in modalities)

    def strengths_of(self, strengths: Mapping[str, float] | None, limit: float = math.inf) -> dict[str, float]:
        """modality → a finite strength >= 0 (clipped to `limit`); unknown names or non-numbers raise."""
        if strengths is None:
            return {}
        if not isinstance(strengths, Mapping):
            raise UsageError('Strengths must be a mapping like {"edges": 0.5}.')
        out = {}
        unclipped = limit == math.inf  # the app clips to its slider's range; elsewhere out-of-range is an error
        for name, value in strengths.items():
            if name not in self.config.modalities:
                raise UsageError(f"Unknown modality {name!r} in strengths; this checkpoint has: "
                                 f"{', '.join(self.config.modalities)}.")  # fmt: skip
            try:
                x = float(value)
            except (TypeError, ValueError, OverflowError):
                x = math.nan
            if math.isnan(x) or (unclipped and not 0 <= x < math.inf):
                allowed = f"from 0 to {limit:g}" if limit < math.inf else ">= 0"
                raise UsageError(f"The strength of {name} must be a number {allowed}, got {value!r}.")
            out[name] = min(max(x, 0.0), limit)
        return out

    @staticmethod
    def mix_of(mix: float | None) -> float:
        """A style blend weight in [0, 1] (values outside are clipped); non-numbers raise."""
        try:
            value = float(mix or 0.0)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past float's range
            value = math.nan
        if math.isnan(value):
            raise UsageError(f"Mix must be a number from 0 to 1, got {repr(mix)[:60]}.")
        return min(max(value, 0.0), 1.0)

    # -- the three steps ----------------------------------------------------------------------------
    def _autocast(self):
        return autocast(self.device, self.bf16)

    def prepare(self, image: Image.Image, resolution: int) -> Image.Image:
        """The image at model size: long side = resolution, sides multiples of the model stride."""
        return fit_to_model(self._rgb(image), self.resolution_of(resolution), self.config.stride)

    @staticmethod
    def _rgb(image: Image.Image) -> Image.Image:
        """8-bit RGB, alpha over white and 16-bit scaled, as uploads are (the image itself if RGB)."""
        try:
            return to_rgb(image)
        except ImageError as err:
            raise UsageError(str(err)) from None

    def sense(self, content: Image.Image, resolution: int = DEFAULT_RESOLUTION, modalities: Sequence[str] | None = None,
              maps: Mapping[str, OwnMap | None] | None = None, cache: bool = True,
              settings: SenseSettings | None = None) -> Content:  # fmt: skip
        """The content image at model size and its sense maps (cached by image content and size;
        `cache=False` for frames that never repeat, like a live webcam's).

        maps: modality → your own map (a picture in that modality's preview encoding, or a tensor),
        used instead of the sense's; it is not extracted then. Unusable maps raise UsageError.
        settings: Canny thresholds, HED or Canny, and the resolution the senses run at.
        """
        content = self._rgb(content)  # once, for the model size and for the senses' own size
        prepared = self.prepare(content, resolution)
        size = (prepared.height, prepared.width)
        wanted = self.senses.modalities if modalities is None else self.modalities_of(modalities)
        try:
            own = read_own_maps(maps, self.config.modalities, size, self.senses.cache)
        except OwnMapError as err:
            raise UsageError(str(err)) from None
        todo = [m for m in wanted if m not in own]
        if settings is not None and settings.detect_resolution and settings.detect_resolution != max(size):
            detected = self._detect_at(content, prepared, todo, settings, cache)
        else:
            detected = self.senses.extract(prepared, size, todo, cache=cache, settings=settings)
        return Content(prepared, with_own_maps(detected, own) if own else detected)

    def _detect_at(self, content: Image.Image, prepared: Image.Image, modalities: Sequence[str],
                   settings: SenseSettings, cache: bool = True) -> Extraction:  # fmt: skip
        """The senses run on the content at `settings.detect_resolution` (long side), their maps
        resampled to the model size (lines by max-pool, labels by nearest, the rest bilinear)."""
        scale = settings.detect_resolution / max(prepared.size)
        w, h = max(1, round(prepared.width * scale)), max(1, round(prepared.height * scale))
        at = content.resize((w, h), Image.Resampling.LANCZOS)  # content: RGB already (sense)
        maps = self.senses.extract(at, (h, w), modalities, cache=cache, settings=settings)
        return resampled(maps, (prepared.height, prepared.width))

    @torch.inference_mode()
    def style(self, style: Image.Image | torch.Tensor, resolution: int = DEFAULT_RESOLUTION, domain: int | str = 0,
              blend: tuple[Image.Image | torch.Tensor, float] | None = None) -> torch.Tensor:  # fmt: skip
        """The style vector (S,) of an image (cached by image content, size and domain) or a given
        vector; `blend=(second, t)` interpolates towards a second style (t=0 → first, 1 → second)."""
        head = self.domain_index(domain)
        s = self._given_style(style) if isinstance(style, torch.Tensor) else self._encode_style(style, resolution, head)
        if blend is not None and blend[0] is not None and blend[1]:
            second, t = blend
            other = (self._given_style(second) if isinstance(second, torch.Tensor)
                     else self._encode_style(second, resolution, head))  # fmt: skip
            s = self.interpolate_styles(s, other, self.mix_of(t))
        return s

    def style_vectors(self, styles: torch.Tensor) -> torch.Tensor:
        """Given style vectors as (B, S) on the pipeline's device: (S,) or (B, S) of this checkpoint's
        style size, finite; anything else raises UsageError (not a reshape into the wrong styles)."""
        size = self.config.style_dim
        if not isinstance(styles, torch.Tensor) or styles.ndim not in (1, 2) or styles.shape[-1] != size:
            shape = tuple(styles.shape) if isinstance(styles, torch.Tensor) else type(styles).__name__
            raise UsageError(f"A style vector must have {size} numbers (shape ({size},) or (N, {size})), got {shape}.")
        if not torch.isfinite(styles).all():
            raise UsageError("A style vector must hold finite numbers (no NaN or infinity).")
        return styles.to(self.device, torch.float32).reshape(-1, size)

    def _given_style(self, style: torch.Tensor) -> torch.Tensor:
        """A style vector the caller gave, checked, in its own shape ((S,) or (B, S))."""
        checked = self.style_vectors(style)
        return checked[0] if style.ndim == 1 else checked

    def _encode_style(self, style: Image.Image, resolution: int, domain: int) -> torch.Tensor:
        prepared = self.prepare(style, resolution)

        def compute() -> torch.Tensor:
            x = pil_to_tensor(prepared)[None].to(self.device)
            with self._autocast():
                return self.model.encode_style(x, torch.tensor([domain], device=self.device))[0].float()

        return self._styles.get_or_compute((image_hash(prepared), domain), compute)

    @staticmethod
    def interpolate_styles(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
        """Linear interpolation in style space (t=0 → a, t=1 → b)."""
        return torch.lerp(a, b.to(a), float(t))

    def sample_styles(self, n: int, seed: int = 0, domain: int | str = 0, temperature: float = 1.0) -> torch.Tensor:
        """n style vectors (n, S) from the checkpoint's fitted style statistics."""
        g = torch.Generator().manual_seed(int(seed))
        return self.model.sample_styles(n, self.domain_index(domain), generator=g, temperature=temperature)

    @torch.inference_mode()
    def render(self, content: Content, styles: torch.Tensor, modalities: Sequence[str] | None = None,
               strengths: Mapping[str, float] | None = None) -> list[Image.Image]:  # fmt: skip
        """Content encoder + generator on sensed content, one image per style vector (a batch)."""
        strengths = self.strengths_of(strengths)
        styles = self.style_vectors(styles)
        use = set(self.modalities_of(modalities))  # checked once, not once per map
        maps = {m: sm.tensor for m, sm in content.maps.items() if m in use}
        runtime = self._request_runtime()
        with self._autocast():  # the content's state is kept for style-only changes (runtime/content_cache.py)
            state = self._contents.get_or_compute(runtime.name, maps, strengths, content.size,
                                                  lambda: runtime.encode(*self._stack(content, modalities, strengths)))  # fmt: skip
            out = runtime.generate(state, styles).float()
        return [tensor_to_pil(o) for o in out]

    @torch.inference_mode()
    def render_subsets(self, content: Content, style: torch.Tensor, subsets: Sequence[Sequence[str]],
                       strengths: Mapping[str, float] | None = None) -> list[Image.Image]:  # fmt: skip
        """One image per modality subset under one style vector (S,), in one batch: each row of the
        batch gets its own maps and presence, so "each sense alone / left out" costs one call."""
        strengths = self.strengths_of(strengths)
        rows = [self._stack(content, subset, strengths) for subset in subsets]
        if not rows:
            return []
        stacked, presence = torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows])
        one = self.style_vectors(style)
        if len(one) != 1:
            raise UsageError(f"render_subsets takes one style vector, got {len(one)}.")
        styles = one.expand(len(rows), -1)
        return self._generate(stacked, presence, styles)

    def _stack(self, content: Content, modalities: Sequence[str] | None,
               strengths: Mapping[str, float]) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """(maps (1, C, H, W), presence (1, M)) of `content` with only `modalities` present."""
        use = set(self.modalities_of(modalities))
        tensors = {m: sm.tensor for m, sm in content.maps.items() if m in use}
        return stack_maps(tensors, self.config.modalities, content.size, strengths, device=self.device)

    def _generate(self, stacked: torch.Tensor, presence: torch.Tensor, styles: torch.Tensor) -> list[Image.Image]:
        """Content encoder + generator: maps (1 or B, C, H, W) and presence under styles (B, S)."""
        runtime = self._request_runtime()
        with self._autocast():
            out = runtime.generate(runtime.encode(stacked, presence), styles).float()
        return [tensor_to_pil(o) for o in out]

    def random_styles(self, content: Image.Image | Content, n: int = 4, seed: int = 0, resolution: int = DEFAULT_RESOLUTION,
                      modalities: Sequence[str] | None = None, strengths: Mapping[str, float] | None = None,
                      domain: int | str = 0) -> list[Image.Image]:  # fmt: skip
        """The same content under n styles sampled from the checkpoint's style statistics."""
        sensed = content if isinstance(content, Content) else self.sense(content, resolution, modalities)
        return self.render(sensed, self.sample_styles(n, seed, domain), modalities, strengths)

    # -- the one call ---------------------------------------------------------------------------
    def __call__(self, content: Image.Image, style: Image.Image | torch.Tensor,
                 modalities: Sequence[str] | None = None, strengths: Mapping[str, float] | None = None,
                 resolution: int = DEFAULT_RESOLUTION, style_b: Image.Image | None = None, mix: float = 0.0,
                 domain: int | str = 0, maps: Mapping[str, OwnMap | None] | None = None,
                 settings: SenseSettings | None = None) -> TranslationResult:  # fmt: skip
        """Translate `content` into the style of `style` (an image, or a style vector).

        modalities: which of the checkpoint's modalities to use (default all; [] = style only).
        strengths: modality → multiplier of its map (0 drops it). style_b + mix: interpolate
        the style towards a second image. resolution: long side of the output. domain: the
        style head, by name or number.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        wanted = self.modalities_of(modalities)
        strengths = self.strengths_of(strengths)
        sensed = self.sense(content, resolution, wanted, maps, settings=settings)
        timings["senses"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        s = self.style(style, resolution, domain, blend=(style_b, mix) if style_b is not None else None)
        timings["style"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        (image,) = self.render(sensed, s, wanted, strengths)
        timings["generator"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        maps = sensed.maps
        notes = [f"{m}: {msg}" for m, msg in maps.notes.items() if msg]
        used = tuple(m for m in wanted if m in maps and strengths.get(m, DEFAULT_STRENGTH) > 0)
        return TranslationResult(image, maps, s.detach().cpu(), used, timings, notes)
