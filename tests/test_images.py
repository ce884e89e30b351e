"""Bad-input corpus and fuzzing for sensorium.images: every upload gives RGB or a friendly ImageError.

The corpus is generated here (no fixtures on disk); huge images are crafted as PNG headers or
zlib-compressed zeros so they cost kilobytes, never gigabytes.
"""

from __future__ import annotations

import builtins
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from sensorium.images import (
    MAX_PIXELS,
    ImageError,
    LoadedImage,
    center_crop_square,
    fit_to_model,
    load_image,
    pil_to_tensor,
    tensor_to_pil,
)

_EXCEPTION_NAMES = [
    n
    for n in dir(builtins)
    if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
] + ["UnidentifiedImageError", "DecompressionBomb", "PIL.", "numpy.", "struct.error", "zlib.error", "Traceback"]


def assert_friendly(err: ImageError) -> None:
    msg = str(err)
    assert 10 < len(msg) < 300, msg
    for name in _EXCEPTION_NAMES:
        assert name not in msg, f"{name!r} leaked into {msg!r}"


# ---- corpus builders -------------------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bytes(w: int, h: int, bit_depth: int, color_type: int, rows: bytes | None, plte: bytes = b"") -> bytes:
    """A hand-written PNG; `rows=None` writes no IDAT (a header that only *claims* a size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if plte:
        out += chunk(b"PLTE", plte)
    if rows is not None:
        out += chunk(b"IDAT", rows)
    return out + chunk(b"IEND", b"")


def zero_rows(w: int, h: int, bits_per_pixel: int) -> bytes:
    """zlib stream of h all-zero scanlines, compressed row by row (cheap for huge images)."""
    row = bytes(1 + (w * bits_per_pixel + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(h)]
    return b"".join(parts) + comp.flush()


def bomb_png(w: int, h: int) -> bytes:
    return png_bytes(w, h, 1, 0, zero_rows(w, h, 1))


def gradient(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8), "RGB")


def half_red(w: int = 60, h: int = 40) -> Image.Image:
    """Red left half, blue right half: orientation tests check where the red ends up."""
    im = Image.new("RGB", (w, h), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, w // 2, h))
    return im


def exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(half_red(), "JPEG", quality=95, exif=exif.tobytes())


def rgba_half_transparent() -> Image.Image:
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 20, 40))  # left half fully transparent black
    return im


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def float_tiff_with_nan() -> bytes:
    a = np.linspace(0.0, 1.0, 32 * 32, dtype=np.float32).reshape(32, 32)
    a[0, 0], a[0, 1], a[0, 2] = np.nan, np.inf, -np.inf
    return encode(Image.fromarray(a, "F"), "TIFF")


def palette_with_transparency() -> Image.Image:
    """P image: index 0 transparent (left half), index 1 red (right half)."""
    im = Image.new("P", (40, 40), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    im.paste(0, (0, 0, 20, 40))
    return im


def path_with(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


# ---- corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Any]  # tmp_path -> source
    check: Callable[[LoadedImage], None] | None = None  # None: ImageError expected
    error_has: str = ""  # a word the friendly message must contain


def size_is(w: int, h: int) -> Callable[[LoadedImage], None]:
    def check(r: LoadedImage) -> None:
        assert r.image.size == (w, h)

    return check


def px(r: LoadedImage, xy: tuple[int, int]) -> np.ndarray:
    return np.asarray(r.image, dtype=np.int32)[xy[1], xy[0]]


def check_all(r: LoadedImage, rgb: tuple[int, int, int]) -> None:
    a = np.asarray(r.image, dtype=np.int32)
    assert np.abs(a - np.array(rgb)).max() <= 1, (a.min(axis=(0, 1)), a.max(axis=(0, 1)))


def check_white_left(r: LoadedImage) -> None:
    assert np.all(px(r, (5, 20)) >= 250) and px(r, (30, 20))[0] >= 250 and px(r, (30, 20))[1] <= 5
    assert any("white" in n for n in r.notes)


def check_la(r: LoadedImage) -> None:  # transparent left half -> white, red right half -> gray 76
    assert px(r, (5, 20)).tolist() == [255] * 3 and px(r, (30, 20)).tolist() == [76] * 3


def check_rot6(r: LoadedImage) -> None:  # 90° clockwise: the left (red) half moves to the top
    assert r.image.size == (40, 60)
    assert px(r, (20, 10))[0] > 200 and px(r, (20, 50))[2] > 200


def check_rot3(r: LoadedImage) -> None:  # 180°: red moves to the right
    assert r.image.size == (60, 40)
    assert px(r, (50, 20))[0] > 200 and px(r, (10, 20))[2] > 200


def check_gray16(r: LoadedImage) -> None:
    a = np.asarray(r.image)
    assert a[0, 0].tolist() == [0, 0, 0] and a[0, -1].tolist() == [255, 255, 255]
    assert abs(int(a[0, 32, 0]) - 130) <= 3  # 32/63 of full scale, not saturated, not 1/256


def check_first_frame(r: LoadedImage) -> None:
    assert px(r, (5, 5)).tolist() == [255, 0, 0] and any("first frame" in n for n in r.notes)


def check_float_nan(r: LoadedImage) -> None:
    a = np.asarray(r.image)
    assert r.image.size == (32, 32) and a[-1, -1, 0] == 255 and a[16, 0, 0] in range(120, 136)


def check_cmyk_cyan(r: LoadedImage) -> None:
    red, green, blue = px(r, (5, 5))
    assert red < 60 and green > 180 and blue > 180


def check_downscaled(r: LoadedImage) -> None:
    assert r.image.size == (2048, 683) and r.original_size == (3000, 1000)
    assert any("scaled" in n for n in r.notes)


CASES = [
    # -- unusable uploads: a friendly ImageError
    Case("empty_file", lambda t: path_with(t, "empty.jpg", b""), error_has="empty"),
    Case("whitespace_only", lambda t: b"  \n\t ", error_has="empty"),
    Case("truncated_jpeg", lambda t: encode(gradient(256, 256), "JPEG")[:700], error_has="damaged"),
    Case("truncated_png", lambda t: encode(gradient(256, 256), "PNG")[:400], error_has="damaged"),
    Case(
        "text_named_png", lambda t: path_with(t, "photo.png", b"hello, this is not a picture\n" * 5), error_has="text"
    ),
    Case("html_page", lambda t: b"<!DOCTYPE html><html><body><img src='x.jpg'></body></html>", error_has="HTML"),
    Case("svg_drawing", lambda t: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', error_has="SVG"),
    Case(
        "heic_unknown", lambda t: b"\x00\x00\x00\x18ftypheic" + np.random.default_rng(0).bytes(2000), error_has="HEIC"
    ),
    Case("pdf_document", lambda t: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", error_has="PDF"),
    Case("random_bytes", lambda t: np.random.default_rng(1).bytes(5000), error_has="not an image"),
    Case("one_by_one", lambda t: encode(Image.new("RGB", (1, 1)), "PNG"), error_has="1×1"),
    Case("header_20000x20000", lambda t: png_bytes(20000, 20000, 8, 2, None), error_has="too large"),
    Case("bomb_15000x15000", lambda t: bomb_png(15000, 15000), error_has="too large"),
    # between our 80 MP and Pillow's ~89 MP warning: only our local limit catches it
    Case("bomb_85mp_local_limit", lambda t: bomb_png(9000, 9500), error_has="too large"),
    Case("long_and_thin", lambda t: Image.new("RGB", (5000, 20)), error_has="thin"),
    Case("missing_path", lambda t: t / "nope.jpg", error_has="find"),
    Case("none", lambda t: None, error_has="No image"),
    Case("text_stream", lambda t: io.StringIO("not bytes"), error_has="text"),
    Case("array_object_dtype", lambda t: np.array([[object()] * 20] * 20), error_has="array"),
    Case("array_bad_shape", lambda t: np.zeros((20, 20, 5), np.uint8), error_has="shape"),
    Case("array_all_nan", lambda t: np.full((20, 20), np.nan), error_has="NaN"),
    # -- usable uploads: clean RGB
    Case("png_rgb", lambda t: encode(gradient(), "PNG"), size_is(64, 48)),
    Case("jpeg_by_str_path", lambda t: str(path_with(t, "a.jpg", encode(gradient(), "JPEG"))), size_is(64, 48)),
    Case("file_like", lambda t: io.BytesIO(encode(gradient(), "PNG")), size_is(64, 48)),
    Case(
        "png_16bit_gray",
        lambda t: encode(Image.fromarray(np.tile(np.arange(64, dtype=np.uint16) * 1040, (20, 1))), "PNG"),
        check_gray16,
    ),
    Case(
        "png_16bit_rgb",
        lambda t: png_bytes(20, 20, 16, 2, zlib.compress((b"\x00" + b"\xff\xff\x00\x00\x80\x00" * 20) * 20)),
        lambda r: check_all(r, (255, 0, 128)),
    ),
    Case("grayscale_jpeg", lambda t: encode(gradient().convert("L"), "JPEG"), size_is(64, 48)),
    Case("bilevel_png", lambda t: encode(gradient().convert("1"), "PNG"), size_is(64, 48)),
    Case("palette_png", lambda t: encode(gradient().convert("P"), "PNG"), size_is(64, 48)),
    Case(
        "palette_transparent_gif",
        lambda t: encode(palette_with_transparency(), "GIF", transparency=0),
        check_white_left,
    ),
    Case("rgba_transparent_png", lambda t: encode(rgba_half_transparent(), "PNG"), check_white_left),
    Case("la_png", lambda t: encode(rgba_half_transparent().convert("LA"), "PNG"), check_la),
    Case("rgba_pil_object", lambda t: rgba_half_transparent(), check_white_left),
    Case("cmyk_jpeg", lambda t: encode(Image.new("CMYK", (32, 32), (255, 0, 0, 0)), "JPEG"), check_cmyk_cyan),
    Case("exif_orientation_6", lambda t: exif_jpeg(6), check_rot6),
    Case("exif_orientation_3", lambda t: exif_jpeg(3), check_rot3),
    Case("animated_gif", lambda t: animated_gif(), check_first_frame),
    Case("webp_lossy", lambda t: encode(gradient(), "WEBP", quality=80), size_is(64, 48)),
    Case("webp_alpha", lambda t: encode(rgba_half_transparent(), "WEBP", lossless=True), check_white_left),
    Case("tiff_float_nan_inf", lambda t: float_tiff_with_nan(), check_float_nan),
    Case(
        "tiff_16bit",
        lambda t: encode(Image.fromarray(np.full((20, 20), 65535, np.uint16)), "TIFF"),
        lambda r: check_all(r, (255, 255, 255)),
    ),
    Case("bmp", lambda t: encode(gradient(), "BMP"), size_is(64, 48)),
    Case("large_downscaled", lambda t: encode(Image.new("RGB", (3000, 1000), (10, 200, 30)), "PNG"), check_downscaled),
    Case("min_side_exact", lambda t: Image.new("RGB", (16, 300)), size_is(16, 300)),
    Case("array_float_unit", lambda t: np.full((20, 30, 3), 0.5, np.float32), lambda r: check_all(r, (128, 128, 128))),
    Case("array_float_signed", lambda t: np.full((20, 20, 3), -1.0), lambda r: check_all(r, (0, 0, 0))),
    Case(
        "array_uint16_gray1", lambda t: np.full((20, 20, 1), 65535, np.uint16), lambda r: check_all(r, (255, 255, 255))
    ),
    Case("array_bool", lambda t: np.ones((20, 20), dtype=bool), lambda r: check_all(r, (255, 255, 255))),
    Case("array_int64_negative", lambda t: np.arange(-200, 200).reshape(20, 20), size_is(20, 20)),
    Case(
        "array_rgba_float",
        lambda t: np.dstack([np.zeros((20, 20, 3)), np.zeros((20, 20))]),
        lambda r: check_all(r, (255, 255, 255)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus(case: Case, tmp_path: Path) -> None:
    source = case.make(tmp_path)
    if case.check is None:
        with pytest.raises(ImageError) as info:
            load_image(source)
        assert_friendly(info.value)
        assert case.error_has.lower() in str(info.value).lower(), str(info.value)
        return
    result = load_image(source)
    assert isinstance(result, LoadedImage)
    assert result.image.mode == "RGB"
    case.check(result)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25 and MAX_PIXELS == 80_000_000


# ---- property-based fuzzing ------------------------------------------------------------------

_SEEDS = [encode(gradient(24, 20), f) for f in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")] + [animated_gif()]
_MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"II*\x00", b""]
# database=None: no .hypothesis/ folder in the repo; failures still print a reproducible example
_FUZZ = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _rgb_or_image_error(source: Any, **kw: Any) -> None:
    try:
        result = load_image(source, **kw)
    except ImageError as err:
        assert_friendly(err)
        return
    assert result.image.mode == "RGB" and min(result.image.size) >= kw.get("min_side", 16)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")  # Pillow's, on garbage input
@_FUZZ
@given(st.sampled_from(_MAGIC), st.binary(max_size=3000))
def test_fuzz_random_bytes(magic: bytes, tail: bytes) -> None:
    _rgb_or_image_error(magic + tail)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns on corrupt EXIF/TIFF tags
@_FUZZ
@given(st.sampled_from(_SEEDS), st.data())
def test_fuzz_mutated_images(seed: bytes, data: st.DataObject) -> None:
    buf = bytearray(seed[: data.draw(st.integers(1, len(seed)))])
    for _ in range(data.draw(st.integers(0, 8))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    _rgb_or_image_error(bytes(buf), min_side=1)


_DTYPES = st.sampled_from(["u1", "u2", ">u2", "u4", "i1", "i2", "i4", "i8", "f2", "f4", "f8", "?", "c8"])


@_FUZZ
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=24)), st.integers(1, 8))
def test_fuzz_arrays(arr: np.ndarray, min_side: int) -> None:
    _rgb_or_image_error(arr, min_side=min_side)


@_FUZZ
@given(st.integers(1, 3000), st.integers(1, 3000), st.sampled_from([1, 2, 8, 16, 32, 64]), st.integers(1, 12))
def test_fuzz_fit_to_model(w: int, h: int, multiple: int, k: int) -> None:
    resolution = multiple * k * (1 if multiple >= 16 else 8)
    out = fit_to_model(Image.new("L", (w, h)), resolution, multiple)
    ow, oh = out.size
    assert ow % multiple == 0 and oh % multiple == 0 and min(ow, oh) >= multiple
    assert (ow if w >= h else oh) == resolution
    short = min(w, h) * resolution / max(w, h)
    assert abs(min(ow, oh) - max(multiple, short)) <= multiple / 2 + 1e-9


# ---- helpers ---------------------------------------------------------------------------------


def test_fit_to_model_rejects_bad_resolution() -> None:
    with pytest.raises(ValueError):
        fit_to_model(gradient(), 100, 16)


def test_center_crop_square() -> None:
    im = half_red(60, 40)  # the central 40×40 square is half red, half blue
    out = center_crop_square(im, 20)
    assert out.size == (20, 20)
    a = np.asarray(out, dtype=np.int32)
    assert a[10, 2, 0] > 200 and a[10, 17, 2] > 200


def test_tensor_round_trip() -> None:
    im = gradient()
    t = pil_to_tensor(im)
    assert t.shape == (3, 48, 64) and t.dtype == torch.float32
    assert t.min() >= -1.0 and t.max() <= 1.0
    assert np.array_equal(np.asarray(tensor_to_pil(t)), np.asarray(im))
    assert np.array_equal(np.asarray(tensor_to_pil(t[None] * 5)), np.asarray(tensor_to_pil((t[None] * 5).clamp(-1, 1))))
    assert tensor_to_pil(torch.full((3, 4, 4), float("nan"))).mode == "RGB"

