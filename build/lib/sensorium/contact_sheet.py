"""A labelled grid of images: header row and column of inputs, translations in the cells.

Used by `python -m sensorium translate` on folders (first row: style images, first column: content
images) and importable by any script that wants the same overview (ablations, training samples).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

# A header or cell: an image, a text, an image with a caption, or None (left blank).
Label = Image.Image | str | tuple[Image.Image, str] | None

BACKGROUND = (255, 255, 255)
HEADER_TINT = (236, 236, 236)  # header cells get a light grey frame so they read as inputs


def contact_sheet(
    row_labels: Sequence[Label],
    col_labels: Sequence[Label],
    images: Sequence[Sequence[Image.Image | None]],
    cell: int = 160,
    pad: int = 4,
    corner: Label = None,
) -> Image.Image:
    """Grid of (1 + rows) × (1 + cols) cells of `cell`×`cell` pixels, as an RGB image.

    row_labels: one per row (drawn in the first column); col_labels: one per column (first row).
    images[r][c]: the cell for row r and column c (None leaves it blank). Images are fitted into
    their cell with their aspect ratio kept; strings are drawn as centred text; (image, caption)
    pairs get the caption on a band at the bottom. `corner` fills the top-left cell.
    """
    if len(images) != len(row_labels) or any(len(row) != len(col_labels) for row in images):
        raise ValueError(f"images must be {len(row_labels)} rows × {len(col_labels)} columns")
    if cell < 8 or pad < 0:
        raise ValueError(f"need cell >= 8 and pad >= 0, got {cell=}, {pad=}")
    rows, cols = len(row_labels) + 1, len(col_labels) + 1
    sheet = Image.new("RGB", (cols * (cell + pad) + pad, rows * (cell + pad) + pad), BACKGROUND)
    font = _font(max(10, cell // 12))

    def place(r: int, c: int, label: Label, header: bool) -> None:
        x, y = pad + c * (cell + pad), pad + r * (cell + pad)
        if header:
            sheet.paste(HEADER_TINT, (x, y, x + cell, y + cell))
        if label is not None:
            sheet.paste(_render(label, cell, font, HEADER_TINT if header else BACKGROUND), (x, y))

    place(0, 0, corner, header=True)
    for c, label in enumerate(col_labels, start=1):
        place(0, c, label, header=True)
    for r, (label, row) in enumerate(zip(row_labels, images, strict=True), start=1):
        place(r, 0, label, header=True)
        for c, image in enumerate(row, start=1):
            place(r, c, image, header=False)
    return sheet


def thumbnail(image: Image.Image, size: int) -> Image.Image:
    """A copy of `image` fitting in size×size (aspect kept); small enough to hold many of them."""
    out = image.convert("RGB").copy()
    out.thumbnail((size, size), Image.Resampling.LANCZOS)
    return out


def _render(label: Label, cell: int, font: ImageFont.ImageFont, background: tuple[int, int, int]) -> Image.Image:
    tile = Image.new("RGB", (cell, cell), background)
    draw = ImageDraw.Draw(tile)
    if isinstance(label, Image.Image):
        image, text = label, ""
    elif isinstance(label, str):
        image, text = None, label
    else:
        image, text = label
    if image is not None:
        im = ImageOps.contain(image.convert("RGB"), (cell, cell), Image.Resampling.LANCZOS)  # up or down
        tile.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    if text and image is not None:  # caption on a dark band at the bottom
        band = int(getattr(font, "size", 10)) + 6
        draw.rectangle((0, cell - band, cell, cell), fill=(0, 0, 0))
        draw.text((cell // 2, cell - band // 2), _fit(text, draw, font, cell - 4), fill=(255, 255, 255),
                  font=font, anchor="mm")  # fmt: skip
    elif text:
        draw.text((cell // 2, cell // 2), _fit(text, draw, font, cell - 4), fill=(0, 0, 0), font=font, anchor="mm")
    return tile


def _fit(text: str, draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, width: int) -> str:
    """`text`, shortened with an ellipsis until it fits `width` pixels (long file names)."""
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except (TypeError, OSError):
        return ImageFont.load_default()
