"""Unit tests for the numbers of training, each against an independent computation: the label-smoothed loss that
ignores padding (attention_demo.optimization, the step train.py and the live training share), the token weighting of
an epoch's loss, the learning-rate schedule, the model config built from the arguments (attention_demo.training), and
the checkpoint dict's round trip (attention_demo.model_repo). The whole run is tested in test_train.py."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from conftest import assert_same_training_state
from torch.utils.data import DataLoader

from attention_demo.data import collate
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.model_repo import CheckpointError, checkpoint_file, load_checkpoint, save_checkpoint
from attention_demo.optimization import loss_function
from attention_demo.tokenizer import EOS_ID, PAD_ID
from attention_demo.training import (
    TrainingArguments,
    lr_lambda,
    model_config,
    parse_args,
    train_epoch,
)

VOCAB = 6


def loss_by_hand(logits: list[list[list[float]]], targets: list[list[int]], eps: float) -> tuple[float, int]:
    """Label-smoothed cross-entropy summed over the target tokens that are not padding, and their number, with
    Python floats: ``-log p(v) = logsumexp(x) - x_v``; a token costs ``(1 - eps) * -log p(y) + eps * mean_v -log
    p(v)``."""
    total, count = 0.0, 0
    for sentence_logits, sentence_targets in zip(logits, targets, strict=True):
        for x, y in zip(sentence_logits, sentence_targets, strict=True):
            if y == PAD_ID:
                continue
            lse = math.log(sum(math.exp(v) for v in x))
            nll = [lse - v for v in x]
            total += (1 - eps) * nll[y] + eps * sum(nll) / len(x)
            count += 1
    return total, count


def training_loss(logits: torch.Tensor, targets: torch.Tensor, eps: float) -> torch.Tensor:
    """The training loss as the training step applies it: ``(batch, T, V)`` logits and ``(batch, T)`` targets."""
    return loss_function(eps)(logits.flatten(0, 1).float(), targets.flatten())


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothed_loss_by_hand(eps: float) -> None:
    """Two sentences, the second padded: the loss is the mean over the 5 real tokens of the smoothed cross-entropy,
    and what the logits say at padded positions changes nothing."""
    torch.manual_seed(0)
    logits = torch.randn(2, 3, VOCAB)
    targets = torch.tensor([[4, 5, EOS_ID], [5, EOS_ID, PAD_ID]])
    total, count = loss_by_hand(logits.tolist(), targets.tolist(), eps)
    assert count == 5
    loss = training_loss(logits, targets, eps)
    assert loss.item() == pytest.approx(total / count, rel=1e-6)
    changed = logits.clone()
    changed[1, 2] = torch.tensor([50.0, -3.0, 7.0, 0.0, 1.0, -9.0])  # the padded position
    assert training_loss(changed, targets, eps).item() == loss.item()


@pytest.fixture
def accelerator() -> Iterator[Accelerator]:
    """A CPU Accelerator without mixed precision; its global state is reset afterwards."""
    yield Accelerator(cpu=True, mixed_precision="no")
    AcceleratorState._reset_state(reset_partial_state=True)


def test_an_epoch_weights_each_batch_loss_by_its_tokens(
    accelerator: Accelerator, tiny_model: Callable[..., Seq2Seq]
) -> None:
    """train_epoch returns the summed token loss and the token count: with a learning rate of 0 (the weights stay),
    they equal the loss by hand of the model's logits on each batch, weighted by the batch's real target tokens, so
    the training step uses exactly the label-smoothed loss that ignores padding."""
    model = tiny_model("additive")  # dropout 0: the training pass computes what an eval pass computes
    pairs = [
        ([5, 6, 7, EOS_ID], [8, 9, EOS_ID]),
        ([10, 11, EOS_ID], [12, 13, 14, 15, EOS_ID]),
        ([16, EOS_ID], [17, EOS_ID]),
    ]
    loader = DataLoader(pairs, batch_sampler=[[0, 1], [2]], collate_fn=collate)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    args = TrainingArguments(label_smoothing=0.1, max_grad_norm=1.0)
    expected_sum, expected_tokens = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            logits = model(batch["src"], batch["src_mask"], batch["tgt_in"]).logits
            total, count = loss_by_hand(logits.tolist(), batch["tgt_out"].tolist(), 0.1)
            expected_sum, expected_tokens = expected_sum + total, expected_tokens + count
    assert expected_tokens == 3 + 5 + 2
    loss_sum, tokens = train_epoch(model, loader, optimizer, scheduler, accelerator, args, "test")
    assert tokens == expected_tokens
    assert loss_sum == pytest.approx(expected_sum, rel=1e-5)
    assert scheduler.last_epoch == 2  # one schedule step per batch


def test_learning_rate_schedule_by_hand() -> None:
    """100 steps, 10% warm-up: the factor climbs linearly to 1 over steps 0..9, then follows half a cosine from 1
    down to 0.1 over the remaining 90 steps, and stays at 0.1 after the end."""
    factor = lr_lambda(100, 0.1)
    assert [factor(step) for step in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert factor(10) == pytest.approx(1.0)  # the top: progress 0, cos(0) = 1
    assert factor(40) == pytest.approx(0.1 + 0.45 * 1.5)  # progress 1/3: cos(pi/3) = 1/2
    assert factor(55) == pytest.approx(0.55)  # half-way: cos(pi/2) = 0
    assert factor(70) == pytest.approx(0.1 + 0.45 * 0.5)  # progress 2/3: cos(2 pi/3) = -1/2
    assert factor(100) == pytest.approx(0.1) and factor(1000) == pytest.approx(0.1)
    assert [factor(step) for step in range(10, 100)] == sorted((factor(s) for s in range(10, 100)), reverse=True)
    no_warmup = lr_lambda(20, 0.0)  # a warm-up of at least one step: the first step already has the full rate
    assert no_warmup(0) == pytest.approx(1.0) and no_warmup(20) == pytest.approx(0.1)


def tokenizer_of_size(size: int) -> SimpleNamespace:
    """Stands in for a tokenizer where only its vocabulary size is read."""
    return SimpleNamespace(get_vocab_size=lambda: size)


def test_model_config_takes_the_design_from_the_arguments() -> None:
    """Every ModelConfig field that TrainingArguments has by name comes from the arguments; the vocabulary sizes come
    from the tokenizers; baseline means no attention."""
    args = parse_args(
        ["--embedding_size", "24", "--encoder_hidden_size", "6", "--decoder_hidden_size", "10", "--attention_size",
         "5", "--num_layers", "2", "--dropout", "0.2", "--tie_embeddings", "false", "--attention_placement",
         "bahdanau", "--null_slot", "--attend_eos", "false", "--context_gate", "--source_lang", "fr",
         "--target_lang", "de", "--attention", "general", "baseline"]
    )  # fmt: skip
    data = SimpleNamespace(src_tok=tokenizer_of_size(123), tgt_tok=tokenizer_of_size(77))
    config = model_config("general", args, data)
    assert (config.src_vocab_size, config.tgt_vocab_size, config.attention_type) == (123, 77, "general")
    not_from_arguments = {"src_vocab_size", "tgt_vocab_size", "attention_type", "pad_id", "bos_id", "eos_id"}
    for f in dataclasses.fields(ModelConfig):
        if f.name not in not_from_arguments:
            assert getattr(config, f.name) == getattr(args, f.name), f.name
    assert (config.num_layers, config.attention_placement, config.null_slot, config.source_lang) == (
        2, "bahdanau", True, "fr"
    )  # fmt: skip
    assert model_config("baseline", args, data).attention_type is None


def training_parts(tiny_model: Callable[..., Seq2Seq], seed: int) -> tuple:
    """A tiny model, its AdamW optimizer and a schedule, after two steps on a random loss (so that every state is
    non-trivial)."""
    model = tiny_model("dot", seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(10, 0.2))
    for _ in range(2):
        src = torch.tensor([[5, 6, EOS_ID]])
        model(src, src != PAD_ID, torch.tensor([[2, 7]])).logits.sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def test_checkpoint_round_trip(tmp_path: Path, tiny_model: Callable[..., Seq2Seq]) -> None:
    """save_checkpoint writes one dict at checkpoint_file (nothing temporary left); load_checkpoint restores model,
    optimizer and scheduler into fresh ones and returns the training state; no checkpoint gives None."""
    model, optimizer, scheduler = training_parts(tiny_model, seed=0)
    state = {"epoch": 3, "history": [{"epoch": 3, "val_bleu": 1.5}], "best_epoch": 2, "best_bleu": 2.5}
    written = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "config": dataclasses.asdict(model.config),
        "state": state,
    }
    assert save_checkpoint(tmp_path, "dot", written) == checkpoint_file(tmp_path, "dot")
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["dot.pt"]

    fresh_model, fresh_optimizer, fresh_scheduler = training_parts(tiny_model, seed=1)  # other weights and moments
    assert load_checkpoint(tmp_path, "additive", fresh_model, fresh_optimizer, fresh_scheduler) is None
    assert load_checkpoint(tmp_path, "dot", fresh_model, fresh_optimizer, fresh_scheduler) == state
    restored = {
        "model": fresh_model.state_dict(),
        "optimizer": fresh_optimizer.state_dict(),
        "scheduler": fresh_scheduler.state_dict(),
    }
    assert_same_training_state(written, restored)


def test_a_checkpoint_of_other_sizes_or_truncated_is_a_checkpoint_error(
    tmp_path: Path, tiny_model: Callable[..., Seq2Seq], tiny_config: Callable[..., ModelConfig]
) -> None:
    """A checkpoint written with other model sizes, or cut in half, raises CheckpointError naming the file and what
    to do."""
    model, optimizer, scheduler = training_parts(tiny_model, seed=0)
    parts = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "config": {}, "state": {}}
    path = save_checkpoint(tmp_path, "dot", {"model": model.state_dict(), **parts})
    bigger = Seq2Seq(tiny_config("dot", embedding_size=32))
    bigger_optimizer = torch.optim.AdamW(bigger.parameters())
    bigger_scheduler = torch.optim.lr_scheduler.LambdaLR(bigger_optimizer, lr_lambda(10, 0.2))
    with pytest.raises(CheckpointError, match="cannot be resumed") as error:
        load_checkpoint(tmp_path, "dot", bigger, bigger_optimizer, bigger_scheduler)
    assert str(path) in str(error.value) and "Delete it" in str(error.value)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        load_checkpoint(tmp_path, "dot", model, optimizer, scheduler)
