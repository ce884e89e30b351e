"""Video translation: one style for the whole clip, senses per frame, maps smoothed over time.

Frames are streamed (read → senses → smooth → generate → write), so memory does not grow with the
clip. Per-frame detectors jitter (keypoints move a pixel or two, depth is normalised per frame),
and the generator turns that jitter into flicker; an exponential moving average of the maps
(`smooth`) trades a little lag for stability. The flicker metric reports how well that worked.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

from .config import DEFAULT_RESOLUTION
from .modalities import MODALITIES
from .pipeline import Content, TranslationPipeline
from .senses import Extraction, image_hash

# Maps whose values vary smoothly and can be averaged over time: keypoint drawings, depth, the
# person mask and edges. Label maps are left alone: averaging segmentation's binary class codes
# would spell *other* classes, and mixed one-hot face-parsing regions are unlike anything the
# model saw in training.
SMOOTHED_MODALITIES: tuple[str, ...] = tuple(m for m, spec in MODALITIES.items() if spec.smoothed)
_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}


class VideoError(ValueError):
    """A video we cannot read or write; `str(err)` is a sentence meant for the person."""


@dataclass(frozen=True)
class VideoReport:
    """What `translate_video` did.

    frames: frames written; fps: of input and output; size: output (W, H).
    flicker_out / flicker_in: mean absolute difference between consecutive frames, pixels in
    [0, 1], for the translation and for the input resized to model size (so both are comparable).
    """

    frames: int
    fps: float
    size: tuple[int, int]
    flicker_out: float
    flicker_in: float
    seconds: float
    notes: tuple[str, ...] = ()  # distinct sense notes seen on any frame ("pose: no person found")

    @property
    def flicker_ratio(self) -> float:
        """flicker_out / flicker_in: below 1 the output is steadier than the input itself."""
        return self.flicker_out / self.flicker_in if self.flicker_in > 0 else math.inf

    def summary(self) -> str:
        return (f"{self.frames} frames at {self.fps:g} fps, {self.size[0]}×{self.size[1]}, {self.seconds:.1f} s; "
                f"flicker out {self.flicker_out:.4f} / in {self.flicker_in:.4f} = {self.flicker_ratio:.2f}")  # fmt: skip


class MapSmoother:
    """Exponential moving average of map tensors across frames, per modality.

    smoothed_t = factor * smoothed_{t-1} + (1 - factor) * map_t; the first frame is taken as is.
    factor 0 is off. A frame where the sense found nothing contributes its zero map, so a lost
    detection fades out over a few frames instead of vanishing in one.
    """

    def __init__(self, factor: float, modalities: Sequence[str] = SMOOTHED_MODALITIES):
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"smoothing factor must be in [0, 1), got {factor}")
        self.factor = float(factor)
        self.modalities = frozenset(modalities)
        self.state: dict[str, torch.Tensor] = {}

    def __call__(self, maps: Extraction) -> Extraction:
        """A new Extraction with smoothed tensors; `maps` (possibly cached) is not modified."""
        out = Extraction()
        out.notes, out.seconds = dict(maps.notes), dict(maps.seconds)
        for m, smap in maps.items():
            if self.factor == 0.0 or m not in self.modalities:
                out[m] = smap
                continue
            prev = self.state.get(m)
            x = smap.tensor.float()
            if prev is not None and prev.shape == x.shape:
                x = torch.lerp(x, prev, self.factor)  # factor * prev + (1 - factor) * x
            self.state[m] = x
            out[m] = dataclasses.replace(smap, tensor=x)
        return out


class FlickerMeter:
    """Running mean of |frame_t - frame_{t-1}| over consecutive frames (pixels in [0, 1])."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.total, self.pairs = 0.0, 0

    def add(self, frame: Image.Image | np.ndarray) -> None:
        x = np.asarray(frame, dtype=np.float32) / 255.0
        if self.previous is not None and self.previous.shape == x.shape:
            self.total += float(np.abs(x - self.previous).mean())
            self.pairs += 1
        self.previous = x

    @property
    def value(self) -> float:
        return self.total / self.pairs if self.pairs else 0.0


class VideoInfo(NamedTuple):
    fps: float
    size: tuple[int, int]  # (W, H)
    frames: int | None  # estimated from the duration; None when the container does not say


