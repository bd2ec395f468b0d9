"""Tests of attention_demo.evidence: saliency, occlusion, agreement, surgery, coverage and the corpus command.

Every number is checked against an independent computation through the public functions only (a plain
teacher-forced forward pass, autograd one output position at a time, hand-computed values), so the tests hold for
any implementation of the same definitions.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, random_sources, reference_greedy, teacher_forced

from attention_demo import evidence
from attention_demo.data import load_parallel_data
from attention_demo.decoding import greedy_search, translate_ids
from attention_demo.evidence import attribution_methods
from attention_demo.model import Seq2Seq
from attention_demo.model_repo import METRICS_FILE, read_json, write_json_atomic
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from attention_demo.translate import Translator

KEY_TOKEN = 7  # the only source token with a non-zero embedding in one_position_model
MODEL_TYPES = [*ALL_ATTENTION_TYPES, None]


def one_position_model(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> Seq2Seq:
    """A model whose source embeddings are all zero except KEY_TOKEN's: only that position carries input."""
    model = tiny_model(attention_type)
    with torch.no_grad():
        weight = model.encoder.embedding.weight
        key = weight[KEY_TOKEN].clone()
        weight.zero_()
        weight[KEY_TOKEN] = key * 3.0
    return model


def greedy_tokens(model: Seq2Seq, source: list[int]) -> list[int]:
    src = torch.tensor([source])
    return greedy_search(model, src, torch.ones_like(src, dtype=torch.bool))[0].tokens


def output_cap(source: list[int]) -> int:
    """The greedy length cap of a source decoded alone (2 * its length + 10)."""
    return 2 * len(source) + 10


# --- saliency ---------------------------------------------------------------------------------------------------------


def saliency_by_hand(model: Seq2Seq, source: list[int], target: list[int]) -> np.ndarray:
    """``(T, S)`` ||x_i * d log p(y_t) / d x_i||, one output position per forward and backward pass."""
    rows, captured = [], []

    def leaf(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        captured.append(output.detach().requires_grad_(True))  # the embeddings x, as a leaf to differentiate by
        return captured[-1]

    for t in range(len(target)):
        captured.clear()
        handle = model.encoder.embedding.register_forward_hook(leaf)
        try:
            src = torch.tensor([source])
            tgt_in = torch.tensor([[BOS_ID, *target[:-1]]])
            logits = model(src, torch.ones_like(src, dtype=torch.bool), tgt_in).logits[0]  # (T, V)
            log_p = torch.log_softmax(logits.double(), dim=-1)[t, target[t]]
            (grad,) = torch.autograd.grad(log_p, captured[0])
        finally:
            handle.remove()
        rows.append((grad * captured[0])[0].norm(dim=-1).detach().double().numpy())
    return np.stack(rows)


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_saliency_equals_gradient_times_input_per_output_word(tiny_model, attention_type: str | None) -> None:
    """Raw saliency is ||x_i * grad_x_i log p(y_t)|| for every (t, i), computed here one output word at a time (18
    output words, more than one batch of rows); normalised rows are the raw rows divided by their sums."""
    model = tiny_model(attention_type, seed=5)
    source = random_sources([7], seed=2)[0]
    target = [4 + (3 * t) % 20 for t in range(17)] + [EOS_ID]
    expected = saliency_by_hand(model, source, target)
    raw = evidence.saliency(model, source, target, normalise=False)
    np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-7)
    assert (expected > 0).all()
    normalised = evidence.saliency(model, source, target)
    np.testing.assert_allclose(normalised, expected / expected.sum(axis=1, keepdims=True), rtol=1e-4)


@pytest.mark.parametrize("attention_type", ["additive", None])
def test_saliency_and_occlusion_peak_at_the_only_informative_source_position(tiny_model, attention_type) -> None:
    model = one_position_model(tiny_model, attention_type)
    source = [5, 9, KEY_TOKEN, 11, 12, 3]  # KEY_TOKEN at position 2
    target = [4, 8, 10, 3]
    sal = evidence.saliency(model, source, target)
    assert sal.shape == (len(target), len(source))
    np.testing.assert_allclose(sal.sum(axis=1), 1.0)
    assert (sal.argmax(axis=1) == 2).all()
    np.testing.assert_allclose(sal[:, 2], 1.0)  # grad x input is exactly zero where the input is zero
    occ = evidence.occlusion(model, source, target)
    assert occ.shape == (len(target), len(source))
    assert (np.abs(occ).argmax(axis=1) == 2).all()
    np.testing.assert_allclose(np.delete(occ, 2, axis=1), 0.0, atol=1e-6)  # <unk> is zero too: nothing changes


def test_saliency_works_inside_inference_mode(tiny_model) -> None:
    model = tiny_model("dot")
    with torch.inference_mode():
        sal = evidence.saliency(model, [5, 6, 7, 3], [4, 3])
    np.testing.assert_allclose(sal, evidence.saliency(model, [5, 6, 7, 3], [4, 3]))
    np.testing.assert_allclose(sal.sum(axis=1), 1.0)


# Decoder designs whose steps feed each other (the first two) or that read the source differently (the others).
DECODER_DESIGNS = {
    "bahdanau": {"attention_placement": "bahdanau"},
    "input_feeding": {"input_feeding": True},
    "no_summary_input": {"summary_input": False},
    "null_slot": {"null_slot": True},
}


@pytest.mark.parametrize("design", DECODER_DESIGNS, ids=str)
def test_saliency_of_every_decoder_design_equals_gradient_times_input(tiny_model, design, monkeypatch) -> None:
    """An attribution pass scores each row at its own output position only; for every decoder design the result is
    still grad x input of the full teacher-forced pass, also with the rows split over many passes."""
    model = tiny_model("general", seed=6, **DECODER_DESIGNS[design])
    source = random_sources([6], seed=3)[0]
    target = [9, 4, 17, 12, 6, EOS_ID]
    expected = saliency_by_hand(model, source, target)
    np.testing.assert_allclose(evidence.saliency(model, source, target, normalise=False), expected, rtol=1e-4)
    monkeypatch.setattr(attribution_methods, "PASS_BUDGET", 40)  # rows of 7 + 1 to 7 + 6 positions: two passes
    np.testing.assert_allclose(evidence.saliency(model, source, target, normalise=False), expected, rtol=1e-4)


# --- Integrated Gradients and the choice of method ----------------------------------------------------------------


