"""Network probes that answer fast: one short request, its answer remembered for a minute.

An offline machine must learn within seconds which download is impossible (and say how to provide
the file), instead of hanging in a download that has no timeout; a network that comes back is
noticed a minute later. Used for hub models (senses) and torchvision weights (backbones).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

PROBE_TIMEOUT_S = 3.0  # seconds one probe request may take
PROBE_TTL_S = 60.0  # how long its answer is trusted

T = TypeVar("T")
_lock = threading.Lock()
_answers: dict[str, tuple[float, object]] = {}


def remembered(key: str, probe: Callable[[], T]) -> T:
    """`probe()`'s answer for `key`, computed at most once per PROBE_TTL_S."""
    now = time.monotonic()
    with _lock:
        hit = _answers.get(key)
        if hit and now - hit[0] < PROBE_TTL_S:
            return hit[1]  # type: ignore[return-value]
    answer = probe()
    with _lock:
        _answers[key] = (now, answer)
    return answer


def forget() -> None:
    """Drop every remembered answer (tests; a machine whose network just changed)."""
    with _lock:
        _answers.clear()
