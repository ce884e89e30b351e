"""Builders for the app tests: a tiny random Sensorium behind the real pipeline and real senses.

The model is untrained (its images are noise) but every code path is the shipped one: senses run
(Canny, mediapipe), maps are cached, the generator runs. `depth` points at a missing folder so
the "sense unavailable here" path is exercised the same way on every machine.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sensorium.config import tiny_config
from sensorium.model import Sensorium
from sensorium.pipeline import TranslationPipeline
from sensorium.senses import SenseSet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"
CONTENT = EXAMPLES / "content_obama_portrait.jpg"
STYLE = EXAMPLES / "style_starry_night.jpg"
STYLE_B = EXAMPLES / "style_graffiti.jpg"
MODALITIES = ("edges", "person", "face_landmarks", "depth")
MISSING_DEPTH = "/nonexistent/sensorium-test-depth-model"


def tiny_model(seed: int = 0) -> Sensorium:
    """A tiny Sensorium with every weight jittered: at init the style and fusion paths are zero
    (near-identity by design), so an untouched random model would ignore the style image."""
    torch.manual_seed(seed)
    model = Sensorium(tiny_config(modalities=MODALITIES))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def tiny_pipeline(checkpoint_dir: Path | None = None) -> TranslationPipeline:
    """A CPU pipeline around a tiny random model; saved to and loaded from `checkpoint_dir` if given."""
    senses = SenseSet(MODALITIES, device="cpu", overrides={"depth": MISSING_DEPTH})
    if checkpoint_dir is None:
        return TranslationPipeline(tiny_model(), senses=senses, device="cpu")
    tiny_model().save_pretrained(checkpoint_dir)
    return TranslationPipeline.from_pretrained(checkpoint_dir, senses=senses, device="cpu")


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def corrupt_jpeg(path: Path) -> Path:
    """A JPEG cut in half, as from an interrupted upload."""
    data = CONTENT.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def text_file(path: Path) -> Path:
    path.write_text("this is not an image\n" * 10)
    return path


def grayscale16(path: Path) -> Path:
    """A 16-bit grayscale PNG gradient."""
    arr = np.tile(np.linspace(0, 65535, 96, dtype=np.uint16), (80, 1))
    Image.fromarray(arr).save(path)
    return path


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run with `n` torch CPU threads, then restore. On a busy 2-core box one thread is ~10x faster
    for the tiny model (a 2-thread pool waits on the core another process holds)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(checkpoint_dir: Path, **settings_kwargs):
    """The real app (build_demo + queue + launch options of app.py) on 127.0.0.1 at a free port,
    around a tiny model saved to `checkpoint_dir`. Returns (demo, url); call demo.close()."""
    from demo import app_builds
    from demo.settings import Settings
    from demo.ui import build_demo, launch_options, queue_options

    settings = Settings(checkpoint=str(checkpoint_dir), port=free_port(), **settings_kwargs)
    demo = build_demo(tiny_pipeline(checkpoint_dir), settings)
    with app_builds.skipped():  # as app.py does
        demo.queue(**queue_options(settings))
    _, url, _ = demo.launch(**launch_options(settings), prevent_thread_lock=True, quiet=True)
    return demo, url


@contextmanager
def app_client(checkpoint_dir: Path) -> Iterator:
    """A gradio_client Client of the real app (`launch_app`, one torch thread), closed on exit."""
    from gradio_client import Client

    with torch_threads(1):
        demo, url = launch_app(checkpoint_dir)
        try:
            yield Client(url, verbose=False)
        finally:
            demo.close()
