"""Which samples each rank sees at each step, as a pure function of (seed, step, rank): resuming
at step k replays exactly the batches an uninterrupted run would have seen (no sampler state)."""

from __future__ import annotations

import torch


def batch_indices(step: int, n: int, batch_size: int, rank: int, world_size: int, seed: int) -> list[int]:
    """Epochs are seeded permutations of the dataset; the global batch of `step` is a slice of
    their concatenation and each rank takes its own contiguous part."""
    global_batch = batch_size * world_size
    start = step * global_batch + rank * batch_size
    out = []
    for pos in range(start, start + batch_size):
        epoch, offset = divmod(pos, n)
        perm = _permutation(n, seed, epoch)
        out.append(perm[offset])
    return out


_cache: dict[tuple[int, int, int], list[int]] = {}


def _permutation(n: int, seed: int, epoch: int) -> list[int]:
    key = (n, seed, epoch)
    if key not in _cache:
        if len(_cache) > 4:
            _cache.clear()
        _cache[key] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
    return _cache[key]


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The RNG for a step's augmentation, dropout and pairing: same seed → same randomness."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 1009 + rank)
