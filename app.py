"""attention-demo: translate German to English with and without attention, and look inside the attention.

    python app.py                      # bundled models (models/multi30k-de-en), http://127.0.0.1:7860
    python app.py --model user/repo    # a Hub model repo or a local folder (also: MODEL_REPO=...)

Four tabs: translate and compare with the no-attention baseline (heatmap, word highlight, beam alternatives, and
evidence beyond the heatmap: coverage, gradient saliency of both models, agreement, attention surgery); one
decoder step taken apart (Align -> Weight -> Combine); the attention types side by side; and the evidence that
attention helps (BLEU by sentence length, training curves, attention sharpening over epochs, gradient by distance and
agreement histograms), read from the model folder's JSON files once at start-up.

Layout of this file: :class:`AttentionDemo` holds the models and computes what each widget shows (plain Python,
tested directly); :func:`build_app` wires it to Gradio; :func:`main` loads the models and serves. The reusable
computation lives in ``attention_demo.inspection`` and the figures in ``attention_demo.plots``. Heatmaps leave the
views as data (``plots.Heatmap``) and are drawn on the way out: in worker processes when served by :func:`main`
(drawing holds Python's GIL; see :func:`start_plot_processes`), in the calling thread otherwise.

Safety: user text is only ever shown in Textbox, HighlightedText, Dropdown and Dataframe (``str`` columns) components,
which render text, never in Markdown/HTML, so ``<script>`` and friends are displayed, not executed. In plots, ``$`` is
escaped so user text cannot trigger matplotlib's mathtext.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import multiprocessing
import os
import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import torch
from gradio.components.plot import PlotData
from matplotlib.figure import Figure

from attention_demo import evidence, plots
from attention_demo.evaluation import sentence_chrf
from attention_demo.inspection import (
    SCORE_EXPLANATIONS,
    SCORE_FORMULAS,
    SCORE_FORMULAS_PLAIN,
    inspect_steps,
    merge_attention,
    source_highlight,
    word_spans,
)
from attention_demo.model import BASELINE
from attention_demo.model_repo import (
    ATTENTION_EVOLUTION_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    TEST_EXAMPLES_FILE,
    read_json,
)
from attention_demo.plots import display_piece
from attention_demo.tokenizer import EOS_ID, UNK, decode
from attention_demo.translate import Candidate, Translation, Translator

BUNDLED_MODELS = Path(__file__).resolve().parent / "models" / "multi30k-de-en"
MAX_INPUT_CHARS = 1000  # longer input is cut before tokenizing, so even a 100 kB request stays cheap
MAX_BEAM = 10
CONCURRENCY_LIMIT = 2  # requests computed at once (translation is CPU-bound)
QUEUE_SIZE = 32  # requests waiting beyond that; more are turned away with a "queue full" message
DEFAULT_BEAM = 5
EXAMPLES_SHOWN = 8  # sentences in the examples gallery (spread from short to long); the button draws from all
UNKNOWN_NOTICE_RATIO = 0.3  # say so when this share of the source pieces is <unk> (emoji, other scripts)
EMPTY_INPUT_MESSAGE = "Type a German sentence (or pick an example) and press Translate."
ERROR_MESSAGE = "Sorry, something went wrong while {what} ({error}). Please try again, or try a shorter sentence."
MERGE_NOTE = (
    "Merged view: the subwords of one source word are summed (each row still sums to 1) and the rows of one output "
    "word are averaged."
)

# Used when the model folder has no test_examples.json: Multi30k-style German sentences, short to long, no references.
BUILTIN_EXAMPLES = [
    "Ein Hund rennt über die Wiese.",
    "Zwei Kinder spielen am Strand.",
    "Eine Frau mit einem roten Hut liest ein Buch.",
    "Ein Mann in einem blauen Hemd fährt mit dem Fahrrad durch die Stadt.",
    "Eine Gruppe junger Leute sitzt an einem Tisch und isst gemeinsam zu Abend.",
    "Ein kleines Mädchen in einem rosa Kleid springt in einen Haufen Herbstlaub, während sein Vater ein Foto macht.",
    "Zwei Männer in orangefarbenen Westen arbeiten auf einer Baustelle neben einer belebten Straße, während im "
    "Hintergrund ein Bus vorbeifährt und Fußgänger an der Ampel warten.",
]

# Threads for the models of one request (see AttentionDemo.translate_with); shared by the concurrent requests.
_MODEL_THREADS = ThreadPoolExecutor(max_workers=2 * CONCURRENCY_LIMIT, thread_name_prefix="model")
_PLOT_PROCESSES: ProcessPoolExecutor | None = None  # see start_plot_processes (python app.py only)
_SURROGATE = re.compile("[\ud800-\udfff]")

logger = logging.getLogger("attention_demo.app")


# ---------------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------------


def load_translator(model: str | None, bundled: str | Path = BUNDLED_MODELS) -> tuple[Translator, str]:
    """Load the requested model repo (Hub id or folder), falling back to ``bundled``; returns a notice for the UI.

    With the Hub unreachable the fallback takes at most a few seconds (``hub.hub_reachable`` probes once with a
    short timeout, and ``HF_HUB_OFFLINE=1`` skips the probe).
    """
    bundled = Path(bundled)
    if model and Path(model).resolve() != bundled.resolve():
        try:
            return Translator.from_pretrained(model), f"Models: {model}."
        except Exception as error:  # any failure (offline, missing, corrupt) falls back to the bundled copy
            logger.warning("Could not load %s (%s); using the bundled models.", model, error)
            return Translator(bundled), (
                f"Could not load {model} ({type(error).__name__}); showing the bundled models instead."
            )
    return Translator(bundled), "Models: the bundled Multi30k German→English models."


def _read_optional_json(path: Path) -> Any:
    """A JSON file of the model folder, or None if it is missing or unreadable (the UI then says so)."""
    try:
        return read_json(path)
    except (OSError, ValueError) as error:
        logger.warning("Ignoring %s: %s", path, error)
        return None


def load_examples(folder: Path, source_lang: str = "de", target_lang: str = "en") -> list[dict[str, str | None]]:
    """Example sentences ``{"source", "reference"}``: ``test_examples.json`` of the folder, else the built-in list.

    The file holds a list of ``{source_lang: ..., target_lang: ...}`` pairs (``{"source", "reference"}`` is accepted
    too); the built-in sentences have no reference.
    """
    rows = _read_optional_json(folder / TEST_EXAMPLES_FILE)
    examples = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        source = row.get(source_lang) or row.get("source")
        reference = row.get(target_lang) or row.get("reference")
        if isinstance(source, str) and source.strip():
            examples.append({"source": source.strip(), "reference": reference if isinstance(reference, str) else None})
    return examples or [{"source": s, "reference": None} for s in BUILTIN_EXAMPLES]


def gallery_examples(examples: list[dict[str, str | None]], count: int = EXAMPLES_SHOWN) -> list[str]:
    """``count`` example sentences spread evenly from the shortest to the longest."""
    ordered = sorted((e["source"] for e in examples), key=len)
    if len(ordered) <= count:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


def _normalise(text: str) -> str:
    """Key for matching input against test sentences: surrounding and repeated whitespace ignored."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------------------------------
