"""Turn any user upload into a clean 8-bit RGB image, with errors written for people.

Every entry point (app, inference, training data) goes through `load_image`, so the model never
sees alpha, 16-bit, palette, CMYK, EXIF-rotated or gigantic images, and users never see a
traceback. Also the small resize/crop helpers and the [-1, 1] tensor conversions the model uses.
"""

from __future__ import annotations

import codecs
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageCms, ImageOps

if TYPE_CHECKING:
    import torch

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | Image.Image | np.ndarray

MAX_PIXELS = 80_000_000  # decode limit; Pillow's own (~89 MP warn, ~179 MP error) is global, ours is local
MAX_FILE_BYTES = 200 * 1024 * 1024  # refuse to even read larger uploads
# Formats we let Pillow try. A whitelist keeps exotic plugins (EPS runs Ghostscript) out of reach.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF", "AVIF", "PPM", "JPEG2000", "QOI", "HEIF")
_PLEASE = "Please upload a JPEG, PNG or WebP."
# File names a folder of photos is scanned for (CLI folders, prepare.py, composites): one set.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


class ImageError(ValueError):
    """An upload we cannot use. `str(err)` is a friendly sentence meant for the person."""


@dataclass(frozen=True)
class LoadedImage:
    """A clean upload: `image` is 8-bit RGB; `notes` say what we changed; `original_size` is (W, H)."""

    image: Image.Image
    notes: tuple[str, ...]
    original_size: tuple[int, int]


def load_image(source: ImageSource, *, max_side: int = 2048, min_side: int = 16, matte: Matte = "white") -> LoadedImage:
    """Decode `source` (path, bytes, file-like, PIL image or numpy array) into an RGB image.

    EXIF orientation is applied, transparency becomes white (`matte="black"` for maps, where black
    is "nothing there"), any bit depth / colour mode becomes 8-bit RGB, animations give their first
    frame, and images longer than `max_side` are scaled down (LANCZOS). Raises `ImageError` (and
    nothing else) when the source is unusable.
    """
    if min_side < 1 or max_side < min_side:
        raise ValueError(f"need 1 <= min_side <= max_side, got {min_side=}, {max_side=}")
    try:
        rgb, notes, original = _decode(source, min_side, _MATTES[matte])
        return _limit_size(rgb, tuple(notes), original, max_side, min_side)
    except ImageError:
        raise
    except MemoryError as err:
        raise ImageError("That image is too large for us to process. Please upload a smaller one.") from err
    except Exception as err:  # the contract: callers only ever see ImageError
        raise ImageError(f"Something went wrong while reading that image. {_PLEASE}") from err


def _decode(source: ImageSource, min_side: int, matte: int) -> tuple[Image.Image, list[str], tuple[int, int]]:
    if source is None:
        raise ImageError("No image was given. Please upload one.")
    if isinstance(source, np.ndarray):
        rgb, notes = _array_to_rgb(source, matte)
        _check_min(rgb.size, min_side)
        return rgb, notes, rgb.size
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, min_side, matte)
    data = _read_bytes(source)
    return _pil_to_rgb(_open(data), min_side, matte)


def _read_bytes(source: object) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise ImageError("We could not find that file. Please upload it again.")
        with open(source, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        raise ImageError(f"We did not receive an image (got a {type(source).__name__}). {_PLEASE}")
    if not isinstance(data, (bytes, bytearray)):
        raise ImageError(f"We received text instead of an image file. {_PLEASE}")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"That file is too large (over {MAX_FILE_BYTES >> 20} MB). Please upload a smaller image.")
    return bytes(data)


def _open(data: bytes) -> Image.Image:
    """Identify and fully decode `data`; only image headers are trusted before the size check."""
    if not data or (len(data) < 4096 and not data.strip()):
        raise ImageError(f"That file is empty. {_PLEASE}")
    Image.init()
    formats = [f for f in _FORMATS if f in Image.OPEN]
    try:
        im = Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise _too_large() from err
    except Exception as err:
        raise ImageError(_unknown_format_message(data)) from err
    w, h = im.size
    if w * h > MAX_PIXELS:  # checked before decoding: the header alone tells us
        raise _too_large(w, h)
    try:
        im.load()
    except Exception as err:
        kind = f"{im.format} image" if im.format else "image"
        raise ImageError(
            f"That {kind} seems damaged or incomplete (was the upload cut off?). Please save it again and re-upload."
        ) from err
    return im


