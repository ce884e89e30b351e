"""Fault injection for the kill tests (tests/test_reliability_training.py); inert otherwise.

With SENSORIUM_CKPT_PAUSE="STEP:STAGE" in the environment, the training-state save of STEP
announces itself and sleeps at STAGE ("tmp": temp file written, not yet renamed; "sidecar":
renamed, checksum not yet written), so a test can SIGKILL the process exactly there. Without the
variable, `checkpoint_pause()` is None and the save path has no hook at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

ENV = "SENSORIUM_CKPT_PAUSE"


def checkpoint_pause() -> Callable[[int, str], None] | None:
    """The stage hook `checkpoint.save_state` calls, when a test asked for one."""
    target = os.environ.get(ENV)
    if not target:
        return None

    def pause(step: int, stage: str) -> None:
        if target == f"{step}:{stage}":
            print(f"checkpoint {step}: paused at {stage}", flush=True)
            time.sleep(600)  # the test kills the process long before this ends

    return pause
