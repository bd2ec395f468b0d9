"""Load test: the app's ``/translate`` against Gradio's no-op endpoint, alone and under load, on distinct sentences.

    python benchmarks/load_test.py --dataset_name ../shared/data/multi30k     # starts both apps: 20 users x 10
    python benchmarks/load_test.py --users 40 --requests 5 ...               # more users than the queue holds
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ ...          # an app that is already running

Both apps get the same requests, made the same way, and every request carries a sentence of the test split that no
other request of that app carried (the model's answers cannot come from a cache):

1. **alone**: ``--alone`` requests one after another, alternating between the app and the no-op endpoint (both see
   the same machine at the same moment); their p50s and the ratio.
2. **under load**: ``--users`` threads, each with its own ``Client`` (its own session, as separate browsers would
   be), start together and send ``--requests`` calls each, one after another: first to the no-op endpoint, then to
   the app. Latency is counted from the call to the answer, so it includes the time spent waiting in the queue.

The table gives the three ratios of issue 18 (p50 alone, p95 under load, throughput) with their targets, and the
machine's load average. Localhost only; each loaded run is bounded by ``--deadline`` seconds, after which unfinished
calls count as errors.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from app_server import (
    SENTENCE_15_WORDS,
    PeakMemory,
    RawClient,
    cpu_seconds,
    distinct_sentences,
    free_port,
    percentile,
    start_app,
    stop,
    translate_request,
    wait_for_first_answer,
)
from benchmark_app import start_noop, timed, wait_for_noop
from gradio_client import Client

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}  # never load-test someone else's server
TARGETS = {"p50 alone": 1.5, "p95 under load": 2.0, "throughput": 0.5}  # app vs no-op (issue 18)


@dataclass
class Loaded:
    """One loaded run: latencies and errors of every call, the wall time and the app's CPU."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    app_cpu: float | None = None

    def p95(self) -> float:
        return percentile(self.latencies, 95) if self.latencies else float("nan")

    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


def run_loaded(
    connect: Callable[[], Client],
    call: Callable[[Client, str], object],
    texts: list[str],
    users: int,
    requests: int,
    deadline_s: float,
    pid: int | None,
) -> Loaded:
    """``users`` threads with their own client each send ``requests`` calls in a row; user ``u``'s ``i``-th call
    carries ``texts[u * requests + i]``."""
    result = Loaded()
    deadline = time.monotonic() + deadline_s
    expected = users * requests

    def user(u: int) -> None:
        try:
            client = connect()
        except Exception as error:  # a user who cannot even connect counts all its calls as errors
            result.errors.extend(f"connect: {error!r}" for _ in range(requests))
            return
        for i in range(requests):
            if time.monotonic() > deadline:
                result.errors.append("deadline passed before the call")
                continue
            started = time.perf_counter()
            try:
                call(client, texts[u * requests + i])
                result.latencies.append(time.perf_counter() - started)  # list.append is atomic
            except Exception as error:
                result.errors.append(repr(error)[:300])

    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    cpu = cpu_seconds(pid) if pid is not None else None
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    result.wall = time.perf_counter() - started
    if pid is not None:
        result.app_cpu = cpu_seconds(pid) - cpu
    result.errors.extend(
        "no answer before the deadline" for _ in range(expected - len(result.latencies) - len(result.errors))
    )
    return result


def client_for(url: str) -> Callable[[], Client]:
    """A function that connects a new client (a new session) to ``url``."""
    return lambda: Client(url, verbose=False)


