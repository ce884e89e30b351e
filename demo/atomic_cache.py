"""Make gradio write result images atomically (a workaround, installed by `build_demo`).

gradio names each result file by the hash of its bytes and writes it with `write_bytes`, which
truncates first. When two users get the same image (the same example and settings), the second
request truncates the file while the first one is downloading it, and that download comes back
empty or cut off (found by tests/test_reliability_app.py: ~1 in 5 requests of 16 sessions
failed). Same hash means same bytes, so an existing file is kept, and a new one is written to a
temp name and renamed into place: every reader sees a complete file. A kept file's age is renewed,
since the cache TTL (`delete_cache`) deletes by age and would otherwise take a reused result.
"""

from __future__ import annotations

from pathlib import Path

from sensorium.atomic import write_once


def install() -> None:
    """Replace `gradio.processing_utils.save_pil_to_cache` (idempotent; same signature)."""
    from gradio import processing_utils as pu

    if getattr(pu.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = pu.encode_pil_to_bytes(img, format)  # raises for unsupported formats, as before
        directory = Path(cache_dir) / pu.hash_bytes(data)
        directory.mkdir(exist_ok=True, parents=True)
        path = (directory / f"{name}.{format}").resolve()
        write_once(path, data)  # renews a kept file's age: delete_cache deletes by (c)time
        return str(path)

    save_pil_to_cache.atomic = True
    pu.save_pil_to_cache = save_pil_to_cache
