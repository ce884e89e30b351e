"""Prepare a training set: centre-crop every image to the training resolution, run the senses,
and cache image + maps as one `.npz` per image (see sensorium/data.py).

    python -m training.prepare IMAGES_DIR --out data/prepared --resolution 256 \
        --senses face_parsing,face_depth,person,pose,face_landmarks,edges [--workers 2]
    python -m training.prepare --dataset HUB_ID_OR_DIR [--split train] [--domain_column COL] --out …

Resumable (existing outputs are skipped), parallel over processes, and it reports every image it
skipped and why (unreadable, too small, no face found when --require face_landmarks…). A rerun
into a folder must ask for what its samples hold (`prepare_config.json`: resolution and the
modalities that ran), or it is refused: skipping them would leave a set of two kinds.
`--sense-device auto|cpu|cuda` (auto: CUDA where present) says where the senses run: there the
torch ports of mediapipe's networks are chosen (sensorium/senses/registry.rank_providers, the
app's chooser too) and take `--sense-batch` crops per call; senses without a batched path run image
by image as before, and a sense this machine lacks is named with the reason before the run (its
modality is left out of the files, with a note, as always). The files are the same whichever
sense ran: uint8 maps, the provider's name in `sense_<modality>`.
Sub-folders of IMAGES_DIR become domains (`root/<domain>/…` → `out/<domain>/…`); with
--dataset (a Hugging Face image dataset: hub id, `save_to_disk` directory or local folder) the
values of --domain_column do.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from sensorium.atomic import write_atomic
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


def prepare_batch(jobs: list[tuple[str | int, str, str, int, list[str], bool]]) -> list[tuple[str, str]]:
    """Several images of one resolution → one (status, message) each, status "done" or "skipped":
    their crops go through the senses as one batch (`SenseSet.extract_batch`: one network call for
    a batched port, image by image for the other senses), and each crop is saved on its own."""
    from sensorium.images import ImageError, center_crop_square, load_image

    results: list[tuple[str, str] | None] = [None] * len(jobs)
    crops: list[tuple[int, object]] = []
    for i, (ref, label, _, resolution, _, allow_upscale) in enumerate(jobs):
        try:
            loaded = load_image(_source.read(ref), max_side=4096)
        except (ImageError, OSError, ValueError) as exc:
            results[i] = ("skipped", f"{label}: unreadable: {exc}")
            continue
        w, h = loaded.image.size
        if min(w, h) < resolution and not allow_upscale:
            results[i] = ("skipped", f"{label}: too small ({w}x{h} < {resolution})")
            continue
        crops.append((i, center_crop_square(loaded.image, resolution)))
    if crops:
        resolution = jobs[crops[0][0]][3]
        extractions = _senses.extract_batch([image for _, image in crops], (resolution, resolution))
        for (i, image), maps in zip(crops, extractions, strict=True):
            results[i] = _save(jobs[i], image, maps)
    return results  # type: ignore[return-value]


def _save(job: tuple, image, maps) -> tuple[str, str]:
    from sensorium.data import save_sample

    _, label, dst, _, require, _ = job
    for need in require:
        if need not in maps or not maps[need].found:
            return "skipped", f"{label}: no {need} found ({maps.notes.get(need, 'nothing detected')})"
    tensors = {m: sm.tensor for m, sm in maps.items() if sm.found}
    providers = {m: _senses.sense(m).name for m in tensors}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    save_sample(Path(dst), np.asarray(image), tensors, notes=maps.notes, providers=providers)
    return "done", f"{label}: {sorted(tensors)}"


def _run_batches(batches: list[list[tuple]], workers: int, senses: list[str], device: str,
                 source: ImageCollection) -> Iterator[list[tuple[str, str]]]:  # fmt: skip
    """prepare_batch over `batches`, in this process or in `workers` processes, in order."""
    if not batches:
        return
    if workers == 1:
        _init_worker(senses, device, source)
        yield from map(prepare_batch, batches)
        return
    # "spawn", not fork: forking a process that already runs threads (torch, hub telemetry,
    # a test runner) can copy a held lock into the child and hang it forever.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(senses, device, source)) as pool:
        yield from pool.map(prepare_batch, batches)


def sense_device(name: str) -> str:
    """--sense-device: "auto" = CUDA where torch sees it, else the CPU; "cuda" where there is none
    is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(name).type
    except RuntimeError as exc:
        raise argparse.ArgumentTypeError(f"{name!r} is no device (use auto, cpu or cuda)") from exc
    if kind == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{name}: torch sees no CUDA device here (use auto or cpu)")
    return name


PREPARED_WITH = "prepare_config.json"  # in --out: what its samples hold, for a rerun to match
CANNOT_RUN = "cannot run here"


def resume_mismatch(sample: Path, resolution: int) -> str:
    """How a sample already in the output folder differs from what this run writes ('' if not): a
    rerun at another resolution would leave a set of two sizes, which training refuses. (For a
    folder prepared before `PREPARED_WITH` existed: its samples say their size, not their senses.)"""
    from sensorium.data import SampleError, load_sample

    try:
        image, _ = load_sample(sample)
    except SampleError:
        return ""  # a damaged one is training's to report, by name
    h, w = image.shape[:2]
    return "" if (h, w) == (resolution, resolution) else f"of {w}×{h} px ({sample.name}), not {resolution}×{resolution}"


def prepared_with(resolution: int, plan: dict[str, str]) -> dict:
    """What this run's samples will hold: their size and the modalities whose sense runs here (a
    sense that cannot run leaves its modality out of every file)."""
    return {"resolution": resolution, "modalities": sorted(m for m, how in plan.items() if not how.startswith(CANNOT_RUN))}