# What the widgets show (plain Python: the tests call these directly)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Shown:
    """The translation on screen, kept per browser session in ``gr.State`` for the widgets that look at it."""

    text: str  # the input as translated (after cutting)
    attention_type: str | None  # None when the folder has no attention model
    source_ids: list[int]  # ending with </s>
    source_pieces: list[str]
    candidates: list[Candidate]  # best first; each has its own attention matrix
    baseline: Candidate | None = None  # the baseline's best translation (for its saliency map)


@dataclass
class HypothesisView:
    """The heatmap and word highlight for one hypothesis and one chosen output word."""

    heatmap: plots.Heatmap | Figure | None  # a Figure only for the "no attention" message
    words: list[tuple[str, int]]  # output word (or piece) choices: (label, row index)
    word: int | None
    highlight: list[tuple[str, float]] | None  # the source as (text, weight) spans; weights sum to 1
    focus: str  # the chosen word's strongest source words, as text


@dataclass
class TranslateView:
    """Everything the main tab shows after Translate."""

    notice: str
    attention_text: str
    baseline_text: str
    reference: str = ""
    chrf: str = ""
    beams: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BEAM_COLUMNS))
    hypotheses: list[tuple[str, int]] = field(default_factory=list)
    view: HypothesisView = field(default_factory=lambda: HypothesisView(None, [], None, None, ""))
    shown: Shown | None = None


@dataclass
class StepView:
    """The "Inside one step" tab."""

    notice: str
    positions: list[tuple[str, int]] = field(default_factory=list)
    position: int | None = None
    formula: str = ""
    figure: Figure | None = None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STEP_COLUMNS))
    # the numbers behind the figure, for checking: (S,) scores e, (S,) weights alpha, (d,) context, (S, d) values
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None
    context: np.ndarray | None = None
    values: np.ndarray | None = None


@dataclass
class EvidenceView:
    """Evidence beyond the heatmap for the shown hypothesis: coverage, saliency (both models), agreement."""

    notice: str
    coverage_figure: Figure | None = None
    coverage_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COVERAGE_COLUMNS))
    agreement_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AGREEMENT_COLUMNS))
    saliency_figure: plots.Heatmap | None = None  # the attention model's gradient saliency
    baseline_saliency_figure: plots.Heatmap | None = None
    steps: list[tuple[str, int]] = field(default_factory=list)  # output positions, for the surgery
    sources: list[tuple[str, int]] = field(default_factory=list)  # source pieces, for one-word surgery


COVERAGE_COLUMNS = ["source", "total attention", "flag"]
AGREEMENT_COLUMNS = ["output", "τ vs saliency", "top-1 vs saliency", "JSD vs saliency", "τ vs occlusion",
                     "top-1 vs occlusion", "JSD vs occlusion"]  # fmt: skip
SURGERY_COLUMNS = ["version", "translation", "log-probability", "per token", "tokens"]
SURGERY_MODE_CHOICES = [
    ("uniform over the source", "uniform"),
    ("all on one source word", "one_word"),
    ("random permutation of the learned weights", "permuted"),
    ("the model's own weights (control)", "own"),
]
EVIDENCE_SUMMARY_COLUMNS = ["model", "comparison", "mean Kendall τ", "top-1 agreement", "chance top-1", "mean JSD",
                            "output steps"]  # fmt: skip
BEAM_COLUMNS = ["rank", "translation", "log-probability", "per token", "tokens", "finished"]
STEP_COLUMNS = ["source piece", "α_j", "‖α_j h_j‖", "share of c"]


