"""Shared machinery of the senses backed by a transformers dense-prediction model (depth,
segmentation, face parsing): locate weights (hub id or local dir), load once per process, and run
batched forwards (fp16/bf16 on CUDA, fp32 on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .base import SenseMap, SenseUnavailable
from .hub_sense import HubWeightsSense
from .model_cache import shared
from .weights import WeightSource


@dataclass
class LoadedModel:
    processor: object
    model: torch.nn.Module
    dtype: torch.dtype


def inference_dtype(device: torch.device, half_safe: bool) -> torch.dtype:
    """fp32 on CPU (bf16 there is slower), bf16 (or fp16 on older GPUs) on CUDA when safe."""
    if device.type != "cuda" or not half_safe:
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _load_model(auto_class: str, source: WeightSource, device: torch.device, dtype: torch.dtype):
    import transformers

    kwargs = {"local_files_only": source.local_only}
    processor = transformers.AutoImageProcessor.from_pretrained(source.location, **kwargs)
    model = getattr(transformers, auto_class).from_pretrained(source.location, dtype=dtype, **kwargs)
    return LoadedModel(processor, model.to(device).eval(), dtype)


class TransformersSense(HubWeightsSense):
    """A sense whose map comes from one `transformers` Auto* model plus its image processor.

    model: hub id or local directory; defaults to env var `env_var`, then `default_model`.
    Subclasses implement `_postprocess(outputs, images, size) -> list[SenseMap]`.
    """

    auto_class: str
    required_files = ("config.json", "preprocessor_config.json")
    half_safe: bool = True  # may run in bf16/fp16 on CUDA

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self._bundle: LoadedModel | None = None

    def _load(self, device: torch.device) -> None:
        src = self._located()
        dtype = inference_dtype(device, self.half_safe)
        key = (self.name, src.location, str(device), str(dtype))
        try:
            self._bundle = shared(key, lambda: _load_model(self.auto_class, src, device, dtype))
        except Exception as exc:
            raise SenseUnavailable(
                f"{self.label}: could not load {self.model!r} ({type(exc).__name__}: {exc})"
            ) from exc

    @torch.inference_mode()
    def _forward(self, images: Sequence[Image.Image]) -> object:
        assert self._bundle is not None, "load() first"
        inputs = self._bundle.processor(images=list(images), return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self._bundle.dtype)
        return self._bundle.model(pixel_values=pixels)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        return self._postprocess(self._forward([image]), [image], size)[0]

    def _postprocess(self, outputs: object, images: Sequence[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        raise NotImplementedError
