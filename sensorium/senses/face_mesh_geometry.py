"""Geometry derived from mediapipe's canonical face mesh: region outlines and mesh triangles.

Connection sets are mediapipe 0.10.21's `solutions.face_mesh.FACEMESH_*`, kept in
face_mesh_connections.json so the torch face senses run where mediapipe is not installed
(tests/test_face_senses_torch.py checks the copy); these helpers turn them into pixel polygons and
a triangle list (the tesselation's 3-cliques) for rasterisation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .draw import edge_chains, outline

# Landmark indices of the refined (478-point) mesh: iris centre, then its 4-point ring.
LEFT_IRIS_CENTER, RIGHT_IRIS_CENTER = 473, 468


CONNECTIONS_FILE = Path(__file__).with_name("face_mesh_connections.json")


@lru_cache(maxsize=1)
def _all_connections() -> dict[str, frozenset[tuple[int, int]]]:
    data = json.loads(CONNECTIONS_FILE.read_text())
    return {name: frozenset((int(a), int(b)) for a, b in edges) for name, edges in data.items()}


def connections(name: str) -> frozenset[tuple[int, int]]:
    """A FACEMESH_* connection set by its suffix, e.g. "LIPS", "LEFT_EYE"."""
    return _all_connections()[name]


def to_pixels(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, >=2) normalised landmarks -> (N, 2) pixel coordinates in a map of `size` (H, W)."""
    h, w = size
    return landmarks[:, :2] * np.array([w, h], dtype=np.float32)


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def region_polygon(name: str, pixels: np.ndarray) -> np.ndarray:
    return outline(connections(name), pixels)


def lip_polygons(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(outer, inner) lip loops: FACEMESH_LIPS holds both; the outer one has the larger area."""
    loops = [pixels[c] for c in edge_chains(connections("LIPS"))]
    loops.sort(key=polygon_area, reverse=True)
    return loops[0], loops[1]


def iris_circle(pixels: np.ndarray, left: bool) -> tuple[tuple[float, float], float]:
    """Centre and radius (pixels) of one iris from its centre landmark and 4-point ring."""
    c = LEFT_IRIS_CENTER if left else RIGHT_IRIS_CENTER
    ring = pixels[c + 1 : c + 5]
    center = pixels[c]
    radius = float(np.linalg.norm(ring - center, axis=1).mean())
    return (float(center[0]), float(center[1])), radius


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(T, 3) vertex triples of the face-mesh surface: the 3-cliques of FACEMESH_TESSELATION."""
    neighbours: dict[int, set[int]] = {}
    for a, b in connections("TESSELATION"):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = {
        tuple(sorted((a, b, c)))
        for a, nb in neighbours.items()
        for b in nb
        if b > a
        for c in nb & neighbours[b]
        if c > b
    }
    return np.array(sorted(triangles), dtype=np.int64)
