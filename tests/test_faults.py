"""Faults: training killed with SIGKILL and resumed, and the app started while the Hub is unreachable.

SIGKILL (no cleanup, no ``finally``): each run is a real ``python train.py`` process. The killed run is started
through a small bootstrap that makes the process send itself SIGKILL at a chosen point; ``train.py`` itself has no
test hooks. Two points:

- ``mid_epoch``: three optimizer steps into epoch 2, after epoch 1's checkpoint was written;
- ``checkpoint_write``: while writing epoch 2's checkpoint, after half a file has reached the disk.

The resumed run is the plain ``python train.py ... --resume_from_checkpoint``; it must give the same weights,
optimizer state and metrics as an uninterrupted run: the additive model of the session's tiny folder
(``conftest.tiny_model_folder``, the same data, sizes, seed and two epochs; each model of a run starts from the seed,
so training the others beside it changes nothing). The other faults of issue 6 are tested where they live:
corrupt or truncated checkpoints and safetensors files (test_train.py, test_hub.py), a failed push
(test_train.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import (
    REPO_ROOT,
    SUBPROCESS_TIMEOUT_S,
    TINY_MODEL_ARGS,
    assert_same_training_state,
    offline_env,
    run_subprocess,
)
from test_train import without_timing

from attention_demo.model_repo import load_model, read_json

ARGS = ("--attention", "additive")  # with TINY_MODEL_ARGS: the additive model of tiny_model_folder
KILL_AFTER_STEPS = 3

# Runs train.py's main in a process that kills itself with SIGKILL at the point named by argv[1].
BOOTSTRAP = f"""
import os, runpy, signal, sys
from pathlib import Path
import torch

point, checkpoint = sys.argv[1], Path(sys.argv[2])
sys.argv = ["train.py", *sys.argv[3:]]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "mid_epoch":
    real_step, steps = torch.optim.AdamW.step, []

    def step(self, *args, **kwargs):
        if checkpoint.is_file():  # epoch 1 is saved: this is epoch 2
            steps.append(1)
            if len(steps) == {KILL_AFTER_STEPS}:
                die()
        return real_step(self, *args, **kwargs)

    torch.optim.AdamW.step = step
elif point == "checkpoint_write":
    real_save = torch.save

    def save(obj, path, *args, **kwargs):
        if str(path).endswith(".tmp") and checkpoint.is_file():  # the second checkpoint
            Path(path).write_bytes(b"PK half a checkpoint")
            die()
        return real_save(obj, path, *args, **kwargs)

    torch.save = save
runpy.run_path("train.py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def uninterrupted(tiny_model_folder: Path) -> Path:
    """The reference: the same training, never interrupted (read-only)."""
    assert TINY_MODEL_ARGS[TINY_MODEL_ARGS.index("--num_train_epochs") + 1] == "2"  # the kill points are in epoch 2
    return tiny_model_folder


def only_additive(data: dict) -> dict:
    """A model folder's JSON file with the additive model's entries only (the reference folder has other models)."""
    return {key: {"additive": value["additive"]} if key == "models" else value for key, value in data.items()}


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid_epoch", "checkpoint_write"])
def test_sigkilled_training_resumes_to_the_same_weights_and_metrics(
    point: str, uninterrupted: Path, tmp_path: Path, tiny_argv: Callable[..., list[str]]
) -> None:
    """SIGKILL at ``point``, then ``--resume_from_checkpoint``: weights, optimizer and scheduler state and metrics
    equal an uninterrupted run's."""
    output = tmp_path / "models"
    argv = tiny_argv(output, *ARGS)
    checkpoint = output / "checkpoints" / "additive.pt"

    killed = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, point, str(checkpoint), *argv],
        cwd=REPO_ROOT, env=offline_env(), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert torch.load(checkpoint, weights_only=False)["state"]["epoch"] == 1  # the last complete checkpoint survived
    assert not (output / "metrics.json").exists()  # it died before the end
    if point == "checkpoint_write":
        assert checkpoint.with_suffix(".tmp").read_bytes() == b"PK half a checkpoint"

    resumed = run_subprocess([sys.executable, "train.py", *argv, "--resume_from_checkpoint"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout + resumed.stderr
    assert "epoch 1/2" not in resumed.stderr and "epoch 2/2" in resumed.stderr  # epoch 1 was not trained again

    expected, actual = load_model(uninterrupted, "additive").state_dict(), load_model(output, "additive").state_dict()
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[key], actual[key]) for key in expected)
    expected_checkpoint = torch.load(uninterrupted / "checkpoints" / "additive.pt", weights_only=False)
    assert_same_training_state(expected_checkpoint, torch.load(checkpoint, weights_only=False))
    metrics, expected_metrics = read_json(output / "metrics.json"), read_json(uninterrupted / "metrics.json")
    assert without_timing(metrics) == without_timing(only_additive(expected_metrics))
    history, expected_history = read_json(output / "history.json"), read_json(uninterrupted / "history.json")
    assert without_timing(history) == without_timing({"additive": expected_history["additive"]})
    assert without_timing(read_json(output / "attention_evolution.json")) == without_timing(
        only_additive(read_json(uninterrupted / "attention_evolution.json"))
    )


# --- the Hub unreachable when the app starts -------------------------------------------------------------------------

UNREACHABLE_HUB = "http://10.255.255.1"  # a non-routable address: connecting to it can only time out or fail


@pytest.mark.slow
def test_app_falls_back_to_the_bundled_models_when_the_hub_is_unreachable(tmp_path: Path) -> None:
    """``python app.py --model <hub id>`` with the network down (not offline mode): the app still starts, on the
    bundled models, and its header says why; it translates. How long the fallback takes is in
    benchmarks/benchmark_app.py."""
    import httpx
    from gradio_client import Client
    from test_app import free_port

    from attention_demo.ui.client import output_text, translate_result

    port = free_port()
    env = offline_env(GRADIO_SERVER_PORT=str(port), HF_ENDPOINT=UNREACHABLE_HUB, HF_HOME=str(tmp_path / "hf"))
    del env["HF_HUB_OFFLINE"]  # the app has to find out by itself that the Hub cannot be reached
    repo = "attention-demo/some-model"
    with (tmp_path / "app.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--model", repo], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        config = None
        for _ in range(600):  # the app loads the bundled models and builds its UI: up to a minute on a busy machine
            assert process.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            try:
                config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert config is not None, "the app did not start"
        shown = [c["props"].get("value") or "" for c in config["components"] if c["type"] == "markdown"]
        notice = next(text for text in shown if repo in text)
        assert "Could not load" in notice and "bundled models" in notice

        result = translate_result(
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                "Ein Hund rennt über die Wiese .", "additive", 2, False, api_name="/translate"
            )
        )
        assert output_text(result["output_words"]) and result["baseline_text"] and result["heatmap"]["rows"]
    finally:
        process.terminate()
        process.wait(timeout=30)
