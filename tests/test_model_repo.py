"""Unit tests for attention_demo.model_repo's file functions: model order, tokenizer files, optional JSON files, the
example sentences, and the schema of the JSON files (metrics.json's sections, history, attention evolution, aligner
links): round trips, tolerant readers, writers that keep each other's parts, stale entries. (Loading and saving models
is tested in test_hub.py.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from attention_demo.model import BASELINE, MODEL_NAMES
from attention_demo.model_repo import (
    ABLATIONS_KEY,
    ALIGNMENT_KEY,
    ALIGNMENT_LINKS_FILE,
    ATTENTION_EVOLUTION_FILE,
    EVIDENCE_KEY,
    HISTORY_FILE,
    KEPT_ON_REWRITE,
    METRICS_FILE,
    MODELS_KEY,
    RUN_FIELDS,
    TEST_EXAMPLES_FILE,
    AttentionEvolution,
    checkpoint_file,
    drop_stale_entries,
    get_dict,
    load_tokenizers,
    model_names,
    read_alignment_links,
    read_attention_evolution,
    read_history,
    read_metrics,
    read_optional_json,
    read_test_examples,
    record_attention_evolution,
    record_history,
    record_test_scores,
    save_tokenizer,
    update_metrics,
    write_alignment_links,
    write_metrics_section,
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


# --- the JSON files' schema -------------------------------------------------------------------------------------------

SCORES = {"bleu": 30.0, "chrf": 50.0, "by_length": [{"bucket": "1-10", "num_sentences": 3, "bleu": 31.0}]}
RUN = {"dataset": "tiny", "split": "test", "source_lang": "de", "target_lang": "en", "beam_size": 5}


def evidence_section(*names: str) -> dict:
    agreement = {"attention_vs_saliency": {"kendall_tau": {"mean": 0.4}, "top1": {"mean": 0.6}}}
    return {"num_sentences": 3, "models": {name: {"agreement": agreement} for name in names}}


def alignment_section(*names: str) -> dict:
    return {
        "diagonal": {"aer": 0.43},
        "models": {name: {"reference": {"aer": 0.3}, "translation": {"aer": 0.28}} for name in names},
    }


def test_metrics_sections_round_trip_and_each_writer_keeps_the_others(tmp_path: Path) -> None:
    """Training's scores, the evidence and alignment sections and the ablation rows, written by their own functions
    in any order, read back as written; no writer touches another's part."""
    assert record_test_scores(tmp_path, "dot", SCORES, RUN)[MODELS_KEY] == {"dot": SCORES}
    write_metrics_section(tmp_path, EVIDENCE_KEY, evidence_section("dot"))
    update_metrics(tmp_path, ALIGNMENT_KEY, ABLATIONS_KEY, {"rows": [{"run": "a", "aer": 0.5}, "not a row"]})
    write_metrics_section(tmp_path, ALIGNMENT_KEY, alignment_section("dot"))  # keeps the ablation rows
    record_test_scores(tmp_path, "baseline", {"bleu": 20.0}, {**RUN, "beam_size": 4})
    metrics = read_metrics(tmp_path)
    assert list(metrics.models) == ["dot", "baseline"] and metrics.models["dot"] == SCORES
    assert metrics.content["beam_size"] == 4 and metrics.content["source_lang"] == "de"
    assert metrics.evidence == evidence_section("dot")
    assert metrics.evidence_models["dot"]["agreement"]["attention_vs_saliency"]["top1"] == {"mean": 0.6}
    assert metrics.alignment == {
        **alignment_section("dot"),
        ABLATIONS_KEY: {"rows": [{"run": "a", "aer": 0.5}, "not a row"]},
    }
    assert metrics.alignment_models == alignment_section("dot")["models"]
    assert metrics.ablation_rows == [{"run": "a", "aer": 0.5}]  # rows that are not dicts are left out
    assert list(json.loads((tmp_path / METRICS_FILE).read_text(encoding="utf-8"))) == [
        MODELS_KEY, *RUN, EVIDENCE_KEY, ALIGNMENT_KEY
    ]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == [METRICS_FILE]  # written atomically: nothing temporary left


