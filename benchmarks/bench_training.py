"""Training throughput: img/s and peak memory of `training/train.py` on a synthetic prepared set
(every modality present), bf16 on CUDA, fp32 on CPU.

    python -m benchmarks.bench_training [--quick] [--config demo|default] [--resolution 256]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from sensorium.config import demo_flags
from sensorium.data import save_sample
from sensorium.modalities import MODALITIES

from .common import header, publish

DEMO_FLAGS = demo_flags()


def synthetic_set(root: Path, n: int, res: int) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = (rng.random((res, res, 3)) * 255).astype(np.uint8)
        maps = {m: torch.from_numpy(rng.random((c.channels, res, res), dtype=np.float32)) for m, c in MODALITIES.items()}
        save_sample(root / f"{i}.npz", image, maps)
    return root


def run(quick: bool = True, config: str = "demo", resolution: int | None = None, write: bool = True) -> str:
    from training.train import main as train_main

    cuda = torch.cuda.is_available()
    res = resolution or (256 if cuda else (64 if quick else 128))
    steps, batch = (60, 16) if cuda else ((4, 2) if quick else (10, 4))
    with tempfile.TemporaryDirectory() as d:
        data = synthetic_set(Path(d) / "data", 32, res)
        out = Path(d) / "run"
        flags = ["--data", str(data), "--out", str(out), "--steps", str(steps), "--batch_size", str(batch),
                 "--log_every", str(max(1, steps // 3)), "--sample_every", "100000", "--ckpt_every", "100000",
                 "--perceptual", "random"]  # fmt: skip
        train_main(flags + (DEMO_FLAGS if config == "demo" else []))
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    last = log[-1]  # the first window includes warm-up
    dev = torch.device("cuda" if cuda else "cpu")
    text = header(f"Training throughput ({config} config, {res}², batch {batch}, {'bf16' if cuda else 'fp32'})", dev)
    text += f"\n- {last['img_per_s']:.1f} img/s (window ending at step {last['step']})"
    if "peak_mem_gb" in last:
        text += f", peak memory {last['peak_mem_gb']:.1f} GiB"
    text += "\n"
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--config", choices=("demo", "default"), default="demo")
    p.add_argument("--resolution", type=int)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.quick, a.config, a.resolution, not a.no_write)


if __name__ == "__main__":
    main()
