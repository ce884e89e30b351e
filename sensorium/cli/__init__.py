"""Command line: `python -m sensorium translate|video|senses …` (also the `sensorium` script).

    python -m sensorium translate content.jpg style.jpg -o out.png --modalities pose,face_landmarks
    python -m sensorium translate contents/ styles/ -o grid/        # every pair + contact_sheet.png
    python -m sensorium translate a.jpg b.jpg -o out.png --map person=mask.png   # your own person map
    python -m sensorium video clip.mp4 style.jpg -o styled.mp4 --smooth 0.6
    python -m sensorium senses photo.jpg -o maps/                   # = python -m sensorium.senses

Mistakes a person can make (unreadable image or video, missing checkpoint, unknown modality) end
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import DEFAULT_RESOLUTION
from ..runtime import RUNTIME_ENV, RUNTIMES
from .common import CHECKPOINT_ENV, DEFAULT_CHECKPOINT, CLIError

__all__ = ["CLIError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sensorium", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="{translate,video,senses}")
    t = sub.add_parser("translate", help="translate an image, or every pair of two folders")
    t.add_argument("content", type=Path, help="content image, or a folder of them")
    t.add_argument("style", type=Path, help="style image, or a folder of them")
    t.add_argument("-o", "--out", type=Path, required=True, help="output PNG; a folder when an input is a folder")
    t.add_argument("--save-maps", type=Path, metavar="DIR", help="also write each content's maps (.png, .npy)")
    t.add_argument("--map", action="append", default=[], metavar="MODALITY=FILE",
                   help="your own map instead of the sense's, drawn like its preview (e.g. person=mask.png); "
                        "repeatable")  # fmt: skip
    v = sub.add_parser("video", help="translate a video with one style")
    v.add_argument("video", type=Path, help="input video (MP4, MOV, MKV, WebM, AVI)")
    v.add_argument("style", type=Path, help="style image")
    v.add_argument("-o", "--out", type=Path, required=True, help="output video, e.g. out.mp4")
    v.add_argument("--smooth", type=float, default=0.6, help="EMA factor of the maps over time, 0 = off (0.6)")
    v.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    v.add_argument("--input-size", action="store_true", help="resize output frames to the input size")
    for q in (t, v):
        q.add_argument(
            "--checkpoint", help=f"folder or Hub id (default ${CHECKPOINT_ENV}, else {DEFAULT_CHECKPOINT.name})"
        )
        q.add_argument("--modalities", help="comma-separated subset of the checkpoint's modalities (default all)")
        q.add_argument("--strength", action="append", default=[], metavar="MODALITY=X", help="scale a map; repeatable")
        q.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION,
                       help=f"long side of the output (default {DEFAULT_RESOLUTION})")  # fmt: skip
        q.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 … (default auto)")
        q.add_argument("--runtime", type=str.lower, choices=RUNTIMES, default=None,
                       help=f"content encoder + generator runtime (default ${RUNTIME_ENV}, else auto)")  # fmt: skip
        q.add_argument("--domain", default="0", help="style domain of a multi-domain checkpoint: name or number")
    sub.add_parser("senses", help="extract sense maps (python -m sensorium senses --help)", add_help=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (2 for mistakes, printed as one line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["senses"]:  # its own parser, kept where it lives
        from ..senses.__main__ import main as senses_main

        return senses_main(argv[1:])
    args = build_parser().parse_args(argv)
    from ..config import ConfigError
    from ..images import ImageError
    from ..model import CheckpointError
    from ..pipeline import UsageError
    from ..video import VideoError

    try:
        if args.command == "translate":
            from .translate import run
        else:
            from .video import run
        return run(args)
    except (CLIError, UsageError, ImageError, CheckpointError, ConfigError, VideoError) as exc:
        print(f"sensorium {args.command}: error: {exc}", file=sys.stderr)
        return 2