class AttentionDemo:
    """The models of one folder and everything the app computes from them.

    Args:
        translator: the loaded models.
        notice: a line about where the models came from (shown in the header).
    """

    def __init__(self, translator: Translator, notice: str = "") -> None:
        self.translator = translator
        self.notice = notice
        self.attention_types = [name for name in translator.models if name != BASELINE]
        self.has_baseline = BASELINE in translator.models
        self.examples = load_examples(translator.folder, translator.source_lang, translator.target_lang)
        self.references = {_normalise(e["source"]): e["reference"] for e in self.examples if e["reference"]}
        # The evidence files are read once, here; nothing is recomputed from the dataset.
        self.metrics = _read_optional_json(translator.folder / METRICS_FILE)
        self.history = _read_optional_json(translator.folder / HISTORY_FILE)
        self.evolution = _read_optional_json(translator.folder / ATTENTION_EVOLUTION_FILE)

    # -- Translate & compare --------------------------------------------------------------------------------------

    @staticmethod
    def clean_input(text: Any) -> tuple[str, list[str]]:
        """The input as a string cut to ``MAX_INPUT_CHARS`` (cutting first keeps huge requests cheap), plus notices."""
        text = "" if text is None else str(text)
        notices = []
        if _SURROGATE.search(text):  # half of a UTF-16 pair (possible in JSON): not text, the tokenizer rejects it
            text = _SURROGATE.sub("\ufffd", text)
            notices.append("Some characters were not valid Unicode and were replaced by \ufffd.")
        if len(text) > MAX_INPUT_CHARS:
            length = len(text)
            cut = text[:MAX_INPUT_CHARS]
            # Cut at the last space so that no word is chopped in half (unless that would lose too much).
            space = cut.rfind(" ")
            text = cut[:space] if space > MAX_INPUT_CHARS // 2 else cut
            notices.append(f"The input had {length:,} characters; only the first {len(text)} were translated.")
        return text, notices

    def translate(self, text: Any, attention_type: str | None, beam_size: Any, merge: bool = False) -> TranslateView:
        """Translate with the chosen attention model and the baseline; the heatmap shows the best hypothesis.

        Args:
            text: the German input (anything; None and non-strings are tolerated).
            attention_type: one of ``self.attention_types`` (an unknown one falls back to the first).
            beam_size: 1 for greedy search, up to ``MAX_BEAM``.
            merge: show words instead of subwords in the heatmap and highlight.
        """
        text, notices = self.clean_input(text)
        if not text.strip():
            return TranslateView(notice=EMPTY_INPUT_MESSAGE, attention_text="", baseline_text="")
        beam = self._beam_size(beam_size)
        if attention_type not in self.attention_types:
            if attention_type:
                notices.append(f"There is no {attention_type} model here; used {self._default_type()} instead.")
            attention_type = self._default_type()
        started = time.perf_counter()
        names = [attention_type or BASELINE] + ([BASELINE] if self.has_baseline and attention_type else [])
        ours, *others = self.translate_with(text, names, beam)
        base = (others[0] if others else ours) if self.has_baseline else None
        logger.info("translated %d characters in %.2f s", len(text), time.perf_counter() - started)
        if ours.truncated:
            notices.append(
                f"The input is longer than the model's {len(ours.source_pieces) - 1} subwords; the rest was left out."
            )
        unknown = sum(piece == UNK for piece in ours.source_pieces)
        if unknown and unknown >= UNKNOWN_NOTICE_RATIO * (len(ours.source_pieces) - 1):
            notices.append(
                "Many characters are unknown to the model (it was trained on German image captions), so this "
                "translation is a guess; unknown characters appear as <unk>."
            )
        shown = Shown(
            text=text,
            attention_type=attention_type,
            source_ids=self.translator.source_ids(text)[0],
            source_pieces=ours.source_pieces,
            candidates=ours.candidates,
            baseline=base.candidates[0] if base and base.candidates else None,
        )
        view = TranslateView(
            notice=" ".join(notices) or f"Translated with {'greedy search' if beam == 1 else f'beam size {beam}'}.",
            attention_text=ours.text if attention_type else "(this model folder has no attention model)",
            baseline_text=base.text if base else "(this model folder has no baseline model)",
            beams=self._beam_table(ours.candidates),
            hypotheses=[
                (f"#{i + 1}: {c.text}  ({c.hypothesis.normalized_score:.2f} per token)", i)
                for i, c in enumerate(ours.candidates)
            ],
            view=self.show_hypothesis(shown, 0, merge),
            shown=shown,
        )
        reference = self.references.get(_normalise(text))
        if reference:
            view.reference = reference
            scores = [f"with attention ({attention_type}): {sentence_chrf(ours.text, reference):.1f}"]
            if base:
                scores.append(f"baseline: {sentence_chrf(base.text, reference):.1f}")
            view.chrf = "Sentence chrF against the reference: " + ", ".join(scores)
        return view

    def translate_with(self, text: str, names: list[str], beam: int) -> list[Translation]:
        """``text`` translated by each model in ``names``, the models running side by side in threads.

        Torch releases the GIL while it computes, so on two cores the attention model and the baseline together take
        about as long as one of them (about 100 ms one after the other, 60-80 ms side by side; README, Performance).
        """
        later = [_MODEL_THREADS.submit(self._translate_one, text, name, beam) for name in names[1:]]
        return [self._translate_one(text, names[0], beam), *(future.result() for future in later)]

    def _translate_one(self, text: str, name: str, beam: int) -> Translation:
        with torch.inference_mode():  # thread-local: entered in the thread that runs the model
            return self.translator.translate([text], name, beam)[0]

    def _default_type(self) -> str | None:
        return self.attention_types[0] if self.attention_types else None

    @staticmethod
    def _beam_size(value: Any) -> int:
        """A beam size from the slider or an API call, clamped to 1..MAX_BEAM (nonsense gives greedy search)."""
        try:
            return min(MAX_BEAM, max(1, int(float(value))))
        except (TypeError, ValueError, OverflowError):
            return 1

    @staticmethod
    def _beam_table(candidates: list[Candidate]) -> pd.DataFrame:
        """One row per beam hypothesis: its text, total and per-token log-probability, length, and whether it ended."""
        rows = [
            [
                i + 1,
                c.text,
                round(c.hypothesis.score, 3),
                round(c.hypothesis.normalized_score, 3),
                len(c.hypothesis.tokens),
                "yes" if c.pieces and c.pieces[-1] == "</s>" else "no (length limit)",
            ]
            for i, c in enumerate(candidates)
        ]
        return pd.DataFrame(rows, columns=BEAM_COLUMNS)

    def show_hypothesis(self, shown: Shown | None, hypothesis: Any, merge: bool, word: Any = 0) -> HypothesisView:
        """Heatmap of hypothesis ``hypothesis`` (subwords, or words when ``merge``) with output row ``word`` outlined,
        and the source highlighted by that row's weights."""
        if shown is None or not shown.candidates:
            return HypothesisView(None, [], None, None, "Translate a sentence first.")
        if shown.attention_type is None:
            figure = plots.message_figure("The baseline has no attention: it reads one fixed summary vector.")
            return HypothesisView(figure, [], None, None, "")
        candidate = shown.candidates[_index(hypothesis, len(shown.candidates))]
        attention = candidate.hypothesis.attention.numpy()  # (output pieces, source pieces)
        if merge:
            matrix, columns, rows = merge_attention(attention, shown.source_pieces, candidate.pieces)
        else:
            matrix, columns, rows = attention, shown.source_pieces, candidate.pieces
        labels = rows if merge else [display_piece(p) for p in rows]
        row = _index(word, len(labels))
        title = f"{shown.attention_type} attention, hypothesis #{_index(hypothesis, len(shown.candidates)) + 1}"
        figure = plots.Heatmap(
            matrix, tuple(columns), tuple(rows), title=title + (" (words)" if merge else " (subwords)"),
            pieces=not merge, highlight_row=row,
        )  # fmt: skip
        weights = matrix[row]
        highlight = source_highlight(shown.source_pieces, weights, merged=merge)
        column_labels = columns if merge else [display_piece(p) for p in columns]
        strongest = np.argsort(-weights)[:3]
        focus = f"“{labels[row]}” attends to: " + ", ".join(f"{column_labels[j]} {weights[j]:.2f}" for j in strongest)
        return HypothesisView(
            figure, [(f"{i + 1}. {label}", i) for i, label in enumerate(labels)], row, highlight, focus
        )

    def random_example(self) -> str:
        """A random example sentence (a test sentence when the folder has them)."""
        return random.choice(self.examples)["source"]

    # -- Evidence beyond the heatmap -------------------------------------------------------------------------------

    def evidence_view(self, shown: Shown | None, hypothesis: Any, merge: bool) -> EvidenceView:
        """Coverage, gradient saliency of both models and attention/saliency/occlusion agreement for the shown
        hypothesis (``attention_demo.evidence``; a few teacher-forced passes, computed on demand)."""
        if shown is None or not shown.candidates:
            return EvidenceView("Translate a sentence first.")
        view = EvidenceView("")
        source_labels = [display_piece(p) for p in shown.source_pieces]
        view.sources = [(f"{j + 1}. {label}", j) for j, label in enumerate(source_labels)]
        if shown.baseline is not None and shown.baseline.hypothesis.tokens:
            view.baseline_saliency_figure = self._saliency_figure(shown, shown.baseline, BASELINE, merge)
        if shown.attention_type is None:
            view.notice = "This folder has no attention model: only the baseline's saliency is shown."
            return view
        candidate = shown.candidates[_index(hypothesis, len(shown.candidates))]
        tokens = candidate.hypothesis.tokens
        if not tokens:
            view.notice = "This hypothesis is empty."
            return view
        view.steps = [(f"{t + 1}. {display_piece(p)}", t) for t, p in enumerate(candidate.pieces)]
        attention = candidate.hypothesis.attention.numpy()  # (T, S)
        spans = word_spans(shown.source_pieces) if merge else None
        groups = [indices for _, indices in spans] if spans else None
        labels = [w for w, _ in spans] if spans else shown.source_pieces
        eos = len(labels) - 1 if shown.source_pieces[-1] == "</s>" else -1
        cover = evidence.coverage(attention, groups, ignore=[eos])
        view.coverage_figure = plots.coverage_figure(cover.totals, cover.flags, labels, pieces=not merge)
        shown_labels = labels if merge else source_labels
        view.coverage_table = pd.DataFrame(
            [
                [label, round(float(total), 3), flag]
                for label, total, flag in zip(shown_labels, cover.totals, cover.flags)
            ],
            columns=COVERAGE_COLUMNS,
        )
        view.saliency_figure = self._saliency_figure(shown, candidate, shown.attention_type, merge)
        model = self.translator.models[shown.attention_type]
        saliency = evidence.saliency(model, shown.source_ids, tokens)
        occlusion = evidence.occlusion(model, shown.source_ids, tokens)
        rows = []
        for t, piece in enumerate(candidate.pieces):
            a, b = evidence.agreement(attention[t], saliency[t]), evidence.agreement(attention[t], occlusion[t])
            rows.append([display_piece(piece), a["kendall_tau"], a["top1"], a["jsd"], b["kendall_tau"], b["top1"],
                         b["jsd"]])  # fmt: skip
        means = np.nanmean(np.array([r[1:] for r in rows], dtype=float), axis=0)
        table = [["mean", *means]] + rows
        view.agreement_table = pd.DataFrame(
            [[r[0], *[f"{v:.3f}" if np.isfinite(v) else "n/a" for v in r[1:]]] for r in table],
            columns=AGREEMENT_COLUMNS,
        )
        flagged = [f"{label} ({flag})" for label, flag in zip(shown_labels, cover.flags) if flag]
        view.notice = (
            f"Mean agreement of the attention rows with gradient saliency: τ = {means[0]:.2f}, top-1 = {means[1]:.2f}; "
            f"with occlusion: τ = {means[3]:.2f}, top-1 = {means[4]:.2f}. Coverage flags: "
            + (", ".join(flagged) if flagged else "none")
            + ". Agreement is evidence that a heatmap points at what the prediction used, not proof."
        )
        return view

    def _saliency_figure(self, shown: Shown, candidate: Candidate, name: str, merge: bool) -> plots.Heatmap:
        """Gradient x input saliency heatmap of ``candidate`` (translated by model ``name``), rows sum to 1."""
        model = self.translator.models[name]
        matrix = evidence.saliency(model, shown.source_ids, candidate.hypothesis.tokens)
        columns, rows = shown.source_pieces, candidate.pieces
        if merge:
            matrix, columns, rows = merge_attention(matrix, columns, rows)
        title = f"{name}: gradient saliency" + (" (no attention)" if name == BASELINE else "")
        return plots.Heatmap(
            matrix, tuple(columns), tuple(rows), title=title, pieces=not merge, colorbar_label="share of ‖grad × input‖"
        )

    def surgery(
        self, shown: Shown | None, hypothesis: Any, step: Any, mode: Any, source: Any
    ) -> tuple[str, pd.DataFrame]:
        """Replace the attention weights of output position ``step`` and re-decode greedily from there.

        Three rows: the shown hypothesis (teacher-forced), the control (own weights, greedy from ``step``, which
        separates the effect of greedy decoding from that of the surgery) and the operated version.
        """
        empty = pd.DataFrame(columns=SURGERY_COLUMNS)
        if shown is None or not shown.candidates:
            return "Translate a sentence first.", empty
        if shown.attention_type is None:
            return "The baseline has no attention weights to operate on.", empty
        candidate = shown.candidates[_index(hypothesis, len(shown.candidates))]
        tokens = candidate.hypothesis.tokens
        if not tokens:
            return "This hypothesis is empty.", empty
        modes = [value for _, value in SURGERY_MODE_CHOICES]
        mode = mode if mode in modes else modes[0]
        t = _index(step, len(tokens))
        j = _index(source, len(shown.source_ids))
        model = self.translator.models[shown.attention_type]
        control = evidence.surgery(model, shown.source_ids, tokens, t, "own")
        operated = evidence.surgery(model, shown.source_ids, tokens, t, mode, source_index=j)
        label = dict((value, text) for text, value in SURGERY_MODE_CHOICES)[mode]

        def row(version: str, ids: list[int], logprobs: list[float]) -> list:
            words = ids[:-1] if ids and ids[-1] == EOS_ID else ids
            total = float(sum(logprobs))
            return [version, decode(self.translator.tgt_tokenizer, words), round(total, 3),
                    round(total / max(len(ids), 1), 3), len(ids)]  # fmt: skip

        table = pd.DataFrame(
            [
                row("shown hypothesis", control.original_tokens, control.original_logprobs),
                row(f"own weights at step {t + 1}, then greedy (control)", control.tokens, control.token_logprobs),
                row(f"{label} at step {t + 1}, then greedy", operated.tokens, operated.token_logprobs),
            ],
            columns=SURGERY_COLUMNS,
        )
        source_labels = [display_piece(p) for p in shown.source_pieces]
        own, used = operated.original_weights, operated.weights
        changed = "the same output as" if operated.tokens == control.tokens else "a different output from"
        notice = (
            f"Step {t + 1} (“{display_piece(candidate.pieces[t])}”): the model's own weights put {own.max():.2f} on "
            f"“{source_labels[int(own.argmax())]}”; the operated weights put {used.max():.2f} on "
            f"“{source_labels[int(used.argmax())]}”. The surgery gives {changed} the control, with "
            f"log-probability {operated.logprob:.2f} instead of {control.logprob:.2f}."
        )
        return notice, table

    # -- Inside one step ------------------------------------------------------------------------------------------

    def inspect(self, shown: Shown | None, hypothesis: Any, position: Any) -> StepView:
        """Align -> Weight -> Combine for one output position of the shown hypothesis (teacher-forced).

        Re-runs the decoder over the hypothesis's tokens (``inspection.inspect_steps``) to get the raw scores ``e``,
        the weights ``α`` and the encoder annotations ``h_j``; the context shown is the model's own
        ``c = Σ_j α_j h_j``.
        """
        if shown is None or not shown.candidates:
            return StepView("Translate a sentence on the first tab, then come back here.")
        if shown.attention_type is None:
            return StepView("The baseline has no attention step to show.")
        candidate = shown.candidates[_index(hypothesis, len(shown.candidates))]
        tokens = candidate.hypothesis.tokens
        if not tokens:
            return StepView("This hypothesis is empty.")
        model = self.translator.models[shown.attention_type]
        steps = inspect_steps(model, shown.source_ids, tokens)
        t = _index(position, len(tokens))
        parts = steps.contributions(t)
        source_labels = [display_piece(p) for p in shown.source_pieces]
        target_label = display_piece(candidate.pieces[t])
        figure = plots.step_figure(
            steps.scores[t], steps.weights[t], steps.values, steps.contexts[t], source_labels, target_label
        )
        order = np.argsort(-parts["weight"])
        table = pd.DataFrame(
            [
                [source_labels[j], round(float(parts["weight"][j]), 4), round(float(parts["norm"][j]), 4),
                 f"{100 * float(parts['share'][j]):.1f}%"]
                for j in order
            ],
            columns=STEP_COLUMNS,
        )  # fmt: skip
        weights, context = steps.weights[t], steps.contexts[t]
        check = float(np.abs(context - weights @ steps.values).max())
        notice = (
            f"Output position {t + 1} (“{target_label}”): Σ α_j = {weights.sum():.4f}; the context c has "
            f"{context.shape[0]} dimensions, ‖c‖ = {np.linalg.norm(context):.3f}; max |c − Σ α_j h_j| = {check:.1e}."
        )
        return StepView(
            notice=notice,
            positions=[(f"{i + 1}. {display_piece(p)}", i) for i, p in enumerate(candidate.pieces)],
            position=t,
            formula=formula_markdown(shown.attention_type),
            figure=figure,
            table=table,
            scores=steps.scores[t],
            weights=weights,
            context=context,
            values=steps.values,
        )

    # -- Compare attention types ----------------------------------------------------------------------------------

    def compare(
        self, text: Any, beam_size: Any, merge: bool = False
    ) -> tuple[str, list[str], list[plots.Heatmap | None]]:
        """The same sentence through every attention model: a notice, the translations and the heatmaps."""
        text, notices = self.clean_input(text)
        if not text.strip():
            return EMPTY_INPUT_MESSAGE, ["" for _ in self.attention_types], [None for _ in self.attention_types]
        beam = self._beam_size(beam_size)
        texts, figures = [], []
        for name, result in zip(self.attention_types, self.translate_with(text, self.attention_types, beam)):
            best = result.candidates[0]
            attention = best.hypothesis.attention.numpy()
            columns, rows = result.source_pieces, best.pieces
            if merge:
                attention, columns, rows = merge_attention(attention, columns, rows)
            texts.append(best.text)
            figures.append(plots.Heatmap(attention, tuple(columns), tuple(rows), title=name, pieces=not merge))
        notices.append(f"The same sentence through {len(self.attention_types)} attention models "
                       f"({'greedy search' if beam == 1 else f'beam size {beam}'}).")  # fmt: skip
        return " ".join(notices), texts, figures

    # -- Why attention helps --------------------------------------------------------------------------------------

    def results_table(self) -> pd.DataFrame:
        """Test scores per model from metrics.json (empty when the file is missing)."""
        models = (self.metrics or {}).get("models") or {}
        rows = [
            [name, m.get("bleu"), m.get("chrf"), m.get("best_epoch"), m.get("num_parameters")]
            for name, m in models.items()
        ]
        return pd.DataFrame(rows, columns=["model", "test BLEU", "test chrF", "best epoch", "parameters"])

    def evidence_summary(self) -> pd.DataFrame:
        """Corpus agreement means per model and comparison from metrics.json "evidence" (empty when missing)."""
        models = ((self.metrics or {}).get("evidence") or {}).get("models") or {}
        order = list(plots.AGREEMENT_PAIRS)
        rows = []
        for name, numbers in models.items():
            found = numbers.get("agreement") or {}
            for pair in sorted(found, key=lambda p: order.index(p) if p in order else len(order)):
                values = found[pair]
                rows.append([
                    name, plots.AGREEMENT_PAIRS.get(pair, pair), values["kendall_tau"].get("mean"),
                    values["top1"].get("mean"), values.get("chance_top1"), values["jsd"].get("mean"),
                    values.get("num_steps"),
                ])  # fmt: skip
        return pd.DataFrame(rows, columns=EVIDENCE_SUMMARY_COLUMNS)

    def evolution_choices(self) -> tuple[list[str], list[tuple[str, int]], int]:
        """Models with attention snapshots, the snapshot sentences, and the largest number of epochs."""
        models = (self.evolution or {}).get("models") or {}
        names = [n for n in self.attention_types if models.get(n)] + [
            n for n in models if n not in self.attention_types
        ]
        sentences = (self.evolution or {}).get("sentences") or []
        epochs = max((len(models[n]) for n in names if models.get(n)), default=0)
        return names, [(s, i) for i, s in enumerate(sentences)], epochs

    def evolution_view(self, model: str | None, sentence: Any, epoch: Any) -> tuple[plots.Heatmap | Figure, str]:
        """The attention map of snapshot ``sentence`` after epoch ``epoch`` (1-based) of ``model``."""
        snapshots = ((self.evolution or {}).get("models") or {}).get(model or "")
        if not snapshots:
            return plots.message_figure("No attention snapshots (attention_evolution.json) for this model."), ""
        index = _index(int(_number(epoch, 1)) - 1, len(snapshots))
        snapshot = snapshots[index]
        translations = snapshot.get("translations") or []
        if not translations:
            return plots.message_figure("This snapshot holds no sentences."), ""
        row = translations[_index(sentence, len(translations))]
        attention = np.asarray(row["attention"], dtype=float)
        epoch_number = snapshot.get("epoch", index + 1)
        title = f"{model} after epoch {epoch_number}"
        figure = plots.Heatmap(attention, tuple(row["source_pieces"]), tuple(row["target_pieces"]), title=title)
        words = "".join(p for p in row["target_pieces"] if not p.startswith("<")).replace("▁", " ").strip()
        return figure, f"Epoch {epoch_number}: {words}"


