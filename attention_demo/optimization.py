"""One optimisation step of a model: what ``train.py``'s loop and the app's live training both run.

Teacher-forced forward pass over the whole target, cross-entropy over the target tokens (padding ignored, label
smoothing as the loss function says), backward pass, gradient clipping, the optimizer's step and the schedule's.
With an ``accelerate.Accelerator`` the forward pass runs under its autocast and the backward pass and clipping go
through it (mixed precision, several GPUs); without one, plain PyTorch.
"""

from __future__ import annotations

import contextlib

import torch
from accelerate import Accelerator

from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import PAD_ID


def loss_function(label_smoothing: float = 0.0) -> torch.nn.CrossEntropyLoss:
    """Cross-entropy over target tokens that ignores padding (Szegedy et al. 2016's label smoothing if > 0)."""
    return torch.nn.CrossEntropyLoss(ignore_index=PAD_ID, label_smoothing=label_smoothing)


def train_step(
    model: Seq2Seq | torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    loss_fn: torch.nn.Module,
    max_grad_norm: float = 1.0,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    accelerator: Accelerator | None = None,
) -> torch.Tensor:
    """One step on ``batch`` (``src``, ``src_mask`` ``(batch, S)``; ``tgt_in``, ``tgt_out`` ``(batch, T)``).

    Returns:
        the batch's mean loss per target token, detached.
    """
    with accelerator.autocast() if accelerator is not None else contextlib.nullcontext():
        logits = model(batch["src"], batch["src_mask"], batch["tgt_in"]).logits  # (batch, tgt_len, vocab)
        loss = loss_fn(logits.flatten(0, 1).float(), batch["tgt_out"].flatten())
    if accelerator is not None:
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()
