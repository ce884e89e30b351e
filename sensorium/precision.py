"""The one rule for reduced precision: "auto" means bf16 autocast on CUDA and fp32 on the CPU, for
training and inference alike. On a CPU without bf16 units, oneDNN emulates bf16: 62-78x slower than
fp32 on a 2-core AVX2 CPU, at >= 44 dB PSNR (benchmarks/bench_precision.py, RESULTS.md)."""

from __future__ import annotations

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def use_bf16(precision: str, device: torch.device) -> bool:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """A bf16 autocast context on `device`, or a disabled one."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
