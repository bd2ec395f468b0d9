"""The app's "attention against a word aligner" view: rings where the aligner's links are, scores recomputed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from attention_demo.alignment import alignment_scores, attention_links, words
from attention_demo.data import decoder_input, pad
from attention_demo.inspection import merge_attention
from attention_demo.model_repo import ALIGNMENT_LINKS_FILE, METRICS_FILE, read_json, write_json_atomic
from attention_demo.tokenizer import EOS_ID, encode, pieces
from attention_demo.translate import Translator
from attention_demo.ui import text
from attention_demo.ui.demo import DEFAULT_ATTENTION, AttentionDemo
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.tabs import why as why_tab


@pytest.fixture(scope="module")
def aligned_folder(tmp_path_factory: pytest.TempPathFactory, tiny_model_folder: Path) -> Path:
    """The session's tiny models plus hand-made aligner links for their first two test examples and alignment
    metrics."""
    folder = tmp_path_factory.mktemp("aligned") / "models"
    shutil.copytree(tiny_model_folder, folder)
    translator = Translator(folder)
    demo = AttentionDemo(translator)
    rows = []
    for example in demo.examples[:2]:
        source = words(pieces(translator.src_tokenizer, translator.source_ids(str(example["source"]))[0]))
        target = words(pieces(translator.tgt_tokenizer, encode(translator.tgt_tokenizer, str(example["reference"]))))
        links = " ".join(f"{min(i, len(source) - 1)}-{i}" for i in range(len(target)))  # a diagonal, by hand
        rows.append({"source": example["source"], "source_words": source, "target_words": target, "links": links})
    write_json_atomic(folder / ALIGNMENT_LINKS_FILE, {"sentences": rows})
    metrics = read_json(folder / METRICS_FILE)
    metrics["alignment"] = {
        "diagonal": {"aer": 0.43, "precision": 0.6, "recall": 0.5},
        "models": {
            "additive": {
                "reference": {
                    "aer": 0.4,
                    "precision": 0.55,
                    "recall": 0.6,
                    "eos_sink": 0.2,
                    "last_word": 0.05,
                    "mean_max_weight": 0.45,
                },
                "translation": {"aer": 0.41},
            }
        },  # fmt: skip
        "ablations": {
            "rows": [
                {
                    "variant": "today",
                    "eos_sink": 0.39,
                    "null": 0.0,
                    "last_word": 0.06,
                    "mean_max_weight": 0.4,
                    "aer": 0.59,
                    "bleu": 28.55,
                }
            ]
        },
    }
    write_json_atomic(folder / METRICS_FILE, metrics)
    return folder


def test_aligner_view_rings_the_links_and_scores_the_sentence(aligned_folder: Path) -> None:
    demo = AttentionDemo(Translator(aligned_folder))
    assert [label for label, _ in why_tab.aligner_choices(demo)] == [str(e["source"]) for e in demo.examples[:2]]
    stored = read_json(aligned_folder / ALIGNMENT_LINKS_FILE)["sentences"][1]
    view = why_tab.aligner_view(demo, "additive", 1)
    heatmap = view.heatmap
    expected_rings = sorted((int(i), int(j)) for j, i in (link.split("-") for link in stored["links"].split()))
    assert sorted(heatmap.markers) == expected_rings
    assert heatmap.marker_label == text.ALIGNER_MARKER_LABEL
    assert len(heatmap.rows) == len(stored["target_words"]) and len(heatmap.columns) == len(stored["source_words"]) + 1

    # The sentence's AER, recomputed from the shown matrix: each row linked to its largest non-</s> column.
    matrix = np.asarray(heatmap.matrix)
    predicted = {(int(np.argmax(row[:-1])), i) for i, row in enumerate(matrix)}
    gold = {(j, i) for i, j in expected_rings}
    aer = 1 - 2 * len(predicted & gold) / (len(predicted) + len(gold))
    assert f"(AER {aer:.2f})" in view.text
    assert attention_links(matrix).links == predicted
    assert alignment_scores([predicted], [gold])["aer"] == round(aer, 4)


def test_aligner_view_reads_the_reference_teacher_forced(aligned_folder: Path) -> None:
    """The heatmap is the model's attention over the reference (not its own translation), merged into words."""
    translator = Translator(aligned_folder)
    demo = AttentionDemo(translator)
    example = demo.examples[0]
    src = translator.source_ids(str(example["source"]))[0]
    tgt = encode(translator.tgt_tokenizer, str(example["reference"]))
    model = translator.models["additive"]
    attention = model(*pad([src]), decoder_input(pad([[*tgt, EOS_ID]])[0])).attention[0, : len(tgt)].detach().numpy()
    expected, _, _ = merge_attention(
        attention, pieces(translator.src_tokenizer, src), pieces(translator.tgt_tokenizer, tgt)
    )
    np.testing.assert_allclose(why_tab.aligner_view(demo, "additive", 0).heatmap.matrix, expected, atol=1e-6)


def test_alignment_and_ablation_tables_come_from_metrics(aligned_folder: Path) -> None:
    demo = AttentionDemo(Translator(aligned_folder))
    table = why_tab.alignment_table(demo)
    assert table.iloc[0].tolist() == ["additive", 0.4, 0.55, 0.6, 0.2, 0.05, 0.45, 0.41]
    assert table.iloc[-1, 0] == text.DIAGONAL_ROW and table.iloc[-1, 1] == 0.43
    assert why_tab.ablation_table(demo).iloc[0].tolist() == ["today", 0.39, 0.0, 0.06, 0.4, 0.59, 28.55]


def test_without_links_the_view_says_so(tiny_model_folder: Path) -> None:
    demo = AttentionDemo(Translator(tiny_model_folder))
    assert why_tab.aligner_choices(demo) == []
    assert why_tab.aligner_view(demo, "additive", 0).heatmap.message == text.NO_ALIGNER_LINKS
    assert why_tab.alignment_table(demo).empty and why_tab.ablation_table(demo).empty


def test_the_app_opens_on_the_model_that_aligns_best(aligned_folder: Path, tmp_path: Path) -> None:
    """With alignment scores the opening model is the one with the lowest AER; without them, DEFAULT_ATTENTION."""
    assert AttentionDemo(Translator(aligned_folder)).default_type == "additive"  # the only model with scores
    folder = tmp_path / "models"
    shutil.copytree(aligned_folder, folder)
    metrics = read_json(folder / METRICS_FILE)
    metrics["alignment"]["models"] = {
        "additive": {"reference": {"aer": 0.35}},
        "general": {"reference": {"aer": 0.30}},
        "dot": {"reference": {"aer": "not a number"}},
        "baseline": {"reference": {"aer": 0.01}},  # not an attention model: never the opening model
    }
    write_json_atomic(folder / METRICS_FILE, metrics)
    demo = AttentionDemo(Translator(folder))
    assert demo.default_type == "general"
    assert translate_tab.opening(demo).shown.attention_type == "general"
    del metrics["alignment"]
    write_json_atomic(folder / METRICS_FILE, metrics)
    assert AttentionDemo(Translator(folder)).default_type == DEFAULT_ATTENTION
