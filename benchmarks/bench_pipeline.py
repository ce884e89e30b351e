"""The app's server work without the server: the requests of bench_app.py (a toggle, a new content
image) made on `TranslationPipeline` directly, plus the PNG encode the app does for each result.

bench_app.py needs gradio; this runs wherever torch does (a GPU machine without gradio too), and on a
machine that has both, bench_app minus this is gradio's own overhead.

    python -m benchmarks.bench_pipeline [--quick] [--device cuda] [--checkpoint DIR] [--requests 20]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.pipeline import TranslationPipeline

from .common import fresh_variant, header, ms_cells, publish, sync

ROOT = Path(__file__).resolve().parents[1]
DEMO = demo_checkpoint()
CONTENT, STYLE = ROOT / "assets/examples/content_obama_portrait.jpg", ROOT / "assets/examples/content_astronaut.jpg"


def run(quick: bool = True, device: str | None = None, checkpoint: str | None = None, requests: int = 20,
        write: bool = True) -> str:  # fmt: skip
    pipe = TranslationPipeline.from_pretrained(checkpoint or DEMO, device=device)
    status = pipe.senses.status()
    usable = [m for m in pipe.trained_modalities if status[m].ok]
    content, style = Image.open(CONTENT).convert("RGB"), Image.open(STYLE).convert("RGB")

    def request(image: Image.Image, modalities: list[str]) -> tuple[float, dict]:
        t0 = time.perf_counter()
        result = pipe(image, style, modalities=modalities, resolution=256)
        result.image.save(io.BytesIO(), format="PNG")  # the app writes every result as a PNG
        sync(pipe.device)
        return time.perf_counter() - t0, result.timings

    for _ in range(2 if quick else 3):  # warm-up: models load, caches fill
        request(content, usable)
    n = max(3, requests // 4) if quick else requests
    toggles = [request(content, [m for j, m in enumerate(usable) if j != i % len(usable)])[0] for i in range(n)]
    def new_images(offset: int) -> tuple[list[float], list[float]]:
        totals, senses = [], []
        for i in range(n):  # a new image each time, so the senses run
            seconds, timings = request(fresh_variant(content, offset + i), usable)
            totals.append(seconds)
            senses.append(timings["senses"])
        return totals, senses

    news, senses_s = new_images(0)
    pipe.senses.parallel = False  # the same requests with the senses one after another: their ratio
    serial_news, serial_senses = new_images(n)
    pipe.senses.parallel = True
    text = header("Pipeline round trip (the app's server work without gradio, resolution 256: the 410×512 portrait at 192×256)", pipe.device,
                  f"checkpoint {checkpoint or 'bundled demo'}, {n} requests each")  # fmt: skip
    text += f"\nSenses used: {', '.join(pipe.senses.sense(m).name for m in usable)}\n\n"
    text += "| request | median | p95 |\n|---|---|---|\n"
    text += f"| toggle (cached maps + style): content encoder + generator + PNG | {ms_cells(toggles, 1)} |\n"
    text += f"| new content image: senses + content encoder + generator + PNG | {ms_cells(news, 1)} |\n"
    text += f"| … of which the senses (side by side, the default) | {ms_cells(senses_s, 1)} |\n"
    text += f"| new content image, senses one after another | {ms_cells(serial_news, 1)} |\n"
    text += f"| … of which the senses | {ms_cells(serial_senses, 1)} |\n"
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device")
    p.add_argument("--checkpoint")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    run(a.quick, a.device, a.checkpoint, a.requests, not a.no_write)


if __name__ == "__main__":
    main()
