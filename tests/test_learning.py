"""Learning test: attention really reads the encoder states.

On a synthetic reversal task (target = source reversed) a small dot-attention model and the same-size baseline are
trained with the same budget. The attention model must (1) solve held-out sentences, (2) attend, at output step t, to
the mirrored source position L-1-t, i.e. look where the word it is writing comes from, and (3) beat the baseline,
whose fixed-size summary cannot hold the longest sequences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
import torch

from attention_demo.data import collate, pad
from attention_demo.decoding import Hypothesis, greedy_search
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.tokenizer import EOS_ID, PAD_ID

SEED = 0
NUM_SYMBOLS = 24  # word ids 4..27 (0..3 are special)
VOCAB_SIZE = 4 + NUM_SYMBOLS
MIN_LEN, MAX_LEN = 3, 12  # words per source sentence, before </s>
LONGEST = range(10, MAX_LEN + 1)  # the bucket on which the baseline's bottleneck shows
TRAIN_STEPS = 1200
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
NUM_TEST = 200
SIZES = {
    "embedding_size": 32,
    "encoder_hidden_size": 16,
    "decoder_hidden_size": 32,  # = 2 * encoder_hidden_size, as dot attention needs
    "attention_size": 16,
    "dropout": 0.0,
}

Pair = tuple[list[int], list[int]]


def _pair(rng: random.Random) -> Pair:
    """A random symbol sequence as (source ending with </s>, target: the words reversed, then </s>)."""
    words = [rng.randrange(4, VOCAB_SIZE) for _ in range(rng.randint(MIN_LEN, MAX_LEN))]
    return [*words, EOS_ID], [*reversed(words), EOS_ID]


def _test_set() -> list[Pair]:
    rng = random.Random(SEED + 1)
    return [_pair(rng) for _ in range(NUM_TEST)]


def _train(attention_type: str | None, held_out: set[tuple[int, ...]]) -> Seq2Seq:
    """Train with Adam (linearly decayed learning rate) on fresh random batches that avoid the held-out sources."""
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = Seq2Seq(ModelConfig(VOCAB_SIZE, VOCAB_SIZE, attention_type=attention_type, **SIZES))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / TRAIN_STEPS)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD_ID)
    model.train()
    for _ in range(TRAIN_STEPS):
        pairs: list[Pair] = []
        while len(pairs) < BATCH_SIZE:
            pair = _pair(rng)
            if tuple(pair[0]) not in held_out:
                pairs.append(pair)
        batch = collate(pairs)
        logits = model(batch["src"], batch["src_mask"], batch["tgt_in"]).logits
        loss = loss_fn(logits.reshape(-1, VOCAB_SIZE), batch["tgt_out"].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    return model.eval()


@dataclass
class Results:
    test: list[Pair]
    attention: list[Hypothesis]
    baseline: list[Hypothesis]


def _exact_match(hyps: list[Hypothesis], pairs: list[Pair], lengths: range | None = None) -> float:
    """Fraction of sentences (optionally only those with a source length in ``lengths``) translated exactly."""
    selected = [(h, t) for h, (s, t) in zip(hyps, pairs, strict=True) if lengths is None or len(s) - 1 in lengths]
    assert selected, "no test sentence in the requested length range"
    return sum(h.tokens == t for h, t in selected) / len(selected)


@pytest.fixture(scope="module")
def results() -> Results:
    """Train the dot-attention model and the baseline once (same data, same budget) and decode the test set."""
    test = _test_set()
    held_out = {tuple(s) for s, _ in test}
    src, src_mask = pad([s for s, _ in test])
    return Results(
        test,
        greedy_search(_train("dot", held_out), src, src_mask),
        greedy_search(_train(None, held_out), src, src_mask),
    )


@pytest.mark.slow
def test_attention_model_solves_reversal(results: Results) -> None:
    """The attention model reverses at least 95% of held-out sequences exactly."""
    assert _exact_match(results.attention, results.test) >= 0.95


@pytest.mark.slow
def test_attention_looks_at_the_mirrored_source_position(results: Results) -> None:
    """At output step t of a length-L source, the attention peak is on source position L-1-t (the word being
    copied) for at least 90% of steps: the model reads individual encoder states, not a blur of the sentence."""
    hits = total = 0
    for hyp, (src, _) in zip(results.attention, results.test, strict=True):
        length = len(src) - 1  # words, without </s>
        assert hyp.attention.shape == (len(hyp.tokens), len(src))
        for step, row in enumerate(hyp.attention[: min(length, len(hyp.tokens))]):  # word rows only, not </s>
            hits += int(row.argmax()) == length - 1 - step
            total += 1
    assert total > NUM_TEST * MIN_LEN
    assert hits / total >= 0.90, f"only {hits}/{total} attention peaks on the mirrored position"


@pytest.mark.slow
def test_baseline_fails_on_long_sequences(results: Results) -> None:
    """With the same size and budget, the baseline (source squeezed into one summary vector) is at least 30
    percentage points worse than the attention model on the longest sequences."""
    attention = _exact_match(results.attention, results.test, LONGEST)
    baseline = _exact_match(results.baseline, results.test, LONGEST)
    assert all(h.attention is None for h in results.baseline)
    assert attention - baseline >= 0.30, f"attention {attention:.2f} vs baseline {baseline:.2f} on lengths 10-12"