def _too_large(w: int = 0, h: int = 0) -> ImageError:
    size = f" ({w}×{h} pixels)" if w else ""
    return ImageError(
        f"That image is too large{size}; the limit is {MAX_PIXELS // 1_000_000} megapixels. Please upload a smaller one."
    )


def _unknown_format_message(data: bytes) -> str:
    """Guess what the person uploaded instead of an image, to say something useful."""
    head = data[:2048].lstrip().lower()
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"heif", b"mif1", b"msf1", b"heim", b"heis"):
        return "HEIC/HEIF photos (the iPhone default) are not supported. Please convert it to JPEG first, or set your camera to 'Most Compatible'."
    if data[4:8] == b"ftyp":
        return f"That looks like a video or an unsupported photo format. {_PLEASE}"
    if b"<svg" in head:
        return "That is an SVG drawing (vector graphics), which we cannot use. Please export it as PNG or JPEG."
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return (
            f"That file is a web page (HTML), not an image. Open the picture itself and use 'Save image as'. {_PLEASE}"
        )
    if head.startswith(b"%pdf"):
        return f"That is a PDF document, not an image. {_PLEASE}"
    if head.startswith(b"pk\x03\x04"):
        return f"That is a ZIP archive, not an image. {_PLEASE}"
    if _looks_like_text(data[:4096]):
        return f"That file is not an image we can read (a text file?). {_PLEASE}"
    return f"That file is not an image we can read (unknown or damaged format). {_PLEASE}"


def _looks_like_text(chunk: bytes) -> bool:
    try:  # incremental: a multi-byte character cut at the chunk end is fine
        text = codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def _pil_to_rgb(im: Image.Image, min_side: int, matte: int) -> tuple[Image.Image, list[str], tuple[int, int]]:
    notes: list[str] = []
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
        notes.append("This is an animated image; we used its first frame.")
    if im.width * im.height > MAX_PIXELS:
        raise _too_large(im.width, im.height)
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        notes.append("We could not read the photo's orientation, so it may appear rotated.")
    _check_min(im.size, min_side)
    rgb, more = _to_rgb(im, matte)
    return rgb, notes + more, rgb.size


_HIGH_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N", "F")
Matte = Literal["white", "black"]
_MATTES = {"white": 255, "black": 0}  # what transparent pixels become


