"""Unit tests for attention_demo.evaluation: sacreBLEU scores, signatures and by-length buckets."""

from __future__ import annotations

import itertools

import pytest

from attention_demo.evaluation import (
    LENGTH_BUCKETS,
    corpus_scores,
    evaluate_translations,
    scores_by_length,
    sentence_chrf,
)

REFERENCES = [
    "A dog runs in the park .",
    "Two children are playing football on a green field near the old church .",
    "A woman in a red dress is walking her small dog along the beach while the sun sets slowly behind the hills .",
    "The man reads .",
    "Three young men in blue shirts are sitting on a wooden bench and talking about the game .",
]
SOURCES = [
    "Ein Hund rennt im Park .",  # 6 words
    "Zwei Kinder spielen Fußball auf einem grünen Feld nahe der alten Kirche .",  # 13
    "Eine Frau in einem roten Kleid geht mit ihrem kleinen Hund am Strand spazieren , während die Sonne langsam "
    "hinter den Hügeln untergeht .",  # 24
    "Der Mann liest .",  # 4
    "Drei junge Männer in blauen Hemden sitzen auf einer Holzbank und reden über das Spiel .",  # 16
]


def test_identical_hypotheses_score_100() -> None:
    """Hypotheses equal to the references give BLEU, lowercased BLEU and chrF of exactly 100."""
    scores = corpus_scores(REFERENCES, REFERENCES)
    assert scores["bleu"] == 100.0
    assert scores["bleu_lc"] == 100.0
    assert scores["chrf"] == 100.0
    assert scores["num_sentences"] == len(REFERENCES)
    assert sentence_chrf(REFERENCES[0], REFERENCES[0]) == 100.0


def test_wrong_hypotheses_score_lower() -> None:
    """Shuffled hypotheses score well below 100, and casing errors only hurt the cased BLEU."""
    shuffled = corpus_scores(REFERENCES[1:] + REFERENCES[:1], REFERENCES)
    assert shuffled["bleu"] < 20 and shuffled["chrf"] < 50
    lowered = corpus_scores([r.lower() for r in REFERENCES], REFERENCES)
    assert lowered["bleu_lc"] == 100.0
    assert lowered["bleu"] < 100.0
    assert sentence_chrf("A cat sleeps .", REFERENCES[0]) < 100.0


def test_signatures_are_present() -> None:
    """Every score comes with its sacreBLEU signature; the lowercased BLEU's says so."""
    signatures = corpus_scores(REFERENCES, REFERENCES)["signatures"]
    assert set(signatures) == {"bleu", "bleu_lc", "chrf"}
    assert "nrefs:1" in signatures["bleu"] and "case:mixed" in signatures["bleu"]
    assert "case:lc" in signatures["bleu_lc"]
    assert "nrefs:1" in signatures["chrf"]


def test_length_buckets_partition_the_sentences() -> None:
    """By-length rows follow LENGTH_BUCKETS order, skip empty buckets, and their sizes add up to the corpus size."""
    rows = scores_by_length(SOURCES, REFERENCES, REFERENCES)
    labels = [row["bucket"] for row in rows]
    assert labels == ["1-10", "11-15", "16-20", "21-25"]  # no source has 26+ words
    assert labels == [label for label, _, _ in LENGTH_BUCKETS if label in labels]
    assert [row["num_sentences"] for row in rows] == [2, 1, 1, 1]
    assert sum(row["num_sentences"] for row in rows) == len(SOURCES)
    assert all(row["bleu"] == 100.0 and row["chrf"] == 100.0 for row in rows)


def test_length_buckets_cover_all_lengths() -> None:
    """The buckets are contiguous from 1 word upwards, so every non-empty sentence lands in exactly one."""
    assert LENGTH_BUCKETS[0][1] == 1
    for (_, _, high), (_, low, _) in itertools.pairwise(LENGTH_BUCKETS):
        assert low == high + 1
    long_sources = [" ".join(["w"] * n) for n in (1, 10, 11, 25, 26, 40)]
    rows = scores_by_length(long_sources, ["x"] * 6, ["x"] * 6)
    assert sum(row["num_sentences"] for row in rows) == 6
    assert rows[-1]["bucket"] == "26+" and rows[-1]["num_sentences"] == 2


def test_evaluate_translations_combines_both() -> None:
    """evaluate_translations returns the corpus scores plus the by-length rows."""
    result = evaluate_translations(SOURCES, REFERENCES, REFERENCES)
    assert result["bleu"] == 100.0
    assert sum(row["num_sentences"] for row in result["by_length"]) == len(SOURCES)


# --- values checked against sacreBLEU called directly -----------------------------------------------------------

