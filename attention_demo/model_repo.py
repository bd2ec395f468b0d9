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

The file names and the functions that read and write these files are here, training's checkpoints included
(:func:`save_checkpoint`, :func:`load_checkpoint`); other modules call them.

**The JSON files' schema** (the second half of this module) is defined once, here: every key of ``metrics.json``,
``history.json``, ``attention_evolution.json`` and ``alignment_links.json`` that more than one module reads is a
constant or a ``TypedDict`` field below, and every read and write goes through the functions next to them.
``metrics.json`` has one section per command that writes it::

    {"models": {name: ModelScores},      # train.py: test scores per model (record_test_scores)
     "dataset": ..., "split": ..., ...,   # train.py: the run's settings (RUN_FIELDS)
     "evidence": EvidenceSection,         # python -m attention_demo.evidence (write_metrics_section)
     "alignment": AlignmentSection}       # python -m attention_demo.alignment (write_metrics_section), and inside it
                                          # "ablations": scripts/ablation_table.py (update_metrics), kept by the former

Readers tolerate a missing or damaged file (the app shows what it can without it); writers re-read the file, change
only their own part and replace it atomically, and refuse to overwrite a file they cannot read.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

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
ALIGNMENT_LINKS_FILE = "alignment_links.json"  # a word aligner's links for the test references (the alignment command)
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


# ---------------------------------------------------------------------------------------------------------------------
# The JSON files' schema: metrics.json, history.json, attention_evolution.json, alignment_links.json
# ---------------------------------------------------------------------------------------------------------------------

# metrics.json's sections, each written by one command.
MODELS_KEY = "models"  # train.py: test scores per model
EVIDENCE_KEY = "evidence"  # python -m attention_demo.evidence: attribution, agreement, completeness per model
ALIGNMENT_KEY = "alignment"  # python -m attention_demo.alignment: AER and the </s> sink per attention model
ABLATIONS_KEY = "ablations"  # inside "alignment": scripts/ablation_table.py's rows, scored on other runs' folders
# The run's settings that train.py stores at the top level, beside "models".
RUN_FIELDS = (
    "dataset",
    "split",
    "source_lang",
    "target_lang",
    "beam_size",
    "hardware",
    "num_train_samples",
    "num_eval_samples",
)
# Sections computed from a model's weights after training: retraining that model makes its entry ("models" ->
# name) stale (drop_stale_entries).
DERIVED_SECTIONS = (EVIDENCE_KEY, ALIGNMENT_KEY)
# Parts of a section that another tool writes and that rewriting the section keeps: the alignment command rewrites
# "alignment" but never recomputes the ablation rows, which scripts/ablation_table.py scored on other folders.
KEPT_ON_REWRITE = {ALIGNMENT_KEY: (ABLATIONS_KEY,)}


class LengthBucket(TypedDict, total=False):
    """One source-length bucket of a model's test scores."""

    bucket: str  # "1-10", "11-15", ... (evaluation.LENGTH_BUCKETS)
    num_sentences: int
    bleu: float
    chrf: float


class ModelScores(TypedDict, total=False):
    """``metrics.json["models"][name]``: one model's test scores (train.py)."""

    bleu: float
    bleu_lc: float
    chrf: float
    num_sentences: int
    signatures: dict[str, str]  # sacreBLEU signatures: "bleu", "bleu_lc", "chrf"
    by_length: list[LengthBucket]
    best_epoch: int
    best_val_bleu: float
    train_seconds: float
    num_parameters: int
    agreement_weight: float  # only a model trained jointly with its other-direction twin (agreement training)


class Summary(TypedDict, total=False):
    """A distribution over output steps: its mean and, for histograms, bin edges and counts."""

    mean: float | None
    count: int
    bins: list[float]
    counts: list[int]