def test_rewriting_the_alignment_section_keeps_ablations_written_after_it(tmp_path: Path) -> None:
    """The coupling of scripts/ablation_table.py and the alignment command: the rows survive a rewrite, and the
    returned section is what was written."""
    write_metrics_section(tmp_path, ALIGNMENT_KEY, alignment_section("dot"))
    update_metrics(tmp_path, ALIGNMENT_KEY, ABLATIONS_KEY, {"rows": [{"run": "b"}]})
    written = write_metrics_section(tmp_path, ALIGNMENT_KEY, alignment_section("general"))
    assert written == {**alignment_section("general"), ABLATIONS_KEY: {"rows": [{"run": "b"}]}}
    assert read_metrics(tmp_path).alignment == written
    assert KEPT_ON_REWRITE == {ALIGNMENT_KEY: (ABLATIONS_KEY,)}
    write_metrics_section(tmp_path, EVIDENCE_KEY, {"models": {}, ABLATIONS_KEY: 1})
    write_metrics_section(tmp_path, EVIDENCE_KEY, {"models": {}})  # other sections keep nothing
    assert read_metrics(tmp_path).evidence == {"models": {}}


def test_drop_stale_entries_forgets_one_retrained_model(tmp_path: Path) -> None:
    """Retraining ``dot`` drops its evidence and alignment entries; other models', the diagonal, the ablation rows,
    the test scores and alignment_links.json stay."""
    assert drop_stale_entries(tmp_path, "dot") == [] and not (tmp_path / METRICS_FILE).exists()  # nothing to drop
    record_test_scores(tmp_path, "dot", SCORES, RUN)
    write_metrics_section(tmp_path, EVIDENCE_KEY, evidence_section("dot", "baseline"))
    write_metrics_section(tmp_path, ALIGNMENT_KEY, alignment_section("dot", "general"))
    update_metrics(tmp_path, ALIGNMENT_KEY, ABLATIONS_KEY, {"rows": [{"run": "a"}]})
    write_alignment_links(tmp_path, "an aligner", [{"source": "Ein Hund .", "links": "0-0"}])
    links = (tmp_path / ALIGNMENT_LINKS_FILE).read_bytes()
    assert drop_stale_entries(tmp_path, "dot") == [EVIDENCE_KEY, ALIGNMENT_KEY]
    metrics = read_metrics(tmp_path)
    assert list(metrics.evidence_models) == ["baseline"] and list(metrics.alignment_models) == ["general"]
    assert metrics.alignment["diagonal"] == {"aer": 0.43} and metrics.ablation_rows == [{"run": "a"}]
    assert metrics.models == {"dot": SCORES} and metrics.evidence["num_sentences"] == 3
    assert (tmp_path / ALIGNMENT_LINKS_FILE).read_bytes() == links
    assert drop_stale_entries(tmp_path, "dot") == [] and drop_stale_entries(tmp_path, "additive") == []
    assert drop_stale_entries(tmp_path, "baseline") == [EVIDENCE_KEY]


@pytest.mark.parametrize("content", [None, "{broken", "\udcff", "[1, 2]", '"text"'])
def test_readers_tolerate_missing_and_damaged_files(tmp_path: Path, content: str | None) -> None:
    """As before the schema: a missing or damaged file reads as empty (the app shows what it can without it)."""
    for name in (METRICS_FILE, HISTORY_FILE, ATTENTION_EVOLUTION_FILE, ALIGNMENT_LINKS_FILE):
        if content is not None:
            (tmp_path / name).write_bytes(content.encode("utf-8", "surrogateescape"))
    metrics = read_metrics(tmp_path)
    assert metrics.models == {} and metrics.evidence == {} and metrics.alignment == {} and metrics.ablations == {}
    assert metrics.evidence_models == {} and metrics.alignment_models == {} and metrics.ablation_rows == []
    assert read_history(tmp_path) == {}
    assert read_attention_evolution(tmp_path) == AttentionEvolution()
    assert read_alignment_links(tmp_path) == []


