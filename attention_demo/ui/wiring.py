"""The events: which widget change runs which view, and how a view becomes component values.

Every handler returns a dict keyed by component (Gradio leaves the components it does not name unchanged), so no two
places need to agree on the order of a handler's outputs. Every handler runs inside :func:`guarded`: an exception is
logged and the visitor reads a sentence in the event's notice box instead of a red error.

Named endpoints (``gradio_client``): ``/translate`` and ``/compare``. Their outputs come back as a tuple in the order
of :data:`TRANSLATE_OUTPUTS` / :func:`compare_outputs`; :func:`translate_result` names them.

Tabs compute on demand: the evidence and the step tabs when they are opened (and only when what they would show has
changed since they last computed it), the comparison when its tab is opened or its button pressed.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr

from attention_demo.evidence import ATTRIBUTION_METHODS as METHODS
from attention_demo.ui import links, text
from attention_demo.ui.client import TRANSLATE_OUTPUTS
from attention_demo.ui.concurrency import CHEAP_EVENT, MODEL_EVENT
from attention_demo.ui.layout import Layout
from attention_demo.ui.tabs import live as live_tab
from attention_demo.ui.views import (
    DEFAULT_BEAM,
    DEFAULT_METHOD,
    MAX_BEAM,
    AttentionDemo,
    HeatmapData,
    HypothesisView,
    Shown,
    TranslateView,
    beam_size,
    clean_input,
    index,
)

logger = logging.getLogger(__name__)

HYPOTHESIS_OUTPUTS = ("output_words", "heatmap", "highlight", "focus")
FULL_LINK = "(query) => window.location.origin + window.location.pathname + query"  # the page's address + the view


def guarded(handler: Callable[..., dict], notice: gr.components.Component, what: str) -> Callable[..., dict]:
    """``handler`` such that no exception reaches Gradio: it is logged, and ``notice`` says what failed."""

    @functools.wraps(handler)  # Gradio reads the handler's signature (gr.SelectData arguments) through the wrapper
    def run(*args: Any) -> dict:
        try:
            return handler(*args)
        except Exception as error:
            logger.exception("Error while %s", what)
            return {notice: text.ERROR_MESSAGE.format(what=what, error=type(error).__name__)}

    run.notice = notice  # type: ignore[attr-defined]  # must be among the event's outputs (a test checks)
    return run


def heatmap_value(heatmap: HeatmapData | None) -> dict[str, Any] | None:
    return heatmap.to_json() if heatmap is not None else None


def hypothesis_values(ui: Layout, view: HypothesisView) -> dict:
    """A :class:`~attention_demo.ui.views.HypothesisView` as the values of the first tab's inspection components."""
    tab = ui.translate
    values = {
        tab.heatmap: heatmap_value(view.heatmap), tab.highlight: view.highlight, tab.focus: view.focus,
        ui.word: view.word or 0,
    }  # fmt: skip
    if view.output:  # a folder without attention model keeps its "(no attention model)" line
        values[tab.output_words] = view.output
    return values


def translate_values(ui: Layout, view: TranslateView) -> dict:
    """A :class:`~attention_demo.ui.views.TranslateView` as the values of the first tab (and the session state)."""
    tab = ui.translate
    return {
        tab.notice: view.notice,
        tab.output_words: view.view.output or ([(view.attention_text, None)] if view.attention_text else []),
        tab.baseline_text: view.baseline_text,
        tab.reference: view.reference,
        tab.chrf: view.chrf,
        tab.beams: view.beams,
        tab.hypothesis: gr.Dropdown(choices=view.hypotheses, value=0 if view.hypotheses else None),
        **hypothesis_values(ui, view.view),
        ui.shown: view.shown,
    }


def compare_outputs(ui: Layout) -> list[gr.components.Component]:
    """The outputs of ``/compare``, in order: the notice, one translation per model, one heatmap per model."""
    return [ui.compare.status, *ui.compare.texts, *ui.compare.heatmaps]


def view_key(shown: Shown | None, *settings: Any) -> str | None:
    """What a tab shows, as a key: the same key means the tab already shows it."""
    return None if shown is None else repr((shown.serial, *settings))


