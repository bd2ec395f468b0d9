"""The page: one builder per tab, each returning its components (no events here: :mod:`attention_demo.ui.wiring`).

Safety: user text is only ever shown in Textbox, HighlightedText, Dropdown and Dataframe (``str`` columns) components
and in the browser-drawn heatmaps (which write labels as text, see :mod:`attention_demo.ui.heatmap`), never in
Markdown, so ``<script>`` and friends are displayed, not executed. The only Markdown an event writes is the score
function's formula, made from the model name.

Phone width: every row of components wraps below its ``min_width``s; tables have fixed pixel column widths and scroll
sideways instead of squeezing their columns; heatmaps scroll sideways.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from attention_demo.evidence import method_choices
from attention_demo.ui import text
from attention_demo.ui.heatmap import attention_heatmap
from attention_demo.ui.tabs import live as live_tab
from attention_demo.ui.views import (
    DEFAULT_BEAM,
    DEFAULT_METHOD,
    EXAMPLES_SHOWN,
    MAX_BEAM,
    AttentionDemo,
    gallery_examples,
)

CSS = """
#translation-attention .token { cursor: pointer; border: 1px solid transparent; }
#translation-attention .token:hover, #translation-attention .token:focus-visible { border-color: var(--color-accent); }
"""
INSPECTED_COLOUR = "#f4a582"


def _table(columns: list[str], label: str, widths: list[int], **kwargs: object) -> gr.Dataframe:
    """A read-only table of text cells with fixed column widths in pixels (it scrolls sideways on a phone)."""
    return gr.Dataframe(
        value=pd.DataFrame(columns=columns), label=label, interactive=False, datatype="str", wrap=True,
        column_widths=[f"{width}px" for width in widths], **kwargs,
    )  # fmt: skip


@dataclass
class TranslateTab:
    """Translate & compare: the input, both translations, the heatmap and what one output word looks at."""

    source: gr.Textbox
    translate_button: gr.Button
    random_button: gr.Button
    attention_type: gr.Dropdown
    beam: gr.Slider
    merge: gr.Checkbox
    examples: gr.Dataset
    notice: gr.Textbox
    output_words: gr.HighlightedText
    baseline_text: gr.Textbox
    reference: gr.Textbox
    chrf: gr.Textbox
    hypothesis: gr.Dropdown
    heatmap: gr.HTML
    highlight: gr.HighlightedText
    focus: gr.Textbox
    beams: gr.Dataframe


def build_translate_tab(demo: AttentionDemo) -> TranslateTab:
    types = demo.attention_types
    with gr.Row():
        source = gr.Textbox(
            label=text.SOURCE_LABEL, lines=2, max_lines=8, scale=4, min_width=240, placeholder=text.SOURCE_PLACEHOLDER
        )
        with gr.Column(scale=1, min_width=200):
            translate_button = gr.Button(text.TRANSLATE_BUTTON, variant="primary")
            random_button = gr.Button(text.RANDOM_BUTTON)
    with gr.Row():
        attention_type = gr.Dropdown(
            types, value=demo.default_type, label=text.ATTENTION_TYPE_LABEL, info=text.ATTENTION_TYPE_INFO
        )
        beam = gr.Slider(1, MAX_BEAM, value=DEFAULT_BEAM, step=1, label=text.BEAM_LABEL, info=text.BEAM_INFO)
        merge = gr.Checkbox(value=False, label=text.MERGE_LABEL, info=text.MERGE_INFO)
    examples = gr.Dataset(
        components=[source], samples=[[s] for s in gallery_examples(demo.examples)], label=text.EXAMPLES_LABEL,
        samples_per_page=EXAMPLES_SHOWN, elem_id="examples",
    )  # fmt: skip
    notice = gr.Textbox(label=text.NOTES_LABEL, interactive=False, lines=1, elem_id="notice")
    with gr.Row():
        # The attention model's translation as clickable words (each one a row of the heatmap).
        output_words = gr.HighlightedText(
            label=text.WITH_ATTENTION_LABEL, color_map={text.INSPECTED: INSPECTED_COLOUR}, show_legend=False,
            show_inline_category=False, min_width=240, elem_id="translation-attention",
        )  # fmt: skip
        baseline_text = gr.Textbox(
            label=text.BASELINE_LABEL, interactive=False, lines=2, min_width=240, elem_id="translation-baseline"
        )
    with gr.Row():
        reference = gr.Textbox(label=text.REFERENCE_LABEL, interactive=False, min_width=240)
        chrf = gr.Textbox(label=text.CHRF_LABEL, interactive=False, min_width=240)
    hypothesis = gr.Dropdown([], label=text.HYPOTHESIS_LABEL, interactive=True)
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            heatmap = attention_heatmap(elem_id="heatmap")
        with gr.Column(scale=2, min_width=260):
            highlight = gr.HighlightedText(label=text.HIGHLIGHT_LABEL, show_legend=False, elem_id="source-highlight")
            focus = gr.Textbox(label=text.FOCUS_LABEL, interactive=False, elem_id="focus")
            gr.Markdown(text.INSPECT_HINT + "\n\n" + text.MERGE_NOTE)
    with gr.Accordion(text.BEAMS_ACCORDION, open=False):
        beams = _table(text.BEAM_COLUMNS, text.BEAMS_LABEL, [56, 300, 110, 90, 70, 130], elem_id="beams")
    return TranslateTab(
        source, translate_button, random_button, attention_type, beam, merge, examples, notice, output_words,
        baseline_text, reference, chrf, hypothesis, heatmap, highlight, focus, beams,
    )  # fmt: skip


@dataclass
class EvidenceTab:
    """Evidence beyond the heatmap: coverage, attribution maps of both models, agreement, attention surgery."""

    tab: gr.Tab
    status: gr.Textbox
    coverage_plot: gr.Plot
    coverage_table: gr.Dataframe
    method: gr.Radio
    saliency: gr.HTML
    baseline_saliency: gr.HTML
    agreement_table: gr.Dataframe
    surgery_step: gr.Dropdown
    surgery_mode: gr.Radio
    surgery_source: gr.Dropdown
    surgery_button: gr.Button
    surgery_status: gr.Textbox
    surgery_table: gr.Dataframe


def build_evidence_tab() -> EvidenceTab:
    with gr.Tab(text.TAB_EVIDENCE, id="evidence", elem_id="tab-evidence") as tab:
        gr.Markdown(text.EVIDENCE_TAB_INTRO)
        status = gr.Textbox(label=text.EVIDENCE_STATUS_LABEL, interactive=False, lines=2, elem_id="evidence-status")
        with gr.Row():
            coverage_plot = gr.Plot(label=text.COVERAGE_LABEL, show_label=False, scale=3, min_width=300)
            coverage_table = _table(text.COVERAGE_COLUMNS, text.COVERAGE_TABLE_LABEL, [120, 110, 90], scale=2)
        with gr.Accordion(text.SALIENCY_ACCORDION, open=True):
            gr.Markdown(text.EVIDENCE_NOTE)
            method = gr.Radio(
                method_choices(), value=DEFAULT_METHOD, label=text.METHOD_LABEL, elem_id="evidence-method"
            )
            with gr.Row():
                with gr.Column(min_width=300):
                    saliency = attention_heatmap(elem_id="saliency")
                with gr.Column(min_width=300):
                    baseline_saliency = attention_heatmap(elem_id="baseline-saliency")
            agreement_table = _table(text.AGREEMENT_COLUMNS, text.AGREEMENT_TABLE_LABEL, [100] + [96] * 3)
        with gr.Accordion(text.SURGERY_ACCORDION, open=False):
            gr.Markdown(text.SURGERY_NOTE)
            with gr.Row():
                surgery_step = gr.Dropdown([], label=text.SURGERY_STEP_LABEL, interactive=True)
                surgery_mode = gr.Radio(text.SURGERY_MODE_CHOICES, value="uniform", label=text.SURGERY_MODE_LABEL)
                surgery_source = gr.Dropdown([], label=text.SURGERY_SOURCE_LABEL, interactive=True)
            surgery_button = gr.Button(text.SURGERY_BUTTON)
            surgery_status = gr.Textbox(label=text.SURGERY_STATUS_LABEL, interactive=False, lines=2)
            surgery_table = _table(text.SURGERY_COLUMNS, text.SURGERY_TABLE_LABEL, [220, 300, 110, 90, 70])
    return EvidenceTab(
        tab, status, coverage_plot, coverage_table, method, saliency, baseline_saliency, agreement_table, surgery_step,
        surgery_mode, surgery_source, surgery_button, surgery_status, surgery_table,
    )  # fmt: skip


@dataclass
class StepTab:
    """Inside one step: Align -> Weight -> Combine for one output position."""

    tab: gr.Tab
    position: gr.Dropdown
    formula: gr.Markdown
    status: gr.Textbox
    plot: gr.Plot
    table: gr.Dataframe


def build_step_tab(demo: AttentionDemo) -> StepTab:
    with gr.Tab(text.TAB_STEP, id="step", elem_id="tab-step") as tab:
        gr.Markdown(text.STEP_INTRO)
        position = gr.Dropdown([], label=text.POSITION_LABEL, interactive=True)
        formula = gr.Markdown(text.formula_markdown(demo.default_type) if demo.default_type else "")
        status = gr.Textbox(label=text.STEP_CHECK_LABEL, interactive=False)
        plot = gr.Plot(label=text.STEP_PLOT_LABEL, show_label=False, elem_id="step-plot")
        table = _table(text.STEP_COLUMNS, text.STEP_TABLE_LABEL, [130, 90, 100, 90])
    return StepTab(tab, position, formula, status, plot, table)


@dataclass
class CompareTab:
    """The attention types side by side."""

    tab: gr.Tab
    button: gr.Button
    status: gr.Textbox
    texts: list[gr.Textbox]
    heatmaps: list[gr.HTML]


def build_compare_tab(demo: AttentionDemo) -> CompareTab:
    with gr.Tab(text.TAB_COMPARE, id="compare", elem_id="tab-compare") as tab:
        gr.Markdown(text.COMPARE_INTRO)
        button = gr.Button(text.COMPARE_BUTTON, variant="primary")
        status = gr.Textbox(label=text.NOTES_LABEL, interactive=False)
        texts, heatmaps = [], []
        with gr.Row():
            for name in demo.attention_types:
                with gr.Column(min_width=300):
                    texts.append(gr.Textbox(label=text.compare_label(name), interactive=False))
                    heatmaps.append(attention_heatmap(elem_id=f"compare-{name}"))
    return CompareTab(tab, button, status, texts, heatmaps)


@dataclass
class WhyTab:
    """Why attention helps: the numbers stored with the models, and attention snapshots per epoch.

    The four training plots are drawn the first time the tab is opened (drawing them took seconds of the cold start).
    """

    tab: gr.Tab
    bleu_by_length: gr.Plot
    curves: gr.Plot
    distance: gr.Plot
    agreement: gr.Plot
    evolution_model: gr.Dropdown
    evolution_sentence: gr.Dropdown
    evolution_epoch: gr.Slider
    evolution_text: gr.Textbox
    evolution_heatmap: gr.HTML
    aligner_model: gr.Dropdown
    aligner_sentence: gr.Dropdown
    aligner_text: gr.Textbox
    aligner_heatmap: gr.HTML


def build_why_tab(demo: AttentionDemo) -> WhyTab:
    """Everything here is read from the model folder's JSON files once."""
    with gr.Tab(text.TAB_WHY, id="why", elem_id="tab-why") as tab:
        gr.Markdown(text.WHY_INTRO)
        gr.Dataframe(value=demo.results_table(), label=text.RESULTS_TABLE_LABEL, interactive=False)
        bleu_by_length = gr.Plot(label=text.BLEU_BY_LENGTH_LABEL, show_label=False, elem_id="bleu-by-length")
        curves = gr.Plot(label=text.CURVES_LABEL, show_label=False)
        names, sentences, epochs = demo.evolution_choices()
        gr.Markdown(text.EVOLUTION_HEADING)
        with gr.Row():
            evolution_model = gr.Dropdown(names, value=names[0] if names else None, label=text.EVOLUTION_MODEL_LABEL)
            evolution_sentence = gr.Dropdown(
                sentences, value=0 if sentences else None, label=text.EVOLUTION_SENTENCE_LABEL, scale=2
            )
            # A slider needs minimum < maximum: with a single snapshot there is nothing to slide over.
            evolution_epoch = gr.Slider(
                1, max(epochs, 2), value=1, step=1, label=text.EVOLUTION_EPOCH_LABEL, visible=epochs > 1
            )
        first = demo.evolution_view(names[0] if names else None, 0, 1)
        evolution_text = gr.Textbox(value=first.text, label=text.EVOLUTION_TEXT_LABEL, interactive=False)
        evolution_heatmap = attention_heatmap(value=first.heatmap.to_json(), elem_id="evolution")
        gr.Markdown(text.ALIGNER_HEADING)
        gr.Dataframe(value=demo.alignment_table(), label=text.ALIGNMENT_TABLE_LABEL, interactive=False)
        choices = demo.aligner_choices()
        with gr.Row():
            aligner_model = gr.Dropdown(
                demo.attention_types, value=demo.default_type, label=text.ALIGNER_MODEL_LABEL, elem_id="aligner-model"
            )
            aligner_sentence = gr.Dropdown(
                choices, value=0 if choices else None, label=text.ALIGNER_SENTENCE_LABEL, scale=2
            )
        aligned = demo.aligner_view(demo.default_type, 0)
        aligner_text = gr.Textbox(value=aligned.text, label=text.ALIGNER_TEXT_LABEL, interactive=False)
        aligner_heatmap = attention_heatmap(value=aligned.heatmap.to_json(), elem_id="aligner")
        gr.Markdown(text.ABLATION_HEADING)
        gr.Dataframe(value=demo.ablation_table(), label=text.ABLATION_TABLE_LABEL, interactive=False)
        gr.Markdown(text.EVIDENCE_CORPUS_NOTE)
        gr.Dataframe(value=demo.evidence_summary(), label=text.EVIDENCE_SUMMARY_LABEL, interactive=False)
        distance = gr.Plot(label=text.DISTANCE_LABEL, show_label=False)
        agreement = gr.Plot(label=text.AGREEMENT_LABEL, show_label=False)
    return WhyTab(
        tab, bleu_by_length, curves, distance, agreement, evolution_model, evolution_sentence, evolution_epoch,
        evolution_text, evolution_heatmap, aligner_model, aligner_sentence, aligner_text, aligner_heatmap,
    )  # fmt: skip


