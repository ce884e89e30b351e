"""Colour previews of maps for people: a turbo colormap for scalar maps, fixed distinct colours
for labels and channel groups. No matplotlib needed (turbo is Google's polynomial fit).
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

# Polynomial approximation of the Turbo colormap (Mikhailov, Google AI blog 2019).
_TURBO = np.array(
    [
        [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
        [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
        [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
    ],
    dtype=np.float64,
)


@lru_cache(maxsize=1)
def _turbo_lut() -> np.ndarray:
    x = np.linspace(0.0, 1.0, 256)
    powers = np.stack([x**k for k in range(6)], axis=-1)  # (256, 6)
    return (np.clip(powers @ _TURBO.T, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)  # (256, 3)


def _turbo_index(x: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def turbo(x: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 turbo colours (256-entry lookup table)."""
    return np.take(_turbo_lut(), _turbo_index(x), axis=0)  # take: a row gather, faster than lut[idx]


@lru_cache(maxsize=1)
def _turbo_lut_black_last() -> np.ndarray:
    """The turbo table with a 257th entry, black, for the exact zeros of `mask_zero`."""
    return np.concatenate([_turbo_lut(), np.zeros((1, 3), dtype=np.uint8)])


def scalar_preview(tensor: torch.Tensor, mask_zero: bool = False) -> Image.Image:
    """Turbo preview of channel 0 of a (C, H, W) map; `mask_zero` paints exact zeros black."""
    arr = tensor[0].detach().float().clamp(0, 1).cpu().numpy()
    if not mask_zero:
        return Image.fromarray(turbo(arr))
    index = np.where(arr <= 0, np.uint16(256), _turbo_index(arr).astype(np.uint16))  # one gather, no masked write
    return Image.fromarray(np.take(_turbo_lut_black_last(), index, axis=0))


@lru_cache(maxsize=16)
def distinct_colors(n: int, seed_offset: int = 0) -> np.ndarray:
    """(n, 3) uint8 colours, well separated in hue (golden-ratio steps); treat as read-only."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        j = i + seed_offset
        hue = (j * 0.6180339887) % 1.0
        sat = (0.95, 0.65, 0.8)[j % 3]
        val = (1.0, 0.8)[(j // 3) % 2]
        out[i] = [round(c * 255) for c in colorsys.hsv_to_rgb(hue, sat, val)]
    return out


def channels_preview(tensor: torch.Tensor, colors: np.ndarray) -> Image.Image:
    """Preview of a multi-channel map: each channel in its colour, overlaps take the max."""
    t = tensor.detach().float().clamp(0, 1).cpu().numpy()  # (C, H, W)
    weights = colors[: t.shape[0]].astype(np.float32)  # (C, 3)
    rgb = np.empty((*t.shape[1:], 3), dtype=np.uint8)
    for j in range(3):  # one colour component at a time: planes reduce fast, an (H, W, 3) tail does not
        rgb[..., j] = np.max(t * weights[:, j, None, None], axis=0)
    return Image.fromarray(rgb)


def argmax_channels(tensor: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> (H, W) long argmax over channels (first wins on ties).

    A running max over channel planes: much faster on CPU than `argmax(0)` for the few channels
    of one-hot maps, whose reduction runs across a strided dimension.
    """
    best, idx = tensor[0].clone(), torch.zeros(tensor.shape[1:], dtype=torch.long, device=tensor.device)
    for k in range(1, tensor.shape[0]):
        better = tensor[k] > best
        best = torch.where(better, tensor[k], best)
        idx[better] = k
    return idx


def labels_preview(labels: np.ndarray, colors: np.ndarray) -> Image.Image:
    """Preview of an (H, W) integer label image with a palette indexed by label."""
    return Image.fromarray(np.take(colors, np.clip(labels, 0, len(colors) - 1), axis=0))