def wire(ui: Layout, demo: AttentionDemo, blocks: gr.Blocks) -> None:
    """Register every event of the page built by :func:`attention_demo.ui.layout.build_layout`."""
    tab, evidence_tab, step_tab, compare_tab, why = ui.translate, ui.evidence, ui.step, ui.compare, ui.why
    translate_outputs = [getattr(tab, name) for name in TRANSLATE_OUTPUTS] + [ui.shown, ui.word]
    hypothesis_outputs = [getattr(tab, name) for name in HYPOTHESIS_OUTPUTS] + [ui.word]
    settings = [tab.attention_type, tab.beam, tab.merge]
    private = {"api_visibility": "private"}
    models = {**MODEL_EVENT, **private}  # runs a model: one shared concurrency group (concurrency.py)
    cheap = {**CHEAP_EVENT, **private}  # no model runs: never waits behind the translations

    # -- the first tab ------------------------------------------------------------------------------------------------
    opening = demo.opening()  # translated once, here; every visitor's page opens on it

    def open_page(request: gr.Request) -> dict:
        """The opening result for every visitor (no model runs); a link's view is applied next (:func:`apply_link`)."""
        values = {tab.source: opening.shown.text if opening.shown else "", **translate_values(ui, opening)}
        params = dict(request.query_params) if request is not None else {}
        if not set(params) & set(links.KEYS.values()):  # no link (or only other parameters, e.g. a Space's __theme)
            return {**values, ui.pending_link: None}
        link, rejected = links.parse(params, demo.attention_types, list(METHODS), MAX_BEAM)
        if rejected:
            names = [text.LINK_NAMES[name] for name in rejected]
            them = "it" if len(names) == 1 else "them"
            values[tab.notice] = text.LINK_LEFT_OUT.format(names=", ".join(names), them=them)
        return {**values, ui.pending_link: link}

    def translate(sentence: str, attention_type: str, beam: float, merge: bool = False) -> dict:
        return translate_values(ui, demo.translate(sentence, attention_type, beam, merge))

    def translate_example(sample: list[str] | None, attention_type: str, beam: float, merge: bool) -> dict:
        sentence = sample[0] if sample else ""
        return {tab.source: sentence, **translate(sentence, attention_type, beam, merge)}

    def translate_random(attention_type: str, beam: float, merge: bool) -> dict:
        sentence = demo.random_example()
        return {tab.source: sentence, **translate(sentence, attention_type, beam, merge)}

    def show_hypothesis(shown: Shown | None, hypothesis: int, merge: bool) -> dict:
        return hypothesis_values(ui, demo.show_hypothesis(shown, hypothesis, merge, 0))

    def inspect_word(shown: Shown | None, hypothesis: int, merge: bool, event: gr.SelectData) -> dict:
        """A click on an output word or on a heatmap row: ``event.index`` is the row."""
        return hypothesis_values(ui, demo.show_hypothesis(shown, hypothesis, merge, event.index))

    run_translate = guarded(translate, tab.notice, text.DOING_TRANSLATE)
    page_opened = blocks.load(
        guarded(open_page, tab.notice, text.DOING_TRANSLATE), None, translate_outputs + [tab.source, ui.pending_link],
        **cheap,
    )  # fmt: skip
    inputs = [tab.source, *settings]
    tab.translate_button.click(run_translate, inputs, translate_outputs, api_name="translate", **MODEL_EVENT)
    # Enter in the text box, a new attention type or a new beam size translate again at once.
    for trigger in (tab.source.submit, tab.attention_type.input, tab.beam.release):
        trigger(run_translate, inputs, translate_outputs, **models)
    tab.examples.click(
        guarded(translate_example, tab.notice, text.DOING_TRANSLATE), [tab.examples, *settings],
        translate_outputs + [tab.source], **models,
    )  # fmt: skip
    tab.random_button.click(
        guarded(translate_random, tab.notice, text.DOING_RANDOM), settings, translate_outputs + [tab.source],
        **models,
    )  # fmt: skip
    # Another hypothesis, or words instead of subwords: a new heatmap, starting again from the first output word.
    run_hypothesis = guarded(show_hypothesis, tab.focus, text.DOING_HEATMAP)
    hypothesis_inputs = [ui.shown, tab.hypothesis, tab.merge]
    tab.hypothesis.input(run_hypothesis, hypothesis_inputs, hypothesis_outputs, **cheap)
    tab.merge.input(run_hypothesis, hypothesis_inputs, hypothesis_outputs, **cheap)
    run_inspect = guarded(inspect_word, tab.focus, text.DOING_HEATMAP)
    tab.heatmap.select(run_inspect, hypothesis_inputs, hypothesis_outputs, **cheap)
    tab.output_words.select(run_inspect, hypothesis_inputs, hypothesis_outputs, **cheap)

    # -- evidence -----------------------------------------------------------------------------------------------------
    evidence_outputs = [
        evidence_tab.status, evidence_tab.coverage_plot, evidence_tab.coverage_table, evidence_tab.agreement_table,
        evidence_tab.saliency, evidence_tab.baseline_saliency, evidence_tab.surgery_step, evidence_tab.surgery_source,
        ui.evidence_key,
    ]  # fmt: skip

    def open_evidence(shown: Shown | None, hypothesis: int, merge: bool, shown_key: str | None, method: str) -> dict:
        key = view_key(shown, hypothesis, merge, method)
        if key is not None and key == shown_key:
            return {}  # it already shows this
        view = demo.evidence_view(shown, hypothesis, merge, method)
        return {
            evidence_tab.status: view.notice,
            evidence_tab.coverage_plot: view.coverage_figure,
            evidence_tab.coverage_table: view.coverage_table,
            evidence_tab.agreement_table: view.agreement_table,
            evidence_tab.saliency: heatmap_value(view.saliency),
            evidence_tab.baseline_saliency: heatmap_value(view.baseline_saliency),
            evidence_tab.surgery_step: gr.Dropdown(choices=view.steps, value=0 if view.steps else None),
            evidence_tab.surgery_source: gr.Dropdown(choices=view.sources, value=0 if view.sources else None),
            ui.evidence_key: key,
        }

    def operate(shown: Shown | None, hypothesis: int, step: int, mode: str, source: int) -> dict:
        view = demo.surgery(shown, hypothesis, step, mode, source)
        return {evidence_tab.surgery_status: view.notice, evidence_tab.surgery_table: view.table}

    # The tab computes when opened, and again when another attribution method is picked (the slow ones only then).
    run_evidence = guarded(open_evidence, evidence_tab.status, text.DOING_EVIDENCE)
    evidence_inputs = [*hypothesis_inputs, ui.evidence_key, evidence_tab.method]
    evidence_tab.tab.select(run_evidence, evidence_inputs, evidence_outputs, **models)
    evidence_tab.method.input(run_evidence, evidence_inputs, evidence_outputs, **models)
    evidence_tab.surgery_button.click(
        guarded(operate, evidence_tab.surgery_status, text.DOING_SURGERY),
        [ui.shown, tab.hypothesis, evidence_tab.surgery_step, evidence_tab.surgery_mode, evidence_tab.surgery_source],
        [evidence_tab.surgery_status, evidence_tab.surgery_table], **models,
    )  # fmt: skip

    # -- inside one step ----------------------------------------------------------------------------------------------
    step_outputs = [step_tab.status, step_tab.position, step_tab.formula, step_tab.plot, step_tab.table]

    def show_step(shown: Shown | None, hypothesis: int, position: int) -> dict:
        view = demo.inspect(shown, hypothesis, position)
        values = {
            step_tab.status: view.notice,
            step_tab.position: gr.Dropdown(choices=view.positions, value=view.position),
            step_tab.plot: view.figure,
            step_tab.table: view.table,
        }
        if view.formula:
            values[step_tab.formula] = view.formula
        return values

    def open_step(shown: Shown | None, hypothesis: int, shown_key: str | None) -> dict:
        key = view_key(shown, hypothesis)
        if key is not None and key == shown_key:
            return {}
        return {**show_step(shown, hypothesis, 0), ui.step_key: key}

    step_tab.tab.select(
        guarded(open_step, step_tab.status, text.DOING_STEP), [ui.shown, tab.hypothesis, ui.step_key],
        step_outputs + [ui.step_key], **models,
    )  # fmt: skip
    step_tab.position.input(
        guarded(show_step, step_tab.status, text.DOING_STEP), [ui.shown, tab.hypothesis, step_tab.position],
        step_outputs, **models,
    )  # fmt: skip

    # -- compare attention types --------------------------------------------------------------------------------------
    def compare(sentence: str, beam: float, merge: bool) -> dict:
        view = demo.compare(sentence, beam, merge)
        return {
            compare_tab.status: view.notice,
            **dict(zip(compare_tab.texts, view.texts, strict=True)),
            **{component: heatmap_value(h) for component, h in zip(compare_tab.heatmaps, view.heatmaps, strict=True)},
        }

    run_compare = guarded(compare, compare_tab.status, text.DOING_COMPARE)
    compare_inputs = [tab.source, tab.beam, tab.merge]
    compare_tab.button.click(run_compare, compare_inputs, compare_outputs(ui), api_name="compare", **MODEL_EVENT)
    compare_tab.tab.select(run_compare, compare_inputs, compare_outputs(ui), **models)

    # -- why attention helps ------------------------------------------------------------------------------------------
    figures: dict = {}  # the training plots, drawn and encoded once for all visitors when first asked for
    figures_lock = threading.Lock()

    def open_why(already: bool) -> dict:
        if already:
            return {}
        with figures_lock:
            if not figures:
                for name, figure in demo.training_figures().items():
                    plot = getattr(why, name)
                    figures[plot] = plot.postprocess(figure)  # the public encoding step, kept for the next visitor
        return {**figures, ui.why_shown: True}

    why.tab.select(
        guarded(open_why, why.evolution_text, text.DOING_TRAINING_PLOTS), ui.why_shown,
        [why.bleu_by_length, why.curves, why.distance, why.agreement, ui.why_shown, why.evolution_text], **private,
    )  # fmt: skip

    def evolution(model: str, sentence: int, epoch: float) -> dict:
        view = demo.evolution_view(model, sentence, epoch)
        return {why.evolution_text: view.text, why.evolution_heatmap: view.heatmap.to_json()}

    def aligner(model: str, sentence: int) -> dict:
        view = demo.aligner_view(model, sentence)
        return {why.aligner_text: view.text, why.aligner_heatmap: view.heatmap.to_json()}

    run_aligner = guarded(aligner, why.aligner_text, text.DOING_ALIGNER)
    for control in (why.aligner_model, why.aligner_sentence):
        control.input(
            run_aligner, [why.aligner_model, why.aligner_sentence], [why.aligner_text, why.aligner_heatmap], **models
        )

    live_tab.wire(ui.live)

    run_evolution = guarded(evolution, why.evolution_text, text.DOING_EVOLUTION)
    for control in (why.evolution_model, why.evolution_sentence, why.evolution_epoch):
        control.input(
            run_evolution, [why.evolution_model, why.evolution_sentence, why.evolution_epoch],
            [why.evolution_text, why.evolution_heatmap], **cheap,
        )  # fmt: skip

    # -- links that reopen a view -------------------------------------------------------------------------------------
    def apply_link(link: links.LinkState | None) -> dict:
        """The view a link asks for (after the opening page): translate its sentence, pick its hypothesis, word,
        model, beam and evidence method, open its tab and compute what that tab shows."""
        if link is None:
            return {}
        values: dict = {ui.pending_link: None, ui.tabs: gr.Tabs(selected=link.tab), ui.current_tab: link.tab}
        chosen = ((tab.attention_type, link.model), (tab.beam, link.beam), (evidence_tab.method, link.method))
        values.update({component: value for component, value in chosen if value is not None})
        if not link.translates:
            return values
        model = link.model or demo.default_type
        beam = link.beam or DEFAULT_BEAM
        view = demo.translate(link.sentence, model, beam, False, link.word)
        values.update({tab.source: link.sentence, **translate_values(ui, view)})
        hypotheses = view.hypotheses
        hypothesis = min(link.hypothesis, max(len(hypotheses) - 1, 0))
        if hypothesis:
            values.update(hypothesis_values(ui, demo.show_hypothesis(view.shown, hypothesis, False, link.word)))
            values[tab.hypothesis] = gr.Dropdown(choices=hypotheses, value=hypothesis)
        method = link.method or DEFAULT_METHOD
        if link.tab == "evidence":
            values.update(open_evidence(view.shown, hypothesis, False, None, method))
        elif link.tab == "step":
            values.update(open_step(view.shown, hypothesis, None))
        elif link.tab == "compare":
            values.update(compare(link.sentence, beam, False))
        elif link.tab == "why":
            values.update(open_why(False))
        return values

    link_outputs = [
        *translate_outputs, tab.source, tab.attention_type, tab.beam, ui.pending_link, ui.tabs, ui.current_tab,
        *evidence_outputs, evidence_tab.method, *step_outputs, ui.step_key, *compare_outputs(ui), why.bleu_by_length,
        why.curves, why.distance, why.agreement, ui.why_shown, why.evolution_text,
    ]  # fmt: skip
    link_outputs = list(dict.fromkeys(link_outputs))  # each component once
    page_opened.then(
        guarded(apply_link, tab.notice, text.DOING_LINK), ui.pending_link, link_outputs, show_progress="hidden",
        **models,
    )  # fmt: skip

    def remember_tab(event: gr.SelectData) -> dict:
        return {ui.current_tab: links.TABS[event.index] if 0 <= event.index < len(links.TABS) else "translate"}

    remember = guarded(remember_tab, ui.link, text.DOING_LINK)
    ui.tabs.select(remember, None, [ui.current_tab, ui.link], **cheap)

    def make_link(
        sentence: str, model: str, beam: float, hypothesis: int, word: int, current: str, method: str
    ) -> dict:
        """The query string of the view on screen (the browser puts the page's address in front of it)."""
        state = links.LinkState(
            sentence=clean_input(sentence)[0] or None, model=model if model in demo.attention_types else None,
            beam=beam_size(beam), hypothesis=index(hypothesis, MAX_BEAM), word=index(word, links.MAX_INDEX),
            tab=current if current in links.TABS else "translate", method=method if method in METHODS else None,
        )  # fmt: skip
        return {ui.link: links.to_query(state)}

    ui.link_button.click(
        guarded(make_link, ui.link, text.DOING_LINK),
        [tab.source, tab.attention_type, tab.beam, tab.hypothesis, ui.word, ui.current_tab, evidence_tab.method],
        ui.link, **cheap,
    ).then(None, ui.link, ui.link, js=FULL_LINK)  # fmt: skip
