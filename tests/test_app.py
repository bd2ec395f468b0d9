"""Tests of the Gradio app (app.py) and of attention_demo.inspection on a tiny model folder trained by train.py.

The event functions are called directly (``AttentionDemo``), then once through ``gradio_client`` against the app
launched on localhost. The browser tests (test_app_browser.py) reuse the same tiny folder.
"""

from __future__ import annotations

import io
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import run_subprocess, write_tiny_dataset
from gradio.components.plot import PlotData
from matplotlib.figure import Figure

import app
from attention_demo import hub, plots
from attention_demo.inspection import inspect_steps, merge_attention, source_highlight, word_spans
from attention_demo.model import BASELINE
from attention_demo.model_repo import ATTENTION_EVOLUTION_FILE, HISTORY_FILE, METRICS_FILE, TEST_EXAMPLES_FILE
from attention_demo.translate import Translator

APP_MODELS = ["additive", "dot", "general", BASELINE]
APP_TRAIN_ARGS = [
    "--embedding_size", "16", "--encoder_hidden_size", "8", "--decoder_hidden_size", "16", "--attention_size", "8",
    "--vocab_size", "200", "--num_train_epochs", "2", "--per_device_train_batch_size", "16", "--eval_beam_size", "2",
    "--mixed_precision", "no", "--num_test_examples", "10",
]  # fmt: skip
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
SENTENCE = "Die kleine katze sieht die große hund im park ."


def tiny_app_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four models (2 epochs, so the attention evolution has a slider) trained once per pytest session.

    Both app test modules call this; the folder is kept under the session's base temp dir and reused when present.
    """
    output = tmp_path_factory.getbasetemp() / "app-tiny-models"
    if (output / "done").is_file():
        return output
    data = write_tiny_dataset(tmp_path_factory.mktemp("app-tiny-data"), {"train": 200, "val": 12, "test": 12})
    argv = ["--dataset_name", str(data), "--output_dir", str(output), *APP_TRAIN_ARGS, "--attention", *APP_MODELS]
    result = run_subprocess([sys.executable, "train.py", *argv])
    if result.returncode != 0:
        pytest.fail(f"train.py failed with exit code {result.returncode}:\n{result.stderr[-5000:]}")
    (output / "done").touch()
    return output


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
def app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_app_models(tmp_path_factory)


@pytest.fixture(scope="module")
def demo(app_folder: Path) -> app.AttentionDemo:
    return app.AttentionDemo(Translator(app_folder), "Models: tiny test folder.")


@pytest.fixture(scope="module")
def test_pair(app_folder: Path) -> dict[str, str]:
    """A test sentence with its reference, from the folder's test_examples.json."""
    examples = app.load_examples(app_folder)
    assert examples and examples[0]["reference"], "train.py should write test_examples.json with references"
    return {"source": examples[0]["source"], "reference": examples[0]["reference"]}


def close_when_idle(blocks: gr.Blocks, timeout: float = 60.0) -> None:
    """Wait until no event is running or queued, then close the app.

    A browser test can end while the events it started (the evidence after a translation) still run in Gradio's
    worker threads; if the interpreter then exits with torch code running in such a thread, the C++ runtime aborts
    the whole process (exit code 134).
    """
    queue = blocks._queue  # Gradio has no public "idle" signal
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - idle_since < 0.5:  # idle for half a second
        queues = queue.event_queue_per_concurrency_id.values()
        running = any(job is not None for job in queue.active_jobs)
        if running or any(q.queue or q.current_concurrency for q in queues):
            idle_since = time.monotonic()
        time.sleep(0.05)
    blocks.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------------
# Translate & compare
# ---------------------------------------------------------------------------------------------------------------------


def test_translate_returns_both_translations_a_heatmap_and_beams(demo: app.AttentionDemo) -> None:
    view = demo.translate(SENTENCE, "additive", 3)
    assert isinstance(view.attention_text, str) and view.attention_text
    assert isinstance(view.baseline_text, str) and view.baseline_text
    heatmap = view.view.heatmap  # data for the plotting workers, drawn on demand
    assert isinstance(heatmap, plots.Heatmap) and isinstance(heatmap.figure(), Figure)
    assert heatmap.matrix.shape == (len(heatmap.target_labels), len(heatmap.source_labels))
    assert list(view.beams.columns) == app.BEAM_COLUMNS
    assert 1 <= len(view.beams) <= 3 and len(view.hypotheses) == len(view.beams)
    assert view.beams["translation"].iloc[0] == view.attention_text
    assert view.reference == "" and view.chrf == ""  # not a test sentence
    greedy = demo.translate(SENTENCE, "dot", 1)
    assert len(greedy.beams) == 1 and "greedy" in greedy.notice


