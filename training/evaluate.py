"""Evaluate a Sensorium export on held-out prepared samples; writes `metrics.json` + `grid.png`.

    python -m training.evaluate CHECKPOINT --data data/prepared/val --out runs/eval [--pairs 64]

Metrics (paper §4 uses FID on random pairs; we add what needs no foreign weights):
- reconstruction (content and style from the same image): PSNR, SSIM, and LPIPS (AlexNet) when
  torchvision's AlexNet weights are present or downloadable (the JSON says why otherwise);
- random (content, style) pairs: content consistency — the senses re-run on the output and
  compared with the input maps (mean |Δ| per modality, lower is better) — and style consistency
  (style-encoder cosine similarity and colour-statistics distance to the style image), plus how
  far the output moves when only the style changes (`style_change_l1`; 0 = style ignored);
- FID / KID on random pairs when torchvision's Inception-v3 weights are present; otherwise the
  JSON says why they are missing;
- memorisation (with `--train-data`): the share of random-pair outputs whose layout lies nearer to
  some training image than to their own content image, and the mean margin (see `memorisation`).
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import torch

from sensorium.backbones import INCEPTION_V3
from sensorium.data import SenseDataset
from sensorium.images import tensor_to_pil
from sensorium.model import CheckpointError, Sensorium

from .lpips_metric import LPIPS, load_lpips
from .metrics import color_distance, frechet_distance, kernel_inception_distance, psnr, ssim


@functools.lru_cache(maxsize=4)
def inception_net(device: str) -> torch.nn.Module | str:
    """torchvision's Inception-v3 up to the 2048-d pool, loaded once; or why it cannot load here."""
    from torchvision.models import inception_v3

    try:
        state = INCEPTION_V3.load_state_dict("FID/KID")
    except FileNotFoundError as exc:
        return str(exc)
    # transform_input: the Google weights want [-1, 1]; torchvision's own builder sets it for them,
    # and it maps the ImageNet-normalised input below to that scale.
    net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    net.load_state_dict(state)
    net.fc = torch.nn.Identity()
    return net.eval().to(device)


def style_heads(model: Sensorium, domains: list[str], name: str) -> dict[str, int]:
    """Held-out domain name → style-encoder head, matched by the names the export was trained on."""
    if model.config.num_domains == 1:
        return {d: 0 for d in domains}
    trained = list(model.info.domains)
    missing = [d for d in domains if d not in trained]
    if missing:
        raise SystemExit(f"checkpoint {name} was trained on domains {trained}; the held-out set has {missing}")
    return {d: trained.index(d) for d in domains}


@functools.lru_cache(maxsize=4)
def lpips_net(device: str) -> LPIPS | str:
    """The calibrated LPIPS (AlexNet) metric, loaded once; or why it cannot load here."""
    try:
        return load_lpips("alex").to(device)
    except FileNotFoundError as exc:
        return str(exc)


def inception_features(images: torch.Tensor, device: torch.device) -> np.ndarray | str:
    """Pool3 features (N, 2048), or a message saying why they cannot be computed here."""
    net = inception_net(str(device))
    if isinstance(net, str):
        return net
    mean = torch.tensor([0.485, 0.456, 0.406], device=device)[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225], device=device)[:, None, None]
    feats = []
    with torch.no_grad():
        for chunk in images.split(32):
            x = torch.nn.functional.interpolate((chunk.to(device) + 1) / 2, size=(299, 299), mode="bilinear")
            feats.append(net((x - mean) / std).cpu())
    return torch.cat(feats).double().numpy()


