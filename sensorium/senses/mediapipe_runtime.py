"""Shared mediapipe solutions (bundled tflite models in mediapipe 0.10.21), one per process.

mediapipe graphs are not thread-safe, so each runs under its own lock. Results come back as numpy
arrays (normalised x, y in [0, 1]) and the last few are remembered by image hash, so face parsing,
face depth and face landmarks on one image run the face mesh once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from ..lazy_modules import defer, defer_on_import
from .base import Availability, Sense
from .map_cache import image_hash
from .model_cache import shared

MAX_FACES = 4  # faces the face mesh finds per image; the torch port (face_mesh_port) keeps the same

MEDIAPIPE_HINT = (
    "needs mediapipe==0.10.21 (the last release with `mediapipe.solutions` and bundled models): "
    "pip install mediapipe==0.10.21"
)


def mediapipe_availability(label: str, solution: str) -> Availability:
    try:
        defer("matplotlib.pyplot")  # mediapipe imports it for drawing helpers no sense uses: see lazy_modules.py
        defer_on_import("mediapipe.tasks.python")  # its Tasks API (audio, vision, text), which no sense uses
        import mediapipe as mp

        getattr(mp.solutions, solution)
    except Exception as exc:
        return Availability(False, f"{label}: {MEDIAPIPE_HINT} ({type(exc).__name__}: {exc})")
    return Availability(True)


class MediapipeSense(Sense):
    """A sense backed by mediapipe's bundled graphs, which are created lazily and shared (below):
    nothing to load up front, and available iff every solution it uses imports."""

    solutions: tuple[str, ...] = ()  # mediapipe.solutions modules this sense runs

    def _check_available(self) -> Availability:
        for solution in self.solutions:
            status = mediapipe_availability(self.label, solution)
            if not status:
                return status
        return Availability(True)

    def _load(self, device: torch.device) -> None:
        pass


class FaceMeshSense(MediapipeSense):
    """A sense reading mediapipe's 478-point face mesh of up to `max_faces` faces."""

    solutions = ("face_mesh",)

    def __init__(self, max_faces: int = MAX_FACES) -> None:
        super().__init__()
        self.max_faces = max_faces


class _Runner:
    """One mediapipe solution + lock + a small LRU of converted results keyed by image hash."""

    def __init__(self, solution: object, convert: Callable[[object], object]) -> None:
        self._solution = solution
        self._convert = convert
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, object] = OrderedDict()

    def __call__(self, image: Image.Image) -> object:
        key = image_hash(image)
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
            rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
            out = self._convert(self._solution.process(rgb))  # type: ignore[attr-defined]
            self._recent[key] = out
            if len(self._recent) > 8:
                self._recent.popitem(last=False)
            return out


def _face_mesh_result(result: object) -> list[np.ndarray]:
    faces = getattr(result, "multi_face_landmarks", None) or []
    return [np.array([(p.x, p.y, p.z) for p in f.landmark], dtype=np.float32) for f in faces]


def face_mesh(image: Image.Image, max_faces: int = MAX_FACES) -> list[np.ndarray]:
    """Face mesh of every face (up to `max_faces`): a list of (478, 3) arrays.

    x, y are normalised to [0, 1] by the image width/height; z is relative depth in roughly x's
    scale, smaller = nearer the camera. Indices follow mediapipe's canonical face mesh (+10 iris).
    `face_mesh_port.face_mesh_batch` is the same in torch, batched on any device.
    """

    def make() -> _Runner:
        import mediapipe as mp

        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=max_faces,
            min_detection_confidence=0.5,
        )  # fmt: skip
        return _Runner(mesh, _face_mesh_result)

    return shared(("mediapipe", "face_mesh", max_faces), make)(image)  # type: ignore[return-value]


def _pose_result(result: object) -> np.ndarray | None:
    lm = getattr(result, "pose_landmarks", None)
    if lm is None:
        return None
    return np.array([(p.x, p.y, p.z, p.visibility) for p in lm.landmark], dtype=np.float32)


def body_pose(image: Image.Image) -> np.ndarray | None:
    """mediapipe BlazePose (full model, bundled) on one person: (33, 4) x, y, z, visibility."""

    def make() -> _Runner:
        import mediapipe as mp

        pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, enable_segmentation=False,
            min_detection_confidence=0.5,
        )  # fmt: skip
        return _Runner(pose, _pose_result)

    return shared(("mediapipe", "pose", 1), make)(image)  # type: ignore[return-value]


def _selfie_result(result: object) -> np.ndarray:
    return np.asarray(result.segmentation_mask, dtype=np.float32)  # type: ignore[attr-defined]


def person_probability(image: Image.Image) -> np.ndarray:
    """mediapipe selfie segmentation (general model): (h, w) person probability in [0, 1]."""

    def make() -> _Runner:
        import mediapipe as mp

        seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        return _Runner(seg, _selfie_result)

    return shared(("mediapipe", "selfie_segmentation", 0), make)(image)  # type: ignore[return-value]
