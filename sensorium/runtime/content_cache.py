"""The runtime's per-content state, kept for the next request with the same maps and strengths
(a new style image, the mix slider, random styles): only the style-dependent part then runs.

Keyed by the identity of the map tensors (the senses' cache hands out the same tensor for the same
image), never by hashing megabytes of maps; an entry holds its tensors, so no other tensor can
take their ids while it lives. Maps are treated as immutable, as everywhere in the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import torch

from ..conditioning import DEFAULT_STRENGTH
from ..lru import LRU


class ContentCache:
    def __init__(self, max_entries: int = 2):  # an entry is ~25 MB at 256² for the demo checkpoint
        self._lru: LRU[tuple[tuple[torch.Tensor, ...], object]] = LRU(max_entries)

    @staticmethod
    def key(maps: Mapping[str, torch.Tensor], strengths: Mapping[str, float], size: tuple[int, int]) -> Hashable:
        used = sorted(maps)
        return (tuple((m, id(maps[m]), float(strengths.get(m, DEFAULT_STRENGTH))) for m in used), tuple(size))

    def get_or_compute(self, runtime_name: str, maps: Mapping[str, torch.Tensor], strengths: Mapping[str, float],
                       size: tuple[int, int], compute: Callable[[], object]) -> object:  # fmt: skip
        key = (runtime_name, self.key(maps, strengths, size))
        held = tuple(maps[m] for m in sorted(maps))
        _, state = self._lru.get_or_compute(key, lambda: (held, compute()))
        return state

    @property
    def hits(self) -> int:
        return self._lru.hits

    def clear(self) -> None:
        self._lru.clear()
