"""App benchmark: cold start, request latency through ``gradio_client`` with its breakdown, and peak memory.

    python benchmarks/benchmark_app.py                  # bundled models, 30 timed requests
    python benchmarks/benchmark_app.py --requests 100

What one ``/translate`` request does (the 15-word sentence, attention model and baseline, beam 5, heatmap):

1. The breakdown is measured in this process on the same models, with the app's settings and plotting workers: the
   two beam searches side by side, the rest of ``AttentionDemo.translate`` (beam table, highlight, chrF), building
   the heatmap figure, drawing + encoding it, and the round trip to a worker process. "Gradio server + HTTP" is the
   raw-SSE median (step 3) minus those parts; "gradio_client's own overhead" is its median minus the raw-SSE one.
2. ``python app.py`` is started in a subprocess; cold start is the time from launching it to the first answered
   ``/translate`` request (model loading, imports, building the UI, the first request itself). At the end, a second
   cold start asks for a Hub model with the network down (an unreachable ``HF_ENDPOINT``): the time until the app
   answers on the bundled models, and whether its header shows the fallback notice.
3. Timed requests one after another (after two warm-up requests): p50 and p95 through ``gradio_client``, then the
   same request sent the way the browser sends it (join the queue, read the event stream), which separates the
   server's time from ``gradio_client``'s own polling.
4. Two oversized requests (100 kB and 5 MB of text): their time, and whether the app cut them with a notice.
5. Memory of the server process and its plotting workers: the proportional set size (PSS: a page shared by n
   processes counts 1/n in each), sampled every 0.5 s, at its peak; and, as an upper bound, the processes' peak
   resident sizes (VmHWM) summed, which count the pages the forked workers share with the server in every process.

For many users at once see ``load_test.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing the package

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from app_server import (  # noqa: E402
    SENTENCE_15_WORDS,
    PeakMemory,
    RawClient,
    free_port,
    percentile,
    start_app,
    stop,
    summed_peak_rss_mb,
    translate_request,
    wait_for_first_answer,
)
from gradio_client import Client  # noqa: E402

import app  # noqa: E402
from attention_demo import plots  # noqa: E402
from attention_demo.model import BASELINE  # noqa: E402


def timed(fn, repeats: int) -> tuple[list[float], object]:  # noqa: ANN001
    """Run ``fn`` once to warm up, then ``repeats`` times; the times in ms and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def breakdown(folder: str | None, attention_type: str, repeats: int) -> dict[str, float]:
    """Median ms of each part of one translate request, measured in this process (rows in parentheses are for
    comparison only and are not part of the request)."""
    app.start_plot_processes()  # first, before the models load and before any thread exists, as app.main does
    translator, _ = app.load_translator(folder)
    demo = app.AttentionDemo(translator)
    app.tune_for_serving()  # the same threads and garbage-collector settings as the served app
    names = [attention_type, BASELINE]

    def median_ms(fn) -> float:  # noqa: ANN001
        return percentile(timed(fn, repeats)[0], 50)

    model = median_ms(lambda: demo.translate_with(SENTENCE_15_WORDS, names, 5))
    with torch.inference_mode():
        one_by_one = median_ms(lambda: [translator.translate([SENTENCE_15_WORDS], name, 5) for name in names])
    translate_total = median_ms(lambda: demo.translate(SENTENCE_15_WORDS, attention_type, 5))
    heatmap = demo.translate(SENTENCE_15_WORDS, attention_type, 5).view.heatmap  # a plots.Heatmap: data, no figure
    build = median_ms(heatmap.figure)
    figure = heatmap.figure()
    draw = median_ms(lambda: plots.figure_data_uri(figure))
    in_worker = median_ms(lambda: app.plot_value(heatmap))
    return {
        "model: attention + baseline beam search, side by side": model,
        "(for comparison: the two models one after the other)": one_by_one,
        "rest of AttentionDemo.translate (tables, highlight)": max(0.0, translate_total - model),
        "plotting, in a worker process: build the heatmap figure": build,
        "plotting, in a worker process: draw + encode (lossless WebP, method 0)": draw,
        "plotting: sending the heatmap to a worker and its image back": max(0.0, in_worker - build - draw),
        "(for comparison: draw + encode with Gradio's default lossy WebP)": median_ms(
            lambda: gr.Plot().postprocess(figure)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled models)")
    parser.add_argument("--attention_type", default="additive")
    parser.add_argument("--requests", type=int, default=30, help="timed end-to-end requests")
    parser.add_argument("--repeats", type=int, default=20, help="timed repetitions per in-process part")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the app to answer")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")

    parts = breakdown(args.model, args.attention_type, args.repeats)

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = Path(tempfile.gettempdir()) / f"benchmark_app_{port}.log"
    launched = time.perf_counter()
    process = start_app(args.model, port, log_path)
    try:
        port_open, _ = wait_for_first_answer(process, url, args.timeout)
        cold_start = time.perf_counter() - launched
        with PeakMemory(process.pid) as memory:
            client = Client(url, verbose=False)
            for _ in range(2):
                translate_request(client, attention_type=args.attention_type)
            latencies = []
            for _ in range(args.requests):
                started = time.perf_counter()
                translate_request(client, attention_type=args.attention_type)
                latencies.append((time.perf_counter() - started) * 1000)
            raw = RawClient(url, "translate")
            raw_latencies = []
            for _ in range(args.requests):
                started = time.perf_counter()
                raw.predict(SENTENCE_15_WORDS, args.attention_type, 5, False)
                raw_latencies.append((time.perf_counter() - started) * 1000)
            peak_before_oversized = memory.peak
            oversized = {}
            for size in (100_000, 5_000_000):
                text = ("Die kleine Katze sieht den Hund im Park . " * (size // 40 + 1))[:size]
                started = time.perf_counter()
                notice = client.predict(text, args.attention_type, 5, False, api_name="/translate")[0]
                oversized[size] = ((time.perf_counter() - started) * 1000, "only the first" in notice)
        summed_peak_mb = summed_peak_rss_mb(process.pid)
    finally:
        stop(process)

    # The same cold start asking for a Hub model while the network is down (not offline mode): the app must find
    # out by itself, fall back to the bundled models and say so.
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    launched = time.perf_counter()
    process = start_app(
        "attention-demo/gru-attention-multi30k-de-en", port, log_path.with_suffix(".hub-down.log"),
        HF_HUB_OFFLINE=None, HF_ENDPOINT="http://10.255.255.1", HF_HOME=tempfile.mkdtemp(),
    )  # fmt: skip
    try:
        wait_for_first_answer(process, url, args.timeout)
        fallback_start = time.perf_counter() - launched
        header = Client(url, verbose=False).config["components"]
        notice_shown = any("Could not load" in str(c.get("props", {}).get("value")) for c in header)
    finally:
        stop(process)

    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    in_process = sum(value for name, value in parts.items() if not name.startswith("("))
    print(f"\n| app (log: {log_path}) | measured | target |\n|---|---|---|")
    print(f"| cold start: `python app.py` to the first answered /translate | {cold_start:.1f} s | ≤ 15 s |")
    print(f"| (of which: until the port answered) | {port_open:.1f} s | |")
    print(f"| cold start with the Hub unreachable: fallback to the bundled models | {fallback_start:.1f} s | a few s |")
    print(f"| the fallback notice is in the page header | {'yes' if notice_shown else 'NO'} | yes |")
    print(f"| /translate, 15 words, both models, beam 5, heatmap: p50 ({args.requests} requests) | {p50:.0f} ms "
          "| ≤ 300 ms |")  # fmt: skip
    print(f"| /translate p95 | {p95:.0f} ms | ≤ 600 ms |")
    raw_p50, raw_p95 = percentile(raw_latencies, 50), percentile(raw_latencies, 95)
    print(f"| the same request as a browser sends it (raw SSE): p50 / p95 | {raw_p50:.0f} / {raw_p95:.0f} ms | |")
    for size, (ms, cut) in oversized.items():
        print(f"| a {size / 1000:,.0f} kB request: {'cut with a notice' if cut else 'NOT CUT'} | {ms:.0f} ms | quick |")
    shared_once = "server + plotting workers, shared pages counted once (PSS)"
    print(f"| peak memory of the app: {shared_once} | {memory.peak:,.0f} MB | ≤ 1,500 MB |")
    print(f"| (the same before the oversized requests) | {peak_before_oversized:,.0f} MB | |")
    upper_bound = "peak resident sizes summed, shared pages counted in every process: an upper bound"
    print(f"| ({upper_bound}) | {summed_peak_mb:,.0f} MB | |")

    print("\n| where one request's time goes (medians) | ms |\n|---|---|")
    for name, value in parts.items():
        print(f"| {name} | {value:.1f} |")
    print(f"| Gradio server + HTTP (raw SSE p50 minus the parts above) | {max(0.0, raw_p50 - in_process):.1f} |")
    print(f"| gradio_client's own overhead (its p50 minus the raw SSE p50) | {max(0.0, p50 - raw_p50):.1f} |")


if __name__ == "__main__":
    main()
