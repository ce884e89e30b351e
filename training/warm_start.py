"""Warm start: begin a run from a shipped export instead of random weights.

A `save_pretrained` export holds the EMA generator and encoders; train.py also writes the
discriminator beside it (`discriminator.safetensors`). That pair is an eighth of a full
training state (no Adam moments, no raw weights) yet enough to go on training a shipped
checkpoint on a new machine: Adam re-estimates its moments within a few hundred steps. For an
exact continuation of one's own run, `--resume` with the training state is the tool.

    python -m training.train --init_from assets/checkpoints/sensorium-portraits --data DATA ...
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from sensorium.config import ModelConfig
from sensorium.model import CONFIG_NAME, CheckpointError, Sensorium, read_config

from .checkpoint import DISCRIMINATOR_NAME

log = logging.getLogger(__name__)


def _local_file(source: str, name: str) -> Path | None:
    """`name` inside a local export folder, or from a Hub repo (None where it has no such file)."""
    path = Path(source)
    if path.is_dir():
        return path / name if (path / name).is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source, name))
    except Exception:  # absent from the repo, or no connection: the caller says what that means
        return None


def model_config(source: str, overrides: dict[str, Any]) -> ModelConfig:
    """The export's architecture, with the person's `--model.*` flags on top: a warm start needs
    no architecture flags, and a flag that changes a shape fails at load with the tensor named."""
    config_file = _local_file(source, CONFIG_NAME)
    if config_file is None:
        raise SystemExit(f"--init_from {source}: no {CONFIG_NAME} there; give an export folder "
                         "(save_pretrained) or a Hugging Face Hub repo id")  # fmt: skip
    config, _ = read_config(config_file)
    return ModelConfig.from_dict({**config.to_dict(), **overrides})


def load_into(source: str, model: Sensorium, ema: Sensorium, disc: torch.nn.Module) -> dict[str, Any]:
    """Copy the export's weights into `model` and `ema` (and its discriminator into `disc` when
    shipped); → what the run's metadata records about where it started."""
    try:
        exported = Sensorium.from_pretrained(source)
    except CheckpointError as exc:
        raise SystemExit(f"--init_from {source}: {exc}") from exc
    try:
        model.load_state_dict(exported.state_dict(), strict=True)
    except RuntimeError as exc:  # a --model.* flag changed a shape; torch lists each tensor below line 1
        first = (str(exc).splitlines()[1:] or [str(exc)])[0].strip()
        raise SystemExit(f"--init_from {source}: its weights do not fit this architecture ({first})") from exc
    ema.load_state_dict(model.state_dict(), strict=True)
    info: dict[str, Any] = {"source": str(source), "steps": exported.info.steps, "discriminator": False}
    disc_file = _local_file(source, DISCRIMINATOR_NAME)
    if disc_file is None:
        log.warning("--init_from %s: no %s there; the discriminator starts from random weights "
                    "(expect a few hundred unsettled steps)", source, DISCRIMINATOR_NAME)  # fmt: skip
        return info
    from safetensors.torch import load_file

    try:
        disc.load_state_dict(load_file(str(disc_file)), strict=True)
    except Exception as exc:
        raise SystemExit(f"--init_from {source}: {DISCRIMINATOR_NAME} does not fit this discriminator "
                         f"({type(exc).__name__}); set --model.disc_* as in the run that made it, "
                         "or remove the file to start D from scratch") from exc  # fmt: skip
    info["discriminator"] = True
    return info
