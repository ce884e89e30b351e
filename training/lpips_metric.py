"""LPIPS (Zhang et al., CVPR 2018): the distance people report next to PSNR/SSIM because it tracks
human judgements of similarity far better.

Deep features of both images are unit-normalised per position, their squared difference is
weighted per channel by linear heads that were calibrated on human judgements, then averaged over
space and summed over layers. The heads are the v0.1 files that ship inside the `lpips` package;
the backbone is torchvision's ImageNet AlexNet (the paper's default) or VGG16, found through
`sensorium.backbones` (local file, env var, hub cache, download), so the numbers are those of the
reference implementation (a test checks this against the `lpips` package itself).
"""

from __future__ import annotations

import os
from importlib import resources

import torch
from torch import nn

from sensorium.backbones import ALEXNET, VGG16, Backbone

# The layer boundaries of LPIPS v0.1: relu1..relu5 of AlexNet, relu{1_2,2_2,3_3,4_3,5_3} of VGG16.
_NETS: dict[str, tuple[Backbone, tuple[int, ...], tuple[int, ...]]] = {
    "alex": (ALEXNET, (2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": (VGG16, (4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}


def _trunk(net: str) -> nn.Sequential:
    from torchvision.models import alexnet, vgg16

    return (alexnet if net == "alex" else vgg16)(weights=None).features


class LPIPS(nn.Module):
    """LPIPS distance between image batches in [-1, 1] → (B,), lower is more similar."""

    def __init__(self, net: str = "alex", backbone_state: dict[str, torch.Tensor] | None = None,
                 heads_state: dict[str, torch.Tensor] | None = None):  # fmt: skip
        super().__init__()
        if net not in _NETS:
            raise ValueError(f"net must be one of {sorted(_NETS)}, got {net!r}")
        _, ends, channels = _NETS[net]
        trunk = _trunk(net)
        if backbone_state is not None:
            trunk.load_state_dict({k[9:]: v for k, v in backbone_state.items() if k.startswith("features.")})
        self.trunk = trunk[: ends[-1]]
        self.ends = ends
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels)
        if heads_state is not None:
            for k, head in enumerate(self.heads):
                head.weight.data.copy_(heads_state[f"lin{k}.model.1.weight"])
        # LPIPS v0.1 input scaling (its inputs are in [-1, 1], like ours)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        feats, start = [], 0
        for end in self.ends:
            x = self.trunk[start:end](x)
            feats.append(x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10))
            start = end
        return feats

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for head, fa, fb in zip(self.heads, self._features(a), self._features(b), strict=True):
            total = total + head((fa - fb).square()).mean(dim=(1, 2, 3))
        return total


def heads_file(net: str) -> str:
    """The calibrated linear heads shipped by the `lpips` package (pip install lpips)."""
    try:
        return str(resources.files("lpips") / "weights" / "v0.1" / f"{net}.pth")
    except ModuleNotFoundError as exc:
        raise FileNotFoundError("LPIPS needs its calibrated heads from the `lpips` package: pip install lpips") from exc


def load_lpips(net: str = "alex", backbone_path: str | os.PathLike | None = None,
               allow_download: bool = True) -> LPIPS:  # fmt: skip
    """The calibrated metric; FileNotFoundError naming the missing file and how to get it."""
    if net not in _NETS:
        raise ValueError(f"net must be one of {sorted(_NETS)}, got {net!r}")
    backbone = _NETS[net][0].load_state_dict("LPIPS", backbone_path, allow_download)
    heads = torch.load(heads_file(net), map_location="cpu", weights_only=True)
    return LPIPS(net, backbone, heads)
