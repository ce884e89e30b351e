"""Run a .tflite network (mediapipe's bundled models) as a torch module with the same weights.

`load_tflite(path)` reads the flatbuffer (tflite_graph), folds fp16/int8/sparse weights to fp32 and
returns a `TFLiteModule` that executes the operators in file order. Why not a converter chain:
the off-the-shelf ones stop on these files' fp16 weights and custom ops, and an executor this small
keeps TFLite's semantics visible (tflite_ops). Activations of rank 4 are held NCHW (torch's fast
layout); layout-sensitive ops (reshape, concat, pad, mean) translate their NHWC arguments. The
module is differentiable and runs batched on any device; the batch is the leading axis.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import tflite_mediapipe_ops as mp_ops
from . import tflite_ops as ops
from .tflite_graph import MEDIAPIPE_FLEX_OPS, GraphInfo, OpInfo, UnsupportedOpError, read_graph

SUPPORTED_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "custom:Convolution2DTransposeBias", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "ADD", "MUL", "SUB", "RELU", "RELU6", "LOGISTIC", "TANH", "HARD_SWISH", "PRELU", "PAD",
    "RESIZE_BILINEAR", "RESHAPE", "CONCATENATION", "MEAN", "DEPTH_TO_SPACE", "FULLY_CONNECTED", "STRIDED_SLICE",
    "custom:Landmarks2TransformMatrix", "custom:TransformTensorBilinear", "custom:TransformLandmarks",
})  # fmt: skip
VERSIONED_OPS = {f"custom:{name}": 2 for name in MEDIAPIPE_FLEX_OPS}  # the op versions implemented


def _nchw_const(arr: np.ndarray) -> torch.Tensor:
    """A constant broadcast against NHWC rank-4 activations, re-laid out for NCHW ones."""
    a = arr.astype(np.float32).reshape((1,) * (4 - arr.ndim) + arr.shape)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


class TFLiteModule(nn.Module):
    """A .tflite graph executed in torch. forward(*inputs) -> tuple of outputs (rank 4 as NCHW)."""

    def __init__(self, graph: GraphInfo) -> None:
        super().__init__()
        unknown = sorted({op.kind for op in graph.ops} - SUPPORTED_OPS)
        unknown += sorted({f"{op.kind} (version {op.options['version']}; only {VERSIONED_OPS[op.kind]} is implemented)"
                           for op in graph.ops if op.kind in VERSIONED_OPS
                           and op.options["version"] != VERSIONED_OPS[op.kind]})  # fmt: skip
        if unknown:
            raise UnsupportedOpError(
                f"{Path(graph.path).name}: unsupported TFLite op(s) {', '.join(unknown)} "
                f"(supported: {', '.join(sorted(SUPPORTED_OPS))}) in {graph.path}"
            )
        self.path = graph.path
        self.graph = graph
        self.names = [t.name for t in graph.tensors]
        self.ranks = [len(t.shape) for t in graph.tensors]
        self._weights: dict[tuple[int, int], str] = {}
        for k, op in enumerate(graph.ops):
            self._prepare(k, op)

    # --- weights, converted once to torch layout and registered as buffers (they move with .to()) ---
    def _keep(self, k: int, slot: int, value: torch.Tensor) -> None:
        name = f"op{k}_in{slot}"
        self.register_buffer(name, value.contiguous(), persistent=False)
        self._weights[(k, slot)] = name

    def _prepare(self, k: int, op: OpInfo) -> None:
        consts = [None if i < 0 else self.graph.tensors[i].const for i in op.inputs]
        out_rank = self.ranks[op.outputs[0]]
        if op.kind == "CONV_2D":  # (O, KH, KW, I) -> (O, I, KH, KW)
            self._keep(k, 1, torch.from_numpy(consts[1].astype(np.float32)).permute(0, 3, 1, 2))
        elif op.kind in ("DEPTHWISE_CONV_2D", "custom:Convolution2DTransposeBias"):
            # depthwise (1, KH, KW, I*M) -> (I*M, 1, KH, KW); transposed (O, KH, KW, I) -> (I, O, KH, KW)
            self._keep(k, 1, torch.from_numpy(consts[1].astype(np.float32)).permute(3, 0, 1, 2))
        elif op.kind == "FULLY_CONNECTED":
            self._keep(k, 1, torch.from_numpy(consts[1].astype(np.float32)))
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "custom:Convolution2DTransposeBias", "FULLY_CONNECTED"):
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                self._keep(k, 2, torch.from_numpy(consts[2].astype(np.float32)))
            return
        for slot, c in enumerate(consts):
            if c is None or op.kind in ("RESHAPE", "PAD", "MEAN", "RESIZE_BILINEAR", "STRIDED_SLICE"):
                continue  # shape-like arguments stay numpy; read in _run
            t = _nchw_const(c) if out_rank == 4 and c.ndim <= 4 else torch.from_numpy(c.astype(np.float32))
            self._keep(k, slot, t)

    # --- execution ---
    def _arg(self, env: dict[int, torch.Tensor], k: int, op: OpInfo, slot: int, out_rank: int) -> torch.Tensor:
        if (k, slot) in self._weights:
            return getattr(self, self._weights[(k, slot)])
        idx = op.inputs[slot]
        x = env[idx]
        if out_rank == 4 and self.ranks[idx] < 4 and op.kind in ("ADD", "MUL", "SUB", "PRELU"):
            shape = (1,) * (4 - x.dim()) + tuple(x.shape)
            x = x.reshape(shape).permute(0, 3, 1, 2)
        return x

    def _run(self, k: int, op: OpInfo, env: dict[int, torch.Tensor]) -> torch.Tensor:
        o = op.options
        out_rank = self.ranks[op.outputs[0]]
        x = self._arg(env, k, op, 0, out_rank)
        w = getattr(self, self._weights[(k, 1)]) if (k, 1) in self._weights else None
        b = getattr(self, self._weights[(k, 2)]) if (k, 2) in self._weights else None
        const = [None if i < 0 else self.graph.tensors[i].const for i in op.inputs]
        kind = op.kind
        if kind == "CONV_2D":
            y = ops.conv2d(x, w, b, o["padding"], o["stride"], o["dilation"])
        elif kind == "DEPTHWISE_CONV_2D":
            y = ops.conv2d(x, w, b, o["padding"], o["stride"], o["dilation"], groups=x.shape[1])
        elif kind == "custom:Convolution2DTransposeBias":
            return ops.transpose_conv2d(x, w, b, o["padding"], o["stride"])
        elif kind == "FULLY_CONNECTED":
            y = torch.nn.functional.linear(x.reshape(-1, w.shape[1]), w, b)
            if o["keep_dims"]:
                y = y.reshape(*x.shape[:-1], w.shape[0])
        elif kind == "AVERAGE_POOL_2D" and self._is_global(op):
            y = x.mean(dim=(2, 3), keepdim=True)  # a whole-map pool stays whole-map at any input size
        elif kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            y = ops.pool2d(x, "max" if kind == "MAX_POOL_2D" else "avg", o["padding"], o["kernel"], o["stride"])
        elif kind in ("ADD", "MUL", "SUB"):
            other = self._arg(env, k, op, 1, out_rank)
            y = x + other if kind == "ADD" else x * other if kind == "MUL" else x - other
        elif kind == "PRELU":
            alpha = self._arg(env, k, op, 1, out_rank)
            return ops.prelu(x, alpha)
        elif kind in ("RELU", "RELU6", "TANH"):
            return ops.activate(x, kind.lower())
        elif kind == "LOGISTIC":
            return torch.sigmoid(x)
        elif kind == "HARD_SWISH":
            return ops.hard_swish(x)
        elif kind == "PAD":
            return self._pad(x, const[1], self.ranks[op.inputs[0]])
        elif kind == "RESIZE_BILINEAR":
            size = self._scaled(op, x, const[1])
            return ops.resize_bilinear(x, size, o["align_corners"], o["half_pixel_centers"])
        elif kind == "RESHAPE":
            return self._reshape(x, op)
        elif kind == "CONCATENATION":
            axis = o["axis"] % out_rank
            axis = ops.NHWC_TO_NCHW_AXIS[axis] if out_rank == 4 else axis
            y = torch.cat([self._arg(env, k, op, s, out_rank) for s in range(len(op.inputs))], dim=axis)
        elif kind == "MEAN":
            return self._mean(x, const[1], o["keep_dims"], self.ranks[op.inputs[0]])
        elif kind == "DEPTH_TO_SPACE":
            return ops.depth_to_space(x, o["block"])
        elif kind == "STRIDED_SLICE":
            return self._strided_slice(x, op, const)
        elif kind == "custom:Landmarks2TransformMatrix":
            return mp_ops.landmarks_to_transform_matrix(x, o)
        elif kind == "custom:TransformTensorBilinear":
            return mp_ops.transform_tensor_bilinear(x, env[op.inputs[1]], (o["output_height"], o["output_width"]))
        elif kind == "custom:TransformLandmarks":
            return mp_ops.transform_landmarks(x, env[op.inputs[1]])
        else:  # unreachable: the constructor refused unknown ops
            raise UnsupportedOpError(f"{Path(self.path).name}: unsupported TFLite op {kind}")
        return ops.activate(y, o.get("activation", "none"))

    def _is_global(self, op: OpInfo) -> bool:
        shape = self.graph.tensors[op.inputs[0]].shape
        return op.options["padding"] == "valid" and tuple(op.options["kernel"]) == tuple(shape[1:3])

    def _scaled(self, op: OpInfo, x: torch.Tensor, size: np.ndarray) -> tuple[int, int]:
        """RESIZE_BILINEAR's fixed target scaled with the input, so a fully convolutional graph runs
        at other resolutions than the one it was stored at (identical at the stored one)."""
        stored = self.graph.tensors[op.inputs[0]].shape[1:3]
        return tuple(int(round(int(t) * x.shape[2 + a] / stored[a])) for a, t in enumerate(size))  # type: ignore[return-value]

    @staticmethod
    def _pad(x: torch.Tensor, pads: np.ndarray, rank: int) -> torch.Tensor:
        pads = np.asarray(pads).reshape(rank, 2)
        if rank == 4:
            pads = pads[list((0, 3, 1, 2))]  # NHWC rows -> NCHW rows
        flat = [int(v) for row in pads[::-1] for v in row]  # F.pad wants last dim first
        return torch.nn.functional.pad(x, flat)

    def _reshape(self, x: torch.Tensor, op: OpInfo) -> torch.Tensor:
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        target = list(self.graph.tensors[op.outputs[0]].shape)
        target[0] = x.shape[0]  # the graph is stored with batch 1: keep the caller's batch
        y = x.reshape(target)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y

    def _strided_slice(self, x: torch.Tensor, op: OpInfo, const: list) -> torch.Tensor:
        rank = self.ranks[op.inputs[0]]
        if rank == 4:
            x = x.permute(0, 2, 3, 1)
        begin, end, strides = ([int(v) for v in np.asarray(c).reshape(-1)] for c in const[1:4])
        y = mp_ops.strided_slice(x, begin, end, strides, self.graph.tensors[op.inputs[0]].shape, op.options)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y

    @staticmethod
    def _mean(x: torch.Tensor, axes: np.ndarray, keep_dims: bool, rank: int) -> torch.Tensor:
        axes = [int(a) % rank for a in np.asarray(axes).reshape(-1)]
        if rank == 4 and keep_dims:
            return x.mean(dim=[ops.NHWC_TO_NCHW_AXIS[a] for a in axes], keepdim=True)
        if rank == 4:
            x = x.permute(0, 2, 3, 1)
        return x.mean(dim=axes, keepdim=keep_dims)

    def forward(
        self, *inputs: torch.Tensor, keep: Collection[str] = (), outputs: bool = True
    ) -> tuple[torch.Tensor, ...]:
        """inputs in graph order (rank-4 ones as NCHW float). With `keep`, the named intermediate
        tensors are returned too, after the outputs, in `keep`'s order (for feature losses); with
        outputs=False only those, and the graph stops at the last of them (a cheaper feature pass,
        which also lets a fully convolutional trunk run at input sizes its head would refuse)."""
        if len(inputs) != len(self.graph.inputs):
            raise ValueError(f"{Path(self.path).name} takes {len(self.graph.inputs)} input(s), got {len(inputs)}")
        unknown = [n for n in keep if n not in self.names]
        if unknown:
            raise KeyError(f"{Path(self.path).name} has no tensor(s) named {unknown}")
        kept = [self.names.index(n) for n in keep]
        wanted = (list(self.graph.outputs) if outputs else []) + kept
        env = dict(zip(self.graph.inputs, inputs, strict=True))
        for k, op in enumerate(self.graph.ops):
            if not outputs and all(i in env for i in wanted):
                break
            env[op.outputs[0]] = self._run(k, op, env)
        return tuple(env[i] for i in wanted)

    def extra_repr(self) -> str:
        return f"{Path(self.path).name}: {len(self.graph.ops)} ops"


def load_tflite(path: str | Path) -> TFLiteModule:
    """The network in `path` as a frozen (eval, no-grad parameters) torch module; raises
    UnsupportedOpError naming the op and the file when it uses an op outside SUPPORTED_OPS."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no .tflite file at {path}")
    return TFLiteModule(read_graph(path)).eval()