class AgreementSummary(TypedDict, total=False):
    """``evidence["models"][name]["agreement"]["<a>_vs_<b>"]``: how two kinds of rows agree over the corpus."""

    kendall_tau: Summary
    top1: Summary
    jsd: Summary
    chance_top1: float | None
    num_steps: int


class EvidenceModel(TypedDict, total=False):
    """``evidence["models"][name]``: one model's corpus evidence (attention_demo.evidence.evaluate_model)."""

    gradient_by_distance: dict[str, list]  # "distance", "mean_saliency", "mean_grad_x_input", "pairs"
    agreement: dict[str, AgreementSummary]  # keyed "<a>_vs_<b>" (attention_demo.evidence.agreement_pairs)
    top1_on_eos: dict[str, float | None]  # per measure: the share of steps whose largest value is on </s>
    integrated_gradients_completeness: dict[str, Any]
    num_sentences: int
    seconds: float


class EvidenceSection(TypedDict, total=False):
    """``metrics.json["evidence"]`` (attention_demo.evidence.evaluate_folder)."""

    dataset: str
    split: str
    num_sentences: int
    decoding: str
    method: dict[str, Any]  # how each measure was computed, in words
    ig_steps: int
    models: dict[str, EvidenceModel]
    seconds: float


class AlignmentScores(TypedDict, total=False):
    """Links against a word aligner's (attention_demo.alignment.summarise; the diagonal has the first five)."""

    precision: float
    recall: float
    aer: float
    links: int
    gold_links: int
    eos_sink: float
    null: float
    last_word: float
    mean_max_weight: float
    words: int


class AlignmentModel(TypedDict, total=False):
    """``alignment["models"][name]``: one attention model on the test references and on its own translations."""

    reference: AlignmentScores
    translation: AlignmentScores
    translation_diagonal: AlignmentScores
    reverse: AlignmentScores  # with --reverse_model: the other direction's model of the same name, same references
    two_way: AlignmentScores  # and both directions' links symmetrised (plus "mismatched": pairs split otherwise)
    agreed: AlignmentScores  # and the links both directions make (the app's rings)


class AblationRow(TypedDict, total=False):
    """One run of scripts/ablations.sh, as scripts/ablation_table.py scores it."""

    variant: str  # the design change, in words
    run: str  # the run's folder name
    eos_sink: float
    null: float
    last_word: float
    mean_max_weight: float
    aer: float
    aer_translation: float
    bleu: float
    chrf: float
    train_seconds: float
    epochs: int


class Ablations(TypedDict, total=False):
    """``alignment["ablations"]``: written by scripts/ablation_table.py --write_to, kept by the alignment command."""

    model: str
    budget: str
    diagonal_aer: float | None
    rows: list[AblationRow]


class AlignmentSection(TypedDict, total=False):
    """``metrics.json["alignment"]`` (attention_demo.alignment.evaluate_folder, plus the ablations)."""

    dataset: str
    split: str
    num_sentences: int
    aligner: str
    method: str
    beam_size: int
    diagonal: AlignmentScores
    models: dict[str, AlignmentModel]
    seconds: float
    aligner_seconds: float
    ablations: Ablations


class HistoryRow(TypedDict, total=False):
    """``history.json[name][k]``: one epoch of one model's training."""

    epoch: int
    train_loss: float
    val_loss: float
    val_perplexity: float
    val_bleu: float
    tokens_per_second: float
    epoch_seconds: float
    learning_rate: float
    agreement: float  # agreement training only: the epoch's mean agreement term


class SnapshotTranslation(TypedDict, total=False):
    """One snapshot sentence as a model translated it after one epoch."""

    source_pieces: list[str]
    target_pieces: list[str]
    attention: list[list[float]]  # (target pieces, source pieces)


class Snapshot(TypedDict, total=False):
    """``attention_evolution.json["models"][name][k]``: the snapshot sentences after one epoch."""

    epoch: int
    translations: list[SnapshotTranslation]


