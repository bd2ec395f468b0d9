"""Unit tests of the </s>-sink remedies (issue 19): Bahdanau et al.'s initialisation of the additive score and the
context gate, in the model, its config.json and train.py's arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, UNIT_MODEL_SIZES, random_sources

from attention_demo.data import pad
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.model_repo import CONFIG_FILE, load_model, save_model
from attention_demo.tokenizer import BOS_ID
from attention_demo.training import TrainingArguments, parse_args

HIDDEN = UNIT_MODEL_SIZES["decoder_hidden_size"]
SCORE_PARAMETERS = {"decoder.attention.score.W_q.weight", "decoder.attention.score.W_k.weight"}
V_A = "decoder.attention.score.v_a.weight"
GATE_PARAMETERS = {"decoder.context_gate.weight", "decoder.context_gate.bias"}
# The decoder paths: all steps at once (Luong), and the two step-by-step ones.
DESIGNS = {
    "luong": {"summary_input": False},
    "bahdanau": {"summary_input": False, "attention_placement": "bahdanau"},
    "input_feeding": {"summary_input": False, "input_feeding": True},
}


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sources of 6, 3 and 9 tokens (</s> included), padded to 9, and a teacher-forced target batch of 5 steps."""
    src, mask = pad(random_sources([5, 2, 8], seed=3))
    tgt_in = torch.tensor([[BOS_ID] + row[:4] for row in random_sources([5, 5, 5], seed=4)])
    return src, mask, tgt_in


def _set_gate(model: Seq2Seq, bias: float) -> None:
    """A gate that ignores its input: ``g_t = sigmoid(bias)`` at every step."""
    with torch.no_grad():
        model.decoder.context_gate.weight.zero_()
        model.decoder.context_gate.bias.fill_(bias)


# --- attention_init="bahdanau" ---------------------------------------------------------------------------------------


def test_bahdanau_init_draws_the_appendix_b1_values(tiny_model: Callable[..., Seq2Seq]) -> None:
    """v_a = 0 and W_q, W_k ~ N(0, 0.001^2): every score is exactly 0, so attention starts uniform over the real
    positions (1/6, 1/3, 1/9 for sources of 6, 3, 9 tokens), and padding still gets 0."""
    model = tiny_model("additive", seed=1, attention_init="bahdanau")
    score = model.decoder.attention.score
    assert float(score.v_a.weight.detach().abs().max()) == 0.0
    for weight in (
        score.W_q.weight.detach(),
        score.W_k.weight.detach(),
    ):  # 128 draws each: the sample std is within 30% of 0.001
        assert 0.0007 < float(weight.std()) < 0.0013 and abs(float(weight.mean())) < 0.0003
    src, mask, tgt_in = _inputs()
    with torch.no_grad():
        out = model(src, mask, tgt_in)
    assert float(out.scores.abs().max()) == 0.0
    expected = (mask.float() / torch.tensor([[6.0], [3.0], [9.0]])).unsqueeze(1).expand(-1, tgt_in.size(1), -1)
    torch.testing.assert_close(out.attention, expected)


def test_bahdanau_init_first_moves_only_v_a(tiny_model: Callable[..., Seq2Seq]) -> None:
    """With v_a = 0 the score's gradient reaches v_a (dL/dv_a = sum dL/de tanh(...) != 0) but not W_q, W_k
    (dL/dW = dL/de v_a^T ... = 0): the first update sets the direction of v_a before the projections move."""
    model = tiny_model("additive", seed=1, attention_init="bahdanau").train()
    src, mask, tgt_in = _inputs()
    model(src, mask, tgt_in).logits.logsumexp(-1).sum().backward()
    parameters = dict(model.named_parameters())
    assert float(parameters[V_A].grad.abs().max()) > 0.0
    for name in SCORE_PARAMETERS:
        assert float(parameters[name].grad.abs().max()) == 0.0


