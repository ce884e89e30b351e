"""The outputs of every inference frontend on fixed inputs: the pipeline, the app handlers, the
CLI's translate and the video path, with the tiny test model and one thread.

`python -m tests.golden` records them into tests/data/golden_outputs.npz; tests/test_golden.py
recomputes them and asserts they are identical, so a refactor of how the frontends are joined
cannot change a single output pixel unnoticed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sensorium.runtime import RUNTIME_ENV

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_outputs.npz"
RES = 64


def _clip(path: Path) -> Path:
    import imageio
    from skimage import data

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((128, 128)))
    with imageio.get_writer(path, format="FFMPEG", fps=5, codec="libx264", ffmpeg_log_level="error") as w:
        for i in range(3):
            w.append_data(np.ascontiguousarray(photo[:, 4 * i : 4 * i + 96]))
    return path


@contextlib.contextmanager
def eager_runtime():
    """$SENSORIUM_RUNTIME=eager for the block, restored after (every frontend reads it at load)."""
    before = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = "eager"
    try:
        yield
    finally:
        if before is None:
            del os.environ[RUNTIME_ENV]
        else:
            os.environ[RUNTIME_ENV] = before


def outputs() -> dict[str, np.ndarray]:
    """name → uint8 array of every frontend's output on the fixed inputs."""
    from demo import handlers as h
    from sensorium.cli import main as cli_main
    from sensorium.video import iter_frames, translate_video
    from tests.app_fixtures import CONTENT, STYLE, STYLE_B, tiny_pipeline

    torch.set_num_threads(1)
    out: dict[str, np.ndarray] = {}
    # Eager is the recorded reference (fast runtimes have their own parity tests, tests/test_runtime.py).
    with tempfile.TemporaryDirectory() as tmp, eager_runtime():
        tmp = Path(tmp)
        pipe = tiny_pipeline(tmp / "ckpt")
        content, style, style_b = (Image.open(p).convert("RGB") for p in (CONTENT, STYLE, STYLE_B))
        r = pipe(content, style, resolution=RES)
        out["pipeline_all"] = np.asarray(r.image)
        r = pipe(content, style, modalities=["edges", "person"], strengths={"edges": 1.5}, resolution=RES,
                 style_b=style_b, mix=0.3)  # fmt: skip
        out["pipeline_subset_mix"] = np.asarray(r.image)
        out["pipeline_style_only"] = np.asarray(pipe(content, style, modalities=[], resolution=RES).image)
        out["pipeline_random"] = np.stack([np.asarray(im) for im in pipe.random_styles(content, n=2, seed=3, resolution=RES)])
        for name, preview in ((m, sm.preview) for m, sm in r.maps.items()):
            out[f"pipeline_map_{name}"] = np.asarray(preview)

        state = h.DemoState.create(pipe)
        t = h.translate(state, str(CONTENT), str(STYLE), ["edges", "face_landmarks"], {"edges": 0.5}, RES, str(STYLE_B), 0.6)
        out["app_translate"] = np.asarray(t.image)
        out["app_translate_content"] = np.asarray(t.content)
        out["app_random"] = np.stack([np.asarray(im) for im, _ in h.random_styles(state, str(CONTENT), ["person"], {}, RES, 5, 2)])
        gallery, _ = h.extract_maps(state, str(CONTENT), RES)
        for i, (im, _) in enumerate(gallery):
            out[f"app_map_{i}"] = np.asarray(im)

        cli_main(["translate", str(CONTENT), str(STYLE), "-o", str(tmp / "cli.png"), "--checkpoint", str(tmp / "ckpt"),
                  "--resolution", str(RES), "--modalities", "edges,person", "--strength", "person=0.7"])  # fmt: skip
        out["cli_translate"] = np.asarray(Image.open(tmp / "cli.png").convert("RGB"))

        report = translate_video(pipe, _clip(tmp / "clip.mp4"), style, tmp / "out.mp4", modalities=["edges", "person"],
                                 resolution=RES, smooth=0.5)  # fmt: skip
        assert report.frames == 3
        out["video_frames"] = np.stack(list(iter_frames(tmp / "out.mp4")))
    return out


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    arrays = outputs()
    np.savez_compressed(GOLDEN, **arrays)
    print(f"recorded {len(arrays)} outputs into {GOLDEN}: {sorted(arrays)}")
