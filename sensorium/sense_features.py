"""A perceptual loss from trained features that ship offline: the early layers of mediapipe's
selfie-segmentation and face-mesh networks (run in torch, sensorium.senses.mediapipe_ports).

Where torchvision's ImageNet VGG19 is absent (every offline machine here) the only other
perceptual signal is a random VGG. These two networks were trained on people and faces, the very
images the portrait models learn, so their features may measure what matters there: silhouette,
skin, eyes and mouth. Both trunks are fully convolutional up to the layers used, so they read the
training resolution upsampled to 128², not mediapipe's 256² / 192². Each layer's L1 is divided by
the target features' mean magnitude (layers differ in scale by orders of magnitude), then
averaged, so `lambda_vgg` weighs it like the random VGG's equally weighted layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .senses.mediapipe_ports import FACE_LANDMARK_MODEL, SELFIE_MODEL, mediapipe_model
from .senses.tflite import load_tflite

SELFIE_LAYERS = ("re_lu", "re_lu_4", "h_swish_2")  # 64², 16², 8² at a 128² input
MESH_LAYERS = ("p_re_lu_3", "p_re_lu_6", "p_re_lu_9", "p_re_lu_12")  # 64², 32², 16², 8²
INPUT_SIDE = 128


class SenseFeatureLoss(nn.Module):
    """L1 between the sense networks' features of output and target (images in [-1, 1])."""

    mode = "mediapipe"

    def __init__(self) -> None:
        super().__init__()
        self.selfie = load_tflite(mediapipe_model(SELFIE_MODEL)).requires_grad_(False)
        self.mesh = load_tflite(mediapipe_model(FACE_LANDMARK_MODEL)).requires_grad_(False)

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.interpolate((x.float() + 1) / 2, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False)
        return [*self.selfie(x, keep=SELFIE_LAYERS, outputs=False), *self.mesh(x, keep=MESH_LAYERS, outputs=False)]

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        b = fake.shape[0]
        feats = self._feats(torch.cat([fake, real.detach()]))  # one pass over both halves
        terms = [F.l1_loss(f[:b], f[b:].detach()) / f[b:].detach().abs().mean().clamp(min=1e-6) for f in feats]
        loss = sum(terms) / len(terms)
        return loss, {"g_vgg": loss.detach()}

    def extra_repr(self) -> str:
        return f"mode={self.mode}: selfie {SELFIE_LAYERS}, face mesh {MESH_LAYERS} at {INPUT_SIDE}²"