def integrated_gradients_by_hand(model: Seq2Seq, source: list[int], target: list[int], n_steps: int) -> np.ndarray:
    """``(T, S)`` Integrated Gradients from the zero embedding, written out: Gauss-Legendre nodes ``a_j`` and weights
    ``w_j`` on [0, 1], ``ig[t, i] = sum_e x_ie * sum_j w_j d log p(y_t | a_j x) / d x_ie``, one output position and
    one node per forward and backward pass."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    alphas, weights = (nodes + 1) / 2, weights / 2  # from [-1, 1] to [0, 1]
    src = torch.tensor([source])
    with torch.no_grad():
        x = model.encoder.embedding(src)  # (1, S, E)
    rows = []
    for t in range(len(target)):
        total = torch.zeros_like(x)
        for alpha, weight in zip(alphas, weights, strict=True):
            point = (alpha * x).requires_grad_(True)
            handle = model.encoder.embedding.register_forward_hook(lambda module, inputs, output, p=point: p)
            try:
                tgt_in = torch.tensor([[BOS_ID, *target[:-1]]])
                logits = model(src, torch.ones_like(src, dtype=torch.bool), tgt_in).logits[0]
                (grad,) = torch.autograd.grad(torch.log_softmax(logits.double(), dim=-1)[t, target[t]], point)
            finally:
                handle.remove()
            total += weight * grad
        rows.append((x * total)[0].sum(dim=-1).double().numpy())
    return np.stack(rows)


@pytest.mark.parametrize("attention_type", [*MODEL_TYPES, "bahdanau"])
def test_integrated_gradients_equal_the_path_integral_written_out(tiny_model, attention_type: str | None) -> None:
    """integrated_gradients is the Gauss-Legendre path integral from the zero embedding (the <pad> embedding) to the
    source embeddings, summed over the embedding: signed, and checked here against autograd node by node."""
    design = DECODER_DESIGNS["bahdanau"] if attention_type == "bahdanau" else {}
    model = tiny_model("additive" if attention_type == "bahdanau" else attention_type, seed=7, **design)
    assert not model.encoder.embedding.weight[PAD_ID].any()  # the baseline x' = 0 is the <pad> embedding
    source = random_sources([5], seed=8)[0]
    target = [11, 6, 20, EOS_ID]
    expected = integrated_gradients_by_hand(model, source, target, n_steps=6)
    found = evidence.integrated_gradients(model, source, target, n_steps=6, max_steps=6)  # exactly 6 points
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-7)
    assert (expected < 0).any() and (expected > 0).any()  # signed, unlike grad x input
    np.testing.assert_allclose(evidence.attribution(model, source, target, "integrated_gradients"),
                               evidence.integrated_gradients(model, source, target), rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_integrated_gradients_are_complete(tiny_model, attention_type: str | None) -> None:
    """Completeness: a row sums to log p(y_t | x) - log p(y_t | x'), x' the same source as <pad> pieces (computed
    here by two teacher-forced passes); the error stays under COMPLETENESS_TOLERANCE at IG_STEPS, and the reported
    gap and captum's convergence delta are exactly that difference and that error."""
    model = tiny_model(attention_type, seed=9)
    for source, target in zip(
        random_sources([4, 11], seed=5), ([6, 19, EOS_ID], [8, 8, 13, 5, 22, 7, EOS_ID]), strict=True
    ):
        ig, check = evidence.integrated_gradients(model, source, target, return_completeness=True)
        gap = forced_logprobs(model, source, target) - forced_logprobs(model, [PAD_ID] * len(source), target)
        np.testing.assert_allclose(check.gap, gap, atol=1e-5)
        np.testing.assert_allclose(check.delta, ig.sum(axis=1) - gap, atol=1e-5)
        relative = np.abs(ig.sum(axis=1) - gap) / np.abs(gap)
        assert (relative < evidence.COMPLETENESS_TOLERANCE).all(), relative
        np.testing.assert_allclose(check.relative_error, relative, atol=1e-4)  # float32 noise apart
    assert (check.steps == evidence.IG_STEPS).all()  # enough for these rows: none was computed again
    # Too few steps break completeness: the check is not vacuous.
    _, coarse = evidence.integrated_gradients(model, source, target, n_steps=1, return_completeness=True, max_steps=1)
    assert coarse.relative_error.max() > 10 * check.relative_error.max()
    assert (coarse.steps == 1).all()  # max_steps=1: no row was computed again


def test_integrated_gradients_add_steps_to_a_row_until_it_is_complete(tiny_model) -> None:
    """Started with 1 quadrature point, every row that misses COMPLETENESS_TOLERANCE is computed again with 2, 4,
    ... points until it meets it: each row then equals the path integral written out with its own point count."""
    model = tiny_model("additive", seed=9)
    source, target = random_sources([6], seed=2)[0], [8, 8, 13, 5, EOS_ID]
    ig, check = evidence.integrated_gradients(model, source, target, n_steps=1, return_completeness=True)
    assert (check.relative_error < evidence.COMPLETENESS_TOLERANCE).all()
    assert len(set(check.steps.tolist())) > 1 and check.steps.max() <= evidence.IG_MAX_STEPS
    for t, points in enumerate(check.steps):
        np.testing.assert_allclose(ig[t], integrated_gradients_by_hand(model, source, target, int(points))[t],
                                   rtol=1e-4, atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("name", ["additive", "baseline"])
def test_integrated_gradients_are_complete_on_a_bundled_model(name: str) -> None:
    """The real models: a bundled model (read only), its greedy translations of four test sentences from short to
    long; every output step's completeness error stays under 5%."""
    from attention_demo.data import source_ids
    from attention_demo.decoding import translate_ids
    from attention_demo.model_repo import load_model, load_tokenizers, read_test_examples

    folder = Path(__file__).resolve().parent.parent / "models" / "multi30k-de-en"
    model = load_model(folder, name)
    tokenizer, _ = load_tokenizers(folder, "de", "en")
    texts = sorted((e["source"] for e in read_test_examples(folder, "de", "en")), key=len)
    sources = [source_ids(tokenizer, texts[round(i * (len(texts) - 1) / 3)]) for i in range(4)]
    errors = []
    for source, (hypothesis,) in zip(sources, translate_ids(model, sources), strict=True):
        ig, check = evidence.integrated_gradients(model, source, hypothesis.tokens, return_completeness=True)
        gap = evidence.token_logprobs(model, source, hypothesis.tokens) - evidence.token_logprobs(
            model, [PAD_ID] * len(source), hypothesis.tokens)  # fmt: skip
        errors += (np.abs(ig.sum(axis=1) - gap) / np.abs(gap)).tolist()
        np.testing.assert_allclose(check.gap, gap, atol=1e-4)
    assert len(errors) > 30 and max(errors) < evidence.COMPLETENESS_TOLERANCE, max(errors)


def isolated_position_model(tiny_model: Callable[..., Seq2Seq], attention_type: str | None) -> Seq2Seq:
    """A model whose output depends on the source piece KEY_TOKEN alone, although every piece's embedding is
    non-zero: the encoder reads only the first half of the embedding, which is zero for every piece but KEY_TOKEN;
    its GRUs have no recurrent weights and a shut update gate, so annotation ``h_j`` is a function of piece ``j``
    alone (and the summary of the first and the last piece)."""
    model = tiny_model(attention_type, seed=3)
    half = model.config.embedding_size // 2
    rnn = model.encoder.rnn
    with torch.no_grad():
        weight = model.encoder.embedding.weight  # (V, E)
        key = weight[KEY_TOKEN, :half].clone()
        weight[:, :half] = 0.0
        weight[KEY_TOKEN, :half] = 3.0 * key
        weight[PAD_ID] = 0.0
        for suffix in ("", "_reverse"):
            getattr(rnn, f"weight_ih_l0{suffix}")[:, half:] = 0.0  # the second half is never read
            getattr(rnn, f"weight_hh_l0{suffix}").zero_()  # no recurrence
            getattr(rnn, f"bias_ih_l0{suffix}")[rnn.hidden_size : 2 * rnn.hidden_size] = -1e4  # update gate 0
    return model


@pytest.mark.parametrize("method", evidence.ATTRIBUTION_METHODS)
@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_every_method_ranks_the_only_informative_position_first(tiny_model, attention_type, method: str) -> None:
    """Only KEY_TOKEN's position moves the output (checked first: changing any other piece changes no
    log-probability); every method puts it first at every output step and gives the others nothing. The baseline
    reads the source only through its summary, so its key sits at the first piece, the others' in the middle."""
    model = isolated_position_model(tiny_model, attention_type)
    key = 0 if attention_type is None else 2
    source = [5, 9, 11, 12, 3]
    source[key] = KEY_TOKEN
    target = [4, 8, 10, 3]
    original = forced_logprobs(model, source, target)
    for i in range(len(source)):
        changed = forced_logprobs(model, source[:i] + [15] + source[i + 1 :], target)
        assert np.allclose(changed, original, atol=1e-6) == (i != key), i
    found = evidence.attribution(model, source, target, method)
    assert found.shape == (len(target), len(source))
    assert (np.abs(found).argmax(axis=1) == key).all()
    assert (np.abs(found[:, key]) > 1e-4).all()
    np.testing.assert_allclose(np.delete(found, key, axis=1), 0.0, atol=1e-6)


@pytest.mark.parametrize("method", evidence.ATTRIBUTION_METHODS)
def test_attributions_of_a_batch_equal_those_of_each_sentence(tiny_model, method: str, monkeypatch) -> None:
    """Sentences of different lengths attributed together (several passes; occlusion pads) get exactly what each
    gets alone; an empty hypothesis gets an empty matrix."""
    model = tiny_model("additive", seed=2)
    sources = random_sources([3, 9, 5, 6], seed=4)
    targets = [[4, 9, EOS_ID], [7, 7, 12, 5, 8, 20, EOS_ID], [], [16, EOS_ID]]
    alone = [evidence.attribution(model, s, t, method) for s, t in zip(sources, targets, strict=True)]
    # 12 rows of up to 16 positions: gradient x input in 5 passes, Integrated Gradients one row a pass
    monkeypatch.setattr(attribution_methods, "PASS_BUDGET", 48)
    monkeypatch.setattr(attribution_methods, "LOGIT_BUDGET", 20)  # occlusion: one or two sentences per pass
    together = evidence.attributions(model, sources, targets, method)
    assert [m.shape for m in together] == [(len(t), len(s)) for s, t in zip(sources, targets, strict=True)]
    for one, many in zip(alone, together, strict=True):
        np.testing.assert_allclose(many, one, rtol=1e-4, atol=1e-6)


def test_gradient_passes_hold_sources_of_one_length_and_every_pair_once() -> None:
    """The batches of the gradient methods never pad a source (so the encoder runs unpacked), stay within the budget
    unless a single row exceeds it, and cover every (sentence, position) pair exactly once."""
    sources = random_sources([3, 9, 5, 3, 5, 9, 9], seed=1)
    targets = [list(range(4, 4 + n)) for n in (2, 7, 4, 1, 6, 3, 5)]
    seen = []
    pairs = attribution_methods._all_pairs(targets)
    for rows in attribution_methods._row_batches(sources, targets, pairs, 40, torch.device("cpu")):
        assert bool(rows.src_mask.all())
        assert len(rows.sentence) == 1 or len(rows.sentence) * (rows.src.size(1) + rows.tgt_in.size(1)) <= 40
        seen += list(zip(rows.sentence, rows.position.tolist(), strict=True))
    assert sorted(seen) == sorted(pairs)


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_each_method_name_gives_that_methods_attribution(tiny_model, attention_type: str | None) -> None:
    """``attribution(..., method)`` is exactly the function of that name (saliency's shares, Integrated Gradients in
    nats, occlusion's drops), and ``attributions`` passes Integrated Gradients' starting step count on."""
    model = tiny_model(attention_type, seed=3)
    source, target = random_sources([7], seed=8)[0], [9, 4, 15, EOS_ID]
    expected = {
        "gradient_x_input": evidence.saliency(model, source, target),
        "integrated_gradients": evidence.integrated_gradients(model, source, target),
        "occlusion": evidence.occlusion(model, source, target),
    }
    assert set(expected) == set(evidence.ATTRIBUTION_METHODS)
    for method, matrix in expected.items():
        np.testing.assert_allclose(evidence.attribution(model, source, target, method), matrix, rtol=1e-5, atol=1e-7)
    # 3, 6, 12, ... points never meet the default start (16): a dropped n_steps would show.
    started_at_3 = evidence.integrated_gradients(model, source, target, n_steps=3)
    batched = evidence.attributions(model, [source], [target], "integrated_gradients", n_steps=3)[0]
    np.testing.assert_allclose(batched, started_at_3, rtol=1e-6, atol=1e-8)
    assert not np.allclose(started_at_3, expected["integrated_gradients"], rtol=1e-6, atol=1e-8)


def test_attribution_refuses_an_unknown_method(tiny_model) -> None:
    with pytest.raises(ValueError, match="Unknown attribution method 'lime'; choose one of gradient_x_input, "):
        evidence.attribution(tiny_model("dot"), [5, 3], [4, 3], "lime")
    saliency = evidence.attribution(tiny_model("dot"), [5, 6, 3], [4, 3], "gradient_x_input")
    np.testing.assert_allclose(saliency, evidence.saliency(tiny_model("dot"), [5, 6, 3], [4, 3]))


# --- token log-probabilities and occlusion -------------------------------------------------------------------------


def forced_logprobs(model: Seq2Seq, source: list[int], target: list[int]) -> np.ndarray:
    """``(T,)`` log p(y_t | source, y_<t) from one teacher-forced forward pass."""
    logp, _ = teacher_forced(model, source, target)
    return logp[torch.arange(len(target)), target].numpy()


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_token_logprobs_equal_a_teacher_forced_forward_pass(tiny_model, attention_type: str | None) -> None:
    """token_logprobs[t] is log_softmax(logits)[t, y_t] of one teacher-forced pass, for every output word."""
    model = tiny_model(attention_type, seed=1)
    for source, target in (([5, 6, 7, 3], [4, 9, 3]), (random_sources([9], seed=4)[0], [12, 4, 4, 20, 3])):
        logp = evidence.token_logprobs(model, source, target)
        np.testing.assert_allclose(logp, forced_logprobs(model, source, target), rtol=1e-5, atol=1e-6)
        assert logp.shape == (len(target),) and (logp < 0).all()


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_occlusion_is_the_drop_in_log_probability(tiny_model, attention_type: str | None) -> None:
    """occ[t, i] = log p(y_t | x) - log p(y_t | x with piece i replaced by <unk>), for every piece, </s> included,
    with 18 source pieces (more than one batch of occluded copies); ``mask_id`` chooses the replacement."""
    model = tiny_model(attention_type, seed=2)
    source = random_sources([17], seed=6)[0]
    target = [8, 5, 13, 3]
    original = forced_logprobs(model, source, target)
    for mask_id in (UNK_ID, 4):
        expected = np.stack(
            [original - forced_logprobs(model, source[:i] + [mask_id] + source[i + 1 :], target) for i in
             range(len(source))], axis=1,
        )  # fmt: skip
        found = evidence.occlusion(model, source, target) if mask_id == UNK_ID else evidence.occlusion(
            model, source, target, mask_id=mask_id)  # fmt: skip
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)
        assert (np.abs(expected) > 1e-6).any()


@pytest.mark.parametrize("attention_type", ["dot", None])
def test_occlusion_sign_of_a_constructed_model(tiny_model, attention_type: str | None) -> None:
    """Only KEY_TOKEN carries input, so replacing it by <unk> moves probability between words: the word whose
    probability falls most without it (one must fall, since both distributions sum to 1) has positive occlusion at
    the key, the word whose probability rises most has negative occlusion, and no other piece matters."""
    model = one_position_model(tiny_model, attention_type)
    source = [5, KEY_TOKEN, 9, 3]
    with_key, _ = teacher_forced(model, source, [EOS_ID])
    without_key, _ = teacher_forced(model, [5, UNK_ID, 9, 3], [EOS_ID])
    change = (with_key[0] - without_key[0]).numpy()  # (V,) log p(w | x) - log p(w | x without the key)
    change[[PAD_ID, BOS_ID]] = np.nan
    supported, opposed = int(np.nanargmax(change)), int(np.nanargmin(change))
    assert change[supported] > 0.01 and change[opposed] < -0.01
    for word, sign in ((supported, 1.0), (opposed, -1.0)):
        occ = evidence.occlusion(model, source, [word])
        assert np.sign(occ[0, 1]) == sign
        assert occ[0, 1] == pytest.approx(change[word], rel=1e-4)
        np.testing.assert_allclose(occ[0, [0, 2, 3]], 0.0, atol=1e-6)


# --- agreement --------------------------------------------------------------------------------------------------------


def test_agreement_of_identical_and_reversed_rows() -> None:
    row = np.array([0.1, 0.6, 0.3])
    same = evidence.agreement(row, row)
    assert same == {"kendall_tau": 1.0, "top1": 1.0, "jsd": 0.0}
    reversed_ = evidence.agreement(row, -row)
    assert reversed_["kendall_tau"] == -1.0 and reversed_["top1"] == 0.0
    disjoint = evidence.agreement([1.0, 0.0], [0.0, 1.0])
    assert disjoint["jsd"] == pytest.approx(1.0)
    assert np.isnan(evidence.kendall_tau([1.0, 1.0], [0.0, 1.0]))
    assert np.isnan(evidence.kendall_tau([1.0], [2.0]))
    assert evidence.kendall_tau([1.0, 2.0], [0.5, 3.0]) == 1.0  # two items: one pair, already a ranking
    assert evidence.kendall_tau([1.0, 2.0], [3.0, 0.5]) == -1.0
    # tau-b with ties, as scipy.stats.kendalltau([1, 2, 2, 3], [1, 3, 2, 2]) gives it: 0.4
    assert evidence.kendall_tau([1, 2, 2, 3], [1, 3, 2, 2]) == pytest.approx(0.4)


def test_kendall_tau_by_hand() -> None:
    """tau-b = (concordant - discordant) / sqrt((pairs - ties_x)(pairs - ties_y)), counted here pair by pair."""
    x, y = [0.5, 0.1, 0.1, 0.9, 0.3], [2.0, 1.0, 3.0, 3.0, 0.0]
    concordant = discordant = ties_x = ties_y = 0
    pairs = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            pairs += 1
            product = (x[i] - x[j]) * (y[i] - y[j])
            concordant += product > 0
            discordant += product < 0
            ties_x += x[i] == x[j]
            ties_y += y[i] == y[j]
    expected = (concordant - discordant) / math.sqrt((pairs - ties_x) * (pairs - ties_y))
    assert evidence.kendall_tau(x, y) == pytest.approx(expected)
    assert expected == pytest.approx(2 / 9)  # 5 concordant, 3 discordant, one tie in each row: 2 / sqrt(9 * 9)


def test_jensen_shannon_by_hand() -> None:
    """JSD in bits of [1, 0] and [0.5, 0.5], written out: the mixture is [0.75, 0.25]."""
    kl_p = math.log2(1 / 0.75)
    kl_q = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    assert evidence.jensen_shannon([1.0, 0.0], [0.5, 0.5]) == pytest.approx(0.5 * kl_p + 0.5 * kl_q)
    assert evidence.jensen_shannon([0.2, 0.8], [0.8, 0.2]) == pytest.approx(evidence.jensen_shannon([8, 2], [2, 8]))
    # Rows are clipped at 0 and normalised first (occlusion rows can be negative):
    assert evidence.jensen_shannon([-3.0, 2.0, 2.0], [0.0, 0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    assert evidence.agreement([0.0, 0.7, 0.3], [5.0, -1.0, 1.0])["top1"] == 0.0
    assert evidence.agreement([0.2, 0.7, 0.1], [-5.0, -1.0, -2.0])["top1"] == 1.0  # argmax of negative values


def test_per_step_agreement_compares_row_t_with_row_t() -> None:
    """One dict per output step, from row t of each matrix: identical rows agree fully, reversed rankings give
    tau = -1 and no top-1 match, disjoint one-hot rows have JSD 1 bit; mismatched shapes are refused."""
    attention = np.array([[0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    other = np.array([[0.1, 0.6, 0.3], [0.5, 0.3, 0.2], [0.0, 0.0, 1.0]])
    rows = evidence.per_step_agreement(attention, other)
    assert len(rows) == 3
    assert rows[0] == {"kendall_tau": 1.0, "top1": 1.0, "jsd": 0.0}
    assert rows[1]["kendall_tau"] == -1.0 and rows[1]["top1"] == 0.0
    assert rows[2]["top1"] == 0.0 and rows[2]["jsd"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        evidence.per_step_agreement(attention, other[:, :2])
    assert evidence.per_step_agreement(np.zeros((0, 4)), np.zeros((0, 4))) == []


def test_as_distribution_clips_and_normalises() -> None:
    np.testing.assert_allclose(evidence.as_distribution([-1.0, 1.0, 3.0]), [0.0, 0.25, 0.75])
    np.testing.assert_allclose(evidence.as_distribution([-1.0, 0.0, -2.0, 0.0]), [0.25] * 4)
    np.testing.assert_allclose(evidence.as_distribution([-3.0]), [1.0])  # one position: all the mass


# --- attention surgery ----------------------------------------------------------------------------------------------


def context_only_model(tiny_model: Callable[..., Seq2Seq], attention_type: str, seed: int = 3) -> Seq2Seq:
    """An attention model whose next word depends on the context vector alone: the decoder state's columns of
    ``W_c`` are zero, so ``p(y_t) = softmax(W_o tanh(W_c c_t + b_c) + b_o)``."""
    model = tiny_model(attention_type, seed=seed)
    hidden = model.config.decoder_hidden_size
    with torch.no_grad():
        model.decoder.combine_context.weight[:, :hidden] = 0.0
    return model


def word_from_weights(model: Seq2Seq, source: list[int], weights: np.ndarray) -> tuple[int, float]:
    """For a context-only model: the greedy word and its log-probability when ``c = sum_j weights_j h_j``, from the
    encoder annotations and the two output layers (no decoder state involved)."""
    src = torch.tensor([source])
    with torch.no_grad():
        annotations, _ = model.encoder(src, torch.ones_like(src, dtype=torch.bool))  # (1, S, d)
        context = torch.tensor(weights, dtype=annotations.dtype) @ annotations[0]  # (d,)
        layer = model.decoder.combine_context
        hidden = model.config.decoder_hidden_size
        attentional = torch.tanh(layer.weight[:, hidden:] @ context + layer.bias)
        logp = torch.log_softmax(model.decoder.output(attentional).double(), dim=-1)
    logp[[PAD_ID, BOS_ID]] = float("-inf")
    word = int(logp.argmax())
    return word, float(logp[word])


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_surgery_changes_the_next_word_as_the_new_weights_dictate(tiny_model, attention_type: str) -> None:
    """Putting all weight on one source word changes the word at ``step`` to the one that word's annotation
    predicts (computed here from the encoder and the output layers alone); the prefix stays, and after ``step``
    the output is plain greedy decoding of the new prefix."""
    model = context_only_model(tiny_model, attention_type)
    source = random_sources([6], seed=1)[0]
    tokens = greedy_tokens(model, source)
    step = 1
    assert len(tokens) > step + 1
    changed = 0
    for index in range(len(source)):
        expected_word, expected_logp = word_from_weights(model, source, np.eye(len(source))[index])
        result = evidence.surgery(model, source, tokens, step, "one_word", source_index=index)
        assert result.tokens[:step] == tokens[:step]
        assert result.tokens[step] == expected_word
        assert result.token_logprobs[step] == pytest.approx(expected_logp, abs=1e-4)
        assert result.tokens == reference_greedy(model, source, output_cap(source), [*tokens[:step], expected_word])
        changed += expected_word != tokens[step]
    assert changed > 0, "the constructed model should make some one-word surgery change the next word"
    for mode in ("uniform", "permuted"):
        result = evidence.surgery(model, source, tokens, step, mode, seed=4)
        assert result.tokens[step] == word_from_weights(model, source, result.weights)[0]


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_surgery_with_the_models_own_weights_reproduces_greedy_exactly(tiny_model, attention_type) -> None:
    """The control: with its own weights the model's output is the greedy translation; the reported original
    weights and log-probabilities are the model's teacher-forced ones."""
    model = tiny_model(attention_type, seed=3)
    for source in random_sources([4, 7], seed=1):
        tokens = greedy_tokens(model, source)
        logp, attention = teacher_forced(model, source, tokens)
        forced = logp[torch.arange(len(tokens)), tokens].numpy()
        for step in range(0, len(tokens), max(1, len(tokens) // 4)):
            result = evidence.surgery(model, source, tokens, step, "own")
            assert result.tokens == tokens
            np.testing.assert_allclose(result.original_logprobs, forced, atol=1e-5)
            np.testing.assert_allclose(result.token_logprobs, forced, atol=1e-5)
            np.testing.assert_allclose(result.original_weights, attention[step].numpy(), atol=1e-6)
            np.testing.assert_allclose(result.weights, attention[step].numpy(), atol=1e-6)
            assert result.logprob == pytest.approx(float(forced.sum()), abs=1e-4)
            assert result.original_logprob == pytest.approx(float(forced.sum()), abs=1e-4)


def test_surgery_of_a_non_greedy_hypothesis_reports_its_teacher_forced_original(tiny_model) -> None:
    """The original side is the given hypothesis teacher-forced (not re-decoded), even where greedy would differ."""
    model = tiny_model("general", seed=2)
    source = random_sources([5], seed=3)[0]
    tokens = [9, 9, 9, 9, EOS_ID]
    assert greedy_tokens(model, source) != tokens
    result = evidence.surgery(model, source, tokens, 2, "uniform")
    assert result.original_tokens == tokens
    np.testing.assert_allclose(result.original_logprobs, forced_logprobs(model, source, tokens), atol=1e-5)
    _, attention = teacher_forced(model, source, tokens)
    np.testing.assert_allclose(result.original_weights, attention[2].numpy(), atol=1e-6)
    assert result.tokens[:2] == tokens[:2]
    np.testing.assert_allclose(result.token_logprobs[:2], forced_logprobs(model, source, tokens)[:2], atol=1e-5)
    capped = [9, 9, 9]  # a hypothesis cut by the length cap, without </s>: its original side is just these tokens
    result = evidence.surgery(model, source, capped, 1, "uniform")
    assert result.original_tokens == capped and len(result.original_logprobs) == 3


def test_uniform_one_word_and_permuted_surgery_weights(tiny_model) -> None:
    model = tiny_model("additive")
    source = random_sources([6])[0]
    size = len(source)
    tokens = greedy_tokens(model, source)
    uniform = evidence.surgery(model, source, tokens, 1, "uniform")
    np.testing.assert_allclose(uniform.weights, np.full(size, 1.0 / size))
    assert (uniform.mode, uniform.step) == ("uniform", 1)
    for index in (0, size - 1):
        one = evidence.surgery(model, source, tokens, 0, "one_word", source_index=index)
        np.testing.assert_array_equal(one.weights, np.eye(size)[index])
    orders = set()
    for seed in range(4):
        permuted = evidence.surgery(model, source, tokens, 0, "permuted", seed=seed)
        np.testing.assert_allclose(np.sort(permuted.weights), np.sort(permuted.original_weights))
        again = evidence.surgery(model, source, tokens, 0, "permuted", seed=seed)
        np.testing.assert_array_equal(again.weights, permuted.weights)  # the seed fixes the order
        orders.add(tuple(permuted.weights.round(6)))
    assert len(orders) > 1  # and other seeds give other orders
    default = evidence.surgery(model, source, tokens, 0, "permuted")
    np.testing.assert_array_equal(
        default.weights, evidence.surgery(model, source, tokens, 0, "permuted", seed=0).weights
    )
    own = torch.tensor(permuted.original_weights)
    np.testing.assert_array_equal(evidence.surgery_weights(own, "permuted").numpy(), default.weights)
    np.testing.assert_array_equal(evidence.surgery_weights(own, "own").numpy(), own.numpy())
    with pytest.raises(
        ValueError, match=r"^Unknown surgery mode 'x'; choose one of own, uniform, one_word, permuted\.$"
    ):
        evidence.surgery_weights(own, "x")


def test_surgery_refuses_impossible_requests_with_clear_errors(tiny_model) -> None:
    model = tiny_model("additive")
    source = random_sources([6])[0]
    tokens = greedy_tokens(model, source)
    with pytest.raises(ValueError, match=r"source_index in 0\.\.6, got None"):
        evidence.surgery(model, source, tokens, 0, "one_word")
    for index in (-1, len(source)):
        with pytest.raises(ValueError, match=rf"source_index in 0\.\.6, got {index}"):
            evidence.surgery(model, source, tokens, 0, "one_word", source_index=index)
    with pytest.raises(ValueError, match="Unknown surgery mode 'shuffle'; choose one of own, uniform"):
        evidence.surgery(model, source, tokens, 0, "shuffle")
    for step in (-1, len(tokens)):
        with pytest.raises(ValueError, match=rf"step must be in 0\.\.{len(tokens) - 1}, got {step}"):
            evidence.surgery(model, source, tokens, step, "uniform")
    with pytest.raises(ValueError, match=r"^The baseline has no attention weights to operate on; choose an attention"):
        evidence.surgery(tiny_model(None), source, tokens, 0, "uniform")


# --- coverage ---------------------------------------------------------------------------------------------------------


def test_coverage_sums_to_output_length_and_flags() -> None:
    attention = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.9, 0.0, 0.1], [0.0, 0.0, 1.0]])
    result = evidence.coverage(attention)
    np.testing.assert_allclose(result.totals, [2.7, 0.1, 1.2])
    assert result.totals.sum() == pytest.approx(attention.shape[0])
    assert result.flags == ["repeated", "dropped", ""]
    assert evidence.coverage(attention, ignore=[0]).flags == ["", "dropped", ""]
    grouped = evidence.coverage(attention, groups=[[0, 1], [2]])
    np.testing.assert_allclose(grouped.totals, [2.8, 1.2])
    assert grouped.flags == ["repeated", ""]


def test_coverage_flags_exactly_the_dropped_and_repeated_pieces_but_never_an_ignored_one() -> None:
    """A constructed 5 x 6 attention matrix over a 6-piece source ending in </s>: pieces 1, 2 and 4 get almost no
    attention, piece 3 almost three rows' worth; an ignored </s> is never flagged, whether starved or parked on."""
    attention = np.array(
        [
            [0.8, 0.0, 0.1, 0.0, 0.0, 0.1],
            [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 0.1, 0.0, 0.9, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.9, 0.1, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ]
    )
    eos = 5
    result = evidence.coverage(attention, ignore=[eos])
    np.testing.assert_allclose(result.totals, [0.8, 0.1, 0.1, 2.8, 0.1, 1.1])
    assert result.flags == ["", "dropped", "dropped", "repeated", "dropped", ""]
    starved = evidence.coverage(attention[:4], ignore=[eos])  # </s> gets only 0.1 without the last row
    assert starved.flags[eos] == "" and evidence.coverage(attention[:4]).flags[eos] == "dropped"
    parked = np.tile(np.eye(6)[eos], (4, 1))  # every row parked on </s>: 4.0
    assert evidence.coverage(parked, ignore=[eos]).flags == ["dropped"] * 5 + [""]
    assert evidence.coverage(parked).flags[eos] == "repeated"
    # Words (groups of pieces) are flagged per group, and ``ignore`` names a group: </s> is group 3 here.
    words = [[0], [1, 2], [3, 4], [5]]
    by_word = evidence.coverage(attention, groups=words, ignore=[3])
    np.testing.assert_allclose(by_word.totals, [0.8, 0.2, 2.9, 1.1])
    assert by_word.flags == ["", "dropped", "repeated", ""]


def test_coverage_thresholds_are_strict_and_adjustable() -> None:
    """A total exactly at a threshold is not flagged; the thresholds can be set per call."""
    assert evidence.DROPPED_BELOW == 0.3 and evidence.REPEATED_ABOVE == 2.0
    at_the_limits = np.array([[0.3, 0.7, 0.0], [0.0, 1.0, 0.0], [0.0, 0.3, 0.7]])  # totals 0.3, 2.0, 0.7
    assert evidence.coverage(at_the_limits).flags == ["", "", ""]
    assert evidence.coverage(at_the_limits, dropped_below=0.5).flags == ["dropped", "", ""]
    assert evidence.coverage(at_the_limits, repeated_above=0.5).flags == ["", "repeated", "repeated"]


# --- gradient by distance -------------------------------------------------------------------------------------------


def test_gradient_by_distance() -> None:
    means, counts = evidence.gradient_by_distance([np.array([[1.0, 0.0], [0.5, 0.5]])], max_distance=2)
    np.testing.assert_allclose(means[:2], [0.75, 0.25])
    assert np.isnan(means[2]) and counts.tolist() == [2, 2, 0]


def test_gradient_by_distance_pools_sentences_of_any_shape() -> None:
    """Means pool every (t, i) pair of every sentence by |i - t|; distances beyond max_distance are left out."""
    first = np.array([[1.0, 2.0, 3.0, 4.0]])  # T=1, S=4: distances 0, 1, 2, 3
    second = np.array([[10.0], [20.0], [30.0]])  # T=3, S=1: distances 0, 1, 2
    means, counts = evidence.gradient_by_distance([first, second], max_distance=2)
    np.testing.assert_allclose(means, [(1 + 10) / 2, (2 + 20) / 2, (3 + 30) / 2])
    assert counts.tolist() == [2, 2, 2]
    means, counts = evidence.gradient_by_distance([first], max_distance=evidence.MAX_DISTANCE)
    assert len(means) == evidence.MAX_DISTANCE + 1 and counts.sum() == 4
    np.testing.assert_allclose(means[:4], [1.0, 2.0, 3.0, 4.0])  # one pair each: the pair's own value
    assert counts.dtype.kind == "i"  # counts of pairs (stored in metrics.json as integers)


# --- the corpus evaluation ------------------------------------------------------------------------------------------


class _Hypothesis:
    """What evaluate_model reads from a hypothesis: its tokens and attention."""

    def __init__(self, tokens: list[int], attention: torch.Tensor | None) -> None:
        self.tokens, self.attention = tokens, attention


def test_evaluate_model_aggregates_the_per_step_measures(tiny_model) -> None:
    """The corpus numbers are means over every output step of the per-step saliency, occlusion and attention
    measures, recomputed here from the public per-sentence functions."""
    model = tiny_model("dot", seed=4)
    sources = random_sources([5, 3], seed=7)
    hypotheses = []
    for source in sources:
        tokens = greedy_tokens(model, source)[:4]
        hypotheses.append(_Hypothesis(tokens, teacher_forced(model, source, tokens)[1]))
    # An empty hypothesis (first, so that the ones after it must still count) is skipped; one sentence per batch, so
    # every batch's numbers must be collected.
    result = evidence.evaluate_model(
        model, [[5, 3], *sources], [_Hypothesis([], None), *hypotheses], max_distance=3, batch_size=1
    )

    names = ("attention", "saliency", "integrated_gradients", "occlusion")
    compared = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]  # every pair, attention first
    steps = {f"{a}_vs_{b}": [] for a, b in compared}
    on_eos = {name: [] for name in names}
    chance, errors = [], []
    for source, hyp in zip(sources, hypotheses, strict=True):
        ig, check = evidence.integrated_gradients(model, source, hyp.tokens, return_completeness=True)
        rows = {
            "attention": hyp.attention.numpy(),
            "saliency": evidence.saliency(model, source, hyp.tokens),
            "integrated_gradients": ig,
            "occlusion": evidence.occlusion(model, source, hyp.tokens),
        }
        errors += check.relative_error.tolist()
        for t in range(len(hyp.tokens)):
            for a, b in compared:
                steps[f"{a}_vs_{b}"].append(evidence.agreement(rows[a][t], rows[b][t]))
            for name in names:
                on_eos[name].append(float(np.argmax(rows[name][t]) == len(source) - 1))
            chance.append(1 / len(source))
    assert result["num_sentences"] == 2
    assert list(result["agreement"]) == [f"{a}_vs_{b}" for a, b in evidence.agreement_pairs()]
    assert set(result["agreement"]) == set(steps)
    for pair, rows in steps.items():
        summary = result["agreement"][pair]
        assert summary["num_steps"] == len(rows)
        assert summary["chance_top1"] == round(float(np.mean(chance)), 4)
        for measure in ("kendall_tau", "top1", "jsd"):
            values = [r[measure] for r in rows if not math.isnan(r[measure])]
            assert summary[measure]["mean"] == round(float(np.mean(values)), 4), (pair, measure)
            assert summary[measure]["count"] == len(values)
        for measure, bins in (("kendall_tau", evidence.TAU_BINS), ("jsd", evidence.JSD_BINS)):
            values = np.clip([r[measure] for r in rows if not math.isnan(r[measure])], bins[0], bins[-1])
            assert summary[measure]["counts"] == np.histogram(values, bins=bins)[0].tolist()
            assert summary[measure]["bins"] == [round(float(b), 4) for b in bins]
    assert result["top1_on_eos"] == {name: round(float(np.mean(v)), 4) for name, v in on_eos.items()}
    completeness = result["integrated_gradients_completeness"]
    assert completeness["num_steps"] == len(errors) == 8
    assert completeness["relative_error"]["max"] == pytest.approx(max(errors), abs=1e-5)
    assert completeness["relative_error"]["median"] == pytest.approx(np.median(errors), abs=1e-5)
    assert completeness["share_below_tolerance"] == 1.0 and completeness["tolerance"] == 0.05
    distance = result["gradient_by_distance"]
    assert distance["distance"] == [0, 1, 2, 3]
    sal_rows = [evidence.saliency(model, s, h.tokens) for s, h in zip(sources, hypotheses, strict=True)]
    means, counts = evidence.gradient_by_distance(sal_rows, 3)
    assert distance["mean_saliency"] == [None if np.isnan(m) else round(float(m), 5) for m in means]
    assert distance["pairs"] == counts.tolist()
    raw = [evidence.saliency(model, s, h.tokens, normalise=False) for s, h in zip(sources, hypotheses, strict=True)]
    np.testing.assert_allclose(distance["mean_grad_x_input"], evidence.gradient_by_distance(raw, 3)[0], rtol=1e-3)


def test_completeness_summary_by_hand() -> None:
    """Relative errors |delta| / |gap| = 0.1, 0.2, 0, 2 and 1/3 over two sentences; the share under the tolerance
    counts strictly smaller errors; deltas are summarised by their absolute values; points count output steps."""
    check = attribution_methods.Completeness
    checks = [
        check(np.array([0.1, -0.2]), np.array([1.0, -1.0]), np.array([16, 16])),
        check(np.array([0.0, 0.5, -1 / 7]), np.array([2.0, 0.25, 3 / 7]), np.array([16, 32, 64])),
    ]
    errors = [0.1, 0.2, 0.0, 2.0, 1 / 3]
    deltas = [0.1, 0.2, 0.0, 0.5, 1 / 7]
    summary = evidence.corpus._completeness_summary(checks, tolerance=0.1)
    sorted_errors = sorted(errors)  # p99 by linear interpolation at position 0.99 * 4 between the two largest
    p99 = sorted_errors[3] + 0.96 * (sorted_errors[4] - sorted_errors[3])
    expected_errors = {"mean": sum(errors) / 5, "median": 0.2, "p99": p99, "max": 2.0}
    assert summary["relative_error"] == {name: round(value, 6) for name, value in expected_errors.items()}
    assert (summary["share_below_tolerance"], summary["tolerance"], summary["num_steps"]) == (0.2, 0.1, 5)
    assert (summary["mean_abs_delta"], summary["max_abs_delta"]) == (round(sum(deltas) / 5, 6), 0.5)
    assert summary["quadrature_points"] == {"16": 3, "32": 1, "64": 1}
    assert evidence.corpus._completeness_summary([]) == {"num_steps": 0}


def test_summary_by_hand() -> None:
    """The mean and count leave NaNs out; values outside the bins are counted in the end bins."""
    bins = np.array([-1.0, 0.0, 1.0])
    summary = evidence.corpus._summary([-2.0, -0.5, 0.25, 3.0, math.nan], bins)
    assert summary == {"mean": 0.1875, "count": 4, "bins": [-1.0, 0.0, 1.0], "counts": [2, 2]}
    assert evidence.corpus._summary([math.nan], None) == {"mean": None, "count": 0}


def test_evaluate_model_without_any_output_reports_nothing_rather_than_nan(tiny_model) -> None:
    """Only empty hypotheses: no steps, so every mean is None (JSON null), not NaN, and every count 0."""
    model = tiny_model("additive")
    result = evidence.evaluate_model(model, [[5, 3], [6, 3]], [_Hypothesis([], None)] * 2, max_distance=2)
    assert result["num_sentences"] == 0
    for summary in result["agreement"].values():
        assert summary["num_steps"] == 0 and summary["chance_top1"] is None
        for measure in ("kendall_tau", "top1", "jsd"):
            assert summary[measure]["mean"] is None and summary[measure]["count"] == 0
    assert result["top1_on_eos"] == dict.fromkeys(("attention", "saliency", "integrated_gradients", "occlusion"))
    assert result["integrated_gradients_completeness"] == {"num_steps": 0}
    distance = result["gradient_by_distance"]
    assert distance["mean_saliency"] == distance["mean_grad_x_input"] == [None, None, None]
    assert distance["pairs"] == [0, 0, 0]


def test_saliency_rows_of_a_source_without_input_stay_zero(tiny_model) -> None:
    """When no source piece carries input (all embeddings zero), grad x input is zero everywhere: normalised rows
    stay zero (not NaN), in saliency and in the corpus numbers."""
    model = one_position_model(tiny_model, None)
    source, target = [5, 9, 3], [4, 8, 3]  # no KEY_TOKEN
    np.testing.assert_array_equal(evidence.saliency(model, source, target), np.zeros((3, 3)))
    result = evidence.evaluate_model(model, [source], [_Hypothesis(target, None)], max_distance=2)
    assert result["gradient_by_distance"]["mean_saliency"] == [0.0, 0.0, 0.0]


def test_evaluate_model_of_the_baseline_compares_only_the_attributions(tiny_model) -> None:
    model = tiny_model(None, seed=4)
    source = random_sources([4], seed=1)[0]
    result = evidence.evaluate_model(model, [source], [_Hypothesis([6, 3], None)], max_distance=2)
    pairs = ("saliency_vs_integrated_gradients", "saliency_vs_occlusion", "integrated_gradients_vs_occlusion")
    assert list(result["agreement"]) == list(pairs)
    assert set(result["top1_on_eos"]) == {"saliency", "integrated_gradients", "occlusion"}
    assert all(result["agreement"][pair]["num_steps"] == 2 for pair in pairs)


def test_corpus_command_writes_evidence_into_metrics(
    random_model_folder: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = random_model_folder
    write_json_atomic(folder / METRICS_FILE, {"keep_me": 1, "models": {"additive": {"bleu": 1.0}}})
    code = evidence.main(["--model", str(folder), "--dataset_name", str(tiny_dataset), "--max_samples", "3"])
    assert code == 0
    written = read_json(folder / METRICS_FILE)
    assert written["keep_me"] == 1 and written["models"] == {"additive": {"bleu": 1.0}}  # other keys untouched
    found = written["evidence"]
    assert (found["num_sentences"], found["split"], found["decoding"]) == (3, "test", "greedy")
    assert found["dataset"] == str(tiny_dataset)
    assert set(found["method"]) == {
        "library", "saliency", "integrated_gradients", "occlusion", "agreement", "completeness", "distance",
        "coverage_flags",
    }  # fmt: skip
    assert found["method"]["library"] == "captum 0.9.0"
    assert found["method"]["coverage_flags"] == {"dropped_below": 0.3, "repeated_above": 2.0}
    assert found["ig_steps"] == evidence.IG_STEPS
    assert set(found["models"]) == {"additive", "baseline"}
    additive = found["models"]["additive"]
    assert additive["num_sentences"] == 3
    assert list(additive["agreement"]) == [f"{a}_vs_{b}" for a, b in evidence.agreement_pairs()]
    tau = additive["agreement"]["attention_vs_integrated_gradients"]["kendall_tau"]
    assert len(tau["counts"]) == len(tau["bins"]) - 1 and sum(tau["counts"]) == tau["count"] > 0
    assert not any(pair.startswith("attention") for pair in found["models"]["baseline"]["agreement"])
    assert len(additive["gradient_by_distance"]["mean_saliency"]) == evidence.MAX_DISTANCE + 1
    completeness = additive["integrated_gradients_completeness"]
    assert completeness["num_steps"] == additive["agreement"]["attention_vs_saliency"]["num_steps"] > 0
    assert 0 < found["models"]["baseline"]["seconds"] <= found["seconds"]
    captured = capsys.readouterr()
    printed = captured.out.splitlines()
    for name, numbers in found["models"].items():  # one line per model: every pair's mean tau, top-1 and JSD
        parts = [
            f"{pair}: tau {a['kendall_tau']['mean']}, top-1 {a['top1']['mean']}, JSD {a['jsd']['mean']}"
            for pair, a in numbers["agreement"].items()
        ]
        error = numbers["integrated_gradients_completeness"]["relative_error"]
        parts.append(f"IG completeness error: median {error['median']}, max {error['max']}")
        assert f"{name} ({numbers['seconds']} s): " + "; ".join(parts) in printed
    assert printed[-1] == f"3 sentences in {found['seconds']} s; written to {folder}/metrics.json"
    assert "additive: 100%" in captured.err and "3/3" in captured.err  # a progress bar per model

    # Two worker processes (one model each) give the same numbers as one process:
    evidence.main(["--model", str(folder), "--dataset_name", str(tiny_dataset), "--max_samples", "3", "--processes",
                   "2"])  # fmt: skip
    again = read_json(folder / METRICS_FILE)["evidence"]
    for name, numbers in found["models"].items():
        for pair, summary in numbers["agreement"].items():
            for measure in ("kendall_tau", "top1", "jsd"):
                assert again["models"][name]["agreement"][pair][measure]["mean"] == pytest.approx(
                    summary[measure]["mean"], abs=2e-4)  # fmt: skip

    # Only the named models, and the validation split by its short name:
    evidence.main(["--model", str(folder), "--dataset_name", str(tiny_dataset), "--max_samples", "2", "--split",
                   "val", "--names", "baseline"])  # fmt: skip
    found = read_json(folder / METRICS_FILE)["evidence"]
    assert (set(found["models"]), found["split"], found["num_sentences"]) == ({"baseline"}, "validation", 2)

    # By default the whole split; the number of Integrated Gradients steps can be chosen:
    evidence.main(["--model", str(folder), "--dataset_name", str(tiny_dataset), "--names", "baseline", "--ig_steps",
                   "4"])  # fmt: skip
    found = read_json(folder / METRICS_FILE)["evidence"]
    assert (found["num_sentences"], found["ig_steps"]) == (20, 4)
    assert "4 gausslegendre steps" in found["method"]["integrated_gradients"]


def test_corpus_evidence_is_evaluate_model_on_the_greedy_translations(
    random_model_folder: Path,
    tiny_dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """evaluate_folder as a library call (the test split by default, no progress bars) stores for each model what
    evaluate_model gives on the split's greedy translations, with the Integrated Gradients steps asked for, and logs
    each model's time."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    caplog.set_level(logging.INFO, logger=evidence.corpus.__name__)
    started = time.perf_counter()
    evidence.evaluate_folder(random_model_folder, str(tiny_dataset), 4, names=["additive"], n_steps=3, progress=False)
    elapsed = time.perf_counter() - started
    stored = read_json(random_model_folder / METRICS_FILE)["evidence"]
    assert 0 < stored["models"]["additive"]["seconds"] <= stored["seconds"] <= round(elapsed, 1)
    assert (stored["split"], stored["ig_steps"]) == ("test", 3)
    assert "additive" not in capsys.readouterr().err  # no progress bar
    translator = Translator(random_model_folder, ["additive"])
    test = load_parallel_data(str(tiny_dataset), "de", "en", ("test",))["test"].take(4)
    sources = [translator.source_ids(text)[0] for text in test.source]
    model = translator.models["additive"]
    greedy = [hyps[0] for hyps in translate_ids(model, sources, beam_size=1)]
    expected = json.loads(json.dumps(evidence.evaluate_model(model, sources, greedy, n_steps=3)))
    seconds = stored["models"]["additive"].pop("seconds")
    assert stored["models"]["additive"] == expected
    assert f"evidence for additive: {seconds:.1f} s" in caplog.messages
    with pytest.raises(ValueError, match="zip"):  # a hypothesis for every source, or nothing
        evidence.evaluate_model(model, sources, greedy[:-1], n_steps=3)


# Every argument is checked where it is parsed (exit 2, one line naming the flag). Values at the limits are accepted:
# the command then fails only because the model folder does not exist (exit 1), before any model is loaded.
BAD_ARGUMENTS = [
    [],  # no --dataset_name
    ["--dataset_name", " "],
    ["--model", ""],
    ["--split", ""],
    ["--names", ""],
    ["--dataset_config_name", ""],
    ["--max_samples", "0"],
    ["--max_samples", "1.5"],
    ["--ig_steps", "0"],
    ["--ig_steps", "1001"],
    ["--ig_steps", "2.5"],
    ["--processes", "0"],
    ["--processes", "65"],
]
LIMITS = [
    ["--max_samples", "1"],
    ["--ig_steps", "1"],
    ["--ig_steps", "1000"],
    ["--processes", "1"],
    ["--processes", "64"],
]


def test_corpus_command_help_says_how_to_run_it_and_what_it_does(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        evidence.main(["--help"])
    assert exit_info.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse's lines unwrapped
    assert shown.startswith(f"usage: python -m {evidence.__name__} ")  # the package that runs it (__main__.py)
    assert "Compute the corpus evidence numbers and store them in metrics.json." in shown
    assert "the first N sentences of the split (default: all)" in shown and "models (default: all)" in shown
    assert "--split SPLIT train, validation (or val) or test" in shown
    assert f"points (default {evidence.IG_STEPS}); an integer from 1 to 1000" in shown
    assert "one worker process each (2 on 2 cores); an integer from 1 to 64" in shown


@pytest.mark.parametrize("extra", BAD_ARGUMENTS, ids=lambda a: " ".join(a) or "missing")
def test_corpus_command_refuses_bad_arguments(extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--model", str(tmp_path / "none")] + (
        ["--dataset_name", "x"] if extra and extra[0] != "--dataset_name" else []
    )
    with pytest.raises(SystemExit) as exit_info:
        evidence.main(argv + extra)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: ") and (extra[0] if extra else "--dataset_name") in error[0]


@pytest.mark.parametrize("extra", LIMITS, ids=" ".join)
def test_corpus_command_accepts_values_at_the_limits(extra: list[str], tmp_path: Path, capsys) -> None:
    code = evidence.main(["--model", str(tmp_path / "none"), "--dataset_name", "x", *extra])
    assert code == 1 and capsys.readouterr().err.startswith("error: ")


def test_corpus_command_reports_expected_failures_in_one_line(
    random_model_folder: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A missing split or model is one ``error:`` line and exit 1 (no traceback); --debug adds the traceback."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    base = ["--model", str(random_model_folder), "--dataset_name", str(tiny_dataset)]
    # A config name goes to datasets, which finds none of that name in a local folder:
    config = (["--dataset_config_name", "nosuch"], "nosuch")
    hub_id = (["--model", "someone/models"], "the evidence (metrics.json) is written into the model folder")
    for extra, message in (
        (["--split", "nosuch"], "no 'nosuch' split"), (["--names", "nosuch"], "nosuch"), config, hub_id
    ):  # fmt: skip
        assert evidence.main(base + extra) == 1
        error = capsys.readouterr().err
        errors = [line for line in error.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in error
    assert evidence.main([*base, "--split", "nosuch", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
