"""The page's events: each tab's own (its module's ``wire``), and those that span tabs: opening the page, links.

Each tab registers its events in its module (:mod:`attention_demo.ui.tabs`); :func:`wire` calls them in page order
(:data:`attention_demo.ui.layout.TABS`), then adds what no single tab owns:

- opening the page (:func:`open_page` in :func:`wire`): every visitor gets the opening result, translated once here;
- links that reopen a view (``apply_link``, ``make_link``, ``remember_tab``): a link's sentence, settings and tab.

Every handler returns a dict keyed by component and runs inside :func:`~attention_demo.ui.events.guarded`. Named
endpoints (``gradio_client``): ``/translate`` (:mod:`~attention_demo.ui.tabs.translate`) and ``/compare``
(:mod:`~attention_demo.ui.tabs.compare`); :func:`attention_demo.ui.client.translate_result` names the former's outputs.

Tabs compute on demand: the evidence and the step tabs when they are opened (and only when what they would show has
changed since they last computed it), the comparison when its tab is opened or its button pressed.
"""

from __future__ import annotations

import gradio as gr

from attention_demo.evidence import ATTRIBUTION_METHODS as METHODS
from attention_demo.ui import links, text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE_CHEAP_EVENT, PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.inputs import DEFAULT_BEAM, MAX_BEAM, beam_size, clean_input, index
from attention_demo.ui.layout import TAB_IDS, TABS, Layout
from attention_demo.ui.tabs import compare as compare_tab
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import step as step_tab
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.tabs import why as why_tab

FULL_LINK = "(query) => window.location.origin + window.location.pathname + query"  # the page's address + the view


def wire(ui: Layout, demo: AttentionDemo, blocks: gr.Blocks) -> None:
    """Register every event of the page built by :func:`attention_demo.ui.layout.build_layout`."""
    tab, evidence, why = ui.translate, ui.evidence, ui.why
    translate_outputs = translate_tab.outputs(tab)

    # -- opening the page ---------------------------------------------------------------------------------------------
    opening = translate_tab.opening(demo)  # translated once, here; every visitor's page opens on it

    def open_page(request: gr.Request) -> dict:
        """The opening result for every visitor (no model runs); a link's view is applied next (:func:`apply_link`)."""
        values = {tab.source: opening.shown.text if opening.shown else "", **translate_tab.present(tab, opening)}
        params = dict(request.query_params) if request is not None else {}
        if not set(params) & set(links.KEYS.values()):  # no link (or only other parameters, e.g. a Space's __theme)
            return {**values, ui.pending_link: None}
        link, rejected = links.parse(params, demo.attention_types, list(METHODS), MAX_BEAM)
        if rejected:
            names = [text.LINK_NAMES[name] for name in rejected]
            them = "it" if len(names) == 1 else "them"
            values[tab.notice] = text.LINK_LEFT_OUT.format(names=", ".join(names), them=them)
        return {**values, ui.pending_link: link}

    page_opened = blocks.load(
        guarded(open_page, tab.notice, text.DOING_TRANSLATE), None, translate_outputs + [tab.source, ui.pending_link],
        **PRIVATE_CHEAP_EVENT,
    )  # fmt: skip

    # -- each tab's own events ----------------------------------------------------------------------------------------
    for module in TABS:
        module.wire(ui.parts[module.ID], demo, ui.shared)

    # -- links that reopen a view -------------------------------------------------------------------------------------
    def apply_link(link: links.LinkState | None) -> dict:
        """The view a link asks for (after the opening page): translate its sentence, pick its hypothesis, word,
        model, beam and evidence method, open its tab and compute what that tab shows."""
        if link is None:
            return {}
        values: dict = {ui.pending_link: None, ui.tabs: gr.Tabs(selected=link.tab), ui.current_tab: link.tab}
        chosen = ((tab.attention_type, link.model), (tab.beam, link.beam), (evidence.method, link.method))
        values.update({component: value for component, value in chosen if value is not None})
        if not link.translates:
            return values
        model = link.model or demo.default_type
        beam = link.beam or DEFAULT_BEAM
        view = translate_tab.translate_view(demo, link.sentence, model, beam, False, link.word)
        values.update({tab.source: link.sentence, **translate_tab.present(tab, view)})
        hypotheses = view.hypotheses
        hypothesis = min(link.hypothesis, max(len(hypotheses) - 1, 0))
        if hypothesis:
            view.shown = translate_tab.read_back(demo, view.shown, hypothesis)
            picked = translate_tab.hypothesis_view(view.shown, hypothesis, False, link.word)
            values.update({**translate_tab.present_hypothesis(tab, picked), tab.shown: view.shown})
            values[tab.hypothesis] = gr.Dropdown(choices=hypotheses, value=hypothesis)
        method = link.method or evidence_tab.DEFAULT_METHOD
        if link.tab == evidence_tab.ID:
            values.update(evidence_tab.show(evidence, demo, view.shown, hypothesis, False, None, method))
        elif link.tab == step_tab.ID:
            values.update(step_tab.show(ui.step, demo, view.shown, hypothesis, None))
        elif link.tab == compare_tab.ID:
            values.update(compare_tab.show(ui.compare, demo, link.sentence, beam, False))
        elif link.tab == why_tab.ID:
            values.update(why_tab.show(why, demo, False))
        return values

    link_outputs = [
        *translate_outputs, tab.source, tab.attention_type, tab.beam, ui.pending_link, ui.tabs, ui.current_tab,
        *evidence_tab.outputs(evidence), evidence.method, *step_tab.outputs(ui.step), ui.step.key,
        *compare_tab.outputs(ui.compare), *why_tab.outputs(why),
    ]  # fmt: skip
    link_outputs = list(dict.fromkeys(link_outputs))  # each component once
    page_opened.then(
        guarded(apply_link, tab.notice, text.DOING_LINK), ui.pending_link, link_outputs, show_progress="hidden",
        **PRIVATE_MODEL_EVENT,
    )  # fmt: skip

    def remember_tab(event: gr.SelectData) -> dict:
        return {ui.current_tab: TAB_IDS[event.index] if 0 <= event.index < len(TAB_IDS) else translate_tab.ID}

    remember = guarded(remember_tab, ui.link, text.DOING_LINK)
    ui.tabs.select(remember, None, [ui.current_tab, ui.link], **PRIVATE_CHEAP_EVENT)

    def make_link(
        sentence: str, model: str, beam: float, hypothesis: int, word: int, current: str, method: str
    ) -> dict:
        """The query string of the view on screen (the browser puts the page's address in front of it)."""
        state = links.LinkState(
            sentence=clean_input(sentence)[0] or None, model=model if model in demo.attention_types else None,
            beam=beam_size(beam), hypothesis=index(hypothesis, MAX_BEAM), word=index(word, links.MAX_INDEX),
            tab=current if current in links.TABS else translate_tab.ID, method=method if method in METHODS else None,
        )  # fmt: skip
        return {ui.link: links.to_query(state)}

    ui.link_button.click(
        guarded(make_link, ui.link, text.DOING_LINK),
        [tab.source, tab.attention_type, tab.beam, tab.hypothesis, tab.word, ui.current_tab, evidence.method],
        ui.link, **PRIVATE_CHEAP_EVENT,
    ).then(None, ui.link, ui.link, js=FULL_LINK)  # fmt: skip
