"""Evidence beyond heatmaps: gradient saliency, occlusion, agreement, attention surgery and coverage.

A heatmap shows where attention *looked*; it does not show what the output *depended on*. Whether attention weights
explain a prediction is disputed (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019,
"Attention is not not Explanation"), so this module measures the claim instead of assuming it:

- :func:`saliency`: how strongly each output word's log-probability reacts to each source word (gradient x input on
  the source embeddings, Simonyan et al. 2014 / Shrikumar et al. 2017). Works for the baseline too.
- :func:`occlusion`: how much each output word's log-probability drops when one source piece is replaced by
  ``<unk>`` (leave-one-out, teacher-forced).
- :func:`agreement`: Kendall tau, top-1 agreement and Jensen-Shannon divergence between two rows (attention vs
  saliency, attention vs occlusion); :func:`per_step_agreement` gives it for every output step of a hypothesis.
  Agreement is evidence, not proof: both sides are themselves approximations.
- :func:`surgery`: replace the attention weights of one target step before the Combine step and greedy-decode on.
- :func:`coverage`: how much attention every source piece received over the whole output (dropped / repeated words).
- :func:`gradient_by_distance`: mean saliency by the distance ``|i - t|`` between source and output position.

The corpus evaluation (stored under ``"evidence"`` in ``metrics.json``, shown by the app; nothing is recomputed at
app start-up)::

    OMP_NUM_THREADS=1 python -m attention_demo.evidence --model models/multi30k-de-en \\
        --dataset_name ../shared/data/multi30k --max_samples 200

Shapes: ``T`` output positions (the hypothesis, usually ending in ``</s>``), ``S`` source pieces (ending in ``</s>``).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attention_demo.data import decoder_input
from attention_demo.decoding import greedy_search
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import UNK_ID

logger = logging.getLogger(__name__)

EVIDENCE_KEY = "evidence"  # the top-level key in metrics.json
ROW_CHUNK = 16  # rows (output positions or occluded copies) per forward pass: bounds the (chunk, T, vocab) logits
# Coverage flags, for a source piece's total attention over the whole output (a piece translated once gets ~1).
DROPPED_BELOW = 0.3  # less than this: probably dropped (never really attended)
REPEATED_ABOVE = 2.0  # more than this: probably translated more than once (or a "parking" position)
SURGERY_MODES = ("own", "uniform", "one_word", "permuted")
TAU_BINS = np.linspace(-1.0, 1.0, 21)
JSD_BINS = np.linspace(0.0, 1.0, 21)
MAX_DISTANCE = 30  # gradient_by_distance keeps distances 0..MAX_DISTANCE


def _device(model: Seq2Seq) -> torch.device:
    return next(model.parameters()).device


def _tensor(ids: Sequence[int], device: torch.device) -> torch.Tensor:
    return torch.tensor([list(ids)], dtype=torch.long, device=device)


# ---------------------------------------------------------------------------------------------------------------------
# Gradient saliency and occlusion
# ---------------------------------------------------------------------------------------------------------------------


@torch.inference_mode(False)  # gradients are needed even when the caller runs under inference_mode (the app does)
def saliency(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], normalise: bool = True) -> np.ndarray:
    """Gradient x input saliency of every output token with respect to every source piece (teacher-forced).

    For output position ``t`` (which produced ``tgt_ids[t]`` from ``<s> y_1 .. y_{t-1}``) and source piece ``i``:
    ``sal[t, i] = || x_i * d log p(y_t) / d x_i ||_2`` where ``x_i`` is the source embedding of piece ``i``. All
    ``T`` gradients come from one backward pass: the sentence is repeated ``T`` times in a batch and row ``t`` of the
    batch only contributes ``log p(y_t)``.

    Args:
        model: any model (attention or baseline); it should be in eval mode (dropout off).
        src_ids: ``S`` source ids ending with ``</s>``.
        tgt_ids: ``T`` output ids (a hypothesis).
        normalise: divide every row by its sum (rows sum to 1, comparable with attention rows); an all-zero row
            stays zero.

    Returns:
        ``(T, S)`` array.
    """
    device = _device(model)
    src = _tensor(src_ids, device)  # (1, S)
    tgt = list(tgt_ids)
    tgt_in = decoder_input(_tensor(tgt, device))  # (1, T)
    result = np.zeros((len(tgt), len(src_ids)), dtype=np.float64)
    captured: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)  # (rows, S, emb) a leaf we can take the gradient of
        captured.append(leaf)
        return leaf

    handle = model.encoder.embedding.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            for start in range(0, len(tgt), ROW_CHUNK):
                rows = list(range(start, min(start + ROW_CHUNK, len(tgt))))
                length = rows[-1] + 1  # later decoder inputs cannot influence these rows
                captured.clear()
                src_batch = src.expand(len(rows), -1)
                memory = model.encode(src_batch, torch.ones_like(src_batch, dtype=torch.bool))
                logits = model.decode(tgt_in[:, :length].expand(len(rows), -1), memory).logits  # (rows, length, V)
                logp = torch.log_softmax(logits.float(), dim=-1)
                index = torch.arange(len(rows), device=device)
                positions = torch.tensor(rows, device=device)
                targets = torch.tensor([tgt[t] for t in rows], device=device)
                picked = logp[index, positions, targets]  # (rows,) log p(y_t) of each row's own output position
                (grad,) = torch.autograd.grad(picked.sum(), captured[0])
                values = (grad * captured[0]).norm(dim=-1)  # (rows, S)
                result[start : start + len(rows)] = values.detach().double().cpu().numpy()
    finally:
        handle.remove()
    if normalise:
        sums = result.sum(axis=1, keepdims=True)
        result = np.divide(result, sums, out=np.zeros_like(result), where=sums > 0)
    return result


@torch.inference_mode()
def token_logprobs(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int]) -> np.ndarray:
    """``(T,)`` teacher-forced log-probabilities of ``tgt_ids`` given ``src_ids``."""
    return _occluded_logprobs(model, [list(src_ids)], tgt_ids)[0]


def _occluded_logprobs(model: Seq2Seq, sources: list[list[int]], tgt_ids: Sequence[int]) -> np.ndarray:
    """``(len(sources), T)`` teacher-forced log-probabilities of ``tgt_ids`` for equally long source variants."""
    device = _device(model)
    tgt = torch.tensor(list(tgt_ids), dtype=torch.long, device=device)  # (T,)
    tgt_in = decoder_input(tgt.unsqueeze(0))  # (1, T)
    rows = []
    for start in range(0, len(sources), ROW_CHUNK):
        src = torch.tensor(sources[start : start + ROW_CHUNK], dtype=torch.long, device=device)  # (n, S)
        memory = model.encode(src, torch.ones_like(src, dtype=torch.bool))
        logits = model.decode(tgt_in.expand(src.size(0), -1), memory).logits  # (n, T, V)
        logp = torch.log_softmax(logits.float(), dim=-1)
        rows.append(logp.gather(2, tgt.view(1, -1, 1).expand(src.size(0), -1, 1)).squeeze(2))  # (n, T)
    return torch.cat(rows).double().cpu().numpy()


@torch.inference_mode()
def occlusion(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], mask_id: int = UNK_ID) -> np.ndarray:
    """Leave-one-out occlusion: how much each output token's log-probability drops without each source piece.

    ``occ[t, i] = log p(y_t | x) - log p(y_t | x with piece i replaced by <unk>)``, teacher-forced on ``tgt_ids``
    (the prefix stays the same, so only the effect on word ``t`` itself is measured). Positive: the piece supported
    that word. Every piece is occluded, ``</s>`` included. Works for the baseline too.

    Returns:
        ``(T, S)`` array (not normalised; may be negative).
    """
    src = list(src_ids)
    variants = [src[:i] + [mask_id] + src[i + 1 :] for i in range(len(src))]
    original = _occluded_logprobs(model, [src], tgt_ids)[0]  # (T,)
    occluded = _occluded_logprobs(model, variants, tgt_ids)  # (S, T)
    return original[:, None] - occluded.T


# ---------------------------------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------------------------------


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties handled as in scipy.stats.kendalltau); NaN with fewer than 2 items or a constant row.

    ``tau_b = (concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y))`` over all ``n0 = n (n-1) / 2`` pairs.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2:
        return float("nan")
    i, j = np.triu_indices(x.size, k=1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    pairs = i.size
    denominator = math.sqrt(float(pairs - np.sum(sx == 0)) * float(pairs - np.sum(sy == 0)))
    return float(np.sum(sx * sy) / denominator) if denominator > 0 else float("nan")


def as_distribution(row: Sequence[float]) -> np.ndarray:
    """Negative entries set to 0, then normalised to sum 1 (uniform if nothing positive is left)."""
    row = np.clip(np.asarray(row, dtype=float), 0.0, None)
    total = row.sum()
    return row / total if total > 0 else np.full(row.shape, 1.0 / max(row.size, 1))


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence in bits (0 = identical, 1 = disjoint supports) of two distributions."""
    p, q = as_distribution(p), as_distribution(q)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nonzero = a > 0
        return float(np.sum(a[nonzero] * np.log2(a[nonzero] / m[nonzero])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def agreement(attention_row: Sequence[float], other_row: Sequence[float]) -> dict[str, float]:
    """How well an attention row ``(S,)`` agrees with another importance row ``(S,)`` (saliency, occlusion).

    Returns ``kendall_tau`` (rank correlation over all pieces, -1..1, NaN if a row is constant), ``top1`` (1.0 when
    both rows put their maximum on the same piece, else 0.0) and ``jsd`` (Jensen-Shannon divergence in bits, 0..1,
    after :func:`as_distribution`). High agreement is evidence that the attention row points at what the prediction
    used, not proof (Jain & Wallace 2019; Wiegreffe & Pinter 2019).
    """
    a, b = np.asarray(attention_row, dtype=float), np.asarray(other_row, dtype=float)
    return {
        "kendall_tau": kendall_tau(a, b),
        "top1": float(np.argmax(a) == np.argmax(b)),
        "jsd": jensen_shannon(a, b),
    }


def per_step_agreement(attention: np.ndarray, other: np.ndarray) -> list[dict[str, float]]:
    """:func:`agreement` of every output step: row ``t`` of ``attention`` ``(T, S)`` against row ``t`` of ``other``
    ``(T, S)`` (saliency or occlusion of the same hypothesis; any two importance matrices work).

    Returns:
        ``T`` dicts with ``kendall_tau``, ``top1`` and ``jsd``, in output order.
    """
    attention, other = np.asarray(attention, dtype=float), np.asarray(other, dtype=float)
    if attention.ndim != 2 or attention.shape != other.shape:
        raise ValueError(f"Both matrices must be (T, S) of the same shape, got {attention.shape} and {other.shape}.")
    return [agreement(a, b) for a, b in zip(attention, other)]


# ---------------------------------------------------------------------------------------------------------------------
# Attention surgery
# ---------------------------------------------------------------------------------------------------------------------


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
    device = _device(model)
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


# ---------------------------------------------------------------------------------------------------------------------
# Coverage and distance
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Coverage:
    """Total attention per source piece (or word) over the whole output."""

    totals: np.ndarray  # (S,) column sums of the attention matrix; they add up to T (every row sums to 1)
    flags: list[str]  # per source piece: "dropped", "repeated" or ""


def coverage(
    attention: np.ndarray,
    groups: Sequence[Sequence[int]] | None = None,
    ignore: Sequence[int] = (),
    dropped_below: float = DROPPED_BELOW,
    repeated_above: float = REPEATED_ABOVE,
) -> Coverage:
    """How much attention each source piece received over the whole output (Tu et al. 2016's coverage idea).

    Args:
        attention: ``(T, S)`` weights, rows summing to 1, so the totals add up to ``T``.
        groups: optional source-piece index lists (e.g. words from ``inspection.word_spans``): totals per group.
        ignore: (group) indices never flagged, e.g. ``</s>``, where many models park attention.
        dropped_below: a total below this is flagged ``dropped`` (a piece translated once gets about 1).
        repeated_above: a total above this is flagged ``repeated``.

    Returns:
        :class:`Coverage` with ``(S,)`` (or ``(len(groups),)``) totals and flags. The flags are hints: attention can
        look elsewhere while the information arrives through the encoder's recurrent states.
    """
    totals = np.asarray(attention, dtype=float).sum(axis=0)
    if groups is not None:
        totals = np.array([totals[list(g)].sum() for g in groups])
    skip = set(ignore)
    flags = [
        "" if j in skip else "dropped" if total < dropped_below else "repeated" if total > repeated_above else ""
        for j, total in enumerate(totals)
    ]
    return Coverage(totals, flags)


def gradient_by_distance(
    matrices: Sequence[np.ndarray], max_distance: int = MAX_DISTANCE
) -> tuple[np.ndarray, np.ndarray]:
    """Mean value of ``matrix[t, i]`` by the distance ``|i - t|`` between source piece ``i`` and output position ``t``.

    Args:
        matrices: ``(T, S)`` saliency matrices (one per sentence).
        max_distance: larger distances are left out.

    Returns:
        ``(max_distance + 1,)`` means (NaN where no pair has that distance) and the number of pairs per distance.
    """
    sums = np.zeros(max_distance + 1)
    counts = np.zeros(max_distance + 1, dtype=np.int64)
    for matrix in matrices:
        matrix = np.asarray(matrix, dtype=float)
        t, i = np.indices(matrix.shape)
        distance = np.abs(i - t).ravel()
        keep = distance <= max_distance
        sums += np.bincount(distance[keep], weights=matrix.ravel()[keep], minlength=max_distance + 1)
        counts += np.bincount(distance[keep], minlength=max_distance + 1)
    means = np.divide(sums, counts, out=np.full(max_distance + 1, np.nan), where=counts > 0)
    return means, counts


# ---------------------------------------------------------------------------------------------------------------------
# The corpus evaluation
# ---------------------------------------------------------------------------------------------------------------------


def _summary(values: list[float], bins: np.ndarray | None) -> dict:
    """Mean (NaNs left out), number of values, and histogram bin edges/counts when ``bins`` is given."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    summary: dict = {"mean": round(float(array.mean()), 4) if array.size else None, "count": int(array.size)}
    if bins is not None:
        counts, _ = np.histogram(np.clip(array, bins[0], bins[-1]), bins=bins)
        summary.update(bins=[round(float(b), 4) for b in bins], counts=counts.tolist())
    return summary


def _agreement_summary(rows: list[dict[str, float]], chance_top1: list[float]) -> dict:
    return {
        "kendall_tau": _summary([r["kendall_tau"] for r in rows], TAU_BINS),
        "top1": _summary([r["top1"] for r in rows], None),
        "jsd": _summary([r["jsd"] for r in rows], JSD_BINS),
        "chance_top1": round(float(np.mean(chance_top1)), 4) if chance_top1 else None,
        "num_steps": len(rows),
    }


def _rounded(values: np.ndarray, digits: int = 5) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), digits) for v in values]


def evaluate_model(
    model: Seq2Seq, sources: Sequence[Sequence[int]], hypotheses: Sequence, max_distance: int = MAX_DISTANCE
) -> dict:
    """Evidence numbers for one model over sentences: ``sources`` ids and their greedy ``hypotheses``.

    For every output step: saliency (all models), occlusion (all models), attention (attention models); agreement
    of attention vs saliency, attention vs occlusion and saliency vs occlusion; the share of steps whose largest
    value falls on the final ``</s>``; and saliency by distance.
    """
    normalised, raw = [], []
    pairs: dict[str, list[dict[str, float]]] = {"saliency_vs_occlusion": []}
    if model.has_attention:
        pairs.update(attention_vs_saliency=[], attention_vs_occlusion=[])
    on_eos = {name: [] for name in ("attention", "saliency", "occlusion") if model.has_attention or name != "attention"}
    chance = []
    for src, hyp in zip(sources, hypotheses):
        tokens = hyp.tokens
        if not tokens:
            continue
        sal_raw = saliency(model, src, tokens, normalise=False)
        sums = sal_raw.sum(axis=1, keepdims=True)
        sal = np.divide(sal_raw, sums, out=np.zeros_like(sal_raw), where=sums > 0)
        occ = occlusion(model, src, tokens)
        normalised.append(sal)
        raw.append(sal_raw)
        rows = {"saliency": sal, "occlusion": occ}
        if model.has_attention:
            rows["attention"] = hyp.attention.numpy()
        chance += [1.0 / len(src)] * len(tokens)
        pairs["saliency_vs_occlusion"] += per_step_agreement(sal, occ)
        if model.has_attention:
            pairs["attention_vs_saliency"] += per_step_agreement(rows["attention"], sal)
            pairs["attention_vs_occlusion"] += per_step_agreement(rows["attention"], occ)
        for t in range(len(tokens)):
            for name in on_eos:
                on_eos[name].append(float(np.argmax(rows[name][t]) == len(src) - 1))
    mean_norm, counts = gradient_by_distance(normalised, max_distance)
    mean_raw, _ = gradient_by_distance(raw, max_distance)
    return {
        "gradient_by_distance": {
            "distance": list(range(max_distance + 1)),
            "mean_saliency": _rounded(mean_norm),
            "mean_grad_x_input": _rounded(mean_raw),
            "pairs": counts.tolist(),
        },
        "agreement": {name: _agreement_summary(rows, chance) for name, rows in pairs.items()},
        "top1_on_eos": {name: round(float(np.mean(values)), 4) if values else None for name, values in on_eos.items()},
        "num_sentences": len(normalised),
    }


def evaluate_folder(
    folder: str | Path,
    dataset_name: str,
    max_samples: int = 200,
    split: str = "test",
    names: Sequence[str] | None = None,
    dataset_config_name: str | None = None,
) -> dict:
    """Run :func:`evaluate_model` for every model of ``folder`` on the first ``max_samples`` sentences of ``split``
    (greedy translations) and merge the result into ``metrics.json`` under ``"evidence"`` (other keys untouched).

    Returns the ``"evidence"`` dict.
    """
    from attention_demo.data import load_parallel_data
    from attention_demo.decoding import translate_ids
    from attention_demo.model_repo import METRICS_FILE, read_json, write_json_atomic
    from attention_demo.translate import Translator

    started = time.perf_counter()
    translator = Translator(folder, list(names) if names else None)
    split_key = "validation" if split in ("val", "validation") else split
    corpus = load_parallel_data(
        dataset_name, translator.source_lang, translator.target_lang, (split_key,), dataset_config_name
    )[split_key].take(max_samples)
    sources = [translator.source_ids(text)[0] for text in corpus.source]
    evidence: dict = {
        "dataset": str(dataset_name),
        "split": split_key,
        "num_sentences": len(sources),
        "decoding": "greedy",
        "method": {
            "saliency": "gradient x input L2 norm on the source embeddings, teacher-forced on the greedy output, "
            "each output row normalised to sum 1",
            "occlusion": "drop in the output token's teacher-forced log-probability when one source piece is "
            "replaced by <unk> (every piece, </s> included)",
            "agreement": "per output step: Kendall tau-b, top-1 match, Jensen-Shannon divergence (bits; rows "
            "clipped at 0 and normalised)",
            "distance": "|i - t| between source piece i and output position t, in subword positions",
            "coverage_flags": {"dropped_below": DROPPED_BELOW, "repeated_above": REPEATED_ABOVE},
        },
        "models": {},
    }
    for name, model in translator.models.items():
        model_started = time.perf_counter()
        hypotheses = [h[0] for h in translate_ids(model, sources, beam_size=1)]
        evidence["models"][name] = evaluate_model(model, sources, hypotheses)
        logger.info("evidence for %s: %.1f s", name, time.perf_counter() - model_started)
    evidence["seconds"] = round(time.perf_counter() - started, 1)
    path = Path(folder) / METRICS_FILE
    metrics = read_json(path, default={}) or {}
    metrics[EVIDENCE_KEY] = evidence
    write_json_atomic(path, metrics)
    return evidence


def main(argv: list[str] | None = None) -> int:
    """The corpus evidence command line; returns its exit status (usage errors exit with 2)."""
    from attention_demo import cli
    from attention_demo.data import DatasetError
    from attention_demo.model_repo import ModelLoadError

    parser = cli.ArgumentParser(
        prog="python -m attention_demo.evidence",
        description="Compute the corpus evidence numbers and store them in metrics.json.",
    )
    parser.add_argument(
        "--model", type=cli.nonempty, default="models/multi30k-de-en", help="a local model folder (written to)"
    )
    parser.add_argument(
        "--dataset_name", type=cli.nonempty, required=True, help="Hub dataset id or local folder (as for train.py)"
    )
    parser.add_argument("--dataset_config_name", type=cli.nonempty, default=None)
    parser.add_argument("--split", type=cli.nonempty, default="test", help="train, validation (or val) or test")
    samples = cli.Number(int, minimum=1)
    parser.add_argument(
        "--max_samples", type=samples, default=200, help=f"the first N sentences of the split; {samples.describe()}"
    )
    parser.add_argument("--names", nargs="*", type=cli.nonempty, default=None, help="models to evaluate (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return cli.report_failures(lambda: _corpus_command(args), debug=args.debug, expected=(ModelLoadError, DatasetError))


def _corpus_command(args: argparse.Namespace) -> int:
    """``main`` after parsing: check the folder and the dataset first (cheap), then compute and print."""
    from attention_demo import cli
    from attention_demo.data import dataset_source

    folder = cli.local_model_folder(args.model, "the evidence (metrics.json)")
    dataset_source(args.dataset_name)  # a missing folder or an unreachable Hub fails before any model is loaded
    evidence = evaluate_folder(
        folder, args.dataset_name, args.max_samples, args.split, args.names, args.dataset_config_name
    )
    for name, numbers in evidence["models"].items():
        parts = [f"{pair}: tau {a['kendall_tau']['mean']}, top-1 {a['top1']['mean']}, JSD {a['jsd']['mean']}"
                 for pair, a in numbers["agreement"].items()]  # fmt: skip
        print(f"{name}: " + "; ".join(parts))
    print(f"{evidence['num_sentences']} sentences in {evidence['seconds']} s; written to {folder}/metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
