"""Agreement between the attention of the two translation directions, as a loss (groundwork for issue 19).

A model that translates source -> target and one that translates target -> source read the same sentence pair; where
both attend to the word pair ``(i, j)``, the two attention matrices should agree (agreement-based joint training,
Cheng et al. 2016; Mask-Align's agreement term, Chen et al. 2021, is the same squared difference). With
``forward_attention`` ``A`` ``(batch, T, S)`` (row ``i``: the step that predicts target word ``i``, column ``j``:
source position ``j``) and ``backward_attention`` ``B`` ``(batch, S, T)`` (row ``j``: the step that predicts source
word ``j``, column ``i``: target position ``i``)::

    L = sum_{b, i, j real words} (A[b, i, j] - B[b, j, i])^2 / #(real word cells)

Row ``i`` of ``A`` predicts the ``i``-th id of the target sequence (``tgt_out``, which ends with ``</s>``) and column
``i`` of ``B`` reads that same id as the backward encoder's input, so both index the same word; likewise ``j``.

Nothing here trains yet: the training loop does not call it.
"""

from __future__ import annotations

import torch


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
