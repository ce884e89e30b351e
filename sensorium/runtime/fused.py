"""The fused runtime: a loaded Sensorium's content encoder and generator rewritten for inference.

Same weights, same function as eager (fp32 within 1e-4, checked at load), fewer passes:
- Fusion: the style half of each fusion's first conv sees a tiled vector, so it is nine values per
  channel (constant_input.py); the content half depends on the content only, so it is computed once
  per content and kept for style-only changes; the style's nine values of every fusion in a block
  come from one matrix (projection and conv composed). The SPADE "1 +" is folded into gamma's bias. Every
  conv keeps its own outputs: merging a block's fusion convs (they read the same input) into one
  wide conv saved nothing in torch and cost ONNX Runtime a copy to split the result (its blocked
  layout cannot slice channels in place): the generate graph took 10 % longer that way.
- SPADE: a block normalises x once for its shortcut and main branch; scale and shift are one addcmul;
  the shortcut's 1x1 conv is folded into its beta conv (C_out outputs instead of C_in).
- Modulated convs at batch 1: style and demodulation folded into the weights (one plain conv), or,
  for the ONNX export, applied to the activations around the constant weights (`style_in_weights`).
- Content encoder: presence planes and masking folded into the stem's weights; each down block's
  1x1 shortcut runs after the pooling (linear maps commute) and the 1/sqrt(2) sits in the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..conditioning import expand_presence
from ..layers import DEMOD_EPS, ModulatedConv2d, ResBlockDown, SPADEResBlock
from ..model import Sensorium
from .constant_input import add_constant_conv, traced_tap_lines, weigh_kernel


@dataclass(frozen=True)
class Conv:
    """Weights of one conv (bias may be None), laid out in the runtime's memory format."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.weight.shape[-1] // 2)


@dataclass(frozen=True)
class ContentState:
    """What one content (maps + presence, batch 1) gives every style: the pyramid (U-Net skips), the
    head's output and, per block, the content half of its fusion convs (bias included)."""

    pyramid: list[torch.Tensor]
    head: torch.Tensor
    fusion_content: list[tuple[torch.Tensor, ...]]


def _conv(module: torch.nn.Conv2d, fmt: torch.memory_format, scale: float = 1.0, bias_shift: float = 0.0) -> Conv:
    if module.bias is None and bias_shift:
        raise ValueError("a bias shift needs a conv with a bias")
    bias = None if module.bias is None else module.bias.detach() * scale + bias_shift
    return Conv((module.weight.detach() * scale).contiguous(memory_format=fmt), bias)


