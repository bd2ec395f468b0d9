"""The "Inside one step" tab: Align -> Weight -> Combine for one output position of the translation on screen.

Components (:class:`StepTab`) and their builder (:func:`build`); the view (:class:`StepView`) and its presenter
(:func:`step_view`, plain Python, called directly by the tests); :func:`present`, which turns the view into component
values; and the tab's events (:func:`wire`). The tab computes when it is opened (:func:`show`), and only when the
translation or the hypothesis changed since it last computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from attention_demo import plots
from attention_demo.inspection import inspect_steps
from attention_demo.ui import text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.events import PRIVATE_MODEL_EVENT, guarded
from attention_demo.ui.heatmap import piece_labels
from attention_demo.ui.inputs import index
from attention_demo.ui.state import Shared, Shown, attention_hypothesis, view_key
from attention_demo.ui.widgets import table

ID = "step"


@dataclass
class StepTab:
    """Inside one step: Align -> Weight -> Combine for one output position."""

    tab: gr.Tab
    position: gr.Dropdown
    formula: gr.Markdown
    status: gr.Textbox
    plot: gr.Plot
    table: gr.Dataframe
    key: gr.State  # what the tab shows (recomputed only when that changes)


def build(demo: AttentionDemo) -> StepTab:
    """The tab; call inside ``gr.Tabs``."""
    with gr.Tab(text.TAB_STEP, id=ID, elem_id="tab-step") as tab:
        key = gr.State(None)
        gr.Markdown(text.STEP_INTRO)
        position = gr.Dropdown([], label=text.POSITION_LABEL, interactive=True)
        formula = gr.Markdown(
            text.formula_markdown(demo.score_functions[demo.default_type]) if demo.default_type else ""
        )
        status = gr.Textbox(label=text.STEP_CHECK_LABEL, interactive=False)
        plot = gr.Plot(label=text.STEP_PLOT_LABEL, show_label=False, elem_id="step-plot")
        steps = table(text.STEP_COLUMNS, text.STEP_TABLE_LABEL, [130, 90, 100, 90])
    return StepTab(tab, position, formula, status, plot, steps, key)


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


def step_view(demo: AttentionDemo, shown: Shown | None, hypothesis: Any, position: Any) -> StepView:
    """Align -> Weight -> Combine for one output position of the shown hypothesis (teacher-forced).

    Re-runs the decoder over the hypothesis's tokens (``inspection.inspect_steps``) to get the raw scores ``e``,
    the weights ``α`` and the encoder annotations ``h_j``; the context shown is the model's own
    ``c = Σ_j α_j h_j``.
    """
    candidate = attention_hypothesis(shown, hypothesis, text.TRANSLATE_FIRST_STEP, text.STEP_NO_ATTENTION)
    if isinstance(candidate, str):
        return StepView(candidate)
    tokens = candidate.hypothesis.tokens
    steps = inspect_steps(demo.translator.models[shown.attention_type], shown.source_ids, tokens)
    t = index(position, len(tokens))
    parts = steps.contributions(t)
    source_labels = piece_labels(shown.source_pieces)
    target_labels = piece_labels(candidate.pieces)
    figure = plots.step_figure(
        steps.scores[t], steps.weights[t], steps.values, steps.contexts[t], source_labels, target_labels[t]
    )
    order = np.argsort(-parts["weight"])
    rows = pd.DataFrame(
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
        formula=text.formula_markdown(demo.score_functions[shown.attention_type]),
        figure=figure,
        table=rows,
        scores=steps.scores[t],
        weights=weights,
        context=context,
        values=steps.values,
    )


def present(tab: StepTab, view: StepView) -> dict:
    """A :class:`StepView` as the values of the tab (a view without formula keeps the one shown)."""
    values = {
        tab.status: view.notice,
        tab.position: gr.Dropdown(choices=view.positions, value=view.position),
        tab.plot: view.figure,
        tab.table: view.table,
    }
    if view.formula:
        values[tab.formula] = view.formula
    return values


def outputs(tab: StepTab) -> list[gr.components.Component]:
    """The outputs of :func:`present`."""
    return [tab.status, tab.position, tab.formula, tab.plot, tab.table]


def show(tab: StepTab, demo: AttentionDemo, shown: Shown | None, hypothesis: Any, shown_key: str | None) -> dict:
    """The tab's values for the first position of hypothesis ``hypothesis`` of the translation on screen, or nothing
    when the tab already shows it (``shown_key``)."""
    key = view_key(shown, hypothesis)
    if key is not None and key == shown_key:
        return {}
    return {**present(tab, step_view(demo, shown, hypothesis, 0)), tab.key: key}


def wire(tab: StepTab, demo: AttentionDemo, shared: Shared) -> None:
    """The tab's events: opening it shows the first position; picking a position shows that one."""

    def show_step(shown: Shown | None, hypothesis: int, position: int) -> dict:
        return present(tab, step_view(demo, shown, hypothesis, position))

    def open_step(shown: Shown | None, hypothesis: int, shown_key: str | None) -> dict:
        return show(tab, demo, shown, hypothesis, shown_key)

    tab.tab.select(
        guarded(open_step, tab.status, text.DOING_STEP), [shared.shown, shared.hypothesis, tab.key],
        outputs(tab) + [tab.key], **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
    tab.position.input(
        guarded(show_step, tab.status, text.DOING_STEP), [shared.shown, shared.hypothesis, tab.position],
        outputs(tab), **PRIVATE_MODEL_EVENT,
    )  # fmt: skip
