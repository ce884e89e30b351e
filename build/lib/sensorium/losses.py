"""Sensorium's objective (paper §3.3): L1 on VGG19 features, L1 discriminator feature matching,
and the hinge GAN loss. Losses are pure functions returning (loss, stats); only the perceptual
loss is a module because it holds weights.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import VGG19

log = logging.getLogger(__name__)

Stats = dict[str, torch.Tensor]  # detached scalars, read on the host only at log steps


def d_hinge(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> tuple[torch.Tensor, Stats]:
    """Discriminator hinge loss, averaged over scales: relu(1 - D(real)) + relu(1 + D(fake))."""
    real = sum(F.relu(1 - r.float()).mean() for r in real_logits) / len(real_logits)
    fake = sum(F.relu(1 + f.float()).mean() for f in fake_logits) / len(fake_logits)
    return real + fake, {"d_real": real.detach(), "d_fake": fake.detach()}


def g_hinge(fake_logits: list[torch.Tensor]) -> tuple[torch.Tensor, Stats]:
    """Generator hinge loss: -D(fake), averaged over scales."""
    loss = -sum(f.float().mean() for f in fake_logits) / len(fake_logits)
    return loss, {"g_gan": loss.detach()}


class LeCam(nn.Module):
    """LeCam regularisation of the discriminator (Tseng et al., CVPR 2021), for GANs on little data.

    Keeps D's outputs on real images near the running mean of its outputs on fakes and vice versa,
    which bounds how far D can drift apart on a set it has memorised. The two anchors are EMA
    buffers, so they travel in the training state and a resumed run is exact.
    """

    def __init__(self, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("anchor_real", torch.zeros(()))
        self.register_buffer("anchor_fake", torch.zeros(()))

    def forward(self, real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
        real = torch.stack([r.float().mean() for r in real_logits]).mean()
        fake = torch.stack([f.float().mean() for f in fake_logits]).mean()
        with torch.no_grad():
            self.anchor_real.lerp_(real.detach(), 1 - self.decay)
            self.anchor_fake.lerp_(fake.detach(), 1 - self.decay)
        reg = sum(F.relu(r.float() - self.anchor_fake).square().mean() for r in real_logits) / len(real_logits)
        return reg + sum(F.relu(self.anchor_real - f.float()).square().mean() for f in fake_logits) / len(fake_logits)


def feature_matching(
    real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]
) -> tuple[torch.Tensor, Stats]:
    """L1 between discriminator features of real and fake (logits excluded), averaged over scales.

    Real features are detached: this loss trains the generator only.
    """
    total = 0.0
    for real_scale, fake_scale in zip(real_feats, fake_feats, strict=True):
        for r, f in zip(real_scale[:-1], fake_scale[:-1], strict=True):
            total = total + F.l1_loss(f.float(), r.detach().float())
    loss = total / len(real_feats)
    return loss, {"g_fm": loss.detach()}


PerceptualMode = Literal["imagenet", "random", "random-legacy"]


class VGGPerceptualLoss(nn.Module):
    """L1 between VGG19 features of output and target (images in [-1, 1]).

    - mode="imagenet": relu{1..5}_1 of torchvision's ImageNet VGG19, weighted 1/32 … 1 as in
      pix2pixHD (downloaded by torchvision when online, or a local file).
    - mode="random": the explicit, logged fallback for machines without those weights — a fixed,
      seeded random VGG19 up to relu3_1 with Kaiming-normal convs and zero biases, equally
      weighted. PyTorch's default conv init (which `make_layers` keeps: torchvision's own VGG init
      only runs inside its `VGG` class) shrinks features ~4x per block, so relu4/5 carried almost
      no gradient while costing most of the FLOPs; with Kaiming init every kept layer has features
      of order one, and stopping at relu3_1 cuts the cost by 70 % (random deep features measure
      nothing that shallow ones do not).
    - mode="random-legacy": the pre-fix random VGG19 (default init, relu5_1, pix2pixHD weights),
      kept only to reproduce older runs and ablations.
    """

    layer_ends = (2, 7, 12, 21, 30)  # indices after relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
    weights = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def __init__(self, mode: PerceptualMode = "imagenet", weights_path: str | None = None, allow_download: bool = True):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        # Only the conv trunk up to relu5_1: the 120 M classifier parameters are never needed.
        if mode == "imagenet":
            features = make_layers(cfgs["E"])
            try:
                state = VGG19.load_state_dict("The VGG perceptual loss", weights_path, allow_download)
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"{exc} Or train with --perceptual random, an explicit fallback.") from exc
            features.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("features.")}, strict=True)
        elif mode in ("random", "random-legacy"):
            with torch.random.fork_rng(devices=[]):  # leave the caller's RNG untouched
                torch.manual_seed(0)  # a fixed random VGG, identical on every run and machine
                features = make_layers(cfgs["E"])
                if mode == "random":
                    for m in features.modules():
                        if isinstance(m, nn.Conv2d):
                            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                            nn.init.zeros_(m.bias)
            if mode == "random":
                self.layer_ends, self.weights = self.layer_ends[:3], (1 / 3, 1 / 3, 1 / 3)
            log.warning("perceptual loss: using a FIXED RANDOM VGG19 (ImageNet weights not available)")
        else:
            raise ValueError(f"mode must be 'imagenet', 'random' or 'random-legacy', got {mode!r}")
        self.mode = mode
        self.features = features[: self.layer_ends[-1]].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        super().train(mode)
        self.features.eval()  # always frozen
        return self

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out, start = [], 0
        for end in self.layer_ends:
            x = self.features[start:end](x)
            out.append(x)
            start = end
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        fake_f, real_f = self._feats(fake), self._feats(real)
        loss = sum(
            w * F.l1_loss(f.float(), r.detach().float()) for w, f, r in zip(self.weights, fake_f, real_f, strict=True)
        )
        return loss, {"g_vgg": loss.detach()}

    def extra_repr(self) -> str:
        return f"mode={self.mode}"
