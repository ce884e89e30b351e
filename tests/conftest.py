"""Test-session settings: one torch thread (tiny models run fastest single-threaded, and a shared
2-core CI machine turns OpenMP spin-waits into 10x slowdowns)."""

import os

import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by subprocesses (torchrun, app, training)
torch.set_num_threads(1)
