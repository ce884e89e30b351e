"""Facial keypoint contours from mediapipe's face mesh (bundled): one channel per FACE_PARTS
group, each the group's FACEMESH_* connection set drawn as antialiased polylines.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..modalities import FACE_PARTS
from .base import SenseMap
from .draw import draw_segments, stroke_width
from .face_mesh_geometry import connections, to_pixels
from .mediapipe_runtime import FaceMeshSense, face_mesh
from .palette import channels_preview

PART_CONNECTIONS: dict[str, tuple[str, ...]] = {
    "oval": ("FACE_OVAL",),
    "brows": ("LEFT_EYEBROW", "RIGHT_EYEBROW"),
    "eyes": ("LEFT_EYE", "RIGHT_EYE"),
    "irises": ("LEFT_IRIS", "RIGHT_IRIS"),
    "nose": ("NOSE",),
    "lips": ("LIPS",),
}
assert tuple(PART_CONNECTIONS) == FACE_PARTS, "contour groups must follow modalities.FACE_PARTS"

FACE_PART_COLORS = np.array(
    [[230, 230, 230], [170, 100, 40], [60, 220, 255], [40, 90, 255], [255, 200, 60], [255, 50, 90]],
    dtype=np.uint8,
)
LINE_FRACTION = 0.005  # contour width as a fraction of the shorter side (3 px at 512)


def render_contours(faces: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Face meshes (each (478, 3) normalised) -> (len(FACE_PARTS), H, W) float32 contours."""
    width = stroke_width(size, LINE_FRACTION, minimum=1)
    out = np.zeros((len(FACE_PARTS), *size), dtype=np.float32)
    for k, names in enumerate(PART_CONNECTIONS.values()):
        segments = [
            (tuple(px[a]), tuple(px[b]))
            for px in (to_pixels(f, size).astype(np.float64) for f in faces)
            for name in names
            for a, b in sorted(connections(name))
        ]
        if segments:
            out[k] = draw_segments(size, segments, width)
    return out


class MeshFaceLandmarks(FaceMeshSense):
    """Face landmark map (len(FACE_PARTS), H, W); zeros with found=False when no face is seen."""

    modality = "face_landmarks"
    name = "face-landmarks-mesh"
    label = "face landmarks (face mesh)"
    channels = len(FACE_PARTS)

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        return self._map(face_mesh(image, self.max_faces), size)

    def _map(self, faces: list[np.ndarray], size: tuple[int, int]) -> SenseMap:
        """The map of one image's face meshes (shared with the torch port's sense)."""
        t = torch.from_numpy(render_contours(faces, size))
        note = "" if faces else "no face found"
        extras = {"faces": len(faces), "landmarks": [f.copy() for f in faces]}
        return SenseMap(self.modality, t, self.preview(t), bool(faces), note, extras)

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return channels_preview(tensor, FACE_PART_COLORS)
