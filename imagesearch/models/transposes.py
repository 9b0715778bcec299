"""Transposes in an OpenVINO graph rewritten into the form its CPU plugin runs fast, with the same values out.

OpenVINO 2026.4's CPU plugin runs a Transpose that changes the innermost axis through its generic permute kernel,
which gathers one element at a time across strides: 0.3 G bfloat16 values a second at worst here. One form
is run as a oneDNN reorder instead, several times faster: rank 4, order (0, 3, 1, 2). Florence-2's DaViT encoder
turns its tokens around like that 112 times an image ([B, N, C] -> [B, C, N] around every depthwise convolution,
[B, N, 3, G, D] -> [3, B, G, D, N] in every channel attention), and those transposes were 47 % of the bfloat16
encoder's time (docs/captioning.md).

The rewrite: a transpose whose innermost output axis is input axis ``j`` (not the last) becomes
  reshape [outer, n_j, 1, inner] -> transpose (0, 3, 1, 2) -> reshape to the input's axes with ``j`` moved last,
followed, when the order asks more, by a transpose that keeps the innermost axis (it moves whole runs of n_j
values). Only values move, so the output is bit for bit the original's. The rewrite is applied when an export is
compiled, not stored in it, and leaves alone what it cannot write as reshapes: an order computed in the graph,
more than one dynamic dimension, a dynamic dimension at or after the moved axis (OpenVINO 2026.4's
ShuffleChannelsFusion pass throws on that pattern when compiling), an empty dimension. A dynamic batch, before
every moved axis, is what exports have.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import openvino.opset13 as ops

FAST_ORDER = [0, 3, 1, 2]


def _constant(values: list[int]) -> Any:
    return ops.constant(np.array(values, dtype=np.int64))


def slow(order: list[int]) -> bool:
    """Whether the CPU plugin runs a transpose of this order with its generic kernel (the innermost axis moves)."""
    return len(order) >= 3 and order[-1] != len(order) - 1 and order != FAST_ORDER


def _order(node: Any) -> list[int] | None:
    source = node.input_value(1).get_node()
    return [int(v) for v in source.get_vector()] if source.get_type_name() == "Constant" else None


def _dims(node: Any) -> list[int] | None:
    """The input's dimensions, -1 for the one dynamic dimension allowed (a reshape may infer one); None for more
    than one, or an empty dimension (nothing to move)."""
    shape = node.input_value(0).get_partial_shape()
    if shape.rank.is_dynamic:
        return None
    dims = [d.get_length() if d.is_static else -1 for d in shape]
    return dims if dims.count(-1) <= 1 and 0 not in dims else None


def _product(dims: list[int]) -> int:
    """-1 (for reshape to infer) when one of ``dims`` is dynamic."""
    return -1 if -1 in dims else int(np.prod(dims, dtype=np.int64))


def _replacement(source: Any, dims: list[int], order: list[int]) -> Any | None:
    j = order[-1]
    if -1 in dims[j:]:  # the plugin's ShuffleChannelsFusion throws on a dynamic moved or inner dimension
        return None
    outer, inner = _product(dims[:j]), _product(dims[j + 1:])
    held = [*range(j), *range(j + 1, len(dims)), j]  # the axes' order once j is innermost
    out = ops.reshape(source, _constant([outer, dims[j], 1, inner]), special_zero=False)
    out = ops.transpose(out, _constant(FAST_ORDER))  # [outer, inner, n_j, 1]: a oneDNN reorder
    out = ops.reshape(out, _constant([dims[axis] for axis in held]), special_zero=False)
    rest = [held.index(axis) for axis in order]
    if rest != list(range(len(order))):
        out = ops.transpose(out, _constant(rest))  # keeps the innermost axis: moves whole runs
    return out


def rewrite(model: Any) -> int:
    """Rewrite ``model``'s slow transposes in place; how many were rewritten (0 the second time)."""
    count = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Transpose":
            continue
        order, dims = _order(node), _dims(node)
        if order is None or dims is None or not slow(order):
            continue
        replacement = _replacement(node.input_value(0), dims, order)
        if replacement is None:
            continue
        for target in list(node.output(0).get_target_inputs()):
            target.replace_source_output(replacement.output(0))
        count += 1
    if count:
        model.validate_nodes_and_infer_types()
    return count
