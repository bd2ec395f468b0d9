"""Tests of the Gradio app (attention_demo.ui) and of attention_demo.inspection on the session's tiny model folder
(conftest.tiny_model_folder, trained by train.py).

The views are checked against independent computations (the Translator's own output, evidence.saliency called
directly, attention column sums), then the built app's handlers (dicts keyed by component), then the app launched on
localhost through ``gradio_client``. The browser tests (test_app_browser.py) reuse the same tiny folder.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import TINY_MODELS
from matplotlib.figure import Figure

from attention_demo import evidence, hub, plots
from attention_demo.evaluation import sentence_chrf
from attention_demo.inspection import inspect_steps, merge_attention, source_highlight, word_spans
from attention_demo.model import BASELINE, MODEL_NAMES
from attention_demo.model_repo import (
    ATTENTION_EVOLUTION_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    TEST_EXAMPLES_FILE,
    AttentionEvolution,
    Metrics,
)
from attention_demo.translate import Translation, Translator
from attention_demo.ui import events, heatmap, inputs, loading, serving, text
from attention_demo.ui.client import TRANSLATE_OUTPUTS, output_text, translate_result
from attention_demo.ui.demo import DEFAULT_ATTENTION, AttentionDemo
from attention_demo.ui.tabs import compare as compare_tab
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import step as step_tab
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.tabs import why as why_tab

APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
SENTENCE = "Die kleine katze sieht die große hund im park ."
ATTENTION_MODELS = [name for name in MODEL_NAMES if name != BASELINE]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def offline_app_env() -> Iterator[None]:
    """No analytics, no telemetry, no Hub for this module's tests (restored afterwards for the other modules)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in APP_ENV.items():
            patch.setenv(name, value)
        hub.hub_reachable.cache_clear()
        yield
    hub.hub_reachable.cache_clear()


@pytest.fixture(scope="module")
def app_folder(tiny_model_folder: Path) -> Path:
    """The session's tiny folder: all four kinds of model (read-only)."""
    return tiny_model_folder


@pytest.fixture(scope="module")
def demo(app_folder: Path) -> AttentionDemo:
    return AttentionDemo(Translator(app_folder), "Models: tiny test folder.")


@pytest.fixture(scope="module")
def translator(demo: AttentionDemo) -> Translator:
    return demo.translator


@pytest.fixture(scope="module")
def test_pair(app_folder: Path, demo: AttentionDemo) -> dict[str, str]:
    """A test sentence with its reference, from the folder's test_examples.json."""
    examples = demo.examples
    assert examples and examples[0]["reference"], "train.py should write test_examples.json with references"
    return {"source": str(examples[0]["source"]), "reference": str(examples[0]["reference"])}


def reference_translation(translator: Translator, sentence: str, name: str, beam: int) -> Translation:
    """The Translator's own result, the independent side of the comparisons below."""
    import torch

    with torch.inference_mode():
        return translator.translate([sentence], name, beam)[0]


# ---------------------------------------------------------------------------------------------------------------------
# Translate & compare
# ---------------------------------------------------------------------------------------------------------------------


def test_translation_is_the_translators_for_both_models(demo: AttentionDemo, translator: Translator) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "additive", 3)
    ours = reference_translation(translator, SENTENCE, "additive", 3)
    base = reference_translation(translator, SENTENCE, BASELINE, 3)
    assert view.attention_text == ours.text and view.baseline_text == base.text
    assert list(view.beams.columns) == text.BEAM_COLUMNS
    assert list(view.beams["translation"]) == [c.text for c in ours.candidates]
    np.testing.assert_allclose(view.beams["log-probability"], [round(c.hypothesis.score, 3) for c in ours.candidates])
    assert len(view.hypotheses) == len(ours.candidates)
    # The heatmap is the best hypothesis's attention, labelled with its pieces; the clickable output spells it out.
    best = ours.candidates[0]
    np.testing.assert_allclose(view.view.heatmap.matrix, best.hypothesis.attention.numpy(), atol=1e-6)
    assert view.view.heatmap.rows == heatmap.piece_labels(best.pieces)
    assert view.view.heatmap.columns == heatmap.piece_labels(ours.source_pieces)
    assert output_text(view.view.output) == best.text
    assert view.reference == "" and view.chrf == ""  # not a test sentence
    greedy = translate_tab.translate_view(demo, SENTENCE, "dot", 1)
    assert greedy.attention_text == reference_translation(translator, SENTENCE, "dot", 1).text
    assert len(greedy.beams) == 1 and "greedy" in greedy.notice


