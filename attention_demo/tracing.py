"""Search without holding Python's GIL: the decoder's step compiled with TorchScript, for the app's searches.

The app runs a request's two beam searches (the attention model and the baseline) side by side in two threads. A
search step in eager PyTorch is about thirty small operations, each entered from Python, and a thread needs Python's
GIL to enter one: two searches in two threads spend part of every step waiting for each other (on two free cores the
pair took a third longer than one search alone; in two processes it did not). :func:`traced_search` traces the
decoder's one-step call once, at load time, into a TorchScript graph; calling the graph releases the GIL for the
whole step. :func:`scripted` compiles beam search's own step (``decoding.beam_step``: log-softmax, top-k, reordering)
the same way. With both, the pair takes about 1.1 times as long as its slower search alone, against 1.25 times
eagerly (README, Performance).

The graph runs the same operations on the same weights in the same order, so its outputs are bit-identical to the
eager step's: :func:`traced_search` checks that on a second input of another shape before it returns the traced
search, and falls back to eager search (with a warning in the log) if they differ or tracing fails. Only the plain
one-step call is traced (``decode(prev, memory, hidden)`` with no gradients: what greedy and beam search make); every
other call (teacher forcing, ``weights_override``, ``positions``, gradients) runs the eager model.

``torch.jit.trace`` is deprecated in favour of ``torch.compile``, which would need a C++ compiler and tens of seconds
per model at start-up, and may reorder arithmetic; the pinned torch still ships TorchScript, and its deprecation
warning is silenced here only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from attention_demo.attention import AttentionKeys
from attention_demo.data import pad
from attention_demo.decoder import DecoderOutput, DecoderState, EncoderMemory
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import BOS_ID

logger = logging.getLogger(__name__)
Function = TypeVar("Function", bound=Callable)
TRACED_SOURCE = [5, 6, 3]  # token ids of the input traced (any valid ids) ...
CHECKED_SOURCES = [[7, 8, 9, 10, 3], [11, 3]]  # ... and of the inputs checked: another batch size and length
CHECKS = 3  # calls checked: TorchScript's executor may optimise the graph after its first calls
NOTHING = torch.empty(0)  # stands for a missing tensor (no attention, no input feeding) in the graph's signature


class DecoderStep(nn.Module):
    """``Decoder.forward`` for one step, with tensors in and out (what tracing records).

    Inputs: ``prev`` ``(batch, 1)``; the memory's ``summary`` ``(batch, context)``, ``mask`` ``(batch, src_len)``,
    attention ``keys``, ``values`` and ``attention_mask`` (:data:`NOTHING` for the baseline); the state's ``rnn``
    ``(layers, batch, hidden)`` and ``feed`` (:data:`NOTHING` without input feeding). Outputs: logits, ``rnn``,
    ``feed``, attention weights, scores and gate, each :data:`NOTHING` where the model has none.
    """

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.decoder = model.decoder

    def forward(
        self, prev: torch.Tensor, summary: torch.Tensor, mask: torch.Tensor, keys: torch.Tensor,
        values: torch.Tensor, attention_mask: torch.Tensor, rnn: torch.Tensor, feed: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:  # fmt: skip
        attention = AttentionKeys(keys, values, attention_mask) if self.decoder.attention is not None else None
        state = DecoderState(rnn, feed if self.decoder.input_feeding else None)
        out = self.decoder(prev, EncoderMemory(summary, mask, attention), state)
        missing = torch.empty(0)
        return (
            out.logits, out.hidden.rnn, missing if out.hidden.feed is None else out.hidden.feed,
            missing if out.attention is None else out.attention, missing if out.scores is None else out.scores,
            missing if out.gate is None else out.gate,
        )  # fmt: skip


def _step_inputs(prev: torch.Tensor, memory: EncoderMemory, state: DecoderState) -> tuple[torch.Tensor, ...]:
    attention = memory.attention
    return (
        prev, memory.summary, memory.mask, NOTHING if attention is None else attention.keys,
        NOTHING if attention is None else attention.values, NOTHING if attention is None else attention.mask,
        state.rnn, NOTHING if state.feed is None else state.feed,
    )  # fmt: skip


def _step_output(outputs: tuple[torch.Tensor, ...]) -> DecoderOutput:
    logits, rnn, feed, weights, scores, gate = outputs
    return DecoderOutput(
        logits, DecoderState(rnn, feed if feed.numel() else None), weights if weights.numel() else None,
        scores if scores.numel() else None, gate if gate.numel() else None,
    )  # fmt: skip


class TracedSearch(nn.Module):
    """What greedy and beam search call (``encode``, ``decode``, ``has_attention``), with the one-step ``decode``
    run by a traced graph; ``model`` stays the eager model the graph was traced from (they share their weights)."""

    def __init__(self, model: Seq2Seq, step: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.model = model
        self.step = step

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor, embedded: torch.Tensor | None = None) -> EncoderMemory:
        return self.model.encode(src, src_mask, embedded)

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: EncoderMemory,
        hidden: DecoderState | None = None,
        weights_override: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        logits: bool = True,
    ) -> DecoderOutput:
        """``Seq2Seq.decode``: one step (``tgt_in`` ``(batch, 1)``) without gradients runs the graph."""
        plain = weights_override is None and positions is None and logits
        if not plain or tgt_in.size(1) != 1 or torch.is_grad_enabled():
            return self.model.decode(tgt_in, memory, hidden, weights_override, positions, logits)
        state = self.model.decoder.initial_state(memory) if hidden is None else hidden
        return _step_output(self.step(*_step_inputs(tgt_in, memory, state)))


def _example(model: Seq2Seq, sources: list[list[int]], beam: int) -> tuple[torch.Tensor, ...]:
    """The inputs of a search's first step for ``sources``, each repeated ``beam`` times (as beam search makes)."""
    device = next(model.parameters()).device
    vocab = model.config.src_vocab_size
    src, mask = pad([[min(i, vocab - 1) for i in source] for source in sources])
    memory = model.encode(src.to(device), mask.to(device))
    memory = memory.index_select(torch.arange(len(sources), device=device).repeat_interleave(beam))
    prev = torch.full((len(sources) * beam, 1), BOS_ID, dtype=torch.long, device=device)
    return _step_inputs(prev, memory, model.decoder.initial_state(memory))


