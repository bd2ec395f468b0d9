"""Browser tests: a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) uses the app.

The app runs in this process on the tiny model folder of test_app.py. ``make test`` installs chromium when it is
missing; without it these tests are skipped with a message saying so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_app import APP_ENV, SENTENCE, close_when_idle, free_port, tiny_app_models

import app
from attention_demo import hub
from attention_demo.translate import Translator
from scripts.screenshot import CHROMIUM_ARGS  # the same headless flags as the screenshot script

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 60_000  # generous: the CI machine may be busy
SCRIPT = "<script>window.__pwned=1</script>"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing (apt-get install chromium, or run `make test`)"
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the tiny models, served on a free localhost port for this module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in APP_ENV.items():
            patch.setenv(name, value)
        hub.hub_reachable.cache_clear()
        folder = tiny_app_models(tmp_path_factory)
        blocks = app.build_app(Translator(folder), "Models: tiny test folder.")
        port = free_port()
        app.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            close_when_idle(blocks)
            hub.hub_reachable.cache_clear()


@pytest.fixture(scope="module")
def browser_page(app_url: str) -> Iterator:  # noqa: ANN401 (playwright's Page)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()


def translate_in_browser(page, url: str, text: str) -> None:  # noqa: ANN001 (playwright's Page)
    """Open the app, type ``text``, press Translate and wait for both translations and the heatmap."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("German sentence").fill(text)
    page.get_by_role("button", name="Translate", exact=True).click()
    expect(page.locator("#heatmap img")).to_be_visible()
    for box in ("#translation-attention textarea", "#translation-baseline textarea"):
        expect(page.locator(box)).not_to_have_value("")


def test_translate_heatmap_and_word_highlight(browser_page, app_url: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page = browser_page
    translate_in_browser(page, app_url, SENTENCE)
    highlight = page.locator("#source-highlight")
    expect(highlight).to_contain_text("katze")

    # Pick the second output word: the focus line and the source highlight follow it.
    page.get_by_label("Output word to inspect").click()
    option = page.get_by_role("option").nth(1)
    label = option.inner_text().split(". ", 1)[1]
    option.click()
    expect(page.get_by_label("Where that word looks")).to_have_value(
        re.compile("^" + re.escape(f"“{label}” attends to:"))
    )
    expect(highlight).to_contain_text("kleine")
    expect(highlight).to_contain_text("park")

    # The step tab was filled from the same translation.
    page.get_by_role("tab", name="Inside one step").click()
    expect(page.locator("#step-plot img")).to_be_visible()


def test_script_tags_are_shown_as_text_and_never_run(browser_page, app_url: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page = browser_page
    translate_in_browser(page, app_url, SCRIPT + " Die katze")
    expect(page.get_by_label("German sentence")).to_have_value(SCRIPT + " Die katze")
    # Angle brackets are shown as text: the tokenizer's "<unk>" for unknown characters is visible, not an element.
    expect(page.locator("#source-highlight")).to_contain_text("<unk>")
    expect(page.locator("#source-highlight")).to_contain_text("katze")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script", has_text="__pwned").count() == 0