def _index(value: Any, length: int) -> int:
    """A list index from a widget value (int, float, str or None), clamped to ``0..length-1``."""
    return min(max(int(_number(value, 0)), 0), max(length - 1, 0))


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def formula_markdown(attention_type: str) -> str:
    """The score function of ``attention_type`` and the two shared steps, in LaTeX with a plain-text line."""
    return (
        f"**Align** with the `{attention_type}` score function: {SCORE_EXPLANATIONS[attention_type]}\n\n"
        f"$${SCORE_FORMULAS[attention_type]}$$\n\n"
        r"**Weight** (softmax over the source) and **Combine** (weighted sum of the encoder annotations):"
        "\n\n"
        r"$$\alpha_{tj} = \frac{\exp(e_{tj})}{\sum_i \exp(e_{ti})} \qquad "
        r"\mathbf{c}_t = \sum_j \alpha_{tj}\,\mathbf{h}_j$$"
        "\n\n"
        f"In plain text: `{SCORE_FORMULAS_PLAIN[attention_type]}`, `α = softmax(e)`, `c = Σ_j α_j h_j`, with the "
        "query q = s_t (the decoder state at this step) and the keys k = h_j (the encoder annotations, which are "
        "also the values)."
    )


def plot_value(value: Any) -> Any:
    """A heatmap or matplotlib figure as ``gr.Plot`` data, drawn and encoded fast (:func:`plots.render`); anything
    else as is."""
    return plot_values((value,))[0]


