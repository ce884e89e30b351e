"""Per-image results of a batched port, remembered by image content for the last few images (and
always the whole batch in flight), so senses that share a network share its run: the three
face-mesh senses one face mesh, face parsing and the person sense one person mask, as the
mediapipe senses share mediapipe's graphs (mediapipe_runtime._Runner, 8 images too). Without it a
prepared image ran the mesh three times. Kept small: a 1024² person map is 7 MB with its preview.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from PIL import Image

from .map_cache import image_hash
from .model_cache import loaded_keys, shared

T = TypeVar("T")


class Recent(Generic[T]):
    """The last `size` results by (image content, extra key). `batch` computes only the images it
    has not seen, in one call, under a lock: senses asking at once (a SenseSet runs them side by
    side) wait for the first one's run instead of repeating it."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, T] = OrderedDict()

    def batch(self, images: Sequence[Image.Image], compute: Callable[[list[Image.Image]], list[T]],
              extra: Hashable = ()) -> list[T]:  # fmt: skip
        keys = [(image_hash(image), extra) for image in images]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._items))
            if missing:
                first = {k: keys.index(k) for k in missing}
                for key, result in zip(missing, compute([images[first[k]] for k in missing]), strict=True):
                    self._items[key] = result
            out = []
            for key in keys:
                self._items.move_to_end(key)
                out.append(self._items[key])
            while len(self._items) > max(self.size, len(keys)):
                self._items.popitem(last=False)
            return out

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def recent(name: Hashable) -> Recent:
    """The process-wide memo called `name` (e.g. ("face-mesh-port", device, max_faces))."""
    return shared(("recent", name), Recent)


def forget() -> None:
    """Drop every remembered result (a benchmark's repeated images must run again)."""
    for key in loaded_keys():
        if isinstance(key, tuple) and key[:1] == ("recent",):
            recent(key[1]).clear()
