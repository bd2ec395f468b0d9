"""What every part of the app shows, computed from the models: plain Python, no Gradio (the tests call it directly).

:class:`AttentionDemo` holds the models of one folder. Each of its methods computes one view (a dataclass below) from
the values of the widgets; :mod:`attention_demo.ui.wiring` turns views into component values. Widget values arrive as
anything (None, floats, strings from an API call), so every method tolerates nonsense and clamps indices.

Heatmaps leave here as :class:`HeatmapData` (numbers and labels); the browser draws them
(:mod:`attention_demo.ui.heatmap`). The other figures (one decoder step, coverage, the training plots) are matplotlib
figures from :mod:`attention_demo.plots`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from attention_demo import evidence, plots
from attention_demo.alignment import (
    alignment_scores,
    attention_links,
    parse_pharaoh,
    teacher_forced_attention,
    words,
)
from attention_demo.evaluation import sentence_chrf
from attention_demo.inspection import inspect_steps, merge_attention, source_highlight, word_spans
from attention_demo.model import BASELINE
from attention_demo.model_repo import (
    get_dict,
    read_alignment_links,
    read_attention_evolution,
    read_history,
    read_metrics,
    read_test_examples,
)
from attention_demo.text import clean_text
from attention_demo.tokenizer import EOS, EOS_ID, UNK, decode, display_piece, encode, pieces, text_from_pieces
from attention_demo.translate import Candidate, Translation, Translator
from attention_demo.ui import text
from attention_demo.ui.concurrency import MODEL_THREADS

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models" / "multi30k-de-en"
DEFAULT_ATTENTION = "additive"  # the app opens on it when metrics.json has no alignment scores (Bahdanau's score)
MAX_INPUT_CHARS = 1000  # longer input is cut before tokenizing, so even a 100 kB request stays cheap
MAX_BEAM = 10
DEFAULT_BEAM = 5
EXAMPLES_SHOWN = 8  # sentences in the examples gallery (spread from short to long); the button draws from all
OPENING_WORDS = 12  # the page opens on a test sentence of about this many words
UNKNOWN_NOTICE_RATIO = 0.3  # say so when this share of the source pieces is <unk> (emoji, other scripts)
TRANSLATION_CACHE = 256  # (sentence, model, beam) searches kept for repeated requests
LABEL_CHARS = 24  # heatmap labels longer than this end with "…" (the tooltip and the spans show the same label)

logger = logging.getLogger(__name__)
_SERIALS = itertools.count()

# The evidence view's attribution methods are those of attention_demo.evidence.ATTRIBUTION_METHODS (one registry: the
# function, the label, whether it is signed). The default is the cheapest; the others run when picked.
DEFAULT_METHOD = "gradient_x_input"


# ---------------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------------


def load_translator(
    model: str | None, bundled: str | Path = BUNDLED_MODELS, bfloat16_search: bool = False
) -> tuple[Translator, str]:
    """Load the requested model repo (Hub id or folder), falling back to ``bundled``; returns a notice for the header.

    With the Hub unreachable the fallback takes at most a few seconds (``hub.hub_reachable`` probes once with a
    short timeout, and ``HF_HUB_OFFLINE=1`` skips the probe). ``bfloat16_search``: see :class:`Translator`.
    """
    bundled = Path(bundled)
    if model and Path(model).resolve() != bundled.resolve():
        try:
            loaded = Translator.from_pretrained(model, bfloat16_search=bfloat16_search)
            return loaded, text.MODELS_LOADED.format(model=model)
        except Exception as error:  # any failure (offline, missing, corrupt) falls back to the bundled copy
            logger.warning("Could not load %s (%s); using the bundled models.", model, error)
            logger.debug("Why %s could not be loaded:", model, exc_info=True)
            fallback = Translator(bundled, bfloat16_search=bfloat16_search)
            return fallback, text.MODELS_FALLBACK.format(model=model, error=type(error).__name__)
    return Translator(bundled, bfloat16_search=bfloat16_search), text.MODELS_BUNDLED


def load_examples(folder: str | Path, source_lang: str, target_lang: str) -> list[dict[str, str | None]]:
    """Example sentences ``{"source", "reference"}``: the folder's test examples, else the built-in sentences."""
    examples = read_test_examples(folder, source_lang, target_lang)
    return examples or [{"source": s, "reference": None} for s in text.BUILTIN_EXAMPLES]


def gallery_examples(examples: Sequence[dict[str, str | None]], count: int = EXAMPLES_SHOWN) -> list[str]:
    """``count`` example sentences spread evenly from the shortest to the longest."""
    ordered = sorted((str(e["source"]) for e in examples), key=len)
    if len(ordered) <= count:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


def opening_example(examples: Sequence[dict[str, str | None]], words: int = OPENING_WORDS) -> str:
    """The sentence the page opens on: a test sentence (with a reference, if any) of about ``words`` words, long
    enough for an interesting heatmap."""
    candidates = [e for e in examples if e["reference"]] or list(examples)
    return str(min(candidates, key=lambda e: abs(len(str(e["source"]).split()) - words))["source"])


def normalise(sentence: str) -> str:
    """Key for matching input against test sentences: surrounding and repeated whitespace ignored."""
    return " ".join(sentence.split())


