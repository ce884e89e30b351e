"""Differentiable augmentation of every discriminator input (DiffAugment, Zhao et al. 2020).

With ~100 training photos a discriminator memorises the set within a few hundred steps and its
feedback turns into "look like training image k". Augmenting *every* image D sees — real ones,
reconstructions and random pairs, in both the D and the G step — with the same distribution keeps
D from telling the sets apart by augmentation, while the ops stay differentiable so G still gets
gradients through them.

- Geometric ops (translation, cutout) move the image and its conditioning maps together, so a
  conditional D still sees a map aligned with its image.
- Colour ops (brightness, saturation, contrast) touch images only.
- One `Draw` holds per-sample parameters for a batch of B samples; `apply` uses it for every group
  of B rows in its input, so a real image, its reconstruction and its random pair get the same
  draw and discriminator feature matching stays paired.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

OPS = ("translation", "cutout", "color")


def parse_policy(policy: str) -> tuple[str, ...]:
    """"translation,cutout,color" → the ops, in a fixed order; raises ValueError naming a bad op."""
    ops = tuple(op.strip() for op in policy.split(",") if op.strip())
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        raise ValueError(f"unknown augmentation ops {unknown}; choose from {list(OPS)}")
    return tuple(op for op in OPS if op in ops)


@dataclass(frozen=True)
class Draw:
    """Per-sample parameters of one augmentation draw (B samples; None = op not in the policy)."""

    shift: torch.Tensor | None = None  # (B, 2) integer pixels (dy, dx), zero padding
    cutout: torch.Tensor | None = None  # (B, 1, H, W) 0 inside the cut square, 1 elsewhere
    brightness: torch.Tensor | None = None  # (B, 1, 1, 1) added, in [-1, 1] image units
    saturation: torch.Tensor | None = None  # (B, 1, 1, 1) factor around the per-pixel grey
    contrast: torch.Tensor | None = None  # (B, 1, 1, 1) factor around the image mean


def draw(policy: tuple[str, ...], b: int, h: int, w: int, generator: torch.Generator, p: float = 1.0,
         device: torch.device | str = "cpu", translation: float = 0.125, cutout: float = 0.5) -> Draw:  # fmt: skip
    """Draw each op's parameters for b samples; each op is applied to a sample with probability p
    (DiffAugment: p = 1). All randomness comes from `generator`, so resume stays exact."""
    out: dict[str, torch.Tensor] = {}

    def on(n: int) -> torch.Tensor:  # which samples get this op
        return (torch.rand(n, generator=generator) < p).float()

    if "translation" in policy:
        limit = torch.tensor([h * translation, w * translation])
        shift = ((torch.rand(b, 2, generator=generator) * 2 - 1) * limit).round() * on(b)[:, None]
        out["shift"] = shift.long().to(device)
    if "cutout" in policy:
        ch, cw = max(1, int(h * cutout + 0.5)), max(1, int(w * cutout + 0.5))
        y0 = (torch.rand(b, generator=generator) * (h - ch + 1)).long().clamp(max=h - ch)[:, None, None]
        x0 = (torch.rand(b, generator=generator) * (w - cw + 1)).long().clamp(max=w - cw)[:, None, None]
        ys, xs = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
        inside = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw) & (on(b)[:, None, None] > 0)
        out["cutout"] = (~inside).float()[:, None].to(device)
    if "color" in policy:
        gate = lambda: on(b)[:, None, None, None]  # noqa: E731
        out["brightness"] = ((torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * gate()).to(device)
        out["saturation"] = (1 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * gate()).to(device)
        out["contrast"] = (1 + (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * gate()).to(device)
    return Draw(**out)


def _repeat(t: torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    return t.repeat(n, *([1] * (t.dim() - 1))).to(like.device, like.dtype if t.is_floating_point() else t.dtype)


def translate(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift each sample by its integer (dy, dx), filling with zeros; a gather, so gradients flow."""
    b, c, h, w = x.shape
    ys = torch.arange(h, device=x.device)[None, :] - shift[:, 0:1]  # (B, H) source row of each output row
    xs = torch.arange(w, device=x.device)[None, :] - shift[:, 1:2]
    valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]  # (B, H, W)
    padded = F.pad(x, (1, 1, 1, 1))  # index 0 and h+1 are the zero border
    yi, xi = (ys.clamp(-1, h) + 1), (xs.clamp(-1, w) + 1)
    rows = padded.gather(2, yi[:, None, :, None].expand(b, c, h, w + 2))
    out = rows.gather(3, xi[:, None, None, :].expand(b, c, h, w))
    return out * valid[:, None].to(out.dtype)


def apply(d: Draw | None, image: torch.Tensor, maps: torch.Tensor | None = None
          ) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
    """Augment (k·B, 3, H, W) images in [-1, 1] and their (k·B, C, H, W) maps with a draw of B
    samples, repeated over the k groups. `d=None` is the identity."""
    if d is None:
        return image, maps
    some = next(t for t in (d.shift, d.cutout, d.brightness) if t is not None)
    k = image.shape[0] // some.shape[0]
    if d.brightness is not None:
        image = image + _repeat(d.brightness, k, image)  # ±0.5 in [-1, 1] units, as DiffAugment
        grey = image.mean(dim=1, keepdim=True)
        image = (image - grey) * _repeat(d.saturation, k, image) + grey
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        image = (image - mean) * _repeat(d.contrast, k, image) + mean
    if d.shift is not None:
        shift = _repeat(d.shift, k, d.shift)
        image = translate(image, shift)
        maps = None if maps is None else translate(maps, shift)
    if d.cutout is not None:
        mask = _repeat(d.cutout, k, image)
        image = image * mask
        maps = None if maps is None else maps * mask.to(maps.dtype)
    return image, maps
