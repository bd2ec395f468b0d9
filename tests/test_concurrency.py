"""Many visitors at once: no request disturbs another.

The models are shared by every request the server runs. These tests run translate, compare, evidence (every
attribution method), surgery and the step view on the same models from several threads at once, in-process and
through a real server with ``gradio_client``, and require every result to be bit-identical to the same call made
alone, with no error. They also check that every event that runs a model is in the one concurrency group, so that
``CONCURRENCY_LIMIT`` bounds the model runs of the whole server.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from test_app import free_port, offline_app_env  # noqa: F401 (offline_app_env: autouse)

from attention_demo import evidence
from attention_demo.model import Seq2Seq
from attention_demo.translate import Translator
from attention_demo.ui import concurrency, serving
from attention_demo.ui.client import translate_result
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.tabs import compare as compare_tab
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import live as live_tab
from attention_demo.ui.tabs import step as step_tab
from attention_demo.ui.tabs import translate as translate_tab
from attention_demo.ui.tabs import why as why_tab

SENTENCES = [
    "Die kleine katze sieht die große hund im park .",
    "Ein mann läuft .",
    "Die frau und der hund spielen mit einem ball auf der straße im park .",
    "Zwei kinder sitzen auf einer bank .",
]
THREADS = 6
ROUNDS = 2  # every job runs this many times in the concurrent phase, in a shuffled order

# Every handler (by its function's name in wiring.wire or in a tab module's wire) that runs a model, and the one-off
# figure drawing of the "Why attention helps" tab (no model; drawn once for all visitors, under the default limit).
MODEL_HANDLERS = {
    "translate", "translate_example", "translate_random", "open_evidence", "operate", "open_step", "show_step",
    "compare", "aligner", "apply_link", "show_hypothesis",
}  # fmt: skip
DEFAULT_LIMIT_HANDLERS = {"open_why"}
OWN_GROUP_HANDLERS = {"train"}  # the live training: its own group of one (ui/tabs/live.py)


@pytest.fixture(scope="module")
def demo(tiny_model_folder: Path) -> AttentionDemo:
    return AttentionDemo(Translator(tiny_model_folder), "Models: tiny test folder.")


def fingerprint(value: Any) -> Any:
    """``value`` as plain, exactly comparable data: arrays and tensors as (dtype, shape, bytes); figures (drawn from
    the same numbers) and the serial that tells two translations apart are left out."""
    if isinstance(value, Figure):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: fingerprint(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "serial"}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return (str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, pd.DataFrame):
        return fingerprint(value.to_dict("split"))
    if isinstance(value, dict):
        return {key: fingerprint(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [fingerprint(item) for item in value]
    if isinstance(value, float) and np.isnan(value):
        return "nan"
    return value


def jobs(demo: AttentionDemo) -> dict[str, Callable[[], Any]]:
    """Every kind of model-running request the page makes, on the same models, each a call with fixed arguments."""
    work: dict[str, Callable[[], Any]] = {}
    shown = {}
    for k, sentence in enumerate(SENTENCES):
        name = demo.attention_types[k % len(demo.attention_types)]
        work[f"translate {k} {name}"] = lambda s=sentence, n=name: translate_tab.translate_view(demo, s, n, 3)
        shown[k] = translate_tab.translate_view(demo, sentence, name, 3).shown
    work["compare"] = lambda: compare_tab.compare_view(demo, SENTENCES[2], 2, True)
    for k in (0, 2):
        for method in evidence.ATTRIBUTION_METHODS:
            work[f"evidence {k} {method}"] = lambda s=shown[k], m=method: evidence_tab.evidence_view(
                demo, s, 0, False, m
            )
        for mode in evidence.SURGERY_MODES:
            work[f"surgery {k} {mode}"] = lambda s=shown[k], m=mode: evidence_tab.surgery_view(demo, s, 0, 1, m, 0)
        work[f"step {k}"] = lambda s=shown[k]: step_tab.step_view(demo, s, 0, 1)
    work["aligner"] = lambda: why_tab.aligner_view(demo, demo.attention_types[0], 0)
    return work


def test_concurrent_requests_give_the_results_of_requests_made_alone(demo: AttentionDemo) -> None:
    work = jobs(demo)
    alone = {name: fingerprint(job()) for name, job in work.items()}
    order = [name for name in work for _ in range(ROUNDS)]
    random.Random(0).shuffle(order)
    start = threading.Barrier(THREADS)

    def run(name: str) -> Any:
        try:
            start.wait(timeout=0.5)  # the first requests start together
        except threading.BrokenBarrierError:
            pass
        return fingerprint(work[name]())

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [(name, pool.submit(run, name)) for name in order]
        results = [(name, future.result()) for name, future in futures]  # any exception fails the test here
    differing = sorted({name for name, result in results if result != alone[name]})
    assert not differing, f"results that differ from the same request made alone: {differing}"


def test_no_request_leaves_hooks_on_the_shared_models(demo: AttentionDemo) -> None:
    shown = translate_tab.translate_view(demo, SENTENCES[0], demo.attention_types[0], 2).shown
    for method in evidence.ATTRIBUTION_METHODS:
        evidence_tab.evidence_view(demo, shown, 0, False, method)
    for model in demo.translator.models.values():
        for module in model.modules():
            assert not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks), module


def test_evidence_registers_no_hook_while_it_runs(demo: AttentionDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attribution takes the source embeddings as an input and cuts the output with ``decode(positions=)``: it never
    registers a hook, which would act on every thread's use of the shared module."""
    registered = []
    for name in ("register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook"):
        original = getattr(torch.nn.Module, name)

        def record(module: torch.nn.Module, *args: Any, _original: Callable = original, **kwargs: Any) -> Any:
            registered.append(type(module).__name__)
            return _original(module, *args, **kwargs)

        monkeypatch.setattr(torch.nn.Module, name, record)
    shown = translate_tab.translate_view(demo, SENTENCES[1], demo.attention_types[0], 2).shown
    for method in evidence.ATTRIBUTION_METHODS:
        evidence_tab.evidence_view(demo, shown, 0, False, method)
    assert registered == []


