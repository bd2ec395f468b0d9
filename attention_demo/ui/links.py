"""Links that reopen the page where a visitor is: the view as query parameters, and back. No Gradio.

A link holds the sentence, the attention model, the beam size, the hypothesis, the inspected output word, the tab and
the evidence method, e.g. ``?s=Ein+Hund+rennt.&m=general&b=5&h=0&w=3&t=evidence&e=occlusion``. Every parameter is
checked like any other input: a link that is broken, hostile or from an older version opens the default page (or
as much of the link as is valid) with a notice that says what was left out, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from attention_demo.text import clean_text

# The tabs a link may open: every tab of the page, in its order (layout.TAB_IDS; a test checks).
TABS = ("translate", "evidence", "step", "compare", "why", "live")
MAX_SENTENCE_CHARS = 1000  # as the text box (inputs.MAX_INPUT_CHARS)
MAX_INDEX = 1000  # a hypothesis or word index beyond this is not from a real page
KEYS = {"sentence": "s", "model": "m", "beam": "b", "hypothesis": "h", "word": "w", "tab": "t", "method": "e"}


@dataclass(frozen=True)
class LinkState:
    """What a link reopens; ``None`` where the link says nothing (the page's default is kept)."""

    sentence: str | None = None
    model: str | None = None
    beam: int | None = None
    hypothesis: int = 0
    word: int = 0
    tab: str = "translate"
    method: str | None = None

    @property
    def translates(self) -> bool:
        """Whether opening the link translates (it names a sentence)."""
        return bool(self.sentence and self.sentence.strip())


def to_query(state: LinkState) -> str:
    """The query string (starting with ``?``) of ``state``, without the parameters that are at their defaults."""
    values = {
        "sentence": state.sentence,
        "model": state.model,
        "beam": state.beam,
        "hypothesis": state.hypothesis or None,
        "word": state.word or None,
        "tab": None if state.tab == "translate" else state.tab,
        "method": state.method,
    }
    pairs = [(KEYS[name], str(value)) for name, value in values.items() if value not in (None, "")]
    return "?" + urlencode(pairs) if pairs else "?"


def _whole_number(value: str, low: int, high: int) -> int | None:
    text = value.strip()
    if not text.isdigit() or len(text) > 6:  # digits only: no signs, spaces, floats or huge numbers
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse(
    params: Mapping[str, str], models: Sequence[str], methods: Sequence[str], max_beam: int
) -> tuple[LinkState, list[str]]:
    """The view a link asks for, from its query parameters, and the names of the parameters that were left out
    because they were not valid (a notice for the visitor).

    Args:
        params: the query parameters (``gr.Request.query_params``), any strings.
        models: the attention models the page offers.
        methods: the attribution methods the evidence tab offers.
        max_beam: the largest beam size.
    """
    rejected: list[str] = []

    def value(name: str) -> str | None:
        found = params.get(KEYS[name])
        return None if found is None else str(found)

    sentence = value("sentence")
    if sentence is not None:
        sentence, replaced = clean_text(sentence)
        if replaced or len(sentence) > MAX_SENTENCE_CHARS or not sentence.strip():
            rejected.append("sentence")
            sentence = None
    checks = {
        "model": lambda v: v if v in models else None,
        "beam": lambda v: _whole_number(v, 1, max_beam),
        "hypothesis": lambda v: _whole_number(v, 0, MAX_INDEX),
        "word": lambda v: _whole_number(v, 0, MAX_INDEX),
        "tab": lambda v: v if v in TABS else None,
        "method": lambda v: v if v in methods else None,
    }
    found: dict[str, object] = {}
    for name, check in checks.items():
        raw = value(name)
        if raw is None:
            continue
        checked = check(raw)
        if checked is None:
            rejected.append(name)
        else:
            found[name] = checked
    return LinkState(sentence=sentence, **found), rejected  # type: ignore[arg-type]
