"""What one visitor's tabs share: the translation on screen (:class:`Shown`, kept per browser session) and the first
tab's components that the other tabs read (:class:`Shared`). No Gradio is imported here.

The first tab (:mod:`attention_demo.ui.tabs.translate`) writes both; the evidence, step and compare tabs read them.
Keeping them here, below every tab module, lets those tabs read the first tab's state without importing it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from attention_demo.translate import Candidate
from attention_demo.ui import text
from attention_demo.ui.inputs import index

if TYPE_CHECKING:
    import gradio as gr

_SERIALS = itertools.count()


@dataclass
class Shown:
    """The translation on screen, kept per browser session for the views that look at it."""

    text: str  # the input as translated (after cleaning and cutting)
    attention_type: str | None  # None when the folder has no attention model
    source_ids: list[int]  # ending with </s>
    source_pieces: list[str]
    candidates: list[Candidate]  # best first; each has its own attention matrix
    baseline: Candidate | None = None  # the baseline's best translation (for its attribution map)
    # By candidate rank, the other direction's attention reading it back (AttentionDemo.twin_attention), or None when
    # there is none; only the candidates shown so far (the best at once, the others when picked: tabs.translate).
    twin_attention: dict[int, np.ndarray | None] = field(default_factory=dict)
    serial: int = field(default_factory=lambda: next(_SERIALS))  # tells two translations of one sentence apart


@dataclass
class Shared:
    """The first tab's components that the other tabs read (as event inputs)."""

    shown: gr.State  # Shown: the translation on screen
    source: gr.Textbox  # the input sentence
    beam: gr.Slider
    hypothesis: gr.Dropdown  # the beam hypothesis on screen
    merge: gr.Checkbox  # words instead of subwords


def view_key(shown: Shown | None, *settings: Any) -> str | None:
    """What a tab shows, as a key: the same key means the tab already shows it."""
    return None if shown is None else repr((shown.serial, *settings))


def attention_hypothesis(shown: Shown | None, hypothesis: Any, untranslated: str, no_attention: str) -> Candidate | str:
    """The chosen hypothesis of the shown attention model, or the sentence to show instead of a view of it:
    ``untranslated`` before any translation, ``no_attention`` for a folder without attention model."""
    if shown is None or not shown.candidates:
        return untranslated
    if shown.attention_type is None:
        return no_attention
    candidate = shown.candidates[index(hypothesis, len(shown.candidates))]
    return candidate if candidate.hypothesis.tokens else text.EMPTY_HYPOTHESIS
