"""Take docs/screenshot.png: the app's first tab as a visitor sees it, in headless Chromium.

    .venv/bin/python scripts/screenshot.py                        # the bundled models (must be complete)
    .venv/bin/python scripts/screenshot.py --model path/to/folder # any model folder
    .venv/bin/python scripts/screenshot.py --live                 # docs/live.png: a run of "Watch attention learn"

Serves the app in this process on a free localhost port, drives Debian's /usr/bin/chromium with Playwright: opens the
page (which opens on a translated test sentence), clicks an output word of the translation and saves a full-page
screenshot of the "Translate" tab at a laptop's width.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from attention_demo.ui import loading, serving, text

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 900}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(loading.BUNDLED_MODELS), help="model folder (default: the bundled one)")
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"))
    parser.add_argument("--reverse_model", default=None, help="the other direction (default: the bundled one, if any)")
    parser.add_argument("--word", type=int, default=3, help="output word to inspect (1-based)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--live", action="store_true", help="the live-training tab after --seconds of a default run")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the live run trains before the picture")
    args = parser.parse_args()
    if args.live and args.output == parser.get_default("output"):
        args.output = str(Path(args.output).with_name("live.png"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    folder = Path(args.model)
    missing = [name for name in ("additive", "baseline") if not (folder / name / "model.safetensors").is_file()]
    if missing:
        print(f"error: {folder} lacks {', '.join(missing)}; pass --model with a complete folder.", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright

    # As app.py loads them: the folder (the bundled notice when it is the bundled one) and the other direction.
    blocks = serving.build_app(*serving.load_demos(str(folder), args.reverse_model))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serving.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            if args.live:
                page.get_by_role("tab", name=text.TAB_LIVE).click()
                page.locator("#live-train").click()
                page.wait_for_timeout(args.seconds * 1000)
                Path(args.output).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.output, full_page=True)
                browser.close()
                print(f"wrote {args.output}")
                return 0
            words = page.locator("#translation-attention .token")
            words.first.wait_for()
            word = min(args.word, words.count()) - 1
            words.nth(word).click()
            expect(page.locator("#heatmap tr.ad-selected")).to_have_attribute("data-row", str(word))
            cell = page.locator(f"#heatmap tr.ad-selected td.ad-cell >> nth={min(word, 3)}")
            cell.hover()  # the tooltip with the exact weight is part of the picture
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.output, full_page=True)
            browser.close()
    finally:
        blocks.close()
    print(f"wrote {args.output} ({folder})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
