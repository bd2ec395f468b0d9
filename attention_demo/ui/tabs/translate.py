"""The "Translate & compare" tab: the input, both translations, the heatmap and what one output word looks at.

Components (:class:`TranslateTab`) and their builder (:func:`build`); the views it shows (:class:`TranslateView`,
:class:`HypothesisView`) and the presenters that compute them from the models (:func:`translate_view`,
:func:`hypothesis_view`, plain Python, called directly by the tests); :func:`present` and :func:`present_hypothesis`,
which turn a view into component values; and the tab's events (:func:`wire`).

The tab also holds the per-session state the other tabs read (the translation on screen, :class:`~.state.Shown`):
:meth:`TranslateTab.shared` hands those components to them (:class:`~.state.Shared`). Its ``/translate`` endpoint
answers in the order of :data:`attention_demo.ui.client.TRANSLATE_OUTPUTS`.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from attention_demo.alignment.links import agreed_links, sentence_links
from attention_demo.evaluation import sentence_chrf
from attention_demo.inspection import merge_attention, source_highlight
from attention_demo.model import BASELINE
from attention_demo.tokenizer import EOS, UNK
from attention_demo.translate import Candidate
from attention_demo.ui import text
from attention_demo.ui.client import TRANSLATE_OUTPUTS
from attention_demo.ui.concurrency import MODEL_EVENT
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE_CHEAP_EVENT, PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.heatmap import HeatmapData, attention_heatmap, heatmap_value, piece_labels, word_labels
from attention_demo.ui.inputs import DEFAULT_BEAM, MAX_BEAM, beam_size, clean_input, index, normalise
from attention_demo.ui.state import Shared, Shown
from attention_demo.ui.widgets import table

ID = "translate"
EXAMPLES_SHOWN = 8  # sentences in the examples gallery (spread from short to long); the button draws from all
OPENING_WORDS = 12  # the page opens on a test sentence of about this many words
UNKNOWN_NOTICE_RATIO = 0.3  # say so when this share of the source pieces is <unk> (emoji, other scripts)
INSPECTED_COLOUR = "#f4a582"
HYPOTHESIS_OUTPUTS = ("output_words", "heatmap", "highlight", "focus", "word")

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class TranslateTab:
    """Translate & compare: the input, both translations, the heatmap and what one output word looks at."""

    tab: gr.Tab
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
    shown: gr.State  # Shown: the translation on screen (read by the other tabs)
    word: gr.State  # the inspected output word (for the link)

    def shared(self) -> Shared:
        """The components the other tabs read."""
        return Shared(self.shown, self.source, self.beam, self.hypothesis, self.merge)


def build(demo: AttentionDemo) -> TranslateTab:
    """The tab; call inside ``gr.Tabs``."""
    with gr.Tab(text.TAB_TRANSLATE, id=ID, elem_id="tab-translate") as tab:
        shown, word = gr.State(None), gr.State(0)
        with gr.Row():
            source = gr.Textbox(
                label=text.SOURCE_LABEL.format(**demo.languages), lines=2, max_lines=8, scale=4, min_width=240,
                placeholder=text.SOURCE_PLACEHOLDER,
            )  # fmt: skip
            with gr.Column(scale=1, min_width=200):
                translate_button = gr.Button(text.TRANSLATE_BUTTON, variant="primary")
                random_button = gr.Button(text.RANDOM_BUTTON)
        with gr.Row():
            attention_type = gr.Dropdown(
                [(text.model_label(name), name) for name in demo.attention_types], value=demo.default_type,
                label=text.ATTENTION_TYPE_LABEL, info=text.ATTENTION_TYPE_INFO,
            )  # fmt: skip
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
                highlight = gr.HighlightedText(
                    label=text.HIGHLIGHT_LABEL, show_legend=False, elem_id="source-highlight"
                )
                focus = gr.Textbox(label=text.FOCUS_LABEL, interactive=False, elem_id="focus")
                gr.Markdown("\n\n".join(notes(demo)))
        with gr.Accordion(text.BEAMS_ACCORDION, open=False):
            beams = table(text.BEAM_COLUMNS, text.BEAMS_LABEL, [56, 300, 110, 90, 70, 130], elem_id="beams")
    return TranslateTab(
        tab, source, translate_button, random_button, attention_type, beam, merge, examples, notice, output_words,
        baseline_text, reference, chrf, hypothesis, heatmap, highlight, focus, beams, shown, word,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------------------


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


def notes(demo: AttentionDemo) -> list[str]:
    """The notes beside the heatmap: how to inspect it, merged words, and (when there are) the rings of the other
    direction and the "+ agreement" models."""
    back = text.DIRECTION.format(source=demo.languages["target"], target=demo.languages["source"])
    found = [text.INSPECT_HINT, text.MERGE_NOTE]
    if demo.twin is not None:
        found.append(text.TWIN_NOTE.format(back=back))
    if any(text.model_label(name) != name for name in demo.attention_types):
        found.append(text.AGREEMENT_NOTE.format(back=back))
    return found


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


def opening(demo: AttentionDemo) -> TranslateView:
    """The view the page opens on: :func:`opening_example` translated with the default settings."""
    return translate_view(demo, opening_example(demo.examples), demo.default_type, DEFAULT_BEAM)


def random_example(demo: AttentionDemo) -> str:
    """A random example sentence (a test sentence when the folder has them)."""
    # A generator of the call's own (seeded from the OS): the global one is shared by every request.
    return str(random.Random().choice(demo.examples)["source"])


def translate_view(
    demo: AttentionDemo, sentence: Any, attention_type: Any, beam: Any, merge: bool = False, word: Any = 0
) -> TranslateView:
    """Translate with the chosen attention model and the baseline; the heatmap shows the best hypothesis.

    Widget values arrive as anything (None, floats, strings from an API call): nonsense is tolerated, indices clamped.

    Args:
        sentence: the source sentence (anything; None and non-strings are tolerated).
        attention_type: one of ``demo.attention_types`` (an unknown one falls back to the default).
        beam: 1 for greedy search, up to ``MAX_BEAM``.
        merge: show words instead of subwords in the heatmap and highlight.
        word: the output word (row) to inspect first.
    """
    sentence, notices = clean_input(sentence)
    if not sentence.strip():
        return TranslateView(notice=text.EMPTY_INPUT_MESSAGE, attention_text="", baseline_text="")
    beam = beam_size(beam)
    if attention_type not in demo.attention_types:
        if attention_type:
            notices.append(text.NO_SUCH_MODEL.format(name=attention_type, used=demo.default_type))
        attention_type = demo.default_type
    started = time.perf_counter()
    names = [attention_type or BASELINE] + ([BASELINE] if demo.has_baseline and attention_type else [])
    (ours, *others), read_back = demo.translate_and_read_back(sentence, names, beam)
    base = (others[0] if others else ours) if demo.has_baseline else None
    logger.info("translated %d characters in %.1f ms", len(sentence), 1000 * (time.perf_counter() - started))
    if ours.truncated:
        notices.append(text.INPUT_TRUNCATED.format(pieces=len(ours.source_pieces) - 1))
    unknown = sum(piece == UNK for piece in ours.source_pieces)
    if unknown and unknown >= UNKNOWN_NOTICE_RATIO * (len(ours.source_pieces) - 1):
        notices.append(text.MANY_UNKNOWN)
    source_ids = demo.translator.source_ids(sentence)[0]
    shown = Shown(
        text=sentence,
        attention_type=attention_type,
        source_ids=source_ids,
        source_pieces=ours.source_pieces,
        candidates=ours.candidates,
        baseline=base.candidates[0] if base and base.candidates else None,
        twin_attention={0: read_back} if attention_type else {},
    )
    view = TranslateView(
        notice=" ".join(notices) or text.TRANSLATED_WITH.format(search=text.search_name(beam)),
        attention_text=ours.text if attention_type else text.NO_ATTENTION_MODEL,
        baseline_text=base.text if base else text.NO_BASELINE_MODEL,
        beams=beam_table(ours.candidates),
        hypotheses=[
            (text.HYPOTHESIS_CHOICE.format(rank=i + 1, text=c.text, per_token=c.hypothesis.normalized_score), i)
            for i, c in enumerate(ours.candidates)
        ],
        view=hypothesis_view(shown, 0, merge, word),
        shown=shown,
    )
    reference = demo.references.get(normalise(sentence))
    if reference:
        view.reference = reference
        scores = [
            text.CHRF_ATTENTION.format(name=text.model_label(attention_type), score=sentence_chrf(ours.text, reference))
        ]
        if base:
            scores.append(text.CHRF_BASELINE.format(score=sentence_chrf(base.text, reference)))
        view.chrf = text.CHRF_LINE.format(scores=", ".join(scores))
    return view


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


def agreed_cells(shown: Shown, rank: int, merge: bool) -> list[tuple[int, int]]:
    """The heatmap's ``(row, column)`` cells where both translation directions agree (words when ``merge``).

    This model links each output word to the source word it attends to most; the other direction's model, reading
    the translation and made to produce the input (:meth:`AttentionDemo.twin_attention`), links each source word to
    the output word it attends to most. A cell is ringed when both make its link (the intersection of the two
    directions, as word aligners start their symmetrisation; ``</s>`` never counts). Empty without the other direction,
    or before it has read this candidate (:func:`read_back`).
    """
    twin = shown.twin_attention.get(rank)
    if twin is None:
        return []
    candidate = shown.candidates[rank]
    output = candidate.pieces[: len(candidate.hypothesis.word_ids)]  # without the final </s>
    forward = candidate.hypothesis.attention.numpy()[: len(output)]  # (output pieces, source pieces + </s>)
    this_way = sentence_links(forward, shown.source_pieces, output, merge).links  # (source, output)
    other_way = sentence_links(twin, [*output, EOS], shown.source_pieces[:-1], merge).links  # (output, source)
    return sorted((i, j) for j, i in agreed_links(this_way, other_way))


def read_back(demo: AttentionDemo, shown: Shown | None, hypothesis: Any) -> Shown | None:
    """``shown`` with the other direction's reading of candidate ``hypothesis`` (the rings of its heatmap), read the
    first time that candidate is shown: a translation reads back only the best one, as most visitors look at no
    other. A new :class:`Shown`; ``shown`` itself is unchanged."""
    if shown is None or shown.attention_type is None or demo.twin is None or not shown.candidates:
        return shown
    rank = index(hypothesis, len(shown.candidates))
    if rank in shown.twin_attention:
        return shown
    found = demo.twin_attention(shown.attention_type, shown.source_ids, [shown.candidates[rank]])[0]
    return dataclasses.replace(shown, twin_attention={**shown.twin_attention, rank: found})


def hypothesis_view(shown: Shown | None, hypothesis: Any, merge: bool, word: Any = 0) -> HypothesisView:
    """Heatmap of hypothesis ``hypothesis`` (subwords, or words when ``merge``) with output row ``word`` chosen,
    the output as clickable words, and the source highlighted by that row's weights; rings where both translation
    directions agree (:func:`agreed_cells`).
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
    agreed = agreed_cells(shown, rank, merge)
    heatmap = HeatmapData(
        matrix, rows, columns,
        title=text.HEATMAP_TITLE.format(name=text.model_label(shown.attention_type), rank=rank + 1, unit=unit),
        selected=row, markers=agreed, marker_label=text.AGREED_MARKERS if agreed else "",
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


# ---------------------------------------------------------------------------------------------------------------------
# Component values and events
# ---------------------------------------------------------------------------------------------------------------------


def present_hypothesis(tab: TranslateTab, view: HypothesisView) -> dict:
    """A :class:`HypothesisView` as the values of the tab's inspection components."""
    values = {tab.heatmap: heatmap_value(view.heatmap), tab.highlight: view.highlight, tab.focus: view.focus,
              tab.word: view.word or 0}  # fmt: skip
    if view.output:  # a folder without attention model keeps its "(no attention model)" line
        values[tab.output_words] = view.output
    return values


def present(tab: TranslateTab, view: TranslateView) -> dict:
    """A :class:`TranslateView` as the values of the tab (and the session state)."""
    return {
        tab.notice: view.notice,
        tab.output_words: view.view.output or ([(view.attention_text, None)] if view.attention_text else []),
        tab.baseline_text: view.baseline_text,
        tab.reference: view.reference,
        tab.chrf: view.chrf,
        tab.beams: view.beams,
        tab.hypothesis: gr.Dropdown(choices=view.hypotheses, value=0 if view.hypotheses else None),
        **present_hypothesis(tab, view.view),
        tab.shown: view.shown,
    }


def outputs(tab: TranslateTab) -> list[gr.components.Component]:
    """The outputs of a translation: those of ``/translate`` in order (:data:`TRANSLATE_OUTPUTS`), then the state."""
    return [getattr(tab, name) for name in TRANSLATE_OUTPUTS] + [tab.shown, tab.word]


def wire(tab: TranslateTab, demo: AttentionDemo, shared: Shared) -> None:
    """The tab's events: Translate (the ``/translate`` endpoint), Enter, a new model or beam size, the examples and
    the random button translate; another hypothesis, word merging or a click on an output word redraws the heatmap.
    (The page's opening result is handed out by :func:`attention_demo.ui.wiring.wire`.)"""
    translate_outputs = outputs(tab)
    hypothesis_outputs = [getattr(tab, name) for name in HYPOTHESIS_OUTPUTS]
    settings = [tab.attention_type, tab.beam, tab.merge]

    def translate(sentence: str, attention_type: str, beam: float, merge: bool = False) -> dict:
        return present(tab, translate_view(demo, sentence, attention_type, beam, merge))

    def translate_example(sample: list[str] | None, attention_type: str, beam: float, merge: bool) -> dict:
        sentence = sample[0] if sample else ""
        return {tab.source: sentence, **translate(sentence, attention_type, beam, merge)}

    def translate_random(attention_type: str, beam: float, merge: bool) -> dict:
        sentence = random_example(demo)
        return {tab.source: sentence, **translate(sentence, attention_type, beam, merge)}

    def show_hypothesis(shown: Shown | None, hypothesis: int, merge: bool) -> dict:
        """Another hypothesis: the other direction reads it first if it has not yet (a model runs)."""
        shown = read_back(demo, shown, hypothesis)
        return {**present_hypothesis(tab, hypothesis_view(shown, hypothesis, merge, 0)), tab.shown: shown}

    def redraw(shown: Shown | None, hypothesis: int, merge: bool) -> dict:
        """Words instead of subwords, or back: the same hypothesis, no model."""
        return present_hypothesis(tab, hypothesis_view(shown, hypothesis, merge, 0))

    def inspect_word(shown: Shown | None, hypothesis: int, merge: bool, event: gr.SelectData) -> dict:
        """A click on an output word or on a heatmap row: ``event.index`` is the row."""
        return present_hypothesis(tab, hypothesis_view(shown, hypothesis, merge, event.index))

    run_translate = guarded(translate, tab.notice, text.DOING_TRANSLATE)
    inputs = [tab.source, *settings]
    tab.translate_button.click(
        run_translate, inputs, translate_outputs, api_name=demo.endpoint("translate"), **MODEL_EVENT
    )
    # Enter in the text box, a new attention type or a new beam size translate again at once.
    for trigger in (tab.source.submit, tab.attention_type.input, tab.beam.release):
        trigger(run_translate, inputs, translate_outputs, **PRIVATE_MODEL_EVENT)
    tab.examples.click(
        guarded(translate_example, tab.notice, text.DOING_TRANSLATE), [tab.examples, *settings],
        translate_outputs + [tab.source], **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
    tab.random_button.click(
        guarded(translate_random, tab.notice, text.DOING_RANDOM), settings, translate_outputs + [tab.source],
        **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
    # Another hypothesis, or words instead of subwords: a new heatmap, starting again from the first output word.
    hypothesis_inputs = [tab.shown, tab.hypothesis, tab.merge]
    tab.hypothesis.input(
        guarded(show_hypothesis, tab.focus, text.DOING_HEATMAP), hypothesis_inputs, [*hypothesis_outputs, tab.shown],
        **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
    tab.merge.input(
        guarded(redraw, tab.focus, text.DOING_HEATMAP), hypothesis_inputs, hypothesis_outputs, **PRIVATE_CHEAP_EVENT
    )
    run_inspect = guarded(inspect_word, tab.focus, text.DOING_HEATMAP)
    tab.heatmap.select(run_inspect, hypothesis_inputs, hypothesis_outputs, **PRIVATE_CHEAP_EVENT)
    tab.output_words.select(run_inspect, hypothesis_inputs, hypothesis_outputs, **PRIVATE_CHEAP_EVENT)