def clean_input(value: Any) -> tuple[str, list[str]]:
    """The input as valid Unicode, cut to ``MAX_INPUT_CHARS`` (cutting first keeps huge requests cheap), plus the
    notices that say what was changed."""
    sentence, replaced = clean_text("" if value is None else str(value))
    notices = [text.INVALID_UNICODE] if replaced else []
    if len(sentence) > MAX_INPUT_CHARS:
        length = len(sentence)
        cut = sentence[:MAX_INPUT_CHARS]
        space = cut.rfind(" ")  # cut at the last space so that no word is chopped in half (unless that loses much)
        sentence = cut[:space] if space > MAX_INPUT_CHARS // 2 else cut
        notices.append(text.INPUT_CUT.format(length=length, kept=len(sentence)))
    return sentence, notices


def beam_size(value: Any) -> int:
    """A beam size from the slider or an API call, clamped to 1..MAX_BEAM (nonsense gives greedy search)."""
    try:
        return min(MAX_BEAM, max(1, int(float(value))))
    except (TypeError, ValueError, OverflowError):
        return 1


def index(value: Any, length: int) -> int:
    """A list index from a widget value (int, float, str or None), clamped to ``0..length-1``."""
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        number = 0
    return min(max(number, 0), max(length - 1, 0))


# ---------------------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class HeatmapData:
    """A heatmap for the browser: ``matrix`` ``(rows, columns)`` in ``[0, vmax]`` with a label per row and column.

    ``selected`` is the outlined row; ``markers`` are ``(row, column)`` cells drawn with a ring (for example links of a
    word aligner, to compare attention with word alignment), described by ``marker_label``. A heatmap with a
    ``message`` shows only that sentence.
    """

    matrix: np.ndarray
    rows: list[str]
    columns: list[str]
    title: str = ""
    selected: int | None = None
    markers: list[tuple[int, int]] = field(default_factory=list)
    marker_label: str = ""
    value_label: str = text.ATTENTION_WEIGHT
    vmax: float = 1.0
    message: str = ""
    row_axis: str = text.OUTPUT_AXIS  # what the rows and the columns are, for the hover text
    column_axis: str = text.SOURCE_AXIS

    @classmethod
    def message_only(cls, message: str, title: str = "") -> HeatmapData:
        return cls(np.zeros((0, 0)), [], [], title=title, message=message)

    def to_json(self) -> dict[str, Any]:
        """The value of the browser component (:mod:`attention_demo.ui.heatmap`): plain JSON types only."""
        if self.message:
            return {"title": self.title, "message": self.message}
        return {
            "title": self.title,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "matrix": np.round(np.asarray(self.matrix, dtype=float), 6).tolist(),
            "selected": self.selected,
            "markers": [[int(t), int(j)] for t, j in self.markers],
            "marker_label": self.marker_label,
            "value_label": self.value_label,
            "row_axis": self.row_axis,
            "column_axis": self.column_axis,
            "vmax": self.vmax,
        }


@dataclass
class Shown:
    """The translation on screen, kept per browser session for the views that look at it."""

    text: str  # the input as translated (after cleaning and cutting)
    attention_type: str | None  # None when the folder has no attention model
    source_ids: list[int]  # ending with </s>
    source_pieces: list[str]
    candidates: list[Candidate]  # best first; each has its own attention matrix
    baseline: Candidate | None = None  # the baseline's best translation (for its saliency map)
    serial: int = field(default_factory=lambda: next(_SERIALS))  # tells two translations of one sentence apart


@dataclass
class HypothesisView:
    """The heatmap of one hypothesis and what the chosen output word looks at."""

    heatmap: HeatmapData | None
    output: list[tuple[str, str | None]] = field(default_factory=list)  # the output words; the chosen one marked
    word: int | None = None
    highlight: list[tuple[str, float]] | None = None  # the source as (text, weight) spans; weights sum to 1
    focus: str = ""  # the chosen word's strongest source words, as text


@dataclass
class TranslateView:
    """Everything the first tab shows after Translate."""

    notice: str
    attention_text: str
    baseline_text: str
    reference: str = ""
    chrf: str = ""
    beams: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.BEAM_COLUMNS))
    hypotheses: list[tuple[str, int]] = field(default_factory=list)
    view: HypothesisView = field(default_factory=lambda: HypothesisView(None))
    shown: Shown | None = None


@dataclass
class CompareView:
    """The same sentence through every attention model."""

    notice: str
    texts: list[str]
    heatmaps: list[HeatmapData | None]


@dataclass
class StepView:
    """The "Inside one step" tab."""

    notice: str
    positions: list[tuple[str, int]] = field(default_factory=list)
    position: int | None = None
    formula: str = ""
    figure: Figure | None = None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.STEP_COLUMNS))
    # the numbers behind the figure, for checking: (S,) scores e, (S,) weights alpha, (d,) context, (S, d) values
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None
    context: np.ndarray | None = None
    values: np.ndarray | None = None


@dataclass
class CoverageView:
    """Total attention per source piece (or word) over the whole output, with the dropped / repeated flags."""

    labels: list[str]
    totals: np.ndarray  # (S,) or (words,)
    flags: list[str]  # "", "dropped" or "repeated"; the final </s> is never flagged


