"""What grows inside the soak's server: `python -m benchmarks.soak_probe OUT_DIR app.py [app flags]`.

Runs app.py in this process with a probe beside it (benchmarks/soak.py --diagnose starts the
server this way), so a rise in resident memory can be told apart: memory Python still holds (a
leak in the Python heap, traced by tracemalloc, counted by type by gc), memory our caches and
gradio's per-session/queue state hold (their sizes), or memory glibc keeps after it was freed
(mallinfo2's free bytes, which `malloc_trim(0)` hands back to the system).

Every `SENSORIUM_PROBE_EVERY` seconds (default 10) a line goes to OUT_DIR/probe.jsonl. `--summarise RUN_DIR` prints the trends of a finished run. SIGUSR1
marks the baseline (the soak sends it when the warm-up ends): a tracemalloc snapshot and gc's
count of objects by type. SIGUSR2 writes OUT_DIR/final.json: what grew since the baseline (by
source line and by type), the allocator's state, then RSS before and after `malloc_trim(0)`.
`SENSORIUM_PROBE_TRACE=N` traces N frames per allocation (0: no tracemalloc; it slows the server).
`SENSORIUM_PROBE_TRIM=S` calls `malloc_trim(0)` every S seconds (an experiment: what a periodic
trim would keep RSS at, and what it costs); each line then says how long the last trim took.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import gc
import json
import os
import runpy
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path

from sensorium.runtime.allocator import arena_count


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = MallInfo2
    return libc


LIBC = _libc()
MB = 2**20


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (this one by default), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def allocator() -> dict:
    """glibc's view: bytes taken from the system for the heaps, in use, free but kept, mmapped."""
    if LIBC is None:
        return {}
    m = LIBC.mallinfo2()
    return {"heap_mb": round(m.arena / MB, 1), "in_use_mb": round(m.uordblks / MB, 1),
            "free_kept_mb": round(m.fordblks / MB, 1), "top_releasable_mb": round(m.keepcost / MB, 1),
            "mmapped_mb": round(m.hblkhd / MB, 1), "mmapped_blocks": m.hblks}  # fmt: skip


HEAP_ALIGN = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: every thread arena's heap starts on this boundary


def resident() -> dict:
    """Resident MB by kind of mapping (/proc/self/smaps): glibc's main heap (brk), its thread-arena
    heaps (anonymous, 64 MiB-aligned; approximate), other anonymous memory (Python's object arenas,
    large mmapped blocks, libraries' own pools), shared libraries, and other files."""
    kinds: collections.Counter = collections.Counter()
    kind = "anon"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            path = head[5] if len(head) > 5 else ""
            start = int(head[0].split("-")[0], 16)
            if path == "[heap]":
                kind = "main_heap"
            elif not path:
                kind = "arena_heaps" if start % HEAP_ALIGN == 0 or kind == "arena_heaps" and head[1] == "---p" else "anon"
            elif ".so" in path:
                kind = "libraries"
            else:
                kind = "files" if path.startswith("/") else "other"
        elif head[0] == "Rss:":
            kinds[kind] += int(head[1])
    return {k: round(v / 1024, 1) for k, v in sorted(kinds.items())}


