"""Attention in three named steps: **Align**, **Weight**, **Combine**.

Given a query ``q`` (the decoder state at one target step) and the encoder states ``k_1 .. k_S`` (which serve as
both keys and values here, as in Bahdanau et al. 2015 and Luong et al. 2015):

1. **Align**: score the query against every source position, ``e_j = score(q, k_j)``.
   Only this step differs between attention types (see the ``*Score`` classes below):

   - ``dot``      ``score(q, k) = q^T k``                        (Luong et al. 2015, eq. 8; no parameters)
   - ``general``  ``score(q, k) = q^T W_a k``                    (Luong et al. 2015, eq. 8; bilinear)
   - ``additive`` ``score(q, k) = v_a^T tanh(W_q q + W_k k)``    (Bahdanau et al. 2015, eq. 6; a one-layer network)

2. **Weight**: a softmax over the source turns the scores into a distribution, ``alpha_j = exp(e_j) / sum_i exp(e_i)``,
   with padded positions masked out so they receive exactly zero weight.

3. **Combine**: the context vector is the weighted sum of the values, ``c = sum_j alpha_j k_j``.

Everything is batched over the batch *and* over all target steps at once: queries have shape
``(batch, tgt_len, query_dim)``. That is what lets the decoder (which computes attention from its *current* state, as
Luong et al. do) train without a step-by-step loop; see ``decoder.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ATTENTION_TYPES = ("dot", "general", "additive")
# How the score function's parameters start: PyTorch's defaults, or Bahdanau et al. 2015's (additive only).
ATTENTION_INITS = ("default", "bahdanau")


class DotScore(nn.Module):
    """``e = q^T k``. Parameter-free: the decoder must learn to put its state in the same space as the keys."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        if query_dim != key_dim:
            raise ValueError(
                f"dot attention needs query_dim == key_dim, got {query_dim} and {key_dim}; "
                "set decoder_hidden_size to 2 * encoder_hidden_size or use 'general'/'additive'."
            )

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """Nothing to precompute for dot attention."""
        return keys

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query ``(batch, tgt_len, d)``, keys ``(batch, src_len, d)`` -> scores ``(batch, tgt_len, src_len)``."""
        return torch.bmm(query, keys.transpose(1, 2))


class GeneralScore(nn.Module):
    """``e = q^T W_a k``: a learned bilinear form, so query and keys may live in different spaces."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.W_a = nn.Linear(key_dim, query_dim, bias=False)

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """Project the keys once per sentence: ``W_a k`` does not depend on the target step."""
        return self.W_a(keys)  # (batch, src_len, query_dim)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query ``(batch, tgt_len, dq)``, prepared keys ``(batch, src_len, dq)`` -> ``(batch, tgt_len, src_len)``."""
        return torch.bmm(query, keys.transpose(1, 2))


class AdditiveScore(nn.Module):
    """``e = v_a^T tanh(W_q q + W_k k)`` (Bahdanau et al. 2015, eq. 6): a one-layer network learns the alignment."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.W_q = nn.Linear(query_dim, attention_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attention_dim, bias=False)
        self.v_a = nn.Linear(attention_dim, 1, bias=False)

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """``W_k k`` once per sentence, not once per target step (the usual precomputation trick)."""
        return self.W_k(keys)  # (batch, src_len, attention_dim)

    def bahdanau_init_(self) -> None:
        """Start as Bahdanau et al. 2015 do (appendix B.1): ``W_a``, ``U_a`` (here ``W_q``, ``W_k``) drawn from
        ``N(0, 0.001^2)`` and ``v_a = 0``.

        Every score is then exactly 0, so attention starts uniform, and ``tanh`` starts in its linear range: no key
        begins with a large ``W_k h`` that saturates ``tanh`` and scores high whatever the query (the README's
        suspected cause of the additive model's ``</s>`` sink). PyTorch's default draws ``U(-1/sqrt(d), 1/sqrt(d))``.
        """
        nn.init.normal_(self.W_q.weight, std=0.001)
        nn.init.normal_(self.W_k.weight, std=0.001)
        nn.init.zeros_(self.v_a.weight)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query ``(batch, tgt_len, dq)``, prepared keys ``(batch, src_len, da)`` -> ``(batch, tgt_len, src_len)``."""
        q = self.W_q(query)  # (batch, tgt_len, da)
        hidden = torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))  # (batch, tgt_len, src_len, da)
        return self.v_a(hidden).squeeze(-1)


