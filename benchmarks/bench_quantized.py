"""int8 for the `onnx` runtime's generate graph: ONNX Runtime's static quantization, measured.

The 2-core AMD EPYC here has AVX2 but no bf16 units (bench_precision.py) and no VNNI (no
avx512_vnni or avx_vnni in /proc/cpuinfo), so int8 is the one reduced precision left whose kernels
exist for it (MLAS's AVX2 u8s8 convs). Any such path must reach 40 dB PSNR
against fp32 on every example. This quantizes the generate graph's convs (QDQ, per-channel int8
weights, uint8 activations) with calibration from two examples (one portrait, one scene: the
others are held out), then compares it with the fp32 graph on every content and scene example
(centred 256² squares, three styles) and times both at 256², interleaved, in the runtime's own
session options. Needs the `onnx` package (requirements-dev.txt) for the quantizer.

    python -m benchmarks.bench_quantized [--no-write]
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.conditioning import stack_maps
from sensorium.images import center_crop_square
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.runtime.onnx_backend import session
from sensorium.senses import SenseSet

from .bench_precision import MIN_PSNR_DB, psnr_db
from .common import header, main_with_no_write, publish

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
STYLES = ("style_starry_night.jpg", "style_graffiti.jpg", "style_happy_fish_cartoon.jpg")
CALIBRATION = ("content_astronaut.jpg", "scene_autumn_hills.jpg")
SIZE = 256

Feed = dict[str, np.ndarray]


def generate_feeds(pipe: TranslationPipeline) -> dict[str, list[Feed]]:
    """The generate graph's inputs for every example (real senses, centred square) under each style."""
    runtime = pipe.runtime
    styles = [pipe.style(Image.open(EXAMPLES / name).convert("RGB")) for name in STYLES]
    feeds = {}
    for path in sorted(EXAMPLES.glob("content_*.jpg")) + sorted(EXAMPLES.glob("scene_*.jpg")):
        content = pipe.sense(center_crop_square(Image.open(path).convert("RGB"), SIZE), SIZE)
        maps = {m: sm.tensor for m, sm in content.maps.items()}
        state = runtime.encode(*stack_maps(maps, pipe.config.modalities, content.size))[0]
        feeds[path.name] = [runtime.generate_feed(state, s) for s in styles]
    return feeds


def quantized(graph: Path, calibration: list[Feed], method: str, out: Path) -> Path:
    """`graph` with its convs in int8 (QDQ), calibrated on `calibration` by `method`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> Feed | None:
            return next(self.feeds, None)

    quantize_static(str(graph), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                    calibrate_method=getattr(CalibrationMethod, method))  # fmt: skip
    return out


def run(write: bool = True, rounds: int = 15) -> str:
    torch.set_num_threads(2)
    model = Sensorium.from_pretrained(demo_checkpoint(), device=torch.device("cpu"))
    senses = SenseSet(model.config.modalities, preferred=dict(model.info.senses))
    pipe = TranslationPipeline(model, senses=senses, device="cpu", runtime="onnx")
    feeds = generate_feeds(pipe)
    calibration = [f for name in CALIBRATION for f in feeds[name]]
    fp32 = session(pipe.runtime.graphs.generate)
    with tempfile.TemporaryDirectory(prefix="sensorium-int8-") as work:
        variants = {method: session(quantized(pipe.runtime.graphs.generate, calibration, method, Path(work) / f"{method}.onnx"))
                    for method in ("MinMax", "Percentile")}  # fmt: skip (sessions hold their graphs in memory)
    table = "| image | " + " | ".join(f"int8 ({m} calibration): min PSNR" for m in variants) + " |\n"
    table += "|---|" + "---:|" * len(variants) + "\n"
    worst = {m: math.inf for m in variants}
    for name, example in feeds.items():
        cells = []
        want = [torch.from_numpy(fp32.run(None, f)[0]) for f in example]
        for method, q8 in variants.items():
            db = min(psnr_db(torch.from_numpy(q8.run(None, f)[0]), w) for f, w in zip(example, want, strict=True))
            worst[method] = min(worst[method], db) if name not in CALIBRATION else worst[method]
            cells.append(f"{db:.1f} dB")
        table += f"| {name}{' (calibration)' if name in CALIBRATION else ''} | " + " | ".join(cells) + " |\n"
    feed = feeds["content_obama_portrait.jpg"][0]
    times: dict[str, list[float]] = {"fp32": [], **{m: [] for m in variants}}
    sessions = {"fp32": fp32, **variants}
    for _ in range(3):  # warm-up
        for s in sessions.values():
            s.run(None, feed)
    for _ in range(rounds):  # interleaved
        for key, s in sessions.items():
            start = time.perf_counter()
            s.run(None, feed)
            times[key].append(time.perf_counter() - start)
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    text = header(f"int8 (ONNX Runtime static quantization) of the generate graph (bundled checkpoint, {SIZE}², every example, "
                  f"{len(STYLES)} styles)", torch.device("cpu"), f"medians of {rounds} interleaved rounds")  # fmt: skip
    text += "\n" + table + "\n"
    text += f"- generate graph at {SIZE}²: fp32 {ms['fp32']:.1f} ms; " + "; ".join(
        f"int8 {m} {ms[m]:.1f} ms ({ms[m] / ms['fp32']:.2f}× fp32)" for m in variants) + "\n"  # fmt: skip
    for method in variants:
        verdict = "passes" if worst[method] >= MIN_PSNR_DB else "fails"
        text += f"- int8 {method}: worst {worst[method]:.1f} dB on the held-out examples, {verdict} the {MIN_PSNR_DB:.0f} dB bar\n"
    return publish(text, write)


def main() -> None:
    main_with_no_write(run, __doc__)


if __name__ == "__main__":
    main()
