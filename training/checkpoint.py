"""Training-state checkpoints that survive kills: written to a temp file, fsynced, renamed, and
paired with a SHA-256 sidecar so a truncated or corrupt file is detected and skipped for the
previous one. Loaded with `weights_only=True`: a checkpoint can never run code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sensorium.atomic import atomic_dir, atomic_path, write_atomic

STATE_VERSION = 1
PATTERN = re.compile(r"state-(\d{8})\.pt$")


class CorruptCheckpoint(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_state(directory: Path, step: int, state: dict[str, Any], keep_last: int,
               on_stage: Callable[[int, str], None] | None = None) -> Path:  # fmt: skip
    """Write `state-{step}.pt` atomically (+ `.sha256`), then prune the older states to leave
    `keep_last` with this one. States of later steps are never pruned here: judged by name, they would
    outrank the one just written (train.py sets a resumed run's later, corrupt ones aside).
    `on_stage(step, stage)` runs between the write's stages (training/fault_injection.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"state-{step:08d}.pt"
    with atomic_path(path, durable=True) as tmp:  # a kill before the rename leaves only a temp file
        with open(tmp, "wb") as f:
            torch.save({**state, "version": STATE_VERSION, "step": step}, f)
        digest = _sha256(tmp)
        if on_stage:
            on_stage(step, "tmp")
    if on_stage:
        on_stage(step, "sidecar")
    write_atomic(path.with_suffix(".pt.sha256"), digest.encode(), durable=True)
    older = [p for p in list_states(directory) if step_of(p) < step]
    for old in older[: max(0, len(older) - (keep_last - 1))]:
        old.unlink(missing_ok=True)
        old.with_suffix(".pt.sha256").unlink(missing_ok=True)
    return path


def step_of(path: Path) -> int:
    """The step a state file's name says."""
    return int(PATTERN.search(path.name).group(1))  # type: ignore[union-attr]


def set_aside_after(directory: Path, step: int, suffix: str = "corrupt") -> list[Path]:
    """Rename the states of steps after `step` (the resumed one) to `*.{suffix}`, so neither pruning
    nor the next resume takes them for this run's progress; → the new names."""
    moved = []
    for path in list_states(directory):
        if step_of(path) > step:
            for part in (path, path.with_suffix(".pt.sha256")):
                if part.exists():
                    part.rename(part.with_name(f"{part.name}.{suffix}"))
            moved.append(path.with_name(f"{path.name}.{suffix}"))
    return moved


def list_states(directory: Path) -> list[Path]:
    """Checkpoint files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if PATTERN.search(p.name))


def load_state(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Verify the checksum and load; raises CorruptCheckpoint with the reason."""
    sidecar = path.with_suffix(".pt.sha256")
    if not sidecar.is_file():
        raise CorruptCheckpoint(f"{path.name}: no checksum file (the write was interrupted)")
    if _sha256(path) != sidecar.read_text().strip():
        raise CorruptCheckpoint(f"{path.name}: checksum mismatch (truncated or modified)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle payloads are refused by weights_only and land here too
        raise CorruptCheckpoint(f"{path.name}: not a safe training checkpoint ({exc})") from exc
    if state.get("version") != STATE_VERSION:
        raise CorruptCheckpoint(f"{path.name}: state version {state.get('version')} != {STATE_VERSION}")
    return state


def load_latest_valid(directory: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that verifies; corrupt ones are reported and skipped."""
    for path in reversed(list_states(directory)):
        try:
            return path, load_state(path, map_location)
        except CorruptCheckpoint as exc:
            print(f"warning: skipping corrupt checkpoint {exc}; trying the previous one", flush=True)
        except FileNotFoundError:  # set aside by another rank meanwhile: it was not valid either
            continue
    return None


DISCRIMINATOR_NAME = "discriminator.safetensors"


def write_export(folder: Path, model: torch.nn.Module, disc: torch.nn.Module, export_dtype: str, metadata) -> Path:
    """An export: the generator's weights and config, and the discriminator beside them (so that
    `--init_from` on it warm-starts both), replacing `folder` whole or not at all (scripts take
    model.safetensors as "done"). `export_dtype`: TrainConfig's, "float32" or "float16"."""
    dtype = torch.float16 if export_dtype == "float16" else None
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, dtype=dtype, metadata=metadata)
        save_discriminator(disc, tmp, dtype)
    return Path(folder)


def save_discriminator(disc: torch.nn.Module, directory: Path, dtype: torch.dtype | None = None) -> Path:
    """The discriminator beside an export, so a later run can warm-start both networks from a
    shipped checkpoint (`--init_from`) without the full optimiser state, which is 8× larger."""
    from sensorium.model import save_weights

    path = Path(directory) / DISCRIMINATOR_NAME
    save_weights(disc, path, dtype)
    return path