def test_readers_keep_the_well_formed_parts(tmp_path: Path) -> None:
    """Sections and entries that are not dicts (and rows that are not lists of dicts) read as missing; the rest is
    read as stored."""
    (tmp_path / METRICS_FILE).write_text('{"models": [1], "evidence": 3, "alignment": null}', encoding="utf-8")
    metrics = read_metrics(tmp_path)
    assert metrics.models == {} and metrics.evidence == {} and metrics.alignment == {} and metrics.ablation_rows == []
    (tmp_path / METRICS_FILE).write_text(
        json.dumps(
            {"models": {"dot": SCORES, "odd": 3}, "alignment": {"models": {"dot": {}, "x": []}, "ablations": 1}}
        ),
        encoding="utf-8",
    )
    metrics = read_metrics(tmp_path)
    assert metrics.models == {"dot": SCORES} and metrics.alignment_models == {"dot": {}} and metrics.ablations == {}
    record_history(tmp_path, "dot", [{"epoch": 1, "val_bleu": 2.0}])
    record_history(tmp_path, "baseline", [{"epoch": 1}])
    (tmp_path / HISTORY_FILE).write_text(
        json.dumps({**json.loads((tmp_path / HISTORY_FILE).read_text(encoding="utf-8")), "odd": {"epoch": 1}}),
        encoding="utf-8",
    )
    assert read_history(tmp_path) == {"dot": [{"epoch": 1, "val_bleu": 2.0}], "baseline": [{"epoch": 1}]}


def test_attention_evolution_and_links_round_trip(tmp_path: Path) -> None:
    """The snapshot sentences are the run's (the last writer's); a model without snapshots (the baseline) keeps no
    entry and leaves the others."""
    snapshot = {"epoch": 1, "translations": [{"source_pieces": ["▁a"], "target_pieces": ["▁b"], "attention": [[1.0]]}]}
    record_attention_evolution(tmp_path, "dot", ["Ein Hund ."], [snapshot])
    record_attention_evolution(tmp_path, "baseline", ["Ein Hund .", "Eine Katze ."], [])
    assert read_attention_evolution(tmp_path) == AttentionEvolution(["Ein Hund .", "Eine Katze ."], {"dot": [snapshot]})
    rows = [
        {"source": "Ein Hund .", "source_words": ["Ein", "Hund", "."], "target_words": ["A", "dog"], "links": "0-0"}
    ]
    write_alignment_links(tmp_path, "eflomal", rows)
    assert read_alignment_links(tmp_path) == rows
    assert json.loads((tmp_path / ALIGNMENT_LINKS_FILE).read_text(encoding="utf-8"))["aligner"] == "eflomal"


@pytest.mark.parametrize("content", ["{broken", "[1, 2]"])
def test_writers_refuse_to_overwrite_a_file_they_cannot_read(tmp_path: Path, content: str) -> None:
    """A damaged metrics.json is never replaced (it would lose what it holds): the writer raises and the file stays."""
    path = tmp_path / METRICS_FILE
    path.write_text(content, encoding="utf-8")
    writes = [
        lambda: record_test_scores(tmp_path, "dot", SCORES, RUN),
        lambda: write_metrics_section(tmp_path, EVIDENCE_KEY, {}),
        lambda: update_metrics(tmp_path, ALIGNMENT_KEY, ABLATIONS_KEY, {}),
        lambda: drop_stale_entries(tmp_path, "dot"),
    ]
    for write in writes:
        with pytest.raises(ValueError):
            write()
    assert path.read_text(encoding="utf-8") == content


def test_record_test_scores_refuses_fields_outside_the_schema(tmp_path: Path) -> None:
    assert set(RUN) <= set(RUN_FIELDS)
    with pytest.raises(ValueError, match="Not run fields of metrics.json: colour"):
        record_test_scores(tmp_path, "dot", SCORES, {**RUN, "colour": "red"})
    assert not (tmp_path / METRICS_FILE).exists()


def test_get_dict_reads_nested_dicts_tolerantly() -> None:
    content = {"a": {"b": {"c": 1}, "list": [1]}}
    assert get_dict(content, "a", "b") == {"c": 1}
    assert get_dict(content, "a", "b") is content["a"]["b"]  # the stored dict itself, so a writer can change it
    assert get_dict(content, "a", "list") == {} and get_dict(content, "a", "missing", "c") == {}
    assert get_dict(None) == {} and get_dict([1], "a") == {} and get_dict(content) is content