@torch.no_grad()
def pair_metrics(model: Sensorium, ds: SenseDataset, content_idx: torch.Tensor, style_idx: torch.Tensor,
                 head_c: int = 0, head_s: int = 0) -> tuple[dict, torch.Tensor]:  # fmt: skip
    """The metrics of (content, style) pairs, content and style through the style heads head_c and
    head_s → (metrics, outputs (N, 3, H, W) on CPU in [-1, 1]). Reconstruction uses the content
    image as its own style; `style_change_l1` is how far the style moved the output from it (0 for
    a model that ignores style). One loop for evaluate.py and compare.py."""
    stats: dict[str, list[torch.Tensor]] = {k: [] for k in ("psnr", "ssim", "lpips", "cos", "color", "change")}
    lpips = lpips_net(str(ds.device))
    paired_outputs = []
    for chunk in range(0, len(content_idx), 16):
        ci, si = content_idx[chunk : chunk + 16], style_idx[chunk : chunk + 16]
        c, s = ds.batch(ci), ds.batch(si)
        dev = c["image"].device
        h_c, h_s = torch.full((len(ci),), head_c, device=dev), torch.full((len(ci),), head_s, device=dev)
        content = model.encode_content(c["maps"], c["presence"])
        rec = model.generate(content, model.encode_style(c["image"], h_c))
        s_target = model.encode_style(s["image"], h_s)
        paired = model.generate(content, s_target)
        stats["psnr"].append(psnr(rec, c["image"]))
        stats["ssim"].append(ssim(rec, c["image"]))
        if not isinstance(lpips, str):
            stats["lpips"].append(lpips(rec.float(), c["image"].float()))
        stats["cos"].append(torch.nn.functional.cosine_similarity(model.encode_style(paired, h_s), s_target))
        stats["color"].append(color_distance(paired, s["image"]))
        stats["change"].append((paired - rec).abs().mean(dim=(1, 2, 3)) / 2)
        paired_outputs.append(paired.float().cpu())
    mean = lambda k: float(torch.cat(stats[k]).float().mean())  # noqa: E731
    metrics = {"reconstruction_psnr": mean("psnr"), "reconstruction_ssim": mean("ssim"),
               "style_cosine_similarity": mean("cos"), "style_color_distance": mean("color"),
               "style_change_l1": mean("change")}  # fmt: skip
    metrics.update({"reconstruction_lpips": None, "lpips_note": lpips} if isinstance(lpips, str)
                   else {"reconstruction_lpips": mean("lpips")})  # fmt: skip
    return metrics, torch.cat(paired_outputs)


def layout_features(images: torch.Tensor, size: int = 32) -> torch.Tensor:
    """(N, 3, H, W) → (N, size²): grey, downsampled, zero mean and unit norm per image, so the
    distance compares where things are (structure), not which colours the style chose."""
    grey = torch.nn.functional.adaptive_avg_pool2d(images.float().mean(1, keepdim=True), size).flatten(1)
    grey = grey - grey.mean(1, keepdim=True)
    return grey / grey.norm(dim=1, keepdim=True).clamp_min(1e-6)


def train_layout_features(train: SenseDataset, chunk: int = 256) -> torch.Tensor:
    """`layout_features` of a whole training set, read `chunk` images at a time: 32² features of
    CelebA-HQ's 28k images are 115 MB, the images themselves as float32 22 GB."""
    n = len(train)
    return torch.cat([layout_features(train.batch(range(i, min(i + chunk, n)))["image"]) for i in range(0, n, chunk)])


def memorisation(outputs: torch.Tensor, contents: torch.Tensor, train_images: torch.Tensor | None = None,
                 train_features: torch.Tensor | None = None) -> dict[str, float]:  # fmt: skip
    """How often an output shows a *training* image's layout rather than its own content's.

    margin = d(output, own content) - min over training images d(output, train), in layout features;
    `memorisation_fraction` is the share of outputs with margin > 0 (nearer to some training image:
    a memorised background or pose), `memorisation_margin` the mean margin (lower is better)."""
    f_out, f_own = layout_features(outputs), layout_features(contents)
    f_train = train_features if train_features is not None else layout_features(train_images)
    own = (f_out - f_own).norm(dim=1)
    nearest = torch.cdist(f_out, f_train).min(dim=1).values
    margin = own - nearest
    return {"memorisation_fraction": float((margin > 0).float().mean()), "memorisation_margin": float(margin.mean())}


