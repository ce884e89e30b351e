"""A .tflite flatbuffer read into plain Python: tensors, constants and operators with their options.

Only what a float inference graph needs is read. Constant-only operators (DEQUANTIZE of fp16/int8
weights, DENSIFY of sparse weights) are folded here in numpy, so the torch side sees fp32 weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8, 7: np.int16}
_ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_PADDINGS = {0: "same", 1: "valid"}


class UnsupportedOpError(ValueError):
    """A .tflite operator the reader does not implement (names the op and the file)."""


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: type
    const: np.ndarray | None = None  # value of a constant tensor (weights, shapes), else None
    quant: tuple[np.ndarray, np.ndarray, int] | None = None  # (scale, zero point, axis) of a quantized constant


@dataclass
class OpInfo:
    kind: str  # builtin name ("CONV_2D") or "custom:<code>"
    inputs: list[int]  # tensor indices; -1 = optional input left out
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GraphInfo:
    path: str
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: list[int]
    outputs: list[int]


def _builtin_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def _table(op: Any, cls: type) -> Any:
    table = op.BuiltinOptions()
    opt = cls()
    if table is not None:
        opt.Init(table.Bytes, table.Pos)
    return opt


MEDIAPIPE_FLEX_OPS = ("Landmarks2TransformMatrix", "TransformTensorBilinear", "TransformLandmarks")


def _flex_options(op: Any) -> dict[str, Any]:
    """A custom op's options stored as a flexbuffer map (mediapipe's attention-mesh ops); {} if none."""
    from flatbuffers import flexbuffers

    if op.CustomOptionsLength() == 0:
        return {}
    return dict(flexbuffers.Loads(op.CustomOptionsAsNumpy().tobytes()))


def _options(kind: str, op: Any, version: int = 1) -> dict[str, Any]:
    """The options each supported op reads, as a plain dict (an op without options gets {})."""
    import tflite

    if kind.removeprefix("custom:") in MEDIAPIPE_FLEX_OPS:
        return {**_flex_options(op), "version": version}
    if kind == "STRIDED_SLICE":
        o = _table(op, tflite.StridedSliceOptions)
        return {
            "begin_mask": o.BeginMask(), "end_mask": o.EndMask(), "ellipsis_mask": o.EllipsisMask(),
            "new_axis_mask": o.NewAxisMask(), "shrink_axis_mask": o.ShrinkAxisMask(),
        }  # fmt: skip

    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions
        o = _table(op, cls)
        out = {
            "padding": _PADDINGS[o.Padding()], "stride": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "activation": _ACTIVATIONS[o.FusedActivationFunction()],
        }  # fmt: skip
        if kind == "DEPTHWISE_CONV_2D":
            out["multiplier"] = o.DepthMultiplier()
        return out
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = _table(op, tflite.Pool2DOptions)
        return {
            "padding": _PADDINGS[o.Padding()], "stride": (o.StrideH(), o.StrideW()),
            "kernel": (o.FilterHeight(), o.FilterWidth()), "activation": _ACTIVATIONS[o.FusedActivationFunction()],
        }  # fmt: skip
    if kind in ("ADD", "MUL", "SUB", "DIV"):
        cls = {"ADD": tflite.AddOptions, "MUL": tflite.MulOptions, "SUB": tflite.SubOptions, "DIV": tflite.DivOptions}
        return {"activation": _ACTIVATIONS[_table(op, cls[kind]).FusedActivationFunction()]}
    if kind == "CONCATENATION":
        o = _table(op, tflite.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": _ACTIVATIONS[o.FusedActivationFunction()]}
    if kind == "RESIZE_BILINEAR":
        o = _table(op, tflite.ResizeBilinearOptions)
        return {"align_corners": bool(o.AlignCorners()), "half_pixel_centers": bool(o.HalfPixelCenters())}
    if kind == "DEPTH_TO_SPACE":
        return {"block": _table(op, tflite.DepthToSpaceOptions).BlockSize()}
    if kind == "MEAN":
        return {"keep_dims": bool(_table(op, tflite.ReducerOptions).KeepDims())}
    if kind == "FULLY_CONNECTED":
        o = _table(op, tflite.FullyConnectedOptions)
        return {"activation": _ACTIVATIONS[o.FusedActivationFunction()], "keep_dims": bool(o.KeepNumDims())}
    if kind == "custom:Convolution2DTransposeBias":
        # mediapipe's custom op carries TfLiteTransposeConvParams raw: int32 padding (1 same, 2 valid),
        # stride_width, stride_height.
        padding, stride_w, stride_h = np.frombuffer(op.CustomOptionsAsNumpy().tobytes()[:12], dtype="<i4")
        return {"padding": {1: "same", 2: "valid"}[int(padding)], "stride": (int(stride_h), int(stride_w))}
    return {}


def _buffer(model: Any, raw: bytes, index: int) -> bytes | None:
    buf = model.Buffers(index)
    if buf is None:
        return None
    if buf.Offset() > 1:  # large models keep buffers after the flatbuffer, by offset
        return raw[buf.Offset() : buf.Offset() + buf.Size()]
    if buf.DataLength() == 0:
        return None
    return buf.DataAsNumpy().tobytes()


def _segments(meta: Any, which: str) -> np.ndarray:
    import tflite

    kind = getattr(meta, f"Array{which}Type")()
    table = getattr(meta, f"Array{which}")()
    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity: Any) -> np.ndarray:
    """TFLite's sparse format -> dense array: walk the traversal order, dense dims by their size and
    CSR dims by their segments/indices; block dims (beyond the tensor's rank) tile the original ones."""
    rank = len(shape)
    order = [int(v) for v in sparsity.TraversalOrderAsNumpy()]
    block_map = [int(v) for v in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    metas = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    dense = np.zeros(shape, dtype=values.dtype)
    block_sizes = [metas[order.index(rank + k)].DenseSize() for k in range(len(block_map))]
    pos = 0

    def walk(level: int, prev: int, coords: list[int]) -> None:
        nonlocal pos
        meta = metas[level]
        if meta.Format() == 0:  # DENSE
            children = [(prev * meta.DenseSize() + i, i) for i in range(meta.DenseSize())]
        else:  # SPARSE_CSR
            seg, idx = _segments(meta, "Segments"), _segments(meta, "Indices")
            children = [(j, int(idx[j])) for j in range(seg[prev], seg[prev + 1])]
        for child, coord in children:
            coords[order[level]] = coord
            if level + 1 < len(metas):
                walk(level + 1, child, coords)
            else:
                full = list(coords[:rank])
                for k, dim in enumerate(block_map):
                    full[dim] = full[dim] * block_sizes[k] + coords[rank + k]
                dense[tuple(full)] = values[pos]
                pos += 1

    walk(0, 0, [0] * len(metas))
    return dense


def _const(graph: GraphInfo, op: OpInfo, sparse: dict[int, Any]) -> np.ndarray | None:
    """The folded value of a constant-only DEQUANTIZE / DENSIFY op, else None."""
    src = graph.tensors[op.inputs[0]]
    if src.const is None:
        return None
    if op.kind == "DENSIFY":
        return densify(src.const.reshape(-1), graph.tensors[op.outputs[0]].shape, sparse[op.inputs[0]])
    if op.kind == "DEQUANTIZE":
        if src.dtype == np.float16:
            return src.const.astype(np.float32)
        assert src.quant is not None, f"{graph.path}: DEQUANTIZE of {src.name} without scales"
        scale, zero, axis = src.quant
        shape = [1] * src.const.ndim
        if scale.size > 1:
            shape[axis] = -1
        return ((src.const.astype(np.float32) - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
    return None


def read_graph(path: str | Path) -> GraphInfo:
    """Parse `path` (subgraph 0) into a GraphInfo with constant-only ops folded away."""
    import tflite

    raw = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(raw, 0)
    sub = model.Subgraphs(0)
    names = _builtin_names()
    tensors, sparse = [], {}
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        dtype = _DTYPES.get(t.Type(), np.float32)
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        info = TensorInfo(t.Name().decode(), shape, dtype)
        data = _buffer(model, raw, t.Buffer())
        if data is not None:
            arr = np.frombuffer(data, dtype=dtype).copy()
            if t.Sparsity() is not None:
                sparse[i] = t.Sparsity()
                info.const = arr
            else:
                info.const = arr.reshape(shape) if shape else arr
            q = t.Quantization()
            if q is not None and q.ScaleLength():
                info.quant = (q.ScaleAsNumpy(), q.ZeroPointAsNumpy().astype(np.float32), q.QuantizedDimension())
        tensors.append(info)
    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
        if kind == "CUSTOM":
            kind = "custom:" + code.CustomCode().decode()
        ops.append(OpInfo(kind, [int(v) for v in op.InputsAsNumpy()], [int(v) for v in op.OutputsAsNumpy()],
                          _options(kind, op, code.Version())))  # fmt: skip
    graph = GraphInfo(str(path), tensors, [], [int(v) for v in sub.InputsAsNumpy()],
                      [int(v) for v in sub.OutputsAsNumpy()])  # fmt: skip
    for op in ops:
        folded = _const(graph, op, sparse) if op.kind in ("DEQUANTIZE", "DENSIFY") else None
        if folded is None:
            graph.ops.append(op)
        else:
            graph.tensors[op.outputs[0]].const = folded
    return graph
