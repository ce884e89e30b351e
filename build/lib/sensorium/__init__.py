"""Sensorium: reference-guided image translation conditioned on what off-the-shelf models
("senses") see in the content image, and on a global style vector from a second image.

Nederhood et al., "Harnessing the Conditioning Sensorium for Improved Image Translation",
ICCV 2021, arXiv:2110.06443.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ModelConfig": ".config",
    "tiny_config": ".config",
    "Sensorium": ".model",
    "CheckpointError": ".model",
    "MODALITIES": ".modalities",
    "TranslationPipeline": ".pipeline",
}

if TYPE_CHECKING:
    from .config import ModelConfig, tiny_config
    from .modalities import MODALITIES
    from .model import CheckpointError, Sensorium
    from .pipeline import TranslationPipeline


def __getattr__(name: str) -> Any:
    # Lazy: `import sensorium` stays cheap and never imports heavy libraries.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'sensorium' has no attribute {name!r}")


__all__ = ["MODALITIES", "CheckpointError", "ModelConfig", "Sensorium", "TranslationPipeline", "tiny_config"]
