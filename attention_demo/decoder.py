"""The decoder: a GRU language model over the target, conditioned on the source through a context vector.

At every step t, in the bundled models' design (all steps at once during training)::

    s_0      = tanh(W_init z)                         z: the encoder's fixed summary vector (Cho et al. 2014)
    s_t      = GRU(E y_{t-1}, s_{t-1})
    c_t      = Attention(s_t, h_1..h_S)               with attention  (Align -> Weight -> Combine)
    c_t      = z                                      without attention: the baseline sees only the summary
    s~_t     = tanh(W_c [s_t ; c_t])                  Luong et al. 2015, eq. 5 ("attentional hidden state")
    p(y_t)   = softmax(W_o s~_t)                      Luong et al. 2015, eq. 6

The first bundled models also fed ``z`` into the GRU at every step, ``s_t = GRU([E y_{t-1} ; z], s_{t-1})``
(``summary_input=True``, still ``ModelConfig``'s default so that their config.json files load as they were made).

The design options of ``ModelConfig`` change where attention reads the decoder and what the GRU sees:

- ``attention_placement="luong"`` (above): attention reads the *current* state ``s_t``. The GRU runs over the whole
  teacher-forced target in one call and attention for all steps is one batched product: no Python loop in training.
- ``attention_placement="bahdanau"`` (Bahdanau et al. 2015): attention reads the *previous* state,
  ``c_t = Attention(s_{t-1}, h)``, and the context is fed into the GRU, ``s_t = GRU([E y_{t-1} ; c_t], s_{t-1})``.
- ``input_feeding`` (Luong et al. 2015, section 3.3): the GRU also reads the previous attentional state,
  ``s_t = GRU([E y_{t-1} ; s~_{t-1}], s_{t-1})``, so the decoder knows what it attended to before.
- ``summary_input`` gives the GRU ``z`` at every step (the first design); without it ``z`` only sets ``s_0`` (and is
  the baseline's ``c_t``).

Input feeding and Bahdanau's placement make step t wait for step t-1's attention, so training runs a loop over target
steps (``Decoder.step_by_step``); ``benchmarks/benchmark_speed.py`` measures what that costs. A null slot and keeping
``</s>`` out of the keys are attention options (``attention.py``, ``Seq2Seq.attention_mask``).

Two remedies for the ``</s>`` sink (issue 19), off by default:

- ``context_gate`` (attention models only): a learned scalar gate on the context,
  ``g_t = sigmoid(w_g^T [q_t ; c_t] + b_g)`` and ``c_t <- g_t c_t``, where ``q_t`` is the state attention read (``s_t``
  with Luong placement, ``s_{t-1}`` with Bahdanau's). ``g_t -> 0`` lets a step take nothing from the source, a way out
  other than parking weight on ``</s>`` (context gates: Tu et al. 2017; a sigmoid gate after attention removes
  attention sinks: Qiu et al. 2025, "Gated Attention for Large Language Models"). The closed gate gives ``0``, not
  ``(1 - g_t) z``: ``z`` is itself a summary of the source (its forward half is the forward state at ``</s>``, half of
  the ``</s>`` annotation), so falling back to it would be the sink under another name; ``0`` is "nothing from the
  source", as in Qiu et al.'s multiplicative gate.
- ``attention_init="bahdanau"``: the additive score starts as in Bahdanau et al. 2015, appendix B.1
  (``AdditiveScore.bahdanau_init_``).

Both draw their random numbers after every other parameter, so a model built with the same seed has the same
parameters as one without them, apart from theirs (a fair ablation).

The baseline is exactly this decoder with attention switched off (``c_t = z`` wherever the attention models use the
attention context), so in every design the two models differ only in how ``c_t`` is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from attention_demo.attention import ATTENTION_INITS, Attention, AttentionKeys

PLACEMENTS = ("luong", "bahdanau")  # where attention reads the decoder state; see the module docstring


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
class DecoderState:
    """Everything the decoder carries from one target step to the next."""

    rnn: torch.Tensor  # (num_layers, batch, hidden) the GRU state s_{t-1}
    feed: torch.Tensor | None = None  # (batch, embedding) the previous attentional state s~_{t-1} (input feeding)

    def index_select(self, index: torch.Tensor) -> DecoderState:
        """Reorder/expand along the batch (beam search)."""
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(self.rnn.index_select(1, index), feed)


@dataclass
class DecoderOutput:
    logits: torch.Tensor | None  # (batch, tgt_len, vocab); None when the output layer was skipped (logits=False)
    hidden: DecoderState  # the state after the last step
    attention: torch.Tensor | None  # (batch, tgt_len, src_len) weights alpha; None for the baseline
    scores: torch.Tensor | None  # (batch, tgt_len, src_len) raw alignment scores e; None for the baseline
    gate: torch.Tensor | None = None  # (batch, tgt_len, 1) context gate g_t; None without context_gate


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
        placement: ``"luong"`` (attend from the current state ``s_t``) or ``"bahdanau"`` (attend from the previous
            state ``s_{t-1}`` and feed the context into the GRU).
        input_feeding: feed the previous attentional state ``s~_{t-1}`` into the GRU (Luong et al. 2015, section 3.3).
        summary_input: give the GRU the encoder summary ``z`` at every step.
        null_slot: a learned "no source word" position for attention (``attention.Attention``).
        attention_init: ``"default"`` or ``"bahdanau"`` (additive score only; ``ModelConfig`` checks the pairing).
        context_gate: scale the attention context by a learned gate ``g_t`` (module docstring); ignored without
            attention, so the baseline is unchanged.
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
        placement: str = "luong",
        input_feeding: bool = False,
        summary_input: bool = True,
        null_slot: bool = False,
        attention_init: str = "default",
        context_gate: bool = False,
    ) -> None:
        super().__init__()
        if placement not in PLACEMENTS:
            raise ValueError(f"Unknown attention placement {placement!r}; choose one of {', '.join(PLACEMENTS)}.")
        if attention_init not in ATTENTION_INITS:
            raise ValueError(f"Unknown attention_init {attention_init!r}; choose one of {', '.join(ATTENTION_INITS)}.")
        self.num_layers = num_layers
        self.placement = placement
        self.input_feeding = input_feeding
        self.summary_input = summary_input
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.init_hidden = nn.Linear(context_size, hidden_size)
        rnn_input = (
            embedding_size
            + (context_size if summary_input else 0)
            + (context_size if placement == "bahdanau" else 0)
            + (embedding_size if input_feeding else 0)
        )
        self.rnn = nn.GRU(
            rnn_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = (
            Attention(attention_type, hidden_size, context_size, attention_size, null_slot) if attention_type else None
        )
        self.combine_context = nn.Linear(hidden_size + context_size, embedding_size)  # W_c
        self.output = nn.Linear(embedding_size, vocab_size)  # W_o
        if tie_embeddings:
            self.output.weight = self.embedding.weight
        # Last, so that the parameters above are drawn as in a model without these options (same seed).
        self.context_gate = (
            nn.Linear(hidden_size + context_size, 1) if context_gate and self.attention is not None else None
        )  # w_g, b_g
        if attention_init == "bahdanau" and self.attention is not None:
            self.attention.score.bahdanau_init_()

    @property
    def step_by_step(self) -> bool:
        """True when step t needs step t-1's attention, so training runs a Python loop over target steps."""
        return self.placement == "bahdanau" or self.input_feeding

    def memory(self, annotations: torch.Tensor, summary: torch.Tensor, src_mask: torch.Tensor) -> EncoderMemory:
        """Per-sentence tensors from annotations ``(batch, src_len, context)`` and summary ``(batch, context)``.

        ``src_mask`` is the mask of the positions attention may read (see ``Seq2Seq.encode``).
        """
        keys = self.attention.prepare(annotations, src_mask) if self.attention is not None else None
        return EncoderMemory(summary, src_mask, keys)

    def initial_state(self, memory: EncoderMemory) -> DecoderState:
        """``s_0 = tanh(W_init z)`` for every layer ``(num_layers, batch, hidden)``; ``s~_0 = 0`` when input feeding."""
        h0 = torch.tanh(self.init_hidden(memory.summary))
        rnn = h0.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()
        feed = None
        if self.input_feeding:
            feed = h0.new_zeros(h0.size(0), self.combine_context.out_features)
        return DecoderState(rnn, feed)

    def _context(
        self, query: torch.Tensor, memory: EncoderMemory, weights_override: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Attention context for queries ``(batch, steps, hidden)``, or the summary ``z`` for the baseline.

        Returns the context ``(batch, steps, context)`` (gated when ``context_gate``), the weights and scores
        ``(batch, steps, src_len)`` and the gate ``(batch, steps, 1)`` (None where there is none).
        """
        if self.attention is None:  # the baseline: the same fixed vector at every step
            return memory.summary.unsqueeze(1).expand(-1, query.size(1), -1), None, None, None
        context, weights, scores = self.attention(query, memory.attention, weights_override)
        if self.context_gate is None:
            return context, weights, scores, None
        gate = torch.sigmoid(self.context_gate(torch.cat([query, context], dim=-1)))  # g_t (batch, steps, 1)
        return gate * context, weights, scores, gate

    def forward(
        self,
        tgt_in: torch.Tensor,
        memory: EncoderMemory,
        hidden: DecoderState | None = None,
        weights_override: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        logits: bool = True,
    ) -> DecoderOutput:
        """Run the decoder over ``tgt_in`` ``(batch, tgt_len)`` (teacher forcing, or one step at a time).

        ``weights_override`` ``(batch, tgt_len, src_len)`` replaces the attention weights before Combine (a context
        gate then reads the context made from them).

        ``positions`` ``(batch,)``: compute the output of row ``n`` only at target position ``positions[n]``, so the
        logits, attention and scores are ``(batch, 1, ...)`` (attribution explains one output word per row). Every row
        still needs the recurrence up to its position; with the Luong placement and no input feeding the steps do not
        feed each other, so the GRU states are cut to the row's position before attention, Combine and the output
        layer, otherwise only the output layer is.

        ``logits=False`` skips the output layer (``logits`` is None): for callers that read only the attention.
        """
        rows = None if positions is None else torch.arange(positions.numel(), device=positions.device)
        state = self.initial_state(memory) if hidden is None else hidden
        embedded = self.dropout(self.embedding(tgt_in))  # (batch, tgt_len, emb)
        if self.summary_input:
            summary = memory.summary.unsqueeze(1).expand(-1, tgt_in.size(1), -1)  # (batch, tgt_len, context)
            embedded = torch.cat([embedded, summary], dim=-1)
        if not self.step_by_step:
            # Luong placement: the GRU runs over all steps in one call, then attention for all steps at once.
            states, rnn = self.rnn(embedded, state.rnn)  # (batch, tgt_len, hidden)
            if positions is not None:
                states = states[rows, positions].unsqueeze(1)  # (batch, 1, hidden): only the row's own step
            context, weights, scores, gate = self._context(states, memory, weights_override)
            attentional = torch.tanh(self.combine_context(torch.cat([states, context], dim=-1)))  # (batch, T, emb)
            state = DecoderState(rnn)
        else:
            steps = []
            for t in range(tgt_in.size(1)):
                override = None if weights_override is None else weights_override[:, t : t + 1]
                step_input = [embedded[:, t : t + 1]]
                if self.input_feeding:
                    step_input.append(state.feed.unsqueeze(1))
                if self.placement == "bahdanau":  # attend from s_{t-1}, then feed the context into the GRU
                    context, weights, scores, gate = self._context(state.rnn[-1].unsqueeze(1), memory, override)
                    step_input.append(context)
                    s_t, rnn = self.rnn(torch.cat(step_input, dim=-1), state.rnn)  # (batch, 1, hidden)
                else:  # input feeding with Luong placement: attend from s_t
                    s_t, rnn = self.rnn(torch.cat(step_input, dim=-1), state.rnn)
                    context, weights, scores, gate = self._context(s_t, memory, override)
                att_t = torch.tanh(self.combine_context(torch.cat([s_t, context], dim=-1)))  # (batch, 1, emb)
                state = DecoderState(rnn, att_t.squeeze(1) if self.input_feeding else None)
                steps.append((att_t, weights, scores, gate))
            attentional = torch.cat([a for a, _, _, _ in steps], dim=1)
            weights = None if self.attention is None else torch.cat([w for _, w, _, _ in steps], dim=1)
            scores = None if self.attention is None else torch.cat([e for _, _, e, _ in steps], dim=1)
            gate = None if self.context_gate is None else torch.cat([g for _, _, _, g in steps], dim=1)
            if positions is not None:  # only the row's own step: (batch, 1, ...)
                attentional = attentional[rows, positions].unsqueeze(1)
                weights = None if weights is None else weights[rows, positions].unsqueeze(1)
                scores = None if scores is None else scores[rows, positions].unsqueeze(1)
                gate = None if gate is None else gate[rows, positions].unsqueeze(1)
        # (batch, tgt_len, vocab); skipped when only attention is read (the largest product of a teacher-forced pass)
        output = self.output(self.dropout(attentional)) if logits else None
        return DecoderOutput(output, state, weights, scores, gate)
