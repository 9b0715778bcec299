"""Int8 Linear layers for the text side: one scale per output channel, the model's dtype in and out."""

from __future__ import annotations

import torch

from imagesearch.models.int8_linears import Int8Linear, quantize_linears


def linear(weight, bias=None):
    layer = torch.nn.Linear(len(weight[0]), len(weight), bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias))
    return layer


def rounding_bound(weight, x):
    """The most that rounding can move each output: a weight by half its row's step (largest / 127), an input by
    half its row's step (its span / 127: 7 bits)."""
    weight, x = torch.tensor(weight), torch.as_tensor(x)
    weight_step = weight.abs().amax(dim=1) / 127 / 2
    span = x.amax(dim=1, keepdim=True) - x.amin(dim=1, keepdim=True)
    input_step = span / 127 / 2
    return x.abs().sum(dim=1, keepdim=True) * weight_step + input_step * weight.abs().sum(dim=1) + 1e-6


def test_a_row_of_small_weights_keeps_its_precision_beside_a_row_of_large_ones():
    # one scale for the whole matrix (100/127) would round the second row to zero (an error of 0.46); one per row
    # keeps it within its own rounding
    weight = [[100.0, -100.0, 50.0], [0.01, 0.02, -0.03]]
    layer = linear(weight, bias=[1.0, 0.5])
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.25]])
    got, expected = Int8Linear(layer)(x), layer(x)
    bound = rounding_bound(weight, x)
    assert bound[:, 1].max() < 0.01
    assert ((got - expected).abs() <= bound).all()


def test_it_takes_and_gives_the_models_dtype_and_keeps_leading_dimensions():
    layer = linear([[0.5, -0.25], [1.0, 2.0], [0.0, 1.0]])
    x = torch.tensor([[[1.0, 2.0]], [[3.0, -1.0]]], dtype=torch.bfloat16)
    out = Int8Linear(layer)(x)
    assert out.shape == (2, 1, 3) and out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), layer(x.float()), atol=0.1)


def test_every_linear_inside_a_module_is_replaced_and_nothing_else():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4),
                                torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()))
    x = torch.randn(5, 4)
    expected = model(x)
    assert quantize_linears(model) == 2
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert isinstance(model[1], torch.nn.LayerNorm)
    assert torch.allclose(model(x), expected, atol=0.05)


def test_a_rows_output_does_not_depend_on_the_other_rows_of_its_batch():
    # one quantization range for the whole call would give the small row coarse steps beside the large one
    torch.manual_seed(0)
    layer = Int8Linear(torch.nn.Linear(64, 32))
    small, large = torch.linspace(-0.002, 0.01, 64)[None], torch.linspace(-50.0, 10.0, 64)[None]
    alone = layer(small)
    assert torch.equal(layer(torch.cat([small, large]))[:1], alone)
    assert torch.equal(layer(torch.cat([large, small, large]))[1:2], alone)


def test_a_zero_row_gives_the_bias():
    layer = linear([[1.0, 2.0], [3.0, 4.0]], bias=[0.5, -0.5])
    assert torch.equal(Int8Linear(layer)(torch.zeros(2, 2)), torch.tensor([[0.5, -0.5], [0.5, -0.5]]))


def test_a_layer_of_one_input_is_quantized_too():
    layer = linear([[2.0], [-3.0]], bias=[0.25, 0.0])
    x = torch.tensor([[1.5], [-0.5], [0.0]])
    assert torch.allclose(Int8Linear(layer)(x), layer(x), atol=0.05)