def noop(client: Client, text: str) -> None:
    if client.predict(text, api_name="/noop") != text:
        raise RuntimeError("the no-op endpoint did not return its input")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset_name", default="bentrevett/multi30k", help="Hub dataset id or local folder")
    parser.add_argument("--split", default="test", help="where the distinct sentences come from")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="calls per user")
    parser.add_argument("--alone", type=int, default=40, help="requests of each app one after another")
    parser.add_argument("--url", default=None, help="an app that is already running (default: start one)")
    parser.add_argument("--model", default=None, help="model folder for the app it starts (default: bundled)")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds each loaded run may take")
    parser.add_argument(
        "--waits", type=float, nargs="*", default=[0, 20, 35, 50, 65],
        help="server times (ms) of the no-op app's /wait endpoint, to show gradio_client's latency steps",
    )  # fmt: skip
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in LOCAL_HOSTS:
        parser.error(f"{args.url} is not on this machine: the load test only runs against localhost.")
    texts = [t for t in distinct_sentences(args.dataset_name, args.split) if t != SENTENCE_15_WORDS]  # the warm-up
    needed = 2 * args.alone + args.users * args.requests
    if len(texts) < needed:
        parser.error(f"the {args.split} split has {len(texts)} distinct sentences; this run needs {needed}.")
    alone_texts, raw_texts, loaded_texts = (
        texts[: args.alone],
        texts[args.alone : 2 * args.alone],
        texts[2 * args.alone : needed],
    )
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.2f} at the start; {needed} distinct sentences of {args.split}")  # fmt: skip

    process, url = None, args.url
    logs = Path(tempfile.gettempdir())
    noop_port = free_port()
    noop_url = f"http://127.0.0.1:{noop_port}/"
    noop_process = start_noop(noop_port, logs / f"load_test_noop_{noop_port}.log")
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        process = start_app(args.model, port, logs / f"load_test_{port}.log")
        print(f"# started python app.py on {url} (log: {logs / f'load_test_{port}.log'})")
    try:
        if process is not None:
            wait_for_first_answer(process, url, timeout=120)
        noop_client, client = wait_for_noop(noop_process, noop_url, timeout=120), Client(url, verbose=False)
        translate_request(client)  # warm: the first call of a client pays for its set-up
        alone: dict[str, list[float]] = {name: [] for name in ("app", "noop", "raw app", "raw noop", "cached app")}
        raw, raw_noop = RawClient(url, "translate"), RawClient(noop_url, "noop")
        phases = (
            (alone_texts, (("app", translate_request, client), ("noop", noop, noop_client))),
            (raw_texts, (("raw app", lambda c, t: c.predict(t, "additive", 5, False), raw),
                         ("raw noop", lambda c, t: c.predict(t), raw_noop))),
            ([SENTENCE_15_WORDS] * args.alone, (("cached app", translate_request, client),)),  # one sentence, repeated
        )  # fmt: skip
        for phase_texts, calls in phases:
            for text in phase_texts:  # alternating: both see the same machine at the same moment
                for name, call, who in calls:
                    started = time.perf_counter()
                    call(who, text)
                    alone[name].append(time.perf_counter() - started)
        steps = {}  # gradio_client's latency when the server takes ``ms``
        for ms in args.waits:
            steps[ms] = percentile(timed(lambda ms=ms: noop_client.predict("x", ms, api_name="/wait"), 20), 50)
        load = {"noop": run_loaded(client_for(noop_url), noop, loaded_texts, args.users, args.requests,
                                   args.deadline, noop_process.pid)}  # fmt: skip
        app_pid = process.pid if process is not None else None
        with PeakMemory(app_pid) if app_pid is not None else contextlib.nullcontext() as memory:
            load["app"] = run_loaded(
                client_for(url), translate_request, loaded_texts, args.users, args.requests, args.deadline, app_pid
            )
    finally:
        if process is not None:
            stop(process)
        stop(noop_process)

    p50 = {name: percentile(values, 50) for name, values in alone.items()}
    ratios = {
        "p50 alone": p50["app"] / p50["noop"],
        "p95 under load": load["app"].p95() / load["noop"].p95(),
        "throughput": load["app"].throughput() / load["noop"].throughput(),
    }
    print("\n| /translate (both models, beam 5) vs Gradio's no-op, distinct sentences | /translate | no-op | ratio "
          "| target |\n|---|---|---|---|---|")  # fmt: skip
    print(f"| p50 alone ({args.alone} requests each, alternating) | {p50['app'] * 1000:.0f} ms | "
          f"{p50['noop'] * 1000:.0f} ms | {ratios['p50 alone']:.2f}× | ≤ {TARGETS['p50 alone']}× |")  # fmt: skip
    raw_ratio = percentile(alone["raw app"], 50) / percentile(alone["raw noop"], 50)
    print(f"| p50 alone as the browser sends them (raw event stream; {args.alone} other sentences) | "
          f"{percentile(alone['raw app'], 50) * 1000:.0f} ms | {percentile(alone['raw noop'], 50) * 1000:.0f} ms | "
          f"{raw_ratio:.2f}× | |")  # fmt: skip
    cached = percentile(alone["cached app"], 50)
    print(f"| p50 alone, one sentence repeated (answered from the cache; not counted for the targets) | "
          f"{cached * 1000:.0f} ms | {p50['noop'] * 1000:.0f} ms | {cached / p50['noop']:.2f}× | |")  # fmt: skip
    users = f"{args.users} users × {args.requests} requests"
    print(f"| p95 under load ({users}) | {load['app'].p95():.2f} s | {load['noop'].p95():.2f} s | "
          f"{ratios['p95 under load']:.2f}× | ≤ {TARGETS['p95 under load']}× |")  # fmt: skip
    print(
        f"| throughput under load | {load['app'].throughput():.1f} requests/s | "
        f"{load['noop'].throughput():.1f} requests/s | {ratios['throughput']:.0%} | ≥ {TARGETS['throughput']:.0%} |"
    )
    print(f"| wall time for the {args.users * args.requests} requests | {load['app'].wall:.1f} s | "
          f"{load['noop'].wall:.1f} s | | |")  # fmt: skip
    print(f"| errors | {len(load['app'].errors)} | {len(load['noop'].errors)} | | 0 |")
    for name in ("app", "noop"):
        if load[name].app_cpu is not None:
            print(f"| CPU of the {name} server under load | {load[name].app_cpu:.1f} s "
                  f"({load[name].app_cpu / load[name].wall:.2f} cores) | | | |")  # fmt: skip
    if process is not None:
        print(f"| peak memory of the app under load (PSS) | {memory.peak:,.0f} MB | | | ≤ 1,500 MB |")
    if steps:
        print("\n| the no-op app's /wait endpoint: the server's time | " + " | ".join(f"{ms:.0f} ms" for ms in steps)
              + " |\n|---|" + "---|" * len(steps))  # fmt: skip
        print(
            "| p50 through gradio_client (20 calls each) | " + " | ".join(f"{v:.0f} ms" for v in steps.values()) + " |"
        )
    print(f"\n# load average {os.getloadavg()[0]:.2f} at the end")
    met = all(ratios[k] <= TARGETS[k] if k != "throughput" else ratios[k] >= TARGETS[k] for k in TARGETS) and not (
        load["app"].errors or load["noop"].errors
    )
    print(f"# targets {'met' if met else 'NOT met'}")
    for error in (load["app"].errors + load["noop"].errors)[:5]:
        print(f"error: {error}")
    sys.exit(1 if load["app"].errors or load["noop"].errors else 0)


if __name__ == "__main__":
    main()
