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
        alignment_links.json        a word aligner's links for the test references (heatmap markers, AER)
        checkpoints/<name>.pt       resumable training state (never pushed)

The file names and the functions that read and write these files are here; other modules call them (training writes
its checkpoints itself, at :func:`checkpoint_file`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from tokenizers import Tokenizer

from attention_demo.model import MODEL_NAMES, Seq2Seq
from attention_demo.tokenizer import load_tokenizer

logger = logging.getLogger(__name__)

MODEL_CARD_FILE = "README.md"
CONFIG_FILE = "config.json"  # written by Seq2Seq.save_pretrained (huggingface_hub's name)
WEIGHTS_FILE = "model.safetensors"  # likewise
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
ATTENTION_EVOLUTION_FILE = "attention_evolution.json"
TEST_EXAMPLES_FILE = "test_examples.json"
ALIGNMENT_LINKS_FILE = "alignment_links.json"  # a word aligner's links for the test references (alignment.py)
CHECKPOINT_DIR = "checkpoints"


class ModelLoadError(RuntimeError):
    """Weights or config that cannot be loaded; the message names the file."""


def model_names(folder: str | Path) -> list[str]:
    """Names of the models in a folder (subfolders with a config.json), in ``MODEL_NAMES`` order (others after)."""
    names = [p.parent.name for p in Path(folder).glob(f"*/{CONFIG_FILE}") if p.parent.name != CHECKPOINT_DIR]
    return sorted(names, key=model_order)


def model_order(name: str) -> tuple[int, str]:
    """Sort key that puts model names in ``MODEL_NAMES`` order, unknown names after them alphabetically."""
    return (MODEL_NAMES.index(name) if name in MODEL_NAMES else len(MODEL_NAMES), name)


def tokenizer_filename(lang: str) -> str:
    """Tokenizers sit in the model folder as ``tokenizer.<lang>.json``."""
    return f"tokenizer.{lang}.json"


def save_tokenizer(tokenizer: Tokenizer, folder: str | Path, lang: str) -> Path:
    """Write the tokenizer of language ``lang`` into the folder (atomically, like the JSON files); returns its path."""
    path = Path(folder) / tokenizer_filename(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tokenizer.save(str(tmp))
    os.replace(tmp, path)
    return path


def load_tokenizers(folder: str | Path, source_lang: str, target_lang: str) -> tuple[Tokenizer, Tokenizer]:
    """The source and target tokenizers of a model folder (clear errors if missing or broken)."""
    source, target = (load_tokenizer(Path(folder) / tokenizer_filename(lang)) for lang in (source_lang, target_lang))
    return source, target


def checkpoint_file(folder: str | Path, name: str) -> Path:
    """Where training keeps the resumable state of model ``name``."""
    return Path(folder) / CHECKPOINT_DIR / f"{name}.pt"


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
    for filename in (CONFIG_FILE, WEIGHTS_FILE):
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
            f"Could not load {directory / WEIGHTS_FILE} (or its {CONFIG_FILE}): {error}. "
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


def read_optional_json(path: str | Path) -> Any:
    """A JSON file that a folder may lack or hold damaged (metrics, history, ...): its content, or None when it is
    missing or unreadable (then a warning is logged and the caller shows what it can without it)."""
    try:
        return read_json(path)
    except (OSError, ValueError) as error:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        logger.warning("Ignoring %s: %s", path, error)
        return None


def read_test_examples(folder: str | Path, source_lang: str, target_lang: str) -> list[dict[str, str | None]]:
    """The folder's example sentences as ``{"source": str, "reference": str | None}``, in file order.

    ``test_examples.json`` holds a list of ``{source_lang: ..., target_lang: ...}`` pairs (as ``train.py`` writes
    it; ``{"source": ..., "reference": ...}`` is accepted too). Rows without a source sentence are skipped; a
    missing or unreadable file gives an empty list.
    """
    rows = read_optional_json(Path(folder) / TEST_EXAMPLES_FILE)
    examples: list[dict[str, str | None]] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        source = row.get(source_lang) or row.get("source")
        reference = row.get(target_lang) or row.get("reference")
        if isinstance(source, str) and source.strip():
            examples.append({"source": source.strip(), "reference": reference if isinstance(reference, str) else None})
    return examples
