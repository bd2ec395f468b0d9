"""Unit tests for attention_demo.encoder: annotation/summary shapes and independence from padding."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import UNIT_MODEL_SIZES, random_sources

from attention_demo.data import pad
from attention_demo.model import Seq2Seq

HIDDEN = UNIT_MODEL_SIZES["encoder_hidden_size"]


def test_shapes_and_zero_padding(tiny_model: Callable[..., Seq2Seq]) -> None:
    """Annotations are (B, S, 2H) with zeros at padded positions; the summary is (B, 2H)."""
    encoder = tiny_model("additive").encoder
    src, mask = pad(random_sources([7, 3, 5]))
    annotations, summary = encoder(src, mask)
    assert annotations.shape == (3, 8, 2 * HIDDEN)
    assert summary.shape == (3, 2 * HIDDEN)
    assert (annotations[~mask] == 0.0).all()
    assert (annotations[mask].abs().sum(dim=-1) > 0).all()


def test_summary_is_last_forward_and_first_backward_state(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The summary is [h_fwd at the last real token ; h_bwd at the first token], read past any padding."""
    encoder = tiny_model("additive").encoder
    src, mask = pad(random_sources([6, 2]))
    annotations, summary = encoder(src, mask)
    for row, length in enumerate(mask.sum(dim=1).tolist()):
        torch.testing.assert_close(summary[row, :HIDDEN], annotations[row, length - 1, :HIDDEN])
        torch.testing.assert_close(summary[row, HIDDEN:], annotations[row, 0, HIDDEN:])


def test_padding_does_not_change_the_encoding(tiny_model: Callable[..., Seq2Seq]) -> None:
    """A sentence encoded alone and inside a padded batch of longer sentences gets the same annotations at its real
    positions and the same summary."""
    encoder = tiny_model("general", seed=1).encoder
    sources = random_sources([4, 11, 8], seed=5)
    batch_src, batch_mask = pad(sources)
    batch_annotations, batch_summary = encoder(batch_src, batch_mask)
    for row, sentence in enumerate(sources):
        alone_src, alone_mask = pad([sentence])
        alone_annotations, alone_summary = encoder(alone_src, alone_mask)
        length = len(sentence)
        torch.testing.assert_close(batch_annotations[row, :length], alone_annotations[0])
        torch.testing.assert_close(batch_summary[row], alone_summary[0])


@pytest.mark.parametrize("lengths", [[6, 2], [5, 5]], ids=["padded", "unpadded"])
def test_two_layer_summary_comes_from_the_top_layer(tiny_model: Callable[..., Seq2Seq], lengths: list[int]) -> None:
    """With stacked layers the summary is still [last forward ; first backward] state of the top layer, whose outputs
    are the annotations, whether the batch is packed (padding) or not."""
    encoder = tiny_model("additive", num_layers=2).encoder
    src, mask = pad(random_sources(lengths, seed=2))
    annotations, summary = encoder(src, mask)
    for row, length in enumerate(mask.sum(dim=1).tolist()):
        torch.testing.assert_close(summary[row, :HIDDEN], annotations[row, length - 1, :HIDDEN])
        torch.testing.assert_close(summary[row, HIDDEN:], annotations[row, 0, HIDDEN:])


def test_trailing_padding_columns_keep_the_width(tiny_model: Callable[..., Seq2Seq]) -> None:
    """A batch padded wider than its longest sentence still gets (B, S, 2H) annotations, zero past every sentence."""
    encoder = tiny_model("dot").encoder
    src, mask = pad(random_sources([3, 2], seed=1))
    wide_src = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    wide_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    annotations, summary = encoder(wide_src, wide_mask)
    narrow, narrow_summary = encoder(src, mask)
    assert annotations.shape == (2, 7, 2 * HIDDEN)
    torch.testing.assert_close(annotations[:, :4], narrow)
    assert (annotations[:, 4:] == 0).all()
    torch.testing.assert_close(summary, narrow_summary)


def test_dropout_on_the_annotations_only_in_training(tiny_model: Callable[..., Seq2Seq]) -> None:
    """With dropout the annotations lose entries in training mode (zeros among the real positions) and never in eval
    mode, where encoding is deterministic."""
    encoder = tiny_model("additive", dropout=0.5).encoder
    src, mask = pad(random_sources([9, 9], seed=4))
    torch.manual_seed(0)
    evaluated, _ = encoder(src, mask)
    assert not (evaluated[mask] == 0).any()
    torch.testing.assert_close(encoder(src, mask)[0], evaluated)
    encoder.train()
    trained, _ = encoder(src, mask)
    dropped = (trained[mask] == 0).float().mean()
    assert 0.3 < float(dropped) < 0.7


def test_annotation_dropout_can_be_switched_off(tiny_model: Callable[..., Seq2Seq]) -> None:
    """``annotation_dropout=False`` keeps dropout on the embeddings but never zeroes an annotation entry, so the
    keys and values of attention are the GRU's outputs even in training mode."""
    encoder = tiny_model("additive", dropout=0.5, annotation_dropout=False).encoder.train()
    src, mask = pad(random_sources([9, 9], seed=4))
    torch.manual_seed(0)
    annotations, _ = encoder(src, mask)
    assert not (annotations[mask] == 0).any()
    torch.manual_seed(1)
    assert not torch.allclose(encoder(src, mask)[0], annotations)  # the embeddings still get dropout


def test_given_embeddings_replace_the_lookup(tiny_model: Callable[..., Seq2Seq]) -> None:
    """``embedded=`` is read instead of ``embedding(src)``: the same vectors encode alike, other vectors differently
    (attribution differentiates with respect to them)."""
    encoder = tiny_model("additive").encoder.eval()
    src, mask = pad(random_sources([6, 4]))
    looked_up = encoder.embedding(src)
    for plain, given in zip(encoder(src, mask), encoder(src, mask, looked_up), strict=True):
        torch.testing.assert_close(plain, given)
    assert not torch.allclose(encoder(src, mask)[1], encoder(src, mask, 2 * looked_up)[1])
