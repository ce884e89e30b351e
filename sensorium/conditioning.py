"""Stacking per-modality maps into the model's input, with presence masks and strengths.

A missing or unticked modality is a zero map with presence 0 (exactly what modality dropout shows
the model in training), so every subset of a checkpoint's modalities is a valid input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .modalities import MODALITIES

DEFAULT_STRENGTH = 1.0  # a map's scale when none is given; the content cache keys on the same default


def stack_maps(
    maps: Mapping[str, torch.Tensor],
    modalities: Sequence[str],
    size: tuple[int, int],
    strengths: Mapping[str, float] | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Build (maps (1, C, H, W), presence (1, M)) in the checkpoint's modality order.

    maps: modality → (C_m, H, W) tensor in [0, 1]; absent modalities are zero with presence 0.
    strengths: modality → scale (default 1) applied to the map; presence stays 1 for strength > 0.
    """
    strengths = strengths or {}
    parts, presence = [], []
    for name in modalities:
        channels = MODALITIES[name].channels
        m = maps.get(name)
        strength = float(strengths.get(name, DEFAULT_STRENGTH))
        if m is None or strength <= 0:
            parts.append(torch.zeros(channels, *size, device=device))
            presence.append(0.0)
            continue
        if m.shape != (channels, *size):
            raise ValueError(f"{name} map has shape {tuple(m.shape)}, expected {(channels, *size)}")
        parts.append(m.to(device=device, dtype=torch.float32) * strength)
        presence.append(1.0)
    stacked = torch.cat(parts, dim=0) if parts else torch.zeros(0, *size, device=device)
    return stacked[None], torch.tensor([presence], device=device)


def expand_presence(presence: torch.Tensor, modalities: Sequence[str]) -> torch.Tensor:
    """presence (B, M) → per-channel multiplier (B, C) matching the stacked maps."""
    repeats = torch.tensor([MODALITIES[m].channels for m in modalities], device=presence.device)
    return presence.repeat_interleave(repeats, dim=1)
