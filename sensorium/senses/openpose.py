"""Body pose from OpenPose (controlnet-aux's body model, weights `body_pose_model.pth` from the
hub repo `lllyasviel/Annotators` or a local directory), multi-person, in the shared skeleton
encoding (skeleton.py) so it is interchangeable with the mediapipe fallback.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from ..modalities import POSE_PARTS
from .base import Availability, Sense, SenseMap, SenseUnavailable
from .model_cache import shared
from .skeleton import pose_map, skeleton_preview
from .sources import WeightSource, locate

DEFAULT_ANNOTATORS = "lllyasviel/Annotators"
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


class OpenPose(Sense):
    """Pose map (len(POSE_PARTS), H, W) from OpenPose body keypoints (all people in the image)."""

    modality = "pose"
    name = "pose-openpose"
    label = "pose (OpenPose)"
    channels = len(POSE_PARTS)
    env_var = "SENSORIUM_POSE_MODEL"

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self.model = model or os.environ.get(self.env_var) or DEFAULT_ANNOTATORS
        self._body = None

    def _source(self) -> WeightSource:
        return locate(self.model, label=self.label, env_var=self.env_var, files=(BODY_WEIGHTS,))

    def _check_available(self) -> Availability:
        src = self._source()
        return Availability(src.ok, src.reason)

    def _load(self, device: torch.device) -> None:
        src = self._source()
        if not src.ok:
            raise SenseUnavailable(src.reason)
        try:
            if src.local_only:
                path = os.path.join(src.location, BODY_WEIGHTS)
            else:
                from huggingface_hub import hf_hub_download

                path = hf_hub_download(src.location, BODY_WEIGHTS)
            self._body = shared((self.name, path, str(device)), lambda: _load_body(path, device))
        except Exception as exc:
            raise SenseUnavailable(f"{self.label}: could not load {self.model!r}: {exc}") from exc

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        with torch.inference_mode():
            candidate, subset = self._body(bgr)  # type: ignore[misc]
        people = openpose_to_body18(np.asarray(candidate), np.asarray(subset), *image.size)
        return pose_map(self.modality, people, size, self.label)

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return skeleton_preview(tensor)
