"""Unit tests for attention_demo.agreement: the squared-difference agreement of the two directions' attention."""

from __future__ import annotations

import pytest
import torch

from attention_demo.agreement import AgreementPair, agreement_loss, collate_both, word_mask
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.optimization import agreement_step, loss_function
from attention_demo.tokenizer import BOS_ID, PAD_ID

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


# ---------------------------------------------------------------------------------------------------------------------
# The pair of models and its joint training step
# ---------------------------------------------------------------------------------------------------------------------


def _tiny_pair_models(seed: int = 0) -> AgreementPair:
    torch.manual_seed(seed)
    sizes = {"embedding_size": 8, "encoder_hidden_size": 4, "decoder_hidden_size": 8, "attention_size": 4}
    forward = Seq2Seq(ModelConfig(src_vocab_size=12, tgt_vocab_size=14, attention_type="general", **sizes))
    backward = Seq2Seq(
        ModelConfig(src_vocab_size=14, tgt_vocab_size=12, attention_type="general", source_lang="en",
                    target_lang="de", **sizes)
    )  # fmt: skip
    return AgreementPair(forward, backward)


# Source ids (vocabulary 12) and target ids (vocabulary 14), each ending with </s> (id 3); 4 and up are words.
PAIRS = [([5, 6, 7, 3], [8, 9, 3]), ([4, 11, 3], [13, 12, 10, 5, 3]), ([9, 3], [6, 3])]


def test_collate_both_reads_each_pair_both_ways() -> None:
    """The backward model's source is the forward target (``tgt_out``) and its ``tgt_out`` the forward source, so
    row i of the forward attention and column i of the backward one index the same id."""
    batch = collate_both(PAIRS)
    forward, backward = batch["forward"], batch["backward"]
    assert torch.equal(backward["src"], forward["tgt_out"])
    assert torch.equal(backward["tgt_out"], forward["src"])
    assert torch.equal(backward["src_mask"], forward["tgt_out"] != PAD_ID)
    assert backward["tgt_in"][:, 0].eq(BOS_ID).all()


def test_a_pair_without_attention_is_refused() -> None:
    pair = _tiny_pair_models()
    baseline = Seq2Seq(ModelConfig(src_vocab_size=14, tgt_vocab_size=12, attention_type=None))
    with pytest.raises(ValueError, match="baseline has no attention"):
        AgreementPair(pair.forward_model, baseline)


def _disagreement_after(weight: float, steps: int = 60) -> float:
    """The agreement term on PAIRS after ``steps`` joint steps with ``weight`` (dropout off, same start)."""
    pair = _tiny_pair_models()
    for module in pair.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    optimizer = torch.optim.Adam(pair.parameters(), lr=0.01)
    batch = collate_both(PAIRS)
    for _ in range(steps):
        agreement_step(pair, optimizer, batch, loss_function(), weight)
    with torch.no_grad():
        out = pair(batch)
        forward = batch["forward"]
        return float(agreement_loss(out.forward.attention, out.backward.attention, forward["src_mask"],
                                    forward["tgt_out"] != PAD_ID))  # fmt: skip


def test_the_agreement_term_makes_the_two_directions_agree() -> None:
    """Trained on the same batch from the same start, the pair trained with the agreement term ends with a far smaller
    disagreement than the pair trained on the two cross-entropies alone (weight 0)."""
    alone, together = _disagreement_after(0.0), _disagreement_after(20.0)
    assert together < 0.5 * alone, (alone, together)


def test_agreement_step_returns_each_term() -> None:
    """The returned losses are the two directions' cross-entropies and the agreement term before the update."""
    pair = _tiny_pair_models()
    pair.eval()  # no dropout: the same pass as below
    batch = collate_both(PAIRS)
    loss_fn = loss_function()
    with torch.no_grad():
        out = pair(batch)
        expected_forward = loss_fn(out.forward.logits.flatten(0, 1), batch["forward"]["tgt_out"].flatten())
        expected_backward = loss_fn(out.backward.logits.flatten(0, 1), batch["backward"]["tgt_out"].flatten())
    optimizer = torch.optim.SGD(pair.parameters(), lr=0.0)
    forward_loss, backward_loss, agreement = agreement_step(pair, optimizer, batch, loss_fn, 1.0)
    torch.testing.assert_close(forward_loss, expected_forward)
    torch.testing.assert_close(backward_loss, expected_backward)
    assert float(agreement) > 0
