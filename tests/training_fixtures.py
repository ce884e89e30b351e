"""Small prepared datasets built from real photos that pip packages ship (scikit-image)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from sensorium.data import save_sample


def real_photos() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]


def prepare_edges_dataset(root: Path, size: int = 32, domains: tuple[str, ...] = ()) -> Path:
    """Centre-cropped photos with a Canny edge map each (the one sense that needs no weights)."""
    photos = real_photos()
    for i, photo in enumerate(photos):
        h, w = photo.shape[:2]
        s = min(h, w)
        crop = photo[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        img = np.asarray(Image.fromarray(crop).resize((size, size), Image.LANCZOS))
        edges = cv2.Canny(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 50, 150).astype(np.float32) / 255
        sub = root / domains[i % len(domains)] if domains else root
        sub.mkdir(parents=True, exist_ok=True)
        save_sample(sub / f"photo{i}.npz", img, {"edges": torch.from_numpy(edges)[None]}, providers={"edges": "edges-canny"})
    return root


TINY_MODEL_ARGS = [
    "--model.modalities", "edges,pose", "--model.channels", "8", "--model.max_channels", "16",
    "--model.num_scales", "3", "--model.style_dim", "8", "--model.style_channels", "8",
    "--model.fusion_hidden", "8", "--model.fusion_style_dim", "4", "--model.disc_channels", "8",
    "--model.disc_layers", "3",
]  # fmt: skip
