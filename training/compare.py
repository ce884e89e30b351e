"""Compare trained checkpoints on one held-out set: one table row per (checkpoint, task). Trains nothing.

    python -m training.compare --data data/prepared/celebahq/val --out runs/compare \
        --checkpoints sensorium=runs/celebahq_256/sensorium/export no_fusion=runs/celebahq_256/no_fusion/export

A task is a translation direction. With domains A and B in the held-out set, "A→B" takes the content
(sense maps) of A images and the style, and style head, of B images, and FID/KID compare the outputs
with the real B images, as in the paper's male→female / female→male columns. A one-domain set has one
task, "all": random pairs as in training/evaluate.py. Every checkpoint sees the very same pairs.
Metrics are evaluate.py's (LPIPS and FID/KID where their torchvision weights exist), plus
`style_change_l1`: how far the output moves when the style changes (0 = the style image is ignored,
as in content-only SPADE).

Writes OUT/table.md, OUT/table.json, OUT/<name>/<task>/{metrics.json, grid.png} and OUT/grid_<task>.png
(rows: content | style | one column per checkpoint).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from sensorium.data import SenseDataset, list_samples
from sensorium.model import Sensorium

from .evaluate import content_consistency, inception_features, pair_metrics, save_grid, style_heads
from .metrics import frechet_distance, kernel_inception_distance

COLUMNS = [  # (metrics key, table header)
    ("fid", "FID ↓"), ("kid", "KID ↓"), ("reconstruction_psnr", "rec PSNR ↑"), ("reconstruction_ssim", "rec SSIM ↑"),
    ("reconstruction_lpips", "rec LPIPS ↓"),
    ("style_color_distance", "colour dist ↓"), ("style_cosine_similarity", "style cos ↑"),
    ("style_change_l1", "style change"),
]  # fmt: skip


def tasks_of(domains: list[str]) -> list[tuple[str, str]]:
    """(content domain, style domain) for every direction; [(d, d)] for a one-domain set."""
    if len(domains) == 1:
        return [(domains[0], domains[0])]
    return [(a, b) for a in domains for b in domains if a != b]


def task_name(src: str, tgt: str) -> str:
    return "all" if src == tgt else f"{src}→{tgt}"


def task_pairs(domain_ids: list[int], src: int, tgt: int, pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (content, style) indices: content from domain src, style from tgt (never the same image).
    Depends only on the file list, so every checkpoint gets the same pairs."""
    ids = torch.tensor(domain_ids)
    pool_c, pool_s = (ids == src).nonzero()[:, 0], (ids == tgt).nonzero()[:, 0]
    if len(pool_c) == 0 or len(pool_s) == 0 or (src == tgt and len(pool_c) < 2):
        raise SystemExit(f"held-out set has too few images for task {src}→{tgt}")
    g = torch.Generator().manual_seed(seed * 1009 + src * 31 + tgt)
    pos_c = torch.randint(len(pool_c), (pairs,), generator=g)
    if src == tgt:  # a different image of the same pool, as evaluate.py does
        pos_s = (pos_c + torch.randint(1, len(pool_s), (pairs,), generator=g)) % len(pool_s)
    else:
        pos_s = torch.randint(len(pool_s), (pairs,), generator=g)
    return pool_c[pos_c], pool_s[pos_s]


def fid_kid(real: np.ndarray | str, outputs: torch.Tensor, device: torch.device) -> dict:
    """FID/KID of outputs against real features, or None with the reason when Inception is missing."""
    if isinstance(real, str):
        return {"fid": None, "kid": None, "fid_note": real}
    feats = inception_features(outputs, device)
    return {"fid": frechet_distance(real, feats), "kid": kernel_inception_distance(real, feats)}


def describe(model: Sensorium) -> str:
    """The ablation axes of a checkpoint, e.g. 'demod, fusion, skips, 8 senses'."""
    c = model.config
    senses = c.modalities[0] if len(c.modalities) == 1 else f"{len(c.modalities)} senses"
    return ", ".join([c.modulation, "fusion" if c.use_fusion else "no fusion",
                      "skips" if c.use_skips else "no skips", senses])  # fmt: skip


