"""Unit tests for attention_demo.agreement: the squared-difference agreement of the two directions' attention."""

from __future__ import annotations

import pytest
import torch

from attention_demo.agreement import agreement_loss, word_mask

# One pair: target "y0 y1 </s>" (T = 3), source "x0 x1 x2 </s>" (S = 4).
# Forward A (T, S): rows y0, y1, </s>; columns x0, x1, x2, </s>.
FORWARD = [
    [0.50, 0.25, 0.00, 0.25],
    [0.00, 0.50, 0.50, 0.00],
    [0.10, 0.10, 0.10, 0.70],
]
# Backward B (S, T): rows x0, x1, x2, </s>; columns y0, y1, </s>.
BACKWARD = [
    [1.00, 0.00, 0.00],
    [0.25, 0.75, 0.00],
    [0.00, 0.50, 0.50],
    [0.20, 0.20, 0.60],
]
# Word cells (rows y0, y1; columns x0, x1, x2): A = [[.5, .25, 0], [0, .5, .5]], B^T = [[1, .25, 0], [0, .75, .5]],
# A - B^T = [[-.5, 0, 0], [0, -.25, 0]]: squares .25 + .0625 = .3125 over 6 cells.
ONE_PAIR_LOSS = 0.3125 / 6


def _one_pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.tensor([FORWARD]),
        torch.tensor([BACKWARD]),
        torch.ones(1, 4, dtype=torch.bool),
        torch.ones(1, 3, dtype=torch.bool),
    )


def test_word_mask_drops_padding_and_the_final_eos() -> None:
    mask = torch.tensor([[True, True, True, False], [True, True, True, True], [True, False, False, False]])
    expected = torch.tensor([[True, True, False, False], [True, True, True, False], [False, False, False, False]])
    assert torch.equal(word_mask(mask), expected)


def test_agreement_loss_by_hand() -> None:
    forward, backward, src_mask, tgt_mask = _one_pair()
    loss = agreement_loss(forward, backward, src_mask, tgt_mask)
    assert loss.shape == ()
    assert float(loss) == pytest.approx(ONE_PAIR_LOSS)  # 5/96
    assert float(agreement_loss(forward, forward.transpose(1, 2), src_mask, tgt_mask)) == 0.0


def test_padding_and_eos_cells_do_not_count() -> None:
    """A batch of the pair above and a shorter one ("y0 </s>" with "x0 </s>", padded to T = 3, S = 4): the loss is
    the sum over both pairs' word cells over their number, (.3125 + (.5 - .25)^2) / (6 + 1) = 3/56, whatever the
    </s> rows and columns and the padding hold."""
    forward = torch.full((2, 3, 4), 9.0)
    backward = torch.full((2, 4, 3), -9.0)
    forward[0], backward[0] = torch.tensor(FORWARD), torch.tensor(BACKWARD)
    forward[1, 0, 0], backward[1, 0, 0] = 0.5, 0.25  # the second pair's only word cell (y0, x0)
    src_mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    tgt_mask = torch.tensor([[True, True, True], [True, True, False]])
    loss = agreement_loss(forward, backward, src_mask, tgt_mask)
    assert float(loss) == pytest.approx(0.375 / 7)  # 3/56
    # The first pair's </s> row and column are not words either: changing them changes nothing.
    forward[0, 2, :], forward[0, :, 3], backward[0, 3, :], backward[0, :, 2] = 5.0, 5.0, -5.0, -5.0
    assert float(agreement_loss(forward, backward, src_mask, tgt_mask)) == pytest.approx(0.375 / 7)
    # No word on one side: nothing to compare, a loss of 0 (not nan).
    eos_only = torch.tensor([[True, False, False]])
    assert float(agreement_loss(forward[:1], backward[:1], src_mask[:1], eos_only)) == 0.0


def test_gradient_pulls_both_directions_together() -> None:
    """dL/dA = 2 (A - B^T) / N on word cells and dL/dB = -(dL/dA)^T: where A < B^T (cell y0-x0: .5 vs 1) A's
    gradient is -1/6 and B's +1/6, so a gradient step raises A and lowers B; </s> and padding get no gradient. One
    step of size 1 on both shrinks every word-cell difference by 4/6 (A - B^T - 2 * 2 (A - B^T) / 6)."""
    forward, backward, src_mask, tgt_mask = _one_pair()
    forward.requires_grad_(True)
    backward.requires_grad_(True)
    agreement_loss(forward, backward, src_mask, tgt_mask).backward()
    difference = torch.tensor([[[-0.5, 0.0, 0.0, 0.0], [0.0, -0.25, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    torch.testing.assert_close(forward.grad, 2 * difference / 6)
    torch.testing.assert_close(backward.grad, -2 * difference.transpose(1, 2) / 6)
    assert float(forward.grad[0, 0, 0]) == pytest.approx(-1 / 6) and float(backward.grad[0, 0, 0]) == pytest.approx(
        1 / 6
    )
    with torch.no_grad():
        stepped = agreement_loss(forward - forward.grad, backward - backward.grad, src_mask, tgt_mask)
    assert float(stepped) == pytest.approx(ONE_PAIR_LOSS * (1 - 4 / 6) ** 2)


def test_mismatched_shapes_are_a_clear_error() -> None:
    forward, backward, src_mask, tgt_mask = _one_pair()
    with pytest.raises(ValueError, match=r"\(1, 3, 4\) \(batch, T, S\) and backward_attention \(1, 3, 4\)"):
        agreement_loss(forward, forward, src_mask, tgt_mask)
