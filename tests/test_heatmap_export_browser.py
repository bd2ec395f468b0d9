"""The heatmap's downloads (CSV, JSON, SVG, PNG), made in a real headless Chromium from the component's value.

A minimal page (:func:`attention_demo.ui.serving.launch`, in this process) holds three browser heatmaps: a 2 x 3 map
whose labels are hostile text, a message, and a map whose title has no letter a file name can keep. Each download
link is clicked and the file Chromium saves is read back. Without Debian's /usr/bin/chromium the browser tests are
skipped, except in CI (the ``CI`` environment variable is set), where a missing browser fails them (as in
``test_app_browser.py``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pytest
from test_app_browser import chromium_browser, chromium_present  # noqa: F401 (autouse: Chromium there, or skip/fail)

from attention_demo.ui import heatmap, serving
from benchmarks.app_server import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TIMEOUT_MS = 60_000
SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PWN = "<img src=x onerror=window.__pwned=1>"
BELL = "·ing\x07"  # a control character: kept in CSV and JSON, U+FFFD in the SVG (XML cannot hold it)
VALUE: dict[str, Any] = {
    "title": "Map <b>&x",
    "rows": ["<b>&x", '=cmd "a", b'],
    "columns": [PWN, "it's", BELL],
    "matrix": [[0.125, 0.5, 0.375], [0.0, 0.999999, 1e-06]],
    "selected": 0,
    "markers": [[0, 1], [1, 2]],
    "marker_label": "aligner link",
    "value_label": "attention weight α",
    "row_axis": "output (English)",
    "column_axis": "source (German)",
    "vmax": 1.0,
}
MESSAGE = {"title": "Nothing", "message": "No map here."}
UNNAMED = {**VALUE, "title": "¡¿ ?!", "rows": ["a"], "columns": ["b"], "matrix": [[1.0]], "markers": []}
JSON_KEYS = [
    "title", "rows", "columns", "matrix", "markers", "marker_label", "value_label", "row_axis", "column_axis", "vmax",
]  # fmt: skip


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """The three heatmaps, served with the app's own settings on a free localhost port."""
    with gr.Blocks() as blocks:
        heatmap.attention_heatmap(VALUE, elem_id="map")
        heatmap.attention_heatmap(MESSAGE, elem_id="message")
        heatmap.attention_heatmap(UNNAMED, elem_id="unnamed")
    port = free_port()
    serving.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        blocks.close()


@pytest.fixture(scope="module")
def browser(page_url: str) -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, page_url: str) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1000, "height": 800}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(page_url)
    page.locator("#map td.ad-cell").first.wait_for()
    try:
        yield page
    finally:
        page.close()


def download(page: Page, heatmap_id: str, link: str) -> tuple[str, bytes]:
    """Click a heatmap's download link; the file name the page gave and the file's bytes."""
    with page.expect_download() as info:
        page.locator(f"#{heatmap_id} .ad-export").get_by_role("button", name=link, exact=True).click()
    saved = info.value
    assert saved.failure() is None
    return saved.suggested_filename, Path(saved.path()).read_bytes()


def test_only_maps_get_download_links_labelled_csv_json_svg_png(page: Page) -> None:
    from playwright.sync_api import expect

    links = page.locator("#map .ad-export")
    expect(links).to_have_count(1)
    expect(links).to_have_text(re.compile(r"^Download:\s*CSV · JSON · SVG · PNG\s*$"))
    expect(links.get_by_role("button")).to_have_text(["CSV", "JSON", "SVG", "PNG"])
    expect(page.locator("#message .ad-message")).to_have_text(MESSAGE["message"])
    expect(page.locator("#message .ad-export")).to_have_count(0)