class Probe:
    def __init__(self, out: Path, every: float, frames: int, trim_every: float = 0.0):
        self.out, self.every, self.frames, self.trim_every = out, every, frames, trim_every
        self.last_trim = time.monotonic()
        self.trims: list[float] = []  # seconds each periodic trim took
        self.start = time.monotonic()
        self.baseline: tracemalloc.Snapshot | None = None
        self.baseline_types: collections.Counter | None = None
        self.lock = threading.Lock()
        self._held: dict[str, list] = {}

    def held(self, kind: str) -> list:
        """The process's objects of a class (the pipeline, the demo state, the Blocks), as found at
        the baseline: only there, as `gc.get_objects()` while requests run can break them (it hands
        out tuples still being built, and CPython's `tuple(generator)` then raises SystemError)."""
        return self._held.get(kind, [])

    def caches(self) -> dict:
        """Sizes of everything in the server that holds per-request or per-session data."""
        c: dict = {}
        for pipe in self.held("TranslationPipeline"):
            maps = pipe.senses.cache
            c["map_cache"] = {"entries": len(maps), "mb": round(maps._bytes / MB, 1), "pending": len(maps._pending)}
            c["style_cache"] = {"entries": len(pipe._styles), "mb": round(pipe._styles.bytes / MB, 2)}
            c["content_cache"] = len(pipe._contents._lru)
        for state in self.held("DemoState"):
            c["uploads"] = {"entries": len(state.images), "mb": round(state.images.bytes / MB, 1)}
        for blocks in self.held("Blocks")[:1]:
            q = blocks._queue
            c["gradio"] = {
                "sessions": len(blocks.state_holder.session_data),
                "temp_files": sum(len(s) for s in blocks.temp_file_sets),
                "events": len(q.event_ids_to_events), "event_analytics": len(q.event_analytics),
                "pending_sessions": len(q.pending_messages_per_session),
                "pending_event_sessions": len(q.pending_event_ids_session),
                "iterators": len(getattr(getattr(blocks, "server_app", None), "iterators", None) or {}),
            }  # fmt: skip
        for sweeper in self.held("FolderSweeper")[:1]:  # the app's own periodic malloc_trim
            c["app_trims"] = {"count": sweeper.trims, "seconds": round(sweeper.trim_seconds, 3)}
        try:
            from sensorium.senses import model_cache

            runners = [m for m in model_cache._models.values() if hasattr(m, "_recent")]
            c["mediapipe_recent"] = sum(len(r._recent) for r in runners)
        except ImportError:
            pass
        return c

    def line(self) -> dict:
        return {"t": round(time.monotonic() - self.start, 1), "wall": round(time.time(), 1), "rss_mb": round(rss_mb(), 1),
                "traced_mb": round(tracemalloc.get_traced_memory()[0] / MB, 1) if tracemalloc.is_tracing() else None,
                "python_blocks": sys.getallocatedblocks(), "threads": threading.active_count(),
                "malloc": allocator(), "resident": resident(), "caches": self.caches(),
                "trims": len(self.trims), "last_trim_s": self.trims[-1] if self.trims else None}  # fmt: skip

    def run(self) -> None:
        with (self.out / "probe.jsonl").open("a") as f:
            while True:
                time.sleep(self.every)
                if self.trim_every and LIBC is not None and time.monotonic() - self.last_trim >= self.trim_every:
                    t0 = time.perf_counter()
                    LIBC.malloc_trim(0)
                    self.trims.append(round(time.perf_counter() - t0, 4))
                    self.last_trim = time.monotonic()
                try:
                    record = self.line()
                except Exception as err:  # noqa: BLE001 (the probe must not stop the server)
                    record = {"error": f"{type(err).__name__}: {err}"}
                f.write(json.dumps(record) + "\n")
                f.flush()

    def mark(self, *_: object) -> None:
        """SIGUSR1: the baseline the end of the run is compared with."""
        with self.lock:
            gc.collect()
            self.baseline = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            objects = gc.get_objects()
            self.baseline_types = collections.Counter(type(o).__name__ for o in objects)
            for kind in ("TranslationPipeline", "DemoState", "Blocks", "FolderSweeper"):
                self._held[kind] = [o for o in objects if type(o).__name__ == kind]
            del objects
            (self.out / "baseline.json").write_text(json.dumps({"at": self.line()}))

    def final(self, *_: object) -> None:
        """SIGUSR2: growth since the baseline, the allocator's state, and what malloc_trim returns."""
        with self.lock:
            gc.collect()
            report: dict = {"before_trim": self.line(), "arenas": arena_count(keep=self.out / "malloc_info.xml")}
            if self.baseline_types is not None:  # before the snapshot's own objects exist
                now = collections.Counter(type(o).__name__ for o in gc.get_objects())
                grew = {k: now[k] - self.baseline_types.get(k, 0) for k in now}
                report["types_grown"] = dict(sorted(grew.items(), key=lambda kv: -kv[1])[:25])
                del now
            if self.baseline is not None:
                snap = tracemalloc.take_snapshot()
                stats = snap.compare_to(self.baseline, "lineno")
                report["traced_growth_mb"] = round(sum(s.size_diff for s in stats) / MB, 2)
                report["top_lines"] = [{"where": str(s.traceback[0]), "kb": round(s.size_diff / 1024, 1),
                                        "count": s.count_diff} for s in stats[:30]]  # fmt: skip
                if self.frames > 1:
                    report["top_tracebacks"] = [{"kb": round(s.size_diff / 1024, 1), "count": s.count_diff,
                                                 "stack": s.traceback.format()[-12:]}
                                                for s in snap.compare_to(self.baseline, "traceback")[:8]]  # fmt: skip
                del snap, stats
                gc.collect()
            t0 = time.perf_counter()
            trimmed = LIBC.malloc_trim(0) if LIBC is not None else None
            report["trim"] = {"returned_any": bool(trimmed), "seconds": round(time.perf_counter() - t0, 3),
                              "rss_mb_after": round(rss_mb(), 1), "malloc_after": allocator(),
                              "resident_after": resident()}  # fmt: skip
            (self.out / "final.json").write_text(json.dumps(report, indent=1))


