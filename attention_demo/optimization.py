"""One optimisation step of a model: what ``train.py``'s loop and the app's live training both run.

Teacher-forced forward pass over the whole target, cross-entropy over the target tokens (padding ignored, label
smoothing as the loss function says), backward pass, gradient clipping, the optimizer's step and the schedule's.
With an ``accelerate.Accelerator`` the forward pass runs under its autocast and the backward pass and clipping go
through it (mixed precision, several GPUs); without one, plain PyTorch.

:func:`agreement_step` is the same step for an :class:`~attention_demo.agreement.AgreementPair`: both directions'
cross-entropies plus the weighted agreement between their attention (Cheng et al. 2016).
"""

from __future__ import annotations

import contextlib

import torch
from accelerate import Accelerator

from attention_demo.agreement import AgreementPair, agreement_loss
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
    _update(model, optimizer, loss, max_grad_norm, scheduler, accelerator)
    return loss.detach()


def agreement_step(
    pair: AgreementPair | torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, dict[str, torch.Tensor]],
    loss_fn: torch.nn.Module,
    agreement_weight: float,
    max_grad_norm: float = 1.0,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    accelerator: Accelerator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One joint step on :func:`~attention_demo.agreement.collate_both`'s ``batch``:
    ``CE(forward) + CE(backward) + agreement_weight * agreement_loss(A_forward, A_backward)``.

    Returns:
        the forward and backward mean losses per target token and the agreement term, detached.
    """
    forward, backward = batch["forward"], batch["backward"]
    with accelerator.autocast() if accelerator is not None else contextlib.nullcontext():
        out = pair(batch)
        forward_loss = loss_fn(out.forward.logits.flatten(0, 1).float(), forward["tgt_out"].flatten())
        backward_loss = loss_fn(out.backward.logits.flatten(0, 1).float(), backward["tgt_out"].flatten())
        agreement = agreement_loss(
            out.forward.attention, out.backward.attention, forward["src_mask"], forward["tgt_out"] != PAD_ID
        )
        loss = forward_loss + backward_loss + agreement_weight * agreement
    _update(pair, optimizer, loss, max_grad_norm, scheduler, accelerator)
    return forward_loss.detach(), backward_loss.detach(), agreement.detach()


def _update(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    max_grad_norm: float,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    accelerator: Accelerator | None,
) -> None:
    """Backward pass, gradient clipping of ``model``'s parameters, the optimizer's step and the schedule's."""
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
