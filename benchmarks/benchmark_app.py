"""App benchmark: cold start, ``/translate`` latency side by side with Gradio's own no-op endpoint, where a request's
time goes, and peak memory.

    python benchmarks/benchmark_app.py --dataset_name ../shared/data/multi30k     # bundled models, 30 requests each
    python benchmarks/benchmark_app.py --requests 100 ...

What one ``/translate`` request does (attention model and baseline, beam 5): the two beam searches side by side, the
other direction's model reading the translation back (the heatmap's rings), the beam table, the highlight, and the
heatmap as numbers (the browser draws it). Every timed request and every in-process repetition carries a test
sentence that no other carried: the app keeps the searches of repeated requests, and a repeated sentence would time
that cache (``load_test.py`` times it apart).

1. The breakdown is measured in this process on the served app's models (``serving.load_demos``) with its settings:
   the searches and the reading back, the rest of the first tab's ``translate_view``, and the heatmap's JSON.
   "Gradio server + HTTP" is the raw-SSE median (step 3) minus those parts; "gradio_client's own overhead" is its
   median minus the raw-SSE one.
2. ``python app.py`` is started in a subprocess; cold start is the time from launching it to the first answered
   ``/translate`` request (imports, model loading, building the page, translating the opening example, the first
   request itself). ``benchmarks/noop_app.py`` (one endpoint that returns its input, with the app's queue settings)
   is started beside it. At the end, a second cold start asks for a Hub model with the network down (an unreachable
   ``HF_ENDPOINT``): the time until the app answers on the bundled models, and whether its header says so.
3. Timed requests, alternating ``/translate`` and ``/noop`` so that both see the same machine at the same moment
   (after two warm-up requests of each): p50 and p95 through ``gradio_client``, then the same requests sent the way
   the browser sends them (join the queue, read the event stream), which separates the server's time from
   ``gradio_client``'s own polling. The target: ``/translate`` p50 ≤ 2 × the no-op's p50.
4. Two oversized requests (100 kB and 5 MB of text): their time, and whether the app cut them with a notice.
5. Memory of the app: the proportional set size (PSS: a page shared by n processes counts 1/n in each) of the app's
   processes, sampled every 0.5 s, at its peak; and the peak resident size (VmHWM) for comparison.

For many users at once see ``load_test.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from app_server import (
    REPO_ROOT,
    SENTENCE_15_WORDS,
    PeakMemory,
    RawClient,
    distinct_sentences,
    free_port,
    percentile,
    start_app,
    stop,
    summed_peak_rss_mb,
    translate_request,
    wait_for_first_answer,
)
from gradio_client import Client

from attention_demo.model import BASELINE
from attention_demo.ui import serving
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.tabs import translate as translate_tab


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Run ``fn`` once to warm up, then ``repeats`` times; the times in ms."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


IDLE_S = 0.2  # a pause before a request, as between a visitor's clicks: idle cores run slower at first


def breakdown(folder: str | None, attention_type: str, sentences: Iterator[str], repeats: int) -> dict[str, float]:
    """Median ms of each part of one translate request, measured in this process on the served app's models (both
    directions, the fast search copies). Every row runs the same ``repeats`` new sentences on a fresh
    :class:`AttentionDemo` (an empty cache), so rows can be subtracted (rows in parentheses are for comparison only
    and are not part of the request)."""
    first, _ = serving.load_demos(folder)
    serving.tune_for_serving()  # the same threads and garbage-collector settings as the served app
    names = [attention_type, BASELINE]
    texts = [next(sentences) for _ in range(repeats + 1)]  # one more for the warm-up call

    def median_ms(fn: Callable[[AttentionDemo, str], object]) -> float:
        demo, todo = AttentionDemo(first.translator, first.notice, first.twin), iter(texts)
        return percentile(timed(lambda: fn(demo, next(todo)), repeats), 50)

    model = median_ms(lambda demo, sentence: demo.translate_and_read_back(sentence, names, 5))
    after_idle = median_ms(
        lambda demo, sentence: (time.sleep(IDLE_S), demo.translate_and_read_back(sentence, names, 5))
    )
    with torch.inference_mode():
        one_by_one = median_ms(lambda demo, sentence: [demo.translator.translate([sentence], n, 5) for n in names])
    total = median_ms(lambda demo, sentence: translate_tab.translate_view(demo, sentence, attention_type, 5))
    heatmap = translate_tab.translate_view(first, SENTENCE_15_WORDS, attention_type, 5).view.heatmap
    as_json = percentile(timed(lambda: json.dumps(heatmap.to_json()), repeats), 50)
    return {
        "model: attention + baseline beam search side by side, then the other direction reads the translation": model,
        "(for comparison: the two searches one after the other)": one_by_one,
        f"(the first row after {IDLE_S:.1f} s idle each time, the pause not counted)": after_idle - IDLE_S * 1000,
        "rest of translate_view (beam table, highlight, rings, heatmap data)": max(0.0, total - model),
        f"the heatmap as JSON ({len(json.dumps(heatmap.to_json())):,} bytes)": as_json,
    }


def start_noop(port: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    command = [sys.executable, str(REPO_ROOT / "benchmarks" / "noop_app.py"), "--port", str(port)]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_noop(process: subprocess.Popen, url: str, timeout: float) -> Client:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the no-op app exited with code {process.returncode}")
        try:
            client = Client(url, verbose=False)
            client.predict("x", api_name="/noop")
            return client
        except Exception:  # not up yet
            time.sleep(0.2)
    raise TimeoutError(f"the no-op app did not answer within {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled models)")
    parser.add_argument("--attention_type", default="additive")
    parser.add_argument("--requests", type=int, default=30, help="timed end-to-end requests of each kind")
    parser.add_argument("--repeats", type=int, default=20, help="timed repetitions per in-process part")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the app to answer")
    parser.add_argument("--dataset_name", default="bentrevett/multi30k", help="where the distinct sentences come from")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"load average {load:.2f} at the start")  # fmt: skip

    # Every timed request carries a test sentence no other request carried: the app keeps repeated requests' searches.
    sentences = iter(t for t in distinct_sentences(args.dataset_name, "test") if t != SENTENCE_15_WORDS)
    parts = breakdown(args.model, args.attention_type, sentences, args.repeats)

    port, noop_port = free_port(), free_port()
    url, noop_url = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{noop_port}/"
    log_path = Path(tempfile.gettempdir()) / f"benchmark_app_{port}.log"
    noop = start_noop(noop_port, log_path.with_suffix(".noop.log"))
    launched = time.perf_counter()
    process = start_app(args.model, port, log_path)
    try:
        port_open, _ = wait_for_first_answer(process, url, args.timeout)
        cold_start = time.perf_counter() - launched
        noop_client = wait_for_noop(noop, noop_url, args.timeout)
        with PeakMemory(process.pid) as memory:
            client = Client(url, verbose=False)
            for _ in range(2):
                translate_request(client, attention_type=args.attention_type)
                noop_client.predict(SENTENCE_15_WORDS, api_name="/noop")
            latencies: dict[str, list[float]] = {"translate": [], "noop": [], "raw translate": [], "raw noop": []}
            raw, raw_noop = RawClient(url, "translate"), RawClient(noop_url, "noop")
            calls = {
                "translate": lambda: translate_request(client, next(sentences), args.attention_type),
                "noop": lambda: noop_client.predict(next(sentences), api_name="/noop"),
                "raw translate": lambda: raw.predict(next(sentences), args.attention_type, 5, False),
                "raw noop": lambda: raw_noop.predict(next(sentences)),
            }
            for pair in (("translate", "noop"), ("raw translate", "raw noop")):
                for _ in range(args.requests):  # alternating: both see the same machine at the same moment
                    for name in pair:
                        started = time.perf_counter()
                        calls[name]()
                        latencies[name].append((time.perf_counter() - started) * 1000)
            peak_before_oversized = memory.peak
            oversized = {}
            for size in (100_000, 5_000_000):
                sentence = ("Die kleine Katze sieht den Hund im Park . " * (size // 40 + 1))[:size]
                started = time.perf_counter()
                notice = translate_request(client, sentence, args.attention_type)["notice"]
                oversized[size] = ((time.perf_counter() - started) * 1000, "only the first" in notice)
        peak_rss_mb = summed_peak_rss_mb(process.pid)
    finally:
        stop(process)
        stop(noop)

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

    p50 = {name: percentile(values, 50) for name, values in latencies.items()}
    p95 = {name: percentile(values, 95) for name, values in latencies.items()}
    ratio = p50["translate"] / p50["noop"]
    n = args.requests
    print(f"\n| app (log: {log_path}) | measured | target |\n|---|---|---|")
    print(f"| cold start: `python app.py` to the first answered /translate | {cold_start:.1f} s | ≤ 15 s |")
    print(f"| (of which: until the port answered) | {port_open:.1f} s | |")
    print(f"| cold start with the Hub unreachable: fallback to the bundled models | {fallback_start:.1f} s | a few s |")
    print(f"| the fallback notice is in the page header | {'yes' if notice_shown else 'NO'} | yes |")
    what = f"/translate, a new test sentence each, both models, beam 5: p50 / p95 ({n} requests, gradio_client)"
    print(f"| {what} | {p50['translate']:.0f} / {p95['translate']:.0f} ms | |")
    print(f"| Gradio's no-op endpoint, alternating with it: p50 / p95 | {p50['noop']:.0f} / {p95['noop']:.0f} ms | |")
    print(f"| /translate p50 ÷ no-op p50 | {ratio:.2f}× | ≤ 2× |")
    print(f"| the same two as a browser sends them (raw SSE): /translate p50 / p95 | {p50['raw translate']:.0f} / "
          f"{p95['raw translate']:.0f} ms | |")  # fmt: skip
    print(f"| no-op p50 / p95 (raw SSE) | {p50['raw noop']:.0f} / {p95['raw noop']:.0f} ms | |")
    for size, (ms, cut) in oversized.items():
        print(f"| a {size / 1000:,.0f} kB request: {'cut with a notice' if cut else 'NOT CUT'} | {ms:.0f} ms | quick |")
    print(f"| peak memory of the app (PSS, sampled every 0.5 s) | {memory.peak:,.0f} MB | ≤ 1,500 MB |")
    print(f"| (the same before the oversized requests) | {peak_before_oversized:,.0f} MB | |")
    print(f"| (peak resident size, VmHWM) | {peak_rss_mb:,.0f} MB | |")

    in_process = sum(value for name, value in parts.items() if not name.startswith("("))
    print("\n| where one request's time goes (medians) | ms |\n|---|---|")
    for name, value in parts.items():
        print(f"| {name} | {value:.1f} |")
    server = max(0.0, p50["raw translate"] - in_process)
    print(f"| Gradio server + HTTP (raw SSE p50 minus the parts above) | {server:.1f} |")
    polling = max(0.0, p50["translate"] - p50["raw translate"])
    print(f"| gradio_client's own overhead (its p50 minus the raw SSE p50) | {polling:.1f} |")


if __name__ == "__main__":
    main()
