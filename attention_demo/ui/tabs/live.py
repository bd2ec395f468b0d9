"""The "Watch attention learn" tab: train an attention model and its no-attention twin in the page, live.

Builder (:func:`build`), presenter (:func:`present`) and wiring (:func:`wire`) of the tab, around
:func:`attention_demo.live.train_live`. A run streams an update about every second: the attention map of a probe
sequence (drawn by the same browser heatmap as the first tab, the true alignment as rings), both models' sequence
accuracy and loss, and the alignment error. At most one run trains at a time (its own concurrency group, so the
translations never wait behind it; other visitors see their place in the queue); *Stop*, or closing the page, ends a
run; a run ends by itself after its time budget.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from attention_demo import live
from attention_demo.attention import ATTENTION_TYPES
from attention_demo.ui import text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.heatmap import HeatmapData, attention_heatmap
from attention_demo.ui.state import Shared

logger = logging.getLogger(__name__)

ID = "live"
LIVE_GROUP = "live-training"  # the concurrency group of the training event: one run at a time, apart from the models
LIVE_LIMIT = 1
MODEL_LABELS = {"attention": "with attention", "baseline": "without attention"}


@dataclass
class LiveTab:
    """The tab's components."""

    task: gr.Radio
    length: gr.Slider
    attention_type: gr.Radio
    train: gr.Button
    stop: gr.Button
    status: gr.Textbox
    heatmap: gr.HTML
    accuracy: gr.LinePlot
    loss: gr.LinePlot
    alignment: gr.LinePlot


def build(demo: AttentionDemo | None = None) -> LiveTab:
    """The tab; call inside ``gr.Tabs`` (it needs nothing of ``demo``: it trains models of its own)."""
    with gr.Tab(text.TAB_LIVE, id=ID, elem_id="tab-live"):
        gr.Markdown(text.LIVE_INTRO)
        with gr.Row():
            task = gr.Radio(
                [(text.LIVE_TASKS[t], t) for t in live.TASKS], value=live.DEFAULT_TASK, label=text.LIVE_TASK_LABEL,
                elem_id="live-task",
            )  # fmt: skip
            length = gr.Slider(
                live.MIN_LENGTH, live.MAX_LENGTH, value=live.DEFAULT_LENGTH, step=1, label=text.LIVE_LENGTH_LABEL,
                elem_id="live-length",
            )  # fmt: skip
            attention_type = gr.Radio(
                list(ATTENTION_TYPES), value=live.DEFAULT_ATTENTION, label=text.LIVE_ATTENTION_LABEL,
                elem_id="live-attention",
            )  # fmt: skip
        with gr.Row():
            train = gr.Button(text.LIVE_TRAIN, variant="primary", elem_id="live-train")
            stop = gr.Button(text.LIVE_STOP, elem_id="live-stop")
        status = gr.Textbox(text.LIVE_READY, label=text.LIVE_STATUS_LABEL, interactive=False, elem_id="live-status")
        heatmap = attention_heatmap(value=HeatmapData.message_only(text.LIVE_READY).to_json(), elem_id="live-heatmap")
        with gr.Row():
            accuracy = gr.LinePlot(
                x="seconds", y="accuracy", color="model", y_lim=[0, 1], title=text.LIVE_ACCURACY_TITLE,
                elem_id="live-accuracy",
            )  # fmt: skip
            loss = gr.LinePlot(x="seconds", y="loss", color="model", title=text.LIVE_LOSS_TITLE, elem_id="live-loss")
            alignment = gr.LinePlot(
                x="seconds", y="alignment error", y_lim=[0, 1], title=text.LIVE_ALIGNMENT_TITLE,
                elem_id="live-alignment",
            )  # fmt: skip
    return LiveTab(task, length, attention_type, train, stop, status, heatmap, accuracy, loss, alignment)


