"""A bounded, thread-safe LRU of extracted maps keyed by image content, size and sense.

The demo serves many users at once: the same example image must be extracted once, even when two
requests for it arrive together (the second waits for the first instead of running the model).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

from PIL import Image

from .base import SenseMap


def image_hash(image: Image.Image) -> str:
    """Content hash of a PIL image (mode, size and pixels); equal pixels give equal hashes.

    A palette image's pixels are indices: its palette and transparent index are hashed too, so two
    GIFs with the same indices and other colours do not share maps."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    h.update(image.tobytes())
    if image.mode in ("P", "PA"):
        h.update(bytes(image.getpalette() or ()))
        h.update(repr(image.info.get("transparency")).encode())
    return h.hexdigest()


def map_nbytes(m: SenseMap) -> int:
    w, h = m.preview.size
    return m.tensor.element_size() * m.tensor.nelement() + 3 * w * h


class MapCache:
    """LRU of SenseMaps bounded by entry count and bytes; `get_or_compute` dedups in-flight work."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 1 << 30) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, SenseMap] = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: Hashable) -> SenseMap | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: Hashable, value: SenseMap) -> None:
        with self._lock:
            self._insert(key, value)

    def _insert(self, key: Hashable, value: SenseMap) -> None:
        if key in self._items:
            self._bytes -= map_nbytes(self._items.pop(key))
        size = map_nbytes(value)
        if size > self.max_bytes:
            return  # bigger than the whole budget: serve it, do not keep it
        self._items[key] = value
        self._bytes += size
        while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
            _, old = self._items.popitem(last=False)
            self._bytes -= map_nbytes(old)

    def get_or_compute(self, key: Hashable, compute: Callable[[], SenseMap]) -> SenseMap:
        """Cached value, or compute it once; concurrent callers of one key share one computation.

        Exceptions propagate to every waiter and nothing is cached, so a later call retries.
        """
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item
            future = self._pending.get(key)
            owner = future is None
            if owner:
                future = self._pending[key] = Future()
                self.misses += 1
            else:
                self.hits += 1
        if not owner:
            return future.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(key, None)
            future.set_exception(exc)
            raise
        with self._lock:
            self._insert(key, value)
            self._pending.pop(key, None)
        future.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
