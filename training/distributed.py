"""torchrun integration: the standard launcher sets RANK/WORLD_SIZE/LOCAL_RANK; without it we run
as a single process. NCCL on CUDA, gloo on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str | None = None) -> DistInfo:
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    dev = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local, dev)


def all_true(flag: bool, info: DistInfo) -> bool:
    """True only if `flag` holds on every rank (so all ranks skip a bad step together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def same_on_all(value: int, info: DistInfo) -> bool:
    """Whether every rank holds the same `value` (e.g. the step it resumed from: with node-local
    run folders, ranks could resume from different steps and train out of step)."""
    if not info.enabled:
        return True
    t = torch.tensor([value, -value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t[0].item() == value == -t[1].item()


def weights_checksum(module: torch.nn.Module, info: DistInfo) -> list[float]:
    """Sum of |w| over all parameters on every rank (one float per rank): equal when in sync."""
    local = torch.stack([p.detach().double().abs().sum() for p in module.parameters()]).sum().reshape(1)
    if not info.enabled:
        return [local.item()]
    gathered = [torch.zeros_like(local) for _ in range(info.world_size)]
    dist.all_gather(gathered, local.to(info.device))
    return [g.item() for g in gathered]


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
