"""The "Evidence beyond the heatmap" tab: coverage, the attribution maps of both models, how far attention agrees
with them, and attention surgery.

Components (:class:`EvidenceTab`) and their builder (:func:`build`); the views (:class:`EvidenceView`,
:class:`CoverageView`, :class:`SurgeryView`) and the presenters that compute them from the translation on screen
(:func:`evidence_view`, :func:`surgery_view`, :func:`coverage_view`, :func:`agreement_table`; plain Python, called
directly by the tests); :func:`present` and :func:`present_surgery`, which turn a view into component values; and the
tab's events (:func:`wire`). The tab computes when it is opened (:func:`show`), and only when what it would show has
changed since it last computed it, and again when another attribution method is picked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from attention_demo import evidence, plots
from attention_demo.evidence import method_choices
from attention_demo.inspection import merge_attention, word_spans
from attention_demo.model import BASELINE
from attention_demo.model_repo import get_dict
from attention_demo.tokenizer import EOS, EOS_ID, decode
from attention_demo.translate import Candidate
from attention_demo.ui import text
from attention_demo.ui.concurrency import MODEL_THREADS
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.heatmap import HeatmapData, attention_heatmap, heatmap_value, piece_labels, word_labels
from attention_demo.ui.inputs import index
from attention_demo.ui.state import Shared, Shown, attention_hypothesis, view_key
from attention_demo.ui.widgets import table

ID = "evidence"

# The tab's attribution methods are those of attention_demo.evidence.ATTRIBUTION_METHODS (one registry: the function,
# the label, whether it is signed). The default is the cheapest; the others run when picked.
DEFAULT_METHOD = "gradient_x_input"


# ---------------------------------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class EvidenceTab:
    """Evidence beyond the heatmap: coverage, attribution maps of both models, agreement, attention surgery."""

    tab: gr.Tab
    status: gr.Textbox
    coverage_plot: gr.Plot
    coverage_table: gr.Dataframe
    method: gr.Radio
    attribution: gr.HTML  # the attention model's map of the picked method
    baseline_attribution: gr.HTML
    agreement_table: gr.Dataframe
    surgery_step: gr.Dropdown
    surgery_mode: gr.Radio
    surgery_source: gr.Dropdown
    surgery_button: gr.Button
    surgery_status: gr.Textbox
    surgery_table: gr.Dataframe
    key: gr.State  # what the tab shows (recomputed only when that changes)


def build(demo: AttentionDemo | None = None) -> EvidenceTab:
    """The tab; call inside ``gr.Tabs`` (it needs nothing of ``demo``: its choices come with a translation)."""
    with gr.Tab(text.TAB_EVIDENCE, id=ID, elem_id="tab-evidence") as tab:
        key = gr.State(None)
        gr.Markdown(text.EVIDENCE_TAB_INTRO)
        status = gr.Textbox(label=text.EVIDENCE_STATUS_LABEL, interactive=False, lines=2, elem_id="evidence-status")
        with gr.Row():
            coverage_plot = gr.Plot(label=text.COVERAGE_LABEL, show_label=False, scale=3, min_width=300)
            coverage_table = table(text.COVERAGE_COLUMNS, text.COVERAGE_TABLE_LABEL, [120, 110, 90], scale=2)
        with gr.Accordion(text.SALIENCY_ACCORDION, open=True):
            gr.Markdown(text.EVIDENCE_NOTE)
            method = gr.Radio(
                method_choices(), value=DEFAULT_METHOD, label=text.METHOD_LABEL, elem_id="evidence-method"
            )
            with gr.Row():
                with gr.Column(min_width=300):
                    attribution = attention_heatmap(elem_id="saliency")
                with gr.Column(min_width=300):
                    baseline_attribution = attention_heatmap(elem_id="baseline-saliency")
            agreement_table = table(text.AGREEMENT_COLUMNS, text.AGREEMENT_TABLE_LABEL, [100] + [96] * 3)
        with gr.Accordion(text.SURGERY_ACCORDION, open=False):
            gr.Markdown(text.SURGERY_NOTE)
            with gr.Row():
                surgery_step = gr.Dropdown([], label=text.SURGERY_STEP_LABEL, interactive=True)
                surgery_mode = gr.Radio(text.SURGERY_MODE_CHOICES, value="uniform", label=text.SURGERY_MODE_LABEL)
                surgery_source = gr.Dropdown([], label=text.SURGERY_SOURCE_LABEL, interactive=True)
            surgery_button = gr.Button(text.SURGERY_BUTTON)
            surgery_status = gr.Textbox(label=text.SURGERY_STATUS_LABEL, interactive=False, lines=2)
            surgery_table = table(text.SURGERY_COLUMNS, text.SURGERY_TABLE_LABEL, [220, 300, 110, 90, 70])
    return EvidenceTab(
        tab, status, coverage_plot, coverage_table, method, attribution, baseline_attribution, agreement_table,
        surgery_step, surgery_mode, surgery_source, surgery_button, surgery_status, surgery_table, key,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------------------


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
    attribution: HeatmapData | None = None  # the attention model's map of the picked attribution method
    baseline_attribution: HeatmapData | None = None  # the baseline's map of the same method
    steps: list[tuple[str, int]] = field(default_factory=list)  # output positions, for the surgery
    sources: list[tuple[str, int]] = field(default_factory=list)  # source pieces, for one-word surgery


@dataclass
class SurgeryView:
    notice: str
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=text.SURGERY_COLUMNS))


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


def evidence_view(
    demo: AttentionDemo, shown: Shown | None, hypothesis: Any, merge: bool, method: str = DEFAULT_METHOD
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
            attribute, demo.translator.models[BASELINE], shown.source_ids, baseline.hypothesis.tokens
        )
    try:
        _attention_evidence(demo, view, shown, hypothesis, merge, method)
    finally:
        matrix = None if later is None else later.result()  # (T_baseline, S); also waited for on an error
    if baseline is not None:
        view.baseline_attribution = attribution_heatmap(shown, baseline, BASELINE, matrix, merge, method)
    return view


def _attention_evidence(
    demo: AttentionDemo, view: EvidenceView, shown: Shown, hypothesis: Any, merge: bool, method: str
) -> None:
    """The attention model's part of :func:`evidence_view`: coverage, its attribution map and the agreement."""
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
    model = demo.translator.models[shown.attention_type]
    attribution = evidence.attribution(model, shown.source_ids, tokens, method)  # (T, S): heatmap and agreement
    view.attribution = attribution_heatmap(shown, candidate, shown.attention_type, attribution, merge, method)
    view.agreement_table, means = agreement_table(attention, attribution, piece_labels(candidate.pieces))
    flagged = [f"{label} ({flag})" for label, flag in zip(cover.labels, cover.flags, strict=True) if flag]
    view.notice = text.EVIDENCE_SUMMARY.format(
        method=evidence.ATTRIBUTION_METHODS[method].label, tau=means[0], top1=means[1],
        corpus=corpus_agreement(demo, shown.attention_type, method),
        flags=", ".join(flagged) if flagged else text.NO_FLAGS,
    )  # fmt: skip


