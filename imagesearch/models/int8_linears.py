"""The Linear layers torch still runs beside an exported vision encoder, in int8 weights per output channel.

A greedy caption is ~50 decode steps of one token per image; each step reads every decoder weight once to
multiply it by a single row, so a step's time is the bytes of its weights, not its arithmetic. Int8 weights are a
quarter of float32's bytes (and bfloat16's one-row products are slow on this CPU besides; see
docs/captioning.md#the-text-side-in-int8). Each layer's weights get one scale per output channel (the largest
magnitude of the row maps to 127), so a row of small weights is not crushed by another row's large ones; the
activations are quantized at run time (dynamic int8), each row over its own range (below), and the product is
computed by FBGEMM.

Each activation row (one token of one image) is quantized over its own range, so that a caption never depends on
the other images of its batch: FBGEMM takes one range for the whole call, so every row is first mapped onto
[0, 1] (its smallest value to 0, its largest to 1), a fence row holding 0 and 1 pins the call's range to exactly
that, and the row's own span and offset are put back after the product (W x = span * W x' + min * W 1, with W 1
the row sums of the int8 weights). Without it an image captioned beside a photo of larger activations got
coarser steps, and its greedy text changed with its batch-mates (seen on the tiny Florence-2: the same photo,
two different captions alone and in a batch of four), which would make a resumed or differently batched run
write different captions. Mapping onto [0, 1] rather than [-1, 1] keeps every step of the range for rows that
are mostly of one sign (after a GELU).

``reduce_range`` keeps activations to 7 bits, as torch's own dynamic int8 does on x86: without VNNI the int8
products are summed in pairs into saturating 16-bit lanes, and a full 8-bit range can overflow them (measured here
on an AVX2 machine: 3x the first-step logits error of 7 bits).

The packed layer takes and returns the model's own dtype, so the modules around it are untouched.
"""

from __future__ import annotations

from typing import Any

import torch


class Int8Linear(torch.nn.Module):
    """A Linear layer with int8 weights (one scale per output channel); computes through FBGEMM, returns the input's
    dtype."""

    def __init__(self, linear: torch.nn.Linear, reduce_range: bool = True):
        super().__init__()
        weight = linear.weight.detach().to(torch.float32)
        bias = None if linear.bias is None else linear.bias.detach().to(torch.float32)
        self.out_features = weight.shape[0]
        self.reduce_range = reduce_range
        scales = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-12).to(torch.float64)
        zeros = torch.zeros(weight.shape[0], dtype=torch.int64)
        quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(quantized, None)
        self.row_sums = quantized.dequantize().sum(dim=1)  # W 1: what a row's offset adds to each output
        self.bias = bias
        self.fence = torch.zeros(1, weight.shape[1])
        self.fence[0, -1] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1]).to(torch.float32)
        low = rows.amin(dim=1, keepdim=True)
        span = (rows.amax(dim=1, keepdim=True) - low).clamp(min=1e-30)
        fenced = torch.cat([(rows - low) / span, self.fence])  # the call's range is [0, 1] whatever the batch holds
        out = torch.ops.quantized.linear_dynamic(fenced, self.packed, self.reduce_range)[:-1] * span
        out = out + low * self.row_sums
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, int8 per channel"


def quantize_linears(module: Any, reduce_range: bool = True) -> int:
    """Replace every torch.nn.Linear inside ``module`` by an Int8Linear; returns how many were replaced."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, Int8Linear(child, reduce_range))
            count += 1
        else:
            count += quantize_linears(child, reduce_range)
    return count
