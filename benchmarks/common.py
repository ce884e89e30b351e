"""Shared benchmark plumbing: timing that syncs the device, environment header, RESULTS.md."""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")

# Dense bf16 tensor-core peak used for "% of peak" (H100 SXM measured ≈ 800 TFLOP/s by a
# matmul sweep; H200 has the same compute die).
PEAK_BF16_TFLOPS = {"H100": 800.0, "H200": 800.0}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def peak_tflops(device: torch.device) -> float | None:
    name = device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_p95(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank) of a sample."""
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(0.95 * len(values)))]


def ms_cells(values: list[float], decimals: int = 0) -> str:
    """'median ms | p95 ms' of durations in seconds: two cells of a Markdown table row."""
    median, p95 = median_p95(values)
    return f"{median * 1e3:.{decimals}f} ms | {p95 * 1e3:.{decimals}f} ms"


def fresh_variant(image, i: int):
    """Request i's copy of `image` (mirrored every other time, cropped by i px): new content for
    every content-hash cache, so each request really runs the senses."""
    from PIL import ImageOps

    image = ImageOps.mirror(image) if i % 2 else image
    return image.crop((i, i, image.width - 1, image.height - 1))


def time_call(fn: Callable[[], object], device: torch.device, warmup: int = 3, iters: int = 10,
              budget_s: float = 20.0) -> tuple[float, float]:  # fmt: skip
    """(median, p95) seconds per call after warm-up; stops early when the time budget is spent."""
    for _ in range(warmup):
        fn()
    sync(device)
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return median_p95(times)


def header(title: str, device: torch.device, extra: str = "") -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"### {title}\n\n{date} · {device_name(device)} · torch {torch.__version__}{' · ' + extra if extra else ''}\n"


def publish(text: str, write: bool) -> str:
    """Print a benchmark's table and, when `write`, append it to RESULTS.md."""
    print(text)
    if write:
        append_results(text)
    return text


def append_results(text: str, path: Path = RESULTS) -> None:
    with open(path, "a") as f:
        f.write("\n" + text.rstrip() + "\n")


def main_with_no_write(run: Callable[[bool], object], doc: str) -> None:
    """The command line of a benchmark whose one option is --no-write (print, do not append to RESULTS.md)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-write", action="store_true")
    run(not p.parse_args().no_write)
