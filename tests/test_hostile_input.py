"""Hostile input through the app's API: property-based tests (hypothesis) and oversized requests.

Inputs: arbitrary Unicode (control and format characters, unpaired surrogates, right-to-left text, emoji), HTML and
JavaScript payloads, markdown, TeX, very long strings. Three levels:

1. the functions Gradio calls for the ``/translate`` and ``/compare`` endpoints (``blocks.fns``), many examples;
2. the follow-up views of a translation (heatmap per word, one step, evidence, surgery), fewer examples;
3. the running app through ``gradio_client``, fewer still, plus 100 kB and 5 MB requests.

"Never renders input as markup" is checked on what comes back (plain strings; heatmaps as JSON data, drawn by the
page's own script with textContent) and on the components that receive it (no Markdown, no HTML template that user
text reaches; see also test_app.py and the browser tests).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_app import APP_ENV, free_port

from attention_demo import hub
from attention_demo.translate import Translator
from attention_demo.ui import heatmap, inputs, serving, text
from attention_demo.ui.client import output_text, translate_result
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.layout import Layout
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import step as step_tab
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.text import EMPTY_INPUT_MESSAGE  # the tests below name their input `text`

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "\"'><svg onload=alert(1)>",
    "javascript:alert(document.cookie)",
    "**fett** _kursiv_ `code` [link](javascript:alert(1)) ![bild](http://x/y.png)",
    "# Überschrift\n> Zitat\n- Liste\n\n---",
    "$x^2$ $$\\frac{1}{0}$$ \\( \\begin{align} $",
    "{{7*7}} ${7*7} ${alert(1)} `${x}` %s%n%x {0!r}",  # template syntaxes (Handlebars, JavaScript)
    "\u202egnirts desrever\u202c",  # right-to-left override
    "مرحبا بالعالم",  # Arabic
    "שלום עולם",  # Hebrew
    "\x00\x01\x07\x1b[31mrot\x1b[0m\x7f",  # control characters, an ANSI escape
    "\r\n\t\v\f\u0085\u2028\u2029",  # every kind of line break
    "\u200b\u200c\u200d\ufeff\u2060",  # zero-width characters
    "👩‍👩‍👧‍👦 🏳️‍🌈 🇩🇪",  # emoji sequences
    "e\u0301\u0301\u0301\u0301 Z\u0336\u0335a\u0337lgo",  # stacked combining marks
    "ﷺ ﷽ ㍻",  # characters that NFKC normalisation expands many times over
    "\ud800 \udfff",  # unpaired surrogates (possible in JSON, not valid Unicode)
    "../../etc/passwd \\\\server\\share",
]
GERMAN = ["Die", "kleine", "katze", "sieht", "den", "hund", "im", "park", "."]


def hostile_text(surrogates: bool = True) -> st.SearchStrategy[str]:
    """Arbitrary strings, mixes of payloads and German words, and long repetitions."""
    characters = st.characters(exclude_categories=() if surrogates else ("Cs",))  # every code point
    payloads = PAYLOADS if surrogates else [p for p in PAYLOADS if "\ud800" not in p]
    pieces = st.one_of(st.sampled_from(payloads), st.sampled_from(GERMAN), st.text(characters, max_size=12))
    return st.one_of(
        st.text(characters, max_size=200),
        st.lists(pieces, max_size=12).map(" ".join),
        st.builds(lambda piece, n: piece * n, pieces, st.integers(50, 3000)),  # long, up to about 100 kB
    )


@pytest.fixture(scope="module")
def demo(tiny_model_folder: Path) -> Iterator[AttentionDemo]:
    """The app's models and views on the tiny models (the Hub switched off)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in APP_ENV.items():
            patch.setenv(name, value)
        hub.hub_reachable.cache_clear()
        yield AttentionDemo(Translator(tiny_model_folder), "Models: tiny test folder.")
    hub.hub_reachable.cache_clear()


@pytest.fixture(scope="module")
def app(demo: AttentionDemo) -> tuple[gr.Blocks, Layout]:
    return serving.build(demo)


def endpoint(blocks: gr.Blocks, api_name: str) -> Any:
    """The function Gradio runs for ``api_name`` (the guarded handler)."""
    return next(fn.fn for fn in blocks.fns.values() if fn.api_name == api_name)


def assert_plain_notice(notice: Any) -> None:
    """A notice is a sentence of ours, never the error message of a handler that failed."""
    assert isinstance(notice, str)
    assert not notice.startswith(text.ERROR_MESSAGE.split("{")[0]), notice