def traced_search(model: Seq2Seq) -> Seq2Seq | TracedSearch:
    """``model`` (in eval mode) with its one-step decode traced (:class:`TracedSearch`), or ``model`` itself if
    tracing fails or the graph's outputs differ from the eager step's on an input of another shape."""
    model.eval()
    step = DecoderStep(model).eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(step, _example(model, [TRACED_SOURCE], 1), check_trace=False)
            check = _example(model, CHECKED_SOURCES, 3)
            expected = step(*check)
            same = all(
                all(torch.equal(a, b) for a, b in zip(traced(*check), expected, strict=True)) for _ in range(CHECKS)
            )
    except Exception:  # noqa: BLE001 - any tracing failure leaves search as it was
        logger.warning("Could not trace %s's decoder step; it searches in eager mode.", model.config.attention_type,
                       exc_info=True)  # fmt: skip
        return model
    if not same:
        logger.warning("The traced decoder step differs from the eager one; searching in eager mode.")
        return model
    return TracedSearch(model, traced)


def scripted(function: Function) -> Function:
    """``function`` compiled by ``torch.jit.script`` (the same operations, run without holding the GIL), or
    ``function`` itself if TorchScript cannot compile it. For plain tensor functions such as
    ``decoding.beam_step``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            return torch.jit.script(function)
    except Exception:  # noqa: BLE001 - the eager function computes the same
        logger.warning("Could not compile %s with TorchScript; it runs eagerly.", function.__name__, exc_info=True)
        return function
