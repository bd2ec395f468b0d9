"""Agreement between the attention of the two translation directions: the loss, and the pair of models trained with it.

A model that translates source -> target and one that translates target -> source read the same sentence pair; where
both attend to the word pair ``(i, j)``, the two attention matrices should agree (agreement-based joint training,
Cheng et al. 2016; Mask-Align's agreement term, Chen et al. 2021, is the same squared difference). With
``forward_attention`` ``A`` ``(batch, T, S)`` (row ``i``: the step that predicts target word ``i``, column ``j``:
source position ``j``) and ``backward_attention`` ``B`` ``(batch, S, T)`` (row ``j``: the step that predicts source
word ``j``, column ``i``: target position ``i``)::

    L = sum_{b, i, j real words} (A[b, i, j] - B[b, j, i])^2 / #(real word cells)

Row ``i`` of ``A`` predicts the ``i``-th id of the target sequence (``tgt_out``, which ends with ``</s>``) and column
``i`` of ``B`` reads that same id as the backward encoder's input, so both index the same word; likewise ``j``.

:class:`AgreementPair` holds the two models (one per direction) that ``train.py --agreement_weight`` trains jointly:
each with its own cross-entropy, plus ``agreement_weight * L`` (:func:`attention_demo.optimization.agreement_step`).
No alignment labels are used: each direction's attention is the other's only teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from attention_demo.data import collate
from attention_demo.decoder import DecoderOutput
from attention_demo.model import Seq2Seq

AGREEMENT_SUFFIX = "-agreement"  # the folder of a model trained with agreement: "general-agreement"


def agreement_model_name(name: str) -> str:
    """The folder name of score function ``name``'s agreement-trained model (``general`` -> ``general-agreement``)."""
    return f"{name}{AGREEMENT_SUFFIX}"


def word_mask(mask: torch.Tensor) -> torch.Tensor:
    """The real words of padded sequences that end with ``</s>``: ``mask`` without each row's last real position.

    ``mask`` ``(batch, len)`` bool, True for real tokens (as :func:`attention_demo.data.pad` and ``collate`` give
    it: words then ``</s>``, then padding) -> ``(batch, len)`` bool, True for the words only.
    """
    length = mask.sum(dim=1, keepdim=True)  # (batch, 1) real tokens, </s> included
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)  # (1, len)
    return mask & (positions < length - 1)


def agreement_loss(
    forward_attention: torch.Tensor,
    backward_attention: torch.Tensor,
    src_mask: torch.Tensor,
    tgt_mask: torch.Tensor,
) -> torch.Tensor:
    """Mean squared difference between the forward attention and the transposed backward attention, over word pairs.

    Args:
        forward_attention: ``(batch, T, S)`` attention of the source -> target model (rows: target positions, the
            step that predicts each target id; columns: source positions).
        backward_attention: ``(batch, S, T)`` attention of the target -> source model on the same pairs (rows:
            source positions; columns: target positions).
        src_mask: ``(batch, S)`` bool, True for the source's real tokens, which end with its ``</s>``.
        tgt_mask: ``(batch, T)`` bool, True for the target's real tokens, which end with its ``</s>`` (the mask of
            ``tgt_out``, not of the shifted ``tgt_in``).

    Returns:
        A scalar: the sum over the batch of ``(A[b, i, j] - B[b, j, i])^2`` over the cells where target position
        ``i`` and source position ``j`` are both real words (not padding, not ``</s>``), divided by the number of
        such cells in the whole batch (so a long sentence counts more than a short one, as tokens do in the
        cross-entropy); 0 when there is no such cell.

    The weights are compared as the models give them, not renormalised over the words: a row that parks weight on
    ``</s>`` has less left for the words than the other direction's column gives them, and the loss pulls it back.
    """
    if forward_attention.shape != backward_attention.transpose(1, 2).shape:
        raise ValueError(
            f"forward_attention {tuple(forward_attention.shape)} (batch, T, S) and backward_attention "
            f"{tuple(backward_attention.shape)} (batch, S, T) do not describe the same pairs."
        )
    cells = word_mask(tgt_mask).unsqueeze(2) & word_mask(src_mask).unsqueeze(1)  # (batch, T, S)
    difference = forward_attention - backward_attention.transpose(1, 2)  # (batch, T, S)
    squared = difference.float().pow(2).masked_fill(~cells, 0.0)  # float: bf16 weights lose the small differences
    return squared.sum() / cells.sum().clamp(min=1)


@dataclass
class PairOutput:
    """The teacher-forced outputs of both directions on the same batch of sentence pairs."""

    forward: DecoderOutput  # logits (batch, T, tgt_vocab), attention (batch, T, S)
    backward: DecoderOutput  # logits (batch, S, src_vocab), attention (batch, S, T)


def collate_both(batch: list[tuple[list[int], list[int]]]) -> dict[str, dict[str, torch.Tensor]]:
    """Pairs of (source ids, target ids) -> ``{"forward": collate(pairs), "backward": collate(swapped pairs)}``.

    Both sides end with ``</s>``, so the backward model's source is the forward target (``tgt_out``) and its
    ``tgt_out`` is the forward source: the agreement loss's rows and columns index the same ids in both directions.
    """
    return {"forward": collate(batch), "backward": collate([(t, s) for s, t in batch])}


class AgreementPair(nn.Module):
    """A source -> target model and its target -> source twin, trained as one module (one optimizer, one checkpoint;
    one ``forward`` so that several-GPU training wraps both)."""

    def __init__(self, forward_model: Seq2Seq, backward_model: Seq2Seq) -> None:
        super().__init__()
        if not (forward_model.has_attention and backward_model.has_attention):
            raise ValueError("Agreement training needs two attention models; the baseline has no attention.")
        self.forward_model = forward_model
        self.backward_model = backward_model

    def forward(self, batch: dict[str, dict[str, torch.Tensor]]) -> PairOutput:
        """Teacher-forced passes of both models on :func:`collate_both`'s batch."""
        f, b = batch["forward"], batch["backward"]
        return PairOutput(
            forward=self.forward_model(f["src"], f["src_mask"], f["tgt_in"]),
            backward=self.backward_model(b["src"], b["src_mask"], b["tgt_in"]),
        )