def describe_prepared(held: dict) -> str:
    return f"of {held['resolution']}×{held['resolution']} px with {', '.join(held['modalities']) or 'no map'}"


def describe_senses(senses: list[str], device: str) -> dict[str, str]:
    """modality → the provider that will fill it on `device` (with "batched" for a port), or why
    none can: printed before the run and kept in the report."""
    from sensorium.senses import SenseSet

    plan = SenseSet(senses, device=device)
    out = {}
    for m, status in plan.status().items():
        sense = plan.sense(m)
        if sense is None or not status:
            out[m] = f"{CANNOT_RUN}: {status.reason}"
        else:
            out[m] = sense.name + (f" (batched on {device})" if sense.batched else "")
            out[m] += f" ({status.reason})" if status.reason else ""
    return out


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
    parser.add_argument("--workers", type=int,
                        help="processes (default: one per CPU core; one on CUDA, whose batches keep the device busy)")
    parser.add_argument("--sense-device", "--device", dest="sense_device", type=sense_device, default="auto",
                        help="auto (CUDA where present), cpu or cuda: where the senses run; on CUDA the torch ports of "
                             "mediapipe's networks run there batched, the other senses as on the CPU")
    parser.add_argument("--sense-batch", type=int, default=16,
                        help="images per call of the batched senses (the ports); the others run image by image")
    parser.add_argument("--allow-upscale", action="store_true", help="keep images smaller than the resolution")
    args = parser.parse_args(argv)
    if (args.images is None) == (args.dataset is None):
        parser.error("give either an image folder or --dataset")
    if args.images is not None and not Path(args.images).is_dir():
        parser.error(f"{args.images}: no such folder")
    source: ImageCollection = (
        FolderCollection(args.images)
        if args.dataset is None
        else HFDatasetCollection(args.dataset, args.split, args.config, args.image_column, args.domain_column)
    )

    if args.sense_batch < 1:
        parser.error("--sense-batch must be at least 1")
    workers = args.workers or (1 if args.sense_device.startswith("cuda") else max(1, os.cpu_count() or 1))
    senses = [s for s in args.senses.split(",") if s]
    unknown = [s for s in [*senses, *(r for r in args.require.split(",") if r)] if s not in DEFAULT_MODALITIES]
    if not senses or unknown:
        parser.error(f"--senses / --require: {'unknown ' + ', '.join(unknown) if unknown else 'no modality'}; "
                     f"known: {', '.join(DEFAULT_MODALITIES)}")  # fmt: skip
    require = [s for s in args.require.split(",") if s]
    jobs, already = [], 0
    items = source.items()[: args.limit]
    destinations = [args.out / item.domain / (item.key + ".npz") for item in items]
    sources: dict[Path, list[str]] = {}  # sample file → the images that would write it
    for item, dst in zip(items, destinations, strict=True):
        sources.setdefault(dst, []).append(str(item.label))
    clashes = [names for names in sources.values() if len(names) > 1]
    if clashes:  # a sample is named by the image's stem: face/a/x.jpg and face/b/x.png would share one
        parser.error(f"{len(clashes)} samples would come from more than one image, e.g. {' and '.join(clashes[0][:2])}: "
                     "give the images distinct names")  # fmt: skip
    plan = describe_senses(senses, args.sense_device)
    wanted = prepared_with(args.resolution, plan)
    record = args.out / PREPARED_WITH
    done = next((dst for dst in sources if dst.exists()), None)
    if record.is_file():  # resuming: the files already there must be what this run would write
        try:
            held = json.loads(record.read_text())
            describe_prepared(held)
        except (OSError, ValueError, TypeError, KeyError):
            parser.error(f"{record} is unreadable: delete it (and the samples it describes) to prepare into "
                         f"{args.out} again")  # fmt: skip
        if held != wanted:
            parser.error(f"{args.out} already holds samples {describe_prepared(held)}; this run would write samples "
                         f"{describe_prepared(wanted)}: give the same --resolution and --senses (on a machine that runs "
                         "the same senses), or another --out")  # fmt: skip
    elif done is not None:  # prepared before the record existed: only the size can be checked
        mismatch = resume_mismatch(done, args.resolution)
        if mismatch:
            parser.error(f"{args.out} already holds samples {mismatch}; give the same --resolution or another --out")
    if done is None or record.is_file():  # never vouch for samples written without a record
        args.out.mkdir(parents=True, exist_ok=True)
        write_atomic(record, json.dumps(wanted, indent=2).encode())
    for item, dst in zip(items, destinations, strict=True):
        if dst.exists():
            already += 1  # resumable: a finished file is never redone
            continue
        jobs.append((item.ref, item.label, str(dst), args.resolution, require, args.allow_upscale))

    from tqdm import tqdm

    print(f"senses on {args.sense_device}:\n" + "\n".join(f"  {m}: {how}" for m, how in plan.items()))
    report = {"done": [], "skipped": [], "already_done": already, "senses": plan}
    # Batches of the sense batch size, but no fewer batches than workers, so every process has work.
    size = max(1, min(args.sense_batch, -(-len(jobs) // workers)))
    batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    with tqdm(total=len(jobs), desc="prepare") as progress:
        for results in _run_batches(batches, workers, senses, args.sense_device, source):
            for status, message in results:
                report[status].append(message)
            progress.update(len(results))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prepare_report.json").write_text(json.dumps(report, indent=2))
    print(f"prepared {len(report['done'])}, already done {already}, skipped {len(report['skipped'])}")
    for line in report["skipped"]:
        print(f"  skipped {line}")
    return report


if __name__ == "__main__":
    main()