def corpus_agreement(demo: AttentionDemo, name: str, method: str) -> str:
    """How model ``name``'s attention agrees with ``method`` over the test set (metrics.json "evidence"), as a
    sentence for the notice; empty when the corpus command has not stored it."""
    registered = evidence.ATTRIBUTION_METHODS[method]
    pair = f"{evidence.ATTENTION}_vs_{registered.key}"
    tau, top1 = (get_dict(demo.metrics.evidence_models, name, "agreement", pair, key).get("mean")
                 for key in ("kendall_tau", "top1"))  # fmt: skip
    if tau is None or top1 is None:
        return ""
    return text.EVIDENCE_CORPUS_MEANS.format(
        sentences=demo.metrics.evidence.get("num_sentences"), name=name, method=registered.label, tau=tau, top1=top1
    )


def attribution_heatmap(
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
    title = (text.SALIENCY_TITLE_BASELINE if name == BASELINE else text.SALIENCY_TITLE).format(name=name, method=words)
    if registered.signed:
        label = text.POSITIVE_SHARE.format(method=words)
    else:  # gradient x input's rows are shares of its norm, which its own label says
        label = text.SALIENCY_SHARE if method == DEFAULT_METHOD else text.SHARE.format(method=words)
    return HeatmapData(evidence.row_shares(matrix), rows, columns, title=title, value_label=label)


def surgery_view(
    demo: AttentionDemo, shown: Shown | None, hypothesis: Any, step: Any, mode: Any, source: Any
) -> SurgeryView:
    """Replace the attention weights of output position ``step`` and re-decode greedily from there.

    Three rows: the shown hypothesis (teacher-forced), the control (own weights, greedy from ``step``, which
    separates the effect of greedy decoding from that of the surgery) and the operated version.
    """
    candidate = attention_hypothesis(shown, hypothesis, text.TRANSLATE_FIRST, text.SURGERY_NO_ATTENTION)
    if isinstance(candidate, str):
        return SurgeryView(candidate)
    tokens = candidate.hypothesis.tokens
    modes = [value for _, value in text.SURGERY_MODE_CHOICES]
    mode = mode if mode in modes else modes[0]
    t = index(step, len(tokens))
    j = index(source, len(shown.source_ids))
    model = demo.translator.models[shown.attention_type]
    control = evidence.surgery(model, shown.source_ids, tokens, t, "own")
    operated = evidence.surgery(model, shown.source_ids, tokens, t, mode, source_index=j)
    label = dict((value, words) for words, value in text.SURGERY_MODE_CHOICES)[mode]

    def row(version: str, ids: list[int], logprobs: list[float]) -> list:
        words = ids[:-1] if ids and ids[-1] == EOS_ID else ids
        total = float(sum(logprobs))
        return [version, decode(demo.translator.tgt_tokenizer, words), round(total, 3),
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


# ---------------------------------------------------------------------------------------------------------------------
# Component values and events
# ---------------------------------------------------------------------------------------------------------------------


def present(tab: EvidenceTab, view: EvidenceView) -> dict:
    """An :class:`EvidenceView` as the values of the tab (the surgery's choices among them)."""
    return {
        tab.status: view.notice,
        tab.coverage_plot: view.coverage_figure,
        tab.coverage_table: view.coverage_table,
        tab.agreement_table: view.agreement_table,
        tab.attribution: heatmap_value(view.attribution),
        tab.baseline_attribution: heatmap_value(view.baseline_attribution),
        tab.surgery_step: gr.Dropdown(choices=view.steps, value=0 if view.steps else None),
        tab.surgery_source: gr.Dropdown(choices=view.sources, value=0 if view.sources else None),
    }


def present_surgery(tab: EvidenceTab, view: SurgeryView) -> dict:
    return {tab.surgery_status: view.notice, tab.surgery_table: view.table}


def outputs(tab: EvidenceTab) -> list[gr.components.Component]:
    """The outputs of :func:`show`."""
    return [
        tab.status, tab.coverage_plot, tab.coverage_table, tab.agreement_table, tab.attribution,
        tab.baseline_attribution, tab.surgery_step, tab.surgery_source, tab.key,
    ]  # fmt: skip


def show(
    tab: EvidenceTab, demo: AttentionDemo, shown: Shown | None, hypothesis: Any, merge: bool, shown_key: str | None,
    method: str,
) -> dict:  # fmt: skip
    """The tab's values for hypothesis ``hypothesis`` of the translation on screen, or nothing when the tab already
    shows it (``shown_key``)."""
    key = view_key(shown, hypothesis, merge, method)
    if key is not None and key == shown_key:
        return {}  # it already shows this
    return {**present(tab, evidence_view(demo, shown, hypothesis, merge, method)), tab.key: key}


def wire(tab: EvidenceTab, demo: AttentionDemo, shared: Shared) -> None:
    """The tab's events: opening it or picking a method computes the evidence; the surgery button operates."""

    def open_evidence(shown: Shown | None, hypothesis: int, merge: bool, shown_key: str | None, method: str) -> dict:
        return show(tab, demo, shown, hypothesis, merge, shown_key, method)

    def operate(shown: Shown | None, hypothesis: int, step: int, mode: str, source: int) -> dict:
        return present_surgery(tab, surgery_view(demo, shown, hypothesis, step, mode, source))

    # The tab computes when opened, and again when another attribution method is picked (the slow ones only then).
    run_evidence = guarded(open_evidence, tab.status, text.DOING_EVIDENCE)
    evidence_inputs = [shared.shown, shared.hypothesis, shared.merge, tab.key, tab.method]
    tab.tab.select(run_evidence, evidence_inputs, outputs(tab), **PRIVATE_MODEL_EVENT)
    tab.method.input(run_evidence, evidence_inputs, outputs(tab), **PRIVATE_MODEL_EVENT)
    tab.surgery_button.click(
        guarded(operate, tab.surgery_status, text.DOING_SURGERY),
        [shared.shown, shared.hypothesis, tab.surgery_step, tab.surgery_mode, tab.surgery_source],
        [tab.surgery_status, tab.surgery_table], **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
