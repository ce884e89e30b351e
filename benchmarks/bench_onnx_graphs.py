"""Two exports of the bundled checkpoint's ONNX graphs side by side, rounds interleaved: what a change
to the fused rewrite (sensorium/runtime/fused.py, constant_input.py) does to the `onnx` runtime.

"before" is a folder holding an older export's encode.onnx and generate.onnx (the cache folder that
`python -m sensorium.runtime.onnx_export` prints, copied before the change); "after" is the current
source's export (made now if missing). Both run in sessions built as the runtime builds them, on the
same random maps (all present) and style, so only the graphs differ: a toggle runs both graphs, a
style-only change the generate graph alone. Ratios are after / before within one run.

    python -m benchmarks.bench_onnx_graphs BEFORE_DIR [--after DIR] [--rounds 31] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sensorium.bundled import demo_checkpoint
from sensorium.model import Sensorium
from sensorium.runtime.onnx_backend import session
from sensorium.runtime.onnx_export import STYLE_INPUT, cached_graphs

from .common import header, publish

SIZES = (256, 512)


def graphs_in(folder: Path) -> tuple[object, object]:
    paths = [folder / f"{name}.onnx" for name in ("encode", "generate")]
    if not all(p.is_file() for p in paths):
        raise SystemExit(f"{folder} holds no encode.onnx and generate.onnx")
    return session(paths[0]), session(paths[1])


def timed_request(sessions, maps: np.ndarray, presence: np.ndarray, style: np.ndarray) -> tuple[float, float]:
    """Seconds of (the encode graph, the generate graph) for one toggle."""
    encode, generate = sessions
    t0 = time.perf_counter()
    state = dict(zip([o.name for o in encode.get_outputs()], encode.run(None, {"maps": maps, "presence": presence}),
                     strict=True))  # fmt: skip
    t1 = time.perf_counter()
    generate.run(None, {STYLE_INPUT: style, **{i.name: state[i.name] for i in generate.get_inputs() if i.name != STYLE_INPUT}})
    return t1 - t0, time.perf_counter() - t1


def run(before: Path, after: Path | None, rounds: int, write: bool) -> str:
    model = Sensorium.from_pretrained(demo_checkpoint()).eval()
    after = after or cached_graphs(model).encode.parent
    rows = {"before": graphs_in(before), "after": graphs_in(after)}
    cfg, g = model.config, torch.Generator().manual_seed(0)
    load = os.getloadavg()[0]
    lines = ["| size | graphs | encode | generate (style-only) | toggle (both) |", "|---|---|---:|---:|---:|"]
    ratios = []
    for size in SIZES:
        maps = torch.rand(1, cfg.map_channels, size, size, generator=g).numpy()
        presence = np.ones((1, len(cfg.modalities)), np.float32)
        style = model.sample_styles(1, generator=g).numpy()
        n = rounds if size == 256 else max(3, rounds // 3)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in rows}
        for r in range(n + 2):  # two warm-up rounds; the order alternates so neither row always runs first
            for name in (list(rows) if r % 2 else list(rows)[::-1]):
                t = timed_request(rows[name], maps, presence, style)
                if r >= 2:
                    times[name].append(t)
        med = {k: (statistics.median(e for e, _ in v), statistics.median(s for _, s in v),
                   statistics.median(e + s for e, s in v)) for k, v in times.items()}  # fmt: skip
        for name, (e, s, both) in med.items():
            lines.append(f"| {size}² | {name} | {e * 1e3:.1f} ms | {s * 1e3:.1f} ms | {both * 1e3:.1f} ms |")
        b, a = med["before"], med["after"]
        ratios.append(f"- {size}² ({n} rounds), after / before: encode {a[0] / b[0]:.2f}×, generate "
                      f"{a[1] / b[1]:.2f}×, toggle {a[2] / b[2]:.2f}×")  # fmt: skip
    extra = f"onnxruntime {__import__('onnxruntime').__version__} · load average {load:.1f} → {os.getloadavg()[0]:.1f}"
    text = (header("ONNX graphs before and after a change to the rewrite (bundled checkpoint)", torch.device("cpu"), extra)
            + f"\nbefore: `{before}`; after: `{after}`\n\n" + "\n".join(lines) + "\n\n" + "\n".join(ratios) + "\n")  # fmt: skip
    return publish(text, write)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path, help="folder of the older export (encode.onnx, generate.onnx)")
    p.add_argument("--after", type=Path, default=None, help="folder of the newer export (default: the current source's)")
    p.add_argument("--rounds", type=int, default=31)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    run(a.before, a.after, a.rounds, write=not a.no_write)


if __name__ == "__main__":
    main()
