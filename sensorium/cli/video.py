"""`python -m sensorium video IN STYLE -o OUT`: translate a clip frame by frame with one style.

The style image is encoded once; maps are smoothed over time (`--smooth`, see
`sensorium.video.SMOOTHED_MODALITIES` for which); frames are streamed, so any length fits in
memory. Prints the flicker of output and input (mean |Δ| between consecutive frames) at the end.
"""

from __future__ import annotations

import argparse

from ..video import translate_video, video_info
from .common import (
    CLIError,
    load_pipeline,
    parse_domain,
    parse_modalities,
    parse_strengths,
    prepare_faster_runtime,
    print_notes,
    progress_bar,
    read_image,
)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.smooth < 1.0:
        raise CLIError(f"--smooth must be in [0, 1) (0 = off), got {args.smooth}")
    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.out.resolve() == args.video.resolve():
        raise CLIError("-o must differ from the input video (it is read while the output is written)")
    info = video_info(args.video)  # an unreadable video fails before the checkpoint loads
    style = read_image(args.style, "style")
    pipe = load_pipeline(args)  # frames stay out of its map cache (translate_video)
    modalities = parse_modalities(args.modalities, pipe)
    strengths = parse_strengths(args.strength, pipe)
    style = pipe.style(style, args.resolution, parse_domain(args.domain, pipe))  # once, for the whole clip
    known = [n for n in (info.frames, args.max_frames) if n]
    frames = min(known) if known else None
    prepare_faster_runtime(pipe, frames)  # every frame is a new content
    with progress_bar(frames, "frame") as bar:
        report = translate_video(
            pipe, args.video, style, args.out, modalities=modalities, strengths=strengths, smooth=args.smooth,
            resolution=args.resolution, max_frames=args.max_frames, input_size=args.input_size,
            progress=lambda _: bar.update(1),
        )  # fmt: skip
    print_notes(report.notes)
    print(f"wrote {args.out}: {report.frames} frames at {report.fps:g} fps, {report.size[0]}×{report.size[1]}, "
          f"{report.seconds:.1f} s")  # fmt: skip
    print(f"flicker (mean |Δ| of consecutive frames, pixels in [0, 1]): output {report.flicker_out:.4f}, "
          f"input {report.flicker_in:.4f}, ratio {report.flicker_ratio:.2f}")  # fmt: skip
    return 0
