"""Convolutions of spatially constant inputs, computed without the full-size input.

A tiled vector (the fusion module's style channels, the content encoder's presence planes) is the
same at every pixel, so a zero-padded 3x3 conv over it takes only nine distinct values: one in the
interior, one per edge, one per corner. They are the conv of a 3x3 ones map with the kernel that
has already summed its input channels against the vector; the full map then needs no conv at all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weigh_kernel(weight: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """weight (O, C, k, k), vector (B, C) → per-sample kernels (B, O, k, k) of one input channel:
    the conv of a map whose channel c is the constant vector[c] equals the conv of a ones map with these."""
    return torch.einsum("ocij,bc->boij", weight, vector.to(weight.dtype))


def ones_response(kernels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The distinct values of conv2d(ones (H, W), kernels, zero padding k // 2): (B, O, h, w) with
    h = min(H, 3) rows (top border, interior, bottom border) and likewise w."""
    batch, out, k, _ = kernels.shape
    if k != 3:
        raise ValueError(f"only 3x3 kernels have a 3x3 response, got {k}x{k}")
    ones = kernels.new_ones(1, 1, min(height, 3), min(width, 3))
    small = F.conv2d(ones, kernels.reshape(batch * out, 1, k, k), padding=1)
    return small.reshape(batch, out, *small.shape[2:])


def _index(n: int, device: torch.device) -> torch.Tensor:
    """Row (or column) of the 3-value response each of n positions reads: 0, 1, …, 1, 2."""
    if n < 3:
        return torch.arange(n, device=device)
    idx = torch.ones(n, dtype=torch.long, device=device)
    idx[0], idx[-1] = 0, 2
    return idx


def add_response(c: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """c (1 or B, O, H, W) + the full response map that `small` (B, O, ≤3, ≤3) stands for.

    The interior value is broadcast in one pass; the four border lines are then rewritten with
    their own values, so every pixel is exactly c + response, as a gathered full map would give.
    """
    height, width = c.shape[-2:]
    rows, cols = _index(height, c.device), _index(width, c.device)
    if height < 3 or width < 3:
        return c + small[:, :, rows][:, :, :, cols]
    out = c + small[:, :, 1:2, 1:2]
    out[:, :, 0, :] = c[:, :, 0, :] + small[:, :, 0][:, :, cols]
    out[:, :, -1, :] = c[:, :, -1, :] + small[:, :, 2][:, :, cols]
    out[:, :, :, 0] = c[:, :, :, 0] + small[:, :, :, 0][:, :, rows]
    out[:, :, :, -1] = c[:, :, :, -1] + small[:, :, :, 2][:, :, rows]
    return out
