"""Load test: many concurrent ``gradio_client`` users against a local app. Prints errors and latency percentiles.

    python benchmarks/load_test.py                          # starts python app.py (bundled models): 20 users x 10
    python benchmarks/load_test.py --users 40 --requests 5  # more users than the queue holds: see the refusals
    python benchmarks/load_test.py --url http://127.0.0.1:7860/   # an app that is already running

Every user is a thread with its own ``Client`` (its own session, as separate browsers would be). They start together
and each sends ``--requests`` ``/translate`` calls one after another (both models, beam 5, heatmap), cycling
through test sentences of different lengths, each user from a different place. Latency is counted from the call to
the answer, so it includes the time spent waiting in the app's queue. Localhost only; the whole run is bounded by
``--deadline`` seconds, after which unfinished calls count as errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from app_server import (
    PeakMemory,
    cpu_seconds,
    free_port,
    percentile,
    start_app,
    stop,
    translate_request,
    wait_for_first_answer,
)
from gradio_client import Client

from attention_demo.ui import views

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}  # never load-test someone else's server


def sentences(count: int = 40) -> list[str]:
    """``count`` example sentences of the bundled model folder, spread from short to long (the app's own gallery)."""
    return views.gallery_examples(views.load_examples(views.BUNDLED_MODELS, "de", "en"), count)


def run_user(url: str, user: int, requests: int, texts: list[str], deadline: float, results: list[dict]) -> None:
    """One user: its own client, ``requests`` calls in a row; each call's latency or error goes into ``results``."""
    try:
        client = Client(url, verbose=False)
    except Exception as error:  # a user who cannot even connect counts all its calls as errors
        results.extend({"user": user, "error": f"connect: {error!r}"} for _ in range(requests))
        return
    for i in range(requests):
        if time.monotonic() > deadline:
            results.append({"user": user, "error": "deadline passed before the call"})
            continue
        text = texts[(user * requests + i) % len(texts)]
        started = time.perf_counter()
        try:
            translate_request(client, text)
            results.append({"user": user, "seconds": time.perf_counter() - started})
        except Exception as error:
            results.append({"user": user, "error": repr(error)[:300], "seconds": time.perf_counter() - started})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="calls per user")
    parser.add_argument("--url", default=None, help="an app that is already running (default: start one)")
    parser.add_argument("--model", default=None, help="model folder for the app it starts (default: bundled)")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds the whole run may take")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores")

    if args.url and urlparse(args.url).hostname not in LOCAL_HOSTS:
        parser.error(f"{args.url} is not on this machine: the load test only runs against localhost.")
    process = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        log_path = Path(tempfile.gettempdir()) / f"load_test_{port}.log"
        process = start_app(args.model, port, log_path)
        print(f"# started python app.py on {url} (log: {log_path})")
    try:
        if process is not None:
            wait_for_first_answer(process, url, timeout=120)
        texts = sentences()
        results: list[dict] = []  # list.append is atomic: the threads share it safely
        deadline = time.monotonic() + args.deadline
        threads = [
            threading.Thread(target=run_user, args=(url, user, args.requests, texts, deadline, results), daemon=True)
            for user in range(args.users)
        ]
        app_cpu = cpu_seconds(process.pid) if process is not None else None
        own_cpu = time.process_time()
        memory = PeakMemory(process.pid) if process is not None else contextlib.nullcontext()
        with memory:
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
            wall = time.perf_counter() - started
        if process is not None:
            app_cpu = cpu_seconds(process.pid) - app_cpu
        own_cpu = time.process_time() - own_cpu
    finally:
        if process is not None:
            stop(process)

    expected = args.users * args.requests
    errors = [r for r in results if "error" in r]
    missing = expected - len(results)  # calls still hanging when the deadline passed
    latencies = [r["seconds"] for r in results if "error" not in r]
    print(f"\n| load: {args.users} users x {args.requests} requests, /translate beam 5 | measured | target |")
    print("|---|---|---|")
    print(f"| requests answered | {len(latencies)} of {expected} | all |")
    print(f"| errors | {len(errors) + missing} | 0 |")
    if latencies:
        print(f"| latency p50 (includes waiting in the queue) | {percentile(latencies, 50):.2f} s | |")
        print(f"| latency p95 | {percentile(latencies, 95):.2f} s | ≤ 2 s |")
        print(f"| latency max | {max(latencies):.2f} s | |")
    print(f"| wall time | {wall:.1f} s | |")
    print(f"| throughput | {len(latencies) / wall:.1f} requests/s | |")
    if app_cpu is not None:
        print(f"| CPU used by the app | {app_cpu:.1f} s ({app_cpu / wall:.2f} cores) | |")
    print(f"| CPU used by the {args.users} clients (this process) | {own_cpu:.1f} s ({own_cpu / wall:.2f} cores) | |")
    if process is not None:
        print(f"| peak memory of the app (PSS) | {memory.peak:,.0f} MB "
              "| ≤ 1,500 MB |")  # fmt: skip
    for error in errors[:5]:
        print(f"error (user {error['user']}): {error['error']}")
    sys.exit(1 if errors or missing else 0)


if __name__ == "__main__":
    main()
