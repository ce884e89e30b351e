"""The fused runtime (fused.py) exported as two ONNX graphs, once per checkpoint, kept on disk.

The split is fused.py's: `encode` (maps, presence → the content's state: pyramid, head, the content
half of every fusion conv) and `generate` (one style + that state → image), so a style-only change
runs only the second graph. Both graphs take any image size (the traced constant-input convs keep
sizes symbolic, constant_input.add_constant_conv), so one export serves every resolution and aspect.

Exporting takes seconds to tens of seconds on a two-core CPU, so the graphs are cached under the
user cache dir, keyed by the weights, the config, torch's version and this rewrite's source: the
app exports on its first start only. The export uses torch's TorchScript exporter (`dynamo=False`),
which needs the `onnx` package (1.22 runs on protobuf 4, beside mediapipe); running the graphs
needs only onnxruntime.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..model import Sensorium
from . import constant_input, fused
from .fused import ContentState, FusedSensorium

CACHE_ENV = "SENSORIUM_CACHE_DIR"  # where exported graphs go; default: $XDG_CACHE_HOME/sensorium
OPSET = 17
STYLE_INPUT = "style"
PARTIAL_PREFIX = "partial-"  # an export being written (or abandoned by a killed process)
ABANDONED_AFTER_S = 600.0  # an export takes seconds; a partial one this old was abandoned


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sensorium"


def model_key(model: Sensorium) -> str:
    """A digest of everything the graphs are made of: weights, config, torch, and the rewrite's code."""
    h = hashlib.sha256()
    h.update(model.config.to_json().encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(f"{name} {tensor.dtype}".encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # any dtype
    for source in (fused, constant_input, inspect.getmodule(model_key)):
        h.update(inspect.getsource(source).encode())
    h.update(f"{torch.__version__} opset {OPSET}".encode())
    return h.hexdigest()[:24]


def state_names(rewrite: FusedSensorium) -> tuple[list[str], list[str]]:
    """(pyramid level names, fusion content-half names): the encode graph's outputs in order,
    after which comes "head"; the generate graph's inputs besides the style."""
    pyramid = [f"pyramid{i}" for i in range(len(rewrite.down) + 1)]
    return pyramid, [f"half{i}_{j}" for i, n in enumerate(fusions_per_block(rewrite)) for j in range(n)]


def fusions_per_block(rewrite: FusedSensorium) -> list[int]:
    """How many content halves (one per fusion) each block of the rewrite keeps."""
    return [len(block.content_convs) for block in rewrite.blocks]


def flatten(state: ContentState) -> list[torch.Tensor]:
    return [*state.pyramid, state.head, *(half for block in state.fusion_content for half in block)]


class _Encode(torch.nn.Module):
    def __init__(self, model: Sensorium, rewrite: FusedSensorium):
        super().__init__()
        self.model, self.rewrite = model, rewrite  # the model registered: its parameters become initializers

    def forward(self, maps: torch.Tensor, presence: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(flatten(self.rewrite.encode(maps, presence)))


class _Generate(torch.nn.Module):
    def __init__(self, model: Sensorium, rewrite: FusedSensorium):
        super().__init__()
        self.model, self.rewrite = model, rewrite
        self.levels = len(rewrite.down) + 1
        self.fusions = fusions_per_block(rewrite)

    def forward(self, style: torch.Tensor, *state: torch.Tensor) -> torch.Tensor:
        n = self.levels
        halves, start = [], n + 1
        for count in self.fusions:
            halves.append(tuple(state[start:start + count]))
            start += count
        return self.rewrite.generate(ContentState(list(state[:n]), state[n], halves), style)


@dataclass(frozen=True)
class Graphs:
    encode: Path
    generate: Path
    export_seconds: float  # 0 when both came from the cache


def quiet_exporter() -> None:
    """Silence the exporter's notes: the tracer's on Python-side shape checks (they hold for every
    size), instance_norm's train flag (its graph op normalises per instance, as wanted) and the
    TorchScript exporter's deprecation (chosen: it needs no onnxscript). Filters by category and
    message (adding one again replaces it), not a warnings.catch_warnings block: that swaps the
    process's filters, and the app exports on a thread while others serve requests."""
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    for message in ("ONNX export mode is set to TrainingMode.EVAL", "You are using the legacy TorchScript-based ONNX export",
                    "The feature will be removed"):  # fmt: skip
        warnings.filterwarnings("ignore", message=message)


def export(model: Sensorium, folder: Path) -> None:
    """Trace the fused rewrite of `model` into folder/encode.onnx and folder/generate.onnx."""
    cfg = model.config
    rewrite = FusedSensorium(model, style_in_weights=False)  # constant conv weights: ONNX Runtime's fast path
    pyramid, halves = state_names(rewrite)
    state_out = [*pyramid, "head", *halves]
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(1, cfg.map_channels, 2 * cfg.stride, 3 * cfg.stride, generator=g)  # H ≠ W: no axis mix-up
    presence = torch.ones(1, len(cfg.modalities))
    style = model.sample_styles(1, generator=g)
    sizes = {name: {2: f"{name}_h", 3: f"{name}_w"} for name in state_out}
    quiet_exporter()
    with torch.no_grad():
        state = flatten(rewrite.encode(maps, presence))
        torch.onnx.export(_Encode(model, rewrite), (maps, presence), folder / "encode.onnx", dynamo=False,
                          opset_version=OPSET, input_names=["maps", "presence"], output_names=state_out,
                          dynamic_axes={"maps": {2: "h", 3: "w"}, **sizes})  # fmt: skip
        torch.onnx.export(_Generate(model, rewrite), (style, *state), folder / "generate.onnx", dynamo=False,
                          opset_version=OPSET, input_names=[STYLE_INPUT, *state_out], output_names=["image"],
                          dynamic_axes={**sizes, "image": {2: "h", 3: "w"}})  # fmt: skip


class NotExportedError(RuntimeError):
    """The graphs of this checkpoint are not in the cache, and exporting was not asked for."""


def sweep_abandoned_exports(root: Path, older_than: float = ABANDONED_AFTER_S) -> None:
    """Delete partial exports a killed process left in `root` (a kill skips the cleanup); one younger
    than `older_than` seconds may be another process's export in progress, and is left alone."""
    now = time.time()
    for partial in root.glob(PARTIAL_PREFIX + "*"):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if now - partial.stat().st_mtime > older_than:
                shutil.rmtree(partial)


def cached_graphs(model: Sensorium, export_missing: bool = True) -> Graphs:
    """The model's two graphs from the cache, else exported now (or NotExportedError)."""
    folder = cache_root() / "onnx" / model_key(model)
    enc, gen = folder / "encode.onnx", folder / "generate.onnx"
    if enc.is_file() and gen.is_file():
        return Graphs(enc, gen, 0.0)
    if not export_missing:
        raise NotExportedError(f"not exported yet; run python -m sensorium.runtime.onnx_export to cache it in {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned_exports(folder.parent)
    t = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=PARTIAL_PREFIX))  # written whole, then moved in: never a half graph
    try:
        export(model, tmp)
        if folder.is_dir() and not (enc.is_file() and gen.is_file()):  # a graph lost from the cache
            with contextlib.suppress(OSError):  # moved aside in one rename (another process may be at it too)
                os.replace(folder, folder.with_name(f"{PARTIAL_PREFIX}broken-{uuid.uuid4().hex[:8]}"))
        os.replace(tmp, folder)
    except OSError:
        if not (enc.is_file() and gen.is_file()):  # unless another process finished the same export first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Graphs(enc, gen, time.perf_counter() - t)


def main() -> None:
    import argparse

    from ..bundled import demo_checkpoint

    p = argparse.ArgumentParser(description="Export a checkpoint's ONNX graphs into the cache, so runtime "
                                "'auto' can pick 'onnx' without exporting at start-up.")  # fmt: skip
    p.add_argument("checkpoint", nargs="?", default=None, help="folder or Hub id (default: the bundled checkpoint)")
    a = p.parse_args()
    graphs = cached_graphs(Sensorium.from_pretrained(a.checkpoint or demo_checkpoint()))
    took = f"exported in {graphs.export_seconds:.1f} s" if graphs.export_seconds else "already cached"
    print(f"{graphs.encode.parent} ({took})")


if __name__ == "__main__":
    main()