def test_each_beam_hypothesis_has_its_own_attention_map(demo: AttentionDemo, translator: Translator) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "general", 4)
    candidates = reference_translation(translator, SENTENCE, "general", 4).candidates
    assert len(view.shown.candidates) == len(candidates)
    for rank, candidate in enumerate(candidates):
        shown = translate_tab.hypothesis_view(view.shown, rank, merge=False)
        np.testing.assert_allclose(shown.heatmap.matrix, candidate.hypothesis.attention.numpy(), atol=1e-6)
        assert shown.heatmap.title.startswith(f"general attention, hypothesis #{rank + 1}")


def test_test_sentence_shows_reference_and_chrf(demo: AttentionDemo, test_pair: dict[str, str]) -> None:
    view = translate_tab.translate_view(demo, "  " + test_pair["source"] + " ", "additive", 2)
    assert view.reference == test_pair["reference"]
    expected = [sentence_chrf(view.attention_text, view.reference), sentence_chrf(view.baseline_text, view.reference)]
    assert view.chrf == text.CHRF_LINE.format(
        scores=f"with attention (additive): {expected[0]:.1f}, baseline: {expected[1]:.1f}"
    )


def test_the_page_opens_on_a_translated_test_sentence(demo: AttentionDemo, translator: Translator) -> None:
    view = translate_tab.opening(demo)
    sentence = translate_tab.opening_example(demo.examples)
    assert view.shown.text == sentence and view.reference  # a test sentence, with its reference
    assert view.shown.attention_type == DEFAULT_ATTENTION
    expected = reference_translation(translator, sentence, DEFAULT_ATTENTION, inputs.DEFAULT_BEAM)
    assert view.attention_text == expected.text
    assert view.view.heatmap is not None and view.view.highlight and view.view.focus


@pytest.mark.parametrize("sentence", ["", "   \n ", None])
def test_empty_input_gives_a_friendly_message(demo: AttentionDemo, sentence: str | None) -> None:
    view = translate_tab.translate_view(demo, sentence, "additive", 5)
    assert view.notice == text.EMPTY_INPUT_MESSAGE
    assert view.attention_text == view.baseline_text == "" and view.view.heatmap is None and view.shown is None
    compared = compare_tab.compare_view(demo, sentence, 2)
    assert compared.notice == text.EMPTY_INPUT_MESSAGE and compared.heatmaps == [None] * len(demo.attention_types)
    assert step_tab.step_view(demo, None, 0, 0).notice == text.TRANSLATE_FIRST_STEP


def test_script_and_emoji_input_are_kept_as_literal_text(demo: AttentionDemo) -> None:
    sentence = "<script>window.__pwned=1</script> Die katze 😀 <b>$x$</b>"
    view = translate_tab.translate_view(demo, sentence, "additive", 2, merge=True)
    assert view.shown.text == sentence  # never escaped or altered: the components render it as text
    spans = "".join(token for token, _ in view.view.highlight)
    assert "&lt;" not in spans and "katze" in spans and "<unk>" in spans


