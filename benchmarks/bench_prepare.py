"""training.prepare's throughput per image: the senses as the chooser picks them on the CPU
(mediapipe where it is installed) against the torch ports, one image per call and batched, on
each device.

    python -m benchmarks.bench_prepare [--images 32] [--resolution 256] [--senses person]
        [--devices cpu cuda] [--batches 1 16 64] [--rounds 2] [--no-write]

The photos are variants (mirrored, cropped by a few pixels) of the bundled content examples, so
no result cache serves a repeat. Each cell is one whole `training.prepare` run in this process
(`--workers 1`: load, crop, senses, compressed save), model loading included; the rounds are
interleaved, so a busy machine's load falls on every configuration alike, and the best round
counts (the first warms the disk cache and mediapipe's graphs). The "ports" rows pin every
modality that has a torch port to it (`SENSORIUM_<MODALITY>_PROVIDER`); on CUDA the chooser
picks the ports by itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from PIL import Image

from benchmarks.common import device_name, fresh_variant, header, publish, sync

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "assets/examples").glob("content_*.jpg"))


def make_photos(folder: Path, n: int) -> Path:
    """n distinct photos made from the bundled content examples."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = Image.open(EXAMPLES[i % len(EXAMPLES)]).convert("RGB")
        fresh_variant(image, i // len(EXAMPLES)).save(folder / f"photo_{i:03d}.jpg", quality=95)
    return folder


def port_pins(senses: list[str]) -> dict[str, str]:
    """modality -> its torch port's provider name, for the modalities that have one."""
    from sensorium.senses.registry import providers_of

    return {m: p.name for m in senses for p in providers_of(m) if p.sense.port_of}


@contextmanager
def pinned(pins: dict[str, str]):
    from sensorium.senses.registry import provider_env_var

    old = {m: os.environ.get(provider_env_var(m)) for m in pins}
    os.environ.update({provider_env_var(m): name for m, name in pins.items()})
    try:
        yield
    finally:
        for m, value in old.items():
            os.environ.pop(provider_env_var(m), None)
            if value is not None:
                os.environ[provider_env_var(m)] = value


def prepare_seconds(photos: Path, out: Path, senses: list[str], resolution: int, device: str, batch: int,
                    pins: dict[str, str]) -> tuple[float, dict]:  # fmt: skip
    from sensorium.senses.recent import forget
    from training.prepare import main as prepare_main

    forget()  # the ports' shared results of the last run's photos must not serve this one
    shutil.rmtree(out, ignore_errors=True)
    args = [str(photos), "--out", str(out), "--resolution", str(resolution), "--senses", ",".join(senses),
            "--workers", "1", "--sense-device", device, "--sense-batch", str(batch)]  # fmt: skip
    with pinned(pins):
        start = time.perf_counter()
        report = prepare_main(args)
        sync(torch.device(device))
        return time.perf_counter() - start, report


def configurations(devices: list[str], batches: list[int], senses: list[str]) -> list[tuple[str, str, int, dict]]:
    """(label, device, batch, pins): the CPU chooser's pick, then the ports per device and batch."""
    pins = port_pins(senses)
    out = [("chooser on the CPU (mediapipe where installed)", "cpu", 1, {})] if "cpu" in devices else []
    for device in devices:
        for batch in batches:
            out.append((f"ports on {device}, batch {batch}", device, batch, pins if device == "cpu" else {}))
    return out


def run(images: int = 32, resolution: int = 256, senses: tuple[str, ...] = ("person",), devices: tuple[str, ...] = ("cpu",),
        batches: tuple[int, ...] = (1, 16), rounds: int = 2) -> str:  # fmt: skip
    """Markdown table: per configuration the providers it ran and its ms per image."""
    configs = configurations(list(devices), list(batches), list(senses))
    best: dict[int, float] = {}
    used: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp) / "photos", images)
        for r in range(rounds):
            for k, (_, device, batch, pins) in enumerate(configs):
                seconds, report = prepare_seconds(photos, Path(tmp) / f"out{k}", list(senses), resolution, device,
                                                  batch, pins)  # fmt: skip
                best[k] = min(best.get(k, seconds), seconds)
                used[k] = report
                print(f"round {r + 1}: {configs[k][0]}: {seconds * 1e3 / images:.1f} ms / image", flush=True)
    names = " · ".join(dict.fromkeys(device_name(torch.device(d)) for d in devices))
    lines = [header(f"training.prepare throughput, {images} photos at {resolution}²", torch.device(devices[0]),
                    f"senses {','.join(senses)}; best of {rounds} interleaved rounds; {names}"),  # fmt: skip
             "| configuration | providers | images done | ms / image | images / s |",
             "| --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for k, (label, *_) in enumerate(configs):
        report = used[k]
        ran = ", ".join(how.split(" ")[0] if not how.startswith("cannot") else f"no {m}" for m, how in report["senses"].items())
        done = len(report["done"])
        lines.append(f"| {label} | {ran} | {done} | {best[k] * 1e3 / images:.1f} | {images / best[k]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--senses", default="person", help="comma-separated modalities")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    args.devices = list(dict.fromkeys(args.devices))  # `--devices cpu cpu` (a dry run of gpu.sh) is one
    text = run(args.images, args.resolution, tuple(args.senses.split(",")), tuple(args.devices), tuple(args.batches),
               args.rounds)  # fmt: skip
    publish(text, not args.no_write)


if __name__ == "__main__":
    main()
