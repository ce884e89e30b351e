"""One markdown table from the recipe ablation's evaluations (`training.evaluate` JSON per row).

    python -m training.experiments.recipe_table runs/recipe_ablation_64 previous new … > table.md
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


if __name__ == "__main__":
    print(table(Path(sys.argv[1]), sys.argv[2:]))
