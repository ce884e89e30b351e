"""Bounded disk for a Space that runs for months: files in the app's own download folder live at
most `ttl` seconds, and the folder goes when the process exits. (gradio's own cache of uploads and
results is bounded the same way through `gr.Blocks(delete_cache=…)`, see demo/ui.py.) The same
housekeeping thread hands memory that glibc keeps after it was freed back to the system every
`trim_every` seconds: without it the server's RSS creeps up by ~100–300 MB per 1,000 requests while
the memory in use stays flat (docs/reliability.md §9)."""

from __future__ import annotations

import atexit
import shutil
import threading
import time
from pathlib import Path

from sensorium.runtime.allocator import release_free_memory

TRIM_EVERY = 60.0  # seconds between malloc_trim calls: 0.1–0.5 s each at 2 GB (measured), GIL released


class FolderSweeper:
    """Deletes files older than `ttl` seconds from `folder` every `every` seconds, on a daemon
    thread, and returns freed memory to the system every `trim_every` seconds (0: never); the
    folder itself is removed at exit."""

    def __init__(self, folder: Path, ttl: float, every: float | None = None, trim_every: float = TRIM_EVERY):
        self.folder, self.ttl, self.trim_every = Path(folder), float(ttl), float(trim_every)
        self.every = every if every is not None else sweep_interval(ttl) if ttl > 0 else trim_every
        # The thread wakes for whichever is due sooner, so a long TTL (sweeps every 10 min) does
        # not also slow the trim down to that pace.
        periods = [p for p in (self.every if self.ttl > 0 else 0.0, self.trim_every) if p > 0]
        self._wake = min(periods, default=self.every)
        self.trims, self.trim_seconds = 0, 0.0  # how often memory was returned, and the time it took
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        atexit.register(self.remove)

    def sweep(self, now: float | None = None) -> int:
        """Delete every file older than the TTL now; returns the bytes freed."""
        now = time.time() if now is None else now
        freed = 0
        for path in list(self.folder.glob("*")) if self.folder.is_dir() else []:
            try:
                st = path.stat()
                if path.is_file() and now - st.st_mtime > self.ttl:
                    path.unlink()
                    freed += st.st_size
            except FileNotFoundError:  # a concurrent sweep or download got there first
                continue
        return freed

    def release_memory(self) -> bool:
        """Hand the allocator's free pages back to the system now (see sensorium/runtime/allocator.py)."""
        t0 = time.perf_counter()
        released = release_free_memory()
        self.trims, self.trim_seconds = self.trims + 1, self.trim_seconds + time.perf_counter() - t0
        return released

    def start(self) -> FolderSweeper:
        if self._thread is None and (self.ttl > 0 or self.trim_every > 0):
            self._thread = threading.Thread(target=self._run, name="sensorium-sweeper", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        last_sweep = last_trim = time.monotonic()
        while not self._stop.wait(self._wake):
            now = time.monotonic()
            if self.ttl > 0 and now - last_sweep >= self.every * 0.99:  # 1 %: a wait may end a hair early
                self.sweep()
                last_sweep = now
            if self.trim_every > 0 and now - last_trim >= self.trim_every * 0.99:
                self.release_memory()
                last_trim = now

    def remove(self) -> None:
        """Stop sweeping and delete the folder (registered with atexit)."""
        self._stop.set()
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep_interval(ttl: float) -> float:
    """How often to sweep for a TTL: a quarter of it, between 1 s and 10 min."""
    return min(max(ttl / 4, 1.0), 600.0)
