"""The showcase sheet for a checkpoint: rows of content × columns of styles, then one content under
each modality subset (each alone, all but one, all, none: `sensorium.contributions`).

    python -m training.showcase --checkpoint assets/checkpoints/sensorium-portraits --out assets/showcase.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from sensorium.bundled import demo_checkpoint
from sensorium.contact_sheet import contact_sheet
from sensorium.contributions import contributions, contributions_sheet
from sensorium.images import load_image
from sensorium.pipeline import TranslationPipeline

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
CONTENTS = ("content_astronaut.jpg", "content_obama_portrait.jpg", "content_biden_portrait.jpg", "content_group_four_women.jpg")
STYLES = ("content_group_four_women.jpg", "content_obama_portrait.jpg", "content_astronaut.jpg", "style_starry_night.jpg")


def build(pipe: TranslationPipeline, resolution: int, cell: int) -> Image.Image:
    load = lambda name: load_image(EXAMPLES / name).image  # noqa: E731
    contents, styles = [load(c) for c in CONTENTS], [load(s) for s in STYLES]
    grid = [[pipe(c, s, resolution=resolution).image for s in styles] for c in contents]
    top = contact_sheet(contents, styles, grid, cell=cell, corner="content / style")

    content = pipe.sense(contents[0], resolution)
    usable = [m for m in pipe.config.modalities if m in content.maps]
    grid = contributions(pipe, content, pipe.style(styles[0], resolution), usable)
    bottom = contributions_sheet(content, grid, cell=cell)
    sheet = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height + 12), "white")
    sheet.paste(top, (0, 0))
    sheet.paste(bottom, (0, top.height + 12))
    return sheet


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(demo_checkpoint()))
    p.add_argument("--out", type=Path, default=Path("assets/showcase.png"))
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--cell", type=int, default=192)
    p.add_argument("--device")
    args = p.parse_args(argv)
    pipe = TranslationPipeline.from_pretrained(args.checkpoint, device=args.device)
    sheet = build(pipe, args.resolution, args.cell)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
