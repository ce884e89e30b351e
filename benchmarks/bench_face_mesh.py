"""The 478-point face mesh: mediapipe's FaceMesh against its torch port, one photo and batched.

    python benchmarks/bench_face_mesh.py [--quick] [--device cuda]

Whole pipelines (detection, crop, attention mesh, refinement, projection), warm medians: mediapipe
(`mediapipe_runtime.face_mesh`, CPU, XNNPACK) image by image, the port (`face_mesh_batch`) on one
image and on a batch of 8 in one call. Rounds interleave the two, so the ratios come from one run
under the same load. Each image differs in one pixel so no result cache serves a repeat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_senses import _variants  # noqa: E402
from benchmarks.common import header, sync  # noqa: E402

PHOTOS = (
    ("astronaut 512², 1 face", "content_astronaut.jpg"),
    ("four women 512×410, 4 faces", "content_group_four_women.jpg"),
)
BATCH = 8


def _tensor(image: Image.Image, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.float32) / 255).permute(2, 0, 1).to(device)


def run(quick: bool = False, device: str = "cpu") -> str:
    from sensorium.senses.face_mesh_port import face_mesh_batch
    from sensorium.senses.mediapipe_runtime import face_mesh

    dev = torch.device(device)
    rounds = 3 if quick else 10
    lines = [
        header(
            "Face mesh (478 points): mediapipe vs the torch port", dev, f"warm median of {rounds} interleaved rounds"
        ),
        f"| photo | mediapipe 1 image ms | port 1 image ms | mediapipe {BATCH} images ms/img "
        f"| port batch {BATCH} ms/img | port / mediapipe (1 image) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, name in PHOTOS:
        image = Image.open(ROOT / "assets/examples" / name).convert("RGB")
        images = _variants(image, (rounds + 1) * (BATCH + 1) * 2)
        face_mesh(images.pop())  # warm-up: graph start, weights
        face_mesh_batch(_tensor(images.pop(), dev)[None], dev)
        times: dict[str, list[float]] = {"mp1": [], "port1": [], "mp8": [], "port8": []}
        for _ in range(rounds):
            start = time.perf_counter()
            face_mesh(images.pop())
            times["mp1"].append(time.perf_counter() - start)
            one = _tensor(images.pop(), dev)[None]
            start = time.perf_counter()
            face_mesh_batch(one, dev)
            sync(dev)
            times["port1"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(BATCH):
                face_mesh(images.pop())
            times["mp8"].append((time.perf_counter() - start) / BATCH)
            batch = torch.stack([_tensor(images.pop(), dev) for _ in range(BATCH)])
            start = time.perf_counter()
            face_mesh_batch(batch, dev)
            sync(dev)
            times["port8"].append((time.perf_counter() - start) / BATCH)
        ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
        lines.append(f"| {label} | {ms['mp1']:.1f} | {ms['port1']:.1f} | {ms['mp8']:.1f} | {ms['port8']:.1f} "
                     f"| {ms['port1'] / ms['mp1']:.2f}× |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 10")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(run(args.quick, args.device))


if __name__ == "__main__":
    main()