class AlignedSentence(TypedDict, total=False):
    """``alignment_links.json["sentences"][k]``: a word aligner's links for one test reference."""

    source: str
    source_words: list[str]
    target_words: list[str]
    links: str  # Pharaoh format, "j-i" with source word j first (attention_demo.alignment.format_pharaoh)


def get_dict(content: Any, *keys: str) -> dict[str, Any]:
    """The dict at ``content[keys[0]][keys[1]]...``; ``{}`` where a level is missing or is not a dict.

    >>> get_dict({"a": {"b": {"c": 1}}}, "a", "b"), get_dict({"a": [1]}, "a"), get_dict(None, "a")
    ({'c': 1}, {}, {})
    """
    for key in keys:
        content = content.get(key) if isinstance(content, dict) else None
    return content if isinstance(content, dict) else {}


def _entries(content: Any) -> dict[str, dict[str, Any]]:
    """The entries of a ``{name: {...}}`` dict whose values are dicts (others left out; {} if it is no dict)."""
    return {name: value for name, value in get_dict(content).items() if isinstance(value, dict)}


@dataclass(frozen=True)
class Metrics:
    """``metrics.json`` as read: its ``content``, and each section as a dict (empty when the file, the section or a
    level of it is missing or malformed), so that no reader needs to check."""

    content: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, content: Any) -> Metrics:
        """From the file's parsed content (anything: what is not a dict counts as an empty file)."""
        return cls(content if isinstance(content, dict) else {})

    @property
    def models(self) -> dict[str, ModelScores]:
        """Test scores per model, in the file's order."""
        return cast(dict[str, ModelScores], _entries(self.content.get(MODELS_KEY)))

    @property
    def evidence(self) -> EvidenceSection:
        return cast(EvidenceSection, get_dict(self.content, EVIDENCE_KEY))

    @property
    def evidence_models(self) -> dict[str, EvidenceModel]:
        """Corpus evidence per model."""
        return cast(dict[str, EvidenceModel], _entries(self.evidence.get("models")))

    @property
    def alignment(self) -> AlignmentSection:
        return cast(AlignmentSection, get_dict(self.content, ALIGNMENT_KEY))

    @property
    def alignment_models(self) -> dict[str, AlignmentModel]:
        """Alignment scores per attention model."""
        return cast(dict[str, AlignmentModel], _entries(self.alignment.get("models")))

    @property
    def ablations(self) -> Ablations:
        return cast(Ablations, get_dict(self.alignment, ABLATIONS_KEY))

    @property
    def ablation_rows(self) -> list[AblationRow]:
        """The ablation rows that are dicts, in stored order."""
        rows = self.ablations.get("rows")
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


@dataclass(frozen=True)
class AttentionEvolution:
    """``attention_evolution.json``: the snapshot sentences and, per model, its snapshots after every epoch."""

    sentences: list[str] = field(default_factory=list)
    models: dict[str, list[Snapshot]] = field(default_factory=dict)


def read_metrics(folder: str | Path) -> Metrics:
    """The folder's ``metrics.json``; empty when missing or unreadable (a warning then names the file)."""
    return Metrics.from_json(read_optional_json(Path(folder) / METRICS_FILE))


def read_history(folder: str | Path) -> dict[str, list[HistoryRow]]:
    """``history.json``: the per-epoch rows per model; models whose entry is not a list are left out, and a missing
    or unreadable file gives ``{}``."""
    content = get_dict(read_optional_json(Path(folder) / HISTORY_FILE))
    return {
        name: [row for row in rows if isinstance(row, dict)] for name, rows in content.items() if isinstance(rows, list)
    }


def read_attention_evolution(folder: str | Path) -> AttentionEvolution:
    """``attention_evolution.json``; empty when missing or unreadable. Snapshots that are not dicts are left out."""
    content = get_dict(read_optional_json(Path(folder) / ATTENTION_EVOLUTION_FILE))
    sentences = content.get("sentences")
    models = {
        name: [snapshot for snapshot in snapshots if isinstance(snapshot, dict)]
        for name, snapshots in get_dict(content, MODELS_KEY).items()
        if isinstance(snapshots, list)
    }
    return AttentionEvolution([str(s) for s in sentences] if isinstance(sentences, list) else [], models)


