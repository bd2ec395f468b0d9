"""The page: the header, the link bar and the tabs, in order (:data:`TABS`); each tab builds its own components.

Every tab is one module of :mod:`attention_demo.ui.tabs` with an ``ID``, a ``build(demo)`` that returns its
components and a ``wire(tab, demo, shared)`` that registers its events (:func:`attention_demo.ui.wiring.wire` calls
it). Adding a tab is one such module and one line in :data:`TABS`.

Safety: user text is only ever shown in Textbox, HighlightedText, Dropdown and Dataframe (``str`` columns) components
and in the browser-drawn heatmaps (which write labels as text, see :mod:`attention_demo.ui.heatmap`), never in
Markdown, so ``<script>`` and friends are displayed, not executed. The only Markdown an event writes is the score
function's formula, made from the model name.

Phone width: every row of components wraps below its ``min_width``s; tables have fixed pixel column widths and scroll
sideways instead of squeezing their columns; heatmaps scroll sideways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from attention_demo.ui import text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.state import Shared
from attention_demo.ui.tabs import compare as compare_tab
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import live as live_tab
from attention_demo.ui.tabs import step as step_tab
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.tabs import why as why_tab

CSS = """
#translation-attention .token { cursor: pointer; border: 1px solid transparent; }
#translation-attention .token:hover, #translation-attention .token:focus-visible { border-color: var(--color-accent); }
"""

# The page's tabs, in order: a module of attention_demo.ui.tabs each (ID, build, wire). A new tab is one more line.
TABS = (
    translate_tab,
    evidence_tab,
    step_tab,
    compare_tab,
    why_tab,
    live_tab,
)
TAB_IDS = tuple(tab.ID for tab in TABS)  # the ids of the page's tabs (links.TABS are those a link may open)


@dataclass
class Layout:
    """Every component an event reads or writes: each tab's, the link bar's and the page's per-session state."""

    tabs: gr.Tabs  # its tabs have the ids of TAB_IDS
    parts: dict[str, Any]  # each tab's components (its module's dataclass), by tab id
    shared: Shared  # the first tab's components that the other tabs read
    link_button: gr.Button
    link: gr.Textbox  # a link that reopens this view (links.py)
    current_tab: gr.State  # the id of the tab on screen (for the link)
    pending_link: gr.State  # links.LinkState of the link the page was opened with, until it is applied

    @property
    def translate(self) -> translate_tab.TranslateTab:
        return self.parts[translate_tab.ID]

    @property
    def evidence(self) -> evidence_tab.EvidenceTab:
        return self.parts[evidence_tab.ID]

    @property
    def step(self) -> step_tab.StepTab:
        return self.parts[step_tab.ID]

    @property
    def compare(self) -> compare_tab.CompareTab:
        return self.parts[compare_tab.ID]

    @property
    def why(self) -> why_tab.WhyTab:
        return self.parts[why_tab.ID]

    @property
    def live(self) -> live_tab.LiveTab:
        return self.parts[live_tab.ID]


def build_layout(demo: AttentionDemo) -> Layout:
    """The header, the link bar and the tabs; call inside ``gr.Blocks``."""
    gr.Markdown(text.INTRO.format(**demo.languages))
    gr.Markdown(f"*{demo.notice}*" if demo.notice else "")  # written by us from the --model argument
    with gr.Row(equal_height=True):
        link_button = gr.Button(text.LINK_BUTTON, size="sm", scale=0, min_width=160, elem_id="link-button")
        link = gr.Textbox(
            show_label=False, placeholder=text.LINK_PLACEHOLDER, interactive=False, buttons=["copy"], scale=4,
            elem_id="link",
        )  # fmt: skip
    current_tab, pending_link = gr.State(translate_tab.ID), gr.State(None)
    with gr.Tabs(elem_id="tabs") as tabs:
        parts = {tab.ID: tab.build(demo) for tab in TABS}
    return Layout(tabs, parts, parts[translate_tab.ID].shared(), link_button, link, current_tab, pending_link)