@torch.no_grad()
def evaluate(checkpoint: str, data: str, out: Path, pairs: int = 64, seed: int = 0,
             device: str | None = None, senses: bool = True, train_data: str | None = None) -> dict:  # fmt: skip
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = Sensorium.from_pretrained(checkpoint, device=dev)
    cfg = model.config
    ds = SenseDataset(data, cfg.modalities)
    n = len(ds)
    g = torch.Generator().manual_seed(seed)
    content_idx = torch.randint(n, (pairs,), generator=g)
    style_idx = (content_idx + torch.randint(1, max(n, 2), (pairs,), generator=g)) % n
    if len(ds.domains) > 1 and cfg.num_domains > 1:
        raise SystemExit(f"{data} holds domains {ds.domains}: evaluate one domain's folder (e.g. {data}/"
                         f"{ds.domains[0]}), or run python -m training.compare, which pairs each direction "
                         "with its style heads")  # fmt: skip
    # The held-out domain's own style head; files straight in a domain's folder take its name.
    domain = Path(data).name if ds.domains == ["default"] and cfg.num_domains > 1 else ds.domains[0]
    head = style_heads(model, [domain], str(checkpoint))[domain]
    ds.to(dev)
    metrics, paired_outputs = pair_metrics(model, ds, content_idx, style_idx, head, head)
    metrics = {"checkpoint": str(checkpoint), "data": str(data), "pairs": pairs, "images": n, **metrics}
    if train_data:
        train = SenseDataset(train_data, cfg.modalities)
        metrics.update(memorisation(paired_outputs, ds.batch(content_idx)["image"].cpu(),
                                    train_features=train_layout_features(train)))  # fmt: skip
    if senses:
        held = ds.batch(content_idx)
        metrics["content_consistency"] = content_consistency(paired_outputs, held["maps"].cpu(), held["presence"].cpu(),
                                                             cfg.modalities, ds.providers())  # fmt: skip
    feats = inception_features(paired_outputs, dev)
    if isinstance(feats, str):
        metrics["fid"] = metrics["kid"] = None
        metrics["fid_note"] = feats
    else:
        real = inception_features(ds.batch(range(n))["image"], dev)
        metrics["fid"], metrics["kid"] = frechet_distance(real, feats), kernel_inception_distance(real, feats)

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    save_grid(out / "grid.png", content_idx[:8], ds, ds.batch(style_idx[:8])["image"].cpu(), paired_outputs[:8])
    return metrics


def content_consistency(outputs: torch.Tensor, maps: torch.Tensor, presence: torch.Tensor, modalities,
                        providers: dict[str, str] | None = None) -> dict:  # fmt: skip
    """Re-run each available sense on the outputs; mean |Δ| to the input map where it was present.
    `providers` (the held-out set's, from prepare.py) makes the re-run use the senses that made the
    input maps."""
    from sensorium.modalities import MODALITIES
    from sensorium.senses import SenseSet

    senses = SenseSet(modalities, preferred=providers)
    status = senses.status()
    usable = [m for m in modalities if status[m].ok]
    channels, start = {}, 0
    for m in modalities:
        channels[m] = slice(start, start + MODALITIES[m].channels)
        start += MODALITIES[m].channels
    errors: dict[str, list[float]] = {m: [] for m in usable}
    for i in range(len(outputs)):
        present = [m for k, m in enumerate(modalities) if m in usable and presence[i, k] >= 0.5]
        if not present:
            continue
        img = tensor_to_pil(outputs[i])
        ext = senses.extract(img, (img.height, img.width), present)  # one image's senses side by side
        for m in present:
            if m in ext:
                errors[m].append((ext[m].tensor - maps[i, channels[m]]).abs().mean().item())
    return {m: f"sense unavailable: {status[m].reason[:160]}" if m not in errors
            else float(np.mean(errors[m])) if errors[m] else "no samples with this modality"
            for m in modalities}  # fmt: skip


def save_grid(path: Path, content_idx, ds, styles, paired_outputs) -> None:
    from torchvision.utils import save_image

    contents = ds.batch(content_idx)["image"].cpu()
    rows = torch.stack([contents, styles, paired_outputs], dim=1).flatten(0, 1)
    save_image(rows * 0.5 + 0.5, path, nrow=3, padding=2)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--pairs", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--no-senses", action="store_true", help="skip content consistency (needs the senses)")
    p.add_argument("--train-data", help="the training set, to measure memorisation against")
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    if args.train_data and not Path(args.train_data).is_dir():  # else its error would name --data
        p.error(f"--train-data {args.train_data}: no such folder")
    try:
        metrics = evaluate(args.checkpoint, args.data, args.out, args.pairs, args.seed, args.device,
                           not args.no_senses, args.train_data)  # fmt: skip
    except CheckpointError as exc:  # a wrong checkpoint path or a broken export: one line
        raise SystemExit(f"{args.checkpoint}: {exc}") from None
    except FileNotFoundError as exc:  # no samples in --data: one line, not a traceback
        raise SystemExit(f"--data {args.data}: {exc}") from exc
    print(json.dumps(metrics, indent=2))
    return metrics


if __name__ == "__main__":
    main()
