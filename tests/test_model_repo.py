"""Unit tests for attention_demo.model_repo's file functions: model order, tokenizer files, optional JSON files and the
example sentences. (Loading and saving models is tested in test_hub.py.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from attention_demo.model import BASELINE, MODEL_NAMES
from attention_demo.model_repo import (
    TEST_EXAMPLES_FILE,
    checkpoint_file,
    load_tokenizers,
    model_names,
    read_optional_json,
    read_test_examples,
    save_tokenizer,
)
from attention_demo.tokenizer import encode, train_tokenizer


def test_model_names_follow_model_names_order_with_unknown_names_last(tmp_path: Path) -> None:
    """Subfolders with a config.json are models, listed in MODEL_NAMES order, other names after them alphabetically;
    folders without config.json and the checkpoints folder are not models."""
    for name in ["zeta", BASELINE, *reversed(MODEL_NAMES[:-1]), "alpha", "checkpoints"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    assert model_names(tmp_path) == [*MODEL_NAMES, "alpha", "zeta"]


def test_tokenizers_round_trip_through_the_folder(tmp_path: Path) -> None:
    """save_tokenizer writes tokenizer.<lang>.json (nothing temporary left behind); load_tokenizers reads the source
    and the target tokenizer back in that order."""
    german = train_tokenizer(["ein hund .", "eine katze !"] * 5, vocab_size=40, min_frequency=1)
    english = train_tokenizer(["a dog .", "a cat !"] * 5, vocab_size=40, min_frequency=1)
    assert save_tokenizer(german, tmp_path / "out", "de") == tmp_path / "out" / "tokenizer.de.json"
    save_tokenizer(english, tmp_path / "out", "en")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tokenizer.de.json", "tokenizer.en.json"]
    source, target = load_tokenizers(tmp_path / "out", "de", "en")
    assert source.get_vocab() == german.get_vocab() and target.get_vocab() == english.get_vocab()
    assert encode(target, "a cat .") == encode(english, "a cat .")
    with pytest.raises(FileNotFoundError, match="tokenizer.fr.json"):
        load_tokenizers(tmp_path / "out", "de", "fr")


def test_checkpoint_file_is_under_the_checkpoints_folder(tmp_path: Path) -> None:
    assert checkpoint_file(tmp_path, "dot") == tmp_path / "checkpoints" / "dot.pt"


def test_read_optional_json_is_none_if_missing_or_unreadable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Content when readable; None when missing (silently) or damaged (with a warning that names the file)."""
    good, broken, binary = tmp_path / "good.json", tmp_path / "broken.json", tmp_path / "binary.json"
    good.write_text(json.dumps({"models": {"dot": 1}}), encoding="utf-8")
    broken.write_text("{not json", encoding="utf-8")
    binary.write_bytes(b"\xff\xfe\x00")
    with caplog.at_level(logging.WARNING, logger="attention_demo.model_repo"):
        assert read_optional_json(good) == {"models": {"dot": 1}}
        assert read_optional_json(tmp_path / "missing.json") is None
        assert not caplog.records
        assert read_optional_json(broken) is None
        assert read_optional_json(binary) is None
    assert [str(broken) in r.getMessage() for r in caplog.records] == [True, False]
    assert str(binary) in caplog.records[1].getMessage()


def test_read_test_examples_accepts_both_layouts_and_skips_bad_rows(tmp_path: Path) -> None:
    """Rows {de, en} (as train.py writes them) or {source, reference}; rows without a source are skipped, sources
    are stripped, a non-string reference becomes None."""
    rows = [
        {"de": " Ein Hund . ", "en": "A dog ."},
        {"source": "Eine Katze .", "reference": "A cat ."},
        {"de": "Ein Vogel ."},
        {"de": "   ", "en": "blank source"},
        {"en": "no source"},
        "not a row",
        {"de": "Ein Pferd .", "en": 3},
    ]
    (tmp_path / TEST_EXAMPLES_FILE).write_text(json.dumps(rows), encoding="utf-8")
    assert read_test_examples(tmp_path, "de", "en") == [
        {"source": "Ein Hund .", "reference": "A dog ."},
        {"source": "Eine Katze .", "reference": "A cat ."},
        {"source": "Ein Vogel .", "reference": None},
        {"source": "Ein Pferd .", "reference": None},
    ]


@pytest.mark.parametrize("content", [None, "{broken", '{"de": "not a list"}'])
def test_read_test_examples_without_a_usable_file_is_empty(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / TEST_EXAMPLES_FILE).write_text(content, encoding="utf-8")
    assert read_test_examples(tmp_path, "de", "en") == []