def present(tab: LiveTab, update: live.LiveUpdate) -> dict:
    """An update of a run as the tab's component values."""
    settings = update.settings
    heatmap = HeatmapData(
        update.probe_attention, update.probe_target, update.probe_source,
        title=text.LIVE_HEATMAP_TITLE.format(task=settings.task, attention=settings.attention_type, step=update.step),
        markers=[(row, column) for row, column in update.true_links], marker_label=text.LIVE_MARKER_LABEL,
        row_axis=text.LIVE_OUTPUT_AXIS, column_axis=text.LIVE_SOURCE_AXIS,
    )  # fmt: skip
    points = [
        (s, MODEL_LABELS[name], a, loss)
        for name, curve in update.curves.items()
        for s, a, loss in zip(curve.seconds, curve.accuracy, curve.loss, strict=True)
    ]
    accuracy_curves = pd.DataFrame([p[:3] for p in points], columns=["seconds", "model", "accuracy"])
    loss_curves = pd.DataFrame(  # the first update has no loss yet (no step taken)
        [(s, model, loss) for s, model, _, loss in points if not math.isnan(loss)], columns=["seconds", "model", "loss"]
    )
    seconds = update.curves["attention"].seconds
    errors = pd.DataFrame({"seconds": seconds, "alignment error": update.alignment_error})
    accuracy = {name: curve.accuracy[-1] for name, curve in update.curves.items()}
    line = text.LIVE_PROGRESS.format(
        seconds=update.seconds, step=update.step, attention=accuracy["attention"], baseline=accuracy["baseline"],
        error=update.alignment_error[-1],
    )  # fmt: skip
    if update.finished:
        line = text.LIVE_FINISHED[update.finished] + " " + line
    return {
        tab.status: line,
        tab.heatmap: heatmap.to_json(),
        tab.accuracy: accuracy_curves,
        tab.loss: loss_curves,
        tab.alignment: errors,
    }


def run(tab: LiveTab, task: object, length: object, attention_type: object) -> Iterator[dict]:
    """The streaming handler: a clear message for bad settings, else one set of values per update."""
    try:
        settings = live.check_settings(task, length, attention_type)
    except ValueError as error:
        yield {tab.status: str(error)}
        return
    stop = threading.Event()
    logger.info("live run started: %s", settings)
    reason = "closed"  # the page went away (Gradio stopped asking for updates), or Stop cancelled the event
    try:
        for update in live.train_live(settings, stop):
            reason = update.finished or reason
            yield present(tab, update)
    except Exception:
        reason = "error"
        logger.exception("live run failed")
        yield {tab.status: text.ERROR_MESSAGE.format(what=text.DOING_LIVE, error="error")}
    finally:
        stop.set()
        logger.info("live run ended (%s)", reason)


def wire(tab: LiveTab, demo: AttentionDemo | None = None, shared: Shared | None = None) -> None:
    """The tab's events: Train streams a run (one at a time, in its own group), Stop cancels it. (It reads nothing of
    ``demo`` or of the other tabs.)"""

    def train(task: object, length: object, attention_type: object) -> Iterator[dict]:
        yield from run(tab, task, length, attention_type)

    train.notice = tab.status  # type: ignore[attr-defined]  # run() reports its own errors there (like events.guarded)
    outputs = [tab.status, tab.heatmap, tab.accuracy, tab.loss, tab.alignment]
    # show_progress on the status box: a visitor waiting behind another run sees the queue position there, and the
    # streamed map and curves are never covered by the progress overlay.
    event = tab.train.click(
        train, [tab.task, tab.length, tab.attention_type], outputs, concurrency_id=LIVE_GROUP,
        concurrency_limit=LIVE_LIMIT, api_visibility="private", show_progress="full", show_progress_on=[tab.status],
    )  # fmt: skip

    def stopped() -> dict:
        return {tab.status: text.LIVE_FINISHED["stopped"]}

    stopped.notice = tab.status  # type: ignore[attr-defined]
    tab.stop.click(stopped, None, tab.status, cancels=[event], api_visibility="private", concurrency_limit=None)
