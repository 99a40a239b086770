"""Exact, in-memory rewrites of a verified ONNX graph that make onnxruntime faster on a CPU.

``PRelu(x, s)`` becomes ``s·x + (1 − s)·Relu(x)``: the same function (outputs differ by float
rounding, < 1e-6 relative), but onnxruntime's CPU PRelu kernel is slow on mixed-sign data (the
106-point model runs 2.3 ms on a constant input and 5.0 ms on a real face crop), while Relu,
Mul and Add are vectorised and fused. One core, real face crops
(benchmarks/prelu_rewrite.py): MobileFaceNet 9.9 → 5.5 ms, 2d106det 5.0 → 1.4 ms.

The file on disk is never changed: its SHA-256 is verified first (models/pack.py), and the
rewrite is a pure function of those bytes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def prelu_as_relu(model_bytes: bytes) -> bytes:
    """The model with every PRelu whose slope is a constant replaced; unchanged if none."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    consts = {init.name: init for init in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    changed = False
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in consts:
            nodes.append(node)
            continue
        x, slope_name = node.input
        y = node.output[0]
        slope = numpy_helper.to_array(consts[slope_name]).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(1 - slope, f"{y}/one_minus_slope"))
        nodes += [
            helper.make_node("Relu", [x], [f"{y}/relu"]),
            helper.make_node("Mul", [f"{y}/relu", f"{y}/one_minus_slope"], [f"{y}/pos"]),
            helper.make_node("Mul", [x, slope_name], [f"{y}/lin"]),
            helper.make_node("Add", [f"{y}/pos", f"{y}/lin"], [y]),
        ]
        changed = True
    if not changed:
        return model_bytes
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


def _block_dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int):
    """DequantizeLinear (opset 21) of constants: per-tensor, per-axis or blocked along ``axis``."""
    q = q.astype(np.float32)
    zero = zero.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1:
        return (q - zero.reshape(())) * scale.reshape(()).astype(np.float32)
    axis %= q.ndim
    if block > 0:  # each scale covers `block` consecutive elements along `axis`
        scale = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    else:  # one scale per index along `axis`
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale.astype(np.float32)


def dequantize_constants(model_bytes: bytes) -> bytes:
    """The model with every DequantizeLinear of constant inputs replaced by its float result,
    and graph inputs that no node reads or that are constants removed; unchanged if neither
    applies.

    OpenCV Zoo's int8 "block-quantised" files (YuNet, SFace) store int8 weights with one scale
    per block of 9–64 values (``block_size``, opset 21), which onnxruntime's CPU provider
    refuses; as float constants they are the same numbers the quantised graph computes with
    (so the same function), at the fp32 file's speed. SFace also declares unused fp32 weights
    as graph inputs, and its batch-norm constants as inputs too, which stops onnxruntime from
    folding them into the convolutions."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    consts = {init.name: init for init in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    folded: list[onnx.TensorProto] = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(i in consts for i in node.input if i):
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        q = numpy_helper.to_array(consts[node.input[0]])
        scale = numpy_helper.to_array(consts[node.input[1]])
        zero = (
            numpy_helper.to_array(consts[node.input[2]])
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale, np.int8)
        )
        value = _block_dequantize(
            q, scale, zero, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0))
        )
        folded.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
    read = {i for n in nodes for i in n.input} | {o.name for o in graph.output}
    names = set(consts) | {t.name for t in folded}
    unread = [i for i in graph.input if i.name not in read or i.name in names]
    if not folded and not unread:
        return model_bytes
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(folded)
    kept = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    inputs = [i for i in graph.input if i.name in read and i.name not in names]
    del graph.input[:]
    graph.input.extend(inputs)
    return model.SerializeToString()


def _open_dims(model_bytes: bytes, axes: dict[int, str]) -> bytes:
    """The model with these axes of its image input left open (named), and the shapes of every
    inner value and every output axis but the last (the feature or channel count) left to
    onnxruntime's inference."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    consts = {init.name for init in graph.initializer}
    image = next(i for i in graph.input if i.name not in consts)
    dims = image.type.tensor_type.shape.dim
    for axis, name in axes.items():
        dims[axis].ClearField("dim_value")
        dims[axis].dim_param = name
    for out in graph.output:
        for d in out.type.tensor_type.shape.dim[:-1]:
            d.ClearField("dim_value")
            d.ClearField("dim_param")
    del graph.value_info[:]
    return model.SerializeToString()


def free_input_size(model_bytes: bytes) -> bytes:
    """The model with its image input's height and width left open, for a fully convolutional
    network exported at one fixed size.

    OpenCV Zoo's YuNet file declares a 1×3×640×640 input, but its graph only convolves, pools,
    upsamples ×2 and reshapes to ``[1, -1, k]``; OpenCV itself runs it at any size that is a
    multiple of 32. Opening the size lets a small photo run small instead of being padded."""
    return _open_dims(model_bytes, {2: "height", 3: "width"})


def free_batch(model_bytes: bytes) -> bytes:
    """The model with its input's batch size left open (SFace's file declares batch 1, but
    nothing in its graph depends on it): both crops of a compare run in one call."""
    return _open_dims(model_bytes, {0: "batch"})


REWRITES = {
    "prelu_as_relu": prelu_as_relu,
    "dequantize_constants": dequantize_constants,
    "free_input_size": free_input_size,
    "free_batch": free_batch,
}