def test_csv_has_the_column_labels_then_one_row_per_output_word(page: Page) -> None:
    name, data = download(page, "map", "CSV")
    assert name == "Map_b_x.csv"
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark, for spreadsheets
    text = data.decode("utf-8-sig")
    assert text.split("\r\n") == [
        f"output (English) / source (German),{PWN},it's,{BELL}",
        "<b>&x,0.125,0.5,0.375",
        '"\'=cmd ""a"", b",0,0.999999,0.000001',  # quoted; a leading = is kept from being read as a formula
        "",
    ]
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[1:] == VALUE["columns"]
    assert [row[0] for row in rows] == ["<b>&x", "'" + VALUE["rows"][1]]
    assert [[float(x) for x in row[1:]] for row in rows] == VALUE["matrix"]


def test_json_round_trips_the_value(page: Page) -> None:
    name, data = download(page, "map", "JSON")
    assert name == "Map_b_x.json"
    assert json.loads(data) == {key: VALUE[key] for key in JSON_KEYS}


def test_svg_draws_cells_labels_and_markers_with_the_page_colours(page: Page) -> None:
    name, data = download(page, "map", "SVG")
    assert name == "Map_b_x.svg"
    root = ET.fromstring(data)  # well-formed XML (the control character was replaced)
    assert root.tag == SVG + "svg"
    # Nothing of the labels became markup: only the elements the script makes.
    assert {node.tag.removeprefix(SVG) for node in root.iter()} == {
        "svg", "rect", "defs", "linearGradient", "stop", "text", "circle",
    }  # fmt: skip
    texts = [node.text for node in root.iter(SVG + "text")]
    for label in [VALUE["title"], *VALUE["rows"], PWN, "it's", "·ing\ufffd", VALUE["marker_label"]]:
        assert label in texts, label
    assert any(VALUE["value_label"] in t for t in texts)
    cells = [node for node in root.iter(SVG + "rect") if node.get("class") == "cell"]
    assert len(cells) == 6
    # The same viridis colours as the table on the page, row by row.
    page_colours = page.evaluate(
        "Array.from(document.querySelectorAll('#map td.ad-cell')).map((td) => td.style.background)"
    )
    assert [c.get("fill") for c in cells] == [c.replace(" ", "") for c in page_colours]
    assert cells[3].get("fill") == "rgb(68,1,84)" and cells[4].get("fill") == "rgb(253,231,37)"  # 0 and ~1
    # One ring per marker, centred on its cell (cells are in row order).
    centres = {
        (float(c.get("x")) + float(c.get("width")) / 2, float(c.get("y")) + float(c.get("height")) / 2)
        for c in (cells[0 * 3 + 1], cells[1 * 3 + 2])
    }
    rings = [node for node in root.iter(SVG + "circle") if node.get("class") == "marker"]
    assert {(float(r.get("cx")), float(r.get("cy"))) for r in rings} == centres
    assert any(node.get("class") == "legend" for node in root.iter(SVG + "rect"))
    assert int(root.get("width")) > 0 and int(root.get("height")) > 0
    assert page.evaluate("window.__pwned") is None


def test_png_is_the_svg_at_twice_its_size(page: Page) -> None:
    _, svg = download(page, "map", "SVG")
    root = ET.fromstring(svg)
    name, data = download(page, "map", "PNG")
    assert name == "Map_b_x.png"
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (2 * int(root.get("width")), 2 * int(root.get("height")))
    assert page.locator("#map .ad-export-note").text_content() == ""  # no failure notice


def test_a_title_without_usable_characters_names_the_file_attention(page: Page) -> None:
    name, data = download(page, "unnamed", "CSV")
    assert name == "attention.csv"
    assert data.decode("utf-8-sig").split("\r\n")[1] == "a,1"
    assert download(page, "unnamed", "PNG")[0] == "attention.png"


def test_the_script_writes_no_markup() -> None:
    """The export code keeps the module's rule: text is written with textContent, never parsed as HTML."""
    for needle in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "DOMParser"):
        assert needle not in heatmap.SCRIPT, needle
    assert "${" not in heatmap.TEMPLATE + heatmap.STYLE
