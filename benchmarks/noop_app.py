"""Gradio's own floor: an app whose endpoint ``/noop`` returns its input, served with the settings of the real app
(the same queue limits, no server-side rendering). ``benchmark_app.py`` and ``load_test.py`` time it side by side with
``/translate``: what any Gradio call costs on this machine, with this client, at this moment. Its second endpoint,
``/wait``, returns its input after sleeping the milliseconds asked for: ``load_test.py`` uses it to show how a client's
latency grows with the server's time.

    python benchmarks/noop_app.py --port 7861
"""

from __future__ import annotations

import argparse
import time

import gradio as gr

from attention_demo.ui.concurrency import CONCURRENCY_LIMIT, QUEUE_SIZE


def wait(value: str, milliseconds: float) -> str:
    time.sleep(max(0.0, float(milliseconds)) / 1000)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with gr.Blocks() as blocks:
        given, returned = gr.Textbox(), gr.Textbox()
        gr.Button().click(lambda value: value, given, returned, api_name="noop")
        milliseconds = gr.Number()
        gr.Button().click(wait, [given, milliseconds], returned, api_name="wait")
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    blocks.launch(server_name="127.0.0.1", server_port=args.port, ssr_mode=False, quiet=True)


if __name__ == "__main__":
    main()
