"""Unit tests for attention_demo.encoder: annotation/summary shapes and independence from padding."""

from __future__ import annotations

from collections.abc import Callable

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
