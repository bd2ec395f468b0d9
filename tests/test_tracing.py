"""Unit tests for attention_demo.tracing: the traced decoder step and the scripted beam step of the app's searches.

Both must compute exactly what the eager code computes (bit-identical tensors and hypotheses), for every decoder
design, and fall back to the eager code when TorchScript cannot do it. That they run without the GIL is measured, not
tested: ``benchmarks/benchmark_precision.py`` times one search alone and two side by side in threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import pytest
import torch
from conftest import random_sources

from attention_demo import decoding, tracing
from attention_demo.data import pad
from attention_demo.decoding import beam_search, greedy_search
from attention_demo.model import Seq2Seq
from attention_demo.precision import bfloat16_output
from attention_demo.tokenizer import BOS_ID

# Every decoder design a folder may hold: the score functions, the baseline and the options of ModelConfig.
DESIGNS = [
    ("additive", {}),
    ("general", {}),
    ("dot", {}),
    (None, {}),
    ("additive", {"context_gate": True, "summary_input": False}),
    ("general", {"null_slot": True}),
    ("dot", {"attend_eos": False}),
    ("additive", {"attention_placement": "bahdanau"}),
    ("general", {"input_feeding": True}),
    (None, {"input_feeding": True}),
]
IDS = [f"{t or 'baseline'}-{'-'.join(o) or 'plain'}" for t, o in DESIGNS]


class Counted(torch.nn.Module):
    """A traced step that counts its calls."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.graph, self.calls = graph, 0

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.calls += 1
        return self.graph(*inputs)


def same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


@pytest.mark.parametrize(("attention_type", "options"), DESIGNS, ids=IDS)
def test_the_traced_step_is_bit_identical_to_the_eager_one(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, options: dict
) -> None:
    """Every output of a step, at several batch sizes and source lengths, and over several steps of carried state."""
    model = tiny_model(attention_type, **options)
    traced = tracing.traced_search(model)
    assert isinstance(traced, tracing.TracedSearch) and traced.model is model
    traced.step = Counted(traced.step)  # the steps below must run the graph, not fall back to the eager model
    for lengths, beam in (([4], 1), ([7, 2, 5], 3), ([12], 5)):
        src, mask = pad(random_sources(lengths, seed=len(lengths)))
        with torch.inference_mode():
            memory = model.encode(src, mask).index_select(torch.arange(len(lengths)).repeat_interleave(beam))
            prev = torch.full((len(lengths) * beam, 1), BOS_ID)
            eager_state = traced_state = None
            for step in range(4):
                eager, fast = model.decode(prev, memory, eager_state), traced.decode(prev, memory, traced_state)
                assert torch.equal(eager.logits, fast.logits), step
                assert same(eager.attention, fast.attention) and same(eager.scores, fast.scores)
                assert same(eager.gate, fast.gate)
                assert torch.equal(eager.hidden.rnn, fast.hidden.rnn) and same(eager.hidden.feed, fast.hidden.feed)
                eager_state, traced_state = eager.hidden, fast.hidden
                prev = eager.logits[:, 0].argmax(-1, keepdim=True)
    assert traced.step.calls == 3 * 4


@pytest.mark.parametrize(("attention_type", "options"), DESIGNS[:5], ids=IDS[:5])
def test_search_with_the_traced_step_finds_the_same_hypotheses(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, options: dict
) -> None:
    """Beam and greedy search, on the bfloat16-output copy the app searches with: tokens, scores and attention."""
    model = bfloat16_output(tiny_model(attention_type, seed=3, **options))
    traced = tracing.traced_search(model)
    src, mask = pad(random_sources([9, 3, 6], seed=5))
    with torch.inference_mode():
        searches = (
            lambda m: beam_search(m, src, mask, beam_size=4, max_len=12),
            lambda m: [greedy_search(m, src, mask, 12)],
        )
        for search in searches:
            for eager_hyps, fast_hyps in zip(search(model), search(traced), strict=True):
                for eager, fast in zip(eager_hyps, fast_hyps, strict=True):
                    assert eager.tokens == fast.tokens and eager.score == fast.score
                    assert eager.token_logprobs == fast.token_logprobs and same(eager.attention, fast.attention)


