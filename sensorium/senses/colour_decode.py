"""Reading map channels back from colours: nearest palette entries, grey levels, turbo values and
channel colours (each channel drawn in its colour, overlaps taking the per-component max, as
`palette.channels_preview` draws them).

Every function works on the image's distinct colours, not its pixels: a preview has a few hundred
colours, a photo-like JPEG at most a few tens of thousands, so decoding stays fast at any size.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

GREY_SPREAD = 6  # max − min of R, G, B at most this: a grey pixel (turbo's least saturated colour spreads 12)
SNAP_DISTANCE = 24.0  # RGB distance beyond which a pixel counts as "not a palette colour" (JPEG noise is below)


def distinct(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 -> (colours (U, 3) int64, inverse (H, W) index into colours, counts (U,))."""
    flat = rgb.reshape(-1, 3).astype(np.int64)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    keys, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    colours = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1)
    return colours, inverse.reshape(rgb.shape[:2]), counts


def nearest(colours: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest palette entry (K, 3) for each colour (U, 3), and the RGB distance."""
    palette = palette.astype(np.float32)
    index = np.empty(len(colours), dtype=np.int64)
    dist = np.empty(len(colours), dtype=np.float32)
    for start in range(0, len(colours), 4096):  # bounded memory: 4096 × K distances at a time
        chunk = colours[start : start + 4096].astype(np.float32)
        d = ((chunk[:, None, :] - palette[None]) ** 2).sum(-1)  # (u, K)
        index[start : start + 4096] = d.argmin(1)
        dist[start : start + 4096] = np.sqrt(d.min(1))
    return index, dist


def snapped_share(dist: np.ndarray, counts: np.ndarray) -> float:
    """The share of pixels further than SNAP_DISTANCE from every palette colour."""
    return float(counts[dist > SNAP_DISTANCE].sum() / max(1, counts.sum()))


def is_grey(colours: np.ndarray) -> np.ndarray:
    """(U,) bool: R, G and B within GREY_SPREAD of each other."""
    return (colours.max(1) - colours.min(1)) <= GREY_SPREAD


def channel_colours(colours: np.ndarray, palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per colour (U, 3), the channel values (U, K) that best explain it, and the residual (U,).

    A pixel is one channel k at strength alpha (alpha · palette[k], antialiased line edges) or, where
    two parts cross, both at full strength (the per-component max of their colours). Single channels
    are tried first, so a crossing that looks like one colour reads as that one part.
    """
    k = len(palette)
    c = palette.astype(np.float32)  # (K, 3)
    u = colours.astype(np.float32)  # (U, 3)
    alpha = np.clip(u @ c.T / (c * c).sum(1), 0.0, 1.0)  # (U, K) projection on each colour
    single = np.linalg.norm(u[:, None, :] - alpha[..., None] * c[None], axis=-1)  # (U, K)
    pairs = list(combinations(range(k), 2))
    both = np.stack([np.maximum(c[a], c[b]) for a, b in pairs]) if pairs else np.zeros((0, 3), np.float32)
    crossing = np.linalg.norm(u[:, None, :] - both[None], axis=-1)  # (U, P)
    residual = np.concatenate([single, crossing], axis=1)
    best = residual.argmin(1)
    values = np.zeros((len(u), k), dtype=np.float32)
    one = best < k
    values[one, best[one]] = alpha[one, best[one]]
    for i in np.nonzero(~one)[0]:
        a, b = pairs[best[i] - k]
        values[i, a] = values[i, b] = 1.0
    return values, residual[np.arange(len(u)), best]