# Hypotheses that differ from their references, by different amounts, so every score is below 100 and they differ.
HYPOTHESES = [
    "A dog runs through the park .",
    "Two children play football on a green field near an old church .",
    "A woman in a red dress walks her small dog along the beach while the sun sets behind the hills .",
    "The man is reading .",
    "Three men in blue shirts sit on a bench and talk about the game .",
]


def _sacrebleu(hypotheses: list[str], references: list[str]) -> tuple[float, float]:
    """BLEU and chrF of a corpus, straight from sacreBLEU, rounded as metrics.json stores them."""
    from sacrebleu.metrics import BLEU, CHRF

    refs = [references]
    return round(BLEU().corpus_score(hypotheses, refs).score, 2), round(CHRF().corpus_score(hypotheses, refs).score, 2)


def test_corpus_scores_equal_sacrebleu_for_imperfect_hypotheses() -> None:
    """BLEU, lowercased BLEU and chrF equal sacreBLEU's own numbers (default 13a tokenizer, exp smoothing, chrF with
    character 6-grams and no word n-grams), and the signatures are sacreBLEU's for those settings."""
    from sacrebleu.metrics import BLEU, CHRF

    mixed_case = [h.upper() if i % 3 == 0 else h for i, h in enumerate(HYPOTHESES)]  # lowercasing must matter
    scores = corpus_scores(mixed_case, REFERENCES)
    bleu, chrf = _sacrebleu(mixed_case, REFERENCES)
    assert (scores["bleu"], scores["chrf"]) == (bleu, chrf)
    bleu_lc = BLEU(lowercase=True)
    assert scores["bleu_lc"] == round(bleu_lc.corpus_score(mixed_case, [REFERENCES]).score, 2)
    assert 0 < scores["bleu"] < scores["bleu_lc"] < 100
    reference_metrics = {"bleu": BLEU(), "bleu_lc": bleu_lc, "chrf": CHRF()}
    for metric in reference_metrics.values():
        metric.corpus_score(HYPOTHESES, [REFERENCES])
    assert scores["signatures"] == {name: str(m.get_signature()) for name, m in reference_metrics.items()}
    assert "tok:13a" in scores["signatures"]["bleu"] and "smooth:exp" in scores["signatures"]["bleu"]
    assert "nc:6" in scores["signatures"]["chrf"] and "nw:0" in scores["signatures"]["chrf"]
    assert scores["num_sentences"] == len(HYPOTHESES)


def test_sentence_chrf_equals_sacrebleu() -> None:
    """Sentence chrF is sacreBLEU's sentence score against the one reference, rounded to 2 decimals."""
    from sacrebleu.metrics import CHRF

    for hypothesis, reference in zip(HYPOTHESES, REFERENCES, strict=True):
        expected = round(CHRF().sentence_score(hypothesis, [reference]).score, 2)
        assert sentence_chrf(hypothesis, reference) == expected
        assert 0 < expected < 100


def test_scores_by_length_equal_sacrebleu_on_each_bucket() -> None:
    """Each bucket's BLEU and chrF are sacreBLEU's scores of exactly that bucket's hypotheses against exactly that
    bucket's references (hypotheses differ from their references, so a table that ignored them would show 100)."""
    rows = scores_by_length(SOURCES, HYPOTHESES, REFERENCES)
    buckets = {"1-10": [0, 3], "11-15": [1], "16-20": [4], "21-25": [2]}  # from the word counts of SOURCES
    assert [row["bucket"] for row in rows] == list(buckets)
    for row, (label, idx) in zip(rows, buckets.items(), strict=True):
        bleu, chrf = _sacrebleu([HYPOTHESES[i] for i in idx], [REFERENCES[i] for i in idx])
        assert row == {"bucket": label, "num_sentences": len(idx), "bleu": bleu, "chrf": chrf}
    assert len({row["bleu"] for row in rows}) == len(rows) and all(row["bleu"] < 100 for row in rows)
    assert evaluate_translations(SOURCES, HYPOTHESES, REFERENCES)["by_length"] == rows


@pytest.mark.parametrize(
    ("words", "bucket"),
    [(1, "1-10"), (10, "1-10"), (11, "11-15"), (15, "11-15"), (16, "16-20"), (20, "16-20"), (21, "21-25"),
     (25, "21-25"), (26, "26+"), (300, "26+")],
)  # fmt: skip
def test_bucket_boundaries_are_inclusive(words: int, bucket: str) -> None:
    """A source of ``words`` whitespace-separated words (any spacing) lands in exactly the bucket its label names."""
    source = "  ".join(["Wort"] * words)
    rows = scores_by_length([source, "ein zwei"], ["a b c d", "x y"], ["a b c d", "x y"])
    found = {row["bucket"]: row["num_sentences"] for row in rows}
    if bucket == "1-10":
        assert found == {"1-10": 2}
    else:
        assert found == {"1-10": 1, bucket: 1}