def plot_values(values: tuple) -> tuple:
    """:func:`plot_value` of each of ``values``; the heatmaps are drawn side by side in the worker processes when
    :func:`start_plot_processes` has started them, else here."""
    pending, pool = {}, _PLOT_PROCESSES
    if pool is not None:
        try:
            pending = {i: pool.submit(plots.render, v) for i, v in enumerate(values) if isinstance(v, plots.Heatmap)}
        except BrokenProcessPool:
            _stop_plot_processes()
    converted = []
    for i, value in enumerate(values):
        if isinstance(value, (plots.Heatmap, Figure)):
            try:
                uri = pending[i].result() if i in pending else plots.render(value)
            except BrokenProcessPool:  # a worker died (out of memory?): draw here from now on
                _stop_plot_processes()
                uri = plots.render(value)
            value = PlotData(type="matplotlib", plot=uri)
        converted.append(value)
    return tuple(converted)


def start_plot_processes(workers: int = CONCURRENCY_LIMIT) -> None:
    """Draw the heatmaps of requests in ``workers`` processes instead of the server's threads.

    Drawing a figure holds Python's GIL for about 95 ms per request, so the requests Gradio runs at once took turns;
    in worker processes they draw in parallel. The workers are forked, all at once, before the models are loaded
    (so they do not hold a copy of them) and while this process has no other thread (forking a threaded process can
    deadlock the child); ``gc.freeze()`` first, so that the children's garbage collector leaves the pages they share
    with this process alone.
    """
    global _PLOT_PROCESSES
    if "fork" not in multiprocessing.get_all_start_methods():  # Windows: draw in the server process
        return
    gc.collect()
    gc.freeze()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    pool.submit(int).result()  # fork every worker now (a fork-based pool starts them all on the first task)
    _PLOT_PROCESSES = pool


