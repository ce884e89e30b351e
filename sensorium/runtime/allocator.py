"""Keep freed memory in the process for the next tensor (glibc malloc settings).

By default glibc serves every allocation above 128 KiB with a fresh mmap and returns it on free,
so each activation of a forward pass (a few MiB at 256²) is page-faulted in anew. On the 2-core
AMD EPYC CPU (a VM) that cost more than the arithmetic: eager fp32 took 660–770 ms per toggle with
the default settings and 250 ms with these, in the same process (benchmarks/bench_runtime.py).
The pixels do not change. Other C libraries (musl) have no such knob: then this does nothing.

The price is retention: what a burst freed stays resident, in each of glibc's arenas (up to 8 per
core, one per thread that allocated), and a long-running server's RSS creeps up as more arenas
reach their own high-water mark while the memory in use stays flat (benchmarks/soak.py --diagnose,
docs/reliability.md §9). Two settings bound that: `limit_arenas` caps the arenas, and
`release_free_memory` hands the free pages back; the app does both (demo/settings.py, demo/sweeper.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import tempfile
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt parameters, from glibc's malloc.h
KEEP_MMAP_THRESHOLD = 32 << 20  # glibc's largest: tensors below 32 MiB come from the heap
KEEP_TRIM_THRESHOLD = 512 << 20  # keep up to 512 MiB of freed heap for reuse
GLIBC_DEFAULT = 128 << 10  # both thresholds' glibc defaults


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallopt"):
        return None
    if hasattr(libc, "malloc_info"):
        libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return libc


def keep_freed_memory(keep: bool = True) -> bool:
    """Switch the process to reusing freed memory (`keep`) or back to glibc's defaults (benchmarks
    compare both in one run). True when the allocator took the setting."""
    libc = _libc()
    if libc is None:
        return False
    mmap, trim = (KEEP_MMAP_THRESHOLD, KEEP_TRIM_THRESHOLD) if keep else (GLIBC_DEFAULT, GLIBC_DEFAULT)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap)) and bool(libc.mallopt(M_TRIM_THRESHOLD, trim))


def release_free_memory() -> bool:
    """Return the free pages of every arena to the system (glibc's `malloc_trim(0)`): RSS drops to
    about the memory in use; the next allocations fault pages in again. False when nothing could
    be returned, or not glibc."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None and hasattr(libc, "malloc_trim") else False


def limit_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas from now on (glibc's default: 8 per core); threads created later
    share them. Each arena keeps its own high-water mark of what `keep_freed_memory` retains, so a
    server whose worker threads come and go creeps up arena by arena (docs/reliability.md, the soak).
    Call it before the threads start: it bounds the arenas made later and removes none, and glibc
    ignores it once more than 8 exist. True when glibc accepted the setting."""
    libc = _libc()
    return libc is not None and arenas > 0 and bool(libc.mallopt(M_ARENA_MAX, arenas))


def arena_count(keep: Path | None = None) -> int:
    """How many arenas the allocator has made (the heaps in glibc's `malloc_info`); 0 when unknown.
    `keep`: also write the XML there (each arena's sizes, for a diagnosis)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_info"):
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="malloc-info-") as folder:
            path = Path(folder) / "malloc_info.xml"
            fp = libc.fopen(str(path).encode(), b"w")
            if not fp:
                return 0
            libc.malloc_info(0, fp)
            libc.fclose(fp)
            xml = path.read_text()
    except OSError:  # no writable temp folder
        return 0
    if keep is not None:
        keep.write_text(xml)
    return xml.count("<heap nr=")
