"""Unit tests for attention_demo.inspection: subword -> word merging, source highlighting, and one decoder step
taken apart (Align -> Weight -> Combine), on hand-written pieces and tiny seeded models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, random_sources, teacher_forced

from attention_demo.inspection import StepInspection, inspect_steps, merge_attention, source_highlight, word_spans
from attention_demo.model import Seq2Seq

# --- word_spans -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["▁Ein", "▁Fahr", "rad", "▁", ".", "</s>"], [("Ein", [0]), ("Fahrrad", [1, 2]), (".", [3, 4]), ("</s>", [5])]),
        (["▁Die", "▁Stadt", ".", "</s>"], [("Die", [0]), ("Stadt", [1]), (".", [2]), ("</s>", [3])]),
        (["▁Hund", "<unk>", "▁rennt"], [("Hund<unk>", [0, 1]), ("rennt", [2])]),  # <unk> inside a word stays in it
        (["<unk>", "rad", "</s>"], [("<unk>rad", [0, 1]), ("</s>", [2])]),
        (["▁Halt", "!", "!", "?", "</s>"], [("Halt", [0]), ("!!?", [1, 2, 3]), ("</s>", [4])]),  # punctuation runs
        (["</s>", "rad"], [("</s>", [0]), ("rad", [1])]),  # nothing is joined to a special token
        (["▁ein", "<s>", "<pad>"], [("ein", [0]), ("<s>", [1]), ("<pad>", [2])]),
        (["Fahr", "rad", "▁x"], [("Fahrrad", [0, 1]), ("x", [2])]),  # a first piece without the mark starts a word
        (["▁"], [("▁", [0])]),  # a lone mark stays visible
        ([], []),
    ],
)
def test_word_spans(pieces: list[str], expected: list[tuple[str, list[int]]]) -> None:
    assert word_spans(pieces) == expected


def test_word_spans_cover_every_piece_once_in_order() -> None:
    """Whatever the pieces, the spans partition the indices 0..n-1 in order, and the words' text (marks removed)
    is the pieces' text."""
    pieces = ["▁Ein", "▁", ".", "<unk>", "rad", "▁Fahr", "!", "?", "▁", "</s>", "x", "<s>", "▁"]
    spans = word_spans(pieces)
    assert [i for _, indices in spans for i in indices] == list(range(len(pieces)))
    assert "".join(w for w, _ in spans if w != "▁") == "".join(pieces).replace("▁", "")


# --- merge_attention and source_highlight ------------------------------------------------------------------------

SOURCE = ["▁Ein", "▁Fahr", "rad", "</s>"]  # words: Ein [0], Fahrrad [1, 2], </s> [3]
TARGET = ["▁A", "▁bi", "cycle", "</s>"]  # words: A [0], bicycle [1, 2], </s> [3]
ATTENTION = np.array(
    [
        [0.7, 0.1, 0.1, 0.1],
        [0.1, 0.5, 0.3, 0.1],
        [0.0, 0.2, 0.6, 0.2],
    ]
)  # three output pieces: the target's </s> has no row here, so it must be left out


def test_merge_attention_sums_source_pieces_and_averages_target_pieces() -> None:
    """By hand: columns 1 and 2 (Fahr + rad) are summed; rows 1 and 2 (bi, cycle) are averaged."""
    merged, source_words, target_words = merge_attention(ATTENTION, SOURCE, TARGET)
    assert source_words == ["Ein", "Fahrrad", "</s>"]
    assert target_words == ["A", "bicycle"]
    np.testing.assert_allclose(merged, [[0.7, 0.2, 0.1], [0.05, 0.8, 0.15]])
    np.testing.assert_allclose(merged.sum(axis=1), 1.0)  # still distributions over the source


def test_source_highlight_per_piece_and_per_word() -> None:
    """Pieces keep their spaces (a bare mark and special tokens stay visible), the first loses its leading space;
    weights are rounded to 4 decimals; merged spans are words separated by spaces."""
    pieces = ["▁Ein", "▁Fahr", "rad", "▁", ".", "</s>"]
    weights = [0.123456, 0.2, 0.3, 0.1, 0.2, 0.076544]
    spans = source_highlight(pieces, weights, merged=False)
    assert spans == [("Ein", 0.1235), (" Fahr", 0.2), ("rad", 0.3), (" ▁", 0.1), (".", 0.2), (" </s>", 0.0765)]
    merged = source_highlight(pieces, [0.5, 0.25, 0.125, 0.125], merged=True)
    assert merged == [("Ein", 0.5), (" Fahrrad", 0.25), (" .", 0.125), (" </s>", 0.125)]


@pytest.mark.parametrize("merged", [False, True])
@pytest.mark.parametrize("extra", [-1, 1])
def test_source_highlight_refuses_weights_that_do_not_match_the_spans(merged: bool, extra: int) -> None:
    """One weight per piece (per word when merged): a row of another length is an error, never a highlight cut
    short or a weight silently dropped."""
    pieces = ["▁Ein", "▁Fahr", "rad", "</s>"]
    spans = 3 if merged else 4
    with pytest.raises(ValueError, match="zip"):
        source_highlight(pieces, [0.25] * (spans + extra), merged=merged)


# --- one decoder step taken apart ----------------------------------------------------------------------------------


def test_contributions_by_hand() -> None:
    """values h = [1, 0], [0, 1], [1, 1] and alpha = [0.5, 0.25, 0.25]: c = [0.75, 0.5], ||c||^2 = 0.8125."""
    values = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    weights = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 0.0]])
    contexts = weights @ values
    steps = StepInspection(scores=np.zeros((2, 3)), weights=weights, values=values, contexts=contexts)
    parts = steps.contributions(0)
    np.testing.assert_allclose(parts["weight"], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(parts["norm"], [0.5, 0.25, 0.25 * np.sqrt(2)])
    np.testing.assert_allclose(parts["share"], np.array([0.375, 0.125, 0.3125]) / 0.8125)
    np.testing.assert_allclose(parts["share"].sum(), 1.0)
    np.testing.assert_allclose(steps.contributions(1)["share"], 0.0)  # a zero context: no division by zero


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_inspect_steps_is_the_models_own_computation(tiny_model: Callable[..., Seq2Seq], attention_type: str) -> None:
    """Weights equal the teacher-forced attention, they are the softmax of the returned scores, the values are the
    encoder annotations, and each context is sum_j alpha_j h_j."""
    model = tiny_model(attention_type, seed=2)
    source = random_sources([5], seed=9)[0]
    target = [6, 11, 4, 3]
    steps = inspect_steps(model, source, target)
    _, attention = teacher_forced(model, source, target)
    np.testing.assert_allclose(steps.weights, attention.numpy(), atol=1e-6)
    np.testing.assert_allclose(steps.weights, torch.softmax(torch.tensor(steps.scores), dim=-1).numpy(), atol=1e-6)
    with torch.no_grad():
        src = torch.tensor([source])
        annotations, _ = model.encoder(src, torch.ones_like(src, dtype=torch.bool))
    np.testing.assert_allclose(steps.values, annotations[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(steps.contexts, steps.weights @ steps.values, atol=1e-6)
    assert steps.scores.shape == steps.weights.shape == (len(target), len(source))
    for t in range(len(target)):
        np.testing.assert_allclose(steps.contributions(t)["share"].sum(), 1.0, rtol=1e-5)


def test_inspect_steps_refuses_the_baseline(tiny_model: Callable[..., Seq2Seq]) -> None:
    with pytest.raises(ValueError, match="baseline has no attention"):
        inspect_steps(tiny_model(None), [5, 6, 3], [4, 3])
