"""Every runtime side by side on the bundled checkpoint, in one run, rounds interleaved.

Rows: eager with glibc's default allocator thresholds (the reference as it ran before), eager with
freed memory kept (sensorium/runtime/allocator.py), and each fast runtime (with it, as they load).
Requests, all through `TranslationPipeline.render` / `__call__` as the app makes them:
- toggle: a modality switched, so the content encoder and generator run (maps cached), 256² and 512²;
- style-only: a new style vector on the same content (the mix slider, a new style image);
- new content: a new image, so the senses run too.
The content is the portrait's centred square, so 256² and 512² are the sizes the model runs at (the
pipeline keeps the aspect: the whole 410×512 portrait at resolution 256 would run at 192×256).
Every round makes each runtime's call once, in rotating order, so the other processes' load falls
on every row alike; ratios are against eager (default allocator) of the same rounds. Parity: the
max abs difference from eager of every runtime on every content example (assets/examples).

    python -m benchmarks.bench_runtime [--rounds 9] [--no-write]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.images import center_crop_square
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.runtime.allocator import keep_freed_memory
from sensorium.runtime.select import BUILDERS
from sensorium.senses import SenseSet

from .common import fresh_variant, header, publish

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
CONTENT, STYLE, STYLE_B = (EXAMPLES / n for n in ("content_obama_portrait.jpg", "style_starry_night.jpg",
                                                   "style_graffiti.jpg"))  # fmt: skip
REFERENCE = "eager (glibc default allocator)"
GOALS = {"toggle 256²": 0.100, "style-only 256²": 0.050, "new content 256² (senses included)": 0.250,
         "toggle 512²": 0.400}  # fmt: skip


ONE_THREAD = "fused-cl, 1 thread"  # on a machine others load too, one thread waits for no other


def pipelines(model: Sensorium) -> dict[str, tuple[TranslationPipeline, bool, int]]:
    """row name → (pipeline, keep freed memory, torch threads), one pipeline (and content cache)
    per row, sharing one model and one SenseSet."""
    senses = SenseSet(model.config.modalities, preferred=dict(model.info.senses))
    threads = torch.get_num_threads()
    rows = {REFERENCE: ("eager", False, threads), "eager (freed memory kept)": ("eager", True, threads)}
    rows.update({name: (name, True, threads) for name in BUILDERS if name != "eager"})
    rows[ONE_THREAD] = ("fused-cl", True, 1)
    out = {}
    for row, (runtime, keep, n) in rows.items():
        pipe = TranslationPipeline(model, senses=senses, device="cpu", runtime=runtime)
        assert pipe.runtime.name == runtime, pipe.runtime_note
        out[row] = (pipe, keep, n)
    return out


def interleaved(calls: dict[str, Callable[[int], object]], setup: dict[str, tuple[bool, int]],
                rounds: int) -> dict[str, list[float]]:  # fmt: skip
    """Seconds per call of each row over `rounds` rounds (one warm-up round first, not counted)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    names = list(calls)
    threads = torch.get_num_threads()
    for r in range(rounds + 1):
        for name in names[r % len(names):] + names[: r % len(names)]:
            keep, n = setup[name]
            keep_freed_memory(keep)
            torch.set_num_threads(n)
            t = time.perf_counter()
            calls[name](r)
            if r:
                times[name].append(time.perf_counter() - t)
    keep_freed_memory(True)
    torch.set_num_threads(threads)
    return times


def parity(pipes: dict[str, tuple[TranslationPipeline, bool, int]], style: torch.Tensor) -> dict[str, tuple[float, float]]:
    """row → (max abs diff, min PSNR dB) against eager over every content example at 256² (all modalities)."""
    ref = pipes[REFERENCE][0]
    worst = {row: (0.0, math.inf) for row in pipes if row != REFERENCE}
    for path in sorted(EXAMPLES.glob("content_*.jpg")):
        content = ref.sense(Image.open(path).convert("RGB"), 256)
        want = _images(ref, content, style)
        for row, (pipe, _, _) in pipes.items():
            if row == REFERENCE:
                continue
            got = _images(pipe, content, style)
            diff = (got - want).abs().max().item()
            mse = ((got - want) / 2).square().mean().item()  # images in [-1, 1] → [0, 1]
            psnr = math.inf if mse == 0 else 10 * math.log10(1 / mse)
            worst[row] = (max(worst[row][0], diff), min(worst[row][1], psnr))
    return worst


@torch.inference_mode()
def _images(pipe: TranslationPipeline, content, style: torch.Tensor) -> torch.Tensor:
    from sensorium.conditioning import stack_maps

    maps = {m: sm.tensor for m, sm in content.maps.items()}
    stacked, presence = stack_maps(maps, pipe.config.modalities, content.size)
    return pipe.runtime.generate(pipe.runtime.encode(stacked, presence), style[None]).float()


def app_starts(rounds: int) -> dict[str, list[float]]:
    """Seconds from `python app.py --runtime R` to its first answer, eager and auto alternating."""
    from .bench_app import export_graphs, free_port, start_app

    export_graphs()  # auto's start with the graphs cached, as on every start after the first
    out: dict[str, list[float]] = {"eager": [], "auto": []}
    for _ in range(rounds):
        for runtime in out:
            proc, seconds = start_app(None, free_port(), runtime)
            proc.terminate()
            proc.wait(timeout=30)
            out[runtime].append(seconds)
    return out


