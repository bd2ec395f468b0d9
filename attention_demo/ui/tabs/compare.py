"""The "Compare attention types" tab: the sentence of the first tab through every attention model, side by side.

Components (:class:`CompareTab`) and their builder (:func:`build`); the view (:class:`CompareView`) and its presenter
(:func:`compare_view`, plain Python, called directly by the tests); :func:`present`, which turns the view into
component values; and the tab's events (:func:`wire`): the ``/compare`` endpoint (its button), and opening the tab.
``/compare`` answers in the order of :func:`outputs`: the notice, one translation per model, one heatmap per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from attention_demo.inspection import merge_attention
from attention_demo.ui import text
from attention_demo.ui.concurrency import MODEL_EVENT
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.heatmap import HeatmapData, attention_heatmap, heatmap_value, piece_labels, word_labels
from attention_demo.ui.inputs import beam_size, clean_input
from attention_demo.ui.state import Shared

ID = "compare"


@dataclass
class CompareTab:
    """The attention types side by side."""

    tab: gr.Tab
    button: gr.Button
    status: gr.Textbox
    texts: list[gr.Textbox]
    heatmaps: list[gr.HTML]


def build(demo: AttentionDemo) -> CompareTab:
    """The tab, one column per attention model; call inside ``gr.Tabs``."""
    with gr.Tab(text.TAB_COMPARE, id=ID, elem_id="tab-compare") as tab:
        gr.Markdown(text.COMPARE_INTRO)
        button = gr.Button(text.COMPARE_BUTTON, variant="primary")
        status = gr.Textbox(label=text.NOTES_LABEL, interactive=False)
        texts, heatmaps = [], []
        with gr.Row():
            for name in demo.attention_types:
                with gr.Column(min_width=300):
                    texts.append(
                        gr.Textbox(label=text.compare_label(name, demo.score_functions[name]), interactive=False)
                    )
                    heatmaps.append(attention_heatmap(elem_id=f"compare-{name}"))
    return CompareTab(tab, button, status, texts, heatmaps)


@dataclass
class CompareView:
    """The same sentence through every attention model."""

    notice: str
    texts: list[str]
    heatmaps: list[HeatmapData | None]


def compare_view(demo: AttentionDemo, sentence: Any, beam: Any, merge: bool = False) -> CompareView:
    """The same sentence through every attention model: a notice, the translations and the heatmaps."""
    sentence, notices = clean_input(sentence)
    count = len(demo.attention_types)
    if not sentence.strip():
        return CompareView(text.EMPTY_INPUT_MESSAGE, [""] * count, [None] * count)
    beam = beam_size(beam)
    texts, heatmaps = [], []
    for name, result in zip(
        demo.attention_types, demo.translate_with(sentence, demo.attention_types, beam), strict=True
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


def present(tab: CompareTab, view: CompareView) -> dict:
    """A :class:`CompareView` as the values of the tab."""
    return {
        tab.status: view.notice,
        **dict(zip(tab.texts, view.texts, strict=True)),
        **{component: heatmap_value(h) for component, h in zip(tab.heatmaps, view.heatmaps, strict=True)},
    }


def outputs(tab: CompareTab) -> list[gr.components.Component]:
    """The outputs of ``/compare``, in order: the notice, one translation per model, one heatmap per model."""
    return [tab.status, *tab.texts, *tab.heatmaps]


def show(tab: CompareTab, demo: AttentionDemo, sentence: Any, beam: Any, merge: bool) -> dict:
    """The tab's values for ``sentence``."""
    return present(tab, compare_view(demo, sentence, beam, merge))


def wire(tab: CompareTab, demo: AttentionDemo, shared: Shared) -> None:
    """The tab's events: its button (the ``/compare`` endpoint) and opening the tab compare the first tab's input."""

    def compare(sentence: str, beam: float, merge: bool) -> dict:
        return show(tab, demo, sentence, beam, merge)

    run_compare = guarded(compare, tab.status, text.DOING_COMPARE)
    compare_inputs = [shared.source, shared.beam, shared.merge]
    tab.button.click(run_compare, compare_inputs, outputs(tab), api_name=demo.endpoint("compare"), **MODEL_EVENT)
    tab.tab.select(run_compare, compare_inputs, outputs(tab), **PRIVATE_MODEL_EVENT)
