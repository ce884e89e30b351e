"""A small thread-safe LRU for values that are cheap to hold but costly to compute (style vectors,
decoded uploads), bounded by entries and by bytes: a long-running server must not grow with the
size of what people send. The map cache of the senses is separate (senses/map_cache.py), also
bounded by both."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import torch
from PIL import Image

V = TypeVar("V")


def nbytes(value: object) -> int:
    """Bytes a cached value holds: tensors and images by their pixels, objects with an `image`
    (e.g. LoadedImage) by it, sequences summed; anything else by `sys.getsizeof`."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, Image.Image):
        return value.width * value.height * max(1, len(value.getbands())) * (2 if ";16" in value.mode else 1)
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    if isinstance(getattr(value, "image", None), Image.Image):
        return nbytes(value.image) + sys.getsizeof(value)
    return sys.getsizeof(value)


class LRU(Generic[V]):
    def __init__(self, max_entries: int = 64, max_bytes: int | None = None, sizeof: Callable[[V], int] = nbytes):
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # None: entries only
        self.sizeof = sizeof
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            self.misses += 1
        value = compute()  # outside the lock: two different keys compute in parallel
        size = self.sizeof(value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return value  # bigger than the whole budget: serve it, do not keep it
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self.bytes += size
            while len(self._items) > self.max_entries or (self.max_bytes is not None and self.bytes > self.max_bytes):
                self.bytes -= self._items.popitem(last=False)[1][1]
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0
