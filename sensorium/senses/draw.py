"""Rasterising keypoint structures into map channels: thick antialiased lines and filled outlines.

Coordinates are pixels in the *output* map (x right, y down). Drawing uses OpenCV with 4 bits of
sub-pixel precision so small maps stay smooth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

_SHIFT = 4  # OpenCV fixed-point bits
_ONE = 1 << _SHIFT

Point = tuple[float, float]


def stroke_width(size: tuple[int, int], fraction: float, minimum: int = 1) -> int:
    """Line width that scales with the map: `fraction` of the shorter side, at least `minimum`."""
    return max(minimum, int(round(fraction * min(size))))


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64) * _ONE).astype(np.int32)


def clip_segments(p: np.ndarray, q: np.ndarray, size: tuple[int, int], margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The parts of segments p[i]q[i] ((N, 2) each) inside the canvas (grown by `margin` px), in
    order, as (P, Q) of the segments that keep a part: keeps far-away or non-finite keypoints from
    overflowing the fixed-point coordinates OpenCV draws with. Liang-Barsky over all segments at
    once: a face's few hundred segments clipped one by one in Python cost more than drawing them."""
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(q, dtype=np.float64).reshape(-1, 2)
    keep = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    p, q = p[keep], q[keep]
    lo = (-margin, -margin)
    hi = (size[1] + margin, size[0] + margin)
    d = q - p
    t0, t1 = np.zeros(len(p)), np.ones(len(p))
    inside = np.ones(len(p), dtype=bool)
    for axis in range(2):  # intersect each segment's parameter range with the slab of this axis
        start, step = p[:, axis], d[:, axis]
        along = step != 0  # a segment parallel to the slab is kept whole or dropped whole
        inside &= along | ((lo[axis] <= start) & (start <= hi[axis]))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # a vanishing step gives ±inf
            a, b = (lo[axis] - start) / step, (hi[axis] - start) / step
        t0 = np.where(along, np.maximum(t0, np.minimum(a, b)), t0)
        t1 = np.where(along, np.minimum(t1, np.maximum(a, b)), t1)
    inside &= t0 <= t1
    p, d, t0, t1 = p[inside], d[inside], t0[inside, None], t1[inside, None]
    return p + t0 * d, p + t1 * d


def draw_segments(size: tuple[int, int], segments: Iterable[tuple[Point, Point]], width: int) -> np.ndarray:
    """(H, W) float32 in [0, 1] with each segment drawn as an antialiased line of `width` px."""
    import cv2

    canvas = np.zeros(size, dtype=np.uint8)
    ends = np.asarray([(*p, *q) for p, q in segments], dtype=np.float64).reshape(-1, 4)
    starts, stops = clip_segments(ends[:, :2], ends[:, 2:], size, margin=width + 2)
    for a, b in zip(_fixed(starts).tolist(), _fixed(stops).tolist(), strict=True):
        cv2.line(canvas, tuple(a), tuple(b), 255, width, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def fill_polygons(size: tuple[int, int], polygons: Sequence[np.ndarray]) -> np.ndarray:
    """(H, W) float32 mask in [0, 1] of the union of filled polygons ((N, 2) pixel arrays)."""
    import cv2

    canvas = np.zeros(size, dtype=np.uint8)
    bound = 4.0 * max(size)  # far-out vertices are clamped: only the on-canvas part matters
    polys = [_fixed(np.clip(p, -bound, bound)).reshape(-1, 1, 2) for p in polygons
             if len(p) >= 3 and np.isfinite(np.asarray(p, dtype=np.float64)).all()]  # fmt: skip
    if polys:
        cv2.fillPoly(canvas, polys, 255, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def fill_circle(size: tuple[int, int], center: Point, radius: float) -> np.ndarray:
    import cv2

    canvas = np.zeros(size, dtype=np.uint8)
    center = np.asarray(center, dtype=np.float64)
    reach = radius + 2
    if not (np.isfinite(center).all() and -reach <= center[0] <= size[1] + reach and -reach <= center[1] <= size[0] + reach):
        return canvas.astype(np.float32)  # nothing of the circle would land on the canvas
    c = tuple(int(v) for v in _fixed(center))
    cv2.circle(canvas, c, max(1, int(round(radius * _ONE))), 255, -1, cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def edge_chains(edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Order an undirected edge set (e.g. a FACEMESH_* connection set) into vertex chains.

    Each chain is a path or a cycle (a cycle repeats its first vertex at the end). Works for the
    simple curves mediapipe uses (every vertex of degree <= 2). A frozenset (the face mesh's fixed
    connection sets) is ordered once: every face of every image reuses its chains.
    """
    chains = _chains_of(edges) if isinstance(edges, frozenset) else _chains(tuple(edges))
    return [list(chain) for chain in chains]


@lru_cache(maxsize=64)
def _chains_of(edges: frozenset[tuple[int, int]]) -> tuple[tuple[int, ...], ...]:
    return _chains(tuple(edges))  # in the set's own order, as a caller's iteration would see it


def _chains(edges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, ...], ...]:
    adjacency: dict[int, list[int]] = {}
    for a, b in edges:
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    unused = {frozenset(e) for e in ((a, b) for a, b in edges)}
    chains: list[tuple[int, ...]] = []
    # start paths at their ends (degree 1) first, then whatever cycles remain
    starts = sorted(adjacency, key=lambda v: (len(adjacency[v]) != 1, v))
    for start in starts:
        while any(frozenset((start, n)) in unused for n in adjacency[start]):
            chain, current = [start], start
            while True:
                nxt = next((n for n in adjacency[current] if frozenset((current, n)) in unused), None)
                if nxt is None:
                    break
                unused.discard(frozenset((current, nxt)))
                chain.append(nxt)
                current = nxt
            chains.append(tuple(chain))
    return tuple(chains)


def outline(edges: Iterable[tuple[int, int]], points: np.ndarray) -> np.ndarray:
    """A closed polygon ((N, 2) array) from a connection set drawn as one loop or two rims.

    Eyes, lips and the face oval are loops; brows are two open rims (upper, lower) that we join
    end-to-end, reversing the second so the outline does not cross itself.
    """
    chains = sorted(edge_chains(edges), key=len, reverse=True)
    if not chains:
        return np.zeros((0, 2))
    first = chains[0]
    if first[0] == first[-1] or len(chains) == 1:
        return points[first]
    second = chains[1]
    a, b = points[first], points[second]
    # join so the last point of the first rim meets the nearer end of the second rim
    if np.linalg.norm(a[-1] - b[-1]) < np.linalg.norm(a[-1] - b[0]):
        b = b[::-1]
    return np.concatenate([a, b])