def test_each_beam_hypothesis_has_its_own_attention_map(demo: app.AttentionDemo) -> None:
    view = demo.translate(SENTENCE, "general", 4)
    for index, candidate in enumerate(view.shown.candidates):
        hypothesis_view = demo.show_hypothesis(view.shown, index, merge=False)
        rows, cols = candidate.hypothesis.attention.shape
        assert rows == len(candidate.pieces) == len(hypothesis_view.words)
        assert cols == len(view.shown.source_pieces)
        assert isinstance(hypothesis_view.heatmap, plots.Heatmap)
        assert hypothesis_view.heatmap.matrix.shape == (rows, cols)


def test_test_sentence_shows_reference_and_chrf(demo: app.AttentionDemo, test_pair: dict[str, str]) -> None:
    view = demo.translate("  " + test_pair["source"] + " ", "additive", 2)
    assert view.reference == test_pair["reference"]
    assert "with attention (additive)" in view.chrf and "baseline" in view.chrf


@pytest.mark.parametrize("text", ["", "   \n ", None])
def test_empty_input_gives_a_friendly_message(demo: app.AttentionDemo, text: str | None) -> None:
    view = demo.translate(text, "additive", 5)
    assert view.notice == app.EMPTY_INPUT_MESSAGE
    assert view.attention_text == view.baseline_text == "" and view.view.heatmap is None and view.shown is None
    notice, texts, figures = demo.compare(text, 2)
    assert notice == app.EMPTY_INPUT_MESSAGE and figures == [None] * len(demo.attention_types)
    assert demo.inspect(None, 0, 0).notice.startswith("Translate a sentence")


def test_script_and_emoji_input_are_kept_as_literal_text(demo: app.AttentionDemo) -> None:
    text = "<script>window.__pwned=1</script> Die katze 😀 <b>$x$</b>"
    view = demo.translate(text, "additive", 2, merge=True)
    assert view.shown.text == text  # never escaped or altered: the components render it as text
    spans = "".join(token for token, _ in view.view.highlight)
    assert "&lt;" not in spans and "katze" in spans
    view.view.heatmap.figure().savefig(io.BytesIO(), format="png")  # "$x$" in a label must not break mathtext


