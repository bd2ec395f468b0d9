"""Unit tests for attention_demo.decoder: shapes, the baseline, tied embeddings, and teacher-forced == stepwise."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, UNIT_MODEL_SIZES, UNIT_VOCAB_SIZE, random_sources

from attention_demo.data import pad
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import BOS_ID

DECODER_HIDDEN = UNIT_MODEL_SIZES["decoder_hidden_size"]


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded source batch (3 sentences of different lengths) and a teacher-forced target batch of 6 steps."""
    src, mask = pad(random_sources([5, 2, 8], seed=3))
    tgt_in = torch.tensor([[BOS_ID] + row[:5] for row in random_sources([6, 6, 6], seed=4)])
    return src, mask, tgt_in


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_output_shapes(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Logits are (B, T, V), the hidden state (layers, B, H), attention and scores (B, T, S) or None (baseline)."""
    model = tiny_model(attention_type)
    src, mask, tgt_in = _inputs()
    out = model.decoder(tgt_in, model.encode(src, mask))
    assert out.logits.shape == (3, 6, UNIT_VOCAB_SIZE)
    assert out.hidden.shape == (1, 3, DECODER_HIDDEN)
    if attention_type is None:
        assert out.attention is None and out.scores is None
    else:
        assert out.attention.shape == (3, 6, src.size(1))
        assert out.scores.shape == (3, 6, src.size(1))


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_teacher_forced_equals_step_by_step(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Running the decoder over all T steps at once equals running it one step at a time with the hidden state
    carried: attention reads the *current* state only (Luong placement), so training needs no Python loop."""
    model = tiny_model(attention_type, seed=2)
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    full = model.decoder(tgt_in, memory)
    hidden, step_logits, step_attention = None, [], []
    for t in range(tgt_in.size(1)):
        out = model.decoder(tgt_in[:, t : t + 1], memory, hidden)
        hidden = out.hidden
        step_logits.append(out.logits)
        step_attention.append(out.attention)
    torch.testing.assert_close(full.logits, torch.cat(step_logits, dim=1))
    torch.testing.assert_close(full.hidden, hidden)
    if attention_type is not None:
        torch.testing.assert_close(full.attention, torch.cat(step_attention, dim=1))


def test_initial_hidden_comes_from_the_summary(tiny_model: Callable[..., Seq2Seq]) -> None:
    """s_0 = tanh(W_init z): two sources with different summaries start the decoder from different states."""
    model = tiny_model("additive")
    src, mask, _ = _inputs()
    memory = model.encode(src, mask)
    h0 = model.decoder.initial_hidden(memory)
    torch.testing.assert_close(h0[0], torch.tanh(model.decoder.init_hidden(memory.summary)))
    assert not torch.allclose(h0[0, 0], h0[0, 1])


def test_tied_embeddings_share_storage(tiny_model: Callable[..., Seq2Seq]) -> None:
    """With tie_embeddings the output projection *is* the target embedding; without, they are separate tensors."""
    tied = tiny_model("additive", tie_embeddings=True).decoder
    assert tied.output.weight is tied.embedding.weight
    assert tied.output.weight.data_ptr() == tied.embedding.weight.data_ptr()
    untied = tiny_model("additive", tie_embeddings=False).decoder
    assert untied.output.weight.data_ptr() != untied.embedding.weight.data_ptr()
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == UNIT_VOCAB_SIZE * UNIT_MODEL_SIZES["embedding_size"]


def test_baseline_context_ignores_source_positions(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The baseline sees the source only through the summary: changing annotations (not the summary) changes
    nothing, while for an attention model it changes the logits."""
    src, mask, tgt_in = _inputs()
    for attention_type, should_change in ((None, False), ("additive", True)):
        model = tiny_model(attention_type)
        annotations, summary = model.encoder(src, mask)
        before = model.decoder(tgt_in, model.decoder.memory(annotations, summary, mask)).logits
        after = model.decoder(tgt_in, model.decoder.memory(annotations + 1.0, summary, mask)).logits
        assert (not torch.allclose(before, after)) == should_change
