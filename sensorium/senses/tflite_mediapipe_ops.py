"""mediapipe's custom TFLite ops of the attention face mesh (face_landmark_with_attention.tflite), in torch.

The network finds the 468-point mesh, then re-reads a 16² patch of an early feature map around the
lips and each eye (`Landmarks2TransformMatrix` -> `TransformTensorBilinear`) and maps the refined
points back (`TransformLandmarks`). Semantics follow mediapipe/util/tflite/operations (version 2 of
each op; their options are flexbuffer maps). Batched along the leading axis and differentiable in
the features and landmarks (the sampling's in-bounds mask is the one step without a gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _rotation(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cos(r), torch.sin(r)


def landmarks_to_transform_matrix(landmarks: torch.Tensor, options: dict) -> torch.Tensor:
    """Landmarks2TransformMatrix v2: landmarks (B, N, 3) -> (B, 4, 4), the matrix taking a pixel of an
    (output_height, output_width) patch to the landmarks' space: the patch is the box around the
    `subset_idxs` points, rotated so the left -> right rotation landmarks are level (plus the target
    rotation), scaled by (scale_x, scale_y), centred on the box."""
    left = landmarks[:, options["left_rotation_idx"], :2]
    right = landmarks[:, options["right_rotation_idx"], :2]
    d = right - left
    rotation = options.get("target_rotation_radians", 0.0) - torch.atan2(d[:, 1], d[:, 0])  # (B,)
    cos, sin = _rotation(rotation)
    pts = landmarks[:, list(options["subset_idxs"]), :2]  # (B, K, 2); the pairs' order is irrelevant
    rx = cos[:, None] * pts[..., 0] - sin[:, None] * pts[..., 1]
    ry = sin[:, None] * pts[..., 0] + cos[:, None] * pts[..., 1]
    lo_x, hi_x = rx.amin(1), rx.amax(1)
    lo_y, hi_y = ry.amin(1), ry.amax(1)
    width, height = hi_x - lo_x, hi_y - lo_y
    mx, my = (lo_x + hi_x) / 2, (lo_y + hi_y) / 2
    cx, cy = cos * mx + sin * my, -sin * mx + cos * my  # the box centre rotated back (by -rotation)
    out_w, out_h = float(options["output_width"]), float(options["output_height"])
    sx = options["scale_x"] * width / out_w
    sy = options["scale_y"] * height / out_h
    # shift(centre) · rotate(-rotation) · scale(sx, sy) · shift(-out/2), written out: rows of a 2-D affine map.
    a00, a01 = cos * sx, sin * sy
    a10, a11 = -sin * sx, cos * sy
    tx = cx - a00 * out_w / 2 - a01 * out_h / 2
    ty = cy - a10 * out_w / 2 - a11 * out_h / 2
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    rows = [
        torch.stack([a00, a01, zero, tx], -1), torch.stack([a10, a11, zero, ty], -1),
        torch.stack([zero, zero, one, zero], -1), torch.stack([zero, zero, zero, one], -1),
    ]  # fmt: skip
    return torch.stack(rows, dim=1)


def transform_tensor_bilinear(x: torch.Tensor, matrix: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """TransformTensorBilinear v2: x (B, C, H, W) sampled at matrix · (j + ½, i + ½) - ½ for output
    pixel (i, j) (its half-pixel correction), bilinearly; 0 where that point leaves [0, W-1]×[0, H-1]."""
    b, _, h, w = x.shape
    oh, ow = out_hw
    ys, xs = torch.meshgrid(torch.arange(oh, device=x.device, dtype=x.dtype),
                            torch.arange(ow, device=x.device, dtype=x.dtype), indexing="ij")  # fmt: skip
    m = matrix.to(x.dtype)
    tx = m[:, 0, 3] + 0.5 * (m[:, 0, 0] + m[:, 0, 1]) - 0.5
    ty = m[:, 1, 3] + 0.5 * (m[:, 1, 0] + m[:, 1, 1]) - 0.5
    px = m[:, 0, 0, None, None] * xs + m[:, 0, 1, None, None] * ys + tx[:, None, None]  # (B, oh, ow)
    py = m[:, 1, 0, None, None] * xs + m[:, 1, 1, None, None] * ys + ty[:, None, None]
    inside = ((px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)).to(x.dtype)
    grid = torch.stack([2 * px / max(w - 1, 1) - 1, 2 * py / max(h - 1, 1) - 1], dim=-1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out * inside[:, None]


def transform_landmarks(landmarks: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """TransformLandmarks v2: (B, N, 2 or 3) points, x and y through the matrix's affine rows (z kept)."""
    m = matrix.to(landmarks.dtype)
    x, y = landmarks[..., 0], landmarks[..., 1]
    nx = m[:, 0, 0, None] * x + m[:, 0, 1, None] * y + m[:, 0, 3, None]
    ny = m[:, 1, 0, None] * x + m[:, 1, 1, None] * y + m[:, 1, 3, None]
    return torch.cat([torch.stack([nx, ny], -1), landmarks[..., 2:]], dim=-1)


def strided_slice(x: torch.Tensor, begin: list[int], end: list[int], strides: list[int], stored: tuple[int, ...],
                  options: dict) -> torch.Tensor:  # fmt: skip
    """STRIDED_SLICE (begin/end masks and shrink axes) on an NHWC-ordered tensor. The batch axis is
    stored as 1: a slice spanning all of it keeps the caller's whole batch."""
    if options.get("ellipsis_mask") or options.get("new_axis_mask"):
        raise ValueError("STRIDED_SLICE with ellipsis or new-axis masks is not supported")
    index: list[slice | int] = []
    for axis, (lo, hi, step) in enumerate(zip(begin, end, strides, strict=True)):
        lo = None if options["begin_mask"] >> axis & 1 else lo
        hi = None if options["end_mask"] >> axis & 1 else hi
        if axis == 0 and (lo or 0) == 0 and (hi is None or hi >= stored[0]) and step == 1:
            lo = hi = None
        index.append(lo if options["shrink_axis_mask"] >> axis & 1 else slice(lo, hi, step))
    return x[tuple(index)]
