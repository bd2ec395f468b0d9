"""Unit tests for attention_demo.decoding: greedy search, batched beam search and translate_ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, random_sources

from attention_demo.data import pad
from attention_demo.decoding import Hypothesis, beam_search, greedy_search, translate_ids
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import EOS_ID, PAD_ID

# A random model almost never says </s>; raising the </s> bias makes some hypotheses finish early and others run to
# the length cap, so both ways a hypothesis can end are exercised (test_beam_size_one_equals_greedy checks the mix).
EOS_BIAS = {"dot": 0.8, "general": 0.8, "additive": 1.5, None: 0.8}
MAX_LEN = 12
SOURCE_LENGTHS = [3, 7, 1, 10, 5]  # different lengths, so most sentences are padded in the batch
MODEL_TYPES = [*ALL_ATTENTION_TYPES, None]


@pytest.fixture
def eos_biased_model(tiny_model: Callable[..., Seq2Seq]) -> Callable[..., Seq2Seq]:
    """Factory: a seeded tiny model whose output bias favours </s> (by EOS_BIAS[attention_type])."""

    def build(attention_type: str | None, seed: int = 0) -> Seq2Seq:
        model = tiny_model(attention_type, seed=seed)
        with torch.no_grad():
            model.decoder.output.bias[EOS_ID] += EOS_BIAS[attention_type]
        return model

    return build


def _check_hypothesis(hyp: Hypothesis, src_len: int, has_attention: bool) -> None:
    """Invariants of every hypothesis: trimmed tokens, score = sum of token log-probs, attention rows over the real
    source that sum to 1."""
    assert 1 <= len(hyp.tokens) <= MAX_LEN
    assert PAD_ID not in hyp.tokens
    assert EOS_ID not in hyp.tokens[:-1]  # nothing after </s>
    assert len(hyp.token_logprobs) == len(hyp.tokens)
    assert all(lp <= 0.0 for lp in hyp.token_logprobs)
    assert hyp.score == pytest.approx(sum(hyp.token_logprobs), abs=1e-5)
    if has_attention:
        assert hyp.attention.shape == (len(hyp.tokens), src_len)
        torch.testing.assert_close(hyp.attention.sum(dim=-1), torch.ones(len(hyp.tokens)))
    else:
        assert hyp.attention is None


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_beam_size_one_equals_greedy(eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Beam search with one beam makes the same choices as greedy search: same tokens, same score, same attention."""
    model = eos_biased_model(attention_type)
    src, mask = pad(random_sources(SOURCE_LENGTHS, seed=1))
    greedy = greedy_search(model, src, mask, max_len=MAX_LEN)
    beam = beam_search(model, src, mask, beam_size=1, max_len=MAX_LEN)
    lengths = {len(h.tokens) for h in greedy}
    assert len(lengths) > 1, "the test should cover finished and unfinished hypotheses"
    for g, (b,) in zip(greedy, beam):
        assert b.tokens == g.tokens
        assert b.score == pytest.approx(g.score, abs=1e-5)
        if attention_type is not None:
            torch.testing.assert_close(b.attention, g.attention)


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_greedy_hypothesis_invariants(eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Greedy hypotheses are trimmed after </s>, scored consistently, and carry (len(tokens), src_len) attention."""
    model = eos_biased_model(attention_type)
    sources = random_sources(SOURCE_LENGTHS, seed=1)
    src, mask = pad(sources)
    hyps = greedy_search(model, src, mask, max_len=MAX_LEN)
    assert len(hyps) == len(sources)
    for hyp, source in zip(hyps, sources):
        _check_hypothesis(hyp, len(source), attention_type is not None)
        assert len(hyp.tokens) == MAX_LEN or hyp.tokens[-1] == EOS_ID


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_beam_returns_sorted_distinct_hypotheses(
    eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None
) -> None:
    """Beam search returns beam_size distinct hypotheses per sentence, best normalized score first, each valid."""
    beam_size = 4
    model = eos_biased_model(attention_type)
    sources = random_sources(SOURCE_LENGTHS, seed=1)
    src, mask = pad(sources)
    results = beam_search(model, src, mask, beam_size=beam_size, max_len=MAX_LEN)
    assert len(results) == len(sources)
    for hyps, source in zip(results, sources):
        assert len(hyps) == beam_size
        assert len({tuple(h.tokens) for h in hyps}) == beam_size
        normalized = [h.normalized_score for h in hyps]
        assert normalized == sorted(normalized, reverse=True)
        for hyp in hyps:
            _check_hypothesis(hyp, len(source), attention_type is not None)


def test_length_penalty_changes_the_ranking(eos_biased_model: Callable[..., Seq2Seq]) -> None:
    """length_penalty=0 ranks by total log-probability, so short hypotheses win; the ranking score is respected."""
    model = eos_biased_model("additive")
    src, mask = pad(random_sources(SOURCE_LENGTHS, seed=1))
    for hyps in beam_search(model, src, mask, beam_size=4, max_len=MAX_LEN, length_penalty=0.0):
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("attention_type", ["additive", "dot", None])
def test_beam_search_is_batch_independent(eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Each sentence gets the same hypotheses whether decoded in a padded batch or alone."""
    model = eos_biased_model(attention_type, seed=4)
    sources = random_sources(SOURCE_LENGTHS, seed=2)
    src, mask = pad(sources)
    batched = beam_search(model, src, mask, beam_size=3, max_len=MAX_LEN)
    for source, batch_hyps in zip(sources, batched):
        alone_src, alone_mask = pad([source])
        (alone_hyps,) = beam_search(model, alone_src, alone_mask, beam_size=3, max_len=MAX_LEN)
        assert [h.tokens for h in batch_hyps] == [h.tokens for h in alone_hyps]
        for b, a in zip(batch_hyps, alone_hyps):
            assert b.score == pytest.approx(a.score, abs=1e-4)
            if attention_type is not None:
                torch.testing.assert_close(b.attention, a.attention, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_translate_ids_keeps_input_order(eos_biased_model: Callable[..., Seq2Seq], beam_size: int) -> None:
    """translate_ids sorts by length internally but returns results in input order (checked against decoding each
    sentence alone). Sentences of equal length share a batch, so the batch's length cap equals each one's own."""
    model = eos_biased_model("general", seed=5)
    sources = random_sources([6, 2, 6, 9, 2, 9], seed=3)  # sorted: 2,2 | 6,6 | 9,9 with batch_size=2
    results = translate_ids(model, sources, beam_size=beam_size, batch_size=2)
    assert len(results) == len(sources)
    for source, hyps in zip(sources, results):
        src, mask = pad([source])
        if beam_size == 1:
            expected = greedy_search(model, src, mask)
        else:
            (expected,) = beam_search(model, src, mask, beam_size=beam_size)
        assert len(hyps) == beam_size
        assert [h.tokens for h in hyps] == [h.tokens for h in expected]
        assert hyps[0].attention.shape[1] == len(source)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_length_cap_is_per_sentence_not_per_batch(tiny_model: Callable[..., Seq2Seq], beam_size: int) -> None:
    """A sentence that never says </s> stops at 2 * its own length + 10, whether decoded alone or beside a much longer
    sentence: the cap (and so the translation) does not depend on the batch."""
    model = tiny_model("dot", seed=0)
    with torch.no_grad():
        model.decoder.output.bias[EOS_ID] -= 1e4  # never finishes: every hypothesis runs to its cap
    short, long = random_sources([2, 12], seed=3)
    alone = translate_ids(model, [short], beam_size=beam_size)[0][0]
    together = translate_ids(model, [short, long], beam_size=beam_size, batch_size=2)[0][0]
    assert len(alone.tokens) == 2 * len(short) + 10
    assert together.tokens == alone.tokens
    assert together.score == pytest.approx(alone.score, abs=1e-5)
