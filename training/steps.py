"""One optimisation step each for the discriminator and the generator, plus EMA and modality
dropout; pure enough to import in tests. Paper §3.3: L1 VGG19 features + L1 discriminator feature
matching + hinge GAN on self-reconstructions, and hinge GAN on random (content, style) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sensorium.losses import LeCam, d_hinge, feature_matching, g_hinge

from . import disc_augment
from .config import TrainConfig
from .sense_consistency import SenseConsistency


@dataclass
class Batch:
    image: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    maps: torch.Tensor  # (B, C, H, W) in [0, 1]
    presence: torch.Tensor  # (B, M) after modality dropout
    domain: torch.Tensor  # (B,)
    pair: torch.Tensor  # (B,) index of the style image for the random pair
    style_image: torch.Tensor | None = None  # (B, 3, H, W) what the style encoder reads (None: `image`)
    aug_d: disc_augment.Draw | None = None  # augmentation of D's inputs in the D step
    aug_g: disc_augment.Draw | None = None  # … and in the G step

    @property
    def style_source(self) -> torch.Tensor:
        return self.image if self.style_image is None else self.style_image


def drop_modalities(presence: torch.Tensor, p: float, generator: torch.Generator, p_all: float = 0.0) -> torch.Tensor:
    """Zero each present modality with probability p, and every modality of a sample with
    probability `p_all`, so one model serves every subset a person can tick, including none
    (style-only output, which independent drops alone reach with probability p**M: 0.07 % for six)."""
    keep = torch.rand(presence.shape, generator=generator) >= p
    if p_all > 0:  # drawn after the rest, so p_all = 0 keeps the draws of earlier versions
        keep &= (torch.rand(presence.shape[0], 1, generator=generator) >= p_all)
    return presence * keep.to(presence)


def style_view(image: torch.Tensor, generator: torch.Generator, min_scale: float = 0.7) -> torch.Tensor:
    """An independent view of each image for the style encoder: random flip and a random square
    crop of side min_scale…1, resized back. The generator must rebuild the *target* layout from the
    maps, so a style code read off another framing cannot carry that layout for free."""
    b, _, h, w = image.shape
    flip = torch.rand(b, generator=generator) < 0.5
    scale = min_scale + torch.rand(b, generator=generator) * (1 - min_scale)
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (1 - scale)[:, None]
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -scale, scale)
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(image.device, image.dtype), [b, 1, h, w], align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_pairing(batch_size: int, generator: torch.Generator, domain: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the sample whose style each sample borrows: a random cyclic shift of the batch.

    With `domain` (B,) holding several domains, each sample instead borrows from a uniformly drawn
    sample of another domain, so random pairs are cross-domain translations (content of a male face,
    style of a female one) wherever the batch allows. Every draw comes from `generator`, and a
    single-domain batch pairs exactly as before, so resume stays bitwise exact.
    """
    if batch_size == 1:
        return torch.zeros(1, dtype=torch.long)
    shift = int(torch.randint(1, batch_size, (1,), generator=generator))
    pair = (torch.arange(batch_size) + shift) % batch_size
    domain = None if domain is None else domain.cpu()
    if domain is None or domain.unique().numel() < 2:
        return pair
    other = domain[None, :] != domain[:, None]  # (B, B): candidates from another domain; no row is empty
    k = (torch.rand(batch_size, generator=generator) * other.sum(1)).long()  # which candidate, uniform
    rank = other.long().cumsum(1) - 1  # (B, B): rank of each candidate within its row
    return ((rank == k[:, None]) & other).long().argmax(dim=1)


