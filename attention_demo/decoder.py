"""The decoder: a GRU language model over the target, conditioned on the source through a context vector.

Why attention is computed from the *current* decoder state (Luong et al. 2015) and not the previous one (Bahdanau et
al. 2015): with Bahdanau's placement the context for step t depends on ``s_{t-1}`` and is fed *into* the GRU, so
step t cannot start before step t-1 has finished attending; training becomes a Python loop over target positions.
With Luong's placement the GRU runs over the whole (teacher-forced) target in one cuDNN/MKL call, and attention for
all target steps is then one batched matrix product. Same expressive idea, faster to train: 1.5-1.7x on a 2-core
CPU, where the GRU's own recurrence still dominates (``benchmarks/benchmark_speed.py``); on a GPU cuDNN runs the
whole GRU in one kernel.

At every step t (all steps at once during training)::

    s_t      = GRU([E y_{t-1} ; z], s_{t-1})          z: the encoder's fixed summary vector (Cho et al. 2014)
    c_t      = Attention(s_t, h_1..h_S)               with attention  (Align -> Weight -> Combine)
    c_t      = z                                      without attention: the baseline sees only the summary
    s~_t     = tanh(W_c [s_t ; c_t])                  Luong et al. 2015, eq. 5 ("attentional hidden state")
    p(y_t)   = softmax(W_o s~_t)                      Luong et al. 2015, eq. 6

The baseline is exactly this decoder with attention switched off, so the two models differ only in how ``c_t`` is
made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from attention_demo.attention import Attention, AttentionKeys


@dataclass
class EncoderMemory:
    """What the decoder needs from the encoder, computed once per sentence."""

    summary: torch.Tensor  # (batch, context) the fixed summary vector z
    mask: torch.Tensor  # (batch, src_len) bool, True for real tokens
    attention: AttentionKeys | None  # prepared keys/values; None for the baseline

    def index_select(self, index: torch.Tensor) -> EncoderMemory:
        """Reorder/expand along the batch (beam search)."""
        return EncoderMemory(
            self.summary.index_select(0, index),
            self.mask.index_select(0, index),
            None if self.attention is None else self.attention.index_select(index),
        )


@dataclass
class DecoderOutput:
    logits: torch.Tensor  # (batch, tgt_len, vocab)
    hidden: torch.Tensor  # (num_layers, batch, hidden) GRU state after the last step
    attention: torch.Tensor | None  # (batch, tgt_len, src_len) weights alpha; None for the baseline
    scores: torch.Tensor | None  # (batch, tgt_len, src_len) raw alignment scores e; None for the baseline


class Decoder(nn.Module):
    """GRU decoder with optional attention.

    Args:
        vocab_size: target vocabulary size.
        embedding_size: target embedding size; also the size of the attentional hidden state, so that the output
            layer can share the embedding matrix (Press & Wolf 2017) when ``tie_embeddings``.
        hidden_size: GRU size.
        context_size: size of encoder annotations and of the summary vector (``2 * encoder hidden``).
        num_layers: stacked GRU layers.
        attention_type: ``"dot"``, ``"general"``, ``"additive"`` or ``None`` for the baseline.
        attention_size: hidden size of the additive score network.
        dropout: dropout on embeddings and before the output layer.
        tie_embeddings: share the target embedding with the output projection.
        pad_id: padding token id.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        context_size: int,
        num_layers: int,
        attention_type: str | None,
        attention_size: int,
        dropout: float,
        tie_embeddings: bool,
        pad_id: int,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.init_hidden = nn.Linear(context_size, hidden_size)
        self.rnn = nn.GRU(
            embedding_size + context_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = (
            Attention(attention_type, hidden_size, context_size, attention_size) if attention_type else None
        )
        self.combine_context = nn.Linear(hidden_size + context_size, embedding_size)  # W_c
        self.output = nn.Linear(embedding_size, vocab_size)  # W_o
        if tie_embeddings:
            self.output.weight = self.embedding.weight

    def memory(self, annotations: torch.Tensor, summary: torch.Tensor, src_mask: torch.Tensor) -> EncoderMemory:
        """Per-sentence tensors from annotations ``(batch, src_len, context)`` and summary ``(batch, context)``."""
        keys = self.attention.prepare(annotations, src_mask) if self.attention is not None else None
        return EncoderMemory(summary, src_mask, keys)

    def initial_hidden(self, memory: EncoderMemory) -> torch.Tensor:
        """``s_0 = tanh(W_init z)`` for every layer: ``(num_layers, batch, hidden)``."""
        h0 = torch.tanh(self.init_hidden(memory.summary))
        return h0.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()

    def forward(
        self,
        tgt_in: torch.Tensor,
        memory: EncoderMemory,
        hidden: torch.Tensor | None = None,
        weights_override: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """Run the decoder over ``tgt_in`` ``(batch, tgt_len)`` (teacher forcing, or one step at a time).

        ``weights_override`` ``(batch, tgt_len, src_len)`` replaces the attention weights before Combine.
        """
        if hidden is None:
            hidden = self.initial_hidden(memory)
        embedded = self.dropout(self.embedding(tgt_in))  # (batch, tgt_len, emb)
        tgt_len = tgt_in.size(1)
        summary = memory.summary.unsqueeze(1).expand(-1, tgt_len, -1)  # (batch, tgt_len, context)
        states, hidden = self.rnn(torch.cat([embedded, summary], dim=-1), hidden)  # (batch, tgt_len, hidden)

        weights = scores = None
        if self.attention is not None:
            context, weights, scores = self.attention(states, memory.attention, weights_override)
        else:
            context = summary  # the baseline: the same fixed vector at every step

        attentional = torch.tanh(self.combine_context(torch.cat([states, context], dim=-1)))  # (batch, tgt_len, emb)
        logits = self.output(self.dropout(attentional))  # (batch, tgt_len, vocab)
        return DecoderOutput(logits, hidden, weights, scores)
