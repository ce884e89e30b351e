"""The exploring panels and the live webcam on the bundled checkpoint at resolution 256
(the 410×512 portrait runs at 192×256):

- "What each sense adds": every subset in one batch (`render_subsets`) against one `render` per
  subset, and "Where style is free": 8 sampled styles in one batch against one at a time. Rounds
  are interleaved and each round has content never seen before (sensed outside the timing), so
  neither side reuses the other's encoded content; the ratio is measured in the same run.
- Live webcam: frames through `demo.webcam.live_frame` (the app's stream handler: uncached senses,
  map smoothing, cached style, generator) per runtime, with the split between senses and generator.

    python -m benchmarks.bench_explore [--rounds 5] [--frames 30] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.contributions import subsets
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.senses import SenseSet

from .common import fresh_variant, header, publish

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "assets/examples/content_obama_portrait.jpg"
STYLE = ROOT / "assets/examples/style_starry_night.jpg"
RES = 256


def batched_vs_single(pipe: TranslationPipeline, rounds: int) -> dict[str, list[float]]:
    """Seconds per grid / heat map, batched and one by one, interleaved over fresh contents."""
    image = Image.open(CONTENT).convert("RGB")
    usable = [m for m in pipe.trained_modalities if pipe.senses.status()[m].ok]
    style = pipe.style(Image.open(STYLE), RES)
    styles = pipe.sample_styles(8, seed=0)
    sets = list(dict.fromkeys(s.modalities for s in subsets(usable)))
    calls = {
        "grid batched": lambda c: pipe.render_subsets(c, style, sets),
        "grid one by one": lambda c: [pipe.render(c, style, s) for s in sets],
        "heat map batched": lambda c: pipe.render(c, styles, usable),
        "heat map one by one": lambda c: [pipe.render(c, s, usable) for s in styles],
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    names = list(calls)
    for r in range(rounds + 1):  # round 0 warms up
        for j, name in enumerate(names[r % 4:] + names[: r % 4]):
            content = pipe.sense(fresh_variant(image, 4 * r + j + 1), RES, usable)  # never encoded before
            t = time.perf_counter()
            calls[name](content)
            if r:
                times[name].append(time.perf_counter() - t)
    times["_subsets"] = [float(len(sets))]
    return times


def webcam_fps(model: Sensorium, runtime: str, frames: int) -> dict[str, float]:
    """fps and per-frame ms of the app's stream handler on `frames` distinct frames."""
    from demo.state import DemoState
    from demo.webcam import live_frame

    pipe = TranslationPipeline(model, senses=SenseSet(model.config.modalities, preferred=dict(model.info.senses)),
                               device="cpu", runtime=runtime)  # fmt: skip
    state = DemoState.create(pipe)
    base = Image.open(CONTENT).convert("RGB")
    video = [np.asarray(fresh_variant(base, i).resize((320, 400))) for i in range(frames + 3)]
    session = None
    for frame in video[:3]:  # warm-up: senses load, runtime settles
        _, session, _ = live_frame(state, frame, str(STYLE), session, resolution=RES)
    session = None
    t = time.perf_counter()
    for frame in video[3:]:
        _, session, _ = live_frame(state, frame, str(STYLE), session, resolution=RES)
    wall = time.perf_counter() - t
    return {"runtime": pipe.runtime.name, "fps": frames / wall, "senses_ms": 1e3 * session.senses_s / session.frames,
            "generator_ms": 1e3 * session.generator_s / session.frames}  # fmt: skip


def run(rounds: int = 5, frames: int = 30, write: bool = True) -> str:
    model = Sensorium.from_pretrained(demo_checkpoint())
    pipe = TranslationPipeline(model, senses=SenseSet(model.config.modalities, preferred=dict(model.info.senses)),
                               device="cpu")  # fmt: skip
    times = batched_vs_single(pipe, rounds)
    n_sets = int(times.pop("_subsets")[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()[0]
    text = header("Exploring panels and live webcam (bundled checkpoint, resolution 256: the portrait at 192×256)", pipe.device,
                  f"runtime {pipe.runtime.name}, {rounds} interleaved rounds, load average {load:.1f}")  # fmt: skip
    text += "\n| render | batched | one by one | one by one / batched |\n|---|---:|---:|---:|\n"
    for what, label in (("grid", f"what each sense adds: {n_sets} subsets"), ("heat map", "where style is free: 8 styles")):
        b, s = med[f"{what} batched"], med[f"{what} one by one"]
        text += f"| {label} | {b * 1e3:.0f} ms | {s * 1e3:.0f} ms | {s / b:.2f}× |\n"
    text += "\n| live webcam, runtime | fps | senses ms/frame | generator ms/frame |\n|---|---:|---:|---:|\n"
    for runtime in ("eager", "auto"):
        r = webcam_fps(model, runtime, frames)
        text += f"| {r['runtime']} | {r['fps']:.1f} | {r['senses_ms']:.0f} | {r['generator_ms']:.0f} |\n"
    text += (f"\nWebcam: {frames} distinct 320×400 frames through the app's stream handler (senses uncached, maps "
             "smoothed, style encoded once); senses and generator run one after the other per frame.\n")  # fmt: skip
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    run(a.rounds, a.frames, not a.no_write)


if __name__ == "__main__":
    main()
