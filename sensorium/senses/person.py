"""Person (selfie) segmentation from mediapipe's bundled model: a soft 1-channel mask."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .base import SenseMap
from .face_parsing_mesh import resize_probability
from .mediapipe_runtime import MediapipeSense, person_probability

PERSON_COLOR = np.array([255, 170, 60], dtype=np.float32)


class SelfiePerson(MediapipeSense):
    """Person map (1, H, W): probability of "person" in [0, 1] (soft edges kept)."""

    modality = "person"
    name = "person-selfie"
    label = "person (mediapipe selfie segmentation)"
    channels = 1
    solutions = ("selfie_segmentation",)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        prob = np.clip(resize_probability(person_probability(image), size), 0.0, 1.0)
        t = torch.from_numpy(prob.astype(np.float32))[None].contiguous()
        found = bool((prob >= 0.5).any())
        return SenseMap(self.modality, t, self.preview(t), found, "" if found else "no person found")

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return person_preview(tensor)


def person_preview(tensor: torch.Tensor) -> Image.Image:
    """The mask in orange: brightness = probability."""
    a = tensor[0].clamp(0, 1).cpu().numpy()[..., None]
    return Image.fromarray((a * PERSON_COLOR).astype(np.uint8))