def test_non_german_input_still_gets_an_answer(demo: AttentionDemo) -> None:
    view = translate_tab.translate_view(demo, "The quick brown fox jumps over the lazy dog.", "dot", 2)
    assert view.attention_text and view.baseline_text and view.view.heatmap is not None
    view = translate_tab.translate_view(demo, "Привет, мир! 😀😀", "additive", 2)
    assert view.attention_text and text.MANY_UNKNOWN in view.notice


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_long_input_is_cut_with_a_notice(demo: AttentionDemo, size: int) -> None:
    """Cut before tokenizing (how long it takes is measured by benchmarks/benchmark_app.py)."""
    sentence = ("Die katze sieht den hund im park . " * (size // 30 + 1))[:size]
    view = translate_tab.translate_view(demo, sentence, "additive", 2)
    assert f"{size:,} characters" in view.notice
    assert len(view.shown.text) <= inputs.MAX_INPUT_CHARS and sentence.startswith(view.shown.text)


def test_nonsense_parameters_are_tolerated(demo: AttentionDemo) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "no-such-type", "lots")
    assert "no-such-type" in view.notice and view.shown.attention_type == DEFAULT_ATTENTION
    assert len(view.beams) == 1  # an unreadable beam size means greedy search
    assert len(translate_tab.translate_view(demo, SENTENCE, "dot", 1e9).beams) <= inputs.MAX_BEAM


@pytest.mark.parametrize("merge", [False, True])
def test_inspecting_a_word_highlights_its_attention_row(demo: AttentionDemo, merge: bool) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "additive", 3, merge=merge)
    shown = view.shown
    attention = shown.candidates[0].hypothesis.attention.numpy()
    if merge:
        attention, _, _ = merge_attention(attention, shown.source_pieces, shown.candidates[0].pieces)
    source_units = word_spans(shown.source_pieces) if merge else shown.source_pieces
    for word in range(len(view.view.output)):
        picked = translate_tab.hypothesis_view(shown, 0, merge, word)
        scores = [score for _, score in picked.highlight]
        assert len(scores) == len(source_units)
        np.testing.assert_allclose(scores, attention[word], atol=1e-4)  # the chosen row, rounded to 4 decimals
        assert sum(scores) == pytest.approx(1.0, abs=2e-3)
        assert picked.word == word and picked.heatmap.selected == word
        assert [category for _, category in picked.output] == [
            text.INSPECTED if i == word else None for i in range(len(picked.output))
        ]
        strongest = picked.heatmap.columns[int(np.argmax(attention[word]))]
        assert picked.focus.startswith(f"“{picked.heatmap.rows[word]}” attends to: {strongest} ")
    # The spans spell out the source sentence.
    assert "".join(t for t, _ in view.view.highlight).split()[:2] == SENTENCE.split()[:2]


