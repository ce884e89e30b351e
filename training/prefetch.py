"""Decode the next steps' batches while the current step trains.

A set that stays on disk (CelebA-HQ, FFHQ at 256²) costs ~8 ms of zlib per image; done in line
that is idle GPU time every step. Batches depend only on (seed, step, rank) (training/sampler.py),
so the indices of coming steps are known in advance and prefetching changes no result: a batch
read ahead is the very batch `dataset.batch(idx)` would have returned. In-memory sets need none.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from sensorium.data import SenseDataset


class BatchPrefetcher:
    """`prefetcher(step)` → `dataset.batch(indices_of(step))`, with the next `ahead` steps' files
    already being read on a background thread."""

    def __init__(self, dataset: SenseDataset, indices_of: Callable[[int], list[int]], last_step: int, ahead: int = 2):
        self.dataset, self.indices_of, self.last_step, self.ahead = dataset, indices_of, last_step, ahead
        self.enabled = not dataset.in_memory
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="prefetch") if self.enabled else None
        self._pending: dict[int, Future] = {}

    def __call__(self, step: int) -> dict[str, torch.Tensor]:
        if not self.enabled:
            return self.dataset.batch(self.indices_of(step))
        return self.dataset.batch(self.indices_of(step), self.read(step))

    def read(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The uint8 (images, maps) of `step`, read ahead when possible; queues the next steps."""
        for ahead in range(step + 1, min(step + 1 + self.ahead, self.last_step)):
            if ahead not in self._pending:
                self._pending[ahead] = self._thread.submit(self.dataset.read, self.indices_of(ahead))
        future = self._pending.pop(step, None)
        for stale in [s for s in self._pending if s < step]:  # a jump (resume) leaves old work behind
            self._pending.pop(stale).cancel()
        return future.result() if future is not None else self.dataset.read(self.indices_of(step))

    def close(self) -> None:
        if self._thread is not None:
            for future in self._pending.values():
                future.cancel()
            self._thread.shutdown(wait=True)
