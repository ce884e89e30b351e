"""Building blocks: weight-demodulated convolution (StyleGAN2), SPADE normalisation (Park et al.
2019) and the Sensorium fusion module that turns (style, content) into SPADE's gamma/beta.

Pure functional cores live here with shape checks; modules only hold parameters and call them.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

DEMOD_EPS = 1e-8  # StyleGAN2's demodulation epsilon; the fused runtime folds the same one

ModConvForm = Literal["scaled", "grouped"]


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    style: torch.Tensor,
    demodulate: bool = True,
    form: ModConvForm = "scaled",
    eps: float = DEMOD_EPS,
) -> torch.Tensor:
    """Convolve each sample with the shared weight modulated by its own style (StyleGAN2, eq. 1-3).

    x: (B, Cin, H, W); weight: (Cout, Cin, k, k); style: (B, Cin) per-input-channel scales.
    Both forms compute the same function: "grouped" builds per-sample weights and runs one grouped
    conv; "scaled" scales the activations by the style, runs one shared-weight conv and scales the
    outputs by the demodulation coefficients (no per-sample weights are materialised).
    """
    batch, c_in, _, _ = x.shape
    c_out, c_in_w, kh, kw = weight.shape
    if c_in != c_in_w or style.shape != (batch, c_in):
        raise ValueError(f"x {tuple(x.shape)}, weight {tuple(weight.shape)} and style {tuple(style.shape)} disagree")
    pad = kh // 2
    if form == "scaled":
        out = F.conv2d(x * style[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=pad)
        if demodulate:
            w_sq = weight.float().square().sum(dim=(2, 3))  # (Cout, Cin)
            demod = torch.rsqrt(style.float().square() @ w_sq.t() + eps)  # (B, Cout)
            out = out * demod[:, :, None, None].to(out.dtype)
        return out
    if form != "grouped":
        raise ValueError(f"form must be 'scaled' or 'grouped', got {form!r}")
    w = weight[None] * style[:, None, :, None, None]  # (B, Cout, Cin, k, k)
    if demodulate:
        w = w * torch.rsqrt(w.float().square().sum(dim=(2, 3, 4)) + eps)[:, :, None, None, None].to(w.dtype)
    w = w.reshape(batch * c_out, c_in, kh, kw).to(x.dtype)
    out = F.conv2d(x.reshape(1, batch * c_in, *x.shape[2:]), w, padding=pad, groups=batch)
    return out.reshape(batch, c_out, *out.shape[2:])


class ModulatedConv2d(nn.Module):
    """A conv whose weights are scaled per input channel by an affine map of the style vector,
    then (optionally) demodulated so every output channel has unit expected variance."""

    def __init__(self, c_in: int, c_out: int, kernel: int, style_dim: int, demodulate: bool = True):
        super().__init__()
        weight = torch.empty(c_out, c_in, kernel, kernel)
        if not weight.is_meta:  # = randn / sqrt; on meta (shapes only, the check at load) it would import sympy
            weight.normal_().div_(math.sqrt(c_in * kernel**2))  # and torch._dynamo: ~3 s of the app's start
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.affine = nn.Linear(style_dim, c_in)
        nn.init.zeros_(self.affine.weight)  # starts as an unmodulated conv: style scales = 1
        nn.init.ones_(self.affine.bias)
        self.demodulate = demodulate
        self.form: ModConvForm = "scaled"  # picked by measurement, see benchmarks/bench_modconv.py

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        scales = self.affine(style)  # (B, Cin)
        out = modulated_conv2d(x, self.weight, scales, self.demodulate, self.form)
        return out + self.bias.to(out.dtype)[None, :, None, None]

    def extra_repr(self) -> str:
        c_out, c_in, k, _ = self.weight.shape
        return f"{c_in}, {c_out}, kernel={k}, demodulate={self.demodulate}, form={self.form}"


class AdaINConv2d(nn.Module):
    """Ablation of weight demodulation: plain conv, then instance norm with style scale/shift."""

    def __init__(self, c_in: int, c_out: int, kernel: int, style_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
        self.affine = nn.Linear(style_dim, 2 * c_out)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style)[:, :, None, None].chunk(2, dim=1)
        return F.instance_norm(self.conv(x)) * (1 + gamma) + beta


class PlainConv2d(nn.Conv2d):
    """Style-free conv with the StyleConv call signature (content-only ablation)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, style_dim: int):
        super().__init__(c_in, c_out, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


def style_conv(c_in: int, c_out: int, kernel: int, style_dim: int, modulation: str) -> nn.Module:
    """The generator's conv for a given modulation mode ("demod", "adain" or "none")."""
    if modulation == "demod":
        return ModulatedConv2d(c_in, c_out, kernel, style_dim, demodulate=True)
    if modulation == "adain":
        return AdaINConv2d(c_in, c_out, kernel, style_dim)
    if modulation == "none":
        return PlainConv2d(c_in, c_out, kernel, style_dim)
    raise ValueError(f"unknown modulation {modulation!r}")


def spade_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """SPADE: parameter-free instance norm, then spatially varying (1 + gamma) scale and beta shift.

    x, gamma, beta: (B, C, H, W). Instance norm (not batch norm) keeps batch-1 inference identical
    to training and needs no running statistics.
    """
    assert gamma.shape == x.shape == beta.shape, (x.shape, gamma.shape, beta.shape)
    return F.instance_norm(x) * (1 + gamma) + beta


class Fusion(nn.Module):
    """Sensorium's fusion module, one per SPADE layer: tile the style vector over space, concatenate
    it with the finest content feature map (already resized to this layer), and map the result to
    SPADE's gamma and beta with a small convnet. The last convs start at zero, so a fresh block is
    a plain instance norm (diffusers' zero_module idea)."""

    def __init__(self, c_norm: int, content_channels: int, style_dim: int, style_proj: int, hidden: int,
                 use_style: bool = True):  # fmt: skip
        super().__init__()
        self.use_style = use_style
        self.style_proj = nn.Linear(style_dim, style_proj) if use_style else None
        c_cond = content_channels + (style_proj if use_style else 0)
        self.shared = nn.Sequential(nn.Conv2d(c_cond, hidden, 3, padding=1), nn.ReLU())
        self.to_gamma = nn.Conv2d(hidden, c_norm, 3, padding=1)
        self.to_beta = nn.Conv2d(hidden, c_norm, 3, padding=1)
        for conv in (self.to_gamma, self.to_beta):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, content: torch.Tensor, style: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        cond = content
        if self.use_style:
            s = self.style_proj(style)[:, :, None, None]  # (B, S', 1, 1)
            cond = torch.cat([content, s.expand(-1, -1, *content.shape[2:]).to(content.dtype)], dim=1)
        h = self.shared(cond)
        return self.to_gamma(h), self.to_beta(h)


class SPADEResBlock(nn.Module):
    """SPADE residual block (learned 1x1 shortcut when widths differ) whose 3x3 convs are driven
    by the style vector and whose norms get gamma/beta from per-layer fusion modules."""

    def __init__(self, c_in: int, c_out: int, content_channels: int, style_dim: int, *, modulation: str,
                 style_proj: int, hidden: int, use_style_in_fusion: bool):  # fmt: skip
        super().__init__()
        c_mid = min(c_in, c_out)

        def fusion(c: int) -> Fusion:
            return Fusion(c, content_channels, style_dim, style_proj, hidden, use_style_in_fusion)

        self.fuse_0, self.fuse_1 = fusion(c_in), fusion(c_mid)
        self.conv_0 = style_conv(c_in, c_mid, 3, style_dim, modulation)
        self.conv_1 = style_conv(c_mid, c_out, 3, style_dim, modulation)
        self.learned_shortcut = c_in != c_out
        if self.learned_shortcut:
            self.fuse_s = fusion(c_in)
            self.conv_s = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.learned_shortcut:
            x_s = self.conv_s(spade_norm(x, *self.fuse_s(content, style)))
        else:
            x_s = x
        dx = self.conv_0(F.leaky_relu(spade_norm(x, *self.fuse_0(content, style)), 0.2), style)
        dx = self.conv_1(F.leaky_relu(spade_norm(dx, *self.fuse_1(content, style)), 0.2), style)
        return x_s + dx


class ResBlockDown(nn.Module):
    """Pre-activation residual block for the encoders, halving resolution when `downsample`.

    No normalisation: the content encoder must keep map magnitudes (strength sliders scale them).
    """

    def __init__(self, c_in: int, c_out: int, downsample: bool = True):
        super().__init__()
        self.conv_0 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv_1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = (lambda t: F.avg_pool2d(t, 2)) if self.downsample else (lambda t: t)
        dx = self.conv_0(F.leaky_relu(x, 0.2))
        dx = self.conv_1(F.leaky_relu(pool(dx), 0.2))
        return (pool(self.shortcut(x)) + dx) / math.sqrt(2)  # unit-variance residual sum
