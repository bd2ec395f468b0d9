"""Faster search for serving: the decoder's output layer in bfloat16.

In a beam search every step multiplies ``beam`` attentional states by the output layer ``W_o`` ``(vocab, emb)``: a
product with a handful of rows, so its time goes into reading ``W_o`` from memory (6,000 x 256 floats, 6 MB, for the
bundled models), not into arithmetic. Stored in bfloat16, the same matrix is half the bytes, and CPUs with bfloat16
instructions multiply it directly. Only the output layer changes: the encoder, the GRU and attention stay in float32,
so the attention weights of a hypothesis are those of the float32 model, and the log-softmax reads float32 logits.

``benchmarks/benchmark_precision.py`` measures the speed and the test BLEU of this and of the other levers tried
(int8 dynamic quantisation of the linear layers and of the GRU); the README reports them. Search copies are for
inference only: attribution needs gradients through float32 weights, so the app keeps the float32 models for
everything else.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from attention_demo.model import Seq2Seq


class BFloat16Linear(nn.Module):
    """``y = x W^T + b`` with ``W`` stored and multiplied in bfloat16; ``x`` ``(..., in)`` and ``y`` ``(..., out)``
    in float32 (the bias is added in float32)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16).clone())  # (out, in)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())  # (out,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.linear(x.to(torch.bfloat16), self.weight).float()
        return y if self.bias is None else y + self.bias


def bfloat16_output(model: Seq2Seq) -> Seq2Seq:
    """A copy of ``model`` for search whose output layer ``W_o`` is a :class:`BFloat16Linear` (``model`` itself is
    unchanged; the copy is in eval mode)."""
    fast = copy.deepcopy(model).eval()
    fast.decoder.output = BFloat16Linear(model.decoder.output)
    return fast
