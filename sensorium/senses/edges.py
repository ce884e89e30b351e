"""Edge maps: Canny (OpenCV, no weights; the default, identical everywhere) and HED (controlnet-aux,
weights `ControlNetHED.pth` from `lllyasviel/Annotators` or a local directory; soft edges).

Canny runs at the output size after a light blur, with thresholds set per image from the gradient
magnitude (90th percentile, floored) so faint and contrasty photos get similar edge density.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from .annotator import AnnotatorSense
from .base import Availability, Sense, SenseMap

HED_WEIGHTS = "ControlNetHED.pth"


def canny_edges(rgb: np.ndarray, low: float | None = None, high: float | None = None, sigma: float = 1.0) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float32 {0, 1} Canny edges after a Gaussian blur of `sigma` px.

    Without thresholds: high = max(90th percentile of |grad|, 60), low = 0.4 * high (L2 gradient).
    """
    import cv2

    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), sigma)
    if high is None:
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
        high = max(float(np.percentile(np.hypot(gx, gy), 90)), 60.0)
    low = 0.4 * high if low is None else low
    return (cv2.Canny(gray, low, high, L2gradient=True) > 0).astype(np.float32)


def resize_rgb(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if image.size != (w, h):
        image = image.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


class CannyEdges(Sense):
    """Edge map (1, H, W) with values in {0, 1}; blur `sigma` scales with the map size."""

    modality = "edges"
    name = "edges-canny"
    label = "edges (Canny)"
    channels = 1

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        super().__init__()
        self.low, self.high = low, high

    @property
    def settings(self) -> tuple:
        """What changes its maps besides the image and size: part of the map cache key."""
        return (self.low, self.high)

    def _check_available(self) -> Availability:
        import cv2  # noqa: F401  (opencv ships with mediapipe / requirements)

        return Availability(True)

    def _load(self, device: torch.device) -> None:
        pass

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        sigma = max(0.6, min(size) / 512.0)  # 1 px at 512: light denoising, scale-consistent
        edges = canny_edges(resize_rgb(image, size), self.low, self.high, sigma)
        t = torch.from_numpy(edges)[None].contiguous()
        found = bool(edges.any())
        return SenseMap(self.modality, t, self.preview(t), found, "" if found else "no edges")


def _load_hed(path: str, device: torch.device):
    from controlnet_aux.hed import HEDdetector  # slow import (~10 s): only when weights exist

    return HEDdetector.from_pretrained(os.path.dirname(path), filename=os.path.basename(path)).to(device)


class HedEdges(AnnotatorSense):
    """Soft edge map (1, H, W) in [0, 1] from HED (controlnet-aux's Apache-2.0 re-implementation)."""

    modality = "edges"
    name = "edges-hed"
    label = "edges (HED)"
    channels = 1
    env_var = "SENSORIUM_EDGES_MODEL"
    weights_file = HED_WEIGHTS

    def _build(self, path: str, device: torch.device):
        return _load_hed(path, device)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        res = max(64, int(round(min(size) / 64)) * 64)
        rgb = resize_rgb(image, size)
        edge = self._net(rgb, detect_resolution=res, image_resolution=res, output_type="np")  # type: ignore[misc]
        edge_img = Image.fromarray(np.asarray(edge)[..., 0]).resize(size[::-1], Image.Resampling.BILINEAR)
        t = torch.from_numpy(np.asarray(edge_img, dtype=np.float32) / 255.0)[None].contiguous()
        found = bool(t.max() > 0.5)
        return SenseMap(self.modality, t, self.preview(t), found, "" if found else "no edges")
