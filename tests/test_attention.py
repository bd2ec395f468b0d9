"""Unit tests for attention_demo.attention: Align -> Weight -> Combine for dot, general and additive scores."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES

from attention_demo.attention import Attention, combine, masked_softmax

BATCH, TGT_LEN, SRC_LEN = 3, 4, 6
QUERY_DIM, KEY_DIM, ATTENTION_DIM = 16, 16, 8
SRC_LENGTHS = [6, 4, 1]  # one full row, one padded row, one row with a single real position


def _mask(lengths: list[int], width: int) -> torch.Tensor:
    """``(batch, width)`` bool mask, True for the first ``lengths[b]`` positions."""
    return torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def _attend(
    attention_type: str, weights_override: torch.Tensor | None = None
) -> tuple[Attention, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Build a seeded attention module, run it on random inputs; returns (module, states, mask, outputs)."""
    torch.manual_seed(0)
    attention = Attention(attention_type, QUERY_DIM, KEY_DIM, ATTENTION_DIM)
    query = torch.randn(BATCH, TGT_LEN, QUERY_DIM)
    states = torch.randn(BATCH, SRC_LEN, KEY_DIM)
    mask = _mask(SRC_LENGTHS, SRC_LEN)
    memory = attention.prepare(states, mask)
    return attention, states, mask, attention(query, memory, weights_override)


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_output_shapes(attention_type: str) -> None:
    """Context is (B, T, key_dim); weights and raw scores are (B, T, S)."""
    _, _, _, (context, weights, scores) = _attend(attention_type)
    assert context.shape == (BATCH, TGT_LEN, KEY_DIM)
    assert weights.shape == (BATCH, TGT_LEN, SRC_LEN)
    assert scores.shape == (BATCH, TGT_LEN, SRC_LEN)


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_weights_are_a_distribution_over_real_positions(attention_type: str) -> None:
    """Every weight row sums to 1, padded positions get exactly 0, and real positions get positive weight."""
    _, _, mask, (_, weights, _) = _attend(attention_type)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(BATCH, TGT_LEN))
    padded = ~mask.unsqueeze(1).expand_as(weights)
    assert padded.any()
    assert (weights[padded] == 0.0).all()
    assert (weights[~padded] > 0.0).all()
    # A sentence with a single real position puts all its weight there.
    assert (weights[2, :, 0] == 1.0).all()


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_context_is_weighted_sum_of_states(attention_type: str) -> None:
    """The module's context equals sum_j alpha_j h_j computed by hand from its own weights."""
    _, states, _, (context, weights, _) = _attend(attention_type)
    manual = (weights.unsqueeze(-1) * states.unsqueeze(1)).sum(dim=2)
    torch.testing.assert_close(context, manual)


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_weights_override_is_used_by_combine(attention_type: str) -> None:
    """With ``weights_override`` the context is built from the given weights, and those weights are returned."""
    override = torch.zeros(BATCH, TGT_LEN, SRC_LEN)
    override[:, :, 0] = 1.0  # all attention on the first source position
    _, states, _, (context, weights, scores) = _attend(attention_type, weights_override=override)
    torch.testing.assert_close(context, states[:, :1].expand(-1, TGT_LEN, -1))
    assert torch.equal(weights, override)
    _, _, _, (_, _, plain_scores) = _attend(attention_type)
    torch.testing.assert_close(scores, plain_scores)  # the override does not touch the Align step


def test_dot_score_has_no_parameters_others_do() -> None:
    """Dot attention is parameter-free; general and additive learn a score function."""
    counts = {
        name: sum(p.numel() for p in Attention(name, QUERY_DIM, KEY_DIM, ATTENTION_DIM).parameters())
        for name in ALL_ATTENTION_TYPES
    }
    assert counts["dot"] == 0
    assert counts["general"] == QUERY_DIM * KEY_DIM
    assert counts["additive"] == ATTENTION_DIM * (QUERY_DIM + KEY_DIM + 1)


def test_dot_score_is_inner_product() -> None:
    """The dot Align step returns q^T k for every (target, source) pair."""
    torch.manual_seed(3)
    attention = Attention("dot", QUERY_DIM, KEY_DIM, ATTENTION_DIM)
    query, states = torch.randn(1, 2, QUERY_DIM), torch.randn(1, 3, KEY_DIM)
    scores = attention.align(query, attention.prepare(states, _mask([3], 3)))
    torch.testing.assert_close(scores[0, 1, 2], query[0, 1] @ states[0, 2])


def test_masked_softmax_standalone() -> None:
    """masked_softmax equals a softmax over the real positions only, with exact zeros elsewhere."""
    torch.manual_seed(1)
    scores = torch.randn(2, 3, 5)
    mask = _mask([5, 2], 5)
    weights = masked_softmax(scores, mask)
    torch.testing.assert_close(weights[0], torch.softmax(scores[0], dim=-1))
    torch.testing.assert_close(weights[1, :, :2], torch.softmax(scores[1, :, :2], dim=-1))
    assert (weights[1, :, 2:] == 0.0).all()


