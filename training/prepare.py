"""Prepare a training set: centre-crop every image to the training resolution, run the senses,
and cache image + maps as one `.npz` per image (see sensorium/data.py).

    python -m training.prepare IMAGES_DIR --out data/prepared --resolution 256 \
        --senses face_parsing,face_depth,person,pose,face_landmarks,edges [--workers 2]
    python -m training.prepare --dataset HUB_ID_OR_DIR [--split train] [--domain_column COL] --out …

Resumable (existing outputs are skipped), parallel over processes, and it reports every image it
skipped and why (unreadable, too small, no face found when --require face_landmarks…).
Sub-folders of IMAGES_DIR become domains (`root/<domain>/…` → `out/<domain>/…`); with
--dataset (a Hugging Face image dataset: hub id, `save_to_disk` directory or local folder) the
values of --domain_column do.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from sensorium.modalities import DEFAULT_MODALITIES

from .image_collections import FolderCollection, HFDatasetCollection, ImageCollection

_senses = None  # one SenseSet per worker process (mediapipe graphs are per process)
_source: ImageCollection | None = None


def _init_worker(senses: list[str], device: str, source: ImageCollection) -> None:
    global _senses, _source
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from sensorium.senses import SenseSet

    _senses = SenseSet(senses, device=device)
    _source = source


def prepare_one(job: tuple[str | int, str, str, int, list[str], bool]) -> tuple[str, str]:
    """→ (status, message) with status in {"done", "skipped"}."""
    ref, label, dst, resolution, require, allow_upscale = job
    from sensorium.data import save_sample
    from sensorium.images import ImageError, center_crop_square, load_image

    try:
        loaded = load_image(_source.read(ref), max_side=4096)
    except (ImageError, OSError, ValueError) as exc:
        return "skipped", f"{label}: unreadable: {exc}"
    w, h = loaded.image.size
    if min(w, h) < resolution and not allow_upscale:
        return "skipped", f"{label}: too small ({w}x{h} < {resolution})"
    image = center_crop_square(loaded.image, resolution)
    maps = _senses.extract(image, (resolution, resolution))
    for need in require:
        if need not in maps or not maps[need].found:
            return "skipped", f"{label}: no {need} found ({maps.notes.get(need, 'nothing detected')})"
    tensors = {m: sm.tensor for m, sm in maps.items() if sm.found}
    providers = {m: _senses.sense(m).name for m in tensors}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    save_sample(Path(dst), np.asarray(image), tensors, notes=maps.notes, providers=providers)
    return "done", f"{label}: {sorted(tensors)}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", type=Path, nargs="?", help="a folder of photos (sub-folders = domains)")
    parser.add_argument("--dataset", help="a Hugging Face image dataset instead: hub id or local directory")
    parser.add_argument("--split", default="train", help="--dataset split")
    parser.add_argument("--config", help="--dataset configuration name")
    parser.add_argument("--image-column", "--image_column", dest="image_column", help="--dataset image column (default: the first Image feature)")
    parser.add_argument("--domain-column", "--domain_column", dest="domain_column", help="--dataset column whose values become domains")
    parser.add_argument("--limit", type=int, help="prepare only the first N images (a quick look at a big set)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--senses", default=",".join(DEFAULT_MODALITIES),
                        help="modalities to extract (default: all; those whose sense cannot run here are skipped)")
    parser.add_argument("--require", default="", help="skip images where these senses find nothing")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--allow-upscale", action="store_true", help="keep images smaller than the resolution")
    args = parser.parse_args(argv)
    if (args.images is None) == (args.dataset is None):
        parser.error("give either an image folder or --dataset")
    source: ImageCollection = (
        FolderCollection(args.images)
        if args.dataset is None
        else HFDatasetCollection(args.dataset, args.split, args.config, args.image_column, args.domain_column)
    )

    senses = [s for s in args.senses.split(",") if s]
    require = [s for s in args.require.split(",") if s]
    jobs, already = [], 0
    for item in source.items()[: args.limit]:
        dst = args.out / item.domain / (item.key + ".npz")
        if dst.exists():
            already += 1  # resumable: a finished file is never redone
            continue
        jobs.append((item.ref, item.label, str(dst), args.resolution, require, args.allow_upscale))

    from tqdm import tqdm

    report = {"done": [], "skipped": [], "already_done": already}
    if jobs and args.workers == 1:
        _init_worker(senses, args.device, source)
        for job in tqdm(jobs, desc="prepare"):
            status, message = prepare_one(job)
            report[status].append(message)
    elif jobs:
        # "spawn", not fork: forking a process that already runs threads (torch, hub telemetry,
        # a test runner) can copy a held lock into the child and hang it forever.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(senses, args.device, source)) as pool:  # fmt: skip
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
