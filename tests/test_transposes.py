"""The transpose rewrite (imagesearch.models.transposes) on tiny exact tensors: every order of ranks 3 to 5, with
a dynamic batch, gives numpy's transpose bit for bit after the rewrite, and no transpose the CPU plugin runs with
its slow kernel is left where the rewrite could prove the shape."""

from __future__ import annotations

import itertools

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from imagesearch.models import transposes

SHAPES = {3: [-1, 5, 6], 4: [-1, 3, 4, 5], 5: [-1, 2, 3, 4, 5]}


def orders(rank):
    every = [list(order) for order in itertools.permutations(range(rank))]
    return every if rank < 5 else every[::7] + [[2, 0, 3, 4, 1], [2, 0, 3, 1, 4]]  # DaViT's two among them


def graph(shape, all_orders, dtype=np.float32):
    source = ops.parameter(ov.PartialShape(shape), dtype, name="x")
    outs = [ops.transpose(source, ops.constant(np.array(order, dtype=np.int64))) for order in all_orders]
    return ov.Model([out.output(0) for out in outs], [source])


def run(model, x):  # outputs in the order the model lists them
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    request.infer([x])
    return [request.get_output_tensor(i).data.copy() for i in range(len(model.outputs))]


def transposes_in(model):
    return [[int(v) for v in node.input_value(1).get_node().get_vector()]
            for node in model.get_ordered_ops() if node.get_type_name() == "Transpose"]


@pytest.mark.parametrize("rank", sorted(SHAPES))
def test_every_order_gives_numpys_transpose_bit_for_bit_after_the_rewrite_at_any_batch(rank):
    all_orders = orders(rank)
    model = graph(SHAPES[rank], all_orders)
    rewritten = transposes.rewrite(model)
    movable = [order for order in all_orders if transposes.slow(order) and order[-1] > 0]  # the batch stays dynamic
    assert rewritten == len(movable) > 0
    for batch in (1, 3):
        x = np.arange(batch * np.prod(SHAPES[rank][1:]), dtype=np.float32).reshape(batch, *SHAPES[rank][1:])
        for order, out in zip(all_orders, run(model, x)):
            assert np.array_equal(out, np.transpose(x, order)), (order, batch)


@pytest.mark.parametrize("rank", sorted(SHAPES))
def test_no_slow_transpose_is_left_and_a_second_rewrite_finds_nothing(rank):
    model = graph(SHAPES[rank], orders(rank))
    transposes.rewrite(model)
    assert not [order for order in transposes_in(model) if transposes.slow(order) and order[-1] > 0]
    assert transposes.rewrite(model) == 0


def test_the_plugin_s_fast_order_and_orders_that_keep_the_innermost_axis_are_left_alone():
    kept = [[0, 3, 1, 2], [1, 0, 2, 3], [0, 2, 1, 3]]
    model = graph(SHAPES[4], kept)
    assert transposes.rewrite(model) == 0 and sorted(transposes_in(model)) == sorted(kept)


def test_a_shape_it_cannot_prove_is_left_as_it_was_and_still_right():
    model = graph([-1, -1, 6], [[0, 2, 1]])  # two dynamic dimensions: no reshape can be written for it
    assert transposes.rewrite(model) == 0 and transposes_in(model) == [[0, 2, 1]]
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    assert np.array_equal(run(model, x)[0], np.transpose(x, [0, 2, 1]))


@pytest.mark.parametrize("shape", [[2, 5, -1], [2, -1, 6], [-1, 5, 6]])
def test_a_dynamic_dimension_at_or_after_the_moved_axis_is_left_alone_and_compiles(shape):
    all_orders = [[0, 2, 1], [2, 0, 1], [1, 2, 0], [2, 1, 0]]
    model = graph(shape, all_orders)
    expected = sum(-1 not in shape[order[-1]:] for order in all_orders)
    assert transposes.rewrite(model) == expected < len(all_orders)
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    for order, out in zip(all_orders, run(model, x)):
        assert np.array_equal(out, np.transpose(x, order)), order
