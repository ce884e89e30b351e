"""Where the bundled demo checkpoint lives: the one home for its path.

In a source checkout it is `assets/checkpoints/sensorium-portraits`; a pip-installed package
carries the same files as package data (`sensorium/assets/sensorium-portraits`, see
pyproject.toml), so `sensorium translate` works outside the checkout too.
"""

from __future__ import annotations

from pathlib import Path

DEMO_CHECKPOINT_NAME = "sensorium-portraits"
_PACKAGE = Path(__file__).resolve().parent
SOURCE_CHECKPOINT = _PACKAGE.parent / "assets" / "checkpoints" / DEMO_CHECKPOINT_NAME
INSTALLED_CHECKPOINT = _PACKAGE / "assets" / DEMO_CHECKPOINT_NAME


def demo_checkpoint() -> Path:
    """The bundled checkpoint's folder: the installed copy, else the checkout's (which may be
    missing; loading it then says so)."""
    return INSTALLED_CHECKPOINT if (INSTALLED_CHECKPOINT / "config.json").is_file() else SOURCE_CHECKPOINT
