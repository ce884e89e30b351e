"""On-disk training data at CelebA-HQ scale: can the loader feed the GPU?

A prepared CelebA-HQ (30,000 images at 256², every sense) is ~90 GB decoded, so it stays on disk
and every batch is inflated from `.npz` files. This writes N copies of real prepared samples
(`data/prepared/portraits` when present, else smooth synthetic ones), then measures:
- decode throughput (img/s) of `SenseDataset.read` for several thread counts;
- the stall a training step sees waiting for its batch, with and without `BatchPrefetcher`, while a
  stand-in step of fixed length runs (a sleep: the GPU is busy, the CPU is free).

    python -m benchmarks.bench_data [--quick] [--files 30000] [--step_ms 400]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sensorium.data import SenseDataset, list_samples, save_sample
from sensorium.modalities import MODALITIES

from .common import header, publish

REAL = Path("data/prepared/portraits")


def seed_files(root: Path) -> tuple[list[Path], str]:
    """Real prepared samples if this checkout has them; else smooth synthetic ones (they compress
    about as well as real maps, unlike uniform noise)."""
    real = [p for p, _ in list_samples(REAL)] if REAL.is_dir() else []
    if real:
        return real, f"copies of the {len(real)} real samples in {REAL}"
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    smooth = lambda c: torch.nn.functional.interpolate(torch.rand(1, c, 16, 16), size=256, mode="bilinear")[0]  # noqa: E731
    seeds = []
    for i in range(8):
        image = (smooth(3).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        maps = {m: (smooth(c.channels) > 0.6).float() for m, c in MODALITIES.items()}
        save_sample(root / f"seed{i}.npz", image + rng.integers(0, 8, image.shape, dtype=np.uint8), maps)
        seeds.append(root / f"seed{i}.npz")
    return seeds, "smooth synthetic samples (no prepared set in this checkout)"


def build_set(root: Path, n: int) -> str:
    seeds, what = seed_files(root / "seeds")
    data = root / "data"
    data.mkdir(parents=True)
    for i in range(n):
        shutil.copyfile(seeds[i % len(seeds)], data / f"{i:06d}.npz")
    return what


def read_throughput(ds: SenseDataset, threads: int, batch: int, batches: int) -> float:
    ds.decode_threads, ds._pool = threads, None
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0)).tolist()
    ds.read(order[:batch])  # start the pool
    t0 = time.perf_counter()
    for k in range(batches):
        ds.read(order[(k * batch) % len(ds) :][:batch])
    return batch * batches / (time.perf_counter() - t0)


def stall(ds: SenseDataset, batch: int, steps: int, step_ms: float, prefetch: bool) -> float:
    """Median ms a step waits for its batch's files when the step itself takes `step_ms` (the
    uint8 → float conversion after the copy runs on the GPU in training, so it is left out)."""
    from training.prefetch import BatchPrefetcher

    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(1)).tolist()
    indices_of = lambda s: order[(s * batch) % len(ds) :][:batch]  # noqa: E731
    loader = BatchPrefetcher(ds, indices_of, steps).read if prefetch else (lambda s: ds.read(indices_of(s)))
    waits = []
    for s in range(steps):
        t0 = time.perf_counter()
        loader(s)
        waits.append((time.perf_counter() - t0) * 1e3)
        time.sleep(step_ms / 1e3)  # the GPU step: the CPU is free meanwhile
    if prefetch:
        loader.__self__.close()
    return statistics.median(waits[2:])


def run(quick: bool = True, files: int | None = None, step_ms: float = 400.0, batch: int = 16, write: bool = True) -> str:
    n = files or (600 if quick else 30_000)
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(dir=".") as d:  # on the repo's disk, not a RAM-backed /tmp
        t0 = time.perf_counter()
        what = build_set(Path(d), n)
        built = time.perf_counter() - t0
        size_gb = sum(p.stat().st_size for p in (Path(d) / "data").iterdir()) / 1e9
        ds = SenseDataset(Path(d) / "data", list(MODALITIES), in_memory=False)
        rows = [(t, read_throughput(ds, t, batch, 6 if quick else 20)) for t in sorted({1, 2, min(8, cpus)})]
        steps = 8 if quick else 20
        ds.decode_threads, ds._pool = min(8, cpus), None
        no_prefetch, with_prefetch = stall(ds, batch, steps, step_ms, False), stall(ds, batch, steps, step_ms, True)
    text = header(f"On-disk training data ({n} files, {size_gb:.1f} GB, 256², every sense, batch {batch})", torch.device("cpu"))
    text += f"\n{what}; written in {built:.0f} s, so the page cache is warm (a first epoch from a cold disk is slower).\n\n"
    text += "| decode threads | img/s |\n|---|---|\n" + "".join(f"| {t} | {r:.0f} |\n" for t, r in rows)
    text += (f"\nStall per step waiting for the batch, with a {step_ms:.0f} ms stand-in step (median of {steps - 2}): "
             f"{no_prefetch:.0f} ms reading in line, {with_prefetch:.1f} ms with `BatchPrefetcher`.\n")  # fmt: skip
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--files", type=int)
    p.add_argument("--step-ms", "--step_ms", dest="step_ms", type=float, default=400.0, help="stand-in GPU step (400 ms ≈ default config, batch 16, H200)")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.quick, a.files, a.step_ms, write=not a.no_write)


if __name__ == "__main__":
    main()