def test_masked_softmax_ignores_huge_scores_on_padding() -> None:
    """Even an enormous score at a padded position gets exactly zero weight."""
    scores = torch.tensor([[[0.0, 0.0, 1e30]]])
    weights = masked_softmax(scores, _mask([2], 3))
    assert weights[0, 0, 2] == 0.0
    torch.testing.assert_close(weights[0, 0, :2], torch.tensor([0.5, 0.5]))


def test_combine_standalone() -> None:
    """combine(weights, values) is the weighted sum of the values for every target step."""
    torch.manual_seed(2)
    weights = torch.softmax(torch.randn(2, 3, 4), dim=-1)
    values = torch.randn(2, 4, 5)
    context = combine(weights, values)
    assert context.shape == (2, 3, 5)
    for b in range(2):
        for t in range(3):
            manual = sum(weights[b, t, j] * values[b, j] for j in range(4))
            torch.testing.assert_close(context[b, t], manual)


def test_unknown_attention_type_is_a_clear_error() -> None:
    """An unknown type names itself and the valid choices."""
    with pytest.raises(ValueError, match=r"Unknown attention type 'cosine'.*dot, general, additive"):
        Attention("cosine", QUERY_DIM, KEY_DIM, ATTENTION_DIM)


def test_dot_with_mismatched_dims_is_a_clear_error() -> None:
    """Dot attention cannot compare vectors of different sizes; the message gives both sizes and the fix."""
    with pytest.raises(
        ValueError, match=r"query_dim == key_dim, got 12 and 16; set decoder_hidden_size.*'general'/'additive'\.$"
    ):
        Attention("dot", 12, 16, ATTENTION_DIM)


@pytest.mark.parametrize("attention_type", ["general", "additive"])
def test_learned_scores_accept_mismatched_dims(attention_type: str) -> None:
    """General and additive attention project the keys, so query and key sizes may differ."""
    attention = Attention(attention_type, 12, 16, ATTENTION_DIM)
    memory = attention.prepare(torch.randn(2, 5, 16), _mask([5, 3], 5))
    context, weights, _ = attention(torch.randn(2, 3, 12), memory)
    assert context.shape == (2, 3, 16)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


# --- Align by hand: tiny modules with weights set by hand, expected scores computed independently -----------------

GENERAL_W = [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]]  # W_a: (query_dim 2, key_dim 3), so e = q^T W_a k
GENERAL_KEYS = [[3.0, 1.0, -1.0], [0.0, 2.0, 1.0], [1.0, 1.0, 1.0]]
GENERAL_QUERIES = [[1.0, 2.0], [-1.0, 0.5]]
# By hand: W_a k = [1, -2], [2, -1], [3, 0]; then q^T (W_a k) for q = [1, 2] and q = [-1, 0.5].
GENERAL_EXPECTED = [[-3.0, 0.0, 3.0], [-2.0, -2.5, -3.0]]

ADDITIVE_W_Q = [[1.0, -1.0], [0.5, 0.0]]
ADDITIVE_W_K = [[0.0, 1.0], [2.0, -1.0]]
ADDITIVE_V = [1.0, -2.0]
ADDITIVE_KEYS = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
ADDITIVE_QUERIES = [[1.0, 2.0], [0.0, -3.0]]


def _set(linear: torch.nn.Linear, weight: list) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight).view_as(linear.weight))


def _matvec(matrix: list[list[float]], vector: list[float]) -> list[float]:
    return [sum(m * x for m, x in zip(row, vector, strict=True)) for row in matrix]


def _additive_by_hand(query: list[float], key: list[float]) -> float:
    """v^T tanh(W_q q + W_k k) with plain Python floats."""
    hidden = [a + b for a, b in zip(_matvec(ADDITIVE_W_Q, query), _matvec(ADDITIVE_W_K, key), strict=True)]
    return sum(v * math.tanh(h) for v, h in zip(ADDITIVE_V, hidden, strict=True))


def _softmax(row: list[float]) -> list[float]:
    exps = [math.exp(x - max(row)) for x in row]
    return [e / sum(exps) for e in exps]