def read_alignment_links(folder: str | Path) -> list[AlignedSentence]:
    """The sentences of ``alignment_links.json`` (those that are dicts); ``[]`` when it is missing or unreadable."""
    sentences = get_dict(read_optional_json(Path(folder) / ALIGNMENT_LINKS_FILE)).get("sentences")
    return [row for row in sentences if isinstance(row, dict)] if isinstance(sentences, list) else []


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None], new: Callable[[], dict[str, Any]] = dict) -> dict:
    """Read the JSON object at ``path`` (``new()`` when the file is missing or holds ``null``), apply ``change`` to
    it and write it back atomically; returns what was written.

    The file is read again right before the change, so that two commands writing different parts of one file (two
    ``train.py`` processes into one folder, the evidence and the alignment command) keep each other's parts. A file
    that exists but cannot be parsed raises (``json.JSONDecodeError``): rewriting it would lose what it holds.
    """
    content = read_json(path)
    if content is None:
        content = new()
    if not isinstance(content, dict):
        raise ValueError(f"{path} holds {type(content).__name__}, not a JSON object; fix or delete it.")
    change(content)
    write_json_atomic(path, content)
    return content


def _section(content: dict[str, Any], section: str) -> dict[str, Any]:
    """``content[section]``, made a dict first if it is missing or is none."""
    if not isinstance(content.get(section), dict):
        content[section] = {}
    return content[section]


def update_metrics(folder: str | Path, section: str, name: str, value: Any) -> dict:
    """Set ``metrics.json[section][name]`` to ``value`` (the section is created if needed); the rest of the file is
    unchanged. Returns the file's new content.

    For example ``update_metrics(folder, ALIGNMENT_KEY, ABLATIONS_KEY, rows)`` (scripts/ablation_table.py).
    """

    def change(metrics: dict[str, Any]) -> None:
        _section(metrics, section)[name] = value

    return _rewrite(Path(folder) / METRICS_FILE, change)


def write_metrics_section(folder: str | Path, section: str, value: dict[str, Any]) -> dict[str, Any]:
    """Replace the whole section ``metrics.json[section]`` with ``value``, keeping the parts that another tool wrote
    into it (``KEPT_ON_REWRITE``: the alignment command keeps the ablation rows). The other sections are unchanged.

    Returns the section as written (``value`` plus the kept parts).
    """
    written: dict[str, Any] = {}

    def change(metrics: dict[str, Any]) -> None:
        stored = get_dict(metrics, section)
        kept = {key: stored[key] for key in KEPT_ON_REWRITE.get(section, ()) if key in stored}
        written.update({**value, **kept})
        metrics[section] = written

    _rewrite(Path(folder) / METRICS_FILE, change)
    return written


def record_test_scores(folder: str | Path, name: str, scores: ModelScores, run: dict[str, Any]) -> dict[str, Any]:
    """What train.py stores after testing model ``name``: the run's settings (``RUN_FIELDS``) at the top level and
    ``scores`` as ``metrics.json["models"][name]``; other models' entries and the other sections are unchanged.

    Returns the file's new content (what the model card is built from).

    Raises:
        ValueError: ``run`` has a key that is not one of ``RUN_FIELDS`` (add a new field there first).
    """
    unknown = sorted(set(run) - set(RUN_FIELDS))
    if unknown:
        raise ValueError(f"Not run fields of metrics.json: {', '.join(unknown)} (model_repo.RUN_FIELDS).")

    def change(metrics: dict[str, Any]) -> None:
        metrics.update(run)
        _section(metrics, MODELS_KEY)[name] = scores

    return _rewrite(Path(folder) / METRICS_FILE, change, new=lambda: {MODELS_KEY: {}})