def _stop_plot_processes() -> None:
    global _PLOT_PROCESSES
    if _PLOT_PROCESSES is not None:
        logger.warning("A plotting process died; drawing in the server process from now on.")
        _PLOT_PROCESSES.shutdown(wait=False, cancel_futures=True)
        _PLOT_PROCESSES = None


def guarded(handler: Callable[..., Any], outputs: int, notice: int, what: str) -> Callable[..., Any]:
    """Wrap an event handler so that no exception reaches Gradio: log it and show a clear sentence instead.

    Figures and heatmaps among the handler's return values are drawn here (:func:`plot_values`), inside the ``try``.

    On an error every output is left unchanged (``gr.skip()``) except output ``notice``, which gets the message.
    """

    @functools.wraps(handler)
    def run(*args: Any) -> Any:
        try:
            result = handler(*args)
            return plot_values(result) if isinstance(result, tuple) else plot_value(result)
        except Exception as error:
            logger.exception("Error while %s", what)
            values: list[Any] = [gr.skip()] * outputs
            values[notice] = ERROR_MESSAGE.format(what=what, error=type(error).__name__)
            return values[0] if outputs == 1 else tuple(values)

    return run


# ---------------------------------------------------------------------------------------------------------------------
# The Gradio app
# ---------------------------------------------------------------------------------------------------------------------

INTRO = """# attention-demo: inside neural machine translation with attention
A GRU encoder–decoder translates German to English. At every output word, **attention** scores the decoder's state
against every source word (**Align**), turns the scores into weights that sum to 1 (**Weight**), and reads a weighted
average of the encoder's annotations (**Combine**). The **baseline** is the same network without attention: it must
squeeze the whole sentence into one fixed vector."""


EVIDENCE_NOTE = """**Gradient saliency** (left: the attention model, right: the baseline, each on its own best
translation): how strongly each output word's log-probability reacts to each source piece (‖gradient × input‖ on the
source embeddings, rows normalised to sum 1). The baseline has no attention, but it has saliency. The table compares
every attention row with saliency and with **occlusion** (the drop in the word's log-probability when that source
piece is replaced by `<unk>`): Kendall τ (rank agreement, −1..1), top-1 (same strongest piece) and Jensen–Shannon
divergence (0 = same distribution, 1 = disjoint). Agreement is evidence that the heatmap shows what the prediction
used, not proof; whether attention is an explanation is disputed (Jain & Wallace 2019, *Attention is not Explanation*;
Wiegreffe & Pinter 2019, *Attention is not not Explanation*)."""

SURGERY_NOTE = """Replace the attention weights α of one output step before the **Combine** step, keep the words before
it, and let the model decode greedily from there. The control row uses the model's own weights (it reproduces greedy
decoding exactly), so any difference between control and operated output is caused by the surgery."""

EVIDENCE_TAB_NOTE = """**Does the heatmap show what the model used?** Computed once by `python -m
attention_demo.evidence` (see the README) on the first test sentences with greedy decoding, stored in metrics.json
under "evidence". The curve shows how the gradient that reaches a source piece falls with its distance from the output
position, for the attention models and the baseline; the histograms show, per output step, how well the attention row
agrees with gradient saliency and with occlusion (and, for every model including the baseline, saliency with
occlusion). Agreement is evidence, not proof (Jain & Wallace 2019; Wiegreffe & Pinter 2019)."""


