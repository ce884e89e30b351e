"""Choosing a runtime at load: the named one, or for "auto" the fastest installed one, each kept
only after it agreed with eager on a fixed input; otherwise eager, with a note saying why."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from ..model import Sensorium
from .allocator import keep_freed_memory
from .backends import EagerRuntime, FusedRuntime, Runtime
from .names import RUNTIMES, runtime_name
from .onnx_backend import OnnxRuntime

PARITY_ATOL = 1e-4  # fp32 runtimes: max abs difference from eager on images in [-1, 1]

# name → builder; "auto" tries AUTO_ORDER (fastest first, measured by benchmarks/bench_runtime.py).
BUILDERS: dict[str, Callable[[Sensorium], Runtime]] = {
    "eager": EagerRuntime,
    "fused": lambda model: FusedRuntime(model, channels_last=False),
    "fused-cl": lambda model: FusedRuntime(model, channels_last=True),
    "onnx": OnnxRuntime,  # needs onnxruntime (and, to export, onnx): optional
}
AUTO_ORDER = ("onnx", "fused", "fused-cl")
# "auto" never exports at load (2-4 s on two idle cores, 16-26 s on busy ones): it takes onnx only once
# its graphs are cached (`python -m sensorium.runtime.onnx_export`, a load with runtime="onnx", or
# faster_runtime below, which the app runs in a thread once it is answering).
AUTO_BUILDERS = {**BUILDERS, "onnx": lambda model: OnnxRuntime(model, export=False)}
assert set(RUNTIMES) == {"auto", *BUILDERS}, "names.py lists every runtime"


def parity_inputs(model: Sensorium, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed, seeded request at a small non-square size (cheap at start-up; the coarsest level is
    2x3, so both border cases of constant_input.py run, and instance norms still see 6 pixels): maps in [0, 1], one modality absent
    (presence 0 exercises the folded masking) and two styles from the checkpoint's statistics."""
    cfg = model.config
    g = torch.Generator().manual_seed(0)
    h, w = 2 * cfg.stride, 3 * cfg.stride
    maps = torch.rand(1, cfg.map_channels, h, w, generator=g)
    presence = torch.ones(1, len(cfg.modalities))
    presence[0, 0] = 0
    styles = model.sample_styles(2, generator=g)
    return maps.to(device), presence.to(device), styles.to(device)


@contextlib.contextmanager
def one_thread():
    """torch on one CPU thread for the block: the check's tiny convs gain nothing from a second
    thread, and on a busy machine waiting for it made the check 10x slower (20 s, not 1.5 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def parity_gap(runtime: Runtime, model: Sensorium, single_thread: bool = True) -> float:
    """Max abs difference of `runtime`'s images from eager's on `parity_inputs` (inf if not finite).
    `single_thread`: torch on one thread meanwhile (one_thread); off where other threads serve
    requests, since the setting is the process's, and a thread starting then would keep it."""
    device = next(model.parameters()).device
    maps, presence, styles = parity_inputs(model, device)
    eager = EagerRuntime(model)
    with torch.inference_mode(), (one_thread() if single_thread else contextlib.nullcontext()):
        want = eager.generate(eager.encode(maps, presence), styles)
        state = runtime.encode(maps, presence)
        # one style (the app's path: modulation folded into the weights) and a batch of two
        got = torch.cat([runtime.generate(state, styles[:1]), runtime.generate(state, styles)])
    want = torch.cat([want[:1], want])
    gap = (got.float() - want.float()).abs().max().item()
    return gap if torch.isfinite(got).all() else float("inf")


def load_runtime(model: Sensorium, name: str | None = None, atol: float = PARITY_ATOL) -> tuple[Runtime, str]:
    """(runtime, note): the runtime `name` asks for (see `runtime_name`) once it passed the parity
    check, else eager with a note; "auto" means the fastest of AUTO_ORDER that passes, on the CPU
    (elsewhere eager, whose autocast the fused runtimes do not reproduce)."""
    chosen = runtime_name(name)
    device = next(model.parameters()).device
    if chosen == "eager" or (chosen == "auto" and device.type != "cpu"):
        return EagerRuntime(model), ""
    if device.type != "cpu":  # the pipeline runs CUDA under bf16 autocast, which the rewrite does not follow
        return EagerRuntime(model), f"Runtime: eager, because {chosen} runs on the CPU only."
    candidates = AUTO_ORDER if chosen == "auto" else (chosen,)
    runtime, notes = first_that_passes(model, candidates, AUTO_BUILDERS if chosen == "auto" else BUILDERS, atol)
    if runtime is not None:
        return runtime, ""
    return EagerRuntime(model), f"Runtime: eager, because {'; '.join(notes)}."


def first_that_passes(model: Sensorium, candidates: Sequence[str], builders: Mapping[str, Callable[[Sensorium], Runtime]],
                      atol: float, single_thread: bool = True) -> tuple[Runtime | None, list[str]]:  # fmt: skip
    """(the first candidate that builds and agrees with eager, or None; a note per one that did not)."""
    notes = []
    for candidate in candidates:
        try:
            runtime = builders[candidate](model)
            gap = parity_gap(runtime, model, single_thread)
        except Exception as exc:  # a backend that cannot build or run here is skipped, and said
            notes.append(f"{candidate} could not run ({type(exc).__name__}: {exc})")
            continue
        if gap <= atol:
            keep_freed_memory()  # only CPU models get here (the callers' device checks)
            return runtime, notes
        notes.append(f"{candidate} disagreed with eager (max difference {gap:.2g} > {atol:g})")
    return None, notes


def faster_runtime(model: Sensorium, current: Runtime, atol: float = PARITY_ATOL) -> tuple[Runtime | None, str]:
    """After an "auto" load: the first runtime of AUTO_ORDER ahead of `current` that builds now, with
    what it needs prepared (the ONNX graphs exported into the cache: what "auto" skips at load) and
    passes the parity check; (None, note) when none does ("" when none is ahead). Safe beside requests
    running on other threads: the check leaves torch's thread setting alone."""
    if next(model.parameters()).device.type != "cpu":
        return None, ""
    ahead = AUTO_ORDER[: AUTO_ORDER.index(current.name)] if current.name in AUTO_ORDER else AUTO_ORDER
    start = time.perf_counter()
    runtime, notes = first_that_passes(model, ahead, BUILDERS, atol, single_thread=False)
    if runtime is not None:
        return runtime, f"Runtime: {runtime.name} from now on (prepared and checked in {time.perf_counter() - start:.1f} s)."
    return None, f"Runtime: still {current.name}, because {'; '.join(notes)}." if notes else ""