@dataclass
class EvidenceView:
    """Evidence beyond the heatmap for the shown hypothesis: coverage, attribution (both models), agreement."""

    notice: str
    method: str = DEFAULT_METHOD
    coverage: CoverageView | None = None
    coverage_figure: Figure | None = None
    coverage_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.COVERAGE_COLUMNS))
    agreement_table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.AGREEMENT_COLUMNS))
    saliency: HeatmapData | None = None  # the attention model's attribution map
    baseline_saliency: HeatmapData | None = None
    steps: list[tuple[str, int]] = field(default_factory=list)  # output positions, for the surgery
    sources: list[tuple[str, int]] = field(default_factory=list)  # source pieces, for one-word surgery


@dataclass
class SurgeryView:
    notice: str
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.SURGERY_COLUMNS))


@dataclass
class EvolutionView:
    heatmap: HeatmapData
    text: str = ""


@dataclass
class AlignerView:
    """A model reading a test reference (teacher-forced), with a word aligner's links as rings on the heatmap."""

    heatmap: HeatmapData
    text: str = ""


def piece_labels(pieces: Sequence[str]) -> list[str]:
    """Subword pieces as heatmap labels (word mark removed, continuation pieces marked with ``·``)."""
    return [plots.printable(display_piece(p), LABEL_CHARS) for p in pieces]


def word_labels(words: Sequence[str]) -> list[str]:
    return [plots.printable(w, LABEL_CHARS) for w in words]


def coverage_view(attention: np.ndarray, source_pieces: Sequence[str], merge: bool) -> CoverageView:
    """Coverage of one hypothesis: ``attention`` ``(T, S)`` summed over the output per source piece (or word).

    The final ``</s>``, where many models park attention, is never flagged.
    """
    spans = word_spans(source_pieces) if merge else None
    groups = [indices for _, indices in spans] if spans else None
    labels = word_labels([w for w, _ in spans]) if spans else piece_labels(source_pieces)
    eos = len(labels) - 1 if source_pieces and source_pieces[-1] == EOS else None
    cover = evidence.coverage(attention, groups, ignore=[] if eos is None else [eos])
    return CoverageView(labels, cover.totals, cover.flags)


