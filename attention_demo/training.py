"""Training: tokenizers, then each model in turn (same data, sizes, seed and budget), then test evaluation and the
model repo (weights, tokenizers, metrics, history, model card), optionally pushed to the Hub.

Runs on CPU, one GPU (mixed precision) or several GPUs (``accelerate launch train.py ...``, DDP): the same code.

Checkpoints and exact resumption: after every epoch one dict (model, optimizer, scheduler, config, and the training
state: epoch, history, best epoch) is written atomically to ``<output_dir>/checkpoints/<name>.pt``
(:func:`attention_demo.model_repo.save_checkpoint`). Every epoch's batch order and every epoch's random numbers
(dropout) are derived from ``(seed, epoch, process)`` only, so a run resumed from epoch k's checkpoint repeats exactly
what an uninterrupted run does in epoch k+1; no epoch is lost or repeated.

Read from the top: the arguments and their checks; the data (:func:`load_data`); one model (:func:`model_config`,
:func:`train_epoch` of :func:`attention_demo.optimization.train_step`, :func:`validate`, and :func:`train_model`, the
loop over epochs); the model repo (:func:`evaluate_on_test`, :func:`write_model_files`, the card, the push); the
command (:func:`run`, :func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import PrecisionType, is_fp8_available, set_seed
from tokenizers import Tokenizer
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from attention_demo import cli
from attention_demo.agreement import AgreementPair, agreement_model_name, collate_both
from attention_demo.attention import ATTENTION_INITS
from attention_demo.data import (
    BucketBatchSampler,
    DatasetError,
    ParallelCorpus,
    TokenizedPairs,
    collate,
    load_parallel_data,
    source_ids,
)
from attention_demo.decoder import PLACEMENTS
from attention_demo.decoding import translate_ids
from attention_demo.evaluation import corpus_scores, evaluate_translations
from attention_demo.model import BASELINE, MODEL_NAMES, ModelConfig, Seq2Seq
from attention_demo.model_card import build_model_card
from attention_demo.model_repo import (
    CHECKPOINT_DIR,
    MODEL_CARD_FILE,
    TEST_EXAMPLES_FILE,
    CheckpointError,
    ModelLoadError,
    ModelScores,
    checkpoint_file,
    drop_stale_entries,
    load_checkpoint,
    load_model,
    load_tokenizers,
    read_json,
    record_attention_evolution,
    record_history,
    record_test_scores,
    save_checkpoint,
    save_model,
    save_tokenizer,
    tokenizer_filename,
    write_json_atomic,
)
from attention_demo.optimization import agreement_step, loss_function, train_step
from attention_demo.tokenizer import PAD_ID, SPECIAL_TOKENS, decode, pieces, train_tokenizer

logger = logging.getLogger("attention_demo.training")

NUMBER_BOUNDS = ("minimum", "maximum", "above", "below")  # the metadata keys of a number's range (cli.Number)
MIN_VOCAB_SIZE = len(SPECIAL_TOKENS) + 96  # the special tokens plus room for an alphabet of letters, digits, marks
# accelerate's choices; fp8 only where one of its fp8 backends is installed (else Accelerator() refuses it).
MIXED_PRECISIONS = ("auto", *(p.value for p in PrecisionType if p != PrecisionType.FP8 or is_fp8_available()))
TRAINING_ARGS_FILE = "training_args.json"  # in <output_dir>/checkpoints/: the settings a resumed run must repeat


@dataclass
class TrainingArguments:
    """Command-line arguments of ``train.py`` (Hugging Face example-script names where one exists)."""

    dataset_name: str = field(default="bentrevett/multi30k", metadata={"help": "Hub dataset id or local folder"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "dataset configuration, e.g. de-en"})
    dataset_hub_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id to credit in the model card when --dataset_name is a local copy",
            "type": cli.hub_id,
            "resume_may_change": True,
        },
    )
    source_lang: str = field(default="de", metadata={"help": "language to translate from", "type": cli.language_code})
    target_lang: str = field(default="en", metadata={"help": "language to translate into", "type": cli.language_code})
    attention: list[str] = field(
        default_factory=lambda: list(MODEL_NAMES),
        metadata={
            "help": f"models to train: any of {', '.join(MODEL_NAMES)}",
            "choices": MODEL_NAMES,
            "resume_may_change": True,
        },
    )
    output_dir: str = field(
        default="outputs/multi30k-de-en", metadata={"help": "the model repo folder", "resume_may_change": True}
    )
    num_train_epochs: int = field(
        default=12,
        metadata={"minimum": 1, "resume_may_change": True},  # more epochs stretch the rest of the schedule
    )
    per_device_train_batch_size: int = field(default=64, metadata={"minimum": 1})
    per_device_eval_batch_size: int = field(default=128, metadata={"minimum": 1})
    learning_rate: float = field(default=2e-3, metadata={"above": 0, "maximum": 1})
    warmup_ratio: float = field(default=0.03, metadata={"minimum": 0, "maximum": 1, "help": "share of the steps"})
    weight_decay: float = field(default=0.0, metadata={"minimum": 0, "maximum": 1})
    max_grad_norm: float = field(default=1.0, metadata={"above": 0})
    label_smoothing: float = field(default=0.1, metadata={"minimum": 0, "below": 1})
    max_train_samples: int | None = field(default=None, metadata={"minimum": 1})
    max_eval_samples: int | None = field(default=None, metadata={"minimum": 1})
    seed: int = field(default=42, metadata={"minimum": 0, "maximum": 2**31 - 1})  # seed + epoch seeds numpy too
    resume_from_checkpoint: bool = field(
        default=False,
        metadata={
            "help": "continue from <output_dir>/checkpoints (finished models are skipped)",
            "resume_may_change": True,
        },
    )
    push_to_hub: bool = field(default=False, metadata={"resume_may_change": True})
    hub_model_id: str | None = field(default=None, metadata={"type": cli.hub_id, "resume_may_change": True})
    hub_token: str | None = field(default=None, metadata={"resume_may_change": True})  # never recorded
    vocab_size: int = field(
        default=6000, metadata={"help": "BPE vocabulary size per language", "minimum": MIN_VOCAB_SIZE}
    )
    embedding_size: int = field(default=256, metadata={"minimum": 1})
    encoder_hidden_size: int = field(default=192, metadata={"minimum": 1})
    decoder_hidden_size: int = field(default=384, metadata={"minimum": 1})
    attention_size: int = field(default=192, metadata={"minimum": 1})
    num_layers: int = field(default=1, metadata={"minimum": 1})
    dropout: float = field(default=0.3, metadata={"minimum": 0, "below": 1})
    tie_embeddings: bool = True
    # The defaults below are the bundled models' design (README, "Does attention align words?"); ModelConfig's
    # defaults stay those of the first design, so that config.json files written before these options load as made.
    attention_placement: str = field(
        default="luong",
        metadata={
            "help": "luong: attend from s_t; bahdanau: from s_{t-1}, context into the GRU",
            "choices": PLACEMENTS,
        },
    )
    input_feeding: bool = field(default=False, metadata={"help": "feed s~_{t-1} into the decoder GRU (Luong 3.3)"})
    summary_input: bool = field(default=False, metadata={"help": "the decoder GRU reads the encoder summary z"})
    null_slot: bool = field(default=False, metadata={"help": 'a learned "no source word" position for attention'})
    attend_eos: bool = field(default=True, metadata={"help": "whether </s> is among the positions attention reads"})
    annotation_dropout: bool = field(
        default=False, metadata={"help": "dropout on the encoder annotations (attention's keys and values)"}
    )
    attention_init: str = field(
        default="default",
        metadata={
            "help": "bahdanau: the additive score starts with v_a = 0, W_q, W_k ~ N(0, 0.001^2) (Bahdanau et al. "
            "2015, B.1; additive and baseline only)",
            "choices": ATTENTION_INITS,
        },
    )
    context_gate: bool = field(
        default=False, metadata={"help": "a learned gate g_t scales the attention context, c_t <- g_t c_t"}
    )
    agreement_weight: float = field(
        default=0.0,
        metadata={
            "help": "> 0: train each attention model jointly with its --reverse_output_dir twin (the other direction), "
            "adding this weight times their attention's disagreement (Cheng et al. 2016); saved as <name>-agreement",
            "minimum": 0,
            "resume_may_change": True,  # it changes only the -agreement models, whose checkpoints are their own
        },
    )
    reverse_output_dir: str | None = field(
        default=None,
        metadata={
            "help": "with --agreement_weight: the model repo folder of the other direction (its tokenizers must be "
            "this run's)",
            "resume_may_change": True,
        },
    )
    eval_beam_size: int = field(
        default=cli.DEFAULT_BEAM_SIZE,
        metadata={
            "help": "beam size for the final test evaluation",
            "minimum": 1,
            "maximum": cli.MAX_BEAM_SIZE,
            "resume_may_change": True,
        },
    )
    mixed_precision: str = field(
        default="auto", metadata={"help": "auto: bf16 on a GPU that has it, else no", "choices": MIXED_PRECISIONS}
    )
    num_test_examples: int = field(
        default=100,
        metadata={"help": "test pairs saved for the app's examples", "minimum": 1, "resume_may_change": True},
    )
    num_attention_samples: int = field(
        default=3, metadata={"help": "validation sentences whose attention is saved", "minimum": 0}
    )


def build_parser() -> cli.ArgumentParser:
    """An argparse parser built from :class:`TrainingArguments`: each field's type and metadata give its check.

    Metadata keys: ``help``; ``choices``; ``minimum``/``maximum`` (inclusive) and ``above``/``below`` (exclusive)
    for numbers (:class:`attention_demo.cli.Number`, which also rejects nan and inf); ``type`` for a text with a
    format of its own (a language code, a Hub id; other texts must not be empty); ``resume_may_change`` for settings
    that do not change the trained weights (see :func:`check_output_dir`).
    """
    parser = cli.ArgumentParser(prog="train.py", description="Train attention and no-attention GRU translation models.")
    for f in dataclasses.fields(TrainingArguments):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        kind = f.type.removesuffix(" | None")
        options: dict = {"default": default, "choices": f.metadata.get("choices")}
        if kind == "bool":
            options.update(type=cli.boolean, nargs="?", const=True)
        elif kind in ("int", "float"):
            bounds = {key: f.metadata[key] for key in NUMBER_BOUNDS if key in f.metadata}
            options["type"] = cli.Number(int if kind == "int" else float, **bounds)
        else:
            options["type"] = f.metadata.get("type", cli.nonempty)
            if kind == "list[str]":
                options["nargs"] = "+"
        notes = [options["type"].describe()] if isinstance(options["type"], cli.Number) else []
        notes += [f"default: {default}"] if default is not None else []
        help_text = " ".join([f.metadata.get("help", ""), f"({'; '.join(notes)})" if notes else ""]).strip()
        parser.add_argument(f"--{f.name}", help=help_text.replace("%", "%%"), **options)
    return parser


def _combination_problem(args: TrainingArguments) -> str | None:
    """The first arguments that do not fit together, in words; None when they all fit."""
    if args.source_lang == args.target_lang:
        return f"--source_lang and --target_lang are both {args.source_lang!r}; a translation needs two languages"
    repeated = sorted({name for name in args.attention if args.attention.count(name) > 1})
    if repeated:
        return f"--attention names {', '.join(repeated)} more than once"
    if "dot" in args.attention and args.decoder_hidden_size != 2 * args.encoder_hidden_size:
        return (
            f"--attention dot needs --decoder_hidden_size equal to 2 * --encoder_hidden_size "
            f"({2 * args.encoder_hidden_size}), got {args.decoder_hidden_size}; change a size or leave out dot"
        )
    if args.agreement_weight > 0 and not args.reverse_output_dir:
        return "--agreement_weight needs --reverse_output_dir, the model folder of the other direction"
    if args.agreement_weight > 0 and BASELINE in args.attention:
        return "--agreement_weight trains attention models only; leave baseline out of --attention"
    if args.agreement_weight > 0 and args.push_to_hub:
        return (
            "--agreement_weight writes two folders; train without --push_to_hub, then push each folder to its own "
            "Hub repo (attention_demo.hub.push_folder)"
        )
    if args.agreement_weight > 0 and args.null_slot:
        return "--agreement_weight compares attention over the words; it cannot be combined with --null_slot"
    not_additive = [name for name in args.attention if name in ("dot", "general")]
    if args.attention_init == "bahdanau" and not_additive:
        return (
            f"--attention_init bahdanau initialises the additive score only, and --attention names "
            f"{', '.join(not_additive)}; train those with --attention_init default"
        )
    return None


def _checked_arguments(namespace: argparse.Namespace, parser: cli.ArgumentParser) -> TrainingArguments:
    """The parsed values as :class:`TrainingArguments`, after the checks that involve several arguments."""
    args = TrainingArguments(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(TrainingArguments)})
    problem = _combination_problem(args)
    if problem:
        parser.error(problem)
    return args


def parse_args(argv: list[str] | None = None) -> TrainingArguments:
    """Parse and check ``argv``: a bad value or combination exits with status 2 and a one-line message."""
    parser = build_parser()
    return _checked_arguments(parser.parse_args(argv), parser)


def _resumable_settings(args: TrainingArguments) -> dict:
    """The arguments a resumed run must repeat: every field not marked ``resume_may_change``."""
    fields = dataclasses.fields(TrainingArguments)
    return {f.name: getattr(args, f.name) for f in fields if not f.metadata.get("resume_may_change")}


def check_output_dir(args: TrainingArguments) -> None:
    """Refuse, before anything is loaded or written, an output folder that cannot be one, and a resumed run whose
    settings differ from those recorded in ``<output_dir>/checkpoints/`` by the run that wrote the checkpoints.

    Raises:
        cli.CommandLineError: with a message that says what to do.
    """
    output = Path(args.output_dir)
    for path in (output, *output.parents):  # the first one that exists must be a folder we may write to
        if path.exists():
            if not path.is_dir():
                raise cli.CommandLineError(f"--output_dir {args.output_dir}: {path} is a file, not a folder.")
            if not os.access(path, os.W_OK | os.X_OK):
                raise cli.CommandLineError(f"--output_dir {args.output_dir}: {path} is not writable.")
            break
    if not args.resume_from_checkpoint:
        return
    recorded = read_json(output / CHECKPOINT_DIR / TRAINING_ARGS_FILE, {})
    settings = _resumable_settings(args)
    changed = [f"--{k} {settings[k]} (was {v})" for k, v in recorded.items() if k in settings and settings[k] != v]
    if changed:
        raise cli.CommandLineError(
            f"--resume_from_checkpoint with other settings than the run that wrote {output}: {', '.join(changed)}. "
            f"Resume with the same settings, or delete {output / CHECKPOINT_DIR} to start over."
        )


def record_settings(args: TrainingArguments, accelerator: Accelerator) -> None:
    """Record the settings a resumed run must repeat next to the checkpoints (main process; an unchanged record is
    not rewritten, so a resumed run that fails leaves the folder as it was)."""
    path, settings = Path(args.output_dir) / CHECKPOINT_DIR / TRAINING_ARGS_FILE, _resumable_settings(args)
    if accelerator.is_main_process and read_json(path) != settings:
        write_json_atomic(path, settings)


# ---------------------------------------------------------------------------------------------------------------------
# The data: the same for every model of a run
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class TrainingData:
    """What every model of a run is trained, validated and tested on."""

    train: ParallelCorpus
    validation: ParallelCorpus
    test: ParallelCorpus
    src_tok: Tokenizer
    tgt_tok: Tokenizer
    train_pairs: TokenizedPairs  # the training split as (source ids, target ids)
    validation_pairs: TokenizedPairs  # the validation split likewise (for the validation loss)
    snapshot_sentences: list[str]  # validation sentences whose attention is saved after every epoch


def prepare_tokenizers(
    args: TrainingArguments, train: ParallelCorpus, accelerator: Accelerator
) -> tuple[Tokenizer, Tokenizer]:
    """Train the two tokenizers on the training split (main process), or reuse them when resuming."""
    out = Path(args.output_dir)
    languages = (args.source_lang, args.target_lang)
    reuse = args.resume_from_checkpoint and all((out / tokenizer_filename(lang)).is_file() for lang in languages)
    if accelerator.is_main_process and not reuse:
        for lang, texts in zip(languages, (train.source, train.target), strict=True):
            save_tokenizer(train_tokenizer(texts, args.vocab_size), out, lang)
    accelerator.wait_for_everyone()
    return load_tokenizers(out, *languages)


def load_data(args: TrainingArguments, accelerator: Accelerator) -> TrainingData:
    """The three splits (cut to ``--max_train_samples`` / ``--max_eval_samples``), the tokenizers (written to the
    output folder) and the tokenized training and validation pairs."""
    corpora = load_parallel_data(
        args.dataset_name, args.source_lang, args.target_lang, dataset_config_name=args.dataset_config_name
    )
    train = corpora["train"].take(args.max_train_samples)
    validation = corpora["validation"].take(args.max_eval_samples)
    test = corpora["test"].take(args.max_eval_samples)
    accelerator.print(f"data: {len(train)} train / {len(validation)} validation / {len(test)} test pairs")
    src_tok, tgt_tok = prepare_tokenizers(args, train, accelerator)
    return TrainingData(
        train,
        validation,
        test,
        src_tok,
        tgt_tok,
        train_pairs=TokenizedPairs(train, src_tok, tgt_tok),
        validation_pairs=TokenizedPairs(validation, src_tok, tgt_tok),
        snapshot_sentences=[s for s in validation.source if 8 <= len(s.split()) <= 16][: args.num_attention_samples],
    )


# ---------------------------------------------------------------------------------------------------------------------
# One model: its architecture, the loss and schedule, an epoch of training, validation, and the loop over epochs
# ---------------------------------------------------------------------------------------------------------------------


def model_config(name: str, args: TrainingArguments, data: TrainingData) -> ModelConfig:
    """The architecture of model ``name`` (``baseline``: no attention): the tokenizers' vocabulary sizes, and every
    :class:`ModelConfig` field that :class:`TrainingArguments` has under the same name (the sizes, dropout, the
    decoder's design, the languages)."""
    same_name = {f.name: getattr(args, f.name) for f in dataclasses.fields(ModelConfig) if hasattr(args, f.name)}
    return ModelConfig(
        src_vocab_size=data.src_tok.get_vocab_size(),
        tgt_vocab_size=data.tgt_tok.get_vocab_size(),
        attention_type=None if name == BASELINE else name,
        **same_name,
    )


def lr_lambda(total_steps: int, warmup_ratio: float) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 10% of the peak learning rate."""
    warmup = max(1, int(total_steps * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def train_epoch(
    model: torch.nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    accelerator: Accelerator,
    args: TrainingArguments,
    description: str,
) -> tuple[float, float]:
    """One pass over the training batches, each one :func:`~attention_demo.optimization.train_step` (forward,
    label-smoothed cross-entropy that ignores padding, backward, clipped optimizer step, schedule step).

    Returns the loss summed over the target tokens and the number of those tokens, over all processes (their ratio
    is the epoch's training loss).
    """
    model.train()
    loss_fn = loss_function(args.label_smoothing)
    loss_sum = torch.zeros((), device=accelerator.device)
    tokens = torch.zeros((), device=accelerator.device)
    disable = not accelerator.is_local_main_process
    for batch in tqdm(loader, desc=description, disable=disable, mininterval=5, leave=False):
        loss = train_step(model, optimizer, batch, loss_fn, args.max_grad_norm, scheduler, accelerator)
        n_tokens = (batch["tgt_out"] != PAD_ID).sum()
        loss_sum += loss * n_tokens  # the batch's mean per token, weighted by its tokens
        tokens += n_tokens
    loss_sum, tokens = accelerator.reduce(loss_sum, "sum"), accelerator.reduce(tokens, "sum")
    return loss_sum.item(), tokens.item()


@torch.no_grad()
def validation_loss(model: Seq2Seq, loader: DataLoader, device: torch.device) -> float:
    """Mean per-token cross-entropy (no label smoothing) of a teacher-forced pass."""
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(batch["src"], batch["src_mask"], batch["tgt_in"]).logits
        total += torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), batch["tgt_out"].flatten(), ignore_index=PAD_ID, reduction="sum"
        ).item()
        count += int((batch["tgt_out"] != PAD_ID).sum())
    return total / max(count, 1)


def translate_corpus(
    model: Seq2Seq, sources: list[str], src_tok: Tokenizer, tgt_tok: Tokenizer, beam_size: int, batch_size: int
) -> list[str]:
    """Detokenized best translations of a list of sentences."""
    model.eval()
    ids = [source_ids(src_tok, s) for s in sources]
    return [decode(tgt_tok, hyps[0].word_ids) for hyps in translate_ids(model, ids, beam_size, batch_size)]


def validate(model: Seq2Seq, data: TrainingData, args: TrainingArguments, device: torch.device) -> tuple[float, float]:
    """The validation loss (:func:`validation_loss`, in length-sorted batches) and the corpus BLEU of greedy
    translations of the validation sentences, which picks the epoch that is kept."""
    sampler = BucketBatchSampler(data.validation_pairs.lengths(), args.per_device_eval_batch_size, shuffle=False)
    loss = validation_loss(model, DataLoader(data.validation_pairs, batch_sampler=sampler, collate_fn=collate), device)
    hyps = translate_corpus(
        model, data.validation.source, data.src_tok, data.tgt_tok, 1, args.per_device_eval_batch_size
    )
    return loss, corpus_scores(hyps, data.validation.target)["bleu"]


def attention_snapshot(model: Seq2Seq, sentences: list[str], src_tok: Tokenizer, tgt_tok: Tokenizer) -> list[dict]:
    """Greedy translations of a few sentences with their attention matrices (rounded, for a small JSON)."""
    model.eval()
    ids = [source_ids(src_tok, s) for s in sentences]
    rows = []
    for src_ids, (hyp,) in zip(ids, translate_ids(model, ids, beam_size=1), strict=True):
        rows.append(
            {
                "source_pieces": pieces(src_tok, src_ids),
                "target_pieces": pieces(tgt_tok, hyp.tokens),
                "attention": [[round(float(w), 3) for w in row] for row in hyp.attention.tolist()],
            }
        )
    return rows


def record_epoch(
    model: Seq2Seq,
    name: str,
    folder: Path,
    data: TrainingData,
    args: TrainingArguments,
    state: dict,
    epoch: int,
    train_loss: float,
    tokens_per_second: float,
    epoch_seconds: float,
    learning_rate: float,
    device: torch.device,
) -> None:
    """After an epoch of model ``name``: validate it, add the history row (and attention snapshots) to ``state``, and
    save it as ``<folder>/<name>`` when its validation BLEU is the best so far."""
    val_loss, val_bleu = validate(model, data, args, device)
    row = {
        "epoch": epoch,
        "train_loss": round(train_loss, 4),
        "val_loss": round(val_loss, 4),
        "val_perplexity": round(math.exp(min(val_loss, 50)), 2),
        "val_bleu": val_bleu,
        "tokens_per_second": round(tokens_per_second),
        "epoch_seconds": round(epoch_seconds, 1),
        "learning_rate": learning_rate,
    }
    state["history"].append(row)
    state["train_seconds"] += epoch_seconds
    if data.snapshot_sentences and model.has_attention:
        translations = attention_snapshot(model, data.snapshot_sentences, data.src_tok, data.tgt_tok)
        state["attention"].append({"epoch": epoch, "translations": translations})
    logger.info(
        "[%s] epoch %d/%d | train loss %.3f | val loss %.3f ppl %.1f | val BLEU (greedy) %.2f | %d tok/s | %.0f s",
        name, epoch, args.num_train_epochs, row["train_loss"], val_loss, row["val_perplexity"], val_bleu,
        row["tokens_per_second"], epoch_seconds,
    )  # fmt: skip
    if val_bleu > state["best_bleu"]:
        state["best_bleu"], state["best_epoch"] = val_bleu, epoch
        save_model(model, folder / name)
        drop_stale_entries(folder, name)  # its evidence and alignment described the old weights


def new_state() -> dict:
    """The training state of a model before its first epoch (what a checkpoint's ``state`` holds)."""
    return {"epoch": 0, "history": [], "attention": [], "train_seconds": 0.0, "best_bleu": -1.0, "best_epoch": 0}


def train_model(name: str, args: TrainingArguments, accelerator: Accelerator, data: TrainingData) -> dict:
    """Train one model, keeping the best epoch (by validation BLEU) in ``<output_dir>/<name>``.

    After every epoch one checkpoint dict (model, optimizer, scheduler, config, state) is written; with
    ``--resume_from_checkpoint`` training continues after the epoch of the one found. Returns the checkpoint's
    ``state``: the last epoch, the history rows, the attention snapshots, the training seconds, the best epoch and
    its validation BLEU.
    """
    config = model_config(name, args, data)
    set_seed(args.seed)  # every model starts from the same seed
    model = Seq2Seq(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    sampler = BucketBatchSampler(
        data.train_pairs.lengths(), args.per_device_train_batch_size, shuffle=True, seed=args.seed
    )
    train_loader = DataLoader(data.train_pairs, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = math.ceil(len(sampler) / accelerator.num_processes)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(steps_per_epoch * args.num_train_epochs, args.warmup_ratio)
    )

    state = new_state()
    if args.resume_from_checkpoint:
        resumed = load_checkpoint(args.output_dir, name, model, optimizer, scheduler)
        if resumed is not None:
            state = resumed
            where = checkpoint_file(args.output_dir, name)
            accelerator.print(f"[{name}] resumed from {where} after epoch {state['epoch']}")

    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    unwrapped: Seq2Seq = accelerator.unwrap_model(model)

    for epoch in range(state["epoch"] + 1, args.num_train_epochs + 1):
        sampler.set_epoch(epoch)
        # accelerate's prepared loader re-sets its batch sampler's epoch to its own pass counter (0, 1, ... since
        # this process started) at every pass, which a resumed run restarts at 0: make it use the real epoch.
        train_loader.set_epoch(epoch)
        set_seed(args.seed + epoch, device_specific=True)  # dropout depends only on (seed, epoch, process)
        started = time.perf_counter()
        loss_sum, tokens = train_epoch(
            model, train_loader, optimizer, scheduler, accelerator, args, f"{name} epoch {epoch}"
        )
        epoch_seconds = time.perf_counter() - started

        if accelerator.is_main_process:
            learning_rate = scheduler.get_last_lr()[0]
            speed = tokens / epoch_seconds
            folder = Path(args.output_dir)
            record_epoch(
                unwrapped, name, folder, data, args, state, epoch, loss_sum / tokens, speed, epoch_seconds,
                learning_rate, accelerator.device,
            )  # fmt: skip
            state["epoch"] = epoch
            checkpoint = {
                "model": unwrapped.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "config": dataclasses.asdict(config),
                "state": state,
            }
            save_checkpoint(args.output_dir, name, checkpoint)
        accelerator.wait_for_everyone()
    return state


def train_pair_epoch(
    pair: torch.nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    accelerator: Accelerator,
    args: TrainingArguments,
    description: str,
) -> dict[str, float]:
    """One pass of :func:`~attention_demo.optimization.agreement_step` over the batches of
    :func:`~attention_demo.agreement.collate_both`.

    Returns, over all processes: each direction's loss summed over its target tokens and its token count
    (``forward_loss_sum``, ``forward_tokens``, ``backward_loss_sum``, ``backward_tokens``) and the mean agreement
    term per batch (``agreement``).
    """
    pair.train()
    loss_fn = loss_function(args.label_smoothing)
    sums = torch.zeros(6, device=accelerator.device)
    disable = not accelerator.is_local_main_process
    for batch in tqdm(loader, desc=description, disable=disable, mininterval=5, leave=False):
        forward_loss, backward_loss, agreement = agreement_step(
            pair, optimizer, batch, loss_fn, args.agreement_weight, args.max_grad_norm, scheduler, accelerator
        )
        forward_tokens = (batch["forward"]["tgt_out"] != PAD_ID).sum()
        backward_tokens = (batch["backward"]["tgt_out"] != PAD_ID).sum()
        sums += torch.stack([
            forward_loss * forward_tokens, forward_tokens.float(), backward_loss * backward_tokens,
            backward_tokens.float(), agreement, torch.ones((), device=sums.device),
        ])  # fmt: skip
    sums = accelerator.reduce(sums, "sum").tolist()
    keys = ("forward_loss_sum", "forward_tokens", "backward_loss_sum", "backward_tokens")
    return {**dict(zip(keys, sums[:4], strict=True)), "agreement": sums[4] / max(sums[5], 1.0)}


def train_agreement_pair(
    name: str,
    args: TrainingArguments,
    reverse_args: TrainingArguments,
    accelerator: Accelerator,
    data: TrainingData,
    reverse_data: TrainingData,
) -> tuple[dict, dict]:
    """Train score function ``name`` in both directions at once with the agreement term (``--agreement_weight``).

    The two models start from the seed as :func:`train_model`'s do, see the same batches (each pair read both ways),
    and share one optimizer, schedule and checkpoint (``<output_dir>/checkpoints/<name>-agreement.pt``). Each
    direction keeps its own best epoch (by its validation BLEU) as ``<name>-agreement`` in its own folder. Returns
    the two directions' states (as :func:`train_model`'s; their ``train_seconds`` is the joint training's).
    """
    pair_name = agreement_model_name(name)
    set_seed(args.seed)
    pair = AgreementPair(
        Seq2Seq(model_config(name, args, data)), Seq2Seq(model_config(name, reverse_args, reverse_data))
    )
    optimizer = torch.optim.AdamW(pair.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    sampler = BucketBatchSampler(
        data.train_pairs.lengths(), args.per_device_train_batch_size, shuffle=True, seed=args.seed
    )
    train_loader = DataLoader(data.train_pairs, batch_sampler=sampler, collate_fn=collate_both)
    steps_per_epoch = math.ceil(len(sampler) / accelerator.num_processes)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(steps_per_epoch * args.num_train_epochs, args.warmup_ratio)
    )

    state = {"epoch": 0, "forward": new_state(), "backward": new_state()}
    if args.resume_from_checkpoint:
        resumed = load_checkpoint(args.output_dir, pair_name, pair, optimizer, scheduler)
        if resumed is not None:
            state = resumed
            where = checkpoint_file(args.output_dir, pair_name)
            accelerator.print(f"[{pair_name}] resumed from {where} after epoch {state['epoch']}")

    prepared, optimizer, train_loader = accelerator.prepare(pair, optimizer, train_loader)
    unwrapped: AgreementPair = accelerator.unwrap_model(prepared)
    directions = (
        (unwrapped.forward_model, args, data, "forward"),
        (unwrapped.backward_model, reverse_args, reverse_data, "backward"),
    )

    for epoch in range(state["epoch"] + 1, args.num_train_epochs + 1):
        sampler.set_epoch(epoch)
        train_loader.set_epoch(epoch)  # as in train_model
        set_seed(args.seed + epoch, device_specific=True)
        started = time.perf_counter()
        sums = train_pair_epoch(
            prepared, train_loader, optimizer, scheduler, accelerator, args, f"{pair_name} epoch {epoch}"
        )
        epoch_seconds = time.perf_counter() - started

        if accelerator.is_main_process:
            for model, direction_args, direction_data, key in directions:
                loss_sum, tokens = sums[f"{key}_loss_sum"], sums[f"{key}_tokens"]
                folder = Path(direction_args.output_dir)
                record_epoch(
                    model, pair_name, folder, direction_data, args, state[key], epoch, loss_sum / tokens,
                    tokens / epoch_seconds, epoch_seconds, scheduler.get_last_lr()[0], accelerator.device,
                )  # fmt: skip
                state[key]["history"][-1]["agreement"] = round(sums["agreement"], 5)
                state[key]["epoch"] = epoch
            logger.info("[%s] epoch %d agreement term %.5f", pair_name, epoch, sums["agreement"])
            state["epoch"] = epoch
            checkpoint = {
                "model": unwrapped.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "config": dataclasses.asdict(unwrapped.forward_model.config),
                "reverse_config": dataclasses.asdict(unwrapped.backward_model.config),
                "state": state,
            }
            save_checkpoint(args.output_dir, pair_name, checkpoint)
        accelerator.wait_for_everyone()
    return state["forward"], state["backward"]


# ---------------------------------------------------------------------------------------------------------------------
# The model repo: test scores, the JSON files, the card, the push
# ---------------------------------------------------------------------------------------------------------------------


def evaluate_on_test(
    name: str, args: TrainingArguments, accelerator: Accelerator, data: TrainingData, state: dict
) -> dict:
    """Test scores of model ``name`` as saved (its best epoch, reloaded from the folder as a user loads it), with
    beam search of ``--eval_beam_size``, and the summary of its training: ``metrics.json["models"][name]``."""
    best = load_model(args.output_dir, name, accelerator.device)
    hyps = translate_corpus(
        best, data.test.source, data.src_tok, data.tgt_tok, args.eval_beam_size, args.per_device_eval_batch_size
    )
    model_metrics = {
        **evaluate_translations(data.test.source, hyps, data.test.target),
        "best_epoch": state["best_epoch"],
        "best_val_bleu": state["best_bleu"],
        "train_seconds": round(state["train_seconds"], 1),
        "num_parameters": sum(p.numel() for p in best.parameters()),
    }
    logger.info(
        "[%s] test BLEU %.2f chrF %.2f (beam %d, best epoch %d)",
        name, model_metrics["bleu"], model_metrics["chrf"], args.eval_beam_size, state["best_epoch"],
    )  # fmt: skip
    return model_metrics


def metrics_header(args: TrainingArguments, accelerator: Accelerator, data: TrainingData) -> dict:
    """What ``metrics.json`` says about the whole run, above the per-model scores."""
    return {
        "dataset": args.dataset_hub_id or args.dataset_name,
        "split": "test",
        "source_lang": args.source_lang,
        "target_lang": args.target_lang,
        "beam_size": args.eval_beam_size,
        "hardware": hardware_description(accelerator),
        "num_train_samples": len(data.train),
        "num_eval_samples": len(data.test),
    }


def hardware_description(accelerator: Accelerator) -> str:
    """A short human description of where training ran."""
    if accelerator.device.type == "cuda":
        name = torch.cuda.get_device_name(accelerator.device)
        return f"{accelerator.num_processes} x {name} (mixed precision: {accelerator.mixed_precision})"
    return (
        f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"{accelerator.num_processes} process(es)"
    )


def write_model_files(
    output: Path, name: str, state: dict, model_metrics: ModelScores, header: dict, snapshot_sentences: list[str]
) -> dict:
    """Put model ``name``'s curves, attention snapshots and test scores into ``history.json``,
    ``attention_evolution.json`` and ``metrics.json`` (with the run's ``header``) through the model repo's writers;
    returns the metrics.

    Each file is re-read and only this model's entry replaced, so runs training different models into one folder do
    not clobber each other.
    """
    record_history(output, name, state["history"])
    record_attention_evolution(output, name, snapshot_sentences, state["attention"])
    return record_test_scores(output, name, model_metrics, header)


def test_examples(test: ParallelCorpus, count: int, seed: int, source_lang: str, target_lang: str) -> list[dict]:
    """A fixed random sample of test pairs ``{source_lang: ..., target_lang: ...}``, short to long, for the app."""
    chosen = random.Random(seed).sample(range(len(test)), min(count, len(test)))
    chosen.sort(key=lambda i: len(test.source[i].split()))
    return [{source_lang: test.source[i], target_lang: test.target[i]} for i in chosen]


def push_repo(args: TrainingArguments, output: Path) -> None:
    """Upload the finished folder (never its checkpoints) to ``--hub_model_id``; a failure is logged with how to
    retry, then raised."""
    from attention_demo.hub import push_folder

    if not args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id (e.g. your-name/attention-demo-multi30k).")
    try:
        url = push_folder(output, args.hub_model_id, token=args.hub_token)
    except Exception as error:
        logger.error(
            "Push to %s failed: %s. The local folder %s is complete; run again with --push_to_hub "
            "--resume_from_checkpoint to retry.",
            args.hub_model_id,
            error,
            output,
        )
        raise
    logger.info("pushed to %s", url)


# ---------------------------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------------------------


def start_accelerator(mixed_precision: str) -> Accelerator:
    """The Accelerator (``auto``: bf16 on a GPU that has it, else none) and the log (INFO on the main process)."""
    if mixed_precision == "auto":
        mixed_precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(mixed_precision=mixed_precision)
    logging.basicConfig(
        level=logging.INFO if accelerator.is_main_process else logging.WARNING,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    return accelerator


def reverse_arguments(args: TrainingArguments) -> TrainingArguments:
    """The arguments of the other direction of an agreement run: languages swapped, ``--reverse_output_dir`` as the
    output folder (and this run's folder as its reverse)."""
    return dataclasses.replace(
        args,
        source_lang=args.target_lang,
        target_lang=args.source_lang,
        output_dir=args.reverse_output_dir,
        reverse_output_dir=args.output_dir,
    )


def check_same_tokenizers(data: TrainingData, reverse_data: TrainingData, reverse_dir: str) -> None:
    """Agreement compares the two directions token by token: both folders must tokenize each language alike."""
    if data.src_tok.to_str() != reverse_data.tgt_tok.to_str() or data.tgt_tok.to_str() != reverse_data.src_tok.to_str():
        raise cli.CommandLineError(
            f"--reverse_output_dir {reverse_dir} holds other tokenizers than this run's. Train both directions with "
            "the same --vocab_size on the same data (or delete its tokenizer files so that this run writes them)."
        )


def finish_folder(args: TrainingArguments, data: TrainingData, metrics: dict) -> None:
    """The files a folder gets once its models are written: the app's test examples and the model card."""
    output = Path(args.output_dir)
    examples = test_examples(data.test, args.num_test_examples, args.seed, args.source_lang, args.target_lang)
    write_json_atomic(output / TEST_EXAMPLES_FILE, examples)
    build_model_card(metrics, args.hub_model_id or output.name).save(output / MODEL_CARD_FILE)


def run(args: TrainingArguments) -> dict | None:
    """Train every model in ``args.attention``, evaluate on the test split and write the model repo; with
    ``--agreement_weight``, train each in both directions jointly (:func:`train_agreement_pair`) and write both repos.

    Returns the metrics dict on the main process (None elsewhere).
    """
    check_output_dir(args)
    reverse_args = reverse_arguments(args) if args.agreement_weight > 0 else None
    if reverse_args is not None:
        check_output_dir(reverse_args)
    accelerator = start_accelerator(args.mixed_precision)
    started = time.time()
    data = load_data(args, accelerator)
    record_settings(args, accelerator)
    directions = [(args, data)]
    if reverse_args is not None:
        reverse_data = load_data(reverse_args, accelerator)
        check_same_tokenizers(data, reverse_data, reverse_args.output_dir)
        directions.append((reverse_args, reverse_data))
    metrics: dict[str, dict] = {}
    for name in args.attention:
        if reverse_args is None:
            states = [train_model(name, args, accelerator, data)]
            model_name = name
        else:
            states = list(train_agreement_pair(name, args, reverse_args, accelerator, data, reverse_data))
            model_name = agreement_model_name(name)
        if not accelerator.is_main_process:
            continue
        for (direction_args, direction_data), state in zip(directions, states, strict=True):
            # written after every model: a crash later loses nothing already measured
            model_metrics = evaluate_on_test(model_name, direction_args, accelerator, direction_data, state)
            if reverse_args is not None:
                model_metrics["agreement_weight"] = args.agreement_weight
            header = metrics_header(direction_args, accelerator, direction_data)
            metrics[direction_args.output_dir] = write_model_files(
                Path(direction_args.output_dir), model_name, state, model_metrics, header,
                direction_data.snapshot_sentences,
            )  # fmt: skip
    if not accelerator.is_main_process:
        return None
    for direction_args, direction_data in directions:
        finish_folder(direction_args, direction_data, metrics[direction_args.output_dir])
        logger.info("wrote %s in %.0f s", direction_args.output_dir, time.time() - started)
    output = Path(args.output_dir)
    logger.info(
        "corpus evidence (gradient x input, Integrated Gradients, occlusion, agreement): "
        "python -m attention_demo.evidence --model %s --dataset_name %s",
        output,
        args.dataset_name,
    )
    if args.push_to_hub:
        push_repo(args, output)
    return metrics[args.output_dir]


def main(argv: list[str] | None = None) -> int:
    """``train.py``: check the arguments, then train; returns the exit status (usage errors exit with 2).

    An expected failure (a missing folder, an unreachable Hub, a dataset without the language, a corrupt checkpoint,
    a resume with other settings, an output folder that is a file, ...) prints one ``error:`` line and returns 1;
    ``--debug`` adds its traceback.
    """
    parser = build_parser()
    namespace = parser.parse_args(argv)
    args = _checked_arguments(namespace, parser)
    if args.push_to_hub and not args.hub_model_id:
        # Here rather than in parse_args: run() refuses it too (after training), for callers that build the arguments.
        parser.error("--push_to_hub needs --hub_model_id (for example your-name/attention-demo-multi30k)")

    def train() -> int:
        run(args)
        return 0

    return cli.report_failures(train, namespace.debug, expected=(DatasetError, ModelLoadError, CheckpointError))
