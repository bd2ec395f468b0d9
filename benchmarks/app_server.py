"""Helpers shared by the app benchmark, the load test and the app's process tests: start ``python app.py`` in a
subprocess, wait for its first answer, read its memory, and summarise latencies. Localhost only; the Hub is switched
off (``HF_HUB_OFFLINE=1``) unless asked otherwise.

The answers are read by name through the app's public API (:func:`attention_demo.ui.client.translate_result`).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from gradio_client import Client

from attention_demo.data import load_parallel_data
from attention_demo.ui.client import output_text, translate_result

REPO_ROOT = Path(__file__).resolve().parent.parent
SENTENCE_15_WORDS = "Ein kleines Mädchen in einem rosa Kleid klettert die Treppe zu einem Spielhaus aus Holz hinauf ."
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def distinct_sentences(dataset_name: str, split: str, seed: int = 0) -> list[str]:
    """The source sentences of ``split``, each once, in a fixed shuffled order (short and long mixed)."""
    corpus = load_parallel_data(dataset_name, "de", "en", splits=[split])[split]
    sentences = list(dict.fromkeys(corpus.source))
    random.Random(seed).shuffle(sentences)
    return sentences


def free_port() -> int:
    """A TCP port that is free on localhost right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    model: str | None,
    port: int,
    log_path: Path,
    python: str | Path = sys.executable,
    base_env: dict[str, str] | None = None,
    **env_changes: str | None,
) -> subprocess.Popen:
    """Start ``python app.py`` from the repository root on ``port`` (bundled models unless ``model``), logging to
    ``log_path``.

    The environment is ``base_env`` (default: this process's) with the Hub off (``HF_HUB_OFFLINE=1``) and no
    analytics, then ``env_changes``; a value of None removes a variable.
    """
    env = {**(os.environ if base_env is None else base_env), "GRADIO_SERVER_PORT": str(port), **QUIET_ENV}
    env = {name: value for name, value in {**env, **env_changes}.items() if value is not None}
    command = [str(python), str(REPO_ROOT / "app.py")] + (["--model", model] if model else [])
    log = log_path.open("w")
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def translate_request(
    client: Client, text: str = SENTENCE_15_WORDS, attention_type: str = "additive", beam: int = 5
) -> dict:
    """One call of the app's ``/translate`` endpoint (both models, the beam table and the heatmap), by output name."""
    result = translate_result(client.predict(text, attention_type, beam, False, api_name="/translate"))
    if not output_text(result["output_words"]) or not result["baseline_text"] or not result["heatmap"]:
        raise RuntimeError(f"incomplete answer: {str(result)[:300]}")
    return result


class RawClient:
    """Calls an endpoint the way the browser does: POST ``queue/join``, then read the ``queue/data`` event stream.

    ``gradio_client`` polls its message queue every 50 ms, which adds tens of milliseconds to every call it makes;
    this client shows what the server itself takes (the same queue, the same handlers, the same serialisation).
    """

    def __init__(self, url: str, api_name: str) -> None:
        import httpx

        self.base = url.rstrip("/") + "/gradio_api"
        config = httpx.get(url.rstrip("/") + "/config", timeout=30).json()
        self.fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name)
        self.http = httpx.Client(timeout=60)
        # One session for all its calls, as a browser tab has (Gradio sets up a session's state on its first call).
        self.session = uuid.uuid4().hex

    def predict(self, *data: object) -> list:
        body = {"data": list(data), "fn_index": self.fn_index, "session_hash": self.session, "event_data": None}
        self.http.post(f"{self.base}/queue/join", json=body).raise_for_status()
        with self.http.stream("GET", f"{self.base}/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        if not message.get("success"):
                            raise RuntimeError(f"request failed: {message}")
                        return message["output"]["data"]
        raise RuntimeError("the event stream ended without a result")


def wait_for_first_answer(process: subprocess.Popen, url: str, timeout: float) -> tuple[float, float]:
    """Poll until the app accepts a client and answers ``/translate``.

    Returns (seconds until the port answered, seconds until the first translation), both from now.
    """
    started = time.perf_counter()
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    port_open = None
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode} before answering")
        if port_open is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                port_open = time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
                continue
        try:
            translate_request(Client(url, verbose=False))
            return port_open, time.perf_counter() - started
        except Exception:  # not ready yet (the routes come up just after the port)
            time.sleep(0.1)
    raise TimeoutError(f"the app did not answer within {timeout:.0f} s")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from ``/proc`` (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # field 4: ppid
        except (OSError, ValueError):  # the process ended meanwhile
            continue
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return tree


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    return 0


def summed_peak_rss_mb(pid: int) -> float:
    """Peak resident memory in MB of the app's processes (server and any descendants), summed: an upper bound when
    processes share pages (:func:`pss_mb` counts shared pages once)."""
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid)) / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size in MB of the app's processes now: each shared page split among its sharers."""
    total = 0
    for p in process_tree(pid):
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


class PeakMemory:
    """Samples :func:`pss_mb` of the app every ``interval`` seconds in a thread; ``peak`` is the largest sample.

    The kernel keeps a peak resident size per process (VmHWM), but none that counts shared pages once.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, pss_mb(self.pid))
            except OSError:  # a process ended between listing and reading
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, pss_mb(self.pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the app's processes have used so far, from ``/proc``."""
    total = 0
    for p in process_tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    return float(np.percentile(values, q))


def stop(process: subprocess.Popen) -> None:
    """Terminate the app and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
