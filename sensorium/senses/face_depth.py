"""Offline face depth from mediapipe's 3-D face mesh: the mesh triangles rasterised with their
landmark z interpolated (barycentric), painter-sorted so nearer triangles win.

Per face, the nearest point maps to 1 and the farthest face point to 0.1 (so the whole face stays
distinguishable from the outside, which is exactly 0). Labelled "depth (face mesh)": it is a
derived map, not a depth network, and covers faces only.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .base import SenseMap
from .face_mesh_geometry import mesh_triangles, to_pixels
from .mediapipe_runtime import FaceMeshSense, face_mesh
from .palette import scalar_preview

FAR_VALUE = 0.1  # value of the farthest face point; outside the face is 0


def rasterize_depth(pixels: np.ndarray, z: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: z interpolated over the mesh triangles, NaN outside the mesh."""
    import cv2

    tris = mesh_triangles()
    order = np.argsort(-z[tris].mean(1))  # far first: painter's algorithm, nearer overwrite
    ids = np.zeros(size, dtype=np.int32)
    corners = np.round(pixels * 16).astype(np.int32)[tris[order]][:, :, None, :]  # (T, 3, 1, 2), far first
    for poly, value in zip(corners, (order + 1).tolist(), strict=True):  # fillPoly draws one id per call
        cv2.fillPoly(ids, [poly], value, cv2.LINE_8, 4)
    ys, xs = np.nonzero(ids)
    out = np.full(size, np.nan, dtype=np.float32)
    if len(ys) == 0:
        return out
    tri = tris[ids[ys, xs] - 1]  # (N, 3) vertex ids per covered pixel
    a, b, c = pixels[tri[:, 0]], pixels[tri[:, 1]], pixels[tri[:, 2]]
    p = np.stack([xs, ys], 1).astype(np.float32)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    safe = np.where(np.abs(den) < 1e-6, 1.0, den)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / safe
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / safe
    bary = np.clip(np.stack([1 - w1 - w2, w1, w2], 1), 0, 1)  # edge pixels fall slightly outside
    bary[np.abs(den) < 1e-6] = 1 / 3  # degenerate triangle: its mean
    bary /= bary.sum(1, keepdims=True)
    out[ys, xs] = (bary * z[tri]).sum(1)
    return out


def normalize_face(zmap: np.ndarray) -> np.ndarray:
    """NaN-outside z map (smaller = nearer) -> [0, 1]: nearest 1, farthest FAR_VALUE, outside 0."""
    inside = ~np.isnan(zmap)
    out = np.zeros(zmap.shape, dtype=np.float32)
    if not inside.any():
        return out
    lo, hi = float(zmap[inside].min()), float(zmap[inside].max())
    span = max(hi - lo, 1e-8)
    out[inside] = 1.0 - (1.0 - FAR_VALUE) * (zmap[inside] - lo) / span
    return out


class MeshFaceDepth(FaceMeshSense):
    """Face depth map (1, H, W): 1 at the nearest face point, >= 0.1 on faces, 0 elsewhere."""

    modality = "face_depth"
    name = "face-depth-mesh"
    label = "depth (face mesh)"
    channels = 1

    def _extract(self, image: Image.Image, size: tuple[int, int]) -> SenseMap:
        return self._map(face_mesh(image, self.max_faces), size)

    def _map(self, faces: list[np.ndarray], size: tuple[int, int]) -> SenseMap:
        """The map of one image's face meshes (shared with the torch port's sense)."""
        depth = np.zeros(size, dtype=np.float32)
        for landmarks in faces:
            n = 468  # the tesselation covers the 468 mesh points (not the iris extras)
            zmap = rasterize_depth(to_pixels(landmarks[:n], size), landmarks[:n, 2], size)
            depth = np.maximum(depth, normalize_face(zmap))
        t = torch.from_numpy(depth)[None].contiguous()
        note = "" if faces else "no face found"
        return SenseMap(self.modality, t, self.preview(t), bool(faces), note, {"faces": len(faces)})

    def preview(self, tensor: torch.Tensor) -> Image.Image:
        return scalar_preview(tensor, mask_zero=True)
