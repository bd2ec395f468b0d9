"""Serving: build the app for a folder of models, set the process up for many requests, and launch.

The app runs in one process: the server's threads and the threads that run the models. Nothing is forked or
started beside it, so stopping the server (SIGTERM, SIGKILL) stops everything (``tests/test_serving.py`` checks).
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from attention_demo.ui import text
from attention_demo.ui.concurrency import CONCURRENCY_LIMIT, QUEUE_SIZE, torch_threads
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.layout import CSS, Layout, build_layout
from attention_demo.ui.loading import BUNDLED_MODELS, BUNDLED_REVERSE_MODELS, load_translator, load_twin
from attention_demo.ui.wiring import wire

logger = logging.getLogger(__name__)


def build(demo: AttentionDemo, other: AttentionDemo | None = None) -> tuple[gr.Blocks, Layout]:
    """The Gradio app for ``demo`` and its components (the tests read the components).

    With ``other`` (the other translation direction, whose ``page`` names its path) the app has a second page, and a
    navigation bar at the top of both picks the direction. Each page has its own components and events.
    """
    with gr.Blocks(title=text.TITLE) as blocks:
        if other is not None:
            gr.Navbar(main_page_name=demo.direction, elem_id="directions")
        layout = build_layout(demo)
        wire(layout, demo, blocks)
    if other is not None:
        with blocks.route(other.direction, f"/{other.page}") as page:
            gr.Navbar(main_page_name=demo.direction, elem_id="directions")
            wire(build_layout(other), other, page)
    # A bounded waiting line, for every way of launching. The events that run a model share one concurrency group of
    # CONCURRENCY_LIMIT (concurrency.py); the default limit only bounds an event that names neither group.
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return blocks, layout


def build_app(demo: AttentionDemo, other: AttentionDemo | None = None) -> gr.Blocks:
    """The Gradio app for ``demo`` (and ``other``, the other direction, on a second page)."""
    return build(demo, other)[0]


def load_demos(
    model: str | None, reverse_model: str | None = None, bundled: str | Path = BUNDLED_MODELS,
    bundled_reverse: str | Path = BUNDLED_REVERSE_MODELS,
) -> tuple[AttentionDemo, AttentionDemo | None]:  # fmt: skip
    """The app's pages: ``model`` (else ``bundled``), and the other direction (``reverse_model``, else
    ``bundled_reverse``) when it can be loaded; each one's twin is the other."""
    # Translations search with a bfloat16 output layer and a traced step (faster); evidence uses the float32 models.
    translator, notice = load_translator(model, bundled, fast_search=True)
    logger.info("%s", notice)
    twin, twin_notice = load_twin(reverse_model, translator, bundled_reverse, fast_search=True)
    demo = AttentionDemo(translator, notice, twin=twin)
    if twin is None:
        return demo, None
    logger.info("%s", twin_notice)
    page = f"{twin.source_lang}-{twin.target_lang}"
    return demo, AttentionDemo(twin, twin_notice, twin=translator, page=page)


def tune_for_serving() -> None:
    """Process settings for a long-running server, applied once the models are loaded and the page is built.

    - One share of the CPU cores per concurrent model-running request (``concurrency.CONCURRENCY_LIMIT``): two
      requests with two threads each on a two-core machine made the threads wait on each other (README, Performance).
    - ``gc.freeze()``: the half a million objects of torch, Gradio and the models live as long as the process, but the
      garbage collector walked all of them in every full collection, a pause in the middle of a request. Frozen
      objects are skipped.
    """
    torch.set_num_threads(torch_threads())
    gc.collect()
    gc.freeze()


def launch(blocks: gr.Blocks, **kwargs: Any) -> Any:
    """``blocks.launch`` with the app's settings; ``kwargs`` (server_name, server_port, prevent_thread_lock, ...) are
    passed on. Used by :func:`serve`, the tests and ``scripts/screenshot.py``, so that all of them serve the same
    app."""
    settings = {
        "ssr_mode": False,  # client-side rendering locally and on Spaces, and no Node.js server process beside us
        "theme": gr.themes.Soft(),
        "css": CSS,
        "show_error": False,  # handlers show their own sentence; tracebacks stay in the log
        **kwargs,
    }
    return blocks.launch(**settings)


def serve(
    model: str | None = None, reverse_model: str | None = None, bundled: str | Path = BUNDLED_MODELS,
    bundled_reverse: str | Path = BUNDLED_REVERSE_MODELS, debug: bool = False,
) -> None:  # fmt: skip
    """Load ``model`` (a folder or Hub id; the ``bundled`` models if None or if it cannot be loaded) and the other
    direction (``reverse_model``, else ``bundled_reverse``, if there) and serve the app on ``GRADIO_SERVER_NAME`` :
    ``GRADIO_SERVER_PORT`` (127.0.0.1:7860 by default) until stopped.

    ``debug`` logs the project's debug messages, among them the traceback of a model that could not be loaded.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if debug:
        logging.getLogger("attention_demo").setLevel(logging.DEBUG)
    blocks = build_app(*load_demos(model, reverse_model, bundled, bundled_reverse))
    tune_for_serving()
    launch(
        blocks,
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
