"""The Sensorium generator: SPADE res-blocks from the coarsest content scale up to the image,
U-Net skips from the content pyramid, convolutions modulated by the style vector, and per-layer
fusion of (tiled style, finest content map) into SPADE's gamma/beta.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .encoders import pyramid_channels
from .layers import SPADEResBlock


class Generator(nn.Module):
    """(content pyramid [f_0 … f_N], style (B, S)) → image (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        widths = pyramid_channels(cfg.channels, cfg.max_channels, cfg.num_scales)
        self.num_scales = cfg.num_scales
        self.use_skips = cfg.use_skips
        self.head = nn.Conv2d(widths[-1], widths[-1], 3, padding=1)
        blocks = []
        for i in range(cfg.num_scales, -1, -1):  # coarse → fine
            c_in = widths[i] * (2 if (cfg.use_skips and i < cfg.num_scales) else 1)
            c_out = widths[max(i - 1, 0)]
            blocks.append(
                SPADEResBlock(c_in, c_out, widths[0], cfg.style_dim, modulation=cfg.modulation,
                              style_proj=cfg.fusion_style_dim, hidden=cfg.fusion_hidden,
                              use_style_in_fusion=cfg.use_fusion)  # fmt: skip
            )
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, content: list[torch.Tensor], style: torch.Tensor) -> torch.Tensor:
        assert len(content) == self.num_scales + 1, f"expected {self.num_scales + 1} content levels"
        finest = content[0]
        x = self.head(content[-1])
        for block, level in zip(self.blocks, range(self.num_scales, -1, -1), strict=True):
            if level < self.num_scales:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
                if self.use_skips:
                    x = torch.cat([x, content[level]], dim=1)  # U-Net skip
            # The fusion input: the finest content map, brought to this block's resolution.
            cond = finest if level == 0 else F.avg_pool2d(finest, 2**level)
            x = block(x, cond, style)
        return torch.tanh(self.to_rgb(F.leaky_relu(x, 0.2)))
