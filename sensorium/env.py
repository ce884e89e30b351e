"""Environment switches: the one rule for what counts as "on"."""

from __future__ import annotations

import os

TRUE = frozenset({"1", "true", "yes", "on"})


def truthy(flag: str | None) -> bool:
    """An environment switch (or flag value) that is on: 1, true, yes, on, in any case."""
    return (flag or "").strip().lower() in TRUE


def hub_offline() -> bool:
    """True when the user switched the hub off (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(truthy(os.environ.get(f)) for f in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