def generate_pair(g: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward over [reconstruction; random pair]: content of each image with its own style,
    then with a borrowed style → (rec, paired, the style codes of the pairs). One call so DDP sees a single
    forward per step."""
    b = batch.image.shape[0]
    maps = torch.cat([batch.maps, batch.maps])
    presence = torch.cat([batch.presence, batch.presence])
    styles = torch.cat([batch.style_source, batch.image[batch.pair]])
    domains = torch.cat([batch.domain, batch.domain[batch.pair]])
    out, style = g(maps, presence, styles, domains, return_style=True)
    return out[:b], out[b:], style[b:]


def disc_inputs(batch: Batch, real: torch.Tensor, rec: torch.Tensor, paired: torch.Tensor, cond: torch.Tensor | None,
                draw: disc_augment.Draw | None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:  # fmt: skip
    """[real; reconstructions; random pairs] as D sees them: every group with the same maps and
    the same augmentation draw (so real and reconstruction stay paired), and the domain D judges
    each with (a random pair is judged as its style's domain)."""
    x = torch.cat([real, rec, paired])
    c = None if cond is None else torch.cat([cond, cond, cond])
    domains = torch.cat([batch.domain, batch.domain, batch.domain[batch.pair]])
    x, c = disc_augment.apply(draw, x, c)
    return x, c, domains


def r1_due(cfg: TrainConfig, step: int) -> bool:
    """Whether `step`'s D step adds lazy R1 (every `r1_every` steps): its double backward cannot run
    through torch.compile, so train.py runs that step's D uncompiled."""
    return cfg.r1_gamma > 0 and step % cfg.r1_every == 0


def d_step(d: nn.Module, batch: Batch, rec: torch.Tensor, paired: torch.Tensor, cond: torch.Tensor | None,
           cfg: TrainConfig, step: int, autocast, lecam: LeCam | None = None) -> tuple[torch.Tensor, dict]:  # fmt: skip
    """Discriminator hinge loss on real vs (reconstructions, random pairs); lazy R1 and LeCam when
    enabled. `rec`, `paired` are this step's generator outputs: detached here, so D's loss never
    reaches G. `cond` is None for an unconditional D (`model.disc_conditional: false`)."""
    use_r1 = r1_due(cfg, step)
    real = batch.image.detach().requires_grad_(use_r1)
    b = real.shape[0]
    x, c, domains = disc_inputs(batch, real, rec.detach(), paired.detach(), cond, batch.aug_d)
    with autocast():
        out = d(x, c, domains)
    real_logits = [s[-1][:b] for s in out]
    fake_logits = [s[-1][b:] for s in out]
    loss, stats = d_hinge(real_logits, fake_logits)
    if lecam is not None and cfg.lambda_lecam > 0:
        reg = lecam(real_logits, fake_logits)
        loss = loss + cfg.lambda_lecam * reg
        stats["d_lecam"] = reg.detach()
    if use_r1:
        (grad,) = torch.autograd.grad(sum(r.float().sum() for r in real_logits), real, create_graph=True)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        loss = loss + cfg.r1_gamma / 2 * r1 * cfg.r1_every
        stats["d_r1"] = r1.detach()
    return loss, stats


def g_step(d_frozen: nn.Module, vgg: nn.Module | None, batch: Batch, rec: torch.Tensor, paired: torch.Tensor,
           cond: torch.Tensor | None, cfg: TrainConfig, autocast, encode_style=None,
           paired_style: torch.Tensor | None = None,
           senses: SenseConsistency | None = None) -> tuple[torch.Tensor, dict, torch.Tensor]:  # fmt: skip
    """Generator + encoders: reconstruct each image from its own maps and style (VGG + feature
    matching + GAN), and fool D with random (content, style) pairs (GAN only: no target image
    exists; with `lambda_style`, the style encoder must read the borrowed style back off the
    output; with `senses`, the sense networks must see the content in both). `rec`, `paired` are the same outputs D just saw, still attached to G's graph: one
    generator forward serves both updates (G is unchanged between them, so a second pass would
    recompute the very same images)."""
    b = batch.image.shape[0]
    x, c, domains = disc_inputs(batch, batch.image, rec, paired, cond, batch.aug_g)
    with autocast():
        out = d_frozen(x, c, domains)
    real_feats = [[f[:b].detach() for f in s] for s in out]
    rec_feats = [[f[b : 2 * b] for f in s] for s in out]
    gan, stats = g_hinge([s[-1][b:] for s in out])
    loss = cfg.lambda_gan * gan
    fm, fm_stats = feature_matching(real_feats, rec_feats)
    loss = loss + cfg.lambda_fm * fm
    stats.update(fm_stats)
    if vgg is not None and cfg.lambda_vgg > 0:
        with autocast():
            perc, perc_stats = vgg(rec, batch.image)
        loss = loss + cfg.lambda_vgg * perc
        stats.update(perc_stats)
    if cfg.lambda_style > 0 and encode_style is not None and paired_style is not None:
        with autocast():
            read_back = encode_style(paired, batch.domain[batch.pair])
        style_rec = F.l1_loss(read_back.float(), paired_style.detach().float())
        loss = loss + cfg.lambda_style * style_rec
        stats["g_style"] = style_rec.detach()
    if senses is not None:
        k = cfg.sense_samples or b
        (person, marks), sense_stats = senses(torch.cat([rec[:k], paired[:k]]), batch.image[:k], batch.maps[:k],
                                              batch.presence[:k])  # fmt: skip
        loss = loss + cfg.lambda_sense_person * person + cfg.lambda_sense_landmarks * marks
        stats.update(sense_stats)
    l1 = F.l1_loss(rec.float(), batch.image.float())
    stats["rec_l1"] = l1.detach()
    if cfg.lambda_l1 > 0:
        loss = loss + cfg.lambda_l1 * l1
    return loss, stats, rec.detach()


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, grad_clip: float,
                   apply: bool) -> torch.Tensor | None:  # fmt: skip
    """Backward and step, with optional grad-norm clipping → the gradient norm before clipping (a
    device tensor; None without clipping or when skipped). `apply=False` (a non-finite loss on
    some rank) leaves the weights untouched, on every rank alike."""
    opt.zero_grad(set_to_none=True)
    if not apply:
        return None
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip) if grad_clip else None
    opt.step()
    return norm


def ema_decay_at(step: int, decay: float, start: int = 0) -> float:
    """EMA decay with warm-up: (1 + t) / (10 + t) early on, so a short run's EMA is not mostly its
    random initialisation (0.999 ** 288 = 0.75 of it after 288 steps without warm-up)."""
    if step < start:
        return 0.0
    t = step - start
    return min(decay, (1 + t) / (10 + t))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm.detach(), 1 - decay)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)
