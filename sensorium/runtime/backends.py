"""The runtimes a pipeline can run its content encoder and generator on, one class each.

Every runtime has the same two steps, so a style-only change reuses the first step's result:
    state = runtime.encode(maps, presence)      # depends on the content only
    images = runtime.generate(state, styles)    # (B, 3, H, W) in [-1, 1], one per style
"""

from __future__ import annotations

from typing import Protocol

import torch

from ..model import Sensorium
from .fused import ContentState, FusedSensorium


class Runtime(Protocol):
    name: str  # what status lines and benchmarks call it

    def encode(self, maps: torch.Tensor, presence: torch.Tensor) -> object: ...

    def generate(self, state: object, styles: torch.Tensor) -> torch.Tensor: ...


class EagerRuntime:
    """The model's own modules, as trained: the reference every other runtime is checked against."""

    name = "eager"

    def __init__(self, model: Sensorium):
        self.model = model

    def encode(self, maps: torch.Tensor, presence: torch.Tensor) -> list[torch.Tensor]:
        return self.model.encode_content(maps, presence)

    def generate(self, state: list[torch.Tensor], styles: torch.Tensor) -> torch.Tensor:
        return self.model.generate([c.expand(len(styles), -1, -1, -1) for c in state], styles)


class FusedRuntime:
    """FusedSensorium (fused.py) in NCHW ("fused") or channels-last ("fused-cl") layout. A batch of
    contents (one per style, e.g. the contributions grid) runs row by row: the fused rewrite folds
    per-content terms into weights."""

    def __init__(self, model: Sensorium, channels_last: bool):
        self.name = "fused-cl" if channels_last else "fused"
        self.fused = FusedSensorium(model, channels_last=channels_last)

    def encode(self, maps: torch.Tensor, presence: torch.Tensor) -> list[ContentState]:
        return [self.fused.encode(m[None], p[None]) for m, p in zip(maps, presence, strict=True)]

    def generate(self, states: list[ContentState], styles: torch.Tensor) -> torch.Tensor:
        if len(states) == 1:  # one content under every style
            return self.fused.generate(states[0], styles).contiguous()
        if len(states) != len(styles):
            raise ValueError(f"{len(states)} contents need one style each, got {len(styles)}")
        return torch.cat([self.fused.generate(st, s[None]) for st, s in zip(states, styles, strict=True)]).contiguous()
