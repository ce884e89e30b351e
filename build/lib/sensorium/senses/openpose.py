"""Body pose from OpenPose (controlnet-aux's body model, weights `body_pose_model.pth` from the
hub repo `lllyasviel/Annotators` or a local directory), multi-person, in the shared skeleton
encoding (skeleton.py) so it is interchangeable with the mediapipe fallback.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..modalities import POSE_PARTS
from .annotator import AnnotatorSense
from .base import SenseMap
from .skeleton import pose_map, skeleton_preview

BODY_WEIGHTS = "body_pose_model.pth"


def openpose_to_body18(candidate: np.ndarray, subset: np.ndarray, w: int, h: int) -> np.ndarray:
    """OpenPose (candidate, subset) -> (P, 18, 3) normalised x, y and confidence 1 / 0 (missing)."""
    people = np.zeros((len(subset), 18, 3), dtype=np.float32)
    for p, person in enumerate(subset):
        for k, idx in enumerate(person[:18].astype(int)):
            if idx >= 0:
                x, y = candidate[idx, :2]
                people[p, k] = (x / w, y / h, 1.0)
    return people


def _load_body(path: str, device: torch.device):
    from controlnet_aux.open_pose.body import Body  # slow import (~10 s): only when weights exist

    return Body(path).to(device)


class OpenPose(AnnotatorSense):
    """Pose map (len(POSE_PARTS), H, W) from OpenPose body keypoints (all people in the image)."""

    modality = "pose"
    name = "pose-openpose"
    label = "pose (OpenPose)"
    channels = len(POSE_PARTS)
    env_var = "SENSORIUM_POSE_MODEL"
    weights_file = BODY_WEIGHTS

    def _build(self, path: str, device: torch.device):
        return _load_body(path, device)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        with torch.inference_mode():
            candidate, subset = self._net(bgr)  # type: ignore[misc]
        people = openpose_to_body18(np.asarray(candidate), np.asarray(subset), *image.size)
        return pose_map(self.modality, people, size, self.label)

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return skeleton_preview(tensor)
