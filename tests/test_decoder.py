"""Unit tests for attention_demo.decoder: shapes, the baseline, tied embeddings, and teacher-forced == stepwise."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, UNIT_MODEL_SIZES, UNIT_VOCAB_SIZE, random_sources

from attention_demo.data import pad
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import BOS_ID

DECODER_HIDDEN = UNIT_MODEL_SIZES["decoder_hidden_size"]


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded source batch (3 sentences of different lengths) and a teacher-forced target batch of 6 steps."""
    src, mask = pad(random_sources([5, 2, 8], seed=3))
    tgt_in = torch.tensor([[BOS_ID] + row[:5] for row in random_sources([6, 6, 6], seed=4)])
    return src, mask, tgt_in


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_output_shapes(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Logits are (B, T, V), the hidden state (layers, B, H), attention and scores (B, T, S) or None (baseline)."""
    model = tiny_model(attention_type)
    src, mask, tgt_in = _inputs()
    out = model.decoder(tgt_in, model.encode(src, mask))
    assert out.logits.shape == (3, 6, UNIT_VOCAB_SIZE)
    assert out.hidden.rnn.shape == (1, 3, DECODER_HIDDEN)
    if attention_type is None:
        assert out.attention is None and out.scores is None
    else:
        assert out.attention.shape == (3, 6, src.size(1))
        assert out.scores.shape == (3, 6, src.size(1))


DESIGNS = {
    "luong": {},
    "no_summary_input": {"summary_input": False},
    "null_slot": {"null_slot": True},
    "no_eos_key": {"attend_eos": False},
    "bahdanau": {"attention_placement": "bahdanau"},
    "input_feeding": {"input_feeding": True},
}


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_teacher_forced_equals_step_by_step(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, design: str
) -> None:
    """Running the decoder over all T steps at once equals running it one step at a time with the state carried,
    for every decoder design (decoding relies on it: training is teacher-forced, translation is step by step)."""
    model = tiny_model(attention_type, seed=2, **DESIGNS[design])
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    full = model.decoder(tgt_in, memory)
    hidden, step_logits, step_attention = None, [], []
    for t in range(tgt_in.size(1)):
        out = model.decoder(tgt_in[:, t : t + 1], memory, hidden)
        hidden = out.hidden
        step_logits.append(out.logits)
        step_attention.append(out.attention)
    torch.testing.assert_close(full.logits, torch.cat(step_logits, dim=1))
    torch.testing.assert_close(full.hidden.rnn, hidden.rnn)
    if attention_type is not None:
        torch.testing.assert_close(full.attention, torch.cat(step_attention, dim=1))


def test_initial_hidden_comes_from_the_summary(tiny_model: Callable[..., Seq2Seq]) -> None:
    """s_0 = tanh(W_init z): two sources with different summaries start the decoder from different states."""
    model = tiny_model("additive")
    src, mask, _ = _inputs()
    memory = model.encode(src, mask)
    h0 = model.decoder.initial_state(memory).rnn
    torch.testing.assert_close(h0[0], torch.tanh(model.decoder.init_hidden(memory.summary)))
    assert not torch.allclose(h0[0, 0], h0[0, 1])


def test_tied_embeddings_share_storage(tiny_model: Callable[..., Seq2Seq]) -> None:
    """With tie_embeddings the output projection *is* the target embedding; without, they are separate tensors."""
    tied = tiny_model("additive", tie_embeddings=True).decoder
    assert tied.output.weight is tied.embedding.weight
    assert tied.output.weight.data_ptr() == tied.embedding.weight.data_ptr()
    untied = tiny_model("additive", tie_embeddings=False).decoder
    assert untied.output.weight.data_ptr() != untied.embedding.weight.data_ptr()
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == UNIT_VOCAB_SIZE * UNIT_MODEL_SIZES["embedding_size"]


def test_baseline_context_ignores_source_positions(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The baseline sees the source only through the summary: changing annotations (not the summary) changes
    nothing, while for an attention model it changes the logits."""
    src, mask, tgt_in = _inputs()
    for attention_type, should_change in ((None, False), ("additive", True)):
        model = tiny_model(attention_type)
        annotations, summary = model.encoder(src, mask)
        before = model.decoder(tgt_in, model.decoder.memory(annotations, summary, mask)).logits
        after = model.decoder(tgt_in, model.decoder.memory(annotations + 1.0, summary, mask)).logits
        assert (not torch.allclose(before, after)) == should_change


def test_null_slot_takes_the_weight_the_source_does_not_get(tiny_model: Callable[..., Seq2Seq]) -> None:
    """With a null slot the returned weights cover the real positions only (rows sum to 1 - alpha_0 < 1), and the
    context is sum_j alpha_j h_j + alpha_0 h_0 with the learned h_0."""
    model = tiny_model("dot", seed=4, null_slot=True)
    with torch.no_grad():
        model.decoder.attention.null.normal_()
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    states, _ = model.decoder.rnn(
        torch.cat(
            [model.decoder.embedding(tgt_in), memory.summary.unsqueeze(1).expand(-1, tgt_in.size(1), -1)], dim=-1
        ),
        model.decoder.initial_state(memory).rnn,
    )
    context, weights, scores = model.decoder.attention(states, memory.attention)
    h0 = model.decoder.attention.null
    null_scores = states @ h0  # (B, T): dot score of every query with h_0
    full = torch.softmax(torch.cat([null_scores.unsqueeze(-1), scores.masked_fill(~mask.unsqueeze(1), -1e9)], -1), -1)
    torch.testing.assert_close(weights, full[..., 1:])
    sums = weights.sum(-1)
    assert bool((sums < 1).all()) and bool((sums > 0).all())
    expected = torch.bmm(weights, memory.attention.values) + full[..., :1] * h0
    torch.testing.assert_close(context, expected)


def test_attend_eos_false_gives_eos_no_weight(tiny_model: Callable[..., Seq2Seq]) -> None:
    """Without </s> among the keys its column is exactly 0 (and every row still sums to 1); a source that is only
    </s> keeps it, so that attention has something to read."""
    model = tiny_model("additive", attend_eos=False)
    src, mask = pad([[5, 6, 7, 3], [3]])
    out = model(src, mask, torch.tensor([[BOS_ID, 5, 6]] * 2))
    assert float(out.attention[0, :, 3].detach().abs().max()) == 0.0
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(out.attention[1, :, 0], torch.ones(3))


@pytest.mark.parametrize("design", ["luong", "bahdanau", "input_feeding"])
def test_where_attention_reads_the_state(tiny_model: Callable[..., Seq2Seq], design: str) -> None:
    """Bahdanau placement attends from s_{t-1}: the first step's attention cannot depend on the first input word.
    Luong placement attends from s_t, which has read it. With input feeding or Bahdanau placement the attention of
    step 0 reaches the GRU, so overriding it changes step 1's prediction; without, it only changes step 0's."""
    model = tiny_model("general", seed=5, **DESIGNS[design])
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    other = tgt_in.clone()
    other[:, 0] = 7
    same_first = torch.allclose(
        model.decoder(tgt_in, memory).attention[:, 0], model.decoder(other, memory).attention[:, 0]
    )
    assert same_first == (design == "bahdanau")

    own = model.decoder(tgt_in, memory)
    override = own.attention.clone()
    override[:, 0] = mask.float() / mask.sum(dim=1, keepdim=True)  # uniform at step 0 only
    changed = model.decoder(tgt_in, memory, weights_override=override)
    assert not torch.allclose(changed.logits[:, 0], own.logits[:, 0])
    assert torch.allclose(changed.logits[:, 1], own.logits[:, 1]) == (design == "luong")


def _scores_by_hand(model: Seq2Seq, states: torch.Tensor, annotations: torch.Tensor) -> torch.Tensor:
    """``(B, T, S)`` alignment scores of the module docstring's formulas, from the score module's weight matrices."""
    score = model.decoder.attention.score
    if model.config.attention_type == "dot":
        return torch.einsum("btd,bsd->bts", states, annotations)
    if model.config.attention_type == "general":
        return torch.einsum("btd,de,bse->bts", states, score.W_a.weight, annotations)
    hidden = torch.tanh(
        torch.einsum("ad,btd->bta", score.W_q.weight, states).unsqueeze(2)
        + torch.einsum("ae,bse->bsa", score.W_k.weight, annotations).unsqueeze(1)
    )  # (B, T, S, attention_size)
    return torch.einsum("a,btsa->bts", score.v_a.weight[0], hidden)


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_decoder_computes_the_documented_equations(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, num_layers: int
) -> None:
    """The default (Luong) decoder, written out from the module docstring: s_t = GRU([E y_{t-1} ; z], s_{t-1}) from
    s_0 = tanh(W_init z) in every layer; c_t = sum_j softmax_j(e_tj) h_j over the real positions (z for the
    baseline); logits = W_o tanh(W_c [s_t ; c_t])."""
    model = tiny_model(attention_type, seed=6, num_layers=num_layers)
    decoder = model.decoder
    src, mask, tgt_in = _inputs()
    with torch.no_grad():
        annotations, summary = model.encoder(src, mask)
        z = summary.unsqueeze(1).expand(-1, tgt_in.size(1), -1)
        s0 = torch.tanh(decoder.init_hidden(summary)).unsqueeze(0).repeat(num_layers, 1, 1)
        states, last = decoder.rnn(torch.cat([decoder.embedding(tgt_in), z], dim=-1), s0)
        if attention_type is None:
            scores = weights = None
            context = z
        else:
            scores = _scores_by_hand(model, states, annotations)
            weights = torch.softmax(scores.masked_fill(~mask.unsqueeze(1), float("-inf")), dim=-1)
            context = weights @ annotations
        logits = decoder.output(torch.tanh(decoder.combine_context(torch.cat([states, context], dim=-1))))
        out = model(src, mask, tgt_in)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out.hidden.rnn, last)
    if attention_type is None:
        assert out.attention is None and out.scores is None
    else:
        torch.testing.assert_close(out.scores, scores)
        torch.testing.assert_close(out.attention, weights)


