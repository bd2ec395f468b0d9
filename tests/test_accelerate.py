"""Integration test of multi-process (DDP) training through `accelerate launch`, on the CPU.

`accelerate launch --cpu --num_processes 2` starts several CPU processes only through mpirun; without MPI it runs a
single process. The torchrun-based launcher (`--multi_gpu`) plus ``ACCELERATE_USE_CPU=1`` gives real CPU DDP (gloo).
"""

from __future__ import annotations

import math
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import TINY_SPLIT_SIZES, run_subprocess

from attention_demo.model_repo import load_model, read_json

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A TCP port that is free right now (for the DDP rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_cpu_ddp_run_writes_metrics(tmp_path: Path, tiny_argv: Callable[..., list[str]]) -> None:
    """Two DDP processes train one tiny epoch of two models together and rank 0 writes the model folder."""
    output = tmp_path / "ddp"
    launch = [
        str(Path(sys.executable).parent / "accelerate"), "launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
    ]  # fmt: skip
    argv = tiny_argv(output, "--num_train_epochs", "1", "--attention", "additive", "baseline")
    result = run_subprocess([*launch, "train.py", *argv], ACCELERATE_USE_CPU="1")
    assert result.returncode == 0, result.stderr[-5000:]

    metrics = read_json(output / "metrics.json")
    assert "2 process(es)" in metrics["hardware"]  # really distributed, not two independent runs
    assert list(metrics["models"]) == ["additive", "baseline"]
    assert metrics["num_train_samples"] == TINY_SPLIT_SIZES["train"]
    history = read_json(output / "history.json")
    for name in ("additive", "baseline"):
        (row,) = history[name]
        assert row["epoch"] == 1 and math.isfinite(row["train_loss"]) and row["tokens_per_second"] > 0
        assert 0.0 <= metrics["models"][name]["bleu"] <= 100.0
        load_model(output, name)
    assert (output / "README.md").is_file()