def test_bahdanau_init_changes_no_other_parameter(tiny_model: Callable[..., Seq2Seq]) -> None:
    """Drawn after everything else: with the same seed every other parameter equals the default model's (a fair
    ablation), and the baseline, which has no score, is the default baseline."""
    default = tiny_model("additive", seed=2).state_dict()
    bahdanau = tiny_model("additive", seed=2, attention_init="bahdanau").state_dict()
    assert set(default) == set(bahdanau)
    for name in set(default) - SCORE_PARAMETERS - {V_A}:
        torch.testing.assert_close(bahdanau[name], default[name], rtol=0, atol=0)
    for name in SCORE_PARAMETERS | {V_A}:
        assert not torch.equal(bahdanau[name], default[name])
    baseline = tiny_model(None, seed=2, attention_init="bahdanau").state_dict()
    for name, value in tiny_model(None, seed=2).state_dict().items():
        torch.testing.assert_close(baseline[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("attention_type", ["dot", "general"])
def test_bahdanau_init_is_refused_for_other_scores(
    tiny_config: Callable[..., ModelConfig], attention_type: str
) -> None:
    with pytest.raises(
        ValueError, match=rf"^attention_init 'bahdanau' initialises the additive score .*'{attention_type}'"
    ):
        tiny_config(attention_type, attention_init="bahdanau")


def test_unknown_attention_init_is_a_clear_error(tiny_config: Callable[..., ModelConfig]) -> None:
    with pytest.raises(ValueError, match=r"^Unknown attention_init 'xavier'; choose one of default, bahdanau\.$"):
        tiny_config("additive", attention_init="xavier")


# --- context_gate ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_context_gate_computes_the_documented_equations(
    tiny_model: Callable[..., Seq2Seq], attention_type: str
) -> None:
    """Luong placement, written out: s_t = GRU(E y_{t-1}, s_{t-1}); c_t = Attention(s_t);
    g_t = sigmoid(w_g^T [s_t ; c_t] + b_g); logits = W_o tanh(W_c [s_t ; g_t c_t])."""
    model = tiny_model(attention_type, seed=6, context_gate=True, **DESIGNS["luong"])
    decoder = model.decoder
    with torch.no_grad():
        decoder.context_gate.weight.normal_()  # gates spread over (0, 1), not all near sigmoid(b_g)
    src, mask, tgt_in = _inputs()
    with torch.no_grad():
        memory = model.encode(src, mask)
        s0 = torch.tanh(decoder.init_hidden(memory.summary)).unsqueeze(0)
        states, _ = decoder.rnn(decoder.embedding(tgt_in), s0)
        context, weights, _ = decoder.attention(states, memory.attention)
        w_g, b_g = decoder.context_gate.weight[0], decoder.context_gate.bias
        gate = torch.sigmoid(states @ w_g[:HIDDEN] + context @ w_g[HIDDEN:] + b_g).unsqueeze(-1)  # (B, T, 1)
        logits = decoder.output(torch.tanh(decoder.combine_context(torch.cat([states, gate * context], dim=-1))))
        out = model(src, mask, tgt_in)
    torch.testing.assert_close(out.gate, gate)
    torch.testing.assert_close(out.logits, logits)
    torch.testing.assert_close(out.attention, weights)
    assert 0.01 < float(gate.min()) and float(gate.max()) < 0.99 and float(gate.std()) > 0.05  # varied, not saturated


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_open_gate_is_the_ungated_model_and_closed_gate_reads_nothing(
    tiny_model: Callable[..., Seq2Seq], attention_type: str, design: str
) -> None:
    """g_t = 1 gives exactly the model without a gate (built from the same seed: the gate is drawn last), on every
    decoder path; g_t = 0 makes the output independent of the annotations (the attention weights still change):
    the step takes nothing from the source, with no weight parked anywhere."""
    plain = tiny_model(attention_type, seed=7, **DESIGNS[design])
    gated = tiny_model(attention_type, seed=7, context_gate=True, **DESIGNS[design])
    src, mask, tgt_in = _inputs()
    _set_gate(gated, 50.0)
    open_gate = gated(src, mask, tgt_in)
    torch.testing.assert_close(open_gate.logits, plain(src, mask, tgt_in).logits)
    torch.testing.assert_close(open_gate.gate, torch.ones(3, tgt_in.size(1), 1))

    _set_gate(gated, -50.0)
    annotations, summary = gated.encoder(src, mask)
    before = gated.decoder(tgt_in, gated.decoder.memory(annotations, summary, mask))
    after = gated.decoder(tgt_in, gated.decoder.memory(2.0 * annotations, summary, mask))
    torch.testing.assert_close(after.logits, before.logits)
    assert not torch.allclose(after.attention, before.attention)
    ungated = plain.decoder(tgt_in, plain.decoder.memory(2.0 * annotations, summary, mask)).logits
    assert not torch.allclose(ungated, plain.decoder(tgt_in, plain.decoder.memory(annotations, summary, mask)).logits)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_context_gate_teacher_forced_equals_step_by_step_and_positions(
    tiny_model: Callable[..., Seq2Seq], attention_type: str, design: str
) -> None:
    """With the gate, all steps at once equal one step at a time with the state carried (translation decodes step by
    step), and ``positions=`` gives row n's logits, attention and gate at position positions[n]."""
    model = tiny_model(attention_type, seed=9, context_gate=True, **DESIGNS[design])
    with torch.no_grad():
        model.decoder.context_gate.weight.normal_()
    src, mask, tgt_in = _inputs()
    memory = model.encode(src, mask)
    full = model.decode(tgt_in, memory)
    hidden, steps = None, []
    for t in range(tgt_in.size(1)):
        step = model.decode(tgt_in[:, t : t + 1], memory, hidden)
        hidden = step.hidden
        steps.append(step)
    torch.testing.assert_close(full.logits, torch.cat([s.logits for s in steps], dim=1))
    torch.testing.assert_close(full.gate, torch.cat([s.gate for s in steps], dim=1))
    torch.testing.assert_close(full.attention, torch.cat([s.attention for s in steps], dim=1))

    positions = torch.tensor([4, 0, 2])
    rows = torch.arange(3)
    picked = model.decode(tgt_in, memory, positions=positions)
    assert picked.gate.shape == (3, 1, 1)
    torch.testing.assert_close(picked.logits, full.logits[rows, positions].unsqueeze(1))
    torch.testing.assert_close(picked.attention, full.attention[rows, positions].unsqueeze(1))
    torch.testing.assert_close(picked.gate, full.gate[rows, positions].unsqueeze(1))


def test_context_gate_leaves_the_baseline_unchanged(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The baseline has no attention context to gate: same parameters, same logits, no gate."""
    src, mask, tgt_in = _inputs()
    plain, gated = tiny_model(None, seed=3), tiny_model(None, seed=3, context_gate=True)
    assert [n for n, _ in gated.named_parameters()] == [n for n, _ in plain.named_parameters()]
    out = gated(src, mask, tgt_in)
    assert out.gate is None
    torch.testing.assert_close(out.logits, plain(src, mask, tgt_in).logits)


def test_context_gate_adds_only_w_g_and_b_g(tiny_model: Callable[..., Seq2Seq]) -> None:
    """The gate is one linear map [s_t ; c_t] -> 1 (hidden + context + 1 parameters), and every other parameter is
    the ungated model's (same seed)."""
    plain = tiny_model("additive", seed=4).state_dict()
    gated = tiny_model("additive", seed=4, context_gate=True).state_dict()
    assert set(gated) - set(plain) == GATE_PARAMETERS
    assert gated["decoder.context_gate.weight"].shape == (1, HIDDEN + 2 * UNIT_MODEL_SIZES["encoder_hidden_size"])
    for name, value in plain.items():
        torch.testing.assert_close(gated[name], value, rtol=0, atol=0)


# --- config.json and train.py ----------------------------------------------------------------------------------------


def test_remedies_round_trip_and_old_config_files_load_unchanged(
    tiny_model: Callable[..., Seq2Seq], tmp_path: Path
) -> None:
    """Both options are stored in config.json and come back; a config.json written before they existed (neither key)
    loads strictly as the default design."""
    model = tiny_model("additive", seed=5, attention_init="bahdanau", context_gate=True)
    save_model(model, tmp_path / "additive", dtype=torch.float32)
    loaded = load_model(tmp_path, "additive")
    assert (loaded.config.attention_init, loaded.config.context_gate) == ("bahdanau", True)
    src, mask, tgt_in = _inputs()
    torch.testing.assert_close(loaded(src, mask, tgt_in).logits, model(src, mask, tgt_in).logits)

    save_model(tiny_model("additive", seed=5), tmp_path / "old", dtype=torch.float32)
    path = tmp_path / "old" / CONFIG_FILE
    config = json.loads(path.read_text())
    del config["attention_init"], config["context_gate"]
    path.write_text(json.dumps(config))
    old = load_model(tmp_path, "old")
    assert (old.config.attention_init, old.config.context_gate, old.decoder.context_gate) == ("default", False, None)


def test_train_arguments_for_the_remedies(capsys: pytest.CaptureFixture[str]) -> None:
    """Defaults change nothing; --attention_init bahdanau is refused with dot or general among the models to train
    (one usage line, exit status 2) before anything is loaded."""
    assert (TrainingArguments().attention_init, TrainingArguments().context_gate) == ("default", False)
    args = parse_args(["--attention", "additive", "baseline", "--attention_init", "bahdanau", "--context_gate"])
    assert (args.attention_init, args.context_gate) == ("bahdanau", True)
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--attention_init", "bahdanau"])  # the default --attention trains general and dot too
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert "--attention_init bahdanau initialises the additive score only, and --attention names general, dot" in err


def test_train_py_threads_the_remedies_into_the_model(run_tiny_training: Callable[..., dict], tmp_path: Path) -> None:
    """A tiny run with both flags writes a model built with them (config.json and the gate's weights)."""
    run_tiny_training(
        tmp_path, "--attention", "additive", "--attention_init", "bahdanau", "--context_gate", "--num_train_epochs", "1"
    )
    model = load_model(tmp_path, "additive")
    assert (model.config.attention_init, model.config.context_gate) == ("bahdanau", True)
    assert model.decoder.context_gate is not None
