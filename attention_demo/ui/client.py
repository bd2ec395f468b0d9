"""Reading the app's answers from Python (``gradio_client``): no Gradio import, so a client needs only this.

``/translate`` answers with a tuple in the order of :data:`TRANSLATE_OUTPUTS` (the per-session state is not sent to
API clients); :func:`translate_result` names them and :func:`output_text` turns the clickable output words back into
the translation. ``attention_demo.ui.tabs.translate`` registers the endpoint with these outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attention_demo.tokenizer import EOS, WORD_MARK

TRANSLATE_OUTPUTS = (
    "notice", "output_words", "baseline_text", "reference", "chrf", "beams", "hypothesis", "heatmap", "highlight",
    "focus",
)  # fmt: skip


def translate_result(values: Sequence[Any]) -> dict[str, Any]:
    """A ``/translate`` result (as ``gradio_client`` returns it) by output name (:data:`TRANSLATE_OUTPUTS`)."""
    return dict(zip(TRANSLATE_OUTPUTS, values, strict=True))


def output_text(words: Sequence[Any]) -> str:
    """The attention model's translation from the ``output_words`` of a ``/translate`` result (spans as
    ``(text, category)`` pairs in Python, ``{"token": ..., ...}`` dicts through ``gradio_client``): the spans joined,
    without the ``</s>`` row and the bare word marks, whitespace normalised."""
    tokens = [w["token"] if isinstance(w, dict) else w[0] for w in words or []]
    joined = "".join(t for t in tokens if t.strip() != EOS).replace(WORD_MARK, "")
    return " ".join(joined.split())
