"""Unit tests of the app's views on constructed data (the tab modules' presenters, the heatmap data, the input
cleaning): no models, no browser.

The views are what the app computes for its widgets; the numbers are checked here against hand-computed values
(coverage flags, agreement, the heatmap's JSON, input cleaning, index clamping).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from attention_demo.ui import heatmap, inputs, text
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import translate as translate_tab

SOURCE = ["▁Ein", "▁Fahr", "rad", "▁steht", "▁", ".", "</s>"]  # words: Ein, Fahrrad, steht, ., </s>


def attention_with_totals(totals: list[float], rows: int) -> np.ndarray:
    """A ``(rows, S)`` attention matrix whose rows sum to 1 and whose columns sum to ``totals`` (which sum to rows)."""
    totals = np.asarray(totals, dtype=float)
    assert totals.sum() == pytest.approx(rows)
    return np.tile(totals / rows, (rows, 1))


def test_the_shared_state_and_the_input_cleaning_do_not_import_gradio() -> None:
    code = (
        "import sys, attention_demo.ui.demo, attention_demo.ui.state, attention_demo.ui.inputs, "
        "attention_demo.ui.loading; print('gradio' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_coverage_flags_exactly_the_dropped_and_repeated_pieces_never_the_final_eos() -> None:
    # 4 output rows: totals per piece; "Fahr" (0.1) is dropped, "steht" (2.2) repeated, </s> (0.05) would be dropped
    # and is not flagged.
    totals = [0.9, 0.1, 0.45, 2.2, 0.2, 0.1, 0.05]
    coverage = evidence_tab.coverage_view(attention_with_totals(totals, 4), SOURCE, merge=False)
    assert coverage.labels == ["Ein", "Fahr", "·rad", "steht", "▁", "·.", "</s>"]
    np.testing.assert_allclose(coverage.totals, totals)
    assert coverage.flags == ["", "dropped", "", "repeated", "dropped", "dropped", ""]
    # </s> holding more than REPEATED_ABOVE (the "parking" position) is not flagged either.
    parked = evidence_tab.coverage_view(attention_with_totals([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 2.0], 5), SOURCE, False)
    assert parked.flags[-1] == "" and parked.flags[:-1] == [""] * 6


def test_coverage_of_merged_words_sums_their_pieces() -> None:
    totals = [0.9, 0.1, 0.45, 2.2, 0.2, 0.1, 0.05]
    coverage = evidence_tab.coverage_view(attention_with_totals(totals, 4), SOURCE, merge=True)
    assert coverage.labels == ["Ein", "Fahrrad", "steht", ".", "</s>"]
    np.testing.assert_allclose(coverage.totals, [0.9, 0.55, 2.2, 0.3, 0.05])
    assert coverage.flags == ["", "", "repeated", "", ""]  # "." has 0.3: not below the threshold; </s> never


def test_coverage_without_a_final_eos_flags_every_piece() -> None:
    coverage = evidence_tab.coverage_view(attention_with_totals([1.9, 0.1], 2), ["▁Hund", "▁da"], merge=False)
    assert coverage.flags == ["", "dropped"]


def test_agreement_table_against_hand_computed_values() -> None:
    attention = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    attribution = np.array([[0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])  # row 0: same order; row 1: reversed order
    table, means = evidence_tab.agreement_table(attention, attribution, ["A", "dog"])
    assert list(table.columns) == text.AGREEMENT_COLUMNS
    assert list(table["output"]) == [text.MEAN_ROW, "A", "dog"]
    # Kendall tau: row 0 ranks agree on all 3 pairs (1.0), row 1 disagree on all (-1.0); top-1: 1 then 0.
    assert list(table["Kendall τ"]) == ["0.000", "1.000", "-1.000"]
    assert list(table["top-1"]) == ["0.500", "1.000", "0.000"]
    # Jensen-Shannon divergence of identical distributions is 0.
    assert table["JSD"].iloc[1] != "0.000"
    same, _ = evidence_tab.agreement_table(attention, attention, ["A", "dog"])
    assert list(same["JSD"]) == ["0.000"] * 3 and list(same["top-1"]) == ["1.000"] * 3
    np.testing.assert_allclose(means[:2], [0.0, 0.5])
    # A constant attribution row (occlusion of a piece-free step, say): tau undefined, left out of the mean.
    constant, means = evidence_tab.agreement_table(
        attention, np.array([[1.0, 1.0, 1.0], [0.0, 0.1, 0.2]]), ["A", "dog"]
    )
    assert list(constant["Kendall τ"]) == ["1.000", "n/a", "1.000"]
    assert means.shape == (3,) and means[0] == 1.0


def test_heatmap_json_carries_numbers_and_labels_as_plain_types() -> None:
    matrix = np.array([[0.25, 0.75], [1 / 3, 2 / 3]], dtype=np.float32)
    data = heatmap.HeatmapData(matrix, ["A", "<b>"], ["Ein", "$x$"], title="t", selected=1, markers=[(0, 1)])
    value = json.loads(json.dumps(data.to_json()))  # only JSON types
    assert value["rows"] == ["A", "<b>"] and value["columns"] == ["Ein", "$x$"]
    np.testing.assert_allclose(value["matrix"], matrix, atol=1e-6)
    assert value["selected"] == 1 and value["markers"] == [[0, 1]] and value["vmax"] == 1.0
    assert value["row_axis"] == text.OUTPUT_AXIS and value["column_axis"] == text.SOURCE_AXIS
    assert heatmap.HeatmapData.message_only("nothing").to_json() == {"title": "", "message": "nothing"}
    labelled = heatmap.HeatmapData(matrix, ["A", "B"], ["C", "D"], title="t", marker_label="links", value_label="w")
    value = labelled.to_json()
    assert (value["title"], value["marker_label"], value["value_label"]) == ("t", "links", "w")
    assert value["matrix"][1] == [0.333333, 0.666667]  # rounded to 6 decimals: a small payload


def test_a_message_only_heatmap_is_empty_and_shows_its_title() -> None:
    data = heatmap.HeatmapData.message_only("nothing", title="t")
    assert data.to_json() == {"title": "t", "message": "nothing"}
    assert data.matrix.shape == (0, 0) and data.rows == [] and data.columns == []


def test_labels_are_printable_and_bounded() -> None:
    assert heatmap.piece_labels(["▁Fahr", "rad", "\t", "</s>"]) == ["Fahr", "·rad", "·\\t", "</s>"]
    for long in (heatmap.word_labels(["x" * 100])[0], heatmap.piece_labels(["▁" + "x" * 100])[0]):
        assert len(long) == heatmap.LABEL_CHARS and long.endswith("…")


def test_clean_input_replaces_surrogates_and_cuts_at_a_space() -> None:
    sentence, notices = inputs.clean_input("Hund \ud800 da")
    assert sentence == "Hund \ufffd da" and notices == [text.INVALID_UNICODE]
    long = "Hund " * 1000  # 5,000 characters
    sentence, notices = inputs.clean_input(long)
    assert len(sentence) <= inputs.MAX_INPUT_CHARS and not sentence.endswith(" ") and sentence.endswith("Hund")
    assert notices == [text.INPUT_CUT.format(length=5000, kept=len(sentence))]
    assert inputs.clean_input(None) == ("", [])


def test_clean_input_cuts_only_what_is_too_long_and_at_a_space_only_past_the_middle() -> None:
    """Up to MAX_INPUT_CHARS nothing is cut. Beyond, the cut goes back to the last space if that keeps more than half
    the allowed length, else it cuts through the word."""
    limit = inputs.MAX_INPUT_CHARS
    assert inputs.clean_input("x" * limit) == ("x" * limit, [])
    for space_at in (10, limit // 2):  # cutting at that space would lose half the text or more: cut hard
        sentence, _ = inputs.clean_input("a" * space_at + " " + "b" * limit)
        assert sentence == ("a" * space_at + " " + "b" * limit)[:limit]
    sentence, _ = inputs.clean_input("a" * (limit // 2 + 1) + " " + "b" * limit)
    assert sentence == "a" * (limit // 2 + 1)


@pytest.mark.parametrize(
    ("value", "expected"), [(3, 3), ("4", 4), (2.7, 2), (0, 1), (-5, 1), (1e9, 10), ("lots", 1), (None, 1)]
)
def test_beam_size_is_clamped(value: object, expected: int) -> None:
    assert inputs.beam_size(value) == expected


@pytest.mark.parametrize(("value", "length", "expected"), [(2, 5, 2), (9, 5, 4), (-1, 5, 0), ("x", 5, 0), (3, 0, 0)])
def test_index_is_clamped(value: object, length: int, expected: int) -> None:
    assert inputs.index(value, length) == expected


def test_gallery_spreads_from_short_to_long_and_the_page_opens_on_a_test_sentence() -> None:
    examples = [{"source": "w " * n, "reference": "r" if n % 2 else None} for n in range(1, 31)]
    gallery = translate_tab.gallery_examples(examples, 4)
    assert [len(s.split()) for s in gallery] == [1, 11, 20, 30]
    few = [{"source": source, "reference": None} for source in ("ccc ccc", "b", "aa aa aa")]
    assert translate_tab.gallery_examples(few, 4) == ["b", "ccc ccc", "aa aa aa"]  # all of them, shortest first
    assert translate_tab.opening_example(examples, 12) in {"w " * 11, "w " * 13}  # odd lengths have references
    assert translate_tab.opening_example([{"source": "Ein Hund.", "reference": None}]) == "Ein Hund."