def _flatten(record: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for k, v in record.items():
        if isinstance(v, dict):
            flat |= _flatten(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            flat[prefix + k] = float(v)
    return flat


def summarise(run: Path, baseline_at: int | None = None) -> dict:
    """Trends after the baseline of a --diagnose run folder (live.csv + probe/): for each probed
    figure its range and least-squares slope per 1,000 requests (probe lines are placed on the
    request count through the baseline, which both sides mark: at `baseline_at` requests, by default
    the warm-up of report.json), and the final report's headlines."""
    import numpy as np

    probe = run / "probe"
    rows = [line.split(",") for line in (run / "live.csv").read_text().splitlines()[1:] if line.strip()]
    t_live, done = np.array([float(r[0]) for r in rows]), np.array([float(r[1]) for r in rows])
    base = json.loads((probe / "baseline.json").read_text())["at"]
    if baseline_at is None:
        config = json.loads((run / "report.json").read_text())["config"]
        baseline_at = int(config["warmup"] * config["requests"])
    warm = baseline_at
    offset = base["t"] - t_live[np.searchsorted(done, warm)]  # probe clock minus live clock
    lines = [json.loads(x) for x in (probe / "probe.jsonl").read_text().splitlines() if x.strip()]
    lines = [x for x in lines if "t" in x and x["t"] > base["t"] and x["t"] - offset <= t_live[-1]]
    at = np.interp([x["t"] - offset for x in lines], t_live, done)
    trends = {}
    flats = [_flatten(x) for x in lines]
    for key in [k for k in (flats[0] if flats else {}) if k not in ("t", "wall")]:
        values = np.array([f.get(key, np.nan) for f in flats])
        if np.isnan(values).any() or np.ptp(at) == 0:
            continue
        slope = np.polyfit(at, values, 1)[0] * 1000
        trends[key] = {"min": round(float(values.min()), 1), "max": round(float(values.max()), 1),
                       "slope_per_1000": round(float(slope), 1)}  # fmt: skip
    out = {"requests_after_baseline": [int(at[0]), int(at[-1])] if len(at) else [], "trends": trends}
    final = probe / "final.json"
    if final.is_file():
        f = json.loads(final.read_text())
        out["final"] = {k: f.get(k) for k in ("traced_growth_mb", "arenas", "trim")}
        out["final"]["rss_before_trim"] = f["before_trim"]["rss_mb"]
        out["final"]["top_lines"] = f.get("top_lines", [])[:8]
        out["final"]["types_grown"] = dict(list(f.get("types_grown", {}).items())[:10])
    return out


def main(argv: list[str]) -> None:
    if argv[0] == "--summarise":  # RUN_DIR [BASELINE_REQUESTS]
        print(json.dumps(summarise(Path(argv[1]), int(argv[2]) if len(argv) > 2 else None), indent=1))
        return
    out, script, rest = Path(argv[0]), argv[1], argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get("SENSORIUM_PROBE_TRACE", "0"))
    if frames:
        tracemalloc.start(frames)
    every, trim = (float(os.environ.get(f"SENSORIUM_PROBE_{k}", d)) for k, d in (("EVERY", "10"), ("TRIM", "0")))
    probe = Probe(out, every, frames, trim)
    signal.signal(signal.SIGUSR1, probe.mark)
    signal.signal(signal.SIGUSR2, probe.final)
    threading.Thread(target=probe.run, name="soak-probe", daemon=True).start()
    sys.argv = [script, *rest]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
