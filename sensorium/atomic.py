"""Writes that a kill, a crash or a concurrent reader never sees half done: the one way files are
written in place here (exports, prepared samples, training states, the app's cached results).

The content goes to a temporary name in the same folder (so the rename stays on one file system),
optionally fsynced, then `os.replace` swaps it in: a reader sees the old file or the new one, and a
kill leaves at most a stray temporary file, never a truncated target.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", durable: bool = False,
                unique: bool = False) -> Iterator[Path]:  # fmt: skip
    """Yield a temporary path beside `path` (`NAME.tmp`); on a clean exit it replaces `path`.
    `suffix` keeps an extension writers insist on (numpy's savez appends ".npz"); `durable` fsyncs
    before the rename; `unique` gives each writer its own temporary name, for files that several
    threads may write at once."""
    path = Path(path)
    tag = f".{uuid.uuid4().hex[:12]}" if unique else ""
    tmp = path.with_name(f"{path.name}{tag}.tmp{suffix}")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_once(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """A content-addressed file (its name says its bytes): written atomically, under a temporary
    name of its own, when absent; when present, left as it is but with its age renewed, so a sweep
    by age (the cache TTL) never deletes a file that is being handed out again."""
    path = Path(path)
    if path.is_file():
        try:
            os.utime(path)
            return path
        except FileNotFoundError:  # swept between the check and now: write it again
            pass
    return write_atomic(path, data, unique=True)


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[Path], None], durable: bool = False,
                 unique: bool = False) -> Path:  # fmt: skip
    """Write bytes (or let `data(tmp)` write the file) to `path` atomically."""
    with atomic_path(path, durable=durable, unique=unique) as tmp:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data)
    return Path(path)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on a clean exit it takes `path`'s place whole, so
    a folder of several files (an export: weights, config, discriminator) is never half new. A kill
    leaves the old folder and a stray temporary one, never a mix; a kill between the two renames
    leaves both under hidden names, which `finish_swap` (run first by the next `atomic_dir` of the
    same path) puts right."""
    path = Path(path).resolve()  # "." has no name to put beside it
    finish_swap(path)
    tag = uuid.uuid4().hex[:12]
    tmp = path.with_name(f".{path.name}.tmp-{tag}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        old = path.with_name(f".{path.name}.old-{tag}") if path.exists() else None
        if old is not None:
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:  # the new folder could not take its place: the old one goes back
                os.replace(old, path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def finish_swap(path: str | os.PathLike) -> Path | None:
    """Complete an `atomic_dir` swap that a kill cut between its two renames: `path` is missing, the
    old folder is `.NAME.old-TAG` and the new one, whole (it is only renamed once written),
    `.NAME.tmp-TAG`. The new one takes `path` (or the old one comes back, if the new is gone).
    Returns `path` when it was put back, None when no swap was cut short."""
    path = Path(path).resolve()
    if path.exists():
        return None
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not olds:
        return None
    old = olds[-1]
    new = path.with_name(f".{path.name}.tmp-{old.name.rsplit('-', 1)[-1]}")
    if new.is_dir():
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(old, path)
    return path
