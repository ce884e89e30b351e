"""TFLite's float kernels as torch functions on NCHW tensors, with TFLite's rules reproduced exactly:
SAME padding puts the odd pixel after (bottom/right), average pools divide by the valid count, and
bilinear resizing follows the align_corners / half_pixel_centers flags.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # NHWC axis a is NCHW axis NHWC_TO_NCHW_AXIS[a]


def activate(x: torch.Tensor, name: str) -> torch.Tensor:
    """A fused activation function by its TFLite name."""
    if name == "none":
        return x
    if name == "relu":
        return F.relu(x)
    if name == "relu6":
        return x.clamp(0.0, 6.0)
    if name == "relu_n1_to_1":
        return x.clamp(-1.0, 1.0)
    if name == "tanh":
        return torch.tanh(x)
    if name == "sign_bit":
        return torch.sign(x)
    raise ValueError(f"unknown fused activation {name!r}")


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite/TensorFlow SAME padding along one axis: (before, after), the extra pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_for(x: torch.Tensor, padding: str, kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int] = (1, 1), value: float = 0.0) -> torch.Tensor:  # fmt: skip
    if padding == "valid":
        return x
    top, bottom = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: str,
           stride: tuple[int, int], dilation: tuple[int, int], groups: int = 1) -> torch.Tensor:  # fmt: skip
    """weight (O, I/groups, KH, KW), already in torch layout. Symmetric SAME padding goes to the
    convolution itself (no padded copy); only the asymmetric case pads first."""
    kernel = (weight.shape[2], weight.shape[3])
    if padding == "same":
        top, bottom = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
        left, right = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
        if top == bottom and left == right:
            return F.conv2d(x, weight, bias, stride=stride, padding=(top, left), dilation=dilation, groups=groups)
    x = pad_for(x, padding, kernel, stride, dilation)
    return F.conv2d(x, weight, bias, stride=stride, dilation=dilation, groups=groups)


def pool2d(x: torch.Tensor, kind: str, padding: str, kernel: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    if kind == "max":
        return F.max_pool2d(pad_for(x, padding, kernel, stride, value=-math.inf), kernel, stride)
    padded = pad_for(x, padding, kernel, stride)
    total = F.avg_pool2d(padded, kernel, stride)
    if padded.shape == x.shape:
        return total
    # TFLite averages over the pixels inside the image only: divide by the valid fraction.
    ones = pad_for(torch.ones_like(x[:1, :1]), padding, kernel, stride)
    return total / F.avg_pool2d(ones, kernel, stride)


def transpose_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: str,
                     stride: tuple[int, int]) -> torch.Tensor:  # fmt: skip
    """weight (I, O, KH, KW). TFLite's output size is in*stride (SAME) or (in-1)*stride+k (VALID);
    SAME crops the full transposed result as the forward conv would have padded it."""
    kh, kw = weight.shape[2], weight.shape[3]
    full = F.conv_transpose2d(x, weight, bias, stride=stride)
    if padding == "valid":
        return full
    out_h, out_w = x.shape[2] * stride[0], x.shape[3] * stride[1]
    top = max((x.shape[2] - 1) * stride[0] + kh - out_h, 0) // 2
    left = max((x.shape[3] - 1) * stride[1] + kw - out_w, 0) // 2
    return full[:, :, top : top + out_h, left : left + out_w]


def _source_axis(out_size: int, in_size: int, align_corners: bool, half_pixel: bool, device: torch.device):
    """Per output index along one axis: lower/upper source indices and the upper weight."""
    dst = torch.arange(out_size, device=device, dtype=torch.float32)
    if align_corners and out_size > 1:
        src = dst * ((in_size - 1) / (out_size - 1))
    elif half_pixel:
        src = (dst + 0.5) * (in_size / out_size) - 0.5
    else:
        src = dst * (in_size / out_size)
    floor = torch.floor(src)
    lower = floor.clamp(0, in_size - 1).long()
    upper = torch.ceil(src).clamp(0, in_size - 1).long() if half_pixel else (floor + 1).clamp(0, in_size - 1).long()
    return lower, upper, (src - floor)


def resize_bilinear(x: torch.Tensor, size: tuple[int, int], align_corners: bool, half_pixel: bool) -> torch.Tensor:
    """TFLite RESIZE_BILINEAR on NCHW, all three coordinate conventions (legacy, half-pixel, corners).

    torch's own bilinear is TFLite's half-pixel rule (sources clamped at the borders) and its
    align-corners rule; only the legacy rule (src = dst * in/out) needs the gather below."""
    if align_corners or half_pixel:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)
    y0, y1, wy = _source_axis(size[0], x.shape[2], align_corners, half_pixel, x.device)
    x0, x1, wx = _source_axis(size[1], x.shape[3], align_corners, half_pixel, x.device)
    wy, wx = wy.to(x.dtype)[:, None], wx.to(x.dtype)[None, :]
    top = x[:, :, y0][..., x0] * (1 - wx) + x[:, :, y0][..., x1] * wx
    bottom = x[:, :, y1][..., x0] * (1 - wx) + x[:, :, y1][..., x1] * wx
    return top * (1 - wy) + bottom * wy


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TFLite's DEPTH_TO_SPACE (NHWC channel order (i, j, c)), on NCHW."""
    b, c, h, w = x.shape
    out_c = c // (block * block)
    x = x.view(b, block, block, out_c, h, w).permute(0, 3, 4, 1, 5, 2)  # (B, C', H, i, W, j)
    return x.reshape(b, out_c, h * block, w * block)


def hard_swish(x: torch.Tensor) -> torch.Tensor:
    """x * relu6(x + 3) / 6, TFLite's HARD_SWISH, which is torch's hardswish exactly."""
    return F.hardswish(x)


def prelu(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """PRELU with alpha broadcast against x; per-channel alphas take torch's fused kernel."""
    if x.dim() == 4 and alpha.dim() == 4 and alpha.shape[0] == alpha.shape[2] == alpha.shape[3] == 1:
        return F.prelu(x, alpha.reshape(-1).expand(x.shape[1]) if alpha.shape[1] == 1 else alpha.reshape(-1))
    return torch.where(x >= 0, x, x * alpha)
