"""Watch attention learn: an attention model and its no-attention twin trained from scratch, live, on a toy task whose
true alignment is known.

The app's "Watch attention learn" tab runs :func:`train_live` and draws what it yields. The models are the project's
own :class:`~attention_demo.model.Seq2Seq` (same encoder, decoder and attention; the twin has attention switched
off), small, trained on one CPU core with the project's training step (:func:`attention_demo.optimization.train_step`).
Tasks map a sequence of distinct symbols to another:

- ``copy``: the same sequence; output word ``i`` comes from source position ``i`` (the diagonal);
- ``reverse``: the sequence backwards; output ``i`` comes from source ``S - 1 - i`` (the anti-diagonal);
- ``sort``: the symbols in alphabetical order; output ``i`` comes from where that symbol stood (a permutation).

What a visitor sees: the attention map of one fixed probe sequence going from uniform to the true alignment (drawn
as rings), both models' loss and sequence accuracy, and the attention model's alignment error (the share of output
words whose strongest source position is not the true one). As sequences grow, the twin, which must squeeze the
whole sequence into one vector, falls behind.

Nothing here touches state another request can see: the data come from a generator of the run's own, the models are
built under :func:`torch.random.fork_rng` (the global generator is restored), dropout is off, and the models belong
to the run. A run stops by itself after ``budget_s`` seconds, when both models are perfect on the held-out sequences,
or when ``stop`` is set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from attention_demo.attention import ATTENTION_TYPES
from attention_demo.data import decoder_input, pad
from attention_demo.decoding import greedy_search
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.optimization import loss_function, train_step
from attention_demo.tokenizer import EOS, EOS_ID, SPECIAL_TOKENS

TASKS = ("copy", "reverse", "sort")
SYMBOLS = "abcdefghijklmnopqrstuvwxyz0123456789"  # distinct symbols, so every output word has one true source word
MIN_LENGTH, MAX_LENGTH = 3, 30
DEFAULT_TASK, DEFAULT_LENGTH, DEFAULT_ATTENTION = "reverse", 12, "additive"
BUDGET_S = 30.0  # a run stops by itself after this many seconds of training
UPDATE_EVERY_S = 1.0  # seconds between two updates
BATCH_SIZE = 64
HELD_OUT = 128  # sequences that measure accuracy and alignment error (never trained on: another generator)
LEARNING_RATE = 5e-3
# Small models: the same architecture as the translation models, sized for a toy vocabulary and one core.
SIZES = {"embedding_size": 32, "encoder_hidden_size": 32, "decoder_hidden_size": 64, "attention_size": 32}


@dataclass(frozen=True)
class LiveSettings:
    """What a visitor picks."""

    task: str = DEFAULT_TASK
    length: int = DEFAULT_LENGTH
    attention_type: str = DEFAULT_ATTENTION
    seed: int = 0
    budget_s: float = BUDGET_S


def check_settings(task: object, length: object, attention_type: object, seed: object = 0) -> LiveSettings:
    """Settings from widget values, or ``ValueError`` with a sentence that says what to pick."""
    if task not in TASKS:
        raise ValueError(f"Pick a task: {', '.join(TASKS)}.")
    if attention_type not in ATTENTION_TYPES:
        raise ValueError(f"Pick an attention type: {', '.join(ATTENTION_TYPES)}.")
    try:
        number = float(length)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not (MIN_LENGTH <= number <= MAX_LENGTH) or number != int(number):
        raise ValueError(f"Pick a sequence length from {MIN_LENGTH} to {MAX_LENGTH} symbols.")
    try:
        seed_value = int(seed)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        seed_value = 0
    return LiveSettings(str(task), int(number), str(attention_type), seed_value % 2**31)


def true_alignment(task: str, source: list[int]) -> list[int]:
    """For output position ``i`` (``</s>`` not included), the source position its symbol comes from."""
    if task == "copy":
        return list(range(len(source)))
    if task == "reverse":
        return list(range(len(source) - 1, -1, -1))
    return sorted(range(len(source)), key=lambda j: source[j])  # sort: distinct symbols, no ties


def target_of(task: str, source: list[int]) -> list[int]:
    """The output sequence for ``source`` (symbol ids, no ``</s>``)."""
    return [source[j] for j in true_alignment(task, source)]


@dataclass
class Batch:
    """Sequences of one length: ``src`` ``(N, L+1)`` and ``tgt`` ``(N, L+1)`` ids ending with ``</s>``."""

    src: torch.Tensor
    src_mask: torch.Tensor
    tgt: torch.Tensor
    alignment: torch.Tensor  # (N, L) the true source position of every output symbol

    def as_training_batch(self) -> dict[str, torch.Tensor]:
        """The batch as :func:`~attention_demo.optimization.train_step` reads it (``data.collate``'s keys)."""
        return {"src": self.src, "src_mask": self.src_mask, "tgt_in": decoder_input(self.tgt), "tgt_out": self.tgt}


def make_batch(task: str, length: int, count: int, generator: torch.Generator) -> Batch:
    """``count`` random sequences of ``length`` distinct symbols and their outputs."""
    first = len(SPECIAL_TOKENS)  # symbol ids follow the special tokens
    sources, targets, links = [], [], []
    for _ in range(count):
        symbols = (torch.randperm(len(SYMBOLS), generator=generator)[:length] + first).tolist()
        sources.append(symbols + [EOS_ID])
        targets.append(target_of(task, symbols) + [EOS_ID])
        links.append(true_alignment(task, symbols))
    src, src_mask = pad(sources)
    tgt, _ = pad(targets)
    return Batch(src, src_mask, tgt, torch.tensor(links))


def labels(ids: list[int]) -> list[str]:
    """Symbols for display (``</s>`` as itself)."""
    first = len(SPECIAL_TOKENS)
    return [EOS if i == EOS_ID else SYMBOLS[i - first] for i in ids]


def build_models(settings: LiveSettings) -> dict[str, Seq2Seq]:
    """The attention model and its twin without attention, from the same seed (the global generator is restored)."""
    vocab = len(SPECIAL_TOKENS) + len(SYMBOLS)
    models = {}
    for name, attention_type in (("attention", settings.attention_type), ("baseline", None)):
        config = ModelConfig(
            src_vocab_size=vocab, tgt_vocab_size=vocab, attention_type=attention_type, dropout=0.0,
            summary_input=False, annotation_dropout=False, source_lang="src", target_lang="tgt", **SIZES,
        )  # fmt: skip
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            models[name] = Seq2Seq(config)
    return models


@dataclass
class Curve:
    """One model's measurements over the run."""

    seconds: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # training loss (per target token) since the last update
    accuracy: list[float] = field(default_factory=list)  # held-out sequences exactly right (greedy), 0..1


@dataclass
class LiveUpdate:
    """What the tab shows after each update."""

    settings: LiveSettings
    step: int
    seconds: float
    probe_attention: np.ndarray  # (L+1, L+1) the attention model's weights on the probe (teacher-forced)
    probe_source: list[str]
    probe_target: list[str]
    true_links: list[tuple[int, int]]  # (row, column): output symbol -> its true source position
    curves: dict[str, Curve]  # "attention", "baseline"
    alignment_error: list[float]  # per update: share of held-out output symbols whose strongest source is wrong
    finished: str = ""  # why the run ended ("budget", "solved", "stopped"); "" while it runs


def alignment_error(attention: torch.Tensor, batch: Batch) -> float:
    """Share of output symbols (not ``</s>``) whose largest weight on a symbol (not ``</s>``) is not on the true
    source position. ``attention`` ``(N, L+1, L+1)``."""
    length = batch.alignment.size(1)
    strongest = attention[:, :length, :length].argmax(dim=-1)  # (N, L)
    return float((strongest != batch.alignment).float().mean())


@torch.no_grad()
def sequence_accuracy(model: Seq2Seq, batch: Batch) -> float:
    """Share of sequences the model gets exactly right with greedy search."""
    hypotheses = greedy_search(model, batch.src, batch.src_mask, batch.tgt.size(1))
    targets = batch.tgt.tolist()
    return float(np.mean([h.tokens == t for h, t in zip(hypotheses, targets, strict=True)]))


def train_live(
    settings: LiveSettings, stop: threading.Event | None = None, max_steps: int | None = None
) -> Iterator[LiveUpdate]:
    """Train both models on fresh random batches and yield an update every ``UPDATE_EVERY_S`` seconds (and a last
    one with ``finished`` set). Runs in the calling thread, with whatever torch threads the process has.

    ``max_steps``: also stop after this many training steps (``finished="steps"``), so that a test gets the same
    models on any machine; the app stops on time only.
    """
    stop = stop or threading.Event()
    models = build_models(settings)
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=LEARNING_RATE) for name, m in models.items()}
    data = torch.Generator().manual_seed(settings.seed)
    held_out = make_batch(settings.task, settings.length, HELD_OUT, torch.Generator().manual_seed(settings.seed + 1))
    probe = Batch(held_out.src[:1], held_out.src_mask[:1], held_out.tgt[:1], held_out.alignment[:1])
    curves = {name: Curve() for name in models}
    errors: list[float] = []
    losses: dict[str, list[float]] = {name: [] for name in models}
    loss_fn = loss_function()  # no label smoothing: a toy task has one right answer
    started = time.perf_counter()
    step, last_update = 0, started

    def update(finished: str = "") -> LiveUpdate:
        for model in models.values():
            model.eval()
        with torch.no_grad():
            attention = models["attention"](held_out.src, held_out.src_mask, decoder_input(held_out.tgt)).attention
            for name, model in models.items():
                curves[name].seconds.append(round(time.perf_counter() - started, 2))
                curves[name].loss.append(float(np.mean(losses[name])) if losses[name] else float("nan"))
                curves[name].accuracy.append(sequence_accuracy(model, held_out))
                losses[name].clear()
        errors.append(alignment_error(attention, held_out))
        rows = probe.alignment[0].tolist()
        return LiveUpdate(
            settings=settings, step=step, seconds=time.perf_counter() - started,
            probe_attention=attention[0].numpy(), probe_source=labels(probe.src[0].tolist()),
            probe_target=labels(probe.tgt[0].tolist()), true_links=list(enumerate(rows)), curves=curves,
            alignment_error=errors, finished=finished,
        )  # fmt: skip

    yield update()
    while True:
        if stop.is_set():
            yield update("stopped")
            return
        batch = make_batch(settings.task, settings.length, BATCH_SIZE, data)
        for name, model in models.items():
            model.train()
            losses[name].append(float(train_step(model, optimizers[name], batch.as_training_batch(), loss_fn)))
        step += 1
        if max_steps is not None and step >= max_steps:
            yield update("steps")
            return
        now = time.perf_counter()
        if now - started >= settings.budget_s:
            yield update("budget")
            return
        if now - last_update >= UPDATE_EVERY_S:
            last_update = now
            result = update()
            if all(curve.accuracy[-1] == 1.0 for curve in curves.values()):
                result.finished = "solved"
                yield result
                return
            yield result
