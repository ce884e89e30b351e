"""Builders for the senses tests: tiny random transformers models saved like hub checkpoints
(config + weights + image processor), and real photos that ship with scikit-image.

The tiny models go through exactly the code path of a hub id (`from_pretrained` on a directory).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Where mediapipe finds the astronaut's face in the 512x512 skimage image (checked by running it:
# mesh x 179..271, y 71..177); the tests allow a margin around it.
ASTRONAUT_FACE_BOX = (170, 60, 280, 190)  # x0, y0, x1, y1


def astronaut() -> Image.Image:
    from skimage.data import astronaut as load

    return Image.fromarray(load())


def coffee() -> Image.Image:
    """A cup of coffee: no person, no face."""
    from skimage.data import coffee as load

    return Image.fromarray(load())


def make_tiny_depth(path: Path) -> Path:
    """A ~76k-parameter random Depth Anything (DINOv2 backbone) + DPT processor at 56 px."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        patch_size=14, image_size=28, out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )  # fmt: skip
    config = DepthAnythingConfig(
        backbone_config=backbone, fusion_hidden_size=16, reassemble_hidden_size=16,
        neck_hidden_sizes=[8, 16, 16, 16], head_hidden_size=8, patch_size=14,
    )  # fmt: skip
    torch.manual_seed(0)
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(path)
    DPTImageProcessor(
        size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14, do_pad=False
    ).save_pretrained(path)
    return path


def make_tiny_segformer(path: Path, labels: list[str] | None = None) -> Path:
    """A tiny random SegFormer (2 stages, 16 channels) + processor at 64 px.

    Default labels: 150 unnamed classes (ADE20k-sized); pass names for e.g. CelebAMask-HQ.
    """
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    n = len(labels) if labels else 150
    id2label = {i: name for i, name in enumerate(labels)} if labels else None
    config = SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
        decoder_hidden_size=16, num_labels=n,
        **({"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} if id2label else {}),
    )  # fmt: skip
    torch.manual_seed(0)
    SegformerForSemanticSegmentation(config).eval().save_pretrained(path)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(path)
    return path


def pooled(t, k: int = 16) -> np.ndarray:
    """Average-pool a (C, H, W) map by k: compares maps 'up to interpolation'."""
    import torch.nn.functional as F

    return F.avg_pool2d(t[None].float(), k)[0].numpy()
