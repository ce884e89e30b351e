"""Content and style encoders.

ContentEncoder: domain-invariant ResNet over the stacked sense maps + presence masks, returning a
pyramid whose levels feed the generator through U-Net skips. StyleEncoder: ResNet + global average
pooling to one style vector, with one head per domain (domain-specific, as in StarGAN v2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResBlockDown


def pyramid_channels(base: int, cap: int, num_scales: int) -> list[int]:
    """Width at each pyramid level 0..num_scales (level i has stride 2**i)."""
    return [min(base * 2**i, cap) for i in range(num_scales + 1)]


class ContentEncoder(nn.Module):
    """maps (B, C_in, H, W) → [f_0 (B, ch_0, H, W), f_1 (B, ch_1, H/2, W/2), …, f_N]."""

    def __init__(self, in_channels: int, channels: int, max_channels: int, num_scales: int):
        super().__init__()
        self.widths = pyramid_channels(channels, max_channels, num_scales)
        self.stem = nn.Conv2d(in_channels, self.widths[0], 3, padding=1)
        self.down = nn.ModuleList(
            ResBlockDown(self.widths[i], self.widths[i + 1]) for i in range(num_scales)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return feats


class StyleEncoder(nn.Module):
    """image (B, 3, H, W) in [-1, 1] → style vector (B, style_dim); `domain` (B,) picks the head.

    Global average pooling makes the vector independent of image size and position: style is what
    is left once the spatial layout (the senses' job) is averaged away.
    """

    def __init__(self, channels: int, max_channels: int, num_downs: int, style_dim: int, num_domains: int):
        super().__init__()
        widths = pyramid_channels(channels, max_channels, num_downs)
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.blocks = nn.Sequential(*(ResBlockDown(widths[i], widths[i + 1]) for i in range(num_downs)))
        self.heads = nn.ModuleList(nn.Linear(widths[-1], style_dim) for _ in range(num_domains))

    def forward(self, image: torch.Tensor, domain: torch.Tensor | None = None) -> torch.Tensor:
        h = F.leaky_relu(self.blocks(self.stem(image)), 0.2)
        h = h.mean(dim=(2, 3))  # (B, C): global average pool
        if len(self.heads) == 1:
            return self.heads[0](h)
        styles = torch.stack([head(h) for head in self.heads], dim=1)  # (B, D, S)
        if domain is None:
            domain = torch.zeros(image.shape[0], dtype=torch.long, device=image.device)
        return styles[torch.arange(image.shape[0], device=image.device), domain.long()]
