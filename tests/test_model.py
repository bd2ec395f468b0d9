"""Unit tests for attention_demo.model: Seq2Seq shapes, padding invariance and parameter counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, UNIT_MODEL_SIZES, UNIT_VOCAB_SIZE, random_sources

from attention_demo.data import collate
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.tokenizer import PAD_ID


def _num_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _pairs(lengths: list[int], seed: int) -> list[tuple[list[int], list[int]]]:
    """(source, target) pairs; target = source words reversed + </s>."""
    return [(src, [*src[-2::-1], 3]) for src in random_sources(lengths, seed=seed)]


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_forward_shapes(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """A teacher-forced forward pass gives logits (B, T, V) and attention (B, T, S), or None for the baseline."""
    model = tiny_model(attention_type)
    batch = collate(_pairs([3, 9, 5, 1], seed=0))
    out = model(batch["src"], batch["src_mask"], batch["tgt_in"])
    batch_size, tgt_len = batch["tgt_in"].shape
    assert out.logits.shape == (batch_size, tgt_len, UNIT_VOCAB_SIZE)
    assert model.has_attention == (attention_type is not None)
    if attention_type is None:
        assert out.attention is None
    else:
        assert out.attention.shape == (batch_size, tgt_len, batch["src"].size(1))


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_padding_does_not_change_the_output(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """A pair alone and inside a padded batch gets the same logits and attention at its real positions."""
    model = tiny_model(attention_type, seed=3)
    pairs = _pairs([2, 10, 6], seed=1)
    batch = collate(pairs)
    batched = model(batch["src"], batch["src_mask"], batch["tgt_in"])
    for row, pair in enumerate(pairs):
        alone = collate([pair])
        single = model(alone["src"], alone["src_mask"], alone["tgt_in"])
        src_len, tgt_len = alone["src"].size(1), alone["tgt_in"].size(1)
        torch.testing.assert_close(batched.logits[row, :tgt_len], single.logits[0])
        if attention_type is not None:
            torch.testing.assert_close(batched.attention[row, :tgt_len, :src_len], single.attention[0])
            assert (batched.attention[row, :, src_len:] == 0.0).all()


def test_baseline_is_attention_model_minus_score_parameters(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The baseline differs from every attention model only by the score function's parameters; dot attention has
    none, so the dot model and the baseline have identical parameter counts."""
    baseline = _num_parameters(tiny_model(None))
    for attention_type in ALL_ATTENTION_TYPES:
        model = tiny_model(attention_type)
        score_parameters = _num_parameters(model.decoder.attention.score)
        assert _num_parameters(model) == baseline + score_parameters
    assert _num_parameters(tiny_model("dot")) == baseline
    assert _num_parameters(tiny_model("additive")) > baseline


def test_seq2seq_tied_embeddings_share_storage(tiny_model: Callable[..., Seq2Seq]) -> None:
    """In the full model the decoder's output layer and target embedding are one tensor (and so is its gradient)."""
    model = tiny_model("dot")
    assert model.decoder.output.weight.data_ptr() == model.decoder.embedding.weight.data_ptr()
    names = [name for name, _ in model.named_parameters()]
    assert "decoder.output.weight" not in names  # counted once, under the embedding


def test_config_rejects_unknown_attention_type() -> None:
    """ModelConfig fails early, naming the bad type and the valid choices."""
    with pytest.raises(ValueError, match=r"'luong'.*dot, general, additive"):
        ModelConfig(src_vocab_size=10, tgt_vocab_size=10, attention_type="luong", **UNIT_MODEL_SIZES)


def test_dot_model_with_mismatched_sizes_is_a_clear_error(tiny_config: Callable[..., ModelConfig]) -> None:
    """A dot model whose decoder size is not 2 * encoder size fails at construction with an actionable message."""
    with pytest.raises(ValueError, match="decoder_hidden_size to 2 \\* encoder_hidden_size"):
        Seq2Seq(tiny_config("dot", decoder_hidden_size=12))


def test_stacked_layers_add_exactly_one_gru_layer_each(tiny_model: Callable[..., Seq2Seq]) -> None:
    """num_layers=2 adds one more GRU layer to the encoder (both directions, reading 2H-wide annotations) and to the
    decoder (reading its H-wide states), and nothing else: 3 gates, input and recurrent weights and two biases."""
    enc, dec = UNIT_MODEL_SIZES["encoder_hidden_size"], UNIT_MODEL_SIZES["decoder_hidden_size"]

    def gru_layer(input_size: int, hidden: int) -> int:
        return 3 * (hidden * input_size + hidden * hidden + 2 * hidden)

    added = _num_parameters(tiny_model("additive", num_layers=2)) - _num_parameters(tiny_model("additive"))
    assert added == 2 * gru_layer(2 * enc, enc) + gru_layer(dec, dec)


def test_padding_embeds_to_zero_on_both_sides(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The padding id's source and target embeddings are zero (and get no gradient), so padding carries nothing."""
    model = tiny_model("dot").train()
    for embedding in (model.encoder.embedding, model.decoder.embedding):
        assert (embedding.weight[PAD_ID] == 0).all()
        embedding(torch.tensor([[PAD_ID, 5]])).sum().backward()
        assert (embedding.weight.grad[PAD_ID] == 0).all() and (embedding.weight.grad[5] != 0).any()
