"""Bounded disk for a Space that runs for months: files in the app's own download folder live at
most `ttl` seconds, and the folder goes when the process exits. (gradio's own cache of uploads and
results is bounded the same way through `gr.Blocks(delete_cache=…)`, see demo/ui.py.)"""

from __future__ import annotations

import atexit
import shutil
import threading
import time
from pathlib import Path


class FolderSweeper:
    """Deletes files older than `ttl` seconds from `folder` every `every` seconds, on a daemon
    thread; the folder itself is removed at exit."""

    def __init__(self, folder: Path, ttl: float, every: float | None = None):
        self.folder, self.ttl = Path(folder), float(ttl)
        self.every = every if every is not None else sweep_interval(ttl)
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

    def start(self) -> FolderSweeper:
        if self._thread is None and self.ttl > 0:
            self._thread = threading.Thread(target=self._run, name="sensorium-sweeper", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sweep()

    def remove(self) -> None:
        """Stop sweeping and delete the folder (registered with atexit)."""
        self._stop.set()
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep_interval(ttl: float) -> float:
    """How often to sweep for a TTL: a quarter of it, between 1 s and 10 min."""
    return min(max(ttl / 4, 1.0), 600.0)