def _filled(matte: int) -> str:
    return f"Transparent areas were filled with {'white' if matte else 'black'}."


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB of any Pillow image, its mode converted as `load_image` converts it (alpha over
    white, 16-bit and float scaled to 0-255, palettes expanded); for images that did not come
    through `load_image` (the pipeline's API). Colour profiles stay `load_image`'s business."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_BIT_MODES:
        return _array_to_rgb(np.asarray(image), 255)[0]
    return _mode_to_rgb(image, 255)[0]


def _to_rgb(im: Image.Image, matte: int) -> tuple[Image.Image, list[str]]:
    """Any Pillow mode → 8-bit sRGB; high-bit-depth and float modes go through numpy."""
    if im.mode in _HIGH_BIT_MODES:
        return _array_to_rgb(np.asarray(im), matte)
    return _mode_to_rgb(_to_srgb(im), matte)


def _mode_to_rgb(im: Image.Image, matte: int) -> tuple[Image.Image, list[str]]:
    """An 8-bit Pillow mode → RGB, transparency composited onto the matte (0 or 255)."""
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            ground = Image.new("RGBA", rgba.size, (matte, matte, matte, 255))
            return Image.alpha_composite(ground, rgba).convert("RGB"), [_filled(matte)]
        return rgba.convert("RGB"), []
    if im.mode == "RGB":
        return im, []
    try:
        return im.convert("RGB"), []
    except ValueError as err:
        raise ImageError(f"That image uses a colour format ({im.mode}) we cannot convert. {_PLEASE}") from err


def _to_srgb(im: Image.Image) -> Image.Image:
    """Apply an embedded ICC profile (CMYK, Display P3 photos); on any trouble keep the pixels."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "CMYK"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception:
        return im


def _array_to_rgb(arr: np.ndarray, matte: int = 255) -> tuple[Image.Image, list[str]]:
    """(H,W) or (H,W,1|2|3|4) array of bool/int/float → RGB; alpha composited onto the matte."""
    if arr.dtype.kind not in "buif":
        raise ImageError(f"That array does not hold pixel numbers (dtype {arr.dtype}). {_PLEASE}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise ImageError(f"That array has shape {arr.shape}; an image needs (height, width) or (height, width, 3).")
    if arr.size == 0:
        raise ImageError("That image is empty (it has no pixels).")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _too_large(arr.shape[1], arr.shape[0])
    x, notes = _to_unit_range(arr)  # float32 in [0, 1]
    if x.ndim == 2:
        x = x[:, :, None]
    if x.shape[2] in (2, 4):
        color, alpha = x[:, :, :-1], x[:, :, -1:]
        if alpha.min() < 1.0:
            notes.append(_filled(matte))
        x = color * alpha + (matte / 255.0) * (1.0 - alpha)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    out = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(out), "RGB"), notes


def _to_unit_range(arr: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Map pixel values to [0, 1]: uint8 /255, uint16 /65535, floats by their apparent range."""
    kind, notes = arr.dtype.kind, []
    if kind == "b":
        return arr.astype(np.float32), notes
    if kind == "u" and arr.dtype.itemsize == 1:
        return arr.astype(np.float32) / 255.0, notes
    if kind == "u" and arr.dtype.itemsize == 2:  # also big-endian '>u2' from 16-bit PNG/TIFF
        return arr.astype(np.float32) / 65535.0, ["The image had 16-bit colour; we converted it to 8-bit."]
    x = arr.astype(np.float64)  # float64: float32 would overflow on extreme values
    finite = np.isfinite(x)
    if not finite.any():
        raise ImageError("That image has no valid pixel values (all NaN or infinite).")
    lo, hi = float(x[finite].min()), float(x[finite].max())
    if not finite.all():
        x = np.nan_to_num(x, nan=lo, posinf=hi, neginf=lo)
        notes.append("Some pixel values were not numbers; we replaced them.")
    if kind == "f" and lo >= 0.0 and hi <= 1.0:
        pass
    elif kind == "f" and lo >= -1.0 and hi <= 1.0:  # the model's own [-1, 1] range
        x = (x + 1.0) / 2.0
    elif lo >= 0.0 and hi <= 255.0:
        x = x / 255.0
    elif kind in "iu" and lo >= 0.0 and hi <= 65535.0:
        x = x / 65535.0
        notes.append("The image had 16-bit colour; we converted it to 8-bit.")
    else:  # halves keep hi - lo finite even for values near the float64 limit
        x = (x / 2 - lo / 2) / max(hi / 2 - lo / 2, 1e-300)
        notes.append("We rescaled the image's unusual value range to normal brightness.")
    return x.astype(np.float32), notes


def _check_min(size: tuple[int, int], min_side: int) -> None:
    w, h = size
    if min(w, h) < min_side:
        raise ImageError(
            f"That image is only {w}×{h} pixels; please upload one at least {min_side} pixels on each side."
        )


def _limit_size(
    im: Image.Image, notes: tuple[str, ...], original: tuple[int, int], max_side: int, min_side: int
) -> LoadedImage:
    w, h = im.size
    if max(w, h) <= max_side:
        return LoadedImage(im, notes, original)
    scale = max_side / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if min(new) < min_side:
        raise ImageError(f"That image is very long and thin ({w}×{h} pixels). Please crop it closer to the subject.")
    small = im.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return LoadedImage(
        small, notes + (f"We scaled the image down from {w}×{h} to {new[0]}×{new[1]} pixels.",), original
    )


def fit_to_model(image: Image.Image, resolution: int, multiple: int) -> Image.Image:
    """Resize so the longer side is `resolution` (aspect kept), each side a multiple of `multiple`.

    `resolution` must itself be a multiple of `multiple`; the short side is rounded to the nearest
    multiple and is at least `multiple`, so the aspect ratio is kept up to that rounding.
    """
    if multiple < 1 or resolution < multiple or resolution % multiple:
        raise ValueError(f"resolution must be a positive multiple of multiple, got {resolution=}, {multiple=}")
    w, h = image.size
    long_side, short_side = max(w, h), min(w, h)
    short_new = max(multiple, round(short_side * resolution / long_side / multiple) * multiple)
    size = (resolution, short_new) if w >= h else (short_new, resolution)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def center_crop_square(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square of `image`, resized to `size`×`size` (for training data)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return square if side == size else square.resize((size, size), Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image → float32 tensor (3, H, W) in [-1, 1], the range the model works in."""
    import torch  # lazy: loading uploads must not pay for importing torch

    arr = np.asarray(image.convert("RGB"), dtype=np.float32)  # (H, W, 3) in [0, 255]
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous() / 127.5 - 1.0


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W) or (1, 3, H, W) in [-1, 1] → RGB PIL image; values outside are clamped."""
    import torch

    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(t.shape)}")
    x = torch.nan_to_num(t.detach().float().cpu(), nan=0.0).clamp(-1.0, 1.0)
    arr = ((x + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, 3)
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")
