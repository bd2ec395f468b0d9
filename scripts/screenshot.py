"""Take docs/screenshot.png: the app's main view after translating a test sentence, in headless Chromium.

    .venv/bin/python scripts/screenshot.py                        # the bundled models (must be complete)
    .venv/bin/python scripts/screenshot.py --model path/to/folder # any model folder

Serves the app in this process on a free localhost port, drives Debian's /usr/bin/chromium with Playwright (types a
test sentence of medium length, merges subwords into words, translates, picks an output word) and saves a full-page
screenshot of the "Translate & compare" tab.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run from anywhere without installing the package

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import app  # noqa: E402
from attention_demo.translate import Translator  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pick_sentence(demo: app.AttentionDemo) -> str:
    """A test sentence of about 12 words (long enough for an interesting heatmap), with a reference if possible."""
    candidates = [e for e in demo.examples if e["reference"]] or demo.examples
    return min(candidates, key=lambda e: abs(len(e["source"].split()) - 12))["source"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(app.BUNDLED_MODELS), help="model folder (default: the bundled one)")
    parser.add_argument("--output", default=str(REPO_ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--sentence", help="German sentence to translate (default: a test sentence)")
    parser.add_argument("--word", type=int, default=3, help="output word to highlight (1-based)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    folder = Path(args.model)
    missing = [name for name in ("additive", "baseline") if not (folder / name / "model.safetensors").is_file()]
    if missing:
        print(f"error: {folder} lacks {', '.join(missing)}; pass --model with a complete folder.", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright

    bundled = folder.resolve() == app.BUNDLED_MODELS
    notice = "Models: the bundled Multi30k German→English models." if bundled else f"Models: {folder.name}."
    demo = app.AttentionDemo(Translator(folder), notice)
    sentence = args.sentence or pick_sentence(demo)
    blocks = app.build_app(demo)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_label("German sentence").fill(sentence)
            page.get_by_label("Merge subwords into words").check()
            page.get_by_role("button", name="Translate", exact=True).click()
            expect(page.locator("#heatmap img")).to_be_visible()
            expect(page.locator("#translation-baseline textarea")).not_to_have_value("")
            page.get_by_label("Output word to inspect").click()
            options = page.get_by_role("option")
            options.nth(min(args.word, options.count()) - 1).click()
            expect(page.get_by_label("Where that word looks")).not_to_have_value("")
            page.wait_for_timeout(1500)  # let the re-drawn heatmap image load
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.output, full_page=True)
            browser.close()
    finally:
        blocks.close()
    print(f"wrote {args.output} ({sentence!r} with {folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
