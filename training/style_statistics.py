"""Fit each domain's style Gaussian on its training images: `Sensorium.sample_styles` draws from
it. One home for train.py's export and debias_ema.py's refit."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from sensorium.data import SenseDataset
from sensorium.model import Sensorium


@torch.no_grad()
def fit_style_statistics(model: Sensorium, dataset: SenseDataset, device: torch.device | str | None = None,
                         autocast=nullcontext, chunk: int = 32) -> None:  # fmt: skip
    """Every domain's mean and covariance of style codes, each through its own style head."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    for domain in range(len(dataset.domains)):
        idx = [i for i, d in enumerate(dataset.domain_ids) if d == domain]
        styles = []
        for start in range(0, len(idx), chunk):
            images = dataset.batch(idx[start : start + chunk])["image"].to(device)
            with autocast():
                styles.append(model.encode_style(images, torch.full((len(images),), domain, device=device)).float())
        model.fit_style_statistics(torch.cat(styles).cpu(), domain)