def build_app(translator: Translator | AttentionDemo, notice: str = "") -> gr.Blocks:
    """The Gradio Blocks app for a loaded :class:`Translator` (or a ready :class:`AttentionDemo`)."""
    app = translator if isinstance(translator, AttentionDemo) else AttentionDemo(translator, notice)
    types = app.attention_types
    with gr.Blocks(title="attention-demo: attention in neural machine translation") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(f"*{app.notice}*" if app.notice else "")  # written by us from the --model argument
        shown = gr.State(None)

        with gr.Tab("Translate & compare"):
            with gr.Row():
                source = gr.Textbox(
                    label="German sentence", value=app.examples[0]["source"], lines=2, max_lines=8, scale=4,
                    placeholder="Ein Hund rennt über die Wiese.",
                )  # fmt: skip
                with gr.Column(scale=1, min_width=200):
                    translate_button = gr.Button("Translate", variant="primary")
                    random_button = gr.Button("Random test sentence")
            with gr.Row():
                attention_type = gr.Dropdown(
                    types, value=types[0] if types else None, label="Attention type", info="the score function"
                )
                beam = gr.Slider(1, MAX_BEAM, value=DEFAULT_BEAM, step=1, label="Beam size", info="1 = greedy search")
                merge = gr.Checkbox(
                    value=False, label="Merge subwords into words", info="source: summed · output: averaged"
                )
            examples = gr.Examples(
                [[s] for s in gallery_examples(app.examples)],
                inputs=[source],
                label="Examples, short to long (click one to translate it)",
                cache_examples=False,
                examples_per_page=EXAMPLES_SHOWN,
            )
            status = gr.Textbox(label="Notes", interactive=False, lines=1)
            with gr.Row():
                ours = gr.Textbox(label="With attention", interactive=False, lines=2, elem_id="translation-attention")
                base = gr.Textbox(
                    label="Baseline (no attention)", interactive=False, lines=2, elem_id="translation-baseline"
                )
            with gr.Row():
                reference = gr.Textbox(label="Reference (test sentences only)", interactive=False)
                chrf = gr.Textbox(label="Sentence chrF (0-100, higher is better)", interactive=False)
            with gr.Row():
                hypothesis = gr.Dropdown([], label="Attention map of hypothesis", interactive=True)
                word = gr.Dropdown([], label="Output word to inspect", interactive=True)
            with gr.Row():
                heatmap = gr.Plot(label="Attention map", show_label=False, scale=3, elem_id="heatmap")
                with gr.Column(scale=2):
                    highlight = gr.HighlightedText(
                        label="Source, coloured by the chosen output word's attention (weights sum to 1)",
                        show_legend=False, elem_id="source-highlight",
                    )  # fmt: skip
                    focus = gr.Textbox(label="Where that word looks", interactive=False)
                    gr.Markdown(MERGE_NOTE.replace("Merged view:", "**Merged view:**"))
            beams = gr.Dataframe(
                value=pd.DataFrame(columns=BEAM_COLUMNS),
                label="Beam alternatives of the attention model, best first (scores are log-probabilities)",
                interactive=False, datatype="str", wrap=True, elem_id="beams",
                column_widths=["7%", "55%", "12%", "10%", "7%", "9%"],
            )  # fmt: skip
            evidence_status = gr.Textbox(label="Evidence beyond the heatmap", interactive=False, lines=2)
            with gr.Row():
                coverage_plot = gr.Plot(label="Coverage", show_label=False, scale=3, elem_id="coverage")
                coverage_table = gr.Dataframe(
                    value=pd.DataFrame(columns=COVERAGE_COLUMNS), label="Coverage: total attention per source "
                    f"piece (dropped < {evidence.DROPPED_BELOW}, repeated > {evidence.REPEATED_ABOVE}; </s> not "
                    "flagged)", interactive=False, datatype="str", scale=2,
                )  # fmt: skip
            with gr.Accordion("Gradient saliency and agreement (is attention an explanation?)", open=False):
                gr.Markdown(EVIDENCE_NOTE)
                with gr.Row():
                    saliency_plot = gr.Plot(label="Saliency, attention model", show_label=False)
                    baseline_saliency_plot = gr.Plot(label="Saliency, baseline", show_label=False)
                agreement_table = gr.Dataframe(
                    value=pd.DataFrame(columns=AGREEMENT_COLUMNS),
                    label="Agreement of each attention row with saliency and with occlusion (subwords)",
                    interactive=False, datatype="str",
                )  # fmt: skip
            with gr.Accordion("Attention surgery", open=False):
                gr.Markdown(SURGERY_NOTE)
                with gr.Row():
                    surgery_step = gr.Dropdown([], label="Output step to operate on", interactive=True)
                    surgery_mode = gr.Radio(SURGERY_MODE_CHOICES, value="uniform", label="Replace its weights with")
                    surgery_source = gr.Dropdown([], label="Source word (for 'all on one source word')")
                surgery_button = gr.Button("Operate")
                surgery_status = gr.Textbox(label="What changed", interactive=False, lines=2)
                surgery_table = gr.Dataframe(
                    value=pd.DataFrame(columns=SURGERY_COLUMNS), label="Original, control and operated output",
                    interactive=False, datatype="str", wrap=True,
                )  # fmt: skip

        with gr.Tab("Inside one step: Align → Weight → Combine"):
            gr.Markdown(
                "Pick an output position of the translation on the first tab (the hypothesis chosen there). The "
                "decoder is re-run over that hypothesis (teacher forcing) and the attention of that one step is "
                "taken apart. The step works on subwords, the model's own units."
            )
            position = gr.Dropdown([], label="Output position", interactive=True)
            formula = gr.Markdown(formula_markdown(types[0]) if types else "")
            step_status = gr.Textbox(label="Check", interactive=False)
            step_plot = gr.Plot(label="Align → Weight → Combine", show_label=False, elem_id="step-plot")
            step_table = gr.Dataframe(
                value=pd.DataFrame(columns=STEP_COLUMNS),
                label="Main contributors to the context c (share of c = (α_j h_j · c) / ‖c‖², the shares sum to 1)",
                interactive=False, datatype="str",
            )  # fmt: skip

        with gr.Tab("Compare attention types") as compare_tab:
            gr.Markdown(
                "The German sentence of the first tab through every attention model, with the beam size and the "
                "word merging chosen there. Only the **Align** step (the score function) differs between them."
            )
            compare_button = gr.Button("Compare", variant="primary")
            compare_status = gr.Textbox(label="Notes", interactive=False)
            compare_texts, compare_plots = [], []
            with gr.Row():
                for name in types:
                    with gr.Column(min_width=300):
                        compare_texts.append(
                            gr.Textbox(label=f"{name}: {SCORE_FORMULAS_PLAIN[name]}", interactive=False)
                        )
                        compare_plots.append(gr.Plot(label=f"{name} attention", show_label=False))

        with gr.Tab("Why attention helps"):
            gr.Markdown(
                "Measured when the models were trained (read from the model folder's metrics.json, history.json "
                "and attention_evolution.json; nothing is recomputed here). The baseline must squeeze a whole "
                "sentence into one fixed vector, so if attention removes that bottleneck its advantage should grow "
                "with the length of the sentence: compare the gain per length bucket. The training curves show "
                "whether the attention models also learn faster, and the snapshots show the attention of a fixed "
                "validation sentence turning from a blur into a near-diagonal alignment."
            )
            gr.Dataframe(value=app.results_table(), label="Test set scores", interactive=False)
            gr.Plot(value=plots.bleu_by_length_figure(app.metrics), label="BLEU by source length", show_label=False)
            gr.Plot(value=plots.training_curves_figure(app.history), label="Training curves", show_label=False)
            names, sentences, epochs = app.evolution_choices()
            gr.Markdown("**How attention sharpened during training** (a fixed validation sentence after each epoch)")
            with gr.Row():
                evolution_model = gr.Dropdown(names, value=names[0] if names else None, label="Model")
                evolution_sentence = gr.Dropdown(sentences, value=0 if sentences else None, label="Sentence", scale=2)
                # A slider needs minimum < maximum: with a single snapshot there is nothing to slide over.
                evolution_epoch = gr.Slider(1, max(epochs, 2), value=1, step=1, label="Epoch", visible=epochs > 1)
            first_figure, first_text = app.evolution_view(names[0] if names else None, 0, 1)
            evolution_text = gr.Textbox(value=first_text, label="Greedy translation at that epoch", interactive=False)
            evolution_plot = gr.Plot(value=plot_value(first_figure), label="Attention at that epoch", show_label=False)
            gr.Markdown(EVIDENCE_TAB_NOTE)
            evidence_numbers = (app.metrics or {}).get("evidence")
            gr.Dataframe(value=app.evidence_summary(), label="Agreement over the test sentences", interactive=False)
            gr.Plot(value=plots.gradient_by_distance_figure(evidence_numbers), label="Gradient by distance",
                    show_label=False)  # fmt: skip
            gr.Plot(value=plots.agreement_histograms_figure(evidence_numbers), label="Agreement", show_label=False)

        # -- wiring ---------------------------------------------------------------------------------------------
        main_outputs = [status, ours, base, reference, chrf, beams, hypothesis, word, heatmap, highlight, focus, shown]

        def translate_event(text: str, attention_type: str, beam_size: float, merge_words: bool = False) -> tuple:
            view = app.translate(text, attention_type, beam_size, merge_words)
            return (
                view.notice, view.attention_text, view.baseline_text, view.reference, view.chrf, view.beams,
                gr.Dropdown(choices=view.hypotheses, value=0 if view.hypotheses else None),
                *_hypothesis_outputs(view.view), view.shown,
            )  # fmt: skip

        def hypothesis_event(state: Shown | None, hyp: int, merge_words: bool, row: int = 0) -> tuple:
            return _hypothesis_outputs(app.show_hypothesis(state, hyp, merge_words, row))

        def step_event(state: Shown | None, hyp: int, pos: int) -> tuple:
            view = app.inspect(state, hyp, pos)
            positions = gr.Dropdown(choices=view.positions, value=view.position)
            return view.notice, positions, view.formula or gr.skip(), view.figure, view.table

        def compare_event(text: str, beam_size: float, merge_words: bool) -> tuple:
            notice_text, texts, figures = app.compare(text, beam_size, merge_words)
            return notice_text, *texts, *figures

        translate_inputs = [source, attention_type, beam, merge]
        step_outputs = [step_status, position, formula, step_plot, step_table]
        hypothesis_outputs = [word, heatmap, highlight, focus]
        run_translate = guarded(translate_event, len(main_outputs), 0, "translating")
        run_step = guarded(step_event, len(step_outputs), 0, "taking the step apart")
        run_hypothesis = guarded(hypothesis_event, len(hypothesis_outputs), 3, "drawing the attention map")

        evidence_outputs = [
            evidence_status, coverage_plot, coverage_table, agreement_table, saliency_plot, baseline_saliency_plot,
            surgery_step, surgery_source,
        ]  # fmt: skip

        def evidence_event(state: Shown | None, hyp: int, merge_words: bool) -> tuple:
            view = app.evidence_view(state, hyp, merge_words)
            return (
                view.notice, view.coverage_figure, view.coverage_table, view.agreement_table, view.saliency_figure,
                view.baseline_saliency_figure, gr.Dropdown(choices=view.steps, value=0 if view.steps else None),
                gr.Dropdown(choices=view.sources, value=0 if view.sources else None),
            )  # fmt: skip

        run_evidence = guarded(evidence_event, len(evidence_outputs), 0, "computing the evidence")

        def then_step(event: Any) -> None:
            """After the main view changed, refresh the step tab from output position 1, and the evidence."""
            event.then(lambda s, h: run_step(s, h, 0), [shown, hypothesis], step_outputs, api_visibility="private")
            event.then(run_evidence, [shown, hypothesis, merge], evidence_outputs, api_visibility="private")

        then_step(translate_button.click(run_translate, translate_inputs, main_outputs, api_name="translate"))
        # Enter in the text box, a new attention type or a new beam size translate again at once.
        for trigger in (source.submit, attention_type.input, beam.release):
            then_step(trigger(run_translate, translate_inputs, main_outputs, api_visibility="private"))
        then_step(
            examples.load_input_event.then(run_translate, translate_inputs, main_outputs, api_visibility="private")
        )
        run_random = guarded(lambda: (app.random_example(), ""), 2, 1, "picking a sentence")
        then_step(
            random_button.click(run_random, None, [source, status], api_visibility="private").then(
                run_translate, translate_inputs, main_outputs, api_visibility="private"
            )
        )
        # Another hypothesis, or words instead of subwords: a new heatmap, starting again from the first output word.
        first_word = lambda s, h, m: run_hypothesis(s, h, m, 0)  # noqa: E731
        then_step(
            hypothesis.input(first_word, [shown, hypothesis, merge], hypothesis_outputs, api_visibility="private")
        )
        merge.input(first_word, [shown, hypothesis, merge], hypothesis_outputs, api_visibility="private").then(
            run_evidence, [shown, hypothesis, merge], evidence_outputs, api_visibility="private"
        )
        run_surgery = guarded(app.surgery, 2, 0, "operating on the attention")
        surgery_button.click(
            run_surgery, [shown, hypothesis, surgery_step, surgery_mode, surgery_source],
            [surgery_status, surgery_table], api_visibility="private",
        )  # fmt: skip
        word.input(run_hypothesis, [shown, hypothesis, merge, word], hypothesis_outputs, api_visibility="private")
        position.input(run_step, [shown, hypothesis, position], step_outputs, api_visibility="private")

        compare_outputs = [compare_status, *compare_texts, *compare_plots]
        run_compare = guarded(compare_event, len(compare_outputs), 0, "comparing the attention types")
        compare_button.click(run_compare, [source, beam, merge], compare_outputs, api_name="compare")
        compare_tab.select(run_compare, [source, beam, merge], compare_outputs, api_visibility="private")

        run_evolution = guarded(
            lambda m, s, e: app.evolution_view(m, s, e)[::-1], 2, 0, "drawing the attention snapshot"
        )
        for control in (evolution_model, evolution_sentence, evolution_epoch):
            control.input(
                run_evolution, [evolution_model, evolution_sentence, evolution_epoch],
                [evolution_text, evolution_plot], api_visibility="private",
            )  # fmt: skip
    # A few requests at a time (translation is CPU-bound) and a bounded waiting line, for every way of launching.
    return demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)