def compare(checkpoints: dict[str, str], data: str, out: Path, pairs: int = 64, seed: int = 0,
            device: str | None = None, senses: bool = True) -> dict:  # fmt: skip
    """Evaluate every checkpoint on every task of `data`; write the table and grids under `out`."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    domains = sorted({d for _, d in list_samples(data)})
    tasks = tasks_of(domains)
    out.mkdir(parents=True, exist_ok=True)
    rows, real_feats, shown = [], {}, {t: [] for t in tasks}
    for name, path in checkpoints.items():
        model = Sensorium.from_pretrained(path, device=dev)
        heads = style_heads(model, domains, name)
        ds = SenseDataset(data, model.config.modalities, domains).to(dev)
        providers = ds.providers()  # the senses that made the held-out maps: re-run the same ones
        for src, tgt in tasks:
            content_idx, style_idx = task_pairs(ds.domain_ids, domains.index(src), domains.index(tgt), pairs, seed)
            metrics, paired_outputs = pair_metrics(model, ds, content_idx, style_idx, heads[src], heads[tgt])
            if (src, tgt) not in real_feats:  # the real target-domain images, once per task
                real_idx = [i for i, d in enumerate(ds.domain_ids) if d == domains.index(tgt)]
                real_feats[(src, tgt)] = inception_features(ds.batch(real_idx)["image"], dev)
            metrics.update(fid_kid(real_feats[(src, tgt)], paired_outputs, dev))
            if senses:
                c = ds.batch(content_idx)
                cc = content_consistency(paired_outputs, c["maps"].cpu(), c["presence"].cpu(), model.config.modalities,
                                         providers)  # fmt: skip
                metrics["content_consistency"] = cc
            task = task_name(src, tgt)
            row = {"model": name, "checkpoint": str(path), "config": describe(model), "task": task,
                   "steps": model.info.steps, "pairs": pairs, **metrics}  # fmt: skip
            task_dir = out / name / task.replace("→", "_to_")
            task_dir.mkdir(parents=True, exist_ok=True)
            (task_dir / "metrics.json").write_text(json.dumps(row, indent=2))
            styles = ds.batch(style_idx[:8])["image"].cpu()
            save_grid(task_dir / "grid.png", content_idx[:8], ds, styles, paired_outputs[:8])
            shown[(src, tgt)].append((ds.batch(content_idx[:8])["image"].cpu(), styles, paired_outputs[:8]))
            rows.append(row)
    for (src, tgt), cols in shown.items():
        save_comparison_grid(out / f"grid_{task_name(src, tgt).replace('→', '_to_')}.png", cols)
    table = {"data": str(data), "domains": domains, "pairs": pairs, "seed": seed, "rows": rows}
    (out / "table.json").write_text(json.dumps(table, indent=2))
    (out / "table.md").write_text(markdown_table(table))
    return table


def save_comparison_grid(path: Path, cols: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """Rows of content | style | output of each checkpoint (same pairs for all)."""
    from torchvision.utils import save_image

    content, style = cols[0][0], cols[0][1]
    grid = torch.stack([content, style, *(paired for _, _, paired in cols)], dim=1).flatten(0, 1)
    save_image(grid * 0.5 + 0.5, path, nrow=2 + len(cols), padding=2)


def markdown_table(table: dict) -> str:
    rows = table["rows"]
    measured = [(m, v) for r in rows for m, v in (r.get("content_consistency") or {}).items()]
    senses = sorted({m for m, v in measured if not isinstance(v, str)})  # skip "sense unavailable" notes
    head = ["model", "config", "task", *(h for _, h in COLUMNS), *(f"Δ{m} ↓" for m in senses)]
    fmt = lambda v: "—" if v is None or isinstance(v, str) else f"{v:.4g}"  # noqa: E731
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cc = r.get("content_consistency") or {}
        cells = [r["model"], r["config"], r["task"], *(fmt(r.get(k)) for k, _ in COLUMNS)]
        cells += [fmt(cc.get(m)) for m in senses]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"Held-out set `{table['data']}` (domains {', '.join(table['domains'])}), {table['pairs']} random "
             f"pairs per task, seed {table['seed']}; task A→B = content of A, style of B."]  # fmt: skip
    notes += sorted({r[k] for r in rows for k in ("fid_note", "lpips_note") if r.get(k)})
    notes.append("style cos uses each model's own style encoder, so compare it within a row's model only; "
                 "Δ<sense> is the mean |map(output) − map(content)| where the sense ran on the output.")  # fmt: skip
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def parse_checkpoints(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--checkpoints takes NAME=DIR, got {item!r}")
        if name in out:
            raise SystemExit(f"checkpoint name {name!r} given twice")
        out[name] = path
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True, metavar="NAME=DIR", help="exports to compare")
    p.add_argument("--data", required=True, help="held-out prepared set (root/<domain>/*.npz)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--pairs", type=int, default=64, help="random pairs per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--no-senses", action="store_true", help="skip content consistency (needs the senses)")
    args = p.parse_args(argv)
    try:
        table = compare(parse_checkpoints(args.checkpoints), args.data, args.out, args.pairs, args.seed,
                        args.device, not args.no_senses)  # fmt: skip
    except FileNotFoundError as exc:  # a wrong --data: one line, not a traceback
        raise SystemExit(f"--data {args.data}: {exc}") from exc
    print((args.out / "table.md").read_text())
    return table


if __name__ == "__main__":
    main()
