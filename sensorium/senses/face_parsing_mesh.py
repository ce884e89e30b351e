"""Offline face parsing derived from mediapipe: face-mesh regions + selfie person mask.

Fills the mesh's face oval (skin), brows, eyes, irises (clipped to the eye opening), lips and
inner mouth, over the selfie-segmentation person mask. Coarser than a trained parser (no hair/
cloth split, no ears) but needs no downloaded weights. Labelled "face parsing (face mesh)".
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..modalities import FACE_PARSING_CLASSES
from .base import SenseMap
from .draw import fill_circle, fill_polygons
from .face_mesh_geometry import iris_circle, lip_polygons, region_polygon, to_pixels
from .face_parsing import face_parsing_preview, one_hot
from .mediapipe_runtime import FaceMeshSense, face_mesh, person_probability

_C = {name: i for i, name in enumerate(FACE_PARSING_CLASSES)}


def resize_probability(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) float map -> (H, W) by bilinear interpolation."""
    t = torch.from_numpy(np.array(prob, dtype=np.float32, copy=True))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def paint_face(classes: np.ndarray, landmarks: np.ndarray) -> None:
    """Paint one face's regions into an (H, W) class-index image, in back-to-front order."""
    size = classes.shape
    px = to_pixels(landmarks, size)
    skin = fill_polygons(size, [region_polygon("FACE_OVAL", px)])
    brows = fill_polygons(size, [region_polygon(n, px) for n in ("LEFT_EYEBROW", "RIGHT_EYEBROW")])
    eyes = fill_polygons(size, [region_polygon(n, px) for n in ("LEFT_EYE", "RIGHT_EYE")])
    irises = np.maximum(*(fill_circle(size, *iris_circle(px, left)) for left in (True, False)))
    outer, inner = lip_polygons(px)
    lips, mouth = fill_polygons(size, [outer]), fill_polygons(size, [inner])
    for mask, name in (
        (skin, "skin"), (brows, "brows"), (eyes, "eyes"), (np.minimum(irises, eyes), "irises"),
        (lips, "lips"), (mouth, "mouth"),
    ):  # fmt: skip
        classes[mask >= 0.5] = _C[name]


class MeshFaceParsing(FaceMeshSense):
    """Face parsing map (len(FACE_PARSING_CLASSES), H, W), one-hot, from mediapipe (bundled)."""

    modality = "face_parsing"
    name = "face-parsing-mesh"
    label = "face parsing (face mesh)"
    channels = len(FACE_PARSING_CLASSES)
    solutions = ("face_mesh", "selfie_segmentation")

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        return self._map(face_mesh(image, self.max_faces), resize_probability(person_probability(image), size))

    def _map(self, faces: list[np.ndarray], person_prob: np.ndarray) -> SenseMap:
        """The map of one image's face meshes over its person probability (H, W) at the map size
        (shared with the torch port's sense)."""
        person = person_prob >= 0.5
        classes = np.where(person, _C["person"], _C["background"]).astype(np.int64)
        for landmarks in faces:
            paint_face(classes, landmarks)
        t = one_hot(torch.from_numpy(classes))
        found = bool(faces) or bool(person.any())
        note = "" if faces else ("no face found" if found else "no face or person found")
        return SenseMap(self.modality, t, self.preview(t), found, note, {"faces": len(faces)})

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return face_parsing_preview(tensor)
