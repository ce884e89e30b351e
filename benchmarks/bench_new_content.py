"""A new content image end to end on the bundled checkpoint: its senses (side by side, as the app
runs them), then the render, and each sense alone; optionally against another checkout of the
project, in alternating processes, so a change to the senses is measured against the code before it
in one run.

    python -m benchmarks.bench_new_content [--rounds 3] [--against DIR] [--runtime auto] [--no-write]

Each process loads the checkpoint and makes 12 new-content requests (the portrait's centred square
at resolution 256, a new crop each time so no cache answers) after 2 warm-ups, then 10 with the
senses one after another; it reports medians. `--against DIR` runs this same file with DIR's
`sensorium` on the path (DIR: a `git worktree` of an older commit, say), alternating with this
checkout, `--rounds` times each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
REQUESTS, WARMUP, SEQUENTIAL = 12, 2, 10


def measure(runtime: str) -> dict:
    """One process's medians (ms): senses side by side, the render after them, the whole request,
    each sense alone (the senses one after another) and their sum."""
    import torch
    from PIL import Image

    from benchmarks.common import fresh_variant
    from sensorium.bundled import demo_checkpoint
    from sensorium.images import center_crop_square
    from sensorium.model import Sensorium
    from sensorium.pipeline import TranslationPipeline
    from sensorium.senses import SenseSet

    torch.set_grad_enabled(False)
    model = Sensorium.from_pretrained(demo_checkpoint())
    senses = SenseSet(model.config.modalities, preferred=dict(model.info.senses))
    pipe = TranslationPipeline(model, senses=senses, device="cpu", runtime=runtime)
    portrait = Image.open(EXAMPLES / "content_obama_portrait.jpg").convert("RGB")
    square = center_crop_square(portrait, min(portrait.size))
    style = pipe.style(Image.open(EXAMPLES / "style_starry_night.jpg").convert("RGB"), 256)
    usable = [m for m in pipe.trained_modalities if senses.status()[m].ok]

    sensing, rendering, whole = [], [], []
    for i in range(WARMUP + REQUESTS):
        start = time.perf_counter()
        content = pipe.sense(fresh_variant(square, i), 256, usable)  # new: no cache answers
        sensed = time.perf_counter()
        pipe.render(content, style, usable)
        done = time.perf_counter()
        if i >= WARMUP:
            sensing.append(sensed - start)
            rendering.append(done - sensed)
            whole.append(done - start)
    senses.parallel = False
    alone: dict[str, list[float]] = {m: [] for m in usable}
    for i in range(SEQUENTIAL):
        maps = pipe.sense(fresh_variant(square, 100 + i), 256, usable).maps
        for m in usable:
            alone[m].append(maps.seconds[m])

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1e3, 1)

    each = {m: ms(v) for m, v in alone.items()}
    return {"runtime": pipe.runtime.name, "senses": ms(sensing), "render": ms(rendering), "whole": ms(whole),
            "alone": each, "alone_sum": round(sum(each.values()), 1)}  # fmt: skip


def _child(checkout: Path, runtime: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, __file__, "--child", "--runtime", runtime], cwd=checkout, env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def _label(checkout: Path) -> str:
    """The checkout's commit, with "+ changes" when its tree differs from it."""
    git = ["git", "-C", str(checkout)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
    return f"commit {commit or '?'}" + (" + changes" if dirty.strip() else "")


def run(rounds: int = 3, against: Path | None = None, runtime: str = "auto", write: bool = True) -> str:
    import torch

    from benchmarks.common import header, publish

    load_before = os.getloadavg()
    checkouts = {_label(ROOT): ROOT} | ({_label(against) + " (against)": against} if against else {})
    rows: dict[str, list[dict]] = {label: [] for label in checkouts}
    for _ in range(rounds):
        for label, checkout in checkouts.items():
            rows[label].append(_child(checkout, runtime))
    load_after = os.getloadavg()
    text = header("A new content image: senses side by side, then the render (bundled checkpoint, 256²)",
                  torch.device("cpu"), f"{rounds} processes per row, alternating; medians of {REQUESTS} requests "
                  f"each, the median process shown; load average {load_before[0]:.1f} → {load_after[0]:.1f}")  # fmt: skip
    modalities = list(next(iter(rows.values()))[0]["alone"])
    text += ("\n| code | runtime | senses side by side | render | whole request | senses one after another (sum) | "
             + " | ".join(modalities) + " |\n|---|---|" + "---:|" * (4 + len(modalities)) + "\n")  # fmt: skip
    for label, results in rows.items():
        mid = {key: statistics.median(r[key] for r in results) for key in ("senses", "render", "whole", "alone_sum")}
        alone = " | ".join(f"{statistics.median(r['alone'][m] for r in results):.0f} ms" for m in modalities)
        text += (f"| {label} | {results[0]['runtime']} | {mid['senses']:.0f} ms | {mid['render']:.0f} ms | "
                 f"{mid['whole']:.0f} ms | {mid['alone_sum']:.0f} ms | {alone} |\n")  # fmt: skip
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--against", type=Path, help="another checkout of the project, measured alternately")
    p.add_argument("--runtime", default="auto")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(measure(a.runtime)))
        return
    run(a.rounds, a.against.resolve() if a.against else None, a.runtime, not a.no_write)


if __name__ == "__main__":
    main()
