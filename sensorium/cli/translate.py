"""`python -m sensorium translate CONTENT STYLE -o OUT`: one pair, or every content × every style.

With folders, each style is encoded once, each content's maps are extracted once (the pipeline
caches them), results go to `OUT/<content>__<style>.png`, and `OUT/contact_sheet.png` shows them
all: styles along the first row, contents down the first column. Unreadable files in a folder
are skipped with a warning; an unreadable single file is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..contact_sheet import contact_sheet, thumbnail
from .common import (
    THUMB,
    CLIError,
    image_files,
    load_pipeline,
    parse_domain,
    parse_maps,
    parse_modalities,
    parse_strengths,
    prepare_faster_runtime,
    print_notes,
    progress_bar,
    read_image,
    save_maps,
)

if TYPE_CHECKING:
    from ..pipeline import TranslationPipeline

MAX_SHEET_SIDE = 8192  # pixels; big grids get smaller cells instead of a gigapixel sheet


def run(args: argparse.Namespace) -> int:
    for path, role in ((args.content, "content"), (args.style, "style")):
        if not path.exists():
            raise CLIError(f"{role} {path} not found")
    pipe = load_pipeline(args)
    modalities = parse_modalities(args.modalities, pipe)
    strengths = parse_strengths(args.strength, pipe)
    args.domain = parse_domain(args.domain, pipe)
    maps = parse_maps(args.map, pipe)
    if maps and args.content.is_dir():
        raise CLIError("--map is one content image's map: give a single content image, not a folder")
    if args.content.is_dir() or args.style.is_dir():
        return _run_folders(pipe, args, modalities, strengths, maps)
    out = args.out / f"{args.content.stem}__{args.style.stem}.png" if args.out.is_dir() else args.out
    content, style = read_image(args.content, "content"), read_image(args.style, "style")
    result = pipe(content, style, modalities=modalities, strengths=strengths, resolution=args.resolution,
                  domain=args.domain, maps=maps)  # fmt: skip
    print_notes(result.notes)
    _save(result.image, out)
    if args.save_maps:
        save_maps(result.maps, args.save_maps, args.content.stem)
    print(f"wrote {out} ({result.image.width}×{result.image.height}, {result.timings['total']:.2f} s)")
    return 0


def _run_folders(pipe: TranslationPipeline, args: argparse.Namespace, modalities: list[str] | None,
                 strengths: dict[str, float], maps: dict | None = None) -> int:  # fmt: skip
    """Every content × every style; `maps` (your own, one content image only) go with each style."""
    contents = image_files(args.content) if args.content.is_dir() else [args.content]
    style_paths = image_files(args.style) if args.style.is_dir() else [args.style]
    args.out.mkdir(parents=True, exist_ok=True)
    prepare_faster_runtime(pipe, len(contents) * len(style_paths))
    skipped: list[str] = []
    styles = []  # (name, thumbnail, style vector): the full style images are not kept
    for path in style_paths:
        try:
            image = read_image(path, "style")
        except CLIError as exc:
            skipped.append(str(exc))
            continue
        styles.append((path.stem, thumbnail(image, THUMB), pipe.style(image, args.resolution, args.domain)))
    if not styles:
        raise CLIError(f"none of the style images could be read ({'; '.join(skipped)})")
    notes: dict[str, dict[str, None]] = {}  # note → contents it concerns; printed after the progress bar
    rows, cells = [], []
    with progress_bar(len(contents) * len(styles), "img") as bar:
        for path in contents:
            try:
                content = read_image(path, "content")
            except CLIError as exc:
                skipped.append(str(exc))
                bar.update(len(styles))
                continue
            row = []
            for name, _, vector in styles:
                result = pipe(content, vector, modalities=modalities, strengths=strengths, resolution=args.resolution,
                              maps=maps)  # fmt: skip
                for note in result.notes:
                    notes.setdefault(note, {})[path.name] = None
                _save(result.image, args.out / f"{path.stem}__{name}.png")
                row.append(thumbnail(result.image, THUMB))
                bar.update(1)
            if args.save_maps and styles:
                save_maps(result.maps, args.save_maps, path.stem)
            rows.append((thumbnail(content, THUMB), path.stem))
            cells.append(row)
    print_notes(note if len(files) == len(rows) else f"{note} ({', '.join(files)})" for note, files in notes.items())
    for message in skipped:
        print(f"warning: skipped {message}", file=sys.stderr)
    if not rows:
        raise CLIError("none of the content images could be read: nothing was translated")
    cell = max(48, min(THUMB, MAX_SHEET_SIDE // (max(len(rows), len(styles)) + 1)))
    sheet = contact_sheet(
        rows, [(thumb, name) for name, thumb, _ in styles], cells, cell=cell, corner="content \\ style"
    )
    sheet.save(args.out / "contact_sheet.png")
    print(f"wrote {len(rows) * len(styles)} images and contact_sheet.png to {args.out}/")
    return 0


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        image.save(path)
    except (ValueError, KeyError) as exc:  # Pillow: unknown extension
        raise CLIError(f"cannot save {path}: use a .png, .jpg or .webp file name") from exc
