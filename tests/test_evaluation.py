"""Unit tests for attention_demo.evaluation: sacreBLEU scores, signatures and by-length buckets."""

from __future__ import annotations

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
    for (_, _, high), (_, low, _) in zip(LENGTH_BUCKETS, LENGTH_BUCKETS[1:]):
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
