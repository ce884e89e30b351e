"""Prepare a training set: centre-crop every image to the training resolution, run the senses,
and cache image + maps as one `.npz` per image (see sensorium/data.py).

    python -m training.prepare IMAGES_DIR --out data/prepared --resolution 256 \
        --senses face_parsing,face_depth,person,pose,face_landmarks,edges [--workers 2]

Resumable (existing outputs are skipped), parallel over processes, and it reports every image it
skipped and why (unreadable, too small, no face found when --require face_landmarks…).
Sub-folders of IMAGES_DIR become domains (`root/<domain>/…` → `out/<domain>/…`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def find_images(root: Path) -> list[tuple[Path, str]]:
    """(image, domain) pairs: top-level files get domain "", files in sub-folders the folder name."""
    found = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            rel = p.relative_to(root)
            found.append((p, rel.parts[0] if len(rel.parts) > 1 else ""))
    return found


_senses = None  # one SenseSet per worker process (mediapipe graphs are per process)


def _init_worker(senses: list[str], device: str) -> None:
    global _senses
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sensorium.senses import SenseSet

    _senses = SenseSet(senses, device=device)


def prepare_one(job: tuple[str, str, int, list[str], bool]) -> tuple[str, str]:
    """→ (status, message) with status in {"done", "skipped"}."""
    src, dst, resolution, require, allow_upscale = job
    from sensorium.data import save_sample
    from sensorium.images import ImageError, center_crop_square, load_image

    try:
        loaded = load_image(src, max_side=4096)
    except ImageError as exc:
        return "skipped", f"{src}: unreadable: {exc}"
    w, h = loaded.image.size
    if min(w, h) < resolution and not allow_upscale:
        return "skipped", f"{src}: too small ({w}x{h} < {resolution})"
    image = center_crop_square(loaded.image, resolution)
    maps = _senses.extract(image, (resolution, resolution))
    for need in require:
        if need not in maps or not maps[need].found:
            return "skipped", f"{src}: no {need} found ({maps.notes.get(need, 'nothing detected')})"
    tensors = {m: sm.tensor for m, sm in maps.items() if sm.found}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    save_sample(Path(dst), np.asarray(image), tensors, notes=maps.notes)
    return "done", f"{src}: {sorted(tensors)}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--senses", default="face_parsing,face_depth,person,pose,face_landmarks,edges")
    parser.add_argument("--require", default="", help="skip images where these senses find nothing")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--allow-upscale", action="store_true", help="keep images smaller than the resolution")
    args = parser.parse_args(argv)

    senses = [s for s in args.senses.split(",") if s]
    require = [s for s in args.require.split(",") if s]
    jobs, already = [], 0
    for src, domain in find_images(args.images):
        dst = args.out / domain / (src.stem + ".npz")
        if dst.exists():
            already += 1  # resumable: a finished file is never redone
            continue
        jobs.append((str(src), str(dst), args.resolution, require, args.allow_upscale))

    from tqdm import tqdm

    report = {"done": [], "skipped": [], "already_done": already}
    if jobs and args.workers == 1:
        _init_worker(senses, args.device)
        for job in tqdm(jobs, desc="prepare"):
            status, message = prepare_one(job)
            report[status].append(message)
    elif jobs:
        # "spawn", not fork: forking a process that already runs threads (torch, hub telemetry,
        # a test runner) can copy a held lock into the child and hang it forever.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(senses, args.device)) as pool:  # fmt: skip
            for status, message in tqdm(pool.map(prepare_one, jobs), total=len(jobs), desc="prepare"):
                report[status].append(message)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prepare_report.json").write_text(json.dumps(report, indent=2))
    print(f"prepared {len(report['done'])}, already done {already}, skipped {len(report['skipped'])}")
    for line in report["skipped"]:
        print(f"  skipped {line}")
    return report


if __name__ == "__main__":
    main()