def _hypothesis_outputs(view: HypothesisView) -> tuple:
    """A :class:`HypothesisView` as the values of (word dropdown, heatmap, highlight, focus)."""
    return gr.Dropdown(choices=view.words, value=view.word), view.heatmap, view.highlight, view.focus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("MODEL_REPO"), help="Hub model repo id or local folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    start_plot_processes()  # first, while the process is small and has no other thread
    translator, notice = load_translator(args.model)
    logger.info("%s", notice)
    blocks = build_app(translator, notice)
    tune_for_serving()
    launch(
        blocks,
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )


def tune_for_serving() -> None:
    """Process settings for a long-running server, applied once the models are loaded and the UI is built.

    - One share of the CPU cores per concurrent request (``CONCURRENCY_LIMIT``): two requests with two threads each
      on a two-core machine made the threads wait on each other (see the Performance section of the README).
    - ``gc.freeze()``: the half a million objects of torch, Gradio and the models live as long as the process, but the
      garbage collector walked all of them in every full collection, a pause of up to 0.4 s in the middle of a
      request (the figures of every request start such collections). Frozen objects are skipped.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // CONCURRENCY_LIMIT))
    gc.collect()
    gc.freeze()


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """``demo.launch`` with the app's settings; ``kwargs`` (server_name, server_port, prevent_thread_lock, ...) are
    passed on. Used by :func:`main`, the tests and ``scripts/screenshot.py`` so that all of them serve the same app."""
    settings = {
        "ssr_mode": False,  # the same client-side rendering locally and on Spaces
        "theme": gr.themes.Soft(),
        "show_error": False,  # handlers show their own sentence; tracebacks stay in the log
        **kwargs,
    }
    return demo.launch(**settings)


if __name__ == "__main__":
    main()