def assert_text_or_empty_table(value: Any) -> None:
    """A table's cells are plain strings or numbers (the Dataframes render them as text)."""
    assert isinstance(value, pd.DataFrame)
    for column in value.columns:
        assert all(isinstance(cell, (str, int, float)) for cell in value[column]), column


def assert_heatmap_data(value: Any) -> None:
    """A heatmap is JSON data with text labels, never markup: the browser writes the labels with textContent."""
    assert isinstance(value, dict)
    json.dumps(value)  # plain JSON types only (no NaN either: json.dumps allows it, the browser's JSON does not)
    assert "NaN" not in json.dumps(value)
    assert all(isinstance(label, str) for label in value.get("rows", []) + value.get("columns", []))


@given(text=hostile_text(), beam=st.integers(1, 3), merge=st.booleans(), kind=st.sampled_from(["additive", "dot", "x"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_translate_endpoint_answers_any_text(
    app: tuple[gr.Blocks, Layout], text: str, beam: int, merge: bool, kind: str
) -> None:
    blocks, ui = app
    values = endpoint(blocks, "translate")(text, kind, beam, merge)
    tab = ui.translate
    assert_plain_notice(values[tab.notice])
    for component in (tab.baseline_text, tab.reference, tab.chrf, tab.focus):
        assert isinstance(values[component], str)
    assert_text_or_empty_table(values[tab.beams])
    shown = values[tab.shown]
    if shown is None:  # nothing to translate (blank input)
        assert values[tab.notice] == EMPTY_INPUT_MESSAGE and values[tab.heatmap] is None
        return
    assert len(shown.text) <= inputs.MAX_INPUT_CHARS
    assert output_text(values[tab.output_words]) and values[tab.baseline_text]
    assert_heatmap_data(values[tab.heatmap])
    assert all(isinstance(token, str) and 0.0 <= weight <= 1.0 for token, weight in values[tab.highlight])
    assert all(isinstance(label, str) for label, _ in values[tab.hypothesis].choices)


@given(text=hostile_text(), merge=st.booleans())
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_compare_endpoint_answers_any_text(app: tuple[gr.Blocks, Layout], text: str, merge: bool) -> None:
    blocks, ui = app
    values = endpoint(blocks, "compare")(text, 2, merge)
    assert_plain_notice(values[ui.compare.status])
    assert all(isinstance(values[box], str) for box in ui.compare.texts)
    for component in ui.compare.heatmaps:
        if values[component] is not None:
            assert_heatmap_data(values[component])


@given(text=hostile_text(), merge=st.booleans(), word=st.integers(0, 40), mode=st.sampled_from(["uniform", "one_word"]))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_view_of_a_hostile_translation_works(
    demo: AttentionDemo, text: str, merge: bool, word: int, mode: str
) -> None:
    """The views the browser opens after a translation (called directly: an exception here fails the test)."""
    view = translate_tab.translate_view(demo, text, "additive", 2, merge)
    shown = view.shown
    assert_plain_notice(view.notice)
    picked = translate_tab.hypothesis_view(shown, 0, merge, word)
    assert isinstance(picked.focus, str)
    step = step_tab.step_view(demo, shown, 0, word)
    assert isinstance(step.notice, str)
    evidence = evidence_tab.evidence_view(demo, shown, 0, merge)
    assert isinstance(evidence.notice, str)
    surgery = evidence_tab.surgery_view(demo, shown, 0, word, mode, word)
    assert isinstance(surgery.notice, str) and isinstance(surgery.table, pd.DataFrame)
    for heatmap_view in (picked.heatmap, evidence.attribution, evidence.baseline_attribution):
        if heatmap_view is not None:
            assert_heatmap_data(heatmap_view.to_json())
    for figure in (step.figure, evidence.coverage_figure):
        if figure is not None:
            figure.savefig(io.BytesIO(), format="png")  # labels made from the input must not break matplotlib


def test_components_that_receive_user_text_render_text_only(app: tuple[gr.Blocks, Layout]) -> None:
    """Every component an event writes to shows text, data or an image: tables are typed ``str``, every HTML
    component is a heatmap with the constant template and script, and the only Markdown is the formula of the chosen
    score function."""
    blocks, _ = app
    written = {id(block): block for fn in blocks.fns.values() for block in fn.outputs}.values()
    allowed = (
        gr.Textbox, gr.HighlightedText, gr.Dropdown, gr.Plot, gr.State, gr.Dataframe, gr.Radio, gr.Markdown, gr.HTML,
        gr.LinePlot,  # the live training's curves: numbers and the two fixed model names
        gr.Tabs,  # which tab a link opens (one of links.TABS)
        gr.Slider,  # the beam size a link asks for (a checked number)
    )  # fmt: skip
    assert all(isinstance(block, allowed) for block in written), {type(b).__name__ for b in written}
    for table in (block for block in written if isinstance(block, gr.Dataframe)):
        datatypes = table.datatype if isinstance(table.datatype, list) else [table.datatype]
        assert set(datatypes) == {"str"}, table.label
    for html in (block for block in written if isinstance(block, gr.HTML)):
        assert (html.html_template, html.css_template, html.js_on_load) == (
            heatmap.TEMPLATE, heatmap.STYLE, heatmap.SCRIPT,
        )  # fmt: skip
    assert sum(isinstance(block, gr.Markdown) for block in written) == 1


# --- through gradio_client, against the running app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(app: tuple[gr.Blocks, Layout]) -> Iterator[Any]:
    from gradio_client import Client

    blocks, _ = app
    port = free_port()
    serving.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        blocks.close()


@pytest.mark.slow
@given(text=hostile_text(surrogates=False))  # a client cannot send an unpaired surrogate as UTF-8
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_translate_api_answers_any_text(client: Any, text: str) -> None:
    result = translate_result(client.predict(text, "dot", 2, False, api_name="/translate"))
    assert_plain_notice(result["notice"])
    assert isinstance(result["baseline_text"], str)
    if text.strip():
        assert output_text(result["output_words"]) and result["baseline_text"]
        assert_heatmap_data(result["heatmap"])
        assert all(isinstance(span["token"], str) for span in result["highlight"])


@pytest.mark.slow
@pytest.mark.parametrize("size", [100_000, 5_000_000])
def test_oversized_requests_are_cut_with_a_notice(client: Any, size: int) -> None:
    sentence = ("Die kleine katze sieht den hund im park . " * (size // 40 + 1))[:size]
    result = translate_result(client.predict(sentence, "additive", 5, False, api_name="/translate"))
    assert f"{size:,} characters" in result["notice"] and "only the first" in result["notice"]
    assert output_text(result["output_words"]) and result["baseline_text"]


@pytest.mark.slow
def test_surrogates_sent_as_json_escapes_are_replaced(client: Any) -> None:
    """JSON can carry half a UTF-16 pair ("\\ud800"), which no tokenizer accepts: the app replaces it."""
    import httpx

    session = "hostile-surrogate"
    base = client.src.rstrip("/") + "/gradio_api"
    fn_index = next(i for i, fn in enumerate(client.config["dependencies"]) if fn.get("api_name") == "translate")
    body = {"data": ["Die katze \ud800 sieht", "dot", 1, False], "fn_index": fn_index, "session_hash": session,
            "event_data": None}  # fmt: skip
    response = httpx.post(  # json.dumps writes the surrogate as the escape "\ud800" (ensure_ascii)
        f"{base}/queue/join", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    response.raise_for_status()
    with httpx.stream("GET", f"{base}/queue/data", params={"session_hash": session}, timeout=30) as stream:
        for line in stream.iter_lines():
            if '"process_completed"' in line:
                assert '"success":true' in line.replace(" ", "")
                assert "not valid Unicode" in line
                break
        else:
            pytest.fail("no result")


# --- the live training and links ---------------------------------------------------------------------------------


@given(task=st.one_of(st.none(), hostile_text()), length=st.one_of(st.none(), hostile_text(), st.floats()))
@settings(max_examples=40, deadline=None)
def test_hostile_live_settings_get_a_sentence_and_train_nothing(task: Any, length: Any) -> None:
    """Whatever an API call sends as the live tab's settings: one status sentence, no run, no exception."""
    from attention_demo.ui.tabs import live as live_tab

    tab = live_tab.LiveTab(*(object() for _ in range(10)))  # stand-ins: only the keys of the values are looked at
    values = list(live_tab.run(tab, task, length, "dot"))
    assert values == [{tab.status: values[0][tab.status]}] and values[0][tab.status].startswith("Pick")


@given(params=st.dictionaries(st.sampled_from(list("smbhwte") + ["x"]), hostile_text(), max_size=8))
@settings(max_examples=80, deadline=None)
def test_hostile_links_give_a_valid_view(params: dict[str, str]) -> None:
    """Any query parameters: a view made of valid values only, and the names of what was left out."""
    from attention_demo.ui import links

    state, rejected = links.parse(params, ["additive", "dot"], ["occlusion"], inputs.MAX_BEAM)
    assert state.model in (None, "additive", "dot") and state.method in (None, "occlusion")
    assert state.tab in links.TABS and (state.beam is None or 1 <= state.beam <= inputs.MAX_BEAM)
    assert state.sentence is None or 0 < len(state.sentence) <= links.MAX_SENTENCE_CHARS
    assert set(rejected) <= set(links.KEYS)
