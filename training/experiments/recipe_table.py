"""One markdown table from the recipe ablation's evaluations (`training.evaluate` JSON per row),
and with --grid one image: every row's evaluation grid (content | style | output) side by side.

    python -m training.experiments.recipe_table runs/recipe_ablation_64 previous new … > table.md
    python -m training.experiments.recipe_table runs/recipe_ablation_64 previous new … --grid docs/img/x.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (
    ("held-out PSNR ↑", "reconstruction_psnr", "{:.2f}"),
    ("SSIM ↑", "reconstruction_ssim", "{:.3f}"),
    ("memorised ↓", "memorisation_fraction", "{:.2f}"),
    ("margin ↓", "memorisation_margin", "{:+.3f}"),
    ("content Δ ↓", "content_mean", "{:.4f}"),
    ("style change", "style_change_l1", "{:.3f}"),
    ("colour dist. ↓", "style_color_distance", "{:.3f}"),
)


LABELS = {"new": "new (all)", "new_no_augment": "-augment", "new_legacy_vgg": "-VGG fix",
          "new_no_style_view": "-style view", "new_no_composites": "-composites"}  # fmt: skip


def content_mean(metrics: dict) -> float | None:
    """Mean of the per-modality content-consistency errors that could be measured."""
    values = [v for v in (metrics.get("content_consistency") or {}).values() if isinstance(v, (int, float))]
    return sum(values) / len(values) if values else None


def table(out: Path, rows: list[str]) -> str:
    lines = ["| row | " + " | ".join(c[0] for c in COLUMNS) + " |", "|---" + "|---:" * len(COLUMNS) + "|"]
    for row in rows:
        metrics = json.loads((out / "table" / f"{row}.json").read_text())
        metrics["content_mean"] = content_mean(metrics)
        cells = [fmt.format(metrics[key]) if metrics.get(key) is not None else "—" for _, key, fmt in COLUMNS]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid(out: Path, rows: list[str], path: Path, scale: int = 2) -> Path:
    """The rows' eval grids side by side, each under its name (the first row's content and style
    columns are kept once, on the left; the other rows add their output column only)."""
    from PIL import Image, ImageDraw

    grids = [Image.open(out / "eval" / row / "grid.png").convert("RGB") for row in rows]
    w, h = grids[0].size
    col = w // 3  # content | style | output
    label_h = 14
    sheet = Image.new("RGB", (2 * col + col * len(rows), h + label_h), "white")
    sheet.paste(grids[0].crop((0, 0, 2 * col, h)), (0, label_h))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 1), "content | style", fill="black")
    for i, (row, g) in enumerate(zip(rows, grids, strict=True)):
        x = 2 * col + i * col
        sheet.paste(g.crop((2 * col, 0, 3 * col, h)), (x, label_h))
        draw.text((x + 2, 1), LABELS.get(row, row)[:12], fill="black")
    sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--grid" in args:
        i = args.index("--grid")
        target = Path(args[i + 1])
        del args[i : i + 2]
        grid(Path(args[0]), args[1:], target)
    else:
        print(table(Path(args[0]), args[1:]))
