"""How closely a torch port's maps must match the sense it ports: one home for the tolerance that
the parity tests, training.prepare's checks and the GPU checks apply to prepared maps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    mean: float  # mean |Δ| of the maps in [0, 1]
    max: float  # max |Δ| (the CPU warp's fixed-point weights at non-integer scales reach ~0.2 on edges)
    iou: float  # IoU of the maps thresholded at 0.5


PERSON = Tolerance(mean=0.005, max=0.2, iou=0.98)
# The face-mesh maps (measured on the examples at 128², 256² and full size: worst mean 7e-5 / 4e-4 /
# 1e-3, IoU 0.94 / 0.997 / 0.96): a landmark moved by a hundredth of a pixel can flip single edge
# pixels fully (a line's antialiased rim, a parsing label, a depth pixel in or out of the face), so
# max |Δ| is not bounded; the mean and the thresholded IoU are.
FACE_LANDMARKS = Tolerance(mean=1e-3, max=1.0, iou=0.9)
FACE_PARSING = Tolerance(mean=5e-3, max=1.0, iou=0.98)
FACE_DEPTH = Tolerance(mean=5e-3, max=1.0, iou=0.93)


@dataclass(frozen=True)
class Agreement:
    mean: float
    max: float
    iou: float

    def within(self, tolerance: Tolerance) -> bool:
        return self.mean <= tolerance.mean and self.max <= tolerance.max and self.iou >= tolerance.iou


def agreement(want: np.ndarray, got: np.ndarray) -> Agreement:
    """|Δ| and mask IoU of two maps of one shape, float in [0, 1] or uint8 as prepared files hold them."""
    scale = 255.0 if want.dtype == np.uint8 else 1.0
    a, b = want.astype(np.float64) / scale, got.astype(np.float64) / scale
    diff = np.abs(a - b)
    union = ((a >= 0.5) | (b >= 0.5)).sum()
    iou = float(((a >= 0.5) & (b >= 0.5)).sum() / union) if union else 1.0
    return Agreement(float(diff.mean()), float(diff.max()), iou)


TOLERANCES: dict[str, Tolerance] = {"person": PERSON, "face_landmarks": FACE_LANDMARKS, "face_parsing": FACE_PARSING,
                                    "face_depth": FACE_DEPTH}  # fmt: skip
EXACT = Tolerance(mean=0.0, max=0.0, iou=1.0)  # a modality without a port: its maps must not differ at all


def agrees(modality: str, want: np.ndarray, got: np.ndarray) -> tuple[bool, Agreement]:
    """Whether a port's map of `modality` is within its tolerance of the original's."""
    found = agreement(want, got)
    return found.within(TOLERANCES.get(modality, EXACT)), found
