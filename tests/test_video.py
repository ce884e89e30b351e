"""Video translation: frame count, size and fps are kept; smoothing the maps lowers flicker on a
real clip (the astronaut, panning, with sensor noise); unreadable videos give a clear error.

The clip is 8 frames of 128×128 at 10 fps; the model is a tiny random checkpoint (see test_cli).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sensorium.cli import common, main
from sensorium.senses import Extraction
from sensorium.senses.base import SenseMap
from sensorium.video import MapSmoother, VideoError, translate_video, video_info

MODALITIES = ["pose", "face_landmarks", "face_depth", "edges"]  # all re-detected, and jittering, every frame
FRAMES, FPS, SIDE = 8, 10, 128


@pytest.fixture(scope="module")
def pipe(checkpoint):
    from sensorium.pipeline import TranslationPipeline

    return TranslationPipeline.from_pretrained(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The astronaut's head and shoulders, panning 5 px a frame, with a little per-frame noise."""
    import imageio
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256)), dtype=np.float32)
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    with imageio.get_writer(path, format="FFMPEG", fps=FPS, codec="libx264", ffmpeg_log_level="error") as w:
        for i in range(FRAMES):
            frame = photo[0:SIDE, 40 + 5 * i : 40 + 5 * i + SIDE] + rng.normal(0, 6, (SIDE, SIDE, 3))
            w.append_data(np.clip(frame, 0, 255).astype(np.uint8))
    return path


@pytest.fixture(scope="module")
def style() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea())


def read_back(path: Path) -> tuple[int, float, tuple[int, ...]]:
    import imageio.v3 as iio

    frames = list(iio.imiter(path, plugin="FFMPEG"))
    return len(frames), iio.immeta(path, plugin="FFMPEG")["fps"], frames[0].shape


def test_keeps_frame_count_size_and_fps(pipe, clip, style, tmp_path):
    report = translate_video(pipe, clip, style, tmp_path / "out.mp4", modalities=MODALITIES, resolution=64)
    assert (report.frames, report.fps, report.size) == (FRAMES, FPS, (64, 64))
    assert read_back(tmp_path / "out.mp4") == (FRAMES, FPS, (64, 64, 3))
    assert report.flicker_in > 0 and report.flicker_out > 0


def test_smoothing_lowers_flicker(pipe, clip, style, tmp_path):
    kw = dict(modalities=MODALITIES, resolution=128)
    raw = translate_video(pipe, clip, style, tmp_path / "raw.mp4", smooth=0.0, **kw)
    smooth = translate_video(pipe, clip, style, tmp_path / "smooth.mp4", smooth=0.6, **kw)
    print(f"\nflicker without smoothing: {raw.summary()}\nflicker with smoothing 0.6: {smooth.summary()}")
    assert raw.flicker_in == pytest.approx(smooth.flicker_in)  # same input frames
    assert smooth.flicker_out < 0.8 * raw.flicker_out


def test_cli_video_with_max_frames_and_input_size(checkpoint, clip, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("SENSORIUM_CACHE_DIR", str(tmp_path / "graphs"))  # a cold graph cache
    monkeypatch.delenv("SENSORIUM_RUNTIME", raising=False)
    monkeypatch.setattr(common, "PREPARE_FROM_RENDERS", 3)  # this run's --max-frames
    Image.new("RGB", (64, 64), (200, 120, 40)).save(tmp_path / "orange.png")
    out = tmp_path / "cli.mp4"
    rc = main(["video", str(clip), str(tmp_path / "orange.png"), "-o", str(out), "--checkpoint", str(checkpoint),
               "--modalities", "edges", "--resolution", "64", "--max-frames", "3", "--input-size"])  # fmt: skip
    assert rc == 0
    assert read_back(out) == (3, FPS, (SIDE, SIDE, 3))  # resized back to the input size
    said = capsys.readouterr()
    assert "flicker" in said.out
    # "auto" prepared the faster runtime for the clip: its graphs exported once, into the cache
    assert "Runtime: onnx from now on" in said.err and list((tmp_path / "graphs").rglob("*.onnx"))


def test_unreadable_video_is_a_clear_error(pipe, clip, style, checkpoint, tmp_path, capsys):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match="junk.mp4 is not a video we can read"):
        translate_video(pipe, junk, style, tmp_path / "x.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # an interrupted download
    with pytest.raises(VideoError, match="cut.mp4"):
        video_info(cut)
    Image.new("RGB", (64, 64)).save(tmp_path / "s.png")
    rc = main(
        ["video", str(junk), str(tmp_path / "s.png"), "-o", str(tmp_path / "x.mp4"), "--checkpoint", str(checkpoint)]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "not a video we can read" in err and err.count("\n") == 1
    assert not (tmp_path / "x.mp4").exists()


def test_smoother_is_an_ema_that_leaves_cached_maps_alone():
    def extraction(value: float) -> Extraction:
        out = Extraction()
        for m in ("pose", "segmentation"):
            out[m] = SenseMap(m, torch.full((1, 2, 2), value), Image.new("RGB", (2, 2)))
        return out

    smoother, first, second = MapSmoother(0.75), extraction(1.0), extraction(0.0)
    assert smoother(first)["pose"].tensor.mean() == 1.0  # the first frame is taken as is
    out = smoother(second)
    assert out["pose"].tensor.mean().item() == pytest.approx(0.75)  # 0.75 * 1 + 0.25 * 0
    assert out["segmentation"] is second["segmentation"]  # label codes are never averaged
    assert second["pose"].tensor.mean() == 0.0  # the (cached) input map is not modified
    assert MapSmoother(0.0)(second)["pose"] is second["pose"]
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MapSmoother(1.0)


def test_frames_stay_out_of_the_map_cache_and_a_still_shot_is_sensed_once(pipe, style, tmp_path, monkeypatch):
    """A library call must not fill the pipeline's map cache (shared with the app) with frames that
    never come back; a run of equal frames (lossless clip: decoded exactly) runs the senses once."""
    import imageio
    from skimage import data

    still, other = (np.asarray(Image.fromarray(data.astronaut()).crop(box).resize((64, 64)))
                    for box in ((0, 0, 256, 256), (200, 200, 456, 456)))  # fmt: skip
    path = tmp_path / "still.mkv"
    with imageio.get_writer(path, format="FFMPEG", fps=FPS, codec="ffv1", pixelformat="bgr0",
                            ffmpeg_log_level="error", macro_block_size=1) as w:  # fmt: skip
        for frame in (still, still, still, other):
            w.append_data(frame)
    sensed, real_sense = [], pipe.sense
    monkeypatch.setattr(pipe, "sense", lambda *a, **k: sensed.append(k) or real_sense(*a, **k))
    cached = len(pipe.senses.cache)
    report = translate_video(pipe, path, style, tmp_path / "out.mp4", modalities=MODALITIES, resolution=64)
    assert report.frames == 4 and len(sensed) == 2 and all(k["cache"] is False for k in sensed)
    assert len(pipe.senses.cache) == cached
