"""Body pose from mediapipe BlazePose (bundled weights, one person), in the shared skeleton
encoding (skeleton.py). The offline fallback of the OpenPose provider.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..modalities import POSE_PARTS
from .base import SenseMap
from .mediapipe_runtime import MediapipeSense, body_pose
from .skeleton import pose_map, skeleton_preview

# BODY18 index -> mediapipe pose landmark index (neck, index 1, is the shoulders' midpoint).
MEDIAPIPE_TO_BODY18 = (0, -1, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)


def mediapipe_to_body18(landmarks: np.ndarray) -> np.ndarray:
    """(33, 4) mediapipe x, y, z, visibility -> (18, 3) x, y, confidence."""
    out = np.zeros((18, 3), dtype=np.float32)
    for i, j in enumerate(MEDIAPIPE_TO_BODY18):
        if j >= 0:
            out[i] = (landmarks[j, 0], landmarks[j, 1], landmarks[j, 3])
    shoulders = landmarks[[11, 12]]
    out[1] = (*shoulders[:, :2].mean(0), shoulders[:, 3].min())
    return out


class MediapipePose(MediapipeSense):
    """Pose map (len(POSE_PARTS), H, W): limb groups as lines; zeros with found=False if no one."""

    modality = "pose"
    name = "pose-mediapipe"
    label = "pose (mediapipe)"
    channels = len(POSE_PARTS)
    solutions = ("pose",)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        landmarks = body_pose(image)
        people = np.zeros((0, 18, 3), np.float32)
        if landmarks is not None:
            people = mediapipe_to_body18(landmarks)[None]
        return pose_map(self.modality, people, size, self.label)

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return skeleton_preview(tensor)
