"""The "Why attention helps" tab: the numbers stored with the models, attention snapshots per epoch, and attention
against a word aligner.

Components (:class:`WhyTab`) and their builder (:func:`build`); what the tab reads from the model folder's JSON files
(metrics.json, the training history, the attention snapshots, the aligner's links; read once, by
:class:`~attention_demo.ui.demo.AttentionDemo`): the tables (:func:`results_table`, :func:`alignment_table`,
:func:`ablation_table`, :func:`evidence_summary`), the training plots (:func:`training_figures`) and the views
(:class:`EvolutionView`, :class:`AlignerView`) with their presenters (:func:`evolution_view`, :func:`aligner_view`;
plain Python, called directly by the tests); and the tab's events (:func:`wire`). The four training plots are drawn
the first time the tab is opened (:func:`show`; drawing them took seconds of the cold start), once for all visitors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from attention_demo import evidence, plots
from attention_demo.alignment import alignment_scores, attention_links, parse_pharaoh, teacher_forced_attention, words
from attention_demo.inspection import merge_attention
from attention_demo.model_repo import get_dict
from attention_demo.tokenizer import EOS, encode, pieces, text_from_pieces
from attention_demo.ui import text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE, PRIVATE_CHEAP_EVENT, PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.heatmap import HeatmapData, attention_heatmap, piece_labels, word_labels
from attention_demo.ui.inputs import index, normalise
from attention_demo.ui.state import Shared

ID = "why"
PLOTS = ("bleu_by_length", "curves", "distance", "agreement")  # the training plots (WhyTab fields)


# ---------------------------------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------------------------------


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
    plots_shown: gr.State  # whether this page already has the training plots
    # The training plots' values, drawn and encoded once for all visitors when first asked for (by show()).
    plot_values: dict = field(default_factory=dict, init=False, repr=False)
    plot_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)


def build(demo: AttentionDemo) -> WhyTab:
    """The tab; call inside ``gr.Tabs``. Everything here is read from the model folder's JSON files once."""
    with gr.Tab(text.TAB_WHY, id=ID, elem_id="tab-why") as tab:
        plots_shown = gr.State(False)
        gr.Markdown(text.WHY_INTRO)
        gr.Dataframe(value=results_table(demo), label=text.RESULTS_TABLE_LABEL, interactive=False)
        bleu_by_length = gr.Plot(label=text.BLEU_BY_LENGTH_LABEL, show_label=False, elem_id="bleu-by-length")
        curves = gr.Plot(label=text.CURVES_LABEL, show_label=False)
        names, sentences, epochs = evolution_choices(demo)
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
        first = evolution_view(demo, names[0] if names else None, 0, 1)
        evolution_text = gr.Textbox(value=first.text, label=text.EVOLUTION_TEXT_LABEL, interactive=False)
        evolution_heatmap = attention_heatmap(value=first.heatmap.to_json(), elem_id="evolution")
        gr.Markdown(text.ALIGNER_HEADING)
        gr.Dataframe(value=alignment_table(demo), label=text.ALIGNMENT_TABLE_LABEL, interactive=False)
        choices = aligner_choices(demo)
        with gr.Row():
            aligner_model = gr.Dropdown(
                demo.attention_types, value=demo.default_type, label=text.ALIGNER_MODEL_LABEL, elem_id="aligner-model"
            )
            aligner_sentence = gr.Dropdown(
                choices, value=0 if choices else None, label=text.ALIGNER_SENTENCE_LABEL, scale=2
            )
        aligned = aligner_view(demo, demo.default_type, 0)
        aligner_text = gr.Textbox(value=aligned.text, label=text.ALIGNER_TEXT_LABEL, interactive=False)
        aligner_heatmap = attention_heatmap(value=aligned.heatmap.to_json(), elem_id="aligner")
        gr.Markdown(text.ABLATION_HEADING)
        gr.Dataframe(value=ablation_table(demo), label=text.ABLATION_TABLE_LABEL, interactive=False)
        gr.Markdown(text.EVIDENCE_CORPUS_NOTE)
        gr.Dataframe(value=evidence_summary(demo), label=text.EVIDENCE_SUMMARY_LABEL, interactive=False)
        distance = gr.Plot(label=text.DISTANCE_LABEL, show_label=False)
        agreement = gr.Plot(label=text.AGREEMENT_LABEL, show_label=False)
    return WhyTab(
        tab, bleu_by_length, curves, distance, agreement, evolution_model, evolution_sentence, evolution_epoch,
        evolution_text, evolution_heatmap, aligner_model, aligner_sentence, aligner_text, aligner_heatmap, plots_shown,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------------
# What the tab reads from the model folder
# ---------------------------------------------------------------------------------------------------------------------


def results_table(demo: AttentionDemo) -> pd.DataFrame:
    """Test scores per model from metrics.json (empty when the file is missing)."""
    rows = [
        [name, m.get("bleu"), m.get("chrf"), m.get("best_epoch"), m.get("num_parameters")]
        for name, m in demo.metrics.models.items()
    ]
    return pd.DataFrame(rows, columns=text.RESULTS_COLUMNS)


def evidence_summary(demo: AttentionDemo) -> pd.DataFrame:
    """Corpus agreement means per model and comparison from metrics.json "evidence" (empty when missing)."""
    names = evidence.measure_labels()
    labels = {
        f"{a}_vs_{b}": text.PAIR_LABEL.format(first=names[a], second=names[b]) for a, b in evidence.agreement_pairs()
    }  # in the order of evidence.agreement_pairs(); a pair it does not know comes last, by its key
    order = list(labels)
    rows = []
    for name in demo.metrics.evidence_models:
        found = get_dict(demo.metrics.evidence_models, name, "agreement")
        for pair in sorted(found, key=lambda p: order.index(p) if p in order else len(order)):
            values = found[pair]
            rows.append([
                name, labels.get(pair, pair), values["kendall_tau"].get("mean"),
                values["top1"].get("mean"), values.get("chance_top1"), values["jsd"].get("mean"),
                values.get("num_steps"),
            ])  # fmt: skip
    return pd.DataFrame(rows, columns=text.EVIDENCE_SUMMARY_COLUMNS)


def training_figures(demo: AttentionDemo) -> dict[str, Figure]:
    """The training plots of the *Why attention helps* tab: BLEU by source length, the training curves, the
    gradient by distance and the agreement histograms (each a "missing" message when its file is)."""
    evidence_numbers = demo.metrics.evidence
    return {
        "bleu_by_length": plots.bleu_by_length_figure(demo.metrics.models),
        "curves": plots.training_curves_figure(demo.history),
        "distance": plots.gradient_by_distance_figure(evidence_numbers),
        "agreement": plots.agreement_histograms_figure(evidence_numbers),
    }


def alignment_table(demo: AttentionDemo) -> pd.DataFrame:
    """AER, precision, recall and the </s> sink per attention model, against a word aligner (metrics.json)."""
    found = demo.metrics.alignment
    rows = []
    for name, numbers in demo.metrics.alignment_models.items():
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


def ablation_table(demo: AttentionDemo) -> pd.DataFrame:
    """The decoder-design ablations stored with the models (metrics.json "alignment" -> "ablations")."""
    rows = [
        [row.get(key) for key in ("variant", "eos_sink", "null", "last_word", "mean_max_weight", "aer", "bleu")]
        for row in demo.metrics.ablation_rows
    ]
    return pd.DataFrame(rows, columns=text.ABLATION_COLUMNS)


@dataclass
class EvolutionView:
    heatmap: HeatmapData
    text: str = ""


@dataclass
class AlignerView:
    """A model reading a test reference (teacher-forced), with a word aligner's links as rings on the heatmap."""

    heatmap: HeatmapData
    text: str = ""


def aligner_choices(demo: AttentionDemo) -> list[tuple[str, int]]:
    """Test sentences that have a word aligner's links, as dropdown choices."""
    return [(str(row["source"]), i) for i, row in enumerate(demo.aligned)]


def aligner_view(demo: AttentionDemo, model: Any, sentence: Any) -> AlignerView:
    """Model ``model`` reading the reference of test sentence ``sentence`` (teacher-forced, words), with the word
    aligner's links drawn as rings, and how far the two agree on this sentence."""
    if not demo.aligned:
        return AlignerView(HeatmapData.message_only(text.NO_ALIGNER_LINKS))
    name = model if model in demo.attention_types else demo.default_type
    if name is None:
        return AlignerView(HeatmapData.message_only(text.NO_ATTENTION_MODEL))
    row = demo.aligned[index(sentence, len(demo.aligned))]
    reference = str(demo.references.get(normalise(str(row["source"]))) or "")
    translator = demo.translator
    source_ids = translator.source_ids(str(row["source"]))[0]
    target_ids = encode(translator.tgt_tokenizer, reference)
    source_pieces = pieces(translator.src_tokenizer, source_ids)
    target_pieces = pieces(translator.tgt_tokenizer, target_ids)
    with torch.inference_mode():
        attention = teacher_forced_attention(translator.models[name], [source_ids], [target_ids])[0]
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


def evolution_choices(demo: AttentionDemo) -> tuple[list[str], list[tuple[str, int]], int]:
    """Models with attention snapshots, the snapshot sentences, and the largest number of epochs."""
    models = demo.evolution.models
    names = [n for n in demo.attention_types if models.get(n)] + [n for n in models if n not in demo.attention_types]
    sentences = demo.evolution.sentences
    epochs = max((len(models[n]) for n in names if models.get(n)), default=0)
    return names, [(s, i) for i, s in enumerate(sentences)], epochs


def evolution_view(demo: AttentionDemo, model: Any, sentence: Any, epoch: Any) -> EvolutionView:
    """The attention map of snapshot ``sentence`` after epoch ``epoch`` (1-based) of ``model``."""
    snapshots = demo.evolution.models.get(model or "")
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


# ---------------------------------------------------------------------------------------------------------------------
# Component values and events
# ---------------------------------------------------------------------------------------------------------------------


def present_evolution(tab: WhyTab, view: EvolutionView) -> dict:
    return {tab.evolution_text: view.text, tab.evolution_heatmap: view.heatmap.to_json()}


def present_aligner(tab: WhyTab, view: AlignerView) -> dict:
    return {tab.aligner_text: view.text, tab.aligner_heatmap: view.heatmap.to_json()}


def outputs(tab: WhyTab) -> list[gr.components.Component]:
    """The outputs of :func:`show` (and the notice box of its errors)."""
    return [*(getattr(tab, name) for name in PLOTS), tab.plots_shown, tab.evolution_text]


def show(tab: WhyTab, demo: AttentionDemo, already: bool) -> dict:
    """The training plots, unless this page already has them (``already``); drawn once for all visitors."""
    if already:
        return {}
    with tab.plot_lock:
        if not tab.plot_values:
            for name, figure in training_figures(demo).items():
                plot = getattr(tab, name)
                tab.plot_values[plot] = plot.postprocess(figure)  # the public encoding step, kept for the next visitor
    return {**tab.plot_values, tab.plots_shown: True}


def wire(tab: WhyTab, demo: AttentionDemo, shared: Shared) -> None:
    """The tab's events: opening it draws the training plots; the aligner's and the snapshots' choices redraw their
    heatmaps."""

    def open_why(already: bool) -> dict:
        return show(tab, demo, already)

    def aligner(model: str, sentence: int) -> dict:
        return present_aligner(tab, aligner_view(demo, model, sentence))

    def evolution(model: str, sentence: int, epoch: float) -> dict:
        return present_evolution(tab, evolution_view(demo, model, sentence, epoch))

    tab.tab.select(
        guarded(open_why, tab.evolution_text, text.DOING_TRAINING_PLOTS), tab.plots_shown, outputs(tab), **PRIVATE
    )
    run_aligner = guarded(aligner, tab.aligner_text, text.DOING_ALIGNER)
    for control in (tab.aligner_model, tab.aligner_sentence):
        control.input(
            run_aligner, [tab.aligner_model, tab.aligner_sentence], [tab.aligner_text, tab.aligner_heatmap],
            **PRIVATE_MODEL_EVENT,
        )  # fmt: skip
    run_evolution = guarded(evolution, tab.evolution_text, text.DOING_EVOLUTION)
    for control in (tab.evolution_model, tab.evolution_sentence, tab.evolution_epoch):
        control.input(
            run_evolution, [tab.evolution_model, tab.evolution_sentence, tab.evolution_epoch],
            [tab.evolution_text, tab.evolution_heatmap], **PRIVATE_CHEAP_EVENT,
        )  # fmt: skip
