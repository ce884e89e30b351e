"""Runtime names and how a request picks one (torch-free, so CLI --help stays fast)."""

from __future__ import annotations

import os

RUNTIME_ENV = "SENSORIUM_RUNTIME"
RUNTIMES = ("auto", "eager", "fused", "fused-cl", "onnx")  # "auto": the fastest that passes its check at load


class RuntimeChoiceError(ValueError):
    """An unknown runtime name; the message lists the known ones."""


def runtime_name(name: str | None) -> str:
    """The requested runtime: `name`, else $SENSORIUM_RUNTIME, else "auto"; unknown names raise."""
    chosen = (name or os.environ.get(RUNTIME_ENV) or "auto").strip().lower()
    if chosen not in RUNTIMES:
        raise RuntimeChoiceError(f"unknown runtime {chosen!r}; choose one of {', '.join(RUNTIMES)}")
    return chosen
