"""Browser tests of the "Watch attention learn" tab and of links, in Debian's Chromium against ``python app.py`` on
the tiny models (the fixtures of test_app_browser.py): the map changes between streamed updates, Stop stops a run,
closing the page stops it, a second visitor's translation is answered while a run trains, a copied link reopens the
same view and a broken link opens the default page with a notice."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from test_app_browser import DESKTOP, TIMEOUT_MS, app_folder, app_url, browser, chromium_present, page  # noqa: F401

from attention_demo.ui import text

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

UPDATE_MS = 15_000  # a streamed update is due about every second; generous for a busy machine
SOURCE_LABEL = text.SOURCE_LABEL.format(source="German")  # the tiny models translate German


def open_live_tab(page: Page) -> None:
    page.get_by_role("tab", name=text.TAB_LIVE).click()
    page.locator("#live-train").wait_for()


def status(page: Page) -> str:
    return page.locator("#live-status textarea").input_value()


def heatmap_colours(page: Page) -> list[str]:
    return page.locator("#live-heatmap td.ad-cell").evaluate_all("cells => cells.map(c => c.style.background)")


def wait_for_status(page: Page, pattern: str, timeout: int = UPDATE_MS) -> str:
    from playwright.sync_api import expect

    expect(page.locator("#live-status textarea")).to_have_value(re.compile(pattern), timeout=timeout)
    return status(page)


def test_the_map_changes_between_streamed_updates_and_stop_stops_the_run(page: Page) -> None:
    open_live_tab(page)
    page.locator("#live-train").click()
    first = wait_for_status(page, r"^\d+ s, [1-9]\d* steps")
    before = heatmap_colours(page)
    assert len(before) == 13 * 13  # the default: 12 symbols and </s>
    wait_for_status(page, r"^(?!" + re.escape(first) + r"$)\d+ s, \d+ steps")  # a later update
    assert heatmap_colours(page) != before
    assert page.locator("#live-heatmap td .ad-marker").count() == 12  # the true alignment as rings
    page.locator("#live-stop").click()
    wait_for_status(page, "^" + re.escape(text.LIVE_FINISHED["stopped"]) + "$")
    page.wait_for_timeout(3000)
    assert status(page) == text.LIVE_FINISHED["stopped"]  # no update came after Stop


def test_a_second_visitor_is_answered_while_a_run_trains_and_closing_the_page_stops_it(
    browser: Browser, app_url: str, page: Page
) -> None:
    from playwright.sync_api import expect

    open_live_tab(page)
    page.locator("#live-train").click()
    wait_for_status(page, r"^\d+ s, [1-9]\d* steps")
    other = browser.new_page(viewport=DESKTOP)
    other.set_default_timeout(TIMEOUT_MS)
    try:
        other.goto(app_url)
        other.locator("#heatmap td.ad-cell").first.wait_for()
        other.get_by_label(SOURCE_LABEL).fill("Die kleine katze sieht den hund .")
        other.get_by_role("button", name=text.TRANSLATE_BUTTON, exact=True).click()  # a translation is not queued
        expect(other.locator("#source-highlight")).to_contain_text("katze", timeout=UPDATE_MS)  # behind the run
        page.close()  # closing the page stops its run: the next run (one at a time) starts at once
        open_live_tab(other)
        other.locator("#live-train").click()
        wait_for_status(other, r"^\d+ s, \d+ steps", timeout=20_000)  # a run left going would hold it for ~30 s
    finally:
        other.close()


def test_a_copied_link_reopens_the_same_view(browser: Browser, app_url: str, page: Page) -> None:
    from playwright.sync_api import expect

    page.locator("#translation-attention .token").nth(2).click()
    expect(page.locator("#focus textarea")).to_have_value(re.compile(r"^“[^”]+” attends to"))
    expect(page.locator("#heatmap tr.ad-selected")).to_have_attribute("data-row", "2")
    focus = page.locator("#focus textarea").input_value()
    page.get_by_role("tab", name=text.TAB_EVIDENCE).click()
    page.locator("#evidence-method").get_by_text("occlusion", exact=False).first.click()
    page.locator("#link-button").click()
    expect(page.locator("#link textarea")).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/\?s="))
    link = page.locator("#link textarea").input_value()
    assert "t=evidence" in link and "e=occlusion" in link and "w=2" in link
    sentence = page.get_by_label(SOURCE_LABEL).input_value()
    reopened = browser.new_page(viewport=DESKTOP)
    reopened.set_default_timeout(TIMEOUT_MS)
    try:
        reopened.goto(link)
        expect(reopened.get_by_role("tab", name=text.TAB_EVIDENCE)).to_have_attribute("aria-selected", "true")
        expect(reopened.locator("#evidence-method input[value='occlusion']")).to_be_checked()
        # The page opens on the opening sentence at once; the link's view follows when its translation is done.
        expect(reopened.locator("#evidence-status textarea")).to_have_value(re.compile("occlusion"))
        reopened.get_by_role("tab", name=text.TAB_TRANSLATE).click()
        expect(reopened.locator("#heatmap tr.ad-selected")).to_have_attribute("data-row", "2")
        expect(reopened.get_by_label(SOURCE_LABEL)).to_have_value(sentence)
        expect(reopened.locator("#focus textarea")).to_have_value(focus)  # the same inspected word
    finally:
        reopened.close()


def test_a_broken_link_opens_the_default_page_with_a_notice(browser: Browser, app_url: str) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url + "?m=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E&b=999&t=nowhere&e=x")
        notice = page.locator("#notice textarea")
        expect(notice).to_have_value(re.compile("could not be used"))
        assert "model" in notice.input_value() and "beam size" in notice.input_value()
        page.locator("#heatmap td.ad-cell").first.wait_for()  # the opening translation
        expect(page.get_by_role("tab", name=text.TAB_TRANSLATE)).to_have_attribute("aria-selected", "true")
        assert page.evaluate("window.__pwned") is None
    finally:
        page.close()


def test_no_process_outlives_the_server_while_a_run_trains(browser: Browser, app_folder: Path, tmp_path: Path) -> None:
    """The process-lifetime check of test_serving.py with a live run training when the server is stopped: the run is
    a thread of the server, so nothing is left behind."""
    from test_serving import MARKER, STARTUP_TIMEOUT_S, processes_with, wait_until_gone

    from benchmarks.app_server import free_port, start_app, stop, wait_for_first_answer

    marker, port = uuid.uuid4().hex, free_port()
    process = start_app(str(app_folder), port, tmp_path / "app.log", **{MARKER: marker})
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(TIMEOUT_MS)
    try:
        wait_for_first_answer(process, f"http://127.0.0.1:{port}/", STARTUP_TIMEOUT_S)
        page.goto(f"http://127.0.0.1:{port}/")
        open_live_tab(page)
        page.locator("#live-train").click()
        wait_for_status(page, r"^\d+ s, [1-9]\d* steps")
        assert processes_with(marker) == [process.pid]  # the run is no process of its own
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert wait_until_gone(marker) == []
    finally:
        page.close()
        if process.poll() is None:
            stop(process)
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