def _attend_by_hand(
    attention: Attention, queries: list, keys: list, expected_scores: list[list[float]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the module on one sentence (two target steps, three source positions, the last one padding in a second
    batch row) and check scores, weights and context against ``expected_scores`` computed by hand."""
    query = torch.tensor([queries, queries])  # (2, 2, dq): the same queries in two batch rows
    states = torch.tensor([keys, keys])  # (2, 3, dk)
    mask = _mask([3, 2], 3)  # row 1: the third position is padding
    context, weights, scores = attention(query, attention.prepare(states, mask))
    torch.testing.assert_close(scores[0], torch.tensor(expected_scores))
    torch.testing.assert_close(scores[1], torch.tensor(expected_scores))  # Align does not look at the mask
    for row, length in ((0, 3), (1, 2)):
        for t, expected in enumerate(expected_scores):
            alpha = _softmax(expected[:length]) + [0.0] * (3 - length)
            torch.testing.assert_close(weights[row, t], torch.tensor(alpha))
            manual_context = [sum(a * k[d] for a, k in zip(alpha, keys, strict=True)) for d in range(len(keys[0]))]
            torch.testing.assert_close(context[row, t], torch.tensor(manual_context))
    return context, weights, scores


def test_general_score_by_hand() -> None:
    """general: e = q^T W_a k with a hand-set W_a (query and key sizes differ, so no transpose goes unnoticed); the
    context averages the raw encoder states, not the projected keys."""
    attention = Attention("general", 2, 3, ATTENTION_DIM)
    _set(attention.score.W_a, GENERAL_W)
    _attend_by_hand(attention, GENERAL_QUERIES, GENERAL_KEYS, GENERAL_EXPECTED)


def test_additive_score_by_hand() -> None:
    """additive: e = v^T tanh(W_q q + W_k k) with hand-set weights; the pre-activations are positive, negative and
    beyond tanh's linear range, so any other nonlinearity (ReLU, none, sigmoid) gives other numbers."""
    attention = Attention("additive", 2, 2, 2)
    _set(attention.score.W_q, ADDITIVE_W_Q)
    _set(attention.score.W_k, ADDITIVE_W_K)
    _set(attention.score.v_a, [ADDITIVE_V])
    expected = [[_additive_by_hand(q, k) for k in ADDITIVE_KEYS] for q in ADDITIVE_QUERIES]
    # e.g. q = [1, 2], k = [1, 0]: W_q q + W_k k = [-1, 2.5], e = tanh(-1) - 2 tanh(2.5)
    assert expected[0][0] == pytest.approx(math.tanh(-1.0) - 2 * math.tanh(2.5))
    _attend_by_hand(attention, ADDITIVE_QUERIES, ADDITIVE_KEYS, expected)


def test_dot_score_by_hand() -> None:
    """dot: e = q^T k on hand-written vectors."""
    queries, keys = [[1.0, 2.0], [-1.0, 0.5]], [[3.0, 1.0], [0.0, 2.0], [1.0, -1.0]]
    expected = [[5.0, 4.0, -1.0], [-2.5, 1.0, -1.5]]
    _attend_by_hand(Attention("dot", 2, 2, ATTENTION_DIM), queries, keys, expected)


def test_attention_keys_index_select_reorders_everything_together() -> None:
    """Beam search reorders the prepared memory: keys, values and mask move together, rows may repeat."""
    attention = Attention("general", QUERY_DIM, KEY_DIM, ATTENTION_DIM)
    states = torch.randn(3, SRC_LEN, KEY_DIM)
    mask = _mask(SRC_LENGTHS, SRC_LEN)
    memory = attention.prepare(states, mask)
    index = torch.tensor([2, 0, 0])
    picked = memory.index_select(index)
    torch.testing.assert_close(picked.keys, memory.keys[[2, 0, 0]])
    torch.testing.assert_close(picked.values, states[[2, 0, 0]])
    assert torch.equal(picked.mask, mask[[2, 0, 0]])


def test_masked_softmax_keeps_the_dtype_and_masks_each_row_separately() -> None:
    """Half-precision scores give weights in the same dtype; each batch row uses its own mask for every target step."""
    scores = torch.zeros(2, 2, 4, dtype=torch.bfloat16)
    weights = masked_softmax(scores, _mask([4, 1], 4))
    assert weights.dtype == torch.bfloat16
    torch.testing.assert_close(weights[0], torch.full((2, 4), 0.25, dtype=torch.bfloat16))
    torch.testing.assert_close(weights[1], torch.tensor([[1.0, 0, 0, 0]] * 2, dtype=torch.bfloat16))


def test_null_slot_with_weights_override_gives_the_rest_to_the_null_value() -> None:
    """Surgery on a model with a null slot: the given weights are used for the source, and the null value h_0 gets
    what they leave, 1 - sum(override)."""
    attention = Attention("general", QUERY_DIM, KEY_DIM, ATTENTION_DIM, null_slot=True)
    with torch.no_grad():
        attention.null.copy_(torch.randn(KEY_DIM))
    states = torch.randn(BATCH, SRC_LEN, KEY_DIM)
    memory = attention.prepare(states, _mask(SRC_LENGTHS, SRC_LEN))
    override = torch.zeros(BATCH, TGT_LEN, SRC_LEN)
    override[:, :, 0] = 0.75  # a quarter left for the null slot
    context, weights, _ = attention(torch.randn(BATCH, TGT_LEN, QUERY_DIM), memory, override)
    assert torch.equal(weights, override)
    expected = 0.75 * states[:, :1].expand(-1, TGT_LEN, -1) + 0.25 * attention.null
    torch.testing.assert_close(context, expected)
