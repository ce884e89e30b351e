"""Per-image results of a batched port, remembered by image content for the last few hundred
images, so senses that share a network share its run: the three face-mesh senses one face mesh,
face parsing and the person sense one person mask, as the mediapipe senses share mediapipe's
graphs (mediapipe_runtime._Runner). Without it a prepared image ran the mesh three times.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from PIL import Image

from .map_cache import image_hash
from .model_cache import shared

T = TypeVar("T")


class Recent(Generic[T]):
    """The last `size` results by (image content, extra key). `batch` computes only the images it
    has not seen, in one call, under a lock: senses asking at once (a SenseSet runs them side by
    side) wait for the first one's run instead of repeating it."""

    def __init__(self, size: int = 256) -> None:
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


def recent(name: Hashable) -> Recent:
    """The process-wide memo called `name` (e.g. ("face-mesh-port", device, max_faces))."""
    return shared(("recent", name), Recent)
