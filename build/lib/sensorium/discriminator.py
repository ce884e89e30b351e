"""SPADE's multi-scale PatchGAN discriminator (pix2pixHD), returning every layer's features so the
generator can be trained with discriminator feature matching. With several domains the last layer
has one output channel per domain and the target domain's channel is picked (StarGAN v2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from .config import ModelConfig


class PatchDiscriminator(nn.Module):
    """x (B, C, H, W) → [feat_1, …, feat_L, logits (B, num_domains, h, w)]."""

    def __init__(self, in_channels: int, channels: int, num_layers: int, num_domains: int):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, channels, 4, 2, 1), nn.LeakyReLU(0.2))
        ]
        c = channels
        for i in range(1, num_layers):
            c_next = min(c * 2, 512)
            stride = 2 if i < num_layers - 1 else 1
            layers.append(
                nn.Sequential(
                    spectral_norm(nn.Conv2d(c, c_next, 4, stride, 1)),
                    nn.InstanceNorm2d(c_next),
                    nn.LeakyReLU(0.2),
                )
            )
            c = c_next
        layers.append(nn.Conv2d(c, num_domains, 4, 1, 1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """Runs a PatchDiscriminator on the image at `num_scales` resolutions (halved each time).

    forward(image, maps=None, domain=None) → per scale, a list of features whose last entry is the
    (B, 1, h, w) logits of the target domain.
    """

    def __init__(self, image_channels: int, cond_channels: int, channels: int, num_layers: int,
                 num_scales: int, num_domains: int = 1):  # fmt: skip
        super().__init__()
        self.cond_channels = cond_channels
        self.scales = nn.ModuleList(
            PatchDiscriminator(image_channels + cond_channels, channels, num_layers, num_domains)
            for _ in range(num_scales)
        )

    @classmethod
    def from_config(cls, config: ModelConfig) -> MultiscaleDiscriminator:
        """The discriminator a model config trains with (conditioned on the maps or not): one
        definition for training, warm starts and the size summary."""
        cond = config.map_channels if config.disc_conditional else 0
        return cls(3, cond, config.disc_channels, config.disc_layers, config.disc_scales, config.num_domains)

    def forward(self, image: torch.Tensor, maps: torch.Tensor | None = None,
                domain: torch.Tensor | None = None) -> list[list[torch.Tensor]]:  # fmt: skip
        x = image if not self.cond_channels else torch.cat([image, maps.to(image.dtype)], dim=1)
        out = []
        for i, disc in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            feats = disc(x)
            logits = feats[-1]
            if logits.shape[1] > 1:
                idx = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if domain is None else domain
                logits = logits[torch.arange(x.shape[0], device=x.device), idx.long()][:, None]
            out.append([*feats[:-1], logits])
        return out
