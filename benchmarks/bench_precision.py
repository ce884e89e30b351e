"""bf16 autocast on the CPU against fp32: same pixels? and how fast, on this CPU?

The one reduced-precision path the pipeline has is `precision="bf16"` (autocast; off by default on
the CPU, see sensorium/precision.py). A reduced-precision path is only acceptable at >= 40 dB PSNR
against fp32 eager on every example image, so this measures exactly that: every content and scene
example in assets/examples at resolution 256 (long side, aspect kept), under two style images,
through eager and the fused runtime under bf16 autocast, each against fp32 eager; plus the
milliseconds of one image each way. Whether
the CPU has bf16 units (oneDNN's check) is in the header: without them bf16 is emulated.

    python -m benchmarks.bench_precision [--no-write]
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.conditioning import stack_maps
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.senses import SenseSet

from .common import header, main_with_no_write, publish

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
STYLES = ("style_starry_night.jpg", "style_graffiti.jpg")
MIN_PSNR_DB = 40.0  # the bar for any reduced-precision path


def cpu_has_bf16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@torch.inference_mode()
def images(pipe: TranslationPipeline, content, style: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(images in [-1, 1] as fp32, seconds) of the content encoder + generator under the pipeline's precision."""
    maps = {m: sm.tensor for m, sm in content.maps.items()}
    stacked, presence = stack_maps(maps, pipe.config.modalities, content.size)
    start = time.perf_counter()
    with pipe._autocast():
        out = pipe.runtime.generate(pipe.runtime.encode(stacked, presence), style[None]).float()
    return out, time.perf_counter() - start


def psnr_db(got: torch.Tensor, want: torch.Tensor) -> float:
    mse = ((got - want) / 2).square().mean().item()  # images in [-1, 1] -> [0, 1]
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def run(write: bool = True) -> str:
    model = Sensorium.from_pretrained(demo_checkpoint(), device=torch.device("cpu"))
    senses = SenseSet(model.config.modalities, preferred=dict(model.info.senses))
    ref = TranslationPipeline(model, senses=senses, device="cpu", runtime="eager", precision="fp32")
    rows = {"eager bf16": TranslationPipeline(model, senses=senses, device="cpu", runtime="eager", precision="bf16"),
            "fused bf16": TranslationPipeline(model, senses=senses, device="cpu", runtime="fused", precision="bf16")}  # fmt: skip
    styles = [ref.style(Image.open(EXAMPLES / name).convert("RGB")) for name in STYLES]
    paths = sorted(EXAMPLES.glob("content_*.jpg")) + sorted(EXAMPLES.glob("scene_*.jpg"))
    table = "| image | " + " | ".join(f"{r}: min PSNR (max abs diff)" for r in rows) + " | fp32 ms | bf16 ms (eager, fused) |\n"
    table += "|---|" + "---:|" * (len(rows) + 2) + "\n"
    worst = {r: math.inf for r in rows}
    fp32_s, bf16_s = [], {r: [] for r in rows}
    for path in paths:
        content = ref.sense(Image.open(path).convert("RGB"), 256)
        cells = {r: (math.inf, 0.0) for r in rows}
        for style in styles:
            want, s = images(ref, content, style)
            fp32_s.append(s)
            for row, pipe in rows.items():
                got, s = images(pipe, content, style)
                bf16_s[row].append(s)
                db, diff = psnr_db(got, want), (got - want).abs().max().item()
                cells[row] = (min(cells[row][0], db), max(cells[row][1], diff))
                worst[row] = min(worst[row], db)
        table += (f"| {path.name} | " + " | ".join(f"{db:.1f} dB ({diff:.3f})" for db, diff in cells.values())
                  + f" | {fp32_s[-1] * 1e3:.0f} | " + ", ".join(f"{bf16_s[r][-1] * 1e3:.0f}" for r in rows) + " |\n")  # fmt: skip
    text = header("bf16 autocast against fp32 eager (bundled checkpoint, resolution 256, every example, two styles)",
                  torch.device("cpu"), f"bf16 units: {'yes' if cpu_has_bf16() else 'no (emulated)'}")  # fmt: skip
    text += "\n" + table + "\n"
    for row in rows:
        verdict = "passes" if worst[row] >= MIN_PSNR_DB else "FAILS"
        slower = statistics.median_high(bf16_s[row]) / statistics.median_high(fp32_s)
        text += (f"- {row}: worst {worst[row]:.1f} dB over {len(paths) * len(styles)} images, {verdict} the "
                 f"{MIN_PSNR_DB:.0f} dB bar; {slower:.1f}x the time of fp32 eager on this CPU (medians).\n")  # fmt: skip
    return publish(text, write)


def main() -> None:
    main_with_no_write(run, __doc__)


if __name__ == "__main__":
    main()