# ---------------------------------------------------------------------------------------------------------------------
# Inside one step
# ---------------------------------------------------------------------------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("attention_type", ["dot", "general", "additive"])
def test_inside_one_step_numbers_are_consistent(demo: AttentionDemo, attention_type: str) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, attention_type, 3)
    hypothesis = len(view.shown.candidates) - 1  # not only the best one
    candidate = view.shown.candidates[hypothesis]
    length = len(candidate.hypothesis.tokens)
    for position in sorted({0, 1, length // 2, length - 1} & set(range(length))):
        step = step_tab.step_view(demo, view.shown, hypothesis, position)
        # Weight: alpha = softmax(e); Combine: the displayed context is sum_j alpha_j h_j.
        np.testing.assert_allclose(step.weights, softmax(step.scores), atol=1e-5)
        np.testing.assert_allclose(step.context, (step.weights[:, None] * step.values).sum(axis=0), atol=1e-5)
        # Teacher forcing reproduces the attention beam search recorded for this hypothesis.
        np.testing.assert_allclose(step.weights, candidate.hypothesis.attention[position].numpy(), atol=1e-4)
        table = step.table
        assert len(table) == len(view.shown.source_pieces)
        assert table["α_j"].sum() == pytest.approx(1.0, abs=1e-3)
        shares = table["share of c"].str.rstrip("%").astype(float)
        assert shares.sum() == pytest.approx(100.0, abs=0.5)
        assert step.position == position and isinstance(step.figure, Figure)
    general = translate_tab.translate_view(demo, SENTENCE, "general", 1).shown
    assert "W_a" in step_tab.step_view(demo, general, 0, 0).formula


def test_inspect_steps_contributions_sum_to_the_context(demo: AttentionDemo) -> None:
    model = demo.translator.models["additive"]
    ids, _ = demo.translator.source_ids(SENTENCE)
    steps = inspect_steps(model, ids, [5, 6, 7, 3])
    assert steps.scores.shape == steps.weights.shape == (4, len(ids))
    assert steps.values.shape[0] == len(ids) and steps.contexts.shape == (4, steps.values.shape[1])
    parts = steps.contributions(2)
    assert parts["share"].sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(parts["norm"], np.linalg.norm(parts["weight"][:, None] * steps.values, axis=1))
    with pytest.raises(ValueError, match="baseline"):
        inspect_steps(demo.translator.models[BASELINE], ids, [5, 3])


def test_word_merging_sums_source_columns_and_averages_target_rows() -> None:
    source = ["▁Ein", "▁Fahr", "rad", "▁", ".", "</s>"]
    target = ["▁A", "▁bi", "cycle", "</s>"]
    assert word_spans(source) == [("Ein", [0]), ("Fahrrad", [1, 2]), (".", [3, 4]), ("</s>", [5])]
    assert [w for w, _ in word_spans(["▁Die", "▁Stadt", ".", "</s>"])] == ["Die", "Stadt", ".", "</s>"]
    attention = np.random.default_rng(0).dirichlet(np.ones(len(source)), size=len(target))
    merged, source_words, target_words = merge_attention(attention, source, target)
    assert source_words == ["Ein", "Fahrrad", ".", "</s>"] and target_words == ["A", "bicycle", "</s>"]
    np.testing.assert_allclose(merged.sum(axis=1), 1.0)
    np.testing.assert_allclose(
        merged[1, 1], (attention[1, 1] + attention[1, 2] + attention[2, 1] + attention[2, 2]) / 2
    )
    spans = source_highlight(source, merged[1], merged=True)
    assert "".join(t for t, _ in spans) == "Ein Fahrrad . </s>"


# ---------------------------------------------------------------------------------------------------------------------
# Compare attention types, evidence
# ---------------------------------------------------------------------------------------------------------------------


def test_compare_tab_shows_every_attention_type(demo: AttentionDemo, translator: Translator) -> None:
    assert demo.attention_types == ATTENTION_MODELS  # in attention_demo.model.MODEL_NAMES order
    for merge in (False, True):
        view = compare_tab.compare_view(demo, SENTENCE, 2, merge)
        assert "3 attention models" in view.notice
        expected = [reference_translation(translator, SENTENCE, name, 2) for name in demo.attention_types]
        assert view.texts == [e.text for e in expected]
        for shown, e in zip(view.heatmaps, expected, strict=True):
            attention = e.candidates[0].hypothesis.attention.numpy()
            if merge:
                attention, _, _ = merge_attention(attention, e.source_pieces, e.candidates[0].pieces)
            np.testing.assert_allclose(shown.matrix, attention, atol=1e-6)


@pytest.mark.parametrize("merge", [False, True])
def test_evidence_view_shows_coverage_saliency_of_both_models_and_agreement(demo: AttentionDemo, merge: bool) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "additive", 2, merge)
    shown = view.shown
    candidate = shown.candidates[1]
    evidence_view = evidence_tab.evidence_view(demo, shown, 1, merge)
    # Saliency values: the same matrices as evidence.saliency computed here, for both models (the baseline on its own
    # best translation).
    additive, baseline = demo.translator.models["additive"], demo.translator.models[BASELINE]
    ours = evidence.saliency(additive, shown.source_ids, candidate.hypothesis.tokens)
    base = evidence.saliency(baseline, shown.source_ids, shown.baseline.hypothesis.tokens)
    if merge:
        ours, _, _ = merge_attention(ours, shown.source_pieces, candidate.pieces)
        base, _, _ = merge_attention(base, shown.source_pieces, shown.baseline.pieces)
    np.testing.assert_allclose(evidence_view.attribution.matrix, ours, atol=1e-6)
    np.testing.assert_allclose(evidence_view.baseline_attribution.matrix, base, atol=1e-6)
    np.testing.assert_allclose(np.asarray(evidence_view.attribution.matrix).sum(axis=1), 1.0, atol=1e-6)
    # Coverage: the column sums of the hypothesis's attention (per word when merged).
    attention = candidate.hypothesis.attention.numpy()
    columns = attention.sum(axis=0)
    if merge:
        columns = np.array([columns[indices].sum() for _, indices in word_spans(shown.source_pieces)])
    np.testing.assert_allclose(evidence_view.coverage_table["total attention"].astype(float), columns, atol=1e-3)
    assert evidence_view.coverage_table["flag"].iloc[-1] == ""  # the final </s> is never flagged
    assert isinstance(evidence_view.coverage_figure, Figure)
    # Agreement (always per subword): top-1 is whether attention and saliency peak on the same source piece.
    saliency = evidence.saliency(additive, shown.source_ids, candidate.hypothesis.tokens)
    agreement = evidence_view.agreement_table
    assert list(agreement.columns) == text.AGREEMENT_COLUMNS
    assert len(agreement) == len(candidate.pieces) + 1 and agreement["output"].iloc[0] == text.MEAN_ROW
    top1 = (attention.argmax(axis=1) == saliency.argmax(axis=1)).astype(float)
    assert list(agreement["top-1"].iloc[1:]) == [f"{v:.3f}" for v in top1]
    assert agreement["top-1"].iloc[0] == f"{top1.mean():.3f}"
    assert len(evidence_view.steps) == len(candidate.pieces)
    assert len(evidence_view.sources) == len(shown.source_pieces)
    assert "not proof" in evidence_view.notice
    assert evidence_tab.evidence_view(demo, None, 0, merge).notice == text.TRANSLATE_FIRST


@pytest.mark.parametrize("method", evidence.ATTRIBUTION_METHODS)
def test_evidence_view_shows_the_picked_attribution_and_its_agreement(demo: AttentionDemo, method: str) -> None:
    """Each method of the picker: both maps are that method's attribution (evidence.attribution, computed here),
    drawn as the shares of each row's positive part; the table and the notice give attention's agreement with it."""
    view = translate_tab.translate_view(demo, SENTENCE, "dot", 2)
    shown = view.shown
    candidate = shown.candidates[0]
    found = evidence_tab.evidence_view(demo, shown, 0, False, method)
    assert found.method == method
    models = demo.translator.models
    ours = evidence.attribution(models["dot"], shown.source_ids, candidate.hypothesis.tokens, method)
    base = evidence.attribution(models[BASELINE], shown.source_ids, shown.baseline.hypothesis.tokens, method)
    for heatmap_data, matrix in ((found.attribution, ours), (found.baseline_attribution, base)):
        positive = np.clip(matrix, 0, None)
        np.testing.assert_allclose(heatmap_data.matrix, positive / positive.sum(axis=1, keepdims=True), atol=1e-6)
        assert evidence.ATTRIBUTION_METHODS[method].label in heatmap_data.title
    if method != evidence_tab.DEFAULT_METHOD:
        assert (ours < 0).any()  # signed: the map shows the positive part only
    steps = evidence.per_step_agreement(candidate.hypothesis.attention.numpy(), ours)
    table = found.agreement_table
    assert list(table["Kendall τ"].iloc[1:]) == [f"{s['kendall_tau']:.3f}" for s in steps]
    assert list(table["JSD"].iloc[1:]) == [f"{s['jsd']:.3f}" for s in steps]
    top1 = np.mean([s["top1"] for s in steps])
    assert (
        f"with {evidence.ATTRIBUTION_METHODS[method].label}: τ = " in found.notice
        and f"top-1 = {top1:.2f}." in found.notice
    )


def test_evidence_notice_quotes_the_corpus_agreement_of_the_picked_method(demo: AttentionDemo) -> None:
    """With corpus evidence in metrics.json, the notice adds that model's test-set agreement with the picked method
    (the tiny folder has none: then nothing is added)."""
    shown = translate_tab.translate_view(demo, SENTENCE, "additive", 1).shown
    assert "test sentences" not in evidence_tab.evidence_view(demo, shown, 0, False, "integrated_gradients").notice
    pair = {"kendall_tau": {"mean": 0.123}, "top1": {"mean": 0.456}}
    with_corpus = AttentionDemo.__new__(AttentionDemo)
    with_corpus.__dict__.update(demo.__dict__)
    agreement = {"attention_vs_integrated_gradients": pair, "attention_vs_saliency": {"kendall_tau": {"mean": 0.9}}}
    with_corpus.metrics = Metrics(
        {"evidence": {"num_sentences": 1000, "models": {"additive": {"agreement": agreement}}}}
    )
    notice = evidence_tab.evidence_view(with_corpus, shown, 0, False, "integrated_gradients").notice
    assert "Over 1000 test sentences (metrics.json), additive agrees with Integrated Gradients at τ = 0.12, " \
           "top-1 = 0.46." in notice  # fmt: skip
    gradient = evidence_tab.evidence_view(with_corpus, shown, 0, False, "gradient_x_input")
    assert "test sentences" not in gradient.notice  # no top-1


def test_picking_a_method_recomputes_the_evidence_tab(built: tuple, demo: AttentionDemo) -> None:
    """The method picker and the tab share one handler: it recomputes when the method (or the hypothesis) changes
    and returns nothing when the tab already shows what is asked."""
    blocks, ui = built
    tab = ui.evidence
    fn = next(f for f in blocks.fns.values() if (tab.method._id, "input") in f.targets)  # picking a method runs it
    opening = next(f for f in blocks.fns.values() if (tab.tab._id, "select") in f.targets)  # and opening the tab
    assert opening.fn is fn.fn and tab.method in fn.inputs and tab.method in opening.inputs
    shown = translate_tab.translate_view(demo, SENTENCE, "general", 2).shown
    first = fn.fn(shown, 0, False, None, "gradient_x_input")
    assert evidence.ATTRIBUTION_METHODS["gradient_x_input"].label in first[tab.attribution]["title"]
    assert fn.fn(shown, 0, False, first[tab.key], "gradient_x_input") == {}
    picked = fn.fn(shown, 0, False, first[tab.key], "occlusion")
    assert evidence.ATTRIBUTION_METHODS["occlusion"].label in picked[tab.attribution]["title"]
    expected = evidence_tab.evidence_view(demo, shown, 0, False, "occlusion")
    assert picked[tab.attribution]["matrix"] == expected.attribution.to_json()["matrix"]
    assert picked[tab.key] != first[tab.key]
    assert [value for _, value in tab.method.choices] == list(evidence.ATTRIBUTION_METHODS)
    assert tab.method.value == evidence_tab.DEFAULT_METHOD


@pytest.mark.parametrize("mode", ["own", "uniform", "one_word", "permuted", "nonsense"])
def test_surgery_shows_original_control_and_operated_output(demo: AttentionDemo, mode: str) -> None:
    view = translate_tab.translate_view(demo, SENTENCE, "dot", 1)
    surgery = evidence_tab.surgery_view(demo, view.shown, 0, 1, mode, 0)
    table = surgery.table
    assert list(table.columns) == text.SURGERY_COLUMNS and len(table) == 3
    assert table["translation"].iloc[0] == view.attention_text
    assert table["translation"].iloc[1] == view.attention_text  # control: own weights reproduce greedy decoding
    operated = evidence.surgery(
        demo.translator.models["dot"], view.shown.source_ids, view.shown.candidates[0].hypothesis.tokens, 1,
        mode if mode != "nonsense" else "uniform", source_index=0,
    )  # fmt: skip
    assert table["log-probability"].iloc[2] == pytest.approx(round(operated.logprob, 3))
    if mode == "own":
        assert table["translation"].iloc[2] == view.attention_text and text.SURGERY_SAME in surgery.notice
    assert surgery.notice.startswith("Step 2")
    assert evidence_tab.surgery_view(demo, None, 0, 0, "uniform", 0).notice == text.TRANSLATE_FIRST


def test_corpus_evidence_is_read_from_metrics(demo: AttentionDemo) -> None:
    assert why_tab.evidence_summary(demo).empty  # the tiny folder has no "evidence" (the corpus command was not run)
    assert len(plots.gradient_by_distance_figure(None).axes) == 1  # the "missing" message
    counts = [1, 2, 3, 4]
    agreement = {
        "kendall_tau": {"mean": 0.3, "bins": [-1.0, -0.5, 0.0, 0.5, 1.0], "counts": counts},
        "top1": {"mean": 0.5},
        "jsd": {"mean": 0.2, "bins": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": counts},
        "chance_top1": 0.1,
        "num_steps": 10,
    }
    model = {
        "gradient_by_distance": {"distance": [0, 1, 2], "mean_saliency": [0.5, 0.3, None]},
        "agreement": {"attention_vs_saliency": agreement, "saliency_vs_occlusion": agreement},
    }
    numbers = {"num_sentences": 3, "models": {"additive": model, BASELINE: model}}
    bare = AttentionDemo.__new__(AttentionDemo)
    bare.metrics = Metrics({"evidence": numbers})
    summary = why_tab.evidence_summary(bare)
    assert list(summary.columns) == text.EVIDENCE_SUMMARY_COLUMNS and len(summary) == 4
    assert list(summary["mean Kendall τ"]) == [0.3] * 4 and list(summary["model"]) == ["additive"] * 2 + [BASELINE] * 2
    assert len(plots.gradient_by_distance_figure(numbers).axes) == 1
    assert len(plots.agreement_histograms_figure(numbers).axes) == 4  # the two pairs that have numbers, 2 plots each


def test_evidence_plots_build_from_the_files(demo: AttentionDemo) -> None:
    assert set(demo.metrics.models) == set(TINY_MODELS)
    table = why_tab.results_table(demo)
    assert list(table["model"]) == list(demo.metrics.models)
    assert list(table["test BLEU"]) == [m["bleu"] for m in demo.metrics.models.values()]
    figures = why_tab.training_figures(demo)
    for name in ("bleu_by_length", "curves"):
        assert len(figures[name].axes) >= 2, name  # plots, not the "missing" message
    assert len(figures["distance"].axes) == 1  # the tiny folder has no corpus evidence: the "missing" message
    names, sentences, epochs = why_tab.evolution_choices(demo)
    assert names == ATTENTION_MODELS and sentences and epochs == 2
    for epoch in (1, 2, 99):
        view = why_tab.evolution_view(demo, "dot", 0, epoch)
        snapshot = demo.evolution.models["dot"][min(epoch, 2) - 1]["translations"][0]
        np.testing.assert_allclose(view.heatmap.matrix, snapshot["attention"])
        assert view.text.startswith(f"Epoch {min(epoch, 2)}:")


def test_evidence_and_examples_degrade_gracefully_without_files(app_folder: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    ignored = shutil.ignore_patterns(
        METRICS_FILE, HISTORY_FILE, ATTENTION_EVOLUTION_FILE, TEST_EXAMPLES_FILE, "checkpoints"
    )
    shutil.copytree(app_folder, bare, ignore=ignored)
    (bare / HISTORY_FILE).write_text("{not json", encoding="utf-8")  # a broken file counts as missing
    bare_demo = AttentionDemo(Translator(bare))
    assert bare_demo.metrics == Metrics() and bare_demo.history == {} and bare_demo.evolution == AttentionEvolution()
    assert [e["source"] for e in bare_demo.examples] == text.BUILTIN_EXAMPLES
    assert why_tab.results_table(bare_demo).empty
    assert all(len(figure.axes) == 1 for figure in why_tab.training_figures(bare_demo).values())  # "missing" messages
    assert why_tab.evolution_view(bare_demo, None, 0, 1).heatmap.message == text.NO_SNAPSHOTS
    assert translate_tab.translate_view(bare_demo, text.BUILTIN_EXAMPLES[0], "additive", 2).reference == ""
    assert translate_tab.opening(bare_demo).shown.text in text.BUILTIN_EXAMPLES
    assert isinstance(serving.build_app(bare_demo), gr.Blocks)


# ---------------------------------------------------------------------------------------------------------------------
# Loading, errors, the Gradio app
# ---------------------------------------------------------------------------------------------------------------------


def test_unloadable_model_falls_back_to_the_bundled_models(app_folder: Path) -> None:
    translator, notice = loading.load_translator("someone/missing-repo", bundled=app_folder)
    assert translator.folder == app_folder
    assert notice.startswith("Could not load someone/missing-repo") and "bundled" in notice
    translator, notice = loading.load_translator("./no/such/folder", bundled=app_folder)
    assert translator.folder == app_folder and "FileNotFoundError" in notice
    assert loading.load_translator(None, bundled=app_folder)[1] == text.MODELS_BUNDLED.format(
        source="German", target="English"
    )


def test_no_exception_escapes_an_event_handler() -> None:
    notice = gr.Textbox()

    def broken(sentence: str) -> dict:
        raise RuntimeError("boom")

    assert events.guarded(broken, notice, "translating")("x") == {
        notice: text.ERROR_MESSAGE.format(what="translating", error="RuntimeError")
    }


@pytest.fixture(scope="module")
def built(demo: AttentionDemo) -> tuple[gr.Blocks, object]:
    return serving.build(demo)


def handler(blocks: gr.Blocks, api_name: str) -> Callable[..., dict]:
    """The function Gradio runs for the endpoint ``api_name`` (the guarded handler)."""
    return next(fn.fn for fn in blocks.fns.values() if fn.api_name == api_name)


def test_handlers_return_values_keyed_by_component(built: tuple, demo: AttentionDemo) -> None:
    blocks, ui = built
    values = handler(blocks, "translate")(SENTENCE, "general", 2, False)
    expected = translate_tab.translate_view(demo, SENTENCE, "general", 2)
    tab = ui.translate
    assert values[tab.notice] == expected.notice and values[tab.baseline_text] == expected.baseline_text
    assert output_text(values[tab.output_words]) == expected.attention_text
    assert values[tab.heatmap]["matrix"] == expected.view.heatmap.to_json()["matrix"]
    assert values[tab.shown].text == SENTENCE
    assert {getattr(tab, name) for name in TRANSLATE_OUTPUTS} <= set(values)
    compared = handler(blocks, "compare")(SENTENCE, 1, False)
    assert [compared[box] for box in ui.compare.texts] == compare_tab.compare_view(demo, SENTENCE, 1).texts


def test_every_handler_reports_its_errors_in_one_of_its_own_outputs(built: tuple) -> None:
    """An error message goes to the handler's notice component, which must be an output of that event (Gradio
    rejects values for other components)."""
    blocks, _ = built
    handlers = [fn for fn in blocks.fns.values() if fn.fn is not None]
    assert handlers and all(hasattr(fn.fn, "notice") for fn in handlers)  # every handler is guarded
    for fn in handlers:
        assert fn.fn.notice in fn.outputs, fn.name


def test_user_text_never_reaches_markdown_or_html_templates(built: tuple, demo: AttentionDemo) -> None:
    blocks, _ = built
    outputs = {id(block): block for dependency in blocks.fns.values() for block in dependency.outputs}.values()
    # Every HTML component an event writes to is a browser-drawn heatmap: constant template, style and script, which
    # write the labels with textContent (attention_demo.ui.heatmap).
    html = [b for b in outputs if isinstance(b, gr.HTML)]
    assert html and all(
        (b.html_template, b.css_template, b.js_on_load) == (heatmap.TEMPLATE, heatmap.STYLE, heatmap.SCRIPT)
        for b in html
    )
    assert "innerHTML" not in heatmap.SCRIPT and "${" not in heatmap.TEMPLATE + heatmap.STYLE
    # The only Markdown an event writes is the score-function formula, made from the model name alone.
    assert sum(isinstance(b, gr.Markdown) for b in outputs) == 1
    assert all("<" not in text.formula_markdown(name) for name in demo.attention_types)


def test_gradio_client_translate_endpoint(built: tuple, demo: AttentionDemo, translator: Translator) -> None:
    from gradio_client import Client

    blocks, _ = built
    port = free_port()
    serving.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result = translate_result(client.predict(SENTENCE, "dot", 2, False, api_name="/translate"))
        expected = reference_translation(translator, SENTENCE, "dot", 2)
        assert "beam size 2" in result["notice"] and output_text(result["output_words"]) == expected.text
        assert result["baseline_text"] == reference_translation(translator, SENTENCE, BASELINE, 2).text
        np.testing.assert_allclose(
            result["heatmap"]["matrix"], expected.candidates[0].hypothesis.attention.numpy(), atol=1e-6
        )
        empty = translate_result(client.predict("", "additive", 1, False, api_name="/translate"))
        assert empty["notice"] == text.EMPTY_INPUT_MESSAGE
        script = translate_result(
            client.predict("<script>alert(1)</script>", "additive", 1, False, api_name="/translate")
        )
        assert "<unk>" in "".join(span["token"] for span in script["highlight"])  # text, not escaped HTML
        json.dumps(script["heatmap"])
        compared = client.predict(SENTENCE, 1, False, api_name="/compare")
        assert len(compared) == 1 + 2 * len(demo.attention_types)
        assert list(compared[1:4]) == compare_tab.compare_view(demo, SENTENCE, 1).texts
    finally:
        blocks.close()


def test_figures_of_the_remaining_tabs_draw(demo: AttentionDemo) -> None:
    """The step and coverage figures are matplotlib figures; labels made from any input must draw."""
    view = translate_tab.translate_view(demo, "Die katze $x$ \t <b>", "additive", 2)
    for figure in (
        step_tab.step_view(demo, view.shown, 0, 0).figure,
        evidence_tab.evidence_view(demo, view.shown, 0, False).coverage_figure,
    ):
        figure.savefig(io.BytesIO(), format="png")


def test_each_models_saliency_is_computed_once_per_request(
    demo: AttentionDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One attribution map per model and request: the same matrix feeds the heatmap and the agreement table."""
    calls = []
    method = evidence.ATTRIBUTION_METHODS[evidence_tab.DEFAULT_METHOD]

    def counting(model: object, *args: object) -> evidence.Attributed:
        calls.append(model)
        return method.compute(model, *args)

    monkeypatch.setitem(
        evidence.ATTRIBUTION_METHODS, evidence_tab.DEFAULT_METHOD, dataclasses.replace(method, compute=counting)
    )
    shown = translate_tab.translate_view(demo, SENTENCE, "additive", 2).shown
    view = evidence_tab.evidence_view(demo, shown, 0, merge=False, method="no-such-method")  # unknown: the default
    models = demo.translator.models
    assert view.method == evidence_tab.DEFAULT_METHOD
    assert sorted(map(id, calls)) == sorted(map(id, [models[BASELINE], models["additive"]]))  # side by side: any order
