"""Browser tests: a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) uses the app.

The app runs as ``python app.py`` (a subprocess) on the tiny model folder of test_app.py. ``make test`` installs
chromium when it is missing; without it these tests are skipped with a message saying so, except in CI (the ``CI``
environment variable is set), where a missing browser fails them: they hold the only real-browser XSS check.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from test_serving import MARKER, STARTUP_TIMEOUT_S, processes_with

from attention_demo.evidence import ATTRIBUTION_METHODS
from attention_demo.tokenizer import pieces
from attention_demo.translate import Translation, Translator
from attention_demo.ui import heatmap, inputs, loading, text
from attention_demo.ui.demo import DEFAULT_ATTENTION
from attention_demo.ui.tabs import translate as translate_tab
from benchmarks.app_server import free_port, start_app, stop, wait_for_first_answer
from scripts.screenshot import CHROMIUM_ARGS  # the same headless flags as the screenshot script

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 60_000  # generous: the CI machine may be busy
SCRIPT = "<script>window.__pwned=1</script>"
SOURCE_LABEL = text.SOURCE_LABEL.format(source="German")  # the first page of the tiny models translates German
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
MIN_TEXT_PX = 9


@pytest.fixture(scope="module", autouse=True)
def chromium_present() -> None:
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing (apt-get install chromium, or run `make test`)"
        if os.environ.get("CI"):
            pytest.fail(message + "; in CI the browser tests must run", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def app_folder(tiny_model_folder: Path) -> Path:
    return tiny_model_folder


@pytest.fixture(scope="module")
def app_url(app_folder: Path, tiny_reverse_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python app.py`` on the tiny models (and their English -> German twin on the second page), on a free
    localhost port, for this module."""
    marker = uuid.uuid4().hex
    port = free_port()
    log = tmp_path_factory.mktemp("browser-app") / "app.log"
    twin = {"REVERSE_MODEL_REPO": str(tiny_reverse_folder)}
    process = start_app(str(app_folder), port, log, **twin, **{MARKER: marker})
    try:
        wait_for_first_answer(process, f"http://127.0.0.1:{port}/", STARTUP_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(process)
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (the browser tests of every module use this)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    """A fresh page at desktop width with the app opened (and nothing clicked)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)  # views computed when a tab opens take a while on a busy machine
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.locator("#heatmap td.ad-cell").first.wait_for()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def opening(app_folder: Path) -> tuple[str, Translation]:
    """The page's opening sentence and its translation, computed here with the Translator (independently)."""
    translator = Translator(app_folder)
    sentence = translate_tab.opening_example(
        loading.load_examples(app_folder, translator.source_lang, translator.target_lang)
    )
    with torch.inference_mode():
        result = translator.translate([sentence], DEFAULT_ATTENTION, inputs.DEFAULT_BEAM)[0]
    return sentence, result


def inspected(page: Page) -> str:
    """The "Where that word looks" line."""
    return page.locator("#focus textarea").input_value()


def test_the_page_opens_on_a_translated_example(page: Page, opening: tuple[str, Translation]) -> None:
    from playwright.sync_api import expect

    sentence, result = opening
    expect(page.get_by_label(SOURCE_LABEL)).to_have_value(sentence)
    expect(page.locator("#notice textarea")).to_have_value(re.compile("^Translated with beam size"))
    words = page.locator("#translation-attention .token")
    best = result.candidates[0]
    expect(words).to_have_count(len(best.pieces))  # one clickable span per output piece (a row of the heatmap)
    expect(page.locator("#translation-baseline textarea")).not_to_have_value("")
    rows, cells = page.locator("#heatmap tbody tr"), page.locator("#heatmap td.ad-cell")
    expect(rows).to_have_count(len(best.pieces))
    expect(cells).to_have_count(len(best.pieces) * len(result.source_pieces))
    expect(page.locator("#source-highlight")).to_contain_text(sentence.split()[0])
    assert inspected(page).startswith(f"“{heatmap.piece_labels(best.pieces)[0]}” attends to:")


def test_clicking_an_output_word_or_a_heatmap_row_inspects_it(page: Page, opening: tuple[str, Translation]) -> None:
    from playwright.sync_api import expect

    labels = heatmap.piece_labels(opening[1].candidates[0].pieces)
    page.locator("#translation-attention .token").nth(1).click()
    expect(page.locator("#focus textarea")).to_have_value(re.compile("^" + re.escape(f"“{labels[1]}” attends to:")))
    expect(page.locator("#heatmap tr.ad-selected")).to_have_attribute("data-row", "1")
    row = len(labels) - 1
    page.locator("#heatmap .ad-row button").nth(row).click()
    expect(page.locator("#focus textarea")).to_have_value(re.compile("^" + re.escape(f"“{labels[row]}” attends to:")))
    expect(page.locator("#heatmap tr.ad-selected")).to_have_attribute("data-row", str(row))
    # The clicked word is marked in the translation too.
    marked = page.locator("#translation-attention .token.highlighted")
    expect(marked).to_have_count(1)
    expect(marked).to_have_text(re.compile(re.escape(labels[row].lstrip("·"))))


def test_hovering_a_heatmap_cell_shows_the_words_and_the_exact_weight(
    page: Page, opening: tuple[str, Translation]
) -> None:
    from playwright.sync_api import expect

    _, result = opening
    best = result.candidates[0]
    attention = best.hypothesis.attention.numpy()
    t, j = 1, int(np.argmax(attention[1]))
    rows, columns = heatmap.piece_labels(best.pieces), heatmap.piece_labels(result.source_pieces)
    page.locator(f'#heatmap td.ad-cell[data-row="{t}"][data-col="{j}"]').hover()
    tip = page.locator("#heatmap .ad-tip")
    expect(tip).to_be_visible()
    expect(tip).to_have_text(
        f"{text.OUTPUT_AXIS}: {rows[t]} · {text.SOURCE_AXIS}: {columns[j]} · {text.ATTENTION_WEIGHT}: "
        f"{attention[t, j]:.4f}"
    )


def test_labels_are_readable_at_laptop_width(page: Page) -> None:
    """No text of the first tab (heatmap labels included) is smaller than 9 px at 1366 px."""
    sizes = page.evaluate(
        """(panel) => Array.from(document.querySelector(panel).querySelectorAll('*'))
            .filter((el) => el.offsetParent && Array.from(el.childNodes).some(
                (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim()))
            .map((el) => [el.textContent.trim().slice(0, 20), parseFloat(getComputedStyle(el).fontSize)])""",
        "#tab-translate",
    )
    assert len(sizes) > 50 and any(label == "</s>" for label, _ in sizes)
    small = [(label, size) for label, size in sizes if size < MIN_TEXT_PX]
    assert not small, small


def test_the_other_tabs_compute_when_opened(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name=text.TAB_EVIDENCE).click()
    expect(page.locator("#saliency td.ad-cell").first).to_be_visible(timeout=TIMEOUT_MS)  # computed when opened
    expect(page.locator("#baseline-saliency td.ad-cell").first).to_be_visible()
    expect(page.locator("#evidence-status textarea")).to_have_value(re.compile("not proof"))
    page.get_by_role("tab", name=text.TAB_STEP).click()
    expect(page.locator("#step-plot img")).to_be_visible()
    page.get_by_role("tab", name=text.TAB_COMPARE).click()
    expect(page.locator("#compare-dot td.ad-cell").first).to_be_visible()
    page.get_by_role("tab", name=text.TAB_WHY).click()
    expect(page.locator("#bleu-by-length img")).to_be_visible()
    expect(page.locator("#evolution td.ad-cell").first).to_be_visible()


def test_picking_an_attribution_method_redraws_both_maps(page: Page) -> None:
    """The evidence tab opens on gradient × input; picking occlusion redraws both maps with it and says so."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name=text.TAB_EVIDENCE).click()
    gradient, occlusion = ATTRIBUTION_METHODS["gradient_x_input"].label, ATTRIBUTION_METHODS["occlusion"].label
    expect(page.locator("#saliency .ad-title")).to_contain_text(gradient)
    page.locator("#evidence-method").get_by_label(ATTRIBUTION_METHODS["occlusion"].choice).check()
    expect(page.locator("#saliency .ad-title")).to_contain_text(occlusion)
    expect(page.locator("#baseline-saliency .ad-title")).to_contain_text(occlusion)
    expect(page.locator("#evidence-status textarea")).to_have_value(re.compile(f"with {occlusion}: τ = "))


def test_phone_width_keeps_tables_and_heatmaps_readable(browser: Browser, app_url: str) -> None:
    """At 390 px the page does not scroll sideways; tables and heatmaps scroll inside themselves instead of
    squeezing their columns."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.locator("#heatmap td.ad-cell").first.wait_for()
        page.get_by_text(text.BEAMS_ACCORDION).click()
        page.locator("#beams th").first.wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide"
        columns = page.evaluate(
            "Array.from(document.querySelectorAll('#beams th')).map((th) => th.getBoundingClientRect().width)"
        )
        assert len(columns) == len(text.BEAM_COLUMNS) and min(columns) >= 48, columns
        cells = page.evaluate(
            "Array.from(document.querySelectorAll('#heatmap td.ad-cell')).map((td) => td.getBoundingClientRect().width)"
        )
        assert min(cells) >= 20, min(cells)
    finally:
        page.close()


def test_the_direction_picker_opens_the_other_directions_page(page: Page, tiny_reverse_folder: Path) -> None:
    """The navigation bar picks the direction: its second page translates English to German with the twin's models,
    and the first page's link brings the visitor back."""
    from playwright.sync_api import expect

    twin = Translator(tiny_reverse_folder)
    sentence = "A man rides a bicycle ."
    english_pieces = pieces(twin.src_tokenizer, twin.source_ids(sentence)[0])  # read by the English tokenizer
    page.get_by_role("link", name="English → German").click()
    expect(page).to_have_url(re.compile(r"/en-de/?$"))
    page.locator("#heatmap td.ad-cell").first.wait_for()  # the page has opened (else its opening text replaces ours)
    english = page.get_by_label(text.SOURCE_LABEL.format(source="English"))
    expect(english).not_to_have_value("")
    english.fill(sentence)
    page.get_by_role("button", name=text.TRANSLATE_BUTTON, exact=True).click()
    # The heatmap's columns are the sentence as the English -> German models read it. (Its rows, the tiny models'
    # German output, are near-ties that the search breaks differently on different thread counts.)
    expect(page.locator("#heatmap thead th.ad-col")).to_have_text(heatmap.piece_labels(english_pieces))
    expect(page.locator("#heatmap tbody th.ad-row").first).to_be_visible()
    page.get_by_role("link", name="German → English").click()
    expect(page.get_by_label(SOURCE_LABEL)).to_be_visible()


def test_script_tags_are_shown_as_text_and_never_run(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_label(SOURCE_LABEL).fill(SCRIPT + " Die katze")
    page.get_by_role("button", name=text.TRANSLATE_BUTTON, exact=True).click()
    expect(page.locator("#source-highlight")).to_contain_text("katze")
    expect(page.get_by_label(SOURCE_LABEL)).to_have_value(SCRIPT + " Die katze")
    # Angle brackets are shown as text: the tokenizer's "<unk>" for unknown characters is visible, not an element, in
    # the highlight and in the heatmap's labels (drawn by the page's own script).
    expect(page.locator("#source-highlight")).to_contain_text("<unk>")
    expect(page.locator("#heatmap thead")).to_contain_text("<unk>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script", has_text="__pwned").count() == 0
