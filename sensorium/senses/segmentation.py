"""Scene semantic segmentation from a transformers model (default SegFormer-B0 on ADE20k).

Encoding: the label id `l` of each pixel becomes the SEGMENTATION_CHANNELS-bit binary code of
`l + 1` (channel k = bit k). The +1 keeps every real label away from the all-zeros code, which
stays reserved for "no map" (a dropped or missing modality), so label 0 (ADE's "wall") is still
visible to the model. 16 bits hold any label set up to 65535 classes in a fixed channel count.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..modalities import SEGMENTATION_CHANNELS
from .base import SenseMap
from .palette import distinct_colors, labels_preview
from .transformers_sense import TransformersSense

DEFAULT_SEGMENTATION_MODEL = "nvidia/segformer-b0-finetuned-ade-512-512"


def encode_labels(labels: torch.Tensor, bits: int = SEGMENTATION_CHANNELS) -> torch.Tensor:
    """(H, W) integer labels -> (bits, H, W) float32 binary code of label + 1 (channel k = bit k)."""
    assert bits == 16, "the byte-level packing below assumes 16-bit codes"
    code = labels.cpu().numpy().astype(np.int64) + 1
    assert code.min() >= 1 and code.max() < (1 << bits), f"labels must be in [0, {(1 << bits) - 2}]"
    as_bytes = code.astype("<u2").view(np.uint8).reshape(*code.shape, 2)  # little-endian bytes
    planes = np.unpackbits(as_bytes, axis=-1, bitorder="little")  # (H, W, 16), bit k at k
    return torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1), dtype=np.float32))


def decode_labels(tensor: torch.Tensor) -> torch.Tensor:
    """Inverse of `encode_labels`: (bits, H, W) -> (H, W) long labels (-1 where all zeros)."""
    planes = (tensor > 0.5).cpu().numpy().astype(np.uint8).transpose(1, 2, 0)  # (H, W, 16)
    packed = np.packbits(planes, axis=-1, bitorder="little")  # (H, W, 2) bytes
    code = np.ascontiguousarray(packed).view("<u2")[..., 0].astype(np.int64)
    return torch.from_numpy(code - 1)


def logits_to_labels(logits: torch.Tensor, size: tuple[int, int]) -> list[torch.Tensor]:
    """(B, K, h, w) class logits -> B label images (H, W), upsampling the logits (not labels)."""
    out = []
    for one in logits.float():  # one at a time: K x H x W floats can be large
        # channels-last makes the K-reduction contiguous: ~2x faster on CPU than argmax(0)
        one = one[None].contiguous(memory_format=torch.channels_last)
        up = F.interpolate(one, size=size, mode="bilinear", align_corners=False)
        out.append(up.argmax(1)[0].cpu())
    return out


class TransformersSegmentation(TransformersSense):
    """Segmentation map (SEGMENTATION_CHANNELS, H, W), binary code of label + 1."""

    modality = "segmentation"
    name = "segmentation-transformers"
    label = "segmentation (transformers)"  # an instance names its model
    channels = SEGMENTATION_CHANNELS
    auto_class = "AutoModelForSemanticSegmentation"
    env_var = "SENSORIUM_SEGMENTATION_MODEL"
    default_model = DEFAULT_SEGMENTATION_MODEL

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self.label = f"segmentation ({self.model.rstrip('/').split('/')[-1]})"

    def _label_names(self) -> dict[int, str]:
        id2label = getattr(self._bundle.model.config, "id2label", None) or {}  # type: ignore[union-attr]
        return {int(k): str(v) for k, v in id2label.items()}

    def _postprocess(self, outputs: object, images: Sequence[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        names = self._label_names()
        maps = []
        for labels in logits_to_labels(outputs.logits, size):  # type: ignore[attr-defined]
            t = encode_labels(labels)
            ids = torch.bincount(labels.flatten()).nonzero().flatten().tolist()
            present = {i: names.get(i, str(i)) for i in ids}
            preview = segmentation_preview(labels.numpy())
            maps.append(SenseMap(self.modality, t, preview, True, "", {"labels": present}))
        return maps

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return segmentation_preview(decode_labels(tensor).numpy())


def segmentation_preview(labels: np.ndarray) -> Image.Image:
    """Palette preview of (H, W) labels; -1 (no label) is black."""
    colors = segmentation_colours()
    return labels_preview(np.clip(labels + 1, 0, len(colors) - 1), colors)


@lru_cache(maxsize=1)
def segmentation_colours() -> np.ndarray:
    """(1025, 3) uint8: black for "no label", then one colour per label 0..1023 (read-only)."""
    return np.concatenate([np.zeros((1, 3), np.uint8), distinct_colors(1 << 10)])
