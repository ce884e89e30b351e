"""Builders for the reliability tests of the running app: a launcher with settings overrides, the
bad-upload corpus of tests/test_images.py as files, raw HTTP calls that bypass gradio_client,
and the process's resident memory."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from tests.app_fixtures import free_port, tiny_pipeline
from tests.test_images import CASES, Case

# Per-case file names: what a person would have called the upload.
SUFFIX = {"jpeg": ".jpg", "gif": ".gif", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "html": ".html",
          "svg": ".svg", "heic": ".heic", "pdf": ".pdf"}  # fmt: skip


def launch(checkpoint_dir: Path, pipeline=None, **overrides):
    """The real app (build_demo + queue + launch options of app.py) on 127.0.0.1 at a free port with
    default Settings except `overrides`. Returns (demo, url, settings); call demo.close()."""
    from demo.settings import Settings
    from demo.ui import build_demo, launch_options, queue_options

    settings = replace(Settings(checkpoint=str(checkpoint_dir), port=free_port()), **overrides)
    demo = build_demo(pipeline or tiny_pipeline(checkpoint_dir), settings)
    demo.queue(**queue_options(settings))
    _, url, _ = demo.launch(**launch_options(settings), prevent_thread_lock=True, quiet=True)
    return demo, url, settings


def corpus_files(tmp: Path) -> list[tuple[Case, Path]]:
    """Every case of the image corpus that a browser could upload, written as a file. Arrays,
    None, text streams and missing paths cannot be uploaded (tests/test_images.py has them)."""
    out = []
    for case in CASES:
        source = case.make(tmp)
        if isinstance(source, io.BytesIO):
            source = source.getvalue()
        if isinstance(source, (str, Path)) and Path(source).is_file():
            out.append((case, Path(source)))
        elif isinstance(source, (bytes, Image.Image)):
            if isinstance(source, Image.Image):
                buf = io.BytesIO()
                source.save(buf, "PNG")
                source = buf.getvalue()
            suffix = next((s for k, s in SUFFIX.items() if k in case.name), ".png")
            path = tmp / f"upload_{case.name}{suffix}"
            path.write_bytes(source)
            out.append((case, path))
        else:
            assert source is None or isinstance(source, (np.ndarray, io.StringIO, Path)), case.name
    return out


def raw_call(http, url: str, api_name: str, data: list) -> tuple[str, dict]:
    """POST /gradio_api/call/NAME with exactly `data`, then read its event stream: (event, payload).
    Unlike gradio_client, nothing is uploaded or rewritten on the way."""
    event_id = http.post(f"{url}gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    text = http.get(f"{url}gradio_api/call/{api_name}/{event_id}").text
    lines = [line for line in text.splitlines() if line]
    event = [line[7:] for line in lines if line.startswith("event: ")][-1]
    payload = [line[6:] for line in lines if line.startswith("data: ")][-1]
    return event, json.loads(payload)


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def rss_mb() -> float:
    """Resident memory of this process now (not the peak), in MB, after garbage collection and
    after glibc returns its free heap pages: what is measured is memory still held, not how much
    freed memory the allocator keeps cached, which depends on every test that ran before in this
    process (in-process training runs leave fragmented arenas that 16 threads then grow)."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: plain RSS
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20
