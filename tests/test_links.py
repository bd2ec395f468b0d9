"""Unit tests for attention_demo.ui.links: a link's query string and back, and broken or hostile links."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from attention_demo.ui.links import TABS, LinkState, parse, to_query

MODELS = ["additive", "general", "dot"]
METHODS = ["gradient_x_input", "integrated_gradients", "occlusion"]


def reopen(query: str) -> tuple[LinkState, list[str]]:
    return parse(dict(parse_qsl(query.lstrip("?"))), MODELS, METHODS, 10)


def test_a_link_reopens_the_same_view() -> None:
    state = LinkState("Ein Hund rennt über die Wiese & den Weg?", "general", 3, 2, 4, "evidence", "occlusion")
    query = to_query(state)
    assert query.startswith("?s=Ein+Hund") and "%26" in query  # the sentence is encoded, not split at "&"
    assert reopen(query) == (state, [])


def test_defaults_are_left_out_of_the_link() -> None:
    assert to_query(LinkState("Hallo")) == "?s=Hallo"
    assert to_query(LinkState()) == "?"
    assert reopen("?") == (LinkState(), [])


@pytest.mark.parametrize(
    ("query", "rejected"),
    [
        ("?m=<script>alert(1)</script>", ["model"]),
        ("?b=0", ["beam"]),
        ("?b=11", ["beam"]),
        ("?b=-1", ["beam"]),
        ("?b=2.5", ["beam"]),
        ("?b=99999999999999999999", ["beam"]),
        ("?h=x&w=-3", ["hypothesis", "word"]),
        ("?t=admin", ["tab"]),
        ("?e=shap", ["method"]),
        ("?s=" + "x" * 1001, ["sentence"]),
        ("?s=%20%20", ["sentence"]),
        ("?unknown=1&m=dot", []),  # unknown parameters are ignored
    ],
)
def test_broken_or_hostile_parameters_are_left_out_and_named(query: str, rejected: list[str]) -> None:
    state, left_out = reopen(query)
    assert left_out == rejected
    assert state.model in (None, *MODELS) and (state.beam is None or 1 <= state.beam <= 10)
    assert state.tab in ("translate", "evidence", "step", "compare", "why", "live")


def test_a_sentence_that_is_not_valid_text_is_left_out() -> None:
    assert parse({"s": "Hund \ud800"}, MODELS, METHODS, 10) == (LinkState(), ["sentence"])  # an unpaired surrogate


def test_the_valid_part_of_a_partly_broken_link_is_kept() -> None:
    state, rejected = reopen("?s=Ein+Hund.&m=nonsense&b=4")
    assert (state.sentence, state.model, state.beam, rejected) == ("Ein Hund.", None, 4, ["model"])
    assert state.translates and not LinkState().translates


def test_every_tab_of_the_page_is_a_tab_a_link_may_open_in_page_order() -> None:
    """The tab on screen is remembered by its position on the page (layout.TAB_IDS) and a link names it by its id."""
    from attention_demo.ui.layout import TAB_IDS

    assert TAB_IDS == TABS
