"""Unit tests for attention_demo.decoding: greedy search, batched beam search and translate_ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, random_sources, reference_beam, reference_greedy, teacher_forced
from test_decoder import DESIGNS

from attention_demo import decoding
from attention_demo.data import MAX_TARGET_TOKENS, decoder_input, pad
from attention_demo.decoding import Hypothesis, beam_search, greedy_search, output_caps, translate_ids
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID

# A random model almost never says </s>; raising the </s> bias makes some hypotheses finish early and others run to
# the length cap, so both ways a hypothesis can end are exercised (test_beam_size_one_equals_greedy checks the mix).
EOS_BIAS = {"dot": 0.8, "general": 0.8, "additive": 1.5, None: 0.8}
MAX_LEN = 12
SOURCE_LENGTHS = [3, 7, 1, 10, 5]  # different lengths, so most sentences are padded in the batch
MODEL_TYPES = [*ALL_ATTENTION_TYPES, None]


@pytest.fixture
def eos_biased_model(tiny_model: Callable[..., Seq2Seq]) -> Callable[..., Seq2Seq]:
    """Factory: a seeded tiny model whose output bias favours </s> (by EOS_BIAS[attention_type])."""

    def build(attention_type: str | None, seed: int = 0, **overrides: object) -> Seq2Seq:
        model = tiny_model(attention_type, seed=seed, **overrides)
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
    for g, (b,) in zip(greedy, beam, strict=True):
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
    for hyp, source in zip(hyps, sources, strict=True):
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
    for hyps, source in zip(results, sources, strict=True):
        assert len(hyps) == beam_size
        assert len({tuple(h.tokens) for h in hyps}) == beam_size
        normalized = [h.normalized_score for h in hyps]
        assert normalized == sorted(normalized, reverse=True)
        for hyp in hyps:
            _check_hypothesis(hyp, len(source), attention_type is not None)


def test_length_penalty_changes_the_ranking(eos_biased_model: Callable[..., Seq2Seq]) -> None:
    """The final ranking is by score / length ** length_penalty, recomputed here by hand for several exponents
    (0 = total log-probability, 1 = per-token average); the penalty changes only the order, never the beam."""
    model = eos_biased_model("additive")
    src, mask = pad(random_sources(SOURCE_LENGTHS, seed=1))
    beams = {
        penalty: beam_search(model, src, mask, beam_size=4, max_len=MAX_LEN, length_penalty=penalty)
        for penalty in (0.0, 0.6, 1.0, 2.0)
    }
    reorders = 0
    for sentence in range(len(SOURCE_LENGTHS)):
        orders = []
        for penalty, results in beams.items():
            hyps = results[sentence]
            normalised = [h.score / len(h.tokens) ** penalty for h in hyps]  # by hand; every length is >= 1
            assert normalised == sorted(normalised, reverse=True), penalty
            orders.append([tuple(h.tokens) for h in hyps])
        assert all(sorted(order) == sorted(orders[0]) for order in orders)  # the same hypotheses, reordered
        reorders += len({tuple(order) for order in orders}) > 1
        default = beam_search(model, src[sentence : sentence + 1], mask[sentence : sentence + 1], 4, MAX_LEN)[0]
        assert [tuple(h.tokens) for h in default] == orders[2]  # the default exponent is 1
    assert reorders > 0, "some sentence's ranking should depend on the exponent, or the test cannot fail"


def test_greedy_search_equals_a_brute_force_reference(eos_biased_model: Callable[..., Seq2Seq]) -> None:
    """Batched greedy search gives, for every sentence, the tokens, log-probabilities and attention of greedy decoding
    done by brute force: one full teacher-forced pass per step, no state carried, <pad> and <s> never chosen."""
    for attention_type in MODEL_TYPES:
        model = eos_biased_model(attention_type, seed=6)
        with torch.no_grad():  # make <pad> and <s> the most probable words: they must still never be generated
            model.decoder.output.bias[[PAD_ID, BOS_ID]] += 50.0
        sources = random_sources(SOURCE_LENGTHS, seed=4)
        src, mask = pad(sources)
        for source, hyp in zip(sources, greedy_search(model, src, mask, max_len=MAX_LEN), strict=True):
            expected = reference_greedy(model, source, MAX_LEN)
            assert hyp.tokens == expected, attention_type
            logp, attention = teacher_forced(model, source, expected)
            forced = logp[torch.arange(len(expected)), expected]
            torch.testing.assert_close(torch.tensor(hyp.token_logprobs, dtype=torch.float64), forced, atol=1e-5, rtol=0)
            if attention_type is not None:
                torch.testing.assert_close(hyp.attention, attention, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attention_type", MODEL_TYPES)
def test_greedy_prefix_is_teacher_forced_then_greedy(
    eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None
) -> None:
    """With a prefix, each sentence's output starts with its prefix (a </s> in it ends the sentence there) and goes on
    as brute-force greedy decoding after that prefix; every token, forced or chosen, gets its teacher-forced
    log-probability."""
    model = eos_biased_model(attention_type, seed=2)
    sources = random_sources(SOURCE_LENGTHS, seed=5)
    prefixes = [row[:3] for row in random_sources([4] * len(sources), seed=6)]
    prefixes[1] = [prefixes[1][0], EOS_ID, prefixes[1][2]]
    src, mask = pad(sources)
    hyps = greedy_search(model, src, mask, max_len=MAX_LEN, prefix=torch.tensor(prefixes))
    for source, prefix, hyp in zip(sources, prefixes, hyps, strict=True):
        expected = prefix[:2] if EOS_ID in prefix else reference_greedy(model, source, MAX_LEN, prefix=prefix)
        assert hyp.tokens == expected
        logp, _ = teacher_forced(model, source, expected)
        forced = logp[torch.arange(len(expected)), expected]
        torch.testing.assert_close(torch.tensor(hyp.token_logprobs, dtype=torch.float64), forced, atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_override_weights_replaces_one_step_and_decoding_goes_on_from_it(
    tiny_model: Callable[..., Seq2Seq], attention_type: str
) -> None:
    """override_weights sees the model's own weights of every step; the weights it returns for one step are the ones
    that step used: the hypothesis records them, and one teacher-forced pass with the recorded weights as override
    reproduces every log-probability and greedy choice. Returning the own weights changes nothing."""
    model = tiny_model(attention_type, seed=1)
    with torch.no_grad():  # no </s>: every output runs to MAX_LEN, past the changed step
        model.decoder.output.bias[EOS_ID] -= 50.0
    sources = random_sources([6, 9, 4], seed=3)
    src, mask = pad(sources)
    plain = greedy_search(model, src, mask, max_len=MAX_LEN)
    step, seen = 2, {}

    def own_weights(t: int, own: torch.Tensor) -> torch.Tensor:
        seen[t] = own.clone()
        return own

    same = greedy_search(model, src, mask, max_len=MAX_LEN, override_weights=own_weights)
    assert [h.tokens for h in same] == [h.tokens for h in plain]
    assert [h.token_logprobs for h in same] == [h.token_logprobs for h in plain]
    for b, hyp in enumerate(plain):  # the callback saw the model's own weights
        if len(hyp.tokens) > step:
            torch.testing.assert_close(seen[step][b, : len(sources[b])], hyp.attention[step])

    one_hot = torch.zeros_like(src, dtype=torch.float)
    one_hot[:, 0] = 1.0  # all weight on the first source piece (real in every sentence)
    changed = greedy_search(
        model, src, mask, max_len=MAX_LEN, override_weights=lambda t, own: one_hot if t == step else None
    )
    for source, hyp in zip(sources, changed, strict=True):
        assert len(hyp.tokens) == MAX_LEN
        assert hyp.attention[step].tolist() == [1.0] + [0.0] * (len(source) - 1)
        src_1 = torch.tensor([source])
        with torch.no_grad():
            memory = model.encode(src_1, torch.ones_like(src_1, dtype=torch.bool))
            out = model.decode(decoder_input(torch.tensor([hyp.tokens])), memory, weights_override=hyp.attention[None])
        logp = torch.log_softmax(out.logits[0].double(), dim=-1)
        logp[:, [PAD_ID, BOS_ID]] = float("-inf")
        torch.testing.assert_close(
            torch.tensor(hyp.token_logprobs, dtype=torch.float64),
            logp[torch.arange(len(hyp.tokens)), hyp.tokens],
            atol=1e-5,
            rtol=0,
        )
        assert hyp.tokens == logp.argmax(dim=-1).tolist()  # greedy at every step, the changed one included
    assert [h.tokens for h in changed] != [h.tokens for h in plain], "the one-hot step should change some output"


@pytest.mark.parametrize(
    ("attention_type", "design"),
    [(t, "luong") for t in MODEL_TYPES] + [("general", d) for d in DESIGNS if d != "luong"] + [(None, "input_feeding")],
)
def test_beam_search_equals_a_brute_force_reference(
    eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None, design: str
) -> None:
    """Batched beam search keeps, for every sentence, the same hypotheses with the same scores as a one-sentence
    beam search written out with plain lists and full teacher-forced passes; each hypothesis's token
    log-probabilities and attention are the teacher-forced ones of its tokens. For every decoder design: whatever
    the decoder carries from step to step must follow its beam when beams are reordered."""
    beam_size = 3
    model = eos_biased_model(attention_type, seed=7, **DESIGNS[design])
    sources = random_sources(SOURCE_LENGTHS, seed=5)
    src, mask = pad(sources)
    mixed = 0
    for source, hyps in zip(
        sources, beam_search(model, src, mask, beam_size, MAX_LEN, length_penalty=0.0), strict=True
    ):
        expected = reference_beam(model, source, beam_size, MAX_LEN)
        assert [h.tokens for h in hyps] == [tokens for tokens, _ in expected]
        for hyp, (tokens, score) in zip(hyps, expected, strict=True):
            assert hyp.score == pytest.approx(score, abs=1e-4)
            logp, attention = teacher_forced(model, source, tokens)
            forced = logp[torch.arange(len(tokens)), tokens]
            torch.testing.assert_close(torch.tensor(hyp.token_logprobs, dtype=torch.float64), forced, atol=1e-5, rtol=0)
            if attention_type is not None:
                torch.testing.assert_close(hyp.attention, attention, atol=1e-5, rtol=1e-4)
        mixed += len({len(h.tokens) for h in hyps}) > 1 and hyps[0].tokens[-1] == EOS_ID
    assert mixed > 0, "some beam should hold a hypothesis that finished while others went on"


def test_output_caps() -> None:
    """A given max_len caps every sentence; otherwise each sentence's cap is 2 * its own length + 10, at most
    MAX_TARGET_TOKENS."""
    _, mask = pad([[5] * 1, [5] * 7, [5] * 60, [5] * 100])
    assert output_caps(mask, None).tolist() == [12, 24, MAX_TARGET_TOKENS, MAX_TARGET_TOKENS]
    assert 2 * 60 + 10 > MAX_TARGET_TOKENS
    assert output_caps(mask, 5).tolist() == [5, 5, 5, 5]


def test_hypothesis_word_ids_and_normalized_score() -> None:
    """word_ids drops only a final </s>; normalized_score is the score per token (0 tokens count as 1)."""
    finished = Hypothesis([7, 8, EOS_ID], -3.0, [-1.0, -1.5, -0.5], None)
    assert finished.word_ids == [7, 8] and finished.normalized_score == pytest.approx(-1.0)
    capped = Hypothesis([7, 8, 9, 10], -2.0, [-0.5] * 4, None)
    assert capped.word_ids == [7, 8, 9, 10] and capped.normalized_score == pytest.approx(-0.5)
    assert Hypothesis([], 0.0, [], None).normalized_score == 0.0
    assert Hypothesis([EOS_ID], -2.0, [-2.0], None).word_ids == []


def test_translate_ids_passes_beam_size_and_length_penalty_on(eos_biased_model: Callable[..., Seq2Seq]) -> None:
    """translate_ids is greedy search by default and beam search from 2 beams on, ranking the beams with the given
    length penalty exactly as beam_search does (the exponents here give different orders)."""
    model = eos_biased_model("additive")
    sources = random_sources(SOURCE_LENGTHS, seed=1)
    orders = set()
    for penalty in (0.0, 2.0):
        results = translate_ids(model, sources, beam_size=4, length_penalty=penalty)
        for source, hyps in zip(sources, results, strict=True):
            src, mask = pad([source])
            (expected,) = beam_search(model, src, mask, beam_size=4, length_penalty=penalty)
            assert [h.tokens for h in hyps] == [h.tokens for h in expected]
        orders.add(tuple(tuple(h.tokens) for hyps in results for h in hyps))
    assert len(orders) == 2
    two = translate_ids(model, sources, beam_size=2)
    assert all(len(hyps) == 2 for hyps in two)
    greedy = translate_ids(model, sources)
    src, mask = pad(sources)
    assert [hyps[0].tokens for hyps in greedy] == [h.tokens for h in greedy_search(model, src, mask)]
    assert all(len(hyps) == 1 for hyps in greedy)


@pytest.mark.parametrize("attention_type", ["additive", "dot", None])
def test_beam_search_is_batch_independent(eos_biased_model: Callable[..., Seq2Seq], attention_type: str | None) -> None:
    """Each sentence gets the same hypotheses whether decoded in a padded batch or alone."""
    model = eos_biased_model(attention_type, seed=4)
    sources = random_sources(SOURCE_LENGTHS, seed=2)
    src, mask = pad(sources)
    batched = beam_search(model, src, mask, beam_size=3, max_len=MAX_LEN)
    for source, batch_hyps in zip(sources, batched, strict=True):
        alone_src, alone_mask = pad([source])
        (alone_hyps,) = beam_search(model, alone_src, alone_mask, beam_size=3, max_len=MAX_LEN)
        assert [h.tokens for h in batch_hyps] == [h.tokens for h in alone_hyps]
        for b, a in zip(batch_hyps, alone_hyps, strict=True):
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
    for source, hyps in zip(sources, results, strict=True):
        src, mask = pad([source])
        if beam_size == 1:
            expected = greedy_search(model, src, mask)
        else:
            (expected,) = beam_search(model, src, mask, beam_size=beam_size)
        assert len(hyps) == beam_size
        assert [h.tokens for h in hyps] == [h.tokens for h in expected]
        assert hyps[0].attention.shape[1] == len(source)


@pytest.mark.parametrize(("search", "beam_size"), [("greedy_search", 1), ("beam_search", 3)])
def test_translate_ids_fails_loudly_when_a_search_loses_a_sentence(
    eos_biased_model: Callable[..., Seq2Seq], monkeypatch: pytest.MonkeyPatch, search: str, beam_size: int
) -> None:
    """Results are matched to their sentences one to one: a search that returned a result too few (a bug) raises,
    instead of leaving a sentence without a translation."""
    model = eos_biased_model("general", seed=5)
    real = getattr(decoding, search)
    monkeypatch.setattr(decoding, search, lambda *args, **kwargs: real(*args, **kwargs)[:-1])
    with pytest.raises(ValueError, match="zip"):
        translate_ids(model, random_sources([4, 5], seed=0), beam_size=beam_size)


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


@pytest.mark.parametrize("step", ["scripted", "eager"])
def test_one_beam_step_by_hand(step: str) -> None:
    """One sentence, two beams, six words. Beam 0 has finished (score -1.0), beam 1 has not (score -2.0): the finished
    beam continues only with padding at no cost, the other with its best words (never padding or <s>), and the two
    best totals win, each new beam with its parent's tokens, log-probabilities and attention one step longer."""
    from attention_demo.decoding import BEAM_STEP, beam_step

    run = BEAM_STEP if step == "scripted" else beam_step
    logp = torch.log(torch.tensor([0.30, 0.05, 0.30, 0.05, 0.20, 0.10]))  # ids 0 <pad> and 2 <s> are never chosen
    logits = torch.stack([torch.zeros(6), logp]).unsqueeze(1)  # (2 beams, 1, vocab); beam 0's row is ignored
    scores, finished = torch.tensor([[-1.0, -2.0]]), torch.tensor([True, False])
    tokens, logprobs = torch.tensor([[5, EOS_ID], [5, 4]]), torch.tensor([[-0.5, -0.5], [-1.0, -1.0]])
    attention = torch.tensor([[[0.9, 0.1], [0.8, 0.2]], [[0.3, 0.7], [0.4, 0.6]]])  # (2 beams, 2 steps, 2 source)
    step_attention = torch.tensor([[[0.5, 0.5]], [[0.25, 0.75]]])
    new_scores, parent, chosen, new_tokens, new_logprobs, new_attention, new_finished = run(
        logits, step_attention, scores, finished, tokens, logprobs, attention
    )
    # Candidates: beam 0 + <pad> = -1.0; beam 1 + word 4 = -2.0 + log 0.2, + word 5 = -2.0 + log 0.1, + </s> ...
    torch.testing.assert_close(new_scores, torch.tensor([[-1.0, -2.0]]) + torch.tensor([[0.0, logp[4]]]))
    assert parent.tolist() == [0, 1] and chosen.tolist() == [PAD_ID, 4]
    assert new_tokens.tolist() == [[5, EOS_ID, PAD_ID], [5, 4, 4]]
    torch.testing.assert_close(new_logprobs, torch.tensor([[-0.5, -0.5, 0.0], [-1.0, -1.0, logp[4]]]))
    assert torch.equal(new_attention, torch.cat([attention, step_attention], dim=1))
    assert new_finished.tolist() == [True, False]
