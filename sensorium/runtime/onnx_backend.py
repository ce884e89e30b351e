"""The "onnx" runtime: the fused rewrite's two graphs (onnx_export.py) run by ONNX Runtime on the CPU.

onnxruntime is optional: without it (or when the export fails) building this runtime raises, and
select.py falls back with a note, as for any runtime that cannot run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..model import Sensorium
from .onnx_export import STYLE_INPUT, cached_graphs

State = dict[str, np.ndarray]  # the encode graph's outputs, by name, for one content


class OnnxRuntime:
    """encode: one content at a time (the graphs have batch 1); generate: one run of the style graph
    per style, reusing the content's state (a style-only change never runs the encode graph)."""

    name = "onnx"

    def __init__(self, model: Sensorium, export: bool = True):
        import onnxruntime  # noqa: F401  (optional dependency: ImportError means "not installed here")

        self.graphs = cached_graphs(model, export)
        self._encode, self._generate = session(self.graphs.encode), session(self.graphs.generate)
        self._state_inputs = [i.name for i in self._generate.get_inputs() if i.name != STYLE_INPUT]
        self._state_outputs = [o.name for o in self._encode.get_outputs()]

    def encode(self, maps: torch.Tensor, presence: torch.Tensor) -> list[State]:
        return [dict(zip(self._state_outputs, self._encode.run(None, {"maps": _array(m[None]), "presence": _array(p[None])}),
                         strict=True))  # fmt: skip
                for m, p in zip(maps, presence, strict=True)]

    def generate_feed(self, state: State, style: torch.Tensor) -> State:
        """The generate graph's inputs for one content's state and one style vector (S,)."""
        return {STYLE_INPUT: _array(style[None]), **{n: state[n] for n in self._state_inputs}}

    def _image(self, state: State, style: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._generate.run(None, self.generate_feed(state, style))[0])

    def generate(self, states: list[State], styles: torch.Tensor) -> torch.Tensor:
        if len(states) == 1:  # one content under every style
            return torch.cat([self._image(states[0], s) for s in styles])
        if len(states) != len(styles):
            raise ValueError(f"{len(states)} contents need one style each, got {len(styles)}")
        return torch.cat([self._image(st, s) for st, s in zip(states, styles, strict=True)])


def session(graph: Path):
    """An ONNX Runtime CPU session for one graph, as this runtime runs it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same cores torch would use
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep instead of spinning: on two shared cores a spinning pool takes the CPU
    # from torch and the senses (benchmarks/RESULTS.md: 0.37× fused spinning, 1.2× not).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy()