@dataclass
class Layout:
    """Every component an event reads or writes, by tab, plus the per-session state."""

    translate: TranslateTab
    evidence: EvidenceTab
    step: StepTab
    compare: CompareTab
    why: WhyTab
    shown: gr.State  # views.Shown: the translation on screen
    evidence_key: gr.State  # what the evidence tab shows (recomputed only when that changes)
    step_key: gr.State  # what the step tab shows
    why_shown: gr.State  # whether this page already has the training plots
    live: live_tab.LiveTab
    tabs: gr.Tabs  # its tabs have the ids of links.TABS
    link_button: gr.Button
    link: gr.Textbox  # a link that reopens this view (links.py)
    word: gr.State  # the inspected output word (for the link)
    current_tab: gr.State  # the id of the tab on screen (for the link)
    pending_link: gr.State  # links.LinkState of the link the page was opened with, until it is applied


def build_layout(demo: AttentionDemo) -> Layout:
    """The header and the six tabs; call inside ``gr.Blocks``."""
    gr.Markdown(text.INTRO)
    gr.Markdown(f"*{demo.notice}*" if demo.notice else "")  # written by us from the --model argument
    with gr.Row(equal_height=True):
        link_button = gr.Button(text.LINK_BUTTON, size="sm", scale=0, min_width=160, elem_id="link-button")
        link = gr.Textbox(
            show_label=False, placeholder=text.LINK_PLACEHOLDER, interactive=False, buttons=["copy"], scale=4,
            elem_id="link",
        )  # fmt: skip
    shown, evidence_key, step_key, why_shown = gr.State(None), gr.State(None), gr.State(None), gr.State(False)
    word, current_tab, pending_link = gr.State(0), gr.State("translate"), gr.State(None)
    with gr.Tabs(elem_id="tabs") as tabs:
        with gr.Tab(text.TAB_TRANSLATE, id="translate", elem_id="tab-translate"):
            translate = build_translate_tab(demo)
        evidence = build_evidence_tab()
        step = build_step_tab(demo)
        compare = build_compare_tab(demo)
        why = build_why_tab(demo)
        live = live_tab.build()
    return Layout(
        translate, evidence, step, compare, why, shown, evidence_key, step_key, why_shown, live, tabs, link_button,
        link, word, current_tab, pending_link,
    )  # fmt: skip
