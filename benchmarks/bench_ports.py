"""The torch ports of mediapipe's networks batched on each device: ms per call and per image at
batch 1, 16 and 64 on 256² and 512² photos.

    python -m benchmarks.bench_ports [--devices cuda cpu] [--batches 1 16 64] [--sizes 256 512]

Timed is each sense's tensor path with the photos already on the device, no grad: the person
sense's `maps` (warp to the network's 256², network, resize back), BlazeFace (letterbox to 128²,
network, box decoding), the face-landmark network on 192² crops at the astronaut's face box, and
the whole batched FaceMesh the face senses run (`face_mesh_batch`: per-image detection and ROI,
the attention mesh on all crops at once, results back on the CPU). Needs no mediapipe, only
its .tflite files (`$SENSORIUM_MEDIAPIPE_MODULES` where mediapipe is missing). Each cell has a time
budget, so a slow CPU row stops after three calls.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.common import device_name, header, time_call

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "assets/examples/content_astronaut.jpg"
FACE_BOX = (0.51, 0.28, 0.30, 0.30)  # the astronaut's face: centre x, centre y, width, height (fractions)


def photo_batch(side: int, batch: int, device: torch.device) -> torch.Tensor:
    """(batch, 3, side, side) in [0, 1]: the bundled astronaut photo, centre-cropped and resized."""
    image = Image.open(PHOTO).convert("RGB")
    s = min(image.size)
    image = image.crop(((image.width - s) // 2, (image.height - s) // 2, (image.width + s) // 2, (image.height + s) // 2))
    rgb = torch.from_numpy(np.asarray(image.resize((side, side), Image.BILINEAR), dtype=np.float32) / 255)
    return rgb.permute(2, 0, 1)[None].expand(batch, -1, -1, -1).contiguous().to(device)


def port_calls(device: torch.device) -> list[tuple[str, Callable[[torch.Tensor], object]]]:
    """(label, fn(images)) per port; fn runs the whole tensor path of that sense."""
    from sensorium.senses.mediapipe_ports import FaceDetector, FaceLandmarkNet, crop_faces
    from sensorium.senses.person_torch import TorchSelfiePerson

    person = TorchSelfiePerson()
    person.load(device)
    detector, landmarks = FaceDetector().to(device), FaceLandmarkNet().to(device)

    def detect(x: torch.Tensor) -> object:
        regressors, _ = detector(x)
        return detector.decode(regressors)

    def mesh(x: torch.Tensor) -> object:
        boxes = x.new_tensor(FACE_BOX).expand(x.shape[0], 4)
        return landmarks(crop_faces(x, boxes))

    calls = [("person (selfie, map at the photo's size)", lambda x: person.maps(x, tuple(x.shape[-2:]))),
             ("face detection (BlazeFace + decoding)", detect), ("face landmarks (192² crop + mesh net)", mesh)]  # fmt: skip
    from sensorium.senses.face_mesh_port import face_mesh_batch

    # The whole 478-point FaceMesh as the face senses run it: detection, ROI, rotated crop, attention mesh.
    return [*calls, ("face mesh, whole (face_mesh_batch, 478 points)", lambda x: face_mesh_batch(x, x.device))]


def run(devices: list[str], batches: list[int], sizes: list[int], budget_s: float = 15.0) -> str:
    """A Markdown table: rows = port × photo size, columns = device × batch (ms/call, ms/image).
    Each row is printed as soon as it is measured, so a time limit keeps the rows done."""
    cols = [(torch.device(d), b) for d in devices for b in batches]
    calls = {dev: port_calls(dev) for dev in dict.fromkeys(c[0] for c in cols)}
    names = " · ".join(f"{d}: {device_name(torch.device(d))}" for d in devices)
    lines = [header("mediapipe's networks in torch, batched per device", cols[0][0], f"median ms per call / per image; {names}"),
             "| port | photo | " + " | ".join(f"{d.type} b{b}" for d, b in cols) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in cols) + " |"]  # fmt: skip
    print("\n".join(lines), flush=True)
    rows: dict[tuple[str, int], list[str]] = {}
    for k, (label, _) in enumerate(next(iter(calls.values()))):
        for side in sizes:
            cells = rows.setdefault((label, side), [])
            for dev, b in cols:
                x = photo_batch(side, b, dev)
                with torch.inference_mode():
                    median, _ = time_call(lambda fn=calls[dev][k][1], x=x: fn(x), dev, warmup=1 if dev.type == "cpu" else 3,
                                          iters=10, budget_s=budget_s)  # fmt: skip
                cells.append(f"{median * 1e3:.1f} / {median * 1e3 / b:.2f}")
                del x
            lines.append(f"| {label} | {side}² | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    speedups = _speedups(rows, cols)
    if speedups:
        lines += ["", speedups]
        print("\n" + speedups, flush=True)
    return "\n".join(lines)


def _speedups(rows: dict[tuple[str, int], list[str]], cols: list[tuple[torch.device, int]]) -> str:
    """Per port and size, the best CUDA per-image time against the best CPU one, in the same run."""
    kinds = [d.type for d, _ in cols]
    if "cuda" not in kinds or "cpu" not in kinds:
        return ""
    out = []
    for (label, side), cells in rows.items():
        per_image = [float(c.split(" / ")[1]) for c in cells]
        cpu = min(v for v, k in zip(per_image, kinds, strict=True) if k == "cpu")
        gpu = min(v for v, k in zip(per_image, kinds, strict=True) if k == "cuda")
        out.append(f"{label} {side}²: {cpu / gpu:.0f}×")
    return "CUDA against CPU, best batch each, per image: " + "; ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", nargs="+", default=["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16, 64])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per cell before it stops at three calls")
    args = parser.parse_args()
    args.devices = list(dict.fromkeys(args.devices))  # `--devices cpu cpu` (a dry run of gpu.sh) is one
    run(args.devices, args.batches, args.sizes, args.budget)  # prints as it goes


if __name__ == "__main__":
    main()
