"""Convolutions of spatially constant inputs, computed without the full-size input.

A tiled vector (the fusion module's style channels, the content encoder's presence planes) is the
same at every pixel, so a zero-padded 3x3 conv over it takes only nine distinct values: one in the
interior, one per edge, one per corner. They are the conv of a 3x3 ones map with the kernel that
has already summed its input channels against the vector; the full map then needs no conv at all.
"""

from __future__ import annotations

import torch


def weigh_kernel(weight: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """weight (O, C, k, k), vector (B, C) → per-sample kernels (B, O, k, k) of one input channel:
    the conv of a map whose channel c is the constant vector[c] equals the conv of a ones map with these."""
    return torch.einsum("ocij,bc->boij", weight, vector.to(weight.dtype))


def _tap_mask(n: int, device: torch.device) -> torch.Tensor:
    """(min(n, 3), 3): which kernel rows (or columns) see the map, not the zero padding, at the first,
    interior and last positions of a side of length n."""
    if n == 1:
        return torch.tensor([[0.0, 1, 0]], device=device)
    first, inner, last = [0.0, 1, 1], [1.0, 1, 1], [1.0, 1, 0]
    return torch.tensor([first, last] if n == 2 else [first, inner, last], device=device)


def ones_response(kernels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The distinct values of conv2d(ones (H, W), kernels, zero padding 1): (B, O, h, w) with
    h = min(H, 3) rows (top border, interior, bottom border) and likewise w; each value is the sum
    of the kernel taps that land on the map."""
    if kernels.shape[-2:] != (3, 3):
        raise ValueError(f"only 3x3 kernels have a 3x3 response, got {tuple(kernels.shape[-2:])}")
    rows, cols = (_tap_mask(n, kernels.device).to(kernels.dtype) for n in (height, width))
    return torch.einsum("rk,bokl,cl->borc", rows, kernels, cols)


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


def _tap_rows(n: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
    """(n, 3): which kernel rows (above, centre, below) land on the map at each of n positions.
    Built with arange over the traced size, so an exported graph keeps n symbolic."""
    pos = torch.arange(n, device=like.device)  # integers: exact at any size, in any dtype of `like`
    return torch.stack([pos > 0, torch.ones_like(pos, dtype=torch.bool), pos < n - 1], dim=1).to(like.dtype)


def traced_tap_lines(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """While tracing: the tap rows (H, 3) and columns, transposed (3, W), of c's size, to share
    between the maps of one size (each is a dozen graph nodes; an ONNX graph pays for every node).
    None in eager, which needs none."""
    if not torch.jit.is_tracing():
        return None
    return _tap_rows(c.shape[-2], c), _tap_rows(c.shape[-1], c).t()


def add_constant_conv(c: torch.Tensor, kernels: torch.Tensor,
                      lines: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
    """c (1 or B, O, H, W) + conv2d(ones (H, W), kernels (B, O, 3, 3), zero padding 1).

    Eager: the nine distinct values, then one broadcast and four border lines (add_response). Traced
    (the ONNX export): the full map as two small matmuls of tap masks (rows · kernels · columns), with
    no size-dependent constant or slice write, so one exported graph serves every image size; `lines`
    are traced_tap_lines(c), when the caller shares them between maps of one size."""
    if not torch.jit.is_tracing():
        return add_response(c, ones_response(kernels, *c.shape[-2:]))
    rows, cols_t = lines if lines is not None else traced_tap_lines(c)
    kernels = kernels if kernels.dtype == c.dtype else kernels.to(c.dtype)  # a cast is a graph node too
    return c + torch.matmul(rows, torch.matmul(kernels, cols_t))  # (H, 3) @ (B, O, 3, 3) @ (3, W) → (B, O, H, W)
