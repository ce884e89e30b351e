"""Process-wide cache of loaded models, so every SenseSet (and every app user) shares one copy.

Keyed by (provider, model location, device, ...). Loading happens outside the global lock, under a
per-key lock, so a slow download of one model never blocks another sense.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_models: dict[Hashable, object] = {}
_key_locks: dict[Hashable, threading.Lock] = {}


def shared(key: Hashable, build: Callable[[], T]) -> T:
    """Return the model cached under `key`, building it once (thread-safe) if absent."""
    with _lock:
        if key in _models:
            return _models[key]  # type: ignore[return-value]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            if key in _models:
                return _models[key]  # type: ignore[return-value]
        value = build()  # may raise: nothing is cached then, the next call retries
        with _lock:
            _models[key] = value
        return value


def loaded_keys() -> list[Hashable]:
    with _lock:
        return list(_models)


def clear() -> None:
    """Forget every loaded model (tests, or to free memory)."""
    with _lock:
        _models.clear()
        _key_locks.clear()
