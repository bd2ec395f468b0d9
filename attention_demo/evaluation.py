"""Evaluation with sacreBLEU: corpus BLEU and chrF with their signatures, overall and by source length.

Scores are computed on detokenized, cased text against the raw references, as sacreBLEU intends, so numbers are
comparable across tokenizers. The lowercased BLEU (``-lc``) is reported too because Multi30k tutorials usually
report lowercased scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU, CHRF

# Source-length buckets in words: (label, lowest, highest) inclusive.
LENGTH_BUCKETS: list[tuple[str, int, int]] = [
    ("1-10", 1, 10),
    ("11-15", 11, 15),
    ("16-20", 16, 20),
    ("21-25", 21, 25),
    ("26+", 26, 10**9),
]


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """BLEU, lowercased BLEU and chrF of a corpus, with sacreBLEU signatures."""
    refs = [list(references)]
    bleu, bleu_lc, chrf = BLEU(), BLEU(lowercase=True), CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), refs)
    bleu_lc_score = bleu_lc.corpus_score(list(hypotheses), refs)
    chrf_score = chrf.corpus_score(list(hypotheses), refs)
    return {
        "bleu": round(bleu_score.score, 2),
        "bleu_lc": round(bleu_lc_score.score, 2),
        "chrf": round(chrf_score.score, 2),
        "num_sentences": len(hypotheses),
        "signatures": {
            "bleu": str(bleu.get_signature()),
            "bleu_lc": str(bleu_lc.get_signature()),
            "chrf": str(chrf.get_signature()),
        },
    }


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """Sentence-level chrF (used by the app next to a test sentence's reference)."""
    return round(CHRF().sentence_score(hypothesis, [reference]).score, 2)


def scores_by_length(sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str]) -> list[dict]:
    """BLEU and chrF per source-length bucket (in whitespace-separated words); empty buckets are skipped."""
    rows = []
    lengths = [len(s.split()) for s in sources]
    for label, low, high in LENGTH_BUCKETS:
        idx = [i for i, n in enumerate(lengths) if low <= n <= high]
        if not idx:
            continue
        refs = [[references[i] for i in idx]]
        hyps = [hypotheses[i] for i in idx]
        rows.append(
            {
                "bucket": label,
                "num_sentences": len(idx),
                "bleu": round(BLEU().corpus_score(hyps, refs).score, 2),
                "chrf": round(CHRF().corpus_score(hyps, refs).score, 2),
            }
        )
    return rows


def evaluate_translations(sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Everything ``metrics.json`` stores for one model and split."""
    return {**corpus_scores(hypotheses, references), "by_length": scores_by_length(sources, hypotheses, references)}
