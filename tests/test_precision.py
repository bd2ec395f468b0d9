"""Unit tests for attention_demo.precision: the bfloat16 output layer used for the app's searches (with the traced step
of attention_demo.tracing, tests/test_tracing.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from conftest import random_sources

from attention_demo.data import pad
from attention_demo.decoding import beam_search
from attention_demo.model import Seq2Seq
from attention_demo.precision import BFloat16Linear, bfloat16_output
from attention_demo.tracing import TracedSearch
from attention_demo.translate import Translator


def test_bfloat16_linear_is_the_product_with_rounded_weights() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 5)
    fast = BFloat16Linear(linear)
    x = torch.randn(3, 8)
    rounded = linear.weight.detach().to(torch.bfloat16).float()
    expected = x.to(torch.bfloat16).float() @ rounded.T + linear.bias.detach()
    torch.testing.assert_close(fast(x), expected, atol=1e-2, rtol=1e-2)  # bfloat16 accumulation may differ slightly
    assert fast(x).dtype == torch.float32 and fast.weight.dtype == torch.bfloat16
    assert not any(p.requires_grad for p in fast.parameters())  # for search only


def test_only_the_output_layer_changes_and_the_model_is_left_alone(tiny_model: Callable[..., Seq2Seq]) -> None:
    model = tiny_model("additive").eval()
    fast = bfloat16_output(model)
    assert isinstance(fast.decoder.output, BFloat16Linear) and isinstance(model.decoder.output, torch.nn.Linear)
    src, mask = pad(random_sources([6, 3]))
    tgt_in = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 10]])
    with torch.no_grad():
        exact, rounded = model(src, mask, tgt_in), fast(src, mask, tgt_in)
    torch.testing.assert_close(rounded.attention, exact.attention)  # attention is computed before W_o
    torch.testing.assert_close(rounded.logits, exact.logits, atol=0.05, rtol=0.05)
    assert not torch.equal(rounded.logits, exact.logits)  # it really is another product
    hypotheses = beam_search(fast, src, mask, beam_size=3, max_len=8)
    assert [len(h) for h in hypotheses] == [3, 3]


def test_translator_searches_with_copies_and_keeps_float32_models(tiny_model_folder: Path) -> None:
    plain = Translator(tiny_model_folder)
    fast = Translator(tiny_model_folder, fast_search=True)
    for name, model in fast.models.items():
        assert isinstance(model.decoder.output, torch.nn.Linear)  # evidence differentiates these
        search = fast.search_models[name]
        assert isinstance(search, TracedSearch) and isinstance(search.model.decoder.output, BFloat16Linear)
        assert plain.search_models[name] is plain.models[name]
    sentence = "die katze sieht den hund ."
    name = next(iter(fast.models))
    with torch.inference_mode():
        result = fast.translate([sentence], name, 2)[0]
    assert result.candidates and result.source_pieces == plain.translate([sentence], name, 2)[0].source_pieces
