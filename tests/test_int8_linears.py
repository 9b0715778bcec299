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


def test_a_row_of_small_weights_keeps_its_precision_beside_a_row_of_large_ones():
    # one scale for the whole matrix (100/127) would round the second row to zero; one per row keeps it
    layer = linear([[100.0, -100.0, 50.0], [0.01, 0.02, -0.03]], bias=[1.0, 0.5])
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.25]])
    got, expected = Int8Linear(layer)(x), layer(x)
    assert torch.allclose(got[:, 1], expected[:, 1], rtol=0.02, atol=0.002)
    assert torch.allclose(got[:, 0], expected[:, 0], rtol=0.02, atol=1.0)


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
