"""The shared body-pose encoding: 18 OpenPose (COCO) keypoints -> one channel per POSE_PARTS limb
group, drawn as thick antialiased lines whose width scales with the map.

Every pose provider (OpenPose, mediapipe) converts its keypoints to this 18-point layout first, so
a checkpoint sees the same encoding whichever provider ran. "left"/"right" are the person's own.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..modalities import POSE_PARTS
from .base import SenseMap
from .draw import draw_segments, stroke_width
from .palette import channels_preview

BODY18 = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip

LIMBS: dict[str, tuple[tuple[int, int], ...]] = {
    "head": ((1, 0), (0, 14), (14, 16), (0, 15), (15, 17)),
    "torso": ((1, 2), (1, 5), (2, 8), (5, 11), (8, 11)),
    "left_arm": ((5, 6), (6, 7)),
    "right_arm": ((2, 3), (3, 4)),
    "left_leg": ((11, 12), (12, 13)),
    "right_leg": ((8, 9), (9, 10)),
}
assert tuple(LIMBS) == POSE_PARTS, "limb groups must follow modalities.POSE_PARTS"

POSE_COLORS = np.array(
    [[255, 220, 0], [255, 60, 60], [60, 200, 255], [60, 255, 120], [200, 80, 255], [255, 140, 0]],
    dtype=np.uint8,
)
LINE_FRACTION = 0.02  # limb width as a fraction of the map's shorter side (10 px at 512)
MIN_CONFIDENCE = 0.5


def render_skeleton(people: np.ndarray, size: tuple[int, int], min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """(P, 18, 3) keypoints (x, y normalised to [0, 1], confidence) -> (6, H, W) float32 limbs.

    A limb is drawn when both of its keypoints reach `min_confidence`.
    """
    h, w = size
    width = stroke_width(size, LINE_FRACTION, minimum=2)
    out = np.zeros((len(POSE_PARTS), h, w), dtype=np.float32)
    scale = np.array([w, h], dtype=np.float64)
    for k, pairs in enumerate(LIMBS.values()):
        segments = [
            (tuple(person[a, :2] * scale), tuple(person[b, :2] * scale))
            for person in people
            for a, b in pairs
            if person[a, 2] >= min_confidence and person[b, 2] >= min_confidence
        ]
        if segments:
            out[k] = draw_segments(size, segments, width)
    return out


def pose_map(modality: str, people: np.ndarray, size: tuple[int, int], source: str) -> SenseMap:
    """SenseMap of the skeletons of `people` (P, 18, 3), with the found flag and a note."""
    limbs = render_skeleton(people, size)
    found = bool(limbs.max() > 0)
    t = torch.from_numpy(limbs)
    if found:
        note = ""
    elif len(people):
        note = f"{source}: a person was found but no limb is visible"
    else:
        note = f"{source}: no person found"
    return SenseMap(modality, t, skeleton_preview(t), found, note, {"keypoints": people})


def skeleton_preview(tensor: torch.Tensor) -> Image.Image:
    return channels_preview(tensor, POSE_COLORS)