def run(rounds: int = 9, write: bool = True) -> str:
    torch.set_grad_enabled(False)
    load_before = os.getloadavg()
    model = Sensorium.from_pretrained(demo_checkpoint())
    t0 = time.perf_counter()
    pipes = pipelines(model)
    load_s = {row: 0.0 for row in pipes}
    for row, (pipe, _, _) in pipes.items():  # what choosing and checking a runtime costs at start-up
        t = time.perf_counter()
        TranslationPipeline(model, senses=pipe.senses, device="cpu", runtime=pipe.runtime.name)
        load_s[row] = time.perf_counter() - t
    any_pipe = next(iter(pipes.values()))[0]
    usable = [m for m in any_pipe.trained_modalities if any_pipe.senses.status()[m].ok]
    portrait = Image.open(CONTENT).convert("RGB")
    content_img = center_crop_square(portrait, min(portrait.size))  # at its own size: resolution r runs at r × r
    styles = [any_pipe.style(Image.open(p).convert("RGB"), 256) for p in (STYLE, STYLE_B)]
    sensed = {res: any_pipe.sense(content_img, res) for res in (256, 512)}
    assert all(sensed[res].size == (res, res) for res in sensed), {res: c.size for res, c in sensed.items()}
    keep = {row: (k, n) for row, (_, k, n) in pipes.items()}

    def toggle(pipe: TranslationPipeline, res: int) -> Callable[[int], object]:
        return lambda i: pipe.render(sensed[res], styles[0], [m for j, m in enumerate(usable) if j != i % len(usable)])

    def style_only(pipe: TranslationPipeline) -> Callable[[int], object]:
        mixes = [torch.lerp(styles[0], styles[1], t) for t in (0.2, 0.4, 0.6, 0.8)]
        return lambda i: pipe.render(sensed[256], mixes[i % len(mixes)], usable)

    new_count = iter(range(10_000))

    def new_content(pipe: TranslationPipeline) -> Callable[[int], object]:
        return lambda i: pipe(fresh_variant(content_img, next(new_count)), styles[0], usable, resolution=256)

    results: dict[str, dict[str, list[float]]] = {}
    results["toggle 256²"] = interleaved({r: toggle(p, 256) for r, (p, _, _) in pipes.items()}, keep, rounds)
    results["style-only 256²"] = interleaved({r: style_only(p) for r, (p, _, _) in pipes.items()}, keep, rounds)
    results["new content 256² (senses included)"] = interleaved(
        {r: new_content(p) for r, (p, _, _) in pipes.items()}, keep, max(3, rounds // 2))
    results["toggle 512²"] = interleaved({r: toggle(p, 512) for r, (p, _, _) in pipes.items()}, keep, max(3, rounds // 2))
    gaps = parity(pipes, styles[0])
    starts = app_starts(max(1, rounds // 4))
    load_after = os.getloadavg()

    text = header("Runtimes side by side (bundled checkpoint, content encoder + generator)", torch.device("cpu"),
                  f"medians of interleaved rounds ({rounds} at 256², fewer for new content and 512²), "
                  f"load average {load_before[0]:.1f} before → {load_after[0]:.1f} after, "
                  f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    rows = list(pipes)
    auto = TranslationPipeline(model, senses=any_pipe.senses, device="cpu", runtime="auto").runtime.name
    text += "\n| request | " + " | ".join(rows) + " |\n|---|" + "---:|" * len(rows) + "\n"
    for request, times in results.items():
        ref = statistics.median(times[REFERENCE])
        cells = [f"{statistics.median(times[r]) * 1e3:.0f} ms ({ref / statistics.median(times[r]):.2f}×)" for r in rows]
        text += f"| {request} | " + " | ".join(cells) + " |\n"
    text += "| runtime load incl. parity check | " + " | ".join(f"{load_s[r] * 1e3:.0f} ms" for r in rows) + " |\n"
    text += "| app start (launch → answering), eager vs auto | " + " | ".join(
        f"{statistics.median(starts['eager']):.1f} s" if r == REFERENCE else
        f"{statistics.median(starts['auto']):.1f} s (auto)" if r == auto else "—" for r in rows) + " |\n"  # fmt: skip
    text += "| max abs diff vs eager, every content example | — | " + " | ".join(
        f"{gaps[r][0]:.1e} ({gaps[r][1]:.0f} dB)" if math.isfinite(gaps[r][1]) else f"{gaps[r][0]:.1e} (identical)"
        for r in rows[1:]) + " |\n"  # fmt: skip
    best = min([r for r in rows[2:] if r != ONE_THREAD], key=lambda r: statistics.median(results["toggle 256²"][r]))
    text += f"\nGoals (fastest runtime: {best}):\n"
    for request, goal in GOALS.items():
        got = statistics.median(results[request][best])
        verdict = "met" if got <= goal else f"missed by {(got - goal) * 1e3:.0f} ms"
        text += f"- {request} ≤ {goal * 1e3:.0f} ms: {got * 1e3:.0f} ms, {verdict}\n"
    ratio = statistics.median(results["toggle 256²"][REFERENCE]) / statistics.median(results["toggle 256²"][best])
    kept = statistics.median(results["toggle 256²"][rows[1]]) / statistics.median(results["toggle 256²"][best])
    text += (f"- toggle ≥ 3× eager: {ratio:.2f}× against eager as it ran before ({'met' if ratio >= 3 else 'missed'}); "
             f"{kept:.2f}× against eager with freed memory kept (the model-level share)\n")  # fmt: skip
    if "onnx" in pipes:
        graphs = pipes["onnx"][0].runtime.graphs
        took = f"exported in {graphs.export_seconds:.1f} s" if graphs.export_seconds else "loaded from the cache"
        text += f"- onnx: both graphs {took} at the first load (sensorium/runtime/onnx_export.py)\n"
    one = {k: statistics.median(v[ONE_THREAD]) * 1e3 for k, v in results.items()}
    text += f"- {ONE_THREAD}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in one.items()) + "\n"
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.rounds, not a.no_write)


if __name__ == "__main__":
    main()
