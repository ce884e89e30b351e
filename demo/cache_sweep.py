"""Keep gradio's cache sweep (`delete_cache`) alive under load (a workaround, installed by `build_demo`).

gradio 6.31 sweeps on a schedule with `route_utils.delete_files_created_by_app`, which iterates
each component's set of cached files in a worker thread while requests add files to the same
sets. Once a request lands mid-iteration the sweep raises "Set changed size during iteration",
and as it runs in a bare `while True` task, that one error ends all sweeping for the life of the
server: the cache then grows without bound (found by benchmarks/soak.py: after ~200 requests at 4
clients no file was deleted again, 150 MB in 15 min at a 30 s TTL). This version sweeps copies of
the sets (copied in C, under the GIL), keeps the same rules (age by ctime, `keep_in_cache` spared)
and never raises.
"""

from __future__ import annotations

import os
import time


def delete_files_created_by_app(blocks, age: int | None) -> None:
    """Delete cached files older than `age` seconds (all when None), as gradio does, but safely."""
    try:
        keep: set = set()
        for component in list(blocks.blocks.values()):
            keep.update(getattr(component, "keep_in_cache", set()).copy())
        now = time.time()
        for temp_set in list(blocks.temp_file_sets):
            for file in temp_set.copy():
                if file in keep:
                    continue
                try:
                    if age is None or now - os.lstat(file).st_ctime > age:
                        os.remove(file)
                        temp_set.discard(file)
                except FileNotFoundError:
                    temp_set.discard(file)
                except OSError:
                    continue
    except Exception as err:  # noqa: BLE001 (a sweep must never end the schedule)
        print(f"Cache sweep skipped once: {type(err).__name__}: {err}")


def gradio_sweep():
    """gradio's own sweep function, whether or not `install` has replaced it (tests show its bug)."""
    from gradio import route_utils

    current = route_utils.delete_files_created_by_app
    return getattr(current, "replaced", current)


def install() -> None:
    """Replace gradio's sweep function (idempotent); its scheduler looks the name up on each run."""
    from gradio import route_utils

    original = gradio_sweep()
    if original is not delete_files_created_by_app:
        delete_files_created_by_app.replaced = original  # type: ignore[attr-defined]
    route_utils.delete_files_created_by_app = delete_files_created_by_app