def test_non_german_input_still_gets_an_answer(demo: app.AttentionDemo) -> None:
    view = demo.translate("The quick brown fox jumps over the lazy dog.", "dot", 2)
    assert view.attention_text and view.baseline_text and isinstance(view.view.heatmap, plots.Heatmap)
    view = demo.translate("Привет, мир! 😀😀", "additive", 2)
    assert view.attention_text and "unknown to the model" in view.notice


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_long_input_is_cut_with_a_notice(demo: app.AttentionDemo, size: int) -> None:
    """Cut before tokenizing (how long it takes is measured by benchmarks/benchmark_app.py, not asserted here)."""
    text = ("Die katze sieht den hund im park . " * (size // 30 + 1))[:size]
    view = demo.translate(text, "additive", 2)
    assert f"{size:,} characters" in view.notice
    assert len(view.shown.text) <= app.MAX_INPUT_CHARS


def test_nonsense_parameters_are_tolerated(demo: app.AttentionDemo) -> None:
    view = demo.translate(SENTENCE, "no-such-type", "lots")
    assert "no-such-type" in view.notice and view.shown.attention_type == demo.attention_types[0]
    assert len(view.beams) == 1  # an unreadable beam size means greedy search
    assert len(demo.translate(SENTENCE, "dot", 1e9).beams) <= app.MAX_BEAM


@pytest.mark.parametrize("merge", [False, True])
def test_word_highlight_is_a_distribution_over_the_source(demo: app.AttentionDemo, merge: bool) -> None:
    view = demo.translate(SENTENCE, "additive", 3, merge=merge)
    shown = view.shown
    source_units = word_spans(shown.source_pieces) if merge else shown.source_pieces
    for word in range(len(view.view.words)):
        picked = demo.show_hypothesis(shown, 0, merge, word)
        scores = [score for _, score in picked.highlight]
        assert len(scores) == len(source_units)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert sum(scores) == pytest.approx(1.0, abs=2e-3)
        assert picked.word == word and picked.focus
    # The spans spell out the source sentence.
    assert "".join(t for t, _ in view.view.highlight).split()[:2] == SENTENCE.split()[:2]


# ---------------------------------------------------------------------------------------------------------------------
# Inside one step
# ---------------------------------------------------------------------------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("attention_type", ["dot", "general", "additive"])
def test_inside_one_step_numbers_are_consistent(demo: app.AttentionDemo, attention_type: str) -> None:
    view = demo.translate(SENTENCE, attention_type, 3)
    hypothesis = len(view.shown.candidates) - 1  # not only the best one
    candidate = view.shown.candidates[hypothesis]
    length = len(candidate.hypothesis.tokens)
    for position in sorted({0, 1, length // 2, length - 1} & set(range(length))):
        step = demo.inspect(view.shown, hypothesis, position)
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
    assert "W_a" in demo.inspect(demo.translate(SENTENCE, "general", 1).shown, 0, 0).formula


def test_inspect_steps_contributions_sum_to_the_context(demo: app.AttentionDemo) -> None:
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


def test_compare_tab_shows_every_attention_type(demo: app.AttentionDemo) -> None:
    assert demo.attention_types == ["additive", "general", "dot"]
    for merge in (False, True):
        notice, texts, figures = demo.compare(SENTENCE, 2, merge)
        assert "3 attention models" in notice
        assert len(texts) == 3 and all(isinstance(t, str) and t for t in texts)
        assert all(isinstance(f, plots.Heatmap) for f in figures)


# ---------------------------------------------------------------------------------------------------------------------
# Evidence beyond the heatmap: coverage, saliency, agreement, surgery
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("merge", [False, True])
def test_evidence_view_shows_coverage_saliency_of_both_models_and_agreement(
    demo: app.AttentionDemo, merge: bool
) -> None:
    view = demo.translate(SENTENCE, "additive", 2, merge)
    candidate = view.shown.candidates[1]
    evidence_view = demo.evidence_view(view.shown, 1, merge)
    assert isinstance(evidence_view.coverage_figure, Figure)
    assert isinstance(evidence_view.saliency_figure, plots.Heatmap)
    assert isinstance(evidence_view.baseline_saliency_figure, plots.Heatmap)  # the baseline has saliency, too
    totals = evidence_view.coverage_table["total attention"].astype(float)
    assert totals.sum() == pytest.approx(len(candidate.pieces), abs=0.01)  # every row of α sums to 1
    assert set(evidence_view.coverage_table["flag"]) <= {"", "dropped", "repeated"}
    agreement = evidence_view.agreement_table
    assert list(agreement.columns) == app.AGREEMENT_COLUMNS
    assert len(agreement) == len(candidate.pieces) + 1 and agreement["output"].iloc[0] == "mean"
    assert len(evidence_view.steps) == len(candidate.pieces)
    assert len(evidence_view.sources) == len(view.shown.source_pieces)
    assert "not proof" in evidence_view.notice
    assert demo.evidence_view(None, 0, merge).notice == "Translate a sentence first."


@pytest.mark.parametrize("mode", ["own", "uniform", "one_word", "permuted", "nonsense"])
def test_surgery_shows_original_control_and_operated_output(demo: app.AttentionDemo, mode: str) -> None:
    view = demo.translate(SENTENCE, "dot", 1)
    notice, table = demo.surgery(view.shown, 0, 1, mode, 0)
    assert list(table.columns) == app.SURGERY_COLUMNS and len(table) == 3
    assert table["translation"].iloc[0] == view.attention_text
    assert table["translation"].iloc[1] == view.attention_text  # control: own weights reproduce greedy decoding
    if mode == "own":
        assert table["translation"].iloc[2] == view.attention_text and "the same output" in notice
    assert notice.startswith("Step 2")
    assert demo.surgery(None, 0, 0, "uniform", 0)[0] == "Translate a sentence first."


def test_corpus_evidence_is_read_from_metrics(demo: app.AttentionDemo) -> None:
    assert demo.evidence_summary().empty  # the tiny folder has no "evidence" (the corpus command was not run)
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
    bare = app.AttentionDemo.__new__(app.AttentionDemo)
    bare.metrics = {"evidence": numbers}
    summary = bare.evidence_summary()
    assert list(summary.columns) == app.EVIDENCE_SUMMARY_COLUMNS and len(summary) == 4
    assert len(plots.gradient_by_distance_figure(numbers).axes) == 1
    assert len(plots.agreement_histograms_figure(numbers).axes) == 6


def test_evidence_plots_build_from_the_files(demo: app.AttentionDemo) -> None:
    assert set(demo.metrics["models"]) == set(APP_MODELS)
    table = demo.results_table()
    assert list(table["model"]) == list(demo.metrics["models"])
    for figure in (plots.bleu_by_length_figure(demo.metrics), plots.training_curves_figure(demo.history)):
        assert len(figure.axes) >= 2  # plots, not the "missing" message
    names, sentences, epochs = demo.evolution_choices()
    assert names == ["additive", "general", "dot"] and sentences and epochs == 2
    for epoch in (1, 2, 99):
        figure, text = demo.evolution_view("dot", 0, epoch)
        assert isinstance(figure, plots.Heatmap) and text.startswith(f"Epoch {min(epoch, 2)}:")


def test_evidence_and_examples_degrade_gracefully_without_files(app_folder: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    ignored = shutil.ignore_patterns(
        METRICS_FILE, HISTORY_FILE, ATTENTION_EVOLUTION_FILE, TEST_EXAMPLES_FILE, "checkpoints"
    )
    shutil.copytree(app_folder, bare, ignore=ignored)
    (bare / HISTORY_FILE).write_text("{not json", encoding="utf-8")  # a broken file counts as missing
    bare_demo = app.AttentionDemo(Translator(bare))
    assert bare_demo.metrics is None and bare_demo.history is None and bare_demo.evolution is None
    assert [e["source"] for e in bare_demo.examples] == app.BUILTIN_EXAMPLES
    assert bare_demo.results_table().empty
    for figure in (plots.bleu_by_length_figure(None), plots.training_curves_figure(None)):
        assert isinstance(figure, Figure) and len(figure.axes) == 1
    figure, text = bare_demo.evolution_view(None, 0, 1)
    assert isinstance(figure, Figure) and text == ""
    assert bare_demo.translate(app.BUILTIN_EXAMPLES[0], "additive", 2).reference == ""
    assert isinstance(app.build_app(bare_demo), gr.Blocks)


# ---------------------------------------------------------------------------------------------------------------------
# Loading, errors, the Gradio app
# ---------------------------------------------------------------------------------------------------------------------


def test_unloadable_model_falls_back_to_the_bundled_models_quickly(app_folder: Path) -> None:
    started = time.perf_counter()
    translator, notice = app.load_translator("someone/missing-repo", bundled=app_folder)
    assert time.perf_counter() - started < 5
    assert translator.folder == app_folder and "Could not load someone/missing-repo" in notice
    assert "bundled" in notice
    _, notice = app.load_translator(None, bundled=app_folder)
    assert notice.startswith("Models: the bundled")


def test_no_exception_escapes_an_event_handler() -> None:
    def broken(text: str) -> tuple[str, str]:
        raise RuntimeError("boom")

    notice, other = app.guarded(broken, 2, 0, "translating")("x")
    assert notice == app.ERROR_MESSAGE.format(what="translating", error="RuntimeError")
    assert other == gr.skip()


def test_a_dead_plotting_process_falls_back_to_drawing_in_the_server(
    demo: app.AttentionDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python app.py`` draws heatmaps in worker processes; if one dies, the request is still answered."""
    from concurrent.futures.process import BrokenProcessPool

    class DeadPool:
        def submit(self, *args: object) -> None:
            raise BrokenProcessPool("a worker was killed")

        def shutdown(self, **kwargs: object) -> None:
            pass

    monkeypatch.setattr(app, "_PLOT_PROCESSES", DeadPool())
    heatmap = demo.translate(SENTENCE, "dot", 2).view.heatmap
    value = app.plot_value(heatmap)
    assert isinstance(value, PlotData) and value.plot.startswith("data:image/webp;base64,")
    assert app._PLOT_PROCESSES is None  # no more tries at the dead pool


def test_user_text_never_reaches_markdown_or_html(demo: app.AttentionDemo) -> None:
    blocks = app.build_app(demo)
    outputs = {
        id(block): block for dependency in blocks.fns.values() for block in dependency.outputs
    }  # every component an event writes to
    html = [b for b in outputs.values() if isinstance(b, gr.HTML)]
    markdown = [b for b in outputs.values() if isinstance(b, gr.Markdown)]
    assert not html
    # The only Markdown an event writes is the score-function formula, made from the model name alone.
    assert len(markdown) == 1
    assert all("<" not in app.formula_markdown(name) for name in demo.attention_types)


def test_gradio_client_translate_endpoint(demo: app.AttentionDemo) -> None:
    from gradio_client import Client

    blocks = app.build_app(demo)
    port = free_port()
    app.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result = client.predict(SENTENCE, "dot", 2, api_name="/translate")
        notice, with_attention, baseline = result[:3]
        assert "beam size 2" in notice and with_attention and baseline
        heatmap = result[8]
        assert heatmap["type"] == "matplotlib" and heatmap["plot"].startswith("data:image/")
        assert client.predict("", "additive", 1, api_name="/translate")[0] == app.EMPTY_INPUT_MESSAGE
        script = client.predict("<script>alert(1)</script>", "additive", 1, api_name="/translate")
        assert script[1] and "<unk>" in "".join(span["token"] for span in script[9])  # text, not escaped HTML
        compared = client.predict(SENTENCE, 1, False, api_name="/compare")
        assert len(compared) == 1 + 2 * len(demo.attention_types) and all(compared[1:4])
    finally:
        blocks.close()