def test_other_calls_run_the_eager_model(tiny_model: Callable[..., Seq2Seq]) -> None:
    """Teacher forcing over many steps, weights_override, positions, logits=False and gradients are not traced."""
    model = tiny_model("additive")
    traced = tracing.traced_search(model)
    src, mask = pad(random_sources([5, 3]))
    tgt_in = torch.tensor([[BOS_ID, 5, 6], [BOS_ID, 7, 8]])
    calls = []

    class Spy(torch.nn.Module):  # records a call of the traced step
        def forward(self, *inputs: torch.Tensor) -> None:
            calls.append(inputs)

    traced.step = Spy()
    memory = model.encode(src, mask)
    with torch.no_grad():
        assert torch.equal(traced.decode(tgt_in, memory).logits, model.decode(tgt_in, memory).logits)
        override = torch.full((2, 1, src.size(1)), 1 / src.size(1))
        assert torch.equal(
            traced.decode(tgt_in[:, :1], memory, weights_override=override).logits,
            model.decode(tgt_in[:, :1], memory, weights_override=override).logits,
        )
        assert traced.decode(tgt_in[:, :1], memory, logits=False).logits is None
        positions = torch.tensor([0, 0])
        assert torch.equal(
            traced.decode(tgt_in[:, :1], memory, positions=positions).attention,
            model.decode(tgt_in[:, :1], memory, positions=positions).attention,
        )
    out = traced.decode(tgt_in[:, :1], model.encode(src, mask))  # gradients enabled
    out.logits.sum().backward()
    assert model.decoder.output.weight.grad is not None and not calls


def test_a_step_that_cannot_be_traced_or_differs_leaves_the_eager_model(
    tiny_model: Callable[..., Seq2Seq], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = tiny_model("general")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no TorchScript here")

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="attention_demo.tracing"):
        patch.setattr(torch.jit, "trace", broken)
        assert tracing.traced_search(model) is model
    assert "eager mode" in caplog.text

    real_trace = torch.jit.trace

    class Off(torch.nn.Module):  # a graph whose logits are off by a little
        def __init__(self, graph: torch.nn.Module) -> None:
            super().__init__()
            self.graph = graph

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            logits, *rest = self.graph(*inputs)
            return (logits + 1e-6, *rest)

    caplog.clear()
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="attention_demo.tracing"):
        patch.setattr(torch.jit, "trace", lambda *a, **k: Off(real_trace(*a, **k)))
        assert tracing.traced_search(model) is model
    assert "differs" in caplog.text


def test_the_beam_step_is_scripted_and_equals_the_eager_function(
    tiny_model: Callable[..., Seq2Seq], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the eager fallback. (mutmut wraps every function in a trampoline TorchScript cannot compile, so under
    # `make mutation` the step runs eagerly, and the mutants of beam_step are tested through it.)
    if "MUTANT_UNDER_TEST" not in os.environ:
        assert isinstance(decoding.BEAM_STEP, torch.jit.ScriptFunction)
    src, mask = pad(random_sources([8, 4, 11], seed=2))
    for attention_type in ("additive", None):
        model = tiny_model(attention_type, seed=4)
        scripted = beam_search(model, src, mask, beam_size=3, max_len=14)
        with monkeypatch.context() as patch:
            patch.setattr(decoding, "BEAM_STEP", decoding.beam_step)
            eager = beam_search(model, src, mask, beam_size=3, max_len=14)
        for a_hyps, b_hyps in zip(scripted, eager, strict=True):
            for a, b in zip(a_hyps, b_hyps, strict=True):
                assert a.tokens == b.tokens and a.token_logprobs == b.token_logprobs and same(a.attention, b.attention)


def test_a_function_torchscript_cannot_compile_stays_eager(caplog: pytest.LogCaptureFixture) -> None:
    def python_only(x: torch.Tensor) -> torch.Tensor:
        return torch.tensor(len({id(x)}))  # sets are not TorchScript

    with caplog.at_level(logging.WARNING, logger="attention_demo.tracing"):
        assert tracing.scripted(python_only) is python_only
    assert "python_only" in caplog.text
