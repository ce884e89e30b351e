"""Image metrics that need no foreign weights (PSNR, SSIM, colour statistics), plus FID/KID from
Inception pool features when the caller can supply them. Images in [-1, 1], (B, 3, H, W)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB on [0, 1] intensities."""
    mse = ((a - b) / 2).square().mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) with a Gaussian window, on [0, 1] intensities."""
    a, b = (a + 1) / 2, (b + 1) / 2
    coords = torch.arange(window, dtype=a.dtype, device=a.device) - window // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum())[None, None]
    kernel = (g.transpose(-1, -2) @ g).expand(a.shape[1], 1, window, window)
    blur = lambda x: F.conv2d(x, kernel, groups=x.shape[1])  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


def color_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between per-channel mean and std: a crude, weight-free measure of global style."""
    stats = lambda x: torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)  # noqa: E731
    return (stats(a) - stats(b)).abs().mean(dim=1)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two sets of (N, D) features (Heusel et al. 2017)."""
    from scipy import linalg

    mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
    cov_a, cov_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def kernel_inception_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (Bińkowski et al. 2018)."""
    d = feats_a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    m, n = len(feats_a), len(feats_b)
    kaa, kbb, kab = k(feats_a, feats_a), k(feats_b, feats_b), k(feats_a, feats_b)
    return float((kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
                 - 2 * kab.mean())  # fmt: skip
