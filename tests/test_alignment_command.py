"""The alignment command's success path: ``python -m attention_demo.alignment`` on the tiny trained folder, with the
real word aligner (eflomal, a test requirement). The links it stores and the attention models' teacher-forced
attention give its AER again by hand; what other commands stored (ablation rows, evidence) and the model card
survive."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_MODELS, run_subprocess, teacher_forced
from huggingface_hub import ModelCard

from attention_demo.alignment import alignment_scores, two_way_links
from attention_demo.inspection import word_spans
from attention_demo.model import BASELINE
from attention_demo.model_card import build_model_card
from attention_demo.model_repo import ALIGNMENT_LINKS_FILE, METRICS_FILE, read_json, write_json_atomic
from attention_demo.tokenizer import EOS, encode, pieces
from attention_demo.translate import Translator

REPO_ID = "someone/tiny-aligned"  # the card's repo id, which the refreshed card must keep
ABLATIONS = {
    "model": "additive",
    "budget": "same seed, data, tokenizers and epochs for every run (scripts/ablations.sh)",
    "diagonal_aer": 0.61,
    "rows": [{"run": "no_summary_input", "aer": 0.42, "bleu": 30.1}, {"run": "null_slot", "aer": 0.39, "bleu": 29.8}],
}  # as scripts/ablation_table.py --write_to stores them
EVIDENCE = {"num_sentences": 3, "models": {"additive": {"agreement": {}}}}  # another command's section


def linked_words(piece_strings: list[str]) -> tuple[list[str], list[list[int]]]:
    """The words of a piece sequence (the app's grouping) and each word's piece indices."""
    spans = word_spans(piece_strings)
    return [word for word, _ in spans], [indices for _, indices in spans]


def links_by_hand(attention: np.ndarray, source_pieces: list[str], target_pieces: list[str]) -> set[tuple[int, int]]:
    """Each target word linked to the source word with the largest weight, ``</s>`` never: source columns summed
    per word, target rows averaged per word."""
    _, source_groups = linked_words(source_pieces)
    _, target_groups = linked_words(target_pieces)
    assert source_pieces[source_groups[-1][0]] == EOS  # the last source "word" is </s>
    links = set()
    for i, rows in enumerate(target_groups):
        row = attention[rows].mean(axis=0)
        per_word = [row[columns].sum() for columns in source_groups[:-1]]
        links.add((int(np.argmax(per_word)), i))
    return links


@pytest.fixture(scope="module")
def aligned(tmp_path_factory: pytest.TempPathFactory, tiny_model_folder: Path, tiny_dataset: Path) -> Path:
    """A copy of the tiny folder with ablation rows, an evidence section and a card under REPO_ID, after
    ``python -m attention_demo.alignment`` ran on it."""
    folder = tmp_path_factory.mktemp("alignment-command") / "models"
    shutil.copytree(tiny_model_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    metrics = read_json(folder / METRICS_FILE)
    metrics["alignment"] = {"ablations": ABLATIONS}
    metrics["evidence"] = EVIDENCE
    write_json_atomic(folder / METRICS_FILE, metrics)
    build_model_card(metrics, REPO_ID).save(folder / "README.md")
    command = [sys.executable, "-m", "attention_demo.alignment", "--model", str(folder)]
    result = run_subprocess([*command, "--dataset_name", str(tiny_dataset), "--beam_size", "2"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "diagonal: AER" in result.stdout and f"written to {folder}/metrics.json" in result.stdout
    return folder


def test_alignment_command_scores_every_attention_model(aligned: Path, tiny_dataset: Path) -> None:
    """metrics.json gets the alignment of every attention model (none for the baseline), on the 20 test sentences,
    whose reference links are stored one row per test pair."""
    alignment = read_json(aligned / METRICS_FILE)["alignment"]
    assert set(alignment["models"]) == {name for name in TINY_MODELS if name != BASELINE}
    assert alignment["num_sentences"] == 20 and alignment["beam_size"] == 2
    for numbers in alignment["models"].values():
        assert {"reference", "translation", "translation_diagonal"} <= set(numbers)
        assert 0.0 <= numbers["reference"]["aer"] <= 1.0
    test = [json.loads(line) for line in (tiny_dataset / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = read_json(aligned / ALIGNMENT_LINKS_FILE)["sentences"]
    assert [row["source"] for row in rows] == [pair["de"] for pair in test]


@pytest.mark.parametrize("name", ["additive", "dot"])
def test_reference_aer_recomputed_from_the_links_and_the_teacher_forced_attention(
    aligned: Path, tiny_dataset: Path, name: str
) -> None:
    """Reading each test reference with teacher forcing (one plain forward pass per sentence), linking each target
    word to its most attended source word, and scoring against alignment_links.json's links by hand (summed over the
    corpus: P = hits / |A|, R = hits / |G|, AER = 1 - 2 hits / (|A| + |G|)) gives metrics.json's numbers."""
    translator = Translator(aligned, [name])
    model, src_tok, tgt_tok = translator.models[name], translator.src_tokenizer, translator.tgt_tokenizer
    test = [json.loads(line) for line in (tiny_dataset / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = read_json(aligned / ALIGNMENT_LINKS_FILE)["sentences"]
    hits = predicted = gold = 0
    for pair, row in zip(test, rows, strict=True):
        src_ids, tgt_ids = translator.source_ids(pair["de"])[0], encode(tgt_tok, pair["en"])
        source_pieces, target_pieces = pieces(src_tok, src_ids), pieces(tgt_tok, tgt_ids)
        assert linked_words(source_pieces)[0][:-1] == row["source_words"]  # the links index these words
        assert linked_words(target_pieces)[0] == row["target_words"]
        _, attention = teacher_forced(model, src_ids, tgt_ids)
        found = links_by_hand(attention.numpy(), source_pieces, target_pieces)
        reference = {tuple(int(k) for k in link.split("-")) for link in row["links"].split()}
        hits, predicted, gold = hits + len(found & reference), predicted + len(found), gold + len(reference)
    stored = read_json(aligned / METRICS_FILE)["alignment"]["models"][name]["reference"]
    assert (stored["links"], stored["gold_links"]) == (predicted, gold)
    assert stored["precision"] == pytest.approx(hits / predicted, abs=1e-4)
    assert stored["recall"] == pytest.approx(hits / gold, abs=1e-4)
    assert stored["aer"] == pytest.approx(1 - 2 * hits / (predicted + gold), abs=1e-4)


def test_ablation_rows_other_sections_and_the_card_survive(aligned: Path, tiny_model_folder: Path) -> None:
    """The ablation rows that scripts/ablation_table.py stored, another command's section and the test scores stay
    as they were; the card keeps its repo id and its results and gains the alignment table."""
    metrics = read_json(aligned / METRICS_FILE)
    assert metrics["alignment"]["ablations"] == ABLATIONS
    assert metrics["evidence"] == EVIDENCE
    assert metrics["models"] == read_json(tiny_model_folder / METRICS_FILE)["models"]
    card = ModelCard.load(aligned / "README.md")
    assert card.data.model_name == REPO_ID
    reported = {result.metric_name: result.metric_value for result in card.data.eval_results}
    assert reported == {
        f"{measure} ({name})": metrics["models"][name][key]
        for name in TINY_MODELS
        for measure, key in (("BLEU", "bleu"), ("chrF", "chrf"))
    }
    assert "## Does attention align words?" in card.text
    for name, numbers in metrics["alignment"]["models"].items():
        assert f"| {name} | {numbers['reference']['aer']} |" in card.text


@pytest.fixture(scope="module")
def two_way(tmp_path_factory: pytest.TempPathFactory, tiny_model_folder: Path, tiny_reverse_folder: Path,
            tiny_dataset: Path) -> Path:  # fmt: skip
    """A copy of the tiny de->en folder after the alignment command ran on it with ``--reverse_model`` (the tiny
    en->de folder, whose only attention model is ``general``)."""
    folder = tmp_path_factory.mktemp("alignment-two-way") / "models"
    shutil.copytree(tiny_model_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    command = [sys.executable, "-m", "attention_demo.alignment", "--model", str(folder), "--beam_size", "2"]
    result = run_subprocess(
        [*command, "--dataset_name", str(tiny_dataset), "--reverse_model", str(tiny_reverse_folder)]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "two-way AER" in result.stdout
    return folder


def test_two_way_aer_recomputed_from_both_directions(
    two_way: Path, tiny_reverse_folder: Path, tiny_dataset: Path
) -> None:
    """Only ``general`` has a twin in the en->de folder, so only it gets ``reverse`` and ``two_way``. Reading each
    test pair both ways by teacher forcing, linking each word by hand in each direction, transposing the twin's links
    and symmetrising them with grow-diag-final-and gives the stored scores (and the twin's own AER against the same,
    transposed, aligner links)."""
    models = read_json(two_way / METRICS_FILE)["alignment"]["models"]
    assert {name for name, numbers in models.items() if "two_way" in numbers} == {"general"}
    forward_translator, backward_translator = (
        Translator(two_way, ["general"]),
        Translator(tiny_reverse_folder, ["general"]),
    )
    de_tok, en_tok = forward_translator.src_tokenizer, forward_translator.tgt_tokenizer
    test = [json.loads(line) for line in (tiny_dataset / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = read_json(two_way / ALIGNMENT_LINKS_FILE)["sentences"]
    combined, backward_links, both, gold = [], [], [], []
    for pair, row in zip(test, rows, strict=True):
        de_ids, en_ids = forward_translator.source_ids(pair["de"])[0], encode(en_tok, pair["en"])
        _, attention = teacher_forced(forward_translator.models["general"], de_ids, en_ids)
        forward = links_by_hand(attention.numpy(), pieces(de_tok, de_ids), pieces(en_tok, en_ids))
        en_src, de_ref = backward_translator.source_ids(pair["en"])[0], encode(de_tok, pair["de"])
        _, attention = teacher_forced(backward_translator.models["general"], en_src, de_ref)
        backward = links_by_hand(attention.numpy(), pieces(en_tok, en_src), pieces(de_tok, de_ref))
        combined.append(two_way_links(forward, backward))
        backward_links.append({(i, j) for j, i in backward})  # as (de word, en word)
        both.append(forward & backward_links[-1])  # the links both directions make (the app's rings)
        gold.append({tuple(int(k) for k in link.split("-")) for link in row["links"].split()})
    stored = models["general"]
    assert stored["two_way"]["mismatched"] == 0
    for key, value in alignment_scores(combined, gold).items():
        assert stored["two_way"][key] == pytest.approx(value, abs=1e-4), key
    assert stored["reverse"]["aer"] == pytest.approx(alignment_scores(backward_links, gold)["aer"], abs=1e-4)
    for key, value in alignment_scores(both, gold).items():
        assert stored["agreed"][key] == pytest.approx(value, abs=1e-4), key


def test_a_reverse_folder_of_the_same_direction_is_refused(
    tiny_model_folder: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    shutil.copytree(tiny_model_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    command = [sys.executable, "-m", "attention_demo.alignment", "--model", str(folder), "--dataset_name"]
    result = run_subprocess([*command, str(tiny_dataset), "--reverse_model", str(tiny_model_folder)])
    assert result.returncode == 1 and "give the folder of the other direction" in result.stderr
