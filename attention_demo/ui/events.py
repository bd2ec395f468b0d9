"""What every tab's events share: :func:`guarded`, which keeps exceptions from reaching Gradio, and the keyword
arguments of an event listener.

Every handler returns a dict keyed by component (Gradio leaves the components it does not name unchanged), so no two
places need to agree on the order of a handler's outputs. Every handler runs inside :func:`guarded`: an exception is
logged and the visitor reads a sentence in the event's notice box instead of a red error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from attention_demo.ui import text
from attention_demo.ui.concurrency import CHEAP_EVENT, MODEL_EVENT

logger = logging.getLogger(__name__)

PRIVATE: dict[str, Any] = {"api_visibility": "private"}  # no API endpoint (only /translate and /compare have one)
PRIVATE_MODEL_EVENT = {**MODEL_EVENT, **PRIVATE}  # runs a model: one shared concurrency group (concurrency.py)
PRIVATE_CHEAP_EVENT = {**CHEAP_EVENT, **PRIVATE}  # no model runs: never waits behind the translations


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
