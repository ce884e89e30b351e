"""Per-sense latency on one 512² photo: cold (first call, including model load) and warm.

    python benchmarks/bench_senses.py [--quick] [--device cuda]

Then the torch ports of mediapipe's networks (sensorium/senses/mediapipe_ports.py) batched, and
the sense-consistency terms' share of one training step (the consistency ablation's model, batch
8 at 64²), measured in the same run as the step without them.

Every provider is listed. Providers whose real weights are missing here are timed with a tiny
random model of the same architecture when one can be built (depth, segmentation, face parsing)
and marked "tiny stand-in": those numbers show pipeline overhead, not the real model's cost. With
--replicas they are timed with full-size random replicas of the default models instead
(benchmarks/replicas.py): the real models' cost, without their weights.
`run(quick)` returns the Markdown table for a benchmark runner.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import header, sync  # noqa: E402
from sensorium.senses import MapCache, SenseSet, model_cache  # noqa: E402
from sensorium.senses.registry import all_providers  # noqa: E402

SIZE = (512, 512)


def _variants(image: Image.Image, n: int) -> list[Image.Image]:
    """n copies differing in one pixel, so per-image result caches never serve a warm run."""
    out = []
    for i in range(n):
        arr = np.asarray(image).copy()
        arr[0, i % arr.shape[1], 0] ^= 1
        out.append(Image.fromarray(arr))
    return out


def _stand_in(provider_name: str, root: Path, full_size: bool) -> str | None:
    """A random local model for a transformers provider (None for other providers): tiny, or a
    full-size replica of the default model."""
    if full_size:
        from benchmarks.replicas import SEGFORMER_B0, SEGFORMER_B5, depth_replica, segformer_replica
        from sensorium.senses.face_parsing import CELEBAMASK_LABELS

        full = {
            "depth-transformers": lambda p: depth_replica(p),
            "segmentation-transformers": lambda p: segformer_replica(p, SEGFORMER_B0, [f"c{i}" for i in range(150)]),
            "face-parsing-transformers": lambda p: segformer_replica(p, SEGFORMER_B5, list(CELEBAMASK_LABELS)),
        }
        return str(full[provider_name](root / provider_name)) if provider_name in full else None
    sys.path.insert(0, str(ROOT / "tests"))
    from senses_fixtures import make_tiny_depth, make_tiny_segformer

    from sensorium.senses.face_parsing import CELEBAMASK_LABELS

    builders = {
        "depth-transformers": lambda p: make_tiny_depth(p),
        "segmentation-transformers": lambda p: make_tiny_segformer(p),
        "face-parsing-transformers": lambda p: make_tiny_segformer(p, list(CELEBAMASK_LABELS)),
    }
    if provider_name not in builders:
        return None
    return str(builders[provider_name](root / provider_name))


def _time_provider(provider, image: Image.Image, device: str, runs: int, root: Path,
                   full_size: bool = False) -> tuple[str, str, str, str]:  # fmt: skip
    sense = provider.factory(None)
    source = "real"
    availability = sense.available()
    if not availability:
        stand_in = _stand_in(provider.name, root, full_size)
        if stand_in is None:
            return provider.name, "unavailable", "-", availability.reason.split(";")[0][:90]
        kind = "full-size random replica" if full_size else "tiny stand-in"
        sense, source = provider.factory(stand_in), f"{kind} (real weights missing)"
    import torch

    from benchmarks.common import sync  # waits for queued GPU work: a time is the sense's, not its launch

    model_cache.clear()  # cold = load + first extraction
    images = _variants(image, runs + 1)
    start = time.perf_counter()
    sense.load(device)
    sense(images[0], SIZE)
    sync(torch.device(device))
    cold = time.perf_counter() - start
    warm = []
    for im in images[1:]:
        start = time.perf_counter()
        sense(im, SIZE)
        sync(torch.device(device))
        warm.append(time.perf_counter() - start)
    return provider.name, f"{cold * 1000:.0f}", f"{statistics.median(warm) * 1000:.1f}", source


def _cache_hit_ms(image: Image.Image, runs: int) -> float:
    senses = SenseSet(["edges"], cache=MapCache())
    senses.extract(image, SIZE)
    start = time.perf_counter()
    for _ in range(runs):
        senses.extract(image, SIZE)
    return (time.perf_counter() - start) / runs * 1000


def run(quick: bool = False, device: str = "cpu", replicas: bool = False) -> str:
    """Markdown table of cold/warm latency per sense provider on skimage's astronaut at 512²."""
    from skimage.data import astronaut

    image = Image.fromarray(astronaut())
    runs = 3 if quick else 10
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for providers in all_providers().values():
            for provider in providers:
                rows.append((provider.modality, *_time_provider(provider, image, device, runs, Path(tmp), replicas)))
    import torch

    from benchmarks.common import header

    lines = [
        header("Senses on one 512x512 photo (skimage astronaut)", torch.device(device), f"warm = median of {runs}"),
        "| modality | provider | cold ms (load + 1st) | warm ms | weights |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    lines += [f"| {m} | {name} | {cold} | {warm} | {src} |" for m, name, cold, warm, src in rows]
    lines.append(f"| (any) | SenseSet cache hit | - | {_cache_hit_ms(image, runs * 10):.2f} | hash + LRU lookup |")
    return "\n".join(lines)


def _ms(fn, runs: int, device: torch.device) -> float:
    fn()  # warm-up (allocations, cuDNN choice)
    sync(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def ports(quick: bool = False, device: str = "cpu") -> str:
    """Median ms per batch of the three ports at their input sizes, batch 1 and 8, no grad."""
    from sensorium.senses.mediapipe_ports import FaceDetector, FaceLandmarkNet, PersonNet

    dev = torch.device(device)
    runs = 3 if quick else 10
    nets = (("person (selfie, 256²)", PersonNet(), 256), ("face detection (128²)", FaceDetector(), 128),
            ("face landmarks (192²)", FaceLandmarkNet(), 192))  # fmt: skip
    lines = [header("mediapipe networks in torch (ports), no grad", dev, f"median of {runs}"),
             "| network | batch 1 ms | batch 8 ms | batch 8 ms/img |", "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for label, net, side in nets:
        net = net.to(dev)
        cells = []
        for b in (1, 8):
            x = torch.rand(b, 3, side, side, device=dev)
            with torch.no_grad():
                cells.append(_ms(lambda n=net, x=x: n(x), runs, dev))
        lines.append(f"| {label} | {cells[0]:.1f} | {cells[1]:.1f} | {cells[1] / 8:.1f} |")
    return "\n".join(lines)


def consistency_share(quick: bool = False, device: str = "cpu") -> str:
    """One full training step (G forward, D step, G step, both backward passes) with and without
    the sense terms, at the consistency ablation's settings."""
    from contextlib import nullcontext

    from sensorium import Sensorium
    from sensorium.config import ModelConfig
    from sensorium.discriminator import MultiscaleDiscriminator
    from sensorium.losses import VGGPerceptualLoss
    from training.config import TrainConfig
    from training.sense_consistency import SenseConsistency
    from training.steps import Batch, d_step, g_step, generate_pair

    dev = torch.device(device)
    model = ModelConfig(channels=8, max_channels=64, num_scales=4, style_dim=32, style_channels=8, fusion_style_dim=8,
                        fusion_hidden=8, disc_channels=16, disc_layers=3)  # fmt: skip
    g, d = Sensorium(model).to(dev), MultiscaleDiscriminator.from_config(model).to(dev)
    vgg = VGGPerceptualLoss("random").to(dev)
    gen = torch.Generator().manual_seed(0)
    b, m = 8, len(model.modalities)
    batch = Batch(torch.rand(b, 3, 64, 64, generator=gen).to(dev) * 2 - 1,
                  torch.rand(b, model.map_channels, 64, 64, generator=gen).to(dev), torch.ones(b, m, device=dev),
                  torch.zeros(b, dtype=torch.long, device=dev), torch.roll(torch.arange(b), 1).to(dev))  # fmt: skip
    senses = SenseConsistency(model.modalities, person=True, landmarks=True).to(dev)
    runs = 3 if quick else 8
    rows = []
    for label, samples, terms in (("without sense terms", 0, None), ("sense terms, 4 + 4 samples", 4, senses),
                                  ("sense terms, all 8 + 8 samples", 0, senses)):  # fmt: skip
        cfg = TrainConfig(model=model, perceptual="random", lambda_sense_person=1.0, lambda_sense_landmarks=10.0,
                          sense_samples=samples)  # fmt: skip

        def step(cfg=cfg, terms=terms):
            rec, paired, _ = generate_pair(g, batch)
            d.requires_grad_(True)
            d_loss, _ = d_step(d, batch, rec, paired, batch.maps, cfg, 1, nullcontext)
            d_loss.backward()
            d.requires_grad_(False)  # as train.py: G's update never computes D's gradients
            g_loss, _, _ = g_step(d, vgg, batch, rec, paired, batch.maps, cfg, nullcontext, senses=terms)
            g_loss.backward()

        rows.append((label, _ms(step, runs, dev)))
    base = rows[0][1]
    lines = [header("Sense consistency in a training step (batch 8, 64², ablation model)", dev, f"median of {runs}"),
             "| step | ms | share of the step spent on the sense terms |", "| --- | ---: | ---: |"]  # fmt: skip
    lines += [f"| {label} | {ms:.0f} | {'-' if ms == base else f'{(ms - base) / ms:.0%}'} |" for label, ms in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 warm runs instead of 10")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--replicas", action="store_true", help="full-size random replicas for missing weights")
    parser.add_argument("--ports-only", action="store_true", help="only the ports and the training-step share")
    args = parser.parse_args()
    if not args.ports_only:
        print(run(args.quick, args.device, args.replicas))
    print(ports(args.quick, args.device))
    print(consistency_share(args.quick, args.device))


if __name__ == "__main__":
    main()