def event_name(fn: Any) -> str:
    return getattr(fn.fn, "__wrapped__", fn.fn).__name__


def test_every_model_running_event_shares_one_concurrency_group(demo: AttentionDemo) -> None:
    blocks, _ = serving.build(demo)
    events = [fn for fn in blocks.fns.values() if fn.fn is not None]
    grouped = {event_name(fn) for fn in events if fn.concurrency_id == concurrency.MODEL_GROUP}
    assert grouped == MODEL_HANDLERS
    for fn in events:
        name = event_name(fn)
        if name in MODEL_HANDLERS:
            assert fn.concurrency_limit == concurrency.CONCURRENCY_LIMIT, name
        elif name in OWN_GROUP_HANDLERS:
            assert (fn.concurrency_id, fn.concurrency_limit) == (live_tab.LIVE_GROUP, live_tab.LIVE_LIMIT), name
        elif name not in DEFAULT_LIMIT_HANDLERS:
            assert fn.concurrency_limit is None, f"{name} runs no model and should never wait behind one"


def test_events_outside_the_group_run_no_model(demo: AttentionDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Call every unlimited event's handler with real values: none of them may run a model."""
    blocks, ui = serving.build(demo)
    shown = translate_tab.translate_view(demo, SENTENCES[0], demo.attention_types[0], 2).shown
    calls = []
    encode = Seq2Seq.encode
    monkeypatch.setattr(Seq2Seq, "encode", lambda *args, **kwargs: calls.append(1) or encode(*args, **kwargs))
    values = {ui.translate.shown: shown, ui.translate.hypothesis: 0, ui.translate.merge: False}
    select = gr.SelectData(ui.translate.heatmap, {"index": 1, "value": None})
    called = set()
    for fn in blocks.fns.values():
        if fn.fn is None or fn.concurrency_limit is not None:
            continue
        name = event_name(fn)
        if name == "evolution":
            args = [why_tab.evolution_choices(demo)[0][0], 0, 1]
        elif name == "open_page":  # a link's sentence is translated by the next event (apply_link), not here
            args = [link_request("s=Ein+Hund+rennt.&t=evidence")]
        elif name == "remember_tab":
            args = [gr.SelectData(ui.tabs, {"index": 1, "value": "Evidence"})]
        elif name == "make_link":
            args = [SENTENCES[0], demo.attention_types[0], 3, 1, 2, "step", "occlusion"]
        else:
            args = [values.get(block) for block in fn.inputs] + ([select] if name == "inspect_word" else [])
        result = fn.fn(*args)
        assert isinstance(result, dict), name
        called.add(name)
    assert {"open_page", "redraw", "inspect_word", "evolution", "remember_tab", "make_link"} <= called
    assert calls == []


def link_request(query: str) -> gr.Request:
    """A request for the page with ``query`` as its query string."""
    from starlette.requests import Request

    return gr.Request(Request({"type": "http", "query_string": query.encode(), "headers": []}))


def test_concurrent_clients_and_evidence_beside_a_real_server(demo: AttentionDemo) -> None:
    """The two-window scenario: visitors translate through the server (``gradio_client``) while evidence of every
    method is computed on the same models; every answer equals the one given alone, with no error."""
    from gradio_client import Client

    blocks, _ = serving.build(demo)
    port = free_port()
    serving.launch(blocks, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        requests = [(s, demo.attention_types[k % len(demo.attention_types)]) for k, s in enumerate(SENTENCES)]
        client = Client(url, verbose=False)
        alone = {r: client.predict(*r, 3, False, api_name="/translate") for r in requests}
        compared_alone = client.predict(SENTENCES[2], 2, False, api_name="/compare")
        shown = translate_tab.translate_view(demo, SENTENCES[2], demo.attention_types[0], 3).shown
        evidence_alone = {
            m: fingerprint(evidence_tab.evidence_view(demo, shown, 0, False, m)) for m in evidence.ATTRIBUTION_METHODS
        }

        def visitor(seed: int) -> list[tuple[Any, Any]]:
            own = Client(url, verbose=False)
            order = requests * 2
            random.Random(seed).shuffle(order)
            answers = [(r, own.predict(*r, 3, False, api_name="/translate")) for r in order]
            answers.append(("compare", own.predict(SENTENCES[2], 2, False, api_name="/compare")))
            return answers

        with ThreadPoolExecutor(5) as pool:
            visitors = [pool.submit(visitor, seed) for seed in range(3)]
            evidences = [
                pool.submit(evidence_tab.evidence_view, demo, shown, 0, False, m) for m in evidence.ATTRIBUTION_METHODS
            ]
            answers = [answer for future in visitors for answer in future.result()]
            for method, future in zip(evidence.ATTRIBUTION_METHODS, evidences, strict=True):
                assert fingerprint(future.result()) == evidence_alone[method], method
        for request, answer in answers:
            expected = compared_alone if request == "compare" else alone[request]
            assert answer == expected, request
        assert all(translate_result(a)["notice"].startswith("Translated") for r, a in answers if r != "compare")
    finally:
        blocks.close()


def test_repeated_requests_reuse_their_search_and_give_the_same_view(demo: AttentionDemo) -> None:
    """The cache for repeated requests: the second identical request runs no model and shows the same view."""
    sentence, name = "Ein hund und eine katze .", demo.attention_types[0]
    first = fingerprint(translate_tab.translate_view(demo, sentence, name, 2))
    searches, read_backs = demo._translate_one.cache_info(), demo._read_back.cache_info()
    assert fingerprint(translate_tab.translate_view(demo, sentence, name, 2)) == first
    assert demo._translate_one.cache_info().misses == searches.misses  # no search ran
    assert demo._translate_one.cache_info().hits == searches.hits + 2  # the attention model and the baseline
    assert demo._read_back.cache_info().misses == read_backs.misses  # nor the other direction's reading
    translate_tab.translate_view(demo, sentence, name, 3)  # another beam size is another search
    assert demo._translate_one.cache_info().misses == searches.misses + 2