SCORE_FUNCTIONS: dict[str, type[nn.Module]] = {"dot": DotScore, "general": GeneralScore, "additive": AdditiveScore}


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """**Weight**: softmax over the source positions, ignoring padding.

    Args:
        scores: ``(batch, tgt_len, src_len)`` alignment scores ``e``.
        mask: ``(batch, src_len)``, True for real tokens. Every row must have at least one real token (the encoder
            always sees ``</s>``).

    Returns:
        ``(batch, tgt_len, src_len)`` weights ``alpha``; each row sums to 1 and padded positions are exactly 0,
        because ``exp(-inf) == 0``.
    """
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    return torch.softmax(scores.float(), dim=-1).to(scores.dtype)


def combine(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """**Combine**: the context is the weighted sum of the values, ``c_t = sum_j alpha_tj h_j``.

    weights ``(batch, tgt_len, src_len)``, values ``(batch, src_len, d)`` -> context ``(batch, tgt_len, d)``.
    """
    return torch.bmm(weights, values)


@dataclass
class AttentionKeys:
    """Encoder-side tensors computed once per sentence and reused at every target step."""

    keys: torch.Tensor  # (batch, src_len, key_dim or attention_dim): the score function's prepared keys
    values: torch.Tensor  # (batch, src_len, key_dim): the encoder states that are averaged
    mask: torch.Tensor  # (batch, src_len) bool, True for real tokens

    def index_select(self, index: torch.Tensor) -> AttentionKeys:
        """Reorder/expand along the batch (used by beam search)."""
        return AttentionKeys(
            self.keys.index_select(0, index), self.values.index_select(0, index), self.mask.index_select(0, index)
        )


class Attention(nn.Module):
    """Align -> Weight -> Combine. Only the score function depends on ``attention_type``.

    With ``null_slot`` the source gets one more, learned position ``h_0`` that stands for "no source word": the
    softmax runs over the source positions and ``h_0``, and the weights returned (and shown) are those of the real
    positions, so a row sums to ``1 - alpha_0``. The choice not to align is then visible as a lighter row instead of
    being hidden in some real position such as ``</s>``.
    """

    def __init__(
        self, attention_type: str, query_dim: int, key_dim: int, attention_dim: int, null_slot: bool = False
    ) -> None:
        super().__init__()
        if attention_type not in SCORE_FUNCTIONS:
            raise ValueError(f"Unknown attention type {attention_type!r}; choose one of {', '.join(ATTENTION_TYPES)}.")
        self.attention_type = attention_type
        self.score = SCORE_FUNCTIONS[attention_type](query_dim, key_dim, attention_dim)
        self.null = nn.Parameter(torch.zeros(key_dim)) if null_slot else None  # h_0, learned

    def prepare(self, encoder_states: torch.Tensor, mask: torch.Tensor) -> AttentionKeys:
        """encoder_states ``(batch, src_len, key_dim)``, mask ``(batch, src_len)`` -> reusable keys/values."""
        return AttentionKeys(self.score.prepare_keys(encoder_states), encoder_states, mask)

    def align(self, query: torch.Tensor, memory: AttentionKeys) -> torch.Tensor:
        """**Align**: raw scores ``e``, ``(batch, tgt_len, src_len)``. Exposed for the app's step-by-step view."""
        return self.score(query, memory.keys)

    def forward(
        self, query: torch.Tensor, memory: AttentionKeys, weights_override: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attend from every query to the source.

        Args:
            query: ``(batch, tgt_len, query_dim)`` decoder states.
            memory: the output of :meth:`prepare`.
            weights_override: optional ``(batch, tgt_len, src_len)`` weights used instead of the computed ones
                before the Combine step (attention surgery); the null slot then gets ``1 - sum`` of them.

        Returns:
            context ``(batch, tgt_len, key_dim)``, weights ``alpha`` and raw scores ``e``, both
            ``(batch, tgt_len, src_len)``.
        """
        scores = self.align(query, memory)
        if self.null is None:
            weights = masked_softmax(scores, memory.mask) if weights_override is None else weights_override
            return combine(weights, memory.values), weights, scores
        batch = query.size(0)
        null_value = self.null.view(1, 1, -1).expand(batch, 1, -1)  # (batch, 1, key_dim)
        null_score = self.score(query, self.score.prepare_keys(null_value))  # (batch, tgt_len, 1)
        mask = torch.cat([memory.mask.new_ones(batch, 1), memory.mask], dim=1)
        all_weights = masked_softmax(torch.cat([null_score, scores], dim=-1), mask)  # (batch, tgt_len, 1 + src_len)
        weights = all_weights[..., 1:] if weights_override is None else weights_override
        null_weight = 1.0 - weights.sum(dim=-1, keepdim=True)  # (batch, tgt_len, 1)
        return combine(weights, memory.values) + null_weight * null_value, weights, scores