@pytest.mark.parametrize("attention_type", ["general", "additive", None])
@pytest.mark.parametrize(
    "design",
    [
        {"input_feeding": True},
        {"attention_placement": "bahdanau"},
        {"attention_placement": "bahdanau", "input_feeding": True, "num_layers": 2},
        {"input_feeding": True, "summary_input": False},
    ],
    ids=["input_feeding", "bahdanau", "bahdanau_feeding_2_layers", "feeding_without_summary"],
)
def test_step_by_step_designs_compute_the_documented_equations(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, design: dict
) -> None:
    """The step-by-step designs written out one step at a time from the module docstring, carrying the GRU state
    and s~ by hand: the GRU reads [E y_{t-1} ; z] (z only with summary_input), then s~_{t-1} (input feeding, s~_0 = 0),
    then with Bahdanau placement c_t = Attention(s_{t-1}) (top layer); with Luong placement c_t = Attention(s_t)."""
    model = tiny_model(attention_type, seed=8, **design)
    decoder, config = model.decoder, model.config
    src, mask, tgt_in = _inputs()
    with torch.no_grad():
        annotations, summary = model.encoder(src, mask)
        rnn_state = torch.tanh(decoder.init_hidden(summary)).unsqueeze(0).repeat(config.num_layers, 1, 1)
        feed = torch.zeros(src.size(0), config.embedding_size)

        def attend(query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
            if attention_type is None:
                return summary.unsqueeze(1), None, None
            scores = _scores_by_hand(model, query, annotations)  # (B, 1, S)
            weights = torch.softmax(scores.masked_fill(~mask.unsqueeze(1), float("-inf")), dim=-1)
            return weights @ annotations, weights, scores

        logits, all_weights, all_scores = [], [], []
        for t in range(tgt_in.size(1)):
            parts = [decoder.embedding(tgt_in[:, t : t + 1])]
            if config.summary_input:
                parts.append(summary.unsqueeze(1))
            if config.input_feeding:
                parts.append(feed.unsqueeze(1))
            if config.attention_placement == "bahdanau":
                context, weights, scores = attend(rnn_state[-1].unsqueeze(1))
                state, rnn_state = decoder.rnn(torch.cat([*parts, context], dim=-1), rnn_state)
            else:
                state, rnn_state = decoder.rnn(torch.cat(parts, dim=-1), rnn_state)
                context, weights, scores = attend(state)
            attentional = torch.tanh(decoder.combine_context(torch.cat([state, context], dim=-1)))  # (B, 1, emb)
            feed = attentional[:, 0]
            logits.append(decoder.output(attentional))
            all_weights.append(weights)
            all_scores.append(scores)
        out = model(src, mask, tgt_in)
    torch.testing.assert_close(out.logits, torch.cat(logits, dim=1))
    torch.testing.assert_close(out.hidden.rnn, rnn_state)
    if attention_type is None:
        assert out.attention is None and out.scores is None
    else:
        torch.testing.assert_close(out.attention, torch.cat(all_weights, dim=1))
        torch.testing.assert_close(out.scores, torch.cat(all_scores, dim=1))


def test_unknown_placement_is_a_clear_error(tiny_config: Callable[..., object]) -> None:
    with pytest.raises(ValueError, match=r"^Unknown attention placement 'sideways'; choose one of luong, bahdanau\.$"):
        Seq2Seq(tiny_config("dot", attention_placement="sideways"))


@pytest.mark.parametrize("design", ["luong", "bahdanau", "input_feeding"])
@pytest.mark.parametrize("attention_type", ["additive", None])
def test_positions_give_each_row_its_own_step_of_the_full_output(
    tiny_model: Callable[..., Seq2Seq], attention_type: str | None, design: str
) -> None:
    """``positions=`` computes row n's output at ``positions[n]`` only: exactly that step of the full output (what
    attribution explains, without a hook on the shared model)."""
    model = tiny_model(attention_type, seed=5, **DESIGNS[design])
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    full = model.decoder(tgt_in, memory)
    positions = torch.tensor([4, 0, 5])
    rows = torch.arange(3)
    cut = model.decode(tgt_in, memory, positions=positions)
    assert cut.logits.shape == (3, 1, UNIT_VOCAB_SIZE)
    torch.testing.assert_close(cut.logits[:, 0], full.logits[rows, positions])
    if attention_type is not None:
        torch.testing.assert_close(cut.attention[:, 0], full.attention[rows, positions])
        torch.testing.assert_close(cut.scores[:, 0], full.scores[rows, positions])


@pytest.mark.parametrize("design", ["luong", "bahdanau"])
def test_logits_false_skips_only_the_output_layer(tiny_model: Callable[..., Seq2Seq], design: str) -> None:
    """``logits=False`` (what reading attention back uses): no logits, and the same attention, scores and state."""
    model = tiny_model("general", seed=2, context_gate=True, **DESIGNS[design])
    src, mask = pad(random_sources([5, 3]))
    tgt_in = torch.tensor([[BOS_ID, 6, 7, 8], [BOS_ID, 9, 10, 11]])
    with torch.no_grad():
        memory = model.encode(src, mask)
        full, lean = model.decode(tgt_in, memory), model.decode(tgt_in, memory, logits=False)
    assert full.logits is not None and lean.logits is None
    for name in ("attention", "scores", "gate"):
        assert torch.equal(getattr(full, name), getattr(lean, name)), name
    assert torch.equal(full.hidden.rnn, lean.hidden.rnn)