def drop_stale_entries(folder: str | Path, name: str) -> list[str]:
    """Remove model ``name``'s entries from the sections computed from its weights after training
    (``DERIVED_SECTIONS``: ``evidence`` and ``alignment``), because the model is being retrained and they describe
    its old weights. Call it when new weights replace the model's (not when a resumed run re-tests unchanged
    weights). The sections' other models, the ablation rows and ``alignment_links.json`` (the aligner's links for
    the references, the same for every model) stay.

    Returns the sections an entry was removed from; a folder without ``metrics.json`` is left as it is.
    """
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return []
    dropped: list[str] = []

    def change(metrics: dict[str, Any]) -> None:
        for section in DERIVED_SECTIONS:
            models = get_dict(metrics, section, MODELS_KEY)
            if name in models:
                del models[name]
                dropped.append(section)

    _rewrite(path, change)
    return dropped


def record_history(folder: str | Path, name: str, rows: list[HistoryRow]) -> None:
    """Set ``history.json[name]`` to ``rows``, one per epoch; other models' curves are unchanged."""

    def change(history: dict[str, Any]) -> None:
        history[name] = rows

    _rewrite(Path(folder) / HISTORY_FILE, change)


def record_attention_evolution(folder: str | Path, name: str, sentences: list[str], snapshots: list[Snapshot]) -> None:
    """Store the snapshot ``sentences`` (the same for every model of a run) and model ``name``'s ``snapshots`` (a
    model without attention has none: then its entry is left as it is) in ``attention_evolution.json``."""

    def change(evolution: dict[str, Any]) -> None:
        evolution["sentences"] = sentences
        if snapshots:
            _section(evolution, MODELS_KEY)[name] = snapshots

    _rewrite(Path(folder) / ATTENTION_EVOLUTION_FILE, change, new=lambda: {MODELS_KEY: {}})


def write_alignment_links(folder: str | Path, aligner: str, sentences: list[AlignedSentence]) -> None:
    """Write ``alignment_links.json``: the word aligner's links for the test references (replacing the file)."""
    write_json_atomic(
        Path(folder) / ALIGNMENT_LINKS_FILE,
        {
            "aligner": aligner,
            "split": "test",
            "format": "links are 'j-i': source word j (0-based, </s> not counted) with target word i",
            "sentences": sentences,
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# Training checkpoints: <folder>/checkpoints/<name>.pt, one dict per model, rewritten after every epoch (never pushed)
# ---------------------------------------------------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed (truncated, corrupt, or written with other model sizes)."""


def save_checkpoint(folder: str | Path, name: str, checkpoint: dict) -> Path:
    """Write model ``name``'s training checkpoint atomically (a crash never leaves a half-written one); returns its
    path, :func:`checkpoint_file`.

    ``checkpoint`` is one dict: the ``model``, ``optimizer`` and ``scheduler`` state dicts, the model's ``config``
    (a dict) and the training ``state`` (epoch, history, attention snapshots, best epoch; see ``training.py``).
    """
    path = checkpoint_file(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    folder: str | Path,
    name: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> dict | None:
    """Restore model ``name``'s checkpoint (as :func:`save_checkpoint` wrote it) into ``model``, ``optimizer`` and
    ``scheduler``; returns its training ``state``, or None when the folder holds no checkpoint of ``name``.

    Raises:
        CheckpointError: a truncated or corrupt file, or one written with other model sizes; the message names the
            file and says what to do.
    """
    path = checkpoint_file(folder, name)
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        return checkpoint["state"]
    except Exception as error:  # whatever is wrong with the file, the run stops here rather than half-resuming
        raise CheckpointError(
            f"Checkpoint {path} cannot be resumed ({type(error).__name__}: {error}). Delete it to retrain {name!r} "
            "from scratch, or run with the arguments that wrote it."
        ) from error
