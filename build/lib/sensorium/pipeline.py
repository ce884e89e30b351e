"""End-to-end Sensorium inference: images in, translated image (and the maps it used) out.

    pipe = TranslationPipeline.from_pretrained("assets/checkpoints/sensorium-portraits")
    result = pipe(content_img, style_img, modalities=["pose", "face_landmarks"], resolution=256)
    result.image.save("out.png"); result.maps["pose"].preview; result.timings

Maps are cached by image content (in the SenseSet) and style vectors by image content too, so a
call that only changes modalities or strengths runs just the content encoder and the generator.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .conditioning import stack_maps
from .images import fit_to_model, pil_to_tensor, tensor_to_pil
from .lru import LRU
from .model import Sensorium
from .senses import Extraction, SenseSet, image_hash


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
    return dict(getattr(model, "metadata", {}).get("senses") or {})


class TranslationPipeline:
    """Senses + Sensorium model. `precision="auto"`: bf16 autocast on CUDA, fp32 on CPU (bf16 is
    much slower than fp32 on common CPUs)."""

    def __init__(self, model: Sensorium, senses: SenseSet | None = None, device: str | torch.device | None = None,
                 precision: str = "auto", style_cache: int = 128):  # fmt: skip
        self.device = pick_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.config = model.config
        self.senses = senses if senses is not None else SenseSet(self.config.modalities, device=self.device,
                                                                 preferred=trained_senses(model))  # fmt: skip
        self.bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self._styles: LRU[torch.Tensor] = LRU(style_cache)
        self.name = getattr(model, "name", "model")

    @classmethod
    def from_pretrained(cls, checkpoint: str | Path, senses: SenseSet | None = None,
                        device: str | torch.device | None = None, **kwargs) -> TranslationPipeline:  # fmt: skip
        dev = pick_device(device)
        model = Sensorium.from_pretrained(checkpoint, device=dev)
        model.name = str(checkpoint)
        return cls(model, senses=senses, device=dev, **kwargs)

    @property
    def trained_modalities(self) -> tuple[str, ...]:
        """Modalities the checkpoint saw during training (from its metadata; all when unknown)."""
        trained = getattr(self.model, "metadata", {}).get("trained_modalities")
        return tuple(trained) if trained else tuple(self.config.modalities)

    @property
    def domain_names(self) -> tuple[str, ...]:
        """One name per style head: the training set's domain folders when the export stored them."""
        names = getattr(self.model, "metadata", {}).get("domains") or []
        n = self.config.num_domains
        return tuple(names) if len(names) == n else tuple(f"domain {i}" for i in range(n))

    def domain_index(self, domain: int | str) -> int:
        """A style head by name ("male") or number; ValueError naming the choices otherwise."""
        names = self.domain_names
        if isinstance(domain, str) and domain in names:
            return names.index(domain)
        try:
            index = int(domain)
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(names):
            raise ValueError(f"unknown domain {domain!r}; this checkpoint has {', '.join(names)} (or 0–{len(names) - 1})")
        return index

    # -- pieces -----------------------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, image: Image.Image, resolution: int) -> Image.Image:
        """The image at model size: long side = resolution, sides multiples of the model stride."""
        return fit_to_model(image.convert("RGB"), resolution, self.config.stride)

    def extract(self, content: Image.Image, resolution: int = 256, modalities: Sequence[str] | None = None) -> Extraction:
        """Sense maps of the content image at model size (cached by image content)."""
        prepared = self.prepare(content, resolution)
        return self.senses.extract(prepared, (prepared.height, prepared.width), modalities)

    @torch.inference_mode()
    def encode_style(self, style: Image.Image, resolution: int = 256, domain: int = 0) -> torch.Tensor:
        """Style vector (S,) of an image; cached by (image content, resolution, domain)."""
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

    def sample_styles(self, n: int, seed: int = 0, domain: int = 0, temperature: float = 1.0) -> torch.Tensor:
        """n style vectors (n, S) from the checkpoint's fitted style statistics."""
        g = torch.Generator().manual_seed(int(seed))
        return self.model.sample_styles(n, domain, generator=g, temperature=temperature)

    def random_styles(self, content: Image.Image, n: int = 4, seed: int = 0, resolution: int = 256,
                      modalities: Sequence[str] | None = None, strengths: Mapping[str, float] | None = None,
                      domain: int = 0) -> list[Image.Image]:  # fmt: skip
        """The same content under n styles sampled from the checkpoint's style statistics."""
        prepared = self.prepare(content, resolution)
        maps = self.senses.extract(prepared, (prepared.height, prepared.width), modalities)
        styles = self.sample_styles(n, seed, domain)
        return self.generate(maps, (prepared.height, prepared.width), styles, modalities, strengths)

    @torch.inference_mode()
    def generate(self, maps: Extraction, size: tuple[int, int], styles: torch.Tensor,
                 modalities: Sequence[str] | None = None, strengths: Mapping[str, float] | None = None) -> list[Image.Image]:  # fmt: skip
        """Content encoder + generator on already extracted maps, one image per style vector."""
        use = set(self.config.modalities if modalities is None else modalities)
        tensors = {m: sm.tensor for m, sm in maps.items() if m in use}
        stacked, presence = stack_maps(tensors, self.config.modalities, size, strengths, device=self.device)
        styles = styles.to(self.device).reshape(-1, self.config.style_dim)
        with self._autocast():
            content = self.model.encode_content(stacked, presence)
            content = [c.expand(len(styles), -1, -1, -1) for c in content]
            out = self.model.generate(content, styles).float()
        return [tensor_to_pil(o) for o in out]

    # -- the one call ---------------------------------------------------------------------------
    def __call__(self, content: Image.Image, style: Image.Image | torch.Tensor,
                 modalities: Sequence[str] | None = None, strengths: Mapping[str, float] | None = None,
                 resolution: int = 256, style_b: Image.Image | None = None, mix: float = 0.0,
                 domain: int = 0) -> TranslationResult:  # fmt: skip
        """Translate `content` into the style of `style` (an image, or a style vector).

        modalities: which of the checkpoint's modalities to use (default all; [] = style only).
        strengths: modality → multiplier of its map (0 drops it). style_b + mix: interpolate
        the style towards a second image. resolution: long side of the output.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        wanted = [m for m in (self.config.modalities if modalities is None else modalities)]
        unknown = [m for m in wanted if m not in self.config.modalities]
        if unknown:
            raise ValueError(f"this checkpoint has no modality {unknown}; it has {list(self.config.modalities)}")
        prepared = self.prepare(content, resolution)
        size = (prepared.height, prepared.width)
        maps = self.senses.extract(prepared, size, wanted)
        timings["senses"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        s = style if isinstance(style, torch.Tensor) else self.encode_style(style, resolution, domain)
        if style_b is not None and mix:
            s = self.interpolate_styles(s, self.encode_style(style_b, resolution, domain), mix)
        timings["style"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        (image,) = self.generate(maps, size, s, wanted, strengths)
        timings["generator"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        notes = [f"{m}: {msg}" for m, msg in maps.notes.items() if msg]
        used = tuple(m for m in wanted if m in maps and (strengths or {}).get(m, 1.0) > 0)
        return TranslationResult(image, maps, s.detach().cpu(), used, timings, notes)
