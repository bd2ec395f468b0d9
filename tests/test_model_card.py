"""Unit tests for attention_demo.model_card: the card shows what metrics.json holds, and is refreshed from it."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from attention_demo.model_card import build_model_card, refresh_model_card
from attention_demo.model_repo import METRICS_FILE, MODEL_CARD_FILE, write_json_atomic


def _scores(bleu: float) -> dict:
    signatures = {"bleu": "nrefs:1|case:mixed", "bleu_lc": "nrefs:1|case:lc", "chrf": "nrefs:1|nc:6"}
    return {"bleu": bleu, "bleu_lc": bleu + 0.2, "chrf": bleu + 17, "signatures": signatures, "by_length": []}


def _metrics() -> dict:
    return {
        "dataset": "bentrevett/multi30k",
        "split": "test",
        "source_lang": "de",
        "target_lang": "en",
        "beam_size": 5,
        "models": {"additive": _scores(37.5), "baseline": _scores(28.25)},
    }


ALIGNMENT = {
    "aligner": "eflomal 2.0.0 (grow-diag-final-and)",
    "diagonal": {"aer": 0.43, "precision": 0.49, "recall": 0.56},
    "models": {
        "additive": {
            "reference": {"aer": 0.41, "precision": 0.52, "recall": 0.61, "eos_sink": 0.372},
            "translation": {"aer": 0.39},
        }
    },
}


def test_card_without_alignment_has_no_alignment_section() -> None:
    card = str(build_model_card(_metrics(), "someone/models"))
    assert "| additive | 37.5 | 37.7 | 54.5 |" in card and "| baseline | 28.25 |" in card
    assert "Does attention align words?" not in card


def test_refreshed_card_adds_the_alignment_table_and_keeps_the_repo_id(tmp_path: Path) -> None:
    metrics = _metrics()
    write_json_atomic(tmp_path / METRICS_FILE, metrics)
    build_model_card(metrics, "someone/models").save(tmp_path / MODEL_CARD_FILE)
    write_json_atomic(tmp_path / METRICS_FILE, {**metrics, "alignment": ALIGNMENT})
    assert refresh_model_card(tmp_path) == tmp_path / MODEL_CARD_FILE
    card = ModelCard.load(tmp_path / MODEL_CARD_FILE)
    assert card.data.model_name == "someone/models"
    assert "| additive | 0.41 | 0.52 | 0.61 | 37% | 0.39 |" in card.text
    assert "| a straight diagonal | 0.43 | 0.49 | 0.56 |  |  |" in card.text
    assert "AER (two-way)" not in card.text  # no model has a twin
    assert "eflomal 2.0.0 (grow-diag-final-and)" in card.text


def test_refresh_without_a_card_or_scores_writes_nothing(tmp_path: Path) -> None:
    assert refresh_model_card(tmp_path) is None
    write_json_atomic(tmp_path / METRICS_FILE, {"alignment": ALIGNMENT})
    (tmp_path / MODEL_CARD_FILE).write_text("a hand-written card\n", encoding="utf-8")
    assert refresh_model_card(tmp_path) is None
    assert (tmp_path / MODEL_CARD_FILE).read_text(encoding="utf-8") == "a hand-written card\n"


def test_card_names_the_agreement_models_and_the_two_way_scores() -> None:
    """An agreement-trained model is said to be one (its base design, the weight, both directions, no labels), and an
    alignment section with twins gets the twin's and the two-way AER columns."""
    metrics = _metrics()
    metrics["models"]["general-agreement"] = {**_scores(39.0), "agreement_weight": 5.0}
    twin = {"reverse": {"aer": 0.3}, "two_way": {"aer": 0.22}}
    alignment = {**ALIGNMENT, "models": {**ALIGNMENT["models"], "general-agreement": {
        "reference": {"aer": 0.25, "precision": 0.7, "recall": 0.8, "eos_sink": 0.01}, "translation": {"aer": 0.2},
        **twin,
    }}}  # fmt: skip
    card = str(build_model_card({**metrics, "alignment": alignment}, "someone/models"))
    assert "`general-agreement` is `general` trained **jointly with its en -> de twin**" in card
    assert "adds 5.0 x the mean squared difference" in card and "No alignment labels are used" in card
    assert "| general-agreement | 0.25 | 0.7 | 0.8 | 1% | 0.2 | 0.3 | 0.22 |" in card
    assert "| additive | 0.41 | 0.52 | 0.61 | 37% | 0.39 | - | - |" in card
    assert "jointly" not in str(build_model_card(_metrics(), "someone/models"))