def style_kernel_map(style_half: torch.Tensor, proj: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight (O·9, S), bias (O·9,)) taking a style vector to the (O, 3, 3) kernels that a conv's
    style half (O, S', 3, 3) applies to the tiled projection proj(style) (S'): weigh_kernel's
    einsum composed with the projection, both linear."""
    weight = weigh_kernel(style_half, proj.weight.detach().t()).flatten(1).t()  # a kernel per style input
    return weight, weigh_kernel(style_half, proj.bias.detach()[None]).flatten()


class FusedBlock:
    """One SPADEResBlock: content halves apart, style kernels from one matrix, shared normalisation,
    folded modulation."""

    def __init__(self, block: SPADEResBlock, fmt: torch.memory_format, style_in_weights: bool = True):
        fusions = ([block.fuse_s] if block.learned_shortcut else []) + [block.fuse_0, block.fuse_1]
        self.learned_shortcut = block.learned_shortcut
        c_content = fusions[0].shared[0].in_channels - (f.style_proj.out_features if (f := fusions[0]).use_style else 0)
        first = [f.shared[0] for f in fusions]
        self.content_convs = [Conv(c.weight.detach()[:, :c_content].contiguous(memory_format=fmt), c.bias.detach())
                              for c in first]  # fmt: skip
        self.use_style = fusions[0].use_style
        if self.use_style:
            # style → every fusion's 3x3 kernel of the tiled style channels is linear (the projection,
            # then the conv's style half summed against it): one matrix for the block's fusions.
            maps = [style_kernel_map(c.weight.detach()[:, c_content:], f.style_proj) for c, f in zip(first, fusions, strict=True)]
            self.style_to_kernels = (torch.cat([m for m, _ in maps]), torch.cat([b for _, b in maps]))
            self.hidden = [c.out_channels for c in first]
        # SPADE's "1 +" sits in gamma's bias.
        self.to_gamma = [_conv(f.to_gamma, fmt, bias_shift=1.0) for f in fusions]
        plain = fusions[1:] if block.learned_shortcut else fusions  # the shortcut's beta is folded below
        self.to_beta = [_conv(f.to_beta, fmt) for f in plain]
        self.conv_s = None
        if block.learned_shortcut:
            # conv_s (1x1, no bias) of the shortcut's beta is a 3x3 conv of the fusion's hidden map
            # with conv_s's weights folded in: C_out outputs instead of C_in (exact, linear maps).
            w_s = block.conv_s.weight.detach()[:, :, 0, 0]  # (C_out, C_in)
            beta = block.fuse_s.to_beta
            self.to_beta.insert(0, Conv(torch.einsum("oc,chij->ohij", w_s, beta.weight.detach()).contiguous(memory_format=fmt),
                                        w_s @ beta.bias.detach()))  # fmt: skip
            self.conv_s = _conv(block.conv_s, fmt)
        self.convs = [block.conv_0, block.conv_1]
        modulated = [c if isinstance(c, ModulatedConv2d) else None for c in self.convs]
        # Each output channel's sum of squared weights per input channel, for the demodulation.
        self.weight_sq = [None if c is None else c.weight.detach().square().sum(dim=(2, 3)) for c in modulated]
        self.modconv_weights = [None if c is None or style_in_weights else c.weight.detach().contiguous(memory_format=fmt)
                                for c in modulated]  # fmt: skip
        self.style_in_weights = style_in_weights
        self.fmt = fmt

    def content_half(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per fusion (1, hidden, H, W): its first conv over the content alone, with its bias."""
        return tuple(conv(cond) for conv in self.content_convs)

    def _fusion_hidden(self, parts: tuple[torch.Tensor, ...], style: torch.Tensor) -> list[torch.Tensor]:
        """Each fusion's hidden map relu(content half + style response)."""
        if not self.use_style:
            return [F.relu(part) for part in parts]
        kernels = F.linear(style, *self.style_to_kernels).view(style.shape[0], -1, 3, 3).split(self.hidden, dim=1)
        lines = traced_tap_lines(parts[0])  # one block, one size: shared by its fusions
        return [add_constant_conv(part, k, lines).relu_() for part, k in zip(parts, kernels, strict=True)]

    def _modconv(self, i: int, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        conv = self.convs[i]
        if not isinstance(conv, ModulatedConv2d) or x.shape[0] != 1:
            return conv(x, style)
        scales = conv.affine(style)[0]  # (Cin,)
        weight = conv.weight
        demod = None
        if conv.demodulate:
            demod = torch.rsqrt(scales.square() @ self.weight_sq[i].t() + DEMOD_EPS)  # (Cout,)
        if not self.style_in_weights:  # the shared weights, with the style scaling activations around them
            out = F.conv2d(x * scales.view(1, -1, 1, 1), self.modconv_weights[i], padding=weight.shape[-1] // 2)
            if demod is not None:
                out = out * demod.view(1, -1, 1, 1)
            return out + conv.bias.view(1, -1, 1, 1)
        w = weight * scales[None, :, None, None]
        if demod is not None:
            w = w * demod[:, None, None, None]
        return F.conv2d(x, w.contiguous(memory_format=self.fmt), conv.bias, padding=weight.shape[-1] // 2)

    def __call__(self, x: torch.Tensor, content_half: tuple[torch.Tensor, ...], style: torch.Tensor) -> torch.Tensor:
        hidden = self._fusion_hidden(content_half, style)
        gb = [(g(h), b(h)) for g, b, h in zip(self.to_gamma, self.to_beta, hidden, strict=True)]
        x_norm = F.instance_norm(x)  # once for the shortcut and the main branch
        if self.learned_shortcut:
            gamma1, beta_s = gb.pop(0)
            x_s = self.conv_s(x_norm * gamma1).add_(beta_s)
        else:
            x_s = x
        gamma1, beta = gb[0]
        dx = self._modconv(0, F.leaky_relu_(torch.addcmul(beta, x_norm, gamma1), 0.2), style)
        gamma1, beta = gb[1]
        dx = torch.addcmul(beta, F.instance_norm(dx), gamma1)
        dx = self._modconv(1, F.leaky_relu_(dx, 0.2), style)
        return dx.add_(x_s)


class FusedDown:
    """ResBlockDown with the shortcut after the pooling and the 1/sqrt(2) folded into the weights."""

    def __init__(self, block: ResBlockDown, fmt: torch.memory_format):
        if not block.downsample:
            raise ValueError("the content encoder's blocks all downsample")
        k = 1 / math.sqrt(2)
        self.conv_0, self.conv_1 = _conv(block.conv_0, fmt), _conv(block.conv_1, fmt, k)
        self.shortcut = None if isinstance(block.shortcut, torch.nn.Identity) else _conv(block.shortcut, fmt, k)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        dx = self.conv_0(F.leaky_relu(x, 0.2))
        dx = self.conv_1(F.leaky_relu_(F.avg_pool2d(dx, 2), 0.2))
        pooled = F.avg_pool2d(x, 2)
        skip = pooled * (1 / math.sqrt(2)) if self.shortcut is None else self.shortcut(pooled)
        return dx.add_(skip)


class FusedSensorium:
    """encode(maps, presence) → ContentState; generate(state, styles) → images. Batch 1 content,
    any number of styles. `channels_last` picks the memory layout of activations and weights.

    `style_in_weights`: a modulated conv at batch 1 folds its style and demodulation into its weights
    (one plain conv: the fastest in torch). The ONNX export turns it off: ONNX Runtime runs its
    fast blocked-layout convs only on constant weights, so there the style scales the activations
    around the shared weights instead (the same function, StyleGAN2's two forms).
    """

    def __init__(self, model: Sensorium, channels_last: bool = False, style_in_weights: bool = True):
        self.config = model.config
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        enc, gen = model.content_encoder, model.generator
        self.stem = enc.stem
        self.down = [FusedDown(b, self.fmt) for b in enc.down]
        self.head = _conv(gen.head, self.fmt)
        self.blocks = [FusedBlock(b, self.fmt, style_in_weights) for b in gen.blocks]
        self.to_rgb = _conv(gen.to_rgb, self.fmt)
        self.num_scales, self.use_skips = gen.num_scales, gen.use_skips

    def _stem(self, maps: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
        """stem(cat[maps * presence, presence planes]) with the masking in the weights and the planes'
        constant contribution added as a response map."""
        w, c = self.stem.weight, maps.shape[1]
        keep = expand_presence(presence.to(w.dtype), self.config.modalities)[0]  # (C,)
        # In NCHW, as the maps come: converting the wide input costs more than converting the output.
        out = F.conv2d(maps, w[:, :c] * keep[None, :, None, None], self.stem.bias, padding=1)
        out = out.contiguous(memory_format=self.fmt)
        return add_constant_conv(out, weigh_kernel(w[:, c:], presence))

    def encode(self, maps: torch.Tensor, presence: torch.Tensor) -> ContentState:
        cfg = self.config
        b, c, h, w = maps.shape
        if b != 1:
            raise ValueError(f"the fused runtime encodes one content at a time, got a batch of {b}")
        assert c == cfg.map_channels and presence.shape == (1, len(cfg.modalities))
        if h % cfg.stride or w % cfg.stride:
            raise ValueError(f"image size {h}x{w} must be a multiple of {cfg.stride}")
        pyramid = [self._stem(maps, presence)]
        for block in self.down:
            pyramid.append(block(pyramid[-1]))
        conds = [pyramid[0]]  # the finest map pooled to each level (avg of avgs: the same mean)
        for _ in range(self.num_scales):
            conds.append(F.avg_pool2d(conds[-1], 2))
        halves = [block.content_half(conds[level])
                  for block, level in zip(self.blocks, range(self.num_scales, -1, -1), strict=True)]  # fmt: skip
        return ContentState(pyramid, self.head(pyramid[-1]), halves)

    def generate(self, state: ContentState, styles: torch.Tensor) -> torch.Tensor:
        batch = styles.shape[0]

        def batched(t: torch.Tensor) -> torch.Tensor:  # a view in torch, but a copy in an ONNX graph: skipped for one
            return t if batch == 1 else t.expand(batch, -1, -1, -1)

        x = batched(state.head)
        for block, half, level in zip(self.blocks, state.fusion_content, range(self.num_scales, -1, -1),
                                      strict=True):  # fmt: skip
            if level < self.num_scales:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                if self.use_skips:
                    x = torch.cat([x, batched(state.pyramid[level])], dim=1)
            x = block(x, half, styles)
        return torch.tanh_(self.to_rgb(F.leaky_relu_(x, 0.2)))