def video_info(src: str | Path) -> VideoInfo:
    """fps, size and estimated frame count of a video file; VideoError when it is not a readable video."""
    import imageio.v3 as iio

    path = Path(src)
    if not path.is_file():
        raise VideoError(f"video file {str(src)!r} not found")
    try:
        meta = iio.immeta(path, plugin="FFMPEG")
    except Exception as exc:
        raise VideoError(f"{path.name} is not a video we can read (ffmpeg could not open it); "
                         "please give an MP4, MOV, MKV, WebM or AVI file") from exc  # fmt: skip
    fps, size, duration = meta.get("fps"), meta.get("size"), meta.get("duration")
    if not fps or not math.isfinite(fps) or fps <= 0 or not size:
        raise VideoError(f"{path.name} has no video stream with a frame rate we can read")
    frames = round(duration * fps) if duration and math.isfinite(duration) else None
    return VideoInfo(float(fps), (int(size[0]), int(size[1])), frames)


def iter_frames(src: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Stream the frames of `src` as (H, W, 3) uint8 arrays, one at a time."""
    import imageio.v3 as iio

    count = 0
    try:
        for frame in iio.imiter(Path(src), plugin="FFMPEG"):
            if max_frames is not None and count >= max_frames:
                return
            count += 1
            yield frame[..., :3] if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
    except Exception as exc:  # imageio/ffmpeg raise many types for a truncated or corrupt stream
        raise VideoError(f"could not decode {Path(src).name} after {count} frames (damaged file?)") from exc


def translate_video(
    pipe: TranslationPipeline,
    src: str | Path,
    style: Image.Image | torch.Tensor,
    dst: str | Path,
    modalities: Sequence[str] | None = None,
    strengths: Mapping[str, float] | None = None,
    smooth: float = 0.6,
    resolution: int = DEFAULT_RESOLUTION,
    max_frames: int | None = None,
    smooth_modalities: Sequence[str] = SMOOTHED_MODALITIES,
    input_size: bool = False,
    progress: Callable[[int], None] | None = None,
) -> VideoReport:
    """Translate the clip `src` into the style of `style` (an image or a style vector) at `dst`.

    The style vector is encoded once; senses run on every frame at model size (long side
    `resolution`); maps of `smooth_modalities` are averaged over time with factor `smooth`
    (0 = off, see MapSmoother). Output keeps the input fps and has the model size, or the input
    size (resized with LANCZOS) when `input_size`. Frames stay out of the pipeline's map cache
    (they never come back, and would push out the maps of the images that do); a frame equal to
    the one before it (a still shot) reuses its maps. `progress(i)` is called after each frame.
    """
    start = time.perf_counter()
    fps, in_size, _ = video_info(src)
    wanted = pipe.modalities_of(modalities)
    strengths = pipe.strengths_of(strengths)
    s = pipe.style(style, resolution)
    smoother = MapSmoother(smooth, smooth_modalities)
    flicker_in, flicker_out = FlickerMeter(), FlickerMeter()
    writer, frames, size, notes = None, 0, in_size, {}
    try:
        previous: tuple[str, Content] | None = None  # the last frame's hash and its content, before smoothing
        for array in iter_frames(src, max_frames):
            frame = Image.fromarray(array)
            digest = image_hash(frame)
            if previous is None or previous[0] != digest:
                previous = digest, pipe.sense(frame, resolution, wanted, cache=False)
            content = dataclasses.replace(previous[1], maps=smoother(previous[1].maps))
            notes.update({f"{m}: {msg}": None for m, msg in content.maps.notes.items() if msg})
            (out,) = pipe.render(content, s, wanted, strengths)
            flicker_in.add(content.image)
            flicker_out.add(out)
            if input_size and out.size != in_size:
                out = out.resize(in_size, Image.Resampling.LANCZOS)
            if writer is None:
                size, writer = out.size, _open_writer(dst, fps)
            writer.append_data(np.asarray(out))
            frames += 1
            if progress is not None:
                progress(frames)
    finally:
        if writer is not None:
            writer.close()
    if frames == 0:
        raise VideoError(f"{Path(src).name} has no frames we could read")
    seconds = time.perf_counter() - start
    return VideoReport(frames, fps, size, flicker_out.value, flicker_in.value, seconds, tuple(notes))


def _open_writer(dst: str | Path, fps: float) -> Any:  # an imageio FFMPEG writer
    import imageio

    path = Path(dst)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # macro_block_size=2: model sizes are multiples of the stride, so no silent resizing
        return imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec=_CODECS.get(path.suffix.lower()),
                                  quality=8, macro_block_size=2, ffmpeg_log_level="error")  # fmt: skip
    except Exception as exc:
        raise VideoError(f"cannot write a video to {path} ({exc}); use a .mp4 or .webm file name") from exc
