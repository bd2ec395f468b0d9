"""Widget values as the presenters need them: text cleaned and cut, beam sizes and list indices clamped. No Gradio.

Widget values arrive as anything (None, floats, strings from an API call), so every function here tolerates nonsense.
"""

from __future__ import annotations

from typing import Any

from attention_demo.cli import DEFAULT_BEAM_SIZE
from attention_demo.text import clean_text
from attention_demo.ui import text

MAX_INPUT_CHARS = 1000  # longer input is cut before tokenizing, so even a 100 kB request stays cheap
MAX_BEAM = 10
DEFAULT_BEAM = DEFAULT_BEAM_SIZE


def normalise(sentence: str) -> str:
    """Key for matching input against test sentences: surrounding and repeated whitespace ignored."""
    return " ".join(sentence.split())


def clean_input(value: Any) -> tuple[str, list[str]]:
    """The input as valid Unicode, cut to ``MAX_INPUT_CHARS`` (cutting first keeps huge requests cheap), plus the
    notices that say what was changed."""
    sentence, replaced = clean_text("" if value is None else str(value))
    notices = [text.INVALID_UNICODE] if replaced else []
    if len(sentence) > MAX_INPUT_CHARS:
        length = len(sentence)
        cut = sentence[:MAX_INPUT_CHARS]
        space = cut.rfind(" ")  # cut at the last space so that no word is chopped in half (unless that loses much)
        sentence = cut[:space] if space > MAX_INPUT_CHARS // 2 else cut
        notices.append(text.INPUT_CUT.format(length=length, kept=len(sentence)))
    return sentence, notices


def beam_size(value: Any) -> int:
    """A beam size from the slider or an API call, clamped to 1..MAX_BEAM (nonsense gives greedy search)."""
    try:
        return min(MAX_BEAM, max(1, int(float(value))))
    except (TypeError, ValueError, OverflowError):
        return 1


def index(value: Any, length: int) -> int:
    """A list index from a widget value (int, float, str or None), clamped to ``0..length-1``."""
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        number = 0
    return min(max(number, 0), max(length - 1, 0))
