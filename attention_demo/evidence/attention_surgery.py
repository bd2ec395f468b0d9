"""Attention surgery: replace the attention weights of one output step before the Combine step and decode on.

If the translation depends on where attention looks, changing one step's weights (uniform, all on one source word,
or the learned weights permuted) should change what follows; the model's own weights are the control, which
reproduces greedy decoding exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from attention_demo.decoding import greedy_search
from attention_demo.model import Seq2Seq

SURGERY_MODES = ("own", "uniform", "one_word", "permuted")


def _tensor(ids: Sequence[int], device: torch.device) -> torch.Tensor:
    """``(1, len(ids))`` long tensor: one sentence as a batch."""
    return torch.tensor([list(ids)], dtype=torch.long, device=device)


@dataclass
class SurgeryResult:
    """One attention-surgery run: the original hypothesis and the output after changing the weights of ``step``."""

    mode: str
    step: int
    original_tokens: list[int]
    original_logprobs: list[float]  # teacher-forced, one per original token
    tokens: list[int]  # the original prefix tokens[:step], then greedy from ``step`` with the new weights
    token_logprobs: list[float]
    original_weights: np.ndarray  # (S,) the model's own alpha at ``step`` (after the original prefix)
    weights: np.ndarray  # (S,) the alpha used instead

    @property
    def original_logprob(self) -> float:
        return float(sum(self.original_logprobs))

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))


def surgery_weights(own: torch.Tensor, mode: str, source_index: int | None = None, seed: int = 0) -> torch.Tensor:
    """The replacement for one step's weights ``own`` ``(S,)``.

    ``own``: unchanged; ``uniform``: ``1/S`` everywhere; ``one_word``: all weight on ``source_index``;
    ``permuted``: the learned weights in a random order (``seed``), so the sharpness stays and the alignment goes.
    """
    size = own.numel()
    if mode == "own":
        return own.clone()
    if mode == "uniform":
        return torch.full_like(own, 1.0 / size)
    if mode == "one_word":
        if source_index is None or not 0 <= int(source_index) < size:
            raise ValueError(f"one_word surgery needs a source_index in 0..{size - 1}, got {source_index!r}.")
        weights = torch.zeros_like(own)
        weights[int(source_index)] = 1.0
        return weights
    if mode == "permuted":
        generator = torch.Generator().manual_seed(seed)
        return own[torch.randperm(size, generator=generator).to(own.device)]
    raise ValueError(f"Unknown surgery mode {mode!r}; choose one of {', '.join(SURGERY_MODES)}.")


def surgery(
    model: Seq2Seq,
    src_ids: Sequence[int],
    tokens: Sequence[int],
    step: int,
    mode: str,
    source_index: int | None = None,
    seed: int = 0,
) -> SurgeryResult:
    """Attention surgery: change the weights of output position ``step`` before the Combine step, decode on greedily.

    The prefix ``tokens[:step]`` is teacher-forced (so every step before ``step`` is exactly as in the original);
    at ``step`` the decoder's weights ``alpha`` ``(S,)`` are replaced (see :func:`surgery_weights`) through
    :func:`~attention_demo.decoding.greedy_search`'s ``override_weights``; from ``step`` on the output is greedy.
    With ``mode="own"`` and greedy-decoded ``tokens`` this reproduces ``tokens`` exactly (the test suite checks it).

    Args:
        model: an attention model.
        src_ids: ``S`` source ids ending with ``</s>``.
        tokens: the original hypothesis (``T`` ids).
        step: the output position ``0 <= step < T`` whose weights are replaced.
        mode: one of ``SURGERY_MODES``.
        source_index: the source piece for ``mode="one_word"``.
        seed: the permutation seed for ``mode="permuted"``.
    """
    if not model.has_attention:
        raise ValueError("The baseline has no attention weights to operate on; choose an attention model.")
    if mode not in SURGERY_MODES:
        raise ValueError(f"Unknown surgery mode {mode!r}; choose one of {', '.join(SURGERY_MODES)}.")
    tokens = list(tokens)
    if not 0 <= step < len(tokens):
        raise ValueError(f"step must be in 0..{len(tokens) - 1}, got {step}.")
    device = next(model.parameters()).device
    src = _tensor(src_ids, device)  # (1, S)
    src_mask = torch.ones_like(src, dtype=torch.bool)
    forced = _tensor(tokens, device)  # (1, T)
    # The original, step by step exactly as greedy decoding computed it (each token scored after its own prefix).
    original = greedy_search(model, src, src_mask, len(tokens), prefix=forced)[0]
    changed: dict[str, torch.Tensor] = {}

    def replace(t: int, own: torch.Tensor) -> torch.Tensor | None:
        if t != step:
            return None
        changed["own"], changed["used"] = own[0], surgery_weights(own[0], mode, source_index, seed)
        return changed["used"].unsqueeze(0)  # (1, S)

    operated = greedy_search(model, src, src_mask, prefix=forced[:, :step], override_weights=replace)[0]
    return SurgeryResult(
        mode=mode,
        step=step,
        original_tokens=original.tokens,
        original_logprobs=original.token_logprobs,
        tokens=operated.tokens,
        token_logprobs=operated.token_logprobs,
        original_weights=changed["own"].float().cpu().numpy(),
        weights=changed["used"].float().cpu().numpy(),
    )
