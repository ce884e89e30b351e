"""The torch ports of mediapipe's networks on CUDA, as `benchmarks/gpu_checks.py --ports` runs them:
each network's CUDA output against the CPU's (fp32, TF32 off), then training.prepare on the GPU
with the ports on the bundled content photos: every photo done, the ports batched there, every
sense that cannot run named, and its maps against the CPU ports' and mediapipe's own.

Runs where mediapipe is missing: the .tflite files come from $SENSORIUM_MEDIAPIPE_MODULES and the
mediapipe reference from `.gpu_bundle/reference` (benchmarks/gpu_bundle.py, made on a machine
with mediapipe). Imports neither mediapipe nor gradio.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_ports import FACE_BOX, photo_batch
from benchmarks.gpu_bundle import RESOLUTION, content_photos

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("SENSORIUM_GPU_BUNDLE", ROOT / ".gpu_bundle"))

Check = Callable[..., None]


def port_checks(dev: torch.device, check: Check, out: Path | None) -> None:
    from sensorium.senses.person_torch import TorchSelfiePerson

    availability = TorchSelfiePerson().available()
    check("ports can run here (tflite reader + .tflite files)", availability.ok, availability.reason)
    if not availability:
        return
    network_checks(dev, check)
    prepare_checks(dev, check, out)


def network_checks(dev: torch.device, check: Check) -> None:
    from sensorium.senses.mediapipe_ports import FaceDetector, FaceLandmarkNet, PersonNet, crop_faces

    x = photo_batch(512, 4, torch.device("cpu"))
    boxes = x.new_tensor(FACE_BOX).expand(4, 4)
    crops = crop_faces(x, boxes)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        for label, net, inputs, pick in (("person", PersonNet(), x, lambda o: o),
                                         ("face detection", FaceDetector(), x, lambda o: o[0]),
                                         ("face landmarks", FaceLandmarkNet(), crops, lambda o: o[0])):  # fmt: skip
            with torch.inference_mode():
                want = pick(net(inputs))
                got = pick(net.to(dev)(inputs.to(dev))).cpu()
            rel = ((got - want).abs().max() / want.abs().max().clamp(min=1e-12)).item()
            check(f"{label} port on {dev} equals CPU (fp32, TF32 off), batch 4", rel <= 1e-4,
                  f"max |Δ| {(got - want).abs().max():.2e} (relative {rel:.1e})")  # fmt: skip
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32


def _files(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as f:
            out[path.name] = {k: f[k] for k in f.files}
    return out


def compare(a: dict[str, dict[str, np.ndarray]], b: dict[str, dict[str, np.ndarray]]) -> dict[str, dict]:
    """Per map (modality) over the files both folders hold: format alike, and the worst agreement."""
    from sensorium.senses import parity

    rows: dict[str, dict] = {}
    for name in sorted(set(a) & set(b)):
        for key in sorted(k for k in set(a[name]) & set(b[name]) if k.startswith("map_") or k == "image"):
            x, y = a[name][key], b[name][key]
            row = rows.setdefault(key, {"files": 0, "same_format": True, "mean": 0.0, "max": 0.0, "iou": 1.0})
            row["files"] += 1
            row["same_format"] &= bool(x.dtype == y.dtype == np.uint8 and x.shape == y.shape)
            if x.shape == y.shape:
                found = parity.agreement(x, y)
                row["mean"], row["max"] = max(row["mean"], found.mean), max(row["max"], found.max)
                row["iou"] = min(row["iou"], found.iou)
    return rows


def within(row: dict, modality: str) -> bool:
    from sensorium.senses import parity

    worst = parity.Agreement(row["mean"], row["max"], row["iou"])
    return row["same_format"] and worst.within(parity.TOLERANCES[modality])


def prepare_checks(dev: torch.device, check: Check, out: Path | None) -> None:
    from benchmarks.bench_prepare import pinned, port_pins
    from sensorium.modalities import DEFAULT_MODALITIES
    from training.prepare import main as prepare_main

    with tempfile.TemporaryDirectory() as tmp:
        photos = content_photos(Path(tmp) / "photos")
        n = len(list(photos.glob("*.jpg")))
        common = [str(photos), "--resolution", str(RESOLUTION), "--workers", "1"]
        report = prepare_main([*common, "--out", f"{tmp}/cuda", "--sense-device", str(dev)])  # every modality
        check(f"prepare on {dev}: every bundled photo done", len(report["done"]) == n,
              f"{len(report['done'])}/{n}; skipped {report['skipped']}")  # fmt: skip
        senses = report["senses"]
        batched = sorted(m for m, how in senses.items() if f"batched on {dev}" in how)
        check(f"prepare on {dev} runs the ports batched there", "person" in batched, ", ".join(batched))
        named = all(m in senses and (not how.startswith("cannot run") or len(how) > 20) for m, how in senses.items())
        check(f"prepare on {dev} names each sense it cannot run (no crash)", named and set(senses) == set(DEFAULT_MODALITIES),
              "; ".join(f"{m}: {how[:80]}" for m, how in senses.items() if how.startswith("cannot run")))  # fmt: skip
        with pinned(port_pins(batched)):
            prepare_main([*common, "--out", f"{tmp}/cpu", "--sense-device", "cpu", "--senses", ",".join(batched)])
        cuda_files = _files(Path(tmp) / "cuda")
        vs_cpu = compare(_files(Path(tmp) / "cpu"), cuda_files)
        check(f"prepare's port maps on {dev} equal the CPU ports' within the parity tolerance (TF32 on, as prepare runs)",
              all(within(vs_cpu[f"map_{m}"], m) for m in batched),
              json.dumps({k: round(r["max"] * 255, 1) for k, r in vs_cpu.items()}) + " max |Δ| in uint8 levels")  # fmt: skip
        reference = BUNDLE / "reference"
        vs_mediapipe = compare(_files(reference), cuda_files) if reference.is_dir() else {}
        if vs_mediapipe:
            for m in [m for m in batched if f"map_{m}" in vs_mediapipe]:
                check(f"prepare's {m} maps on {dev} match mediapipe's (bundled reference, the parity tolerance)",
                      within(vs_mediapipe[f"map_{m}"], m), json.dumps(vs_mediapipe[f"map_{m}"]))  # fmt: skip
        else:
            check("mediapipe reference present (benchmarks/gpu_bundle.py)", False, f"{reference} missing")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "prepare_cuda.json").write_text(json.dumps(
                {"report": report, "cuda_vs_cpu_ports": vs_cpu, "cuda_vs_mediapipe": vs_mediapipe}, indent=2))  # fmt: skip
