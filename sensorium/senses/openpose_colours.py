"""The colours of OpenPose-style skeleton images (ControlNet's openpose preprocessor,
controlnet-aux `draw_bodypose`): limbs as ellipses in 60 % of their colour, keypoints as dots in
full colour, on black. Each colour is mapped to the POSE_PARTS group it draws, so such an image
reads back into our skeleton channels.
"""

from __future__ import annotations

import numpy as np

from ..modalities import POSE_PARTS

# OpenPose's 18 colours, in its order: limb i and keypoint i share colour i.
_COLOURS = np.array(
    [[255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
     [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
     [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85]], dtype=np.float64,
)  # fmt: skip

# The 17 limbs as BODY18 keypoint pairs (0-based; OpenPose's limbSeq is 1-based) and their parts.
LIMB_PARTS = (
    "torso", "torso", "right_arm", "right_arm", "left_arm", "left_arm", "torso", "right_leg",
    "right_leg", "torso", "left_leg", "left_leg", "head", "head", "head", "head", "head",
)  # fmt: skip
# The part each of the 18 keypoints' dots belongs to (BODY18 order: nose, neck, r_shoulder, …).
KEYPOINT_PARTS = (
    "head", "torso", "torso", "right_arm", "right_arm", "torso", "left_arm", "left_arm", "torso",
    "right_leg", "right_leg", "torso", "left_leg", "left_leg", "head", "head", "head", "head",
)  # fmt: skip

LIMB_SHADE = 0.6  # limbs are drawn in int(0.6 · colour)

OPENPOSE_PALETTE = np.concatenate([
    np.zeros((1, 3)),  # the black canvas
    np.floor(_COLOURS[: len(LIMB_PARTS)] * LIMB_SHADE),
    _COLOURS,
]).astype(np.uint8)  # fmt: skip
# Index into POSE_PARTS for each palette entry (-1: background).
OPENPOSE_PARTS = np.array([-1, *(POSE_PARTS.index(p) for p in (*LIMB_PARTS, *KEYPOINT_PARTS))], dtype=np.int64)