def agreement_table(
    attention: np.ndarray, attribution: np.ndarray, labels: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per output step (plus a mean row first): agreement of each attention row with the attribution, both
    ``(T, S)``; ``labels`` name the ``T`` output steps.

    Returns the table (cells as text, "n/a" where a measure is undefined) and the column means ``(3,)``: τ, top-1
    and JSD (NaN where no step has a value).
    """
    keys = ("kendall_tau", "top1", "jsd")
    steps = evidence.per_step_agreement(attention, attribution)
    numbers = np.array([[step[k] for k in keys] for step in steps], dtype=float).reshape(-1, 3)
    means = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in numbers.T])
    rows = [[text.MEAN_ROW, *means]] + [[label, *values] for label, values in zip(labels, numbers, strict=True)]
    cells = [[r[0], *[f"{v:.3f}" if np.isfinite(v) else text.NOT_AVAILABLE for v in r[1:]]] for r in rows]
    return pd.DataFrame(cells, columns=text.AGREEMENT_COLUMNS), means


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
        self.references = {normalise(str(e["source"])): e["reference"] for e in self.examples if e["reference"]}
        # The evidence files are read once, here (through model_repo's schema: a missing or damaged file reads as
        # empty); nothing is recomputed from the dataset.
        self.metrics = read_metrics(translator.folder)
        self.default_type = self._default_type()
        self.history = read_history(translator.folder)
        self.evolution = read_attention_evolution(translator.folder)
        self.aligned = [
            row
            for row in read_alignment_links(translator.folder)
            if normalise(str(row.get("source"))) in self.references
        ]  # the test examples that have a word aligner's links
        # Repeated requests (the examples, the opening sentence, a visitor going back) reuse their search. Shared by
        # every request, but only ever holds the result the same call would compute (lru_cache is thread-safe), and
        # nothing downstream changes a Translation.
        self._translate_one = functools.lru_cache(maxsize=TRANSLATION_CACHE)(self._search)

    # -- Translate & compare --------------------------------------------------------------------------------------

    def opening(self) -> TranslateView:
        """The view the page opens on: :func:`opening_example` translated with the default settings."""
        return self.translate(opening_example(self.examples), self.default_type, DEFAULT_BEAM)

    def translate(
        self, sentence: Any, attention_type: Any, beam: Any, merge: bool = False, word: Any = 0
    ) -> TranslateView:
        """Translate with the chosen attention model and the baseline; the heatmap shows the best hypothesis.

        Args:
            sentence: the German input (anything; None and non-strings are tolerated).
            attention_type: one of ``self.attention_types`` (an unknown one falls back to the default).
            beam: 1 for greedy search, up to ``MAX_BEAM``.
            merge: show words instead of subwords in the heatmap and highlight.
            word: the output word (row) to inspect first.
        """
        sentence, notices = clean_input(sentence)
        if not sentence.strip():
            return TranslateView(notice=text.EMPTY_INPUT_MESSAGE, attention_text="", baseline_text="")
        beam = beam_size(beam)
        if attention_type not in self.attention_types:
            if attention_type:
                notices.append(text.NO_SUCH_MODEL.format(name=attention_type, used=self.default_type))
            attention_type = self.default_type
        started = time.perf_counter()
        names = [attention_type or BASELINE] + ([BASELINE] if self.has_baseline and attention_type else [])
        ours, *others = self.translate_with(sentence, names, beam)
        base = (others[0] if others else ours) if self.has_baseline else None
        logger.info("translated %d characters in %.2f s", len(sentence), time.perf_counter() - started)
        if ours.truncated:
            notices.append(text.INPUT_TRUNCATED.format(pieces=len(ours.source_pieces) - 1))
        unknown = sum(piece == UNK for piece in ours.source_pieces)
        if unknown and unknown >= UNKNOWN_NOTICE_RATIO * (len(ours.source_pieces) - 1):
            notices.append(text.MANY_UNKNOWN)
        shown = Shown(
            text=sentence,
            attention_type=attention_type,
            source_ids=self.translator.source_ids(sentence)[0],
            source_pieces=ours.source_pieces,
            candidates=ours.candidates,
            baseline=base.candidates[0] if base and base.candidates else None,
        )
        view = TranslateView(
            notice=" ".join(notices) or text.TRANSLATED_WITH.format(search=text.search_name(beam)),
            attention_text=ours.text if attention_type else text.NO_ATTENTION_MODEL,
            baseline_text=base.text if base else text.NO_BASELINE_MODEL,
            beams=self.beam_table(ours.candidates),
            hypotheses=[
                (text.HYPOTHESIS_CHOICE.format(rank=i + 1, text=c.text, per_token=c.hypothesis.normalized_score), i)
                for i, c in enumerate(ours.candidates)
            ],
            view=self.show_hypothesis(shown, 0, merge, word),
            shown=shown,
        )
        reference = self.references.get(normalise(sentence))
        if reference:
            view.reference = reference
            scores = [text.CHRF_ATTENTION.format(name=attention_type, score=sentence_chrf(ours.text, reference))]
            if base:
                scores.append(text.CHRF_BASELINE.format(score=sentence_chrf(base.text, reference)))
            view.chrf = text.CHRF_LINE.format(scores=", ".join(scores))
        return view

    def translate_with(self, sentence: str, names: list[str], beam: int) -> list[Translation]:
        """``sentence`` translated by each model in ``names``, the models running side by side in threads.

        Torch releases the GIL while it computes, so on two cores the attention model and the baseline together take
        about as long as one of them (README, Performance).
        """
        later = [MODEL_THREADS.submit(self._translate_one, sentence, name, beam) for name in names[1:]]
        return [self._translate_one(sentence, names[0], beam), *(future.result() for future in later)]

    def _search(self, sentence: str, name: str, beam: int) -> Translation:
        with torch.inference_mode():  # thread-local: entered in the thread that runs the model
            return self.translator.translate([sentence], name, beam)[0]

    @staticmethod
    def beam_table(candidates: list[Candidate]) -> pd.DataFrame:
        """One row per beam hypothesis: its text, total and per-token log-probability, length, and whether it ended."""
        rows = [
            [
                i + 1,
                c.text,
                round(c.hypothesis.score, 3),
                round(c.hypothesis.normalized_score, 3),
                len(c.hypothesis.tokens),
                text.BEAM_FINISHED if c.pieces and c.pieces[-1] == EOS else text.BEAM_UNFINISHED,
            ]
            for i, c in enumerate(candidates)
        ]
        return pd.DataFrame(rows, columns=text.BEAM_COLUMNS)

    def show_hypothesis(
        self,
        shown: Shown | None,
        hypothesis: Any,
        merge: bool,
        word: Any = 0,
        markers: Sequence[tuple[int, int]] = (),
        marker_label: str = "",
    ) -> HypothesisView:
        """Heatmap of hypothesis ``hypothesis`` (subwords, or words when ``merge``) with output row ``word`` chosen,
        the output as clickable words, and the source highlighted by that row's weights.

        ``markers`` are ``(row, column)`` cells to ring on the heatmap (for example a word aligner's links), in the
        heatmap's own units (words when ``merge``).
        """
        if shown is None or not shown.candidates:
            return HypothesisView(None, focus=text.TRANSLATE_FIRST)
        if shown.attention_type is None:
            return HypothesisView(HeatmapData.message_only(text.BASELINE_HAS_NO_ATTENTION))
        rank = index(hypothesis, len(shown.candidates))
        candidate = shown.candidates[rank]
        attention = candidate.hypothesis.attention.numpy()  # (output pieces, source pieces)
        if merge:
            matrix, source_words, output_words = merge_attention(attention, shown.source_pieces, candidate.pieces)
            columns, rows = word_labels(source_words), word_labels(output_words)
        else:
            matrix, columns, rows = attention, piece_labels(shown.source_pieces), piece_labels(candidate.pieces)
        row = index(word, len(rows))
        unit = text.WORDS if merge else text.SUBWORDS
        heatmap = HeatmapData(
            matrix, rows, columns, title=text.HEATMAP_TITLE.format(name=shown.attention_type, rank=rank + 1, unit=unit),
            selected=row, markers=list(markers), marker_label=marker_label,
        )  # fmt: skip
        weights = matrix[row]
        strongest = np.argsort(-weights)[:3]
        spans = source_highlight(candidate.pieces, np.zeros(len(rows)), merged=merge)  # the output, one span a row
        return HypothesisView(
            heatmap,
            output=[(span, text.INSPECTED if i == row else None) for i, (span, _) in enumerate(spans)],
            word=row,
            highlight=source_highlight(shown.source_pieces, weights, merged=merge),
            focus=text.FOCUS.format(
                word=rows[row], strongest=", ".join(f"{columns[j]} {weights[j]:.2f}" for j in strongest)
            ),
        )

    def random_example(self) -> str:
        """A random example sentence (a test sentence when the folder has them)."""
        # A generator of the call's own (seeded from the OS): the global one is shared by every request.
        return str(random.Random().choice(self.examples)["source"])

    def compare(self, sentence: Any, beam: Any, merge: bool = False) -> CompareView:
        """The same sentence through every attention model: a notice, the translations and the heatmaps."""
        sentence, notices = clean_input(sentence)
        count = len(self.attention_types)
        if not sentence.strip():
            return CompareView(text.EMPTY_INPUT_MESSAGE, [""] * count, [None] * count)
        beam = beam_size(beam)
        texts, heatmaps = [], []
        for name, result in zip(
            self.attention_types, self.translate_with(sentence, self.attention_types, beam), strict=True
        ):
            best = result.candidates[0]
            attention = best.hypothesis.attention.numpy()
            if merge:
                attention, source_words, output_words = merge_attention(attention, result.source_pieces, best.pieces)
                columns, rows = word_labels(source_words), word_labels(output_words)
            else:
                columns, rows = piece_labels(result.source_pieces), piece_labels(best.pieces)
            texts.append(best.text)
            heatmaps.append(HeatmapData(attention, rows, columns, title=name))
        notices.append(text.COMPARE_NOTICE.format(count=count, search=text.search_name(beam)))
        return CompareView(" ".join(notices), texts, heatmaps)

    # -- Evidence beyond the heatmap -------------------------------------------------------------------------------

    def evidence_view(
        self, shown: Shown | None, hypothesis: Any, merge: bool, method: str = DEFAULT_METHOD
    ) -> EvidenceView:
        """Coverage, the attribution maps of both models (``method``, a name of ``evidence.ATTRIBUTION_METHODS``) and
        the agreement of attention with that attribution, for the shown hypothesis.

        Each map is computed once and used for both the heatmap and the agreement; the baseline's runs in another
        thread, side by side with the attention model's (torch releases the GIL while it computes).
        """
        if shown is None or not shown.candidates:
            return EvidenceView(text.TRANSLATE_FIRST)
        method = method if method in evidence.ATTRIBUTION_METHODS else DEFAULT_METHOD
        attribute = partial(evidence.attribution, method=method)  # (model, source ids, output ids) -> (T, S)
        view = EvidenceView("", method=method)
        source_labels = piece_labels(shown.source_pieces)
        view.sources = [(f"{j + 1}. {label}", j) for j, label in enumerate(source_labels)]
        baseline = shown.baseline if shown.baseline is not None and shown.baseline.hypothesis.tokens else None
        later = None
        if baseline is not None:
            later = MODEL_THREADS.submit(
                attribute, self.translator.models[BASELINE], shown.source_ids, baseline.hypothesis.tokens
            )
        try:
            self._attention_evidence(view, shown, hypothesis, merge, method)
        finally:
            matrix = None if later is None else later.result()  # (T_baseline, S); also waited for on an error
        if baseline is not None:
            view.baseline_saliency = self._attribution_heatmap(shown, baseline, BASELINE, matrix, merge, method)
        return view

    def _attention_evidence(self, view: EvidenceView, shown: Shown, hypothesis: Any, merge: bool, method: str) -> None:
        """The attention model's part of :meth:`evidence_view`: coverage, its attribution map and the agreement."""
        if shown.attention_type is None:
            view.notice = text.ONLY_BASELINE_EVIDENCE
            return
        candidate = shown.candidates[index(hypothesis, len(shown.candidates))]
        tokens = candidate.hypothesis.tokens
        if not tokens:
            view.notice = text.EMPTY_HYPOTHESIS
            return
        view.steps = [(f"{t + 1}. {label}", t) for t, label in enumerate(piece_labels(candidate.pieces))]
        attention = candidate.hypothesis.attention.numpy()  # (T, S)
        view.coverage = cover = coverage_view(attention, shown.source_pieces, merge)
        view.coverage_figure = plots.coverage_figure(cover.totals, cover.flags, cover.labels, pieces=False)
        view.coverage_table = pd.DataFrame(
            [
                [label, round(float(total), 3), flag]
                for label, total, flag in zip(cover.labels, cover.totals, cover.flags, strict=True)
            ],
            columns=text.COVERAGE_COLUMNS,
        )
        model = self.translator.models[shown.attention_type]
        attribution = evidence.attribution(model, shown.source_ids, tokens, method)  # (T, S): heatmap and agreement
        view.saliency = self._attribution_heatmap(shown, candidate, shown.attention_type, attribution, merge, method)
        view.agreement_table, means = agreement_table(attention, attribution, piece_labels(candidate.pieces))
        flagged = [f"{label} ({flag})" for label, flag in zip(cover.labels, cover.flags, strict=True) if flag]
        view.notice = text.EVIDENCE_SUMMARY.format(
            method=evidence.ATTRIBUTION_METHODS[method].label, tau=means[0], top1=means[1],
            corpus=self._corpus_agreement(shown.attention_type, method),
            flags=", ".join(flagged) if flagged else text.NO_FLAGS,
        )  # fmt: skip

    def _corpus_agreement(self, name: str, method: str) -> str:
        """How model ``name``'s attention agrees with ``method`` over the test set (metrics.json "evidence"), as a
        sentence for the notice; empty when the corpus command has not stored it."""
        registered = evidence.ATTRIBUTION_METHODS[method]
        pair = f"{evidence.ATTENTION}_vs_{registered.key}"
        tau, top1 = (get_dict(self.metrics.evidence_models, name, "agreement", pair, key).get("mean")
                     for key in ("kendall_tau", "top1"))  # fmt: skip
        if tau is None or top1 is None:
            return ""
        return text.EVIDENCE_CORPUS_MEANS.format(
            sentences=self.metrics.evidence.get("num_sentences"), name=name, method=registered.label, tau=tau, top1=top1
        )

    @staticmethod
    def _attribution_heatmap(
        shown: Shown, candidate: Candidate, name: str, matrix: np.ndarray, merge: bool, method: str
    ) -> HeatmapData:
        """The ``(T, S)`` attribution ``matrix`` of ``candidate`` (translated by model ``name``) as a heatmap: per
        word when ``merge`` (pieces summed), every row's positive part as shares of it (an unsigned method's rows,
        such as gradient x input's, are unchanged shares)."""
        if merge:
            matrix, source_words, output_words = merge_attention(matrix, shown.source_pieces, candidate.pieces)
            columns, rows = word_labels(source_words), word_labels(output_words)
        else:
            columns, rows = piece_labels(shown.source_pieces), piece_labels(candidate.pieces)
        registered = evidence.ATTRIBUTION_METHODS[method]
        words = registered.label
        title = (text.SALIENCY_TITLE_BASELINE if name == BASELINE else text.SALIENCY_TITLE).format(
            name=name, method=words
        )
        if registered.signed:
            label = text.POSITIVE_SHARE.format(method=words)
        else:  # gradient x input's rows are shares of its norm, which its own label says
            label = text.SALIENCY_SHARE if method == DEFAULT_METHOD else text.SHARE.format(method=words)
        return HeatmapData(evidence.row_shares(matrix), rows, columns, title=title, value_label=label)

    @staticmethod
    def _attention_hypothesis(
        shown: Shown | None, hypothesis: Any, untranslated: str, no_attention: str
    ) -> Candidate | str:
        """The chosen hypothesis of the shown attention model, or the sentence to show instead of a view of it:
        ``untranslated`` before any translation, ``no_attention`` for a folder without attention model."""
        if shown is None or not shown.candidates:
            return untranslated
        if shown.attention_type is None:
            return no_attention
        candidate = shown.candidates[index(hypothesis, len(shown.candidates))]
        return candidate if candidate.hypothesis.tokens else text.EMPTY_HYPOTHESIS

    def surgery(self, shown: Shown | None, hypothesis: Any, step: Any, mode: Any, source: Any) -> SurgeryView:
        """Replace the attention weights of output position ``step`` and re-decode greedily from there.

        Three rows: the shown hypothesis (teacher-forced), the control (own weights, greedy from ``step``, which
        separates the effect of greedy decoding from that of the surgery) and the operated version.
        """
        candidate = self._attention_hypothesis(shown, hypothesis, text.TRANSLATE_FIRST, text.SURGERY_NO_ATTENTION)
        if isinstance(candidate, str):
            return SurgeryView(candidate)
        tokens = candidate.hypothesis.tokens
        modes = [value for _, value in text.SURGERY_MODE_CHOICES]
        mode = mode if mode in modes else modes[0]
        t = index(step, len(tokens))
        j = index(source, len(shown.source_ids))
        model = self.translator.models[shown.attention_type]
        control = evidence.surgery(model, shown.source_ids, tokens, t, "own")
        operated = evidence.surgery(model, shown.source_ids, tokens, t, mode, source_index=j)
        label = dict((value, words) for words, value in text.SURGERY_MODE_CHOICES)[mode]

        def row(version: str, ids: list[int], logprobs: list[float]) -> list:
            words = ids[:-1] if ids and ids[-1] == EOS_ID else ids
            total = float(sum(logprobs))
            return [version, decode(self.translator.tgt_tokenizer, words), round(total, 3),
                    round(total / max(len(ids), 1), 3), len(ids)]  # fmt: skip

        table = pd.DataFrame(
            [
                row(text.SURGERY_SHOWN, control.original_tokens, control.original_logprobs),
                row(text.SURGERY_CONTROL.format(step=t + 1), control.tokens, control.token_logprobs),
                row(text.SURGERY_OPERATED.format(mode=label, step=t + 1), operated.tokens, operated.token_logprobs),
            ],
            columns=text.SURGERY_COLUMNS,
        )
        source_labels = piece_labels(shown.source_pieces)
        own, used = operated.original_weights, operated.weights
        notice = text.SURGERY_SUMMARY.format(
            step=t + 1, word=piece_labels(candidate.pieces)[t], own=own.max(),
            own_source=source_labels[int(own.argmax())], used=used.max(), used_source=source_labels[int(used.argmax())],
            changed=text.SURGERY_SAME if operated.tokens == control.tokens else text.SURGERY_DIFFERENT,
            logprob=operated.logprob, control=control.logprob,
        )  # fmt: skip
        return SurgeryView(notice, table)

    # -- Inside one step ------------------------------------------------------------------------------------------

    def inspect(self, shown: Shown | None, hypothesis: Any, position: Any) -> StepView:
        """Align -> Weight -> Combine for one output position of the shown hypothesis (teacher-forced).

        Re-runs the decoder over the hypothesis's tokens (``inspection.inspect_steps``) to get the raw scores ``e``,
        the weights ``α`` and the encoder annotations ``h_j``; the context shown is the model's own
        ``c = Σ_j α_j h_j``.
        """
        candidate = self._attention_hypothesis(shown, hypothesis, text.TRANSLATE_FIRST_STEP, text.STEP_NO_ATTENTION)
        if isinstance(candidate, str):
            return StepView(candidate)
        tokens = candidate.hypothesis.tokens
        steps = inspect_steps(self.translator.models[shown.attention_type], shown.source_ids, tokens)
        t = index(position, len(tokens))
        parts = steps.contributions(t)
        source_labels = piece_labels(shown.source_pieces)
        target_labels = piece_labels(candidate.pieces)
        figure = plots.step_figure(
            steps.scores[t], steps.weights[t], steps.values, steps.contexts[t], source_labels, target_labels[t]
        )
        order = np.argsort(-parts["weight"])
        table = pd.DataFrame(
            [
                [source_labels[j], round(float(parts["weight"][j]), 4), round(float(parts["norm"][j]), 4),
                 f"{100 * float(parts['share'][j]):.1f}%"]
                for j in order
            ],
            columns=text.STEP_COLUMNS,
        )  # fmt: skip
        weights, context = steps.weights[t], steps.contexts[t]
        notice = text.STEP_SUMMARY.format(
            position=t + 1, word=target_labels[t], total=weights.sum(), dims=context.shape[0],
            norm=np.linalg.norm(context), check=float(np.abs(context - weights @ steps.values).max()),
        )  # fmt: skip
        return StepView(
            notice=notice,
            positions=[(f"{i + 1}. {label}", i) for i, label in enumerate(target_labels)],
            position=t,
            formula=text.formula_markdown(shown.attention_type),
            figure=figure,
            table=table,
            scores=steps.scores[t],
            weights=weights,
            context=context,
            values=steps.values,
        )

    # -- Why attention helps --------------------------------------------------------------------------------------

    def results_table(self) -> pd.DataFrame:
        """Test scores per model from metrics.json (empty when the file is missing)."""
        rows = [
            [name, m.get("bleu"), m.get("chrf"), m.get("best_epoch"), m.get("num_parameters")]
            for name, m in self.metrics.models.items()
        ]
        return pd.DataFrame(rows, columns=text.RESULTS_COLUMNS)

    def evidence_summary(self) -> pd.DataFrame:
        """Corpus agreement means per model and comparison from metrics.json "evidence" (empty when missing)."""
        names = evidence.measure_labels()
        labels = {
            f"{a}_vs_{b}": text.PAIR_LABEL.format(first=names[a], second=names[b])
            for a, b in evidence.agreement_pairs()
        }  # in the order of evidence.agreement_pairs(); a pair it does not know comes last, by its key
        order = list(labels)
        rows = []
        for name in self.metrics.evidence_models:
            found = get_dict(self.metrics.evidence_models, name, "agreement")
            for pair in sorted(found, key=lambda p: order.index(p) if p in order else len(order)):
                values = found[pair]
                rows.append([
                    name, labels.get(pair, pair), values["kendall_tau"].get("mean"),
                    values["top1"].get("mean"), values.get("chance_top1"), values["jsd"].get("mean"),
                    values.get("num_steps"),
                ])  # fmt: skip
        return pd.DataFrame(rows, columns=text.EVIDENCE_SUMMARY_COLUMNS)

    def training_figures(self) -> dict[str, Figure]:
        """The training plots of the *Why attention helps* tab: BLEU by source length, the training curves, the
        gradient by distance and the agreement histograms (each a "missing" message when its file is)."""
        evidence_numbers = self.metrics.evidence
        return {
            "bleu_by_length": plots.bleu_by_length_figure(self.metrics.models),
            "curves": plots.training_curves_figure(self.history),
            "distance": plots.gradient_by_distance_figure(evidence_numbers),
            "agreement": plots.agreement_histograms_figure(evidence_numbers),
        }

    def alignment_table(self) -> pd.DataFrame:
        """AER, precision, recall and the </s> sink per attention model, against a word aligner (metrics.json)."""
        found = self.metrics.alignment
        rows = []
        for name, numbers in self.metrics.alignment_models.items():
            reference, own = get_dict(numbers, "reference"), get_dict(numbers, "translation")
            rows.append([
                name, reference.get("aer"), reference.get("precision"), reference.get("recall"),
                reference.get("eos_sink"), reference.get("last_word"), reference.get("mean_max_weight"), own.get("aer"),
            ])  # fmt: skip
        diagonal = get_dict(found, "diagonal")
        if rows and diagonal:
            rows.append([text.DIAGONAL_ROW, diagonal.get("aer"), diagonal.get("precision"), diagonal.get("recall"),
                         None, None, None, None])  # fmt: skip
        return pd.DataFrame(rows, columns=text.ALIGNMENT_COLUMNS)

    def _default_type(self) -> str | None:
        """The model the app opens on: the attention model whose attention agrees best with the word aligner (the
        lowest AER in metrics.json), so that a first heatmap shows alignment; without those numbers
        ``DEFAULT_ATTENTION``, else the first attention model."""
        aer = {}
        for name, numbers in self.metrics.alignment_models.items():
            value = get_dict(numbers, "reference").get("aer")
            if name in self.attention_types and isinstance(value, (int, float)):
                aer[name] = value
        if aer:
            return min(aer, key=aer.__getitem__)
        if DEFAULT_ATTENTION in self.attention_types:
            return DEFAULT_ATTENTION
        return self.attention_types[0] if self.attention_types else None

    def ablation_table(self) -> pd.DataFrame:
        """The decoder-design ablations stored with the models (metrics.json "alignment" -> "ablations")."""
        rows = [
            [row.get(key) for key in ("variant", "eos_sink", "null", "last_word", "mean_max_weight", "aer", "bleu")]
            for row in self.metrics.ablation_rows
        ]
        return pd.DataFrame(rows, columns=text.ABLATION_COLUMNS)

    def aligner_choices(self) -> list[tuple[str, int]]:
        """Test sentences that have a word aligner's links, as dropdown choices."""
        return [(str(row["source"]), i) for i, row in enumerate(self.aligned)]

    def aligner_view(self, model: Any, sentence: Any) -> AlignerView:
        """Model ``model`` reading the reference of test sentence ``sentence`` (teacher-forced, words), with the word
        aligner's links drawn as rings, and how far the two agree on this sentence."""
        if not self.aligned:
            return AlignerView(HeatmapData.message_only(text.NO_ALIGNER_LINKS))
        name = model if model in self.attention_types else self.default_type
        if name is None:
            return AlignerView(HeatmapData.message_only(text.NO_ATTENTION_MODEL))
        row = self.aligned[index(sentence, len(self.aligned))]
        reference = str(self.references.get(normalise(str(row["source"]))) or "")
        source_ids = self.translator.source_ids(str(row["source"]))[0]
        target_ids = encode(self.translator.tgt_tokenizer, reference)
        source_pieces = pieces(self.translator.src_tokenizer, source_ids)
        target_pieces = pieces(self.translator.tgt_tokenizer, target_ids)
        with torch.inference_mode():
            attention = teacher_forced_attention(self.translator.models[name], [source_ids], [target_ids])[0]
        matrix, source_words, target_words = merge_attention(attention, source_pieces, target_pieces)
        if words(source_pieces) != row.get("source_words") or words(target_pieces) != row.get("target_words"):
            return AlignerView(HeatmapData.message_only(text.ALIGNER_WORDS_DIFFER))
        links = parse_pharaoh(str(row.get("links", "")))
        found = attention_links(matrix, has_eos=bool(source_words) and source_words[-1] == EOS)
        scores = alignment_scores([found.links], [links])
        heatmap = HeatmapData(
            matrix, word_labels(target_words), word_labels(source_words),
            title=text.ALIGNER_TITLE.format(name=name), markers=[(i, j) for j, i in sorted(links)],
            marker_label=text.ALIGNER_MARKER_LABEL,
        )  # fmt: skip
        return AlignerView(
            heatmap,
            text.ALIGNER_TEXT.format(
                aer=scores["aer"],
                hits=len(found.links & links),
                links=len(found.links),
                gold=len(links),
                sink=found.on_eos,
                words=found.words,
            ),
        )

    def evolution_choices(self) -> tuple[list[str], list[tuple[str, int]], int]:
        """Models with attention snapshots, the snapshot sentences, and the largest number of epochs."""
        models = self.evolution.models
        names = [n for n in self.attention_types if models.get(n)] + [
            n for n in models if n not in self.attention_types
        ]
        sentences = self.evolution.sentences
        epochs = max((len(models[n]) for n in names if models.get(n)), default=0)
        return names, [(s, i) for i, s in enumerate(sentences)], epochs

    def evolution_view(self, model: Any, sentence: Any, epoch: Any) -> EvolutionView:
        """The attention map of snapshot ``sentence`` after epoch ``epoch`` (1-based) of ``model``."""
        snapshots = self.evolution.models.get(model or "")
        if not snapshots:
            return EvolutionView(HeatmapData.message_only(text.NO_SNAPSHOTS))
        position = index(index(epoch, 10**6) - 1, len(snapshots))
        snapshot = snapshots[position]
        translations = snapshot.get("translations") or []
        if not translations:
            return EvolutionView(HeatmapData.message_only(text.EMPTY_SNAPSHOT))
        row = translations[index(sentence, len(translations))]
        number = snapshot.get("epoch", position + 1)
        heatmap = HeatmapData(
            np.asarray(row["attention"], dtype=float), piece_labels(row["target_pieces"]),
            piece_labels(row["source_pieces"]), title=text.EVOLUTION_TITLE.format(name=model, epoch=number),
        )  # fmt: skip
        return EvolutionView(
            heatmap, text.EVOLUTION_TEXT.format(epoch=number, words=text_from_pieces(row["target_pieces"]))
        )
