"""Test-session settings: one torch thread (tiny models run fastest single-threaded, and a shared
2-core CI machine turns OpenMP spin-waits into 10x slowdowns)."""

import os

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by subprocesses (torchrun, app, training)
torch.set_num_threads(1)
os.environ.setdefault("SENSORIUM_OFFLINE", "1")  # tests never download torchvision weights (FID, LPIPS, VGG)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A tiny random Sensorium saved with save_pretrained: the real loading path, in seconds."""
    from sensorium import Sensorium, tiny_config

    torch.manual_seed(0)
    return Sensorium(tiny_config()).save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny")
