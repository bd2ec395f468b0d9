"""The model repo: one folder (a local directory or a Hub model repo) that holds everything ``train.py`` produces.

Layout::

    <folder>/
        README.md                   model card (dataset, languages, how to load, results as model-index)
        tokenizer.<src>.json        source tokenizer, shared by all models
        tokenizer.<tgt>.json        target tokenizer
        <name>/config.json          one subfolder per model: additive, dot, general, baseline, ...
        <name>/model.safetensors
        metrics.json                test BLEU/chrF per model, by-length buckets, sacreBLEU signatures
        history.json                per-epoch training curves per model
        attention_evolution.json    attention maps of a few fixed validation sentences after every epoch
        test_examples.json          a sample of test pairs {"de": ..., "en": ...} for the app
        checkpoints/                resumable training state (never pushed)
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from attention_demo.model import BASELINE, Seq2Seq

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
ATTENTION_EVOLUTION_FILE = "attention_evolution.json"
TEST_EXAMPLES_FILE = "test_examples.json"
CHECKPOINT_DIR = "checkpoints"
MODEL_ORDER = ("additive", "general", "dot", BASELINE)  # display order; other names sort after these


class ModelLoadError(RuntimeError):
    """Weights or config that cannot be loaded; the message names the file."""


def model_names(folder: str | Path) -> list[str]:
    """Names of the models in a folder (subfolders with a config.json), in display order."""
    names = [p.parent.name for p in Path(folder).glob("*/config.json") if p.parent.name != CHECKPOINT_DIR]
    return sorted(names, key=lambda n: (MODEL_ORDER.index(n) if n in MODEL_ORDER else len(MODEL_ORDER), n))


def save_model(model: Seq2Seq, directory: str | Path, dtype: torch.dtype = torch.float16) -> None:
    """Write config.json + model.safetensors with weights cast to ``dtype`` (fp16 halves the download).

    A cast copy is saved; ``model`` is left untouched (casting it to fp16 and back would round its weights).
    """
    copy.deepcopy(model).to(dtype).save_pretrained(directory)


def load_model(folder: str | Path, name: str, device: str | torch.device = "cpu") -> Seq2Seq:
    """Load model ``name`` from a model folder, in float32, with strict key checking.

    Raises:
        ModelLoadError: missing folder/files, a corrupt safetensors file, or weights that do not match the config.
    """
    directory = Path(folder) / name
    if not directory.is_dir():
        available = ", ".join(model_names(folder)) or "none"
        raise ModelLoadError(f"No model {name!r} in {folder}; available models: {available}.")
    for filename in ("config.json", "model.safetensors"):
        if not (directory / filename).is_file():
            raise ModelLoadError(f"{directory / filename} is missing; the model folder is incomplete.")
    try:
        # Loaded on the CPU, then moved: safetensors rejects devices such as "cpu:0" (a DDP run's CPU device).
        # huggingface_hub prints "Loading weights from local directory" to stdout, which would corrupt the
        # one-line-per-input stdout of ``python -m attention_demo.translate``: send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            model = Seq2Seq.from_pretrained(str(directory), strict=True, map_location="cpu")
    except (SafetensorError, RuntimeError, OSError, ValueError, TypeError, json.JSONDecodeError) as error:
        raise ModelLoadError(
            f"Could not load {directory / 'model.safetensors'} (or its config.json): {error}. "
            "The file is corrupt or does not match the config; re-download or re-train the model."
        ) from error
    return model.float().to(device).eval()


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON via a temporary file and rename, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        tmp = f.name
    os.replace(tmp, path)


def read_json(path: str | Path, default: Any = None) -> Any:
    """Read a JSON file, or return ``default`` if it does not exist."""
    path = Path(path)
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))
