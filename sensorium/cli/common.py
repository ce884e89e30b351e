"""What the `translate` and `video` commands share: checkpoint and argument resolution, the
pipeline, image reading with one-line errors, map saving, progress bars and note printing."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..bundled import demo_checkpoint
from ..images import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from PIL import Image

    from ..pipeline import TranslationPipeline
    from ..senses import Extraction

CHECKPOINT_ENV = "SENSORIUM_CHECKPOINT"
DEFAULT_CHECKPOINT = demo_checkpoint()
THUMB = 192  # contact-sheet cell size; only thumbnails of results are kept in memory


class CLIError(Exception):
    """A usage mistake; the message is printed as one line and the exit code is 2."""


# -- arguments ----------------------------------------------------------------------------------
def checkpoint_path(arg: str | None) -> str:
    """--checkpoint, else $SENSORIUM_CHECKPOINT, else the bundled portraits checkpoint."""
    return arg or os.environ.get(CHECKPOINT_ENV) or str(DEFAULT_CHECKPOINT)


def parse_modalities(text: str | None, pipe: TranslationPipeline) -> list[str] | None:
    """"pose,edges" → the names, checked by the pipeline (None = every modality)."""
    if text is None:
        return None
    return list(usage(pipe.modalities_of, [m.strip() for m in text.split(",") if m.strip()]))


def parse_strengths(items: Iterable[str], pipe: TranslationPipeline) -> dict[str, float]:
    """["pose=1.2", "depth=0.5,edges=0"] → {"pose": 1.2, …}, checked by the pipeline."""
    out: dict[str, float] = {}
    for item in (part.strip() for text in items for part in text.split(",") if part.strip()):
        name, sep, value = item.partition("=")
        try:
            x = float(value)
        except ValueError:
            x = -1.0
        if not sep or not x >= 0:  # `not >=` also rejects nan
            raise CLIError(f"--strength expects MODALITY=NUMBER >= 0, got {item!r}")
        out[name.strip()] = x
    return usage(pipe.strengths_of, out)


def parse_maps(items: Iterable[str], pipe: TranslationPipeline) -> dict[str, Path]:
    """["person=mask.png", …] → {"person": Path("mask.png")}: names and files checked here, the
    pictures decoded by the pipeline (their notes printed with the result's)."""
    out: dict[str, Path] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise CLIError(f"--map expects MODALITY=FILE, got {item!r}")
        if name not in pipe.config.modalities:
            raise CLIError(f"--map {name}: unknown modality; this checkpoint has: {', '.join(pipe.config.modalities)}")
        if name in out:
            raise CLIError(f"--map {name} is given twice")
        path = Path(value.strip())
        if not path.is_file():
            raise CLIError(f"--map {name}: {path} not found")
        out[name] = path
    return out


def usage(check, *args, prefix: str = ""):
    """One of the pipeline's request checks; its UsageError becomes a one-line CLI error (exit 2),
    after `prefix` (e.g. "--" when the message starts with the flag's name)."""
    from ..pipeline import UsageError

    try:
        return check(*args)
    except UsageError as exc:
        raise CLIError(f"{prefix}{exc}") from exc


# Renders from which a run first prepares the faster runtime: on the bundled checkpoint a grid of 24
# took 13.5 s with the export (2.0 s) against 13.2 s on fused, and 11.5 s once the graphs were cached;
# a 40-frame clip 18.8 s against 21.4 s (benchmarks/RESULTS.md, the CLIs on `auto`). So about here
# the run that exports breaks even, and every later run gains.
PREPARE_FROM_RENDERS = 24


# -- shared steps -------------------------------------------------------------------------------
def load_pipeline(args: argparse.Namespace) -> TranslationPipeline:
    """The pipeline for `args.checkpoint` on `args.device`."""
    import torch

    from ..model import CheckpointError, Sensorium
    from ..pipeline import TranslationPipeline, pick_device, trained_senses
    from ..senses import SenseSet

    try:
        device = pick_device(args.device)
    except RuntimeError as exc:
        raise CLIError(f"unknown --device {args.device!r} ({exc})") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError("--device cuda was asked for, but no CUDA GPU is available here")
    try:
        model = Sensorium.from_pretrained(checkpoint_path(args.checkpoint), device=device)
    except CheckpointError as exc:
        hint = "" if args.checkpoint else f" (pass --checkpoint PATH_OR_HUB_ID, or set ${CHECKPOINT_ENV})"
        raise CLIError(f"{exc}{hint}") from exc
    senses = SenseSet(model.config.modalities, device=device, preferred=trained_senses(model))
    pipe = TranslationPipeline(model, senses=senses, device=device, runtime=getattr(args, "runtime", None))
    if pipe.runtime_note:
        print(pipe.runtime_note, file=sys.stderr)
    usage(pipe.resolution_of, args.resolution, prefix="--")
    return pipe


def prepare_faster_runtime(pipe: TranslationPipeline, renders: int | None) -> None:
    """For a run of at least PREPARE_FROM_RENDERS renders (None: not known ahead, as a video's frames
    may not be, or without end, as the app's): what "auto" skips at load (the ONNX graphs' export,
    seconds on the CPU, cached for every later run), then the switch; its note on stderr."""
    if renders is not None and renders < PREPARE_FROM_RENDERS:
        return
    note = pipe.upgrade_runtime()
    if note:
        print(note, file=sys.stderr)


def parse_domain(value: str, pipe: TranslationPipeline) -> int:
    """`--domain male` or `--domain 1` → the style head's index."""
    try:
        return pipe.domain_index(value)
    except ValueError as exc:
        raise CLIError(f"--domain: {exc}") from exc


def read_image(path: Path, role: str) -> Image.Image:
    from ..images import ImageError, load_image

    try:
        return load_image(path).image
    except ImageError as exc:
        raise CLIError(f"{role} image {path}: {exc}") from exc


def image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise CLIError(f"{folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def save_maps(maps: Extraction, folder: Path, stem: str) -> None:
    """`<stem>.<modality>.png` (preview) and `.npy` ((C, H, W) float32), as `sensorium.senses` writes."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for m, smap in maps.items():
        smap.preview.save(folder / f"{stem}.{m}.png")
        np.save(folder / f"{stem}.{m}.npy", smap.tensor.float().cpu().numpy())


class Bar(Protocol):
    def update(self, n: int = 1) -> object: ...
    def __enter__(self) -> Bar: ...
    def __exit__(self, *exc: object) -> object: ...


def progress_bar(total: int | None, unit: str) -> Bar:
    """A tqdm bar (a silent stand-in without tqdm) to use as `with progress_bar(n, "img") as bar:`."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Silent()
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def print_notes(notes: Iterable[str]) -> None:
    """Sense notes (unavailable model, no face found) as `note:` lines on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
