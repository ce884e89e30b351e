"""Monocular depth from a transformers depth-estimation model (default Depth Anything V2 Small).

The map is relative inverse depth (disparity), normalised per image to [0, 1] with near = 1, far = 0.
Metric models (ZoeDepth, Depth Anything metric) are converted to disparity first so every model
gives the same encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from .base import SenseMap
from .palette import scalar_preview
from .transformers_sense import TransformersSense

DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"


def normalize_near_one(disparity: torch.Tensor) -> torch.Tensor:
    """(H, W) disparity -> [0, 1], nearest = 1; a flat prediction gives zeros."""
    lo, hi = disparity.min(), disparity.max()
    if float(hi - lo) < 1e-8:
        return torch.zeros_like(disparity)
    return ((disparity - lo) / (hi - lo)).clamp(0, 1)


class TransformersDepth(TransformersSense):
    """Depth map (1, H, W) in [0, 1], near = 1, from `AutoModelForDepthEstimation`."""

    modality = "depth"
    name = "depth-transformers"
    label = "depth (transformers)"  # an instance names its model
    channels = 1
    auto_class = "AutoModelForDepthEstimation"
    env_var = "SENSORIUM_DEPTH_MODEL"
    default_model = DEFAULT_DEPTH_MODEL

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self.label = f"depth ({self.model.rstrip('/').split('/')[-1]})"

    def _is_metric(self) -> bool:
        config = self._bundle.model.config  # type: ignore[union-attr]
        kind = getattr(config, "depth_estimation_type", "relative")
        return config.model_type == "zoedepth" or kind == "metric"

    def _postprocess(self, outputs: object, images: Sequence[Image.Image], size: tuple[int, int]) -> list[SenseMap]:
        depth = outputs.predicted_depth.float()  # type: ignore[attr-defined]  # (B, h, w)
        depth = F.interpolate(depth[:, None], size=size, mode="bilinear", align_corners=False)
        if self._is_metric():
            depth = 1.0 / depth.clamp(min=1e-3)  # metres -> disparity, so near is large
        maps = []
        for d in depth[:, 0].cpu():
            t = normalize_near_one(d)[None].contiguous()  # (1, H, W)
            found = bool(t.max() > 0)
            maps.append(
                SenseMap(self.modality, t, self.preview(t), found,
                         "" if found else "depth model predicted a flat scene")
            )  # fmt: skip
        return maps

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return scalar_preview(tensor)
