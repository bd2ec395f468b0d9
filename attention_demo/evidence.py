"""Evidence beyond heatmaps: attribution (gradient x input, Integrated Gradients, occlusion), agreement, attention
surgery and coverage.

A heatmap shows where attention *looked*; it does not show what the output *depended on*. Whether attention weights
explain a prediction is disputed (Jain & Wallace 2019, "Attention is not Explanation"; Wiegreffe & Pinter 2019,
"Attention is not not Explanation"), so this module measures the claim instead of assuming it. The attributions run
through captum (the PyTorch team's attribution library) on the source embeddings, for attention models and the
baseline alike, and all three explain the same number: the teacher-forced log-probability of each output token.

- :func:`saliency` (method ``gradient_x_input``): how strongly each output word's log-probability reacts to each
  source piece, ``||x_i * grad||`` (Simonyan et al. 2014 / Shrikumar et al. 2017). Cheap, but only a local
  linearisation: it does not add up to anything.
- :func:`integrated_gradients`: the path integral of the gradient from a baseline to the input (Sundararajan et al.
  2017), signed and *complete*: a row adds up to the log-probability's change from the baseline to the input, up to
  the quadrature error that :class:`Completeness` reports.
- :func:`occlusion`: how much each output word's log-probability drops when one source piece is replaced by
  ``<unk>`` (leave-one-out, teacher-forced).
- :func:`attribution` picks one of ``ATTRIBUTION_METHODS`` by name; :func:`attributions` does many sentences at once.
- :func:`agreement`: Kendall tau, top-1 agreement and Jensen-Shannon divergence between two rows (attention vs an
  attribution); :func:`per_step_agreement` gives it for every output step of a hypothesis. Agreement is evidence,
  not proof: both sides are themselves approximations.
- :func:`surgery`: replace the attention weights of one target step before the Combine step and greedy-decode on.
- :func:`coverage`: how much attention every source piece received over the whole output (dropped / repeated words).
- :func:`gradient_by_distance`: mean saliency by the distance ``|i - t|`` between source and output position.

The corpus evaluation (stored under ``"evidence"`` in ``metrics.json``, shown by the app; nothing is recomputed at
app start-up), by default on the whole test split, with a progress bar and its wall time::

    OMP_NUM_THREADS=1 python -m attention_demo.evidence --model models/multi30k-de-en \\
        --dataset_name ../shared/data/multi30k

Shapes: ``T`` output positions (the hypothesis, usually ending in ``</s>``), ``S`` source pieces (ending in ``</s>``).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import captum
import numpy as np
import torch
from captum.attr import FeatureAblation, InputXGradient, IntegratedGradients
from tqdm.auto import tqdm

from attention_demo.data import decoder_input, pad
from attention_demo.decoding import greedy_search
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import PAD_ID, UNK_ID

logger = logging.getLogger(__name__)

EVIDENCE_KEY = "evidence"  # the top-level key in metrics.json
# Attribution methods, by name: gradient x input (its matrix is called "saliency" in metrics.json), Integrated
# Gradients, occlusion. All three run through captum on the source embeddings (occlusion on the source ids).
ATTRIBUTION_METHODS = ("gradient_x_input", "integrated_gradients", "occlusion")
# Integrated Gradients: Gauss-Legendre quadrature (captum's default rule, far more exact than a Riemann sum with as
# many points) with IG_STEPS points; an output step whose completeness error |sum(IG) - (f(x) - f(x'))| /
# |f(x) - f(x')| is not under COMPLETENESS_TOLERANCE is computed again with twice the points, up to IG_MAX_STEPS.
IG_STEPS = 16
IG_MAX_STEPS = 128
IG_QUADRATURE = "gausslegendre"
COMPLETENESS_TOLERANCE = 0.05
# Rows x (source length + decoder length) per gradient pass (IG: also x steps): bounds the activations kept for the
# backward pass, lets short sentences share a pass, and splits a long output into passes that each decode only as far
# as their own positions.
PASS_BUDGET = 8192
LOGIT_BUDGET = 4096  # (row, output position) pairs per occlusion pass; bounds the (rows, T, vocab) logits
SENTENCE_BATCH = 64  # sentences attributed together by the corpus evaluation
# What metrics.json calls each method's rows (gradient x input's are "saliency"), and every kind of row compared.
METHOD_MEASURES = dict(zip(ATTRIBUTION_METHODS, ("saliency", "integrated_gradients", "occlusion")))
MEASURES = ("attention", *METHOD_MEASURES.values())
# The compared pairs, in the order of metrics.json; each is stored as "<first>_vs_<second>".
AGREEMENT_PAIRS = (
    ("attention", "saliency"),
    ("attention", "integrated_gradients"),
    ("attention", "occlusion"),
    ("saliency", "integrated_gradients"),
    ("saliency", "occlusion"),
    ("integrated_gradients", "occlusion"),
)
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
# Attribution: gradient x input, Integrated Gradients and occlusion, through captum
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """A batch of (sentence, output position) pairs, one per row: what one attribution pass scores.

    Every row is a whole teacher-forced copy of its sentence whose forward pass returns one number, the
    log-probability of the output token at its own position, so that one backward pass gives each row its own
    gradient.
    """

    sentence: list[int]  # (N,) which sentence each row belongs to
    position: torch.Tensor  # (N,) the output position t of each row
    src: torch.Tensor  # (N, S) source ids, right-padded with <pad>
    src_mask: torch.Tensor  # (N, S) True for real pieces
    tgt_in: torch.Tensor  # (N, L) decoder input <s> y_1 .. y_{L-1}, L = the largest position + 1
    token: torch.Tensor  # (N,) the output token y_t of each row


def _row_batches(
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    pairs: Iterable[tuple[int, int]],
    budget: int,
    device: torch.device,
) -> Iterator[_Rows]:
    """The (sentence, output position) ``pairs`` sorted by source length and then by position (a batch decodes no
    further than its largest position), in batches of sources of one length (no padding, so the encoder need not pack
    them) and of as many rows as keep rows x (source length + largest position + 1) within ``budget`` (at least one
    row)."""
    pairs = sorted(pairs, key=lambda pair: (len(sources[pair[0]]), pair[1]))
    start = 0
    while start < len(pairs):
        end, widest, source_length = start, 0, len(sources[pairs[start][0]])
        while end < len(pairs):
            k, t = pairs[end]
            wider = max(widest, len(sources[k]) + t + 1)
            if end > start and (len(sources[k]) != source_length or (end - start + 1) * wider > budget):
                break
            end, widest = end + 1, wider
        chunk, start = pairs[start:end], end
        length = max(t for _, t in chunk) + 1
        src, src_mask = pad([sources[k] for k, _ in chunk])
        tgt, _ = pad([targets[k][:length] for k, _ in chunk])
        yield _Rows(
            sentence=[k for k, _ in chunk],
            position=torch.tensor([t for _, t in chunk], device=device),
            src=src.to(device),
            src_mask=src_mask.to(device),
            tgt_in=decoder_input(tgt).to(device),
            token=torch.tensor([targets[k][t] for k, t in chunk], device=device),
        )


def _all_pairs(targets: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Every (sentence, output position) pair."""
    return [(k, t) for k, target in enumerate(targets) for t in range(len(target))]


def _logprobs(
    model: Seq2Seq,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    tgt_in: torch.Tensor,
    tokens: torch.Tensor,
    positions: torch.Tensor | None = None,
    embedded: torch.Tensor | None = None,
) -> torch.Tensor:
    """Teacher-forced log-probabilities of output tokens: the function every attribution method explains.

    Args:
        src, src_mask: ``(N, S)`` source ids and mask.
        tgt_in: ``(N, L)`` decoder input.
        tokens: ``(N, L)`` the output token at every position, or ``(N,)`` with ``positions``.
        positions: ``(N,)`` one output position per row, or None for all positions.
        embedded: ``(N, S, emb)`` the source embeddings to read instead of looking ``src`` up.

    Returns:
        ``(N, L)`` log p(tokens[n, t] | src[n], tgt_in[n, :t+1]), or ``(N,)`` at ``positions``.
    """
    memory = model.encode(src, src_mask, embedded)
    if positions is None:
        logits = model.decode(tgt_in, memory).logits  # (N, L, V)
        return torch.log_softmax(logits.float(), dim=-1).gather(2, tokens.unsqueeze(2)).squeeze(2)
    logits = model.decode(tgt_in, memory, positions=positions).logits[:, 0]  # (N, V): each row at its own position
    return torch.log_softmax(logits.float(), dim=-1).gather(1, tokens.unsqueeze(1)).squeeze(1)


def _embedded_logprobs(model: Seq2Seq, embedded: torch.Tensor, src: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
    """:func:`_logprobs` with the source embeddings first: the input that gradient x input and Integrated Gradients
    differentiate. Taking them as an input (captum's non-layer classes) instead of hooking the shared embedding layer
    keeps every request's attribution to itself (many visitors share one model)."""
    return _logprobs(model, src, *rest, embedded=embedded)


@dataclass
class Completeness:
    """How well Integrated Gradients satisfies completeness, per output position of one sentence.

    Completeness (Sundararajan et al. 2017): a row of attributions sums to ``f(x) - f(baseline)``, where ``f`` is
    the output token's log-probability. ``delta`` is captum's convergence delta, ``sum(attributions) - gap``: the
    error of the path integral's quadrature with ``steps`` points.
    """

    delta: np.ndarray  # (T,) captum's convergence delta, in nats
    gap: np.ndarray  # (T,) f(x) - f(baseline), in nats
    steps: np.ndarray  # (T,) the quadrature points each row was computed with

    @property
    def relative_error(self) -> np.ndarray:
        """``(T,)`` |delta| / |gap| (inf where the gap is exactly 0 and delta is not)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.delta == 0, 0.0, np.abs(self.delta) / np.abs(self.gap))


def _check_method(method: str) -> None:
    if method not in ATTRIBUTION_METHODS:
        raise ValueError(f"Unknown attribution method {method!r}; choose one of {', '.join(ATTRIBUTION_METHODS)}.")


@torch.inference_mode(False)  # gradients are needed even when the caller runs under inference_mode (the app does)
def _gradient_x_input(
    model: Seq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """``||x_i * d log p(y_t) / d x_i||`` of every output token of every sentence (captum's
    ``InputXGradient`` on the source embeddings), batched over (sentence, output position) rows.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence (not normalised).
    """
    explain = InputXGradient(partial(_embedded_logprobs, model))
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets)]
    with torch.enable_grad():
        for rows in _row_batches(sources, targets, _all_pairs(targets), PASS_BUDGET, _device(model)):
            attributions = explain.attribute(
                model.encoder.embedding(rows.src).detach().requires_grad_(),
                additional_forward_args=(rows.src, rows.src_mask, rows.tgt_in, rows.token, rows.position),
            )  # (N, S, emb): x_i * d log p(y_t) / d x_i
            values = attributions.norm(dim=-1).detach().double().cpu().numpy()  # (N, S)
            for n, (k, t) in enumerate(zip(rows.sentence, rows.position.tolist())):
                matrices[k][t] = values[n, : len(sources[k])]
    return matrices


@torch.inference_mode(False)
def _integrated_gradients(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    n_steps: int = IG_STEPS,
    max_steps: int = IG_MAX_STEPS,
) -> tuple[list[np.ndarray], list[Completeness]]:
    """Integrated Gradients of every output token of every sentence (captum's ``IntegratedGradients`` on the
    source embeddings, from the all-``<pad>`` source's embeddings), batched over (sentence, output position) rows.

    Every row starts with ``n_steps`` quadrature points; a row whose completeness error is not under
    ``COMPLETENESS_TOLERANCE`` is computed again with twice as many, up to ``max_steps``.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence (signed, in nats) and its :class:`Completeness`.
    """
    device = _device(model)
    explain = IntegratedGradients(partial(_embedded_logprobs, model))
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets)]
    checks = [Completeness(np.zeros(len(t)), np.zeros(len(t)), np.zeros(len(t), dtype=int)) for t in targets]
    pairs, steps = _all_pairs(targets), n_steps
    with torch.enable_grad():
        while pairs:
            for rows in _row_batches(sources, targets, pairs, PASS_BUDGET // steps, device):
                embedding = model.encoder.embedding
                attributions, delta = explain.attribute(
                    embedding(rows.src).detach().requires_grad_(),
                    baselines=embedding(torch.full_like(rows.src, PAD_ID)).detach(),  # the zero vector
                    additional_forward_args=(rows.src, rows.src_mask, rows.tgt_in, rows.token, rows.position),
                    n_steps=steps,
                    method=IG_QUADRATURE,
                    return_convergence_delta=True,
                )  # (N, S, emb), (N,)
                values = attributions.sum(dim=-1).detach().double().cpu().numpy()  # (N, S): sums to the gap
                delta = delta.detach().double().cpu().numpy()
                for n, (k, t) in enumerate(zip(rows.sentence, rows.position.tolist())):
                    matrices[k][t] = values[n, : len(sources[k])]
                    checks[k].delta[t], checks[k].gap[t] = delta[n], values[n].sum() - delta[n]
                    checks[k].steps[t] = steps
            steps *= 2
            if steps > max_steps:
                break
            pairs = [(k, t) for k, t in pairs if not checks[k].relative_error[t] < COMPLETENESS_TOLERANCE]
    return matrices, checks


@torch.inference_mode()
def _occlusions(
    model: Seq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], mask_id: int = UNK_ID
) -> list[np.ndarray]:
    """Occlusion of every output token of every sentence, by captum's FeatureAblation: source position ``i`` of
    every sentence of a batch is replaced by ``mask_id`` at once (the sentences do not interact), and the drop of
    every teacher-forced log-probability is recorded.

    Returns:
        one ``(T_k, S_k)`` matrix per sentence: ``log p(y_t | x) - log p(y_t | x with piece i -> mask_id)``.
    """
    device = _device(model)
    forward = partial(_logprobs, model)
    matrices = [np.zeros((len(t), len(s))) for s, t in zip(sources, targets)]
    order = [k for k in sorted(range(len(sources)), key=lambda k: len(sources[k])) if targets[k]]
    start = 0
    while start < len(order):
        # As many sentences as keep one pass's logits within LOGIT_BUDGET (at least one).
        batch, widest = [], 0
        for k in order[start:]:
            widest = max(widest, len(targets[k]))
            if batch and (len(batch) + 1) * widest > LOGIT_BUDGET:
                break
            batch.append(k)
        start += len(batch)
        src, src_mask = pad([sources[k] for k in batch])
        tgt, _ = pad([targets[k] for k in batch])  # (K, L); <pad> past a sentence's end, never read
        src, src_mask, tgt = src.to(device), src_mask.to(device), tgt.to(device)
        occluded = FeatureAblation(forward).attribute(
            src,
            baselines=mask_id,
            additional_forward_args=(src_mask, decoder_input(tgt), tgt),
            feature_mask=torch.arange(src.size(1), device=device).unsqueeze(0),  # piece i of every sentence at once
            perturbations_per_eval=max(1, LOGIT_BUDGET // tgt.numel()),
        )  # (K * L, S): for output (k, t), the drop when piece i is replaced
        occluded = occluded.view(len(batch), tgt.size(1), src.size(1)).double().cpu().numpy()
        for row, k in enumerate(batch):
            matrices[k] = occluded[row, : len(targets[k]), : len(sources[k])]
    return matrices


def attributions(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    method: str,
    n_steps: int = IG_STEPS,
) -> list[np.ndarray]:
    """:func:`attribution` of many sentences at once (batched, so much faster than one by one).

    Args:
        sources: source id lists, each ending with ``</s>``.
        targets: one output id list (a hypothesis) per source; may be empty.
        method: one of ``ATTRIBUTION_METHODS``.
        n_steps: Integrated Gradients' starting number of quadrature points (see :func:`integrated_gradients`).

    Returns:
        one ``(T_k, S_k)`` array per sentence, as :func:`attribution` returns it.
    """
    _check_method(method)
    sources, targets = [list(s) for s in sources], [list(t) for t in targets]
    if method == "occlusion":
        return _occlusions(model, sources, targets)
    if method == "integrated_gradients":
        return _integrated_gradients(model, sources, targets, n_steps)[0]
    return [row_shares(m) for m in _gradient_x_input(model, sources, targets)]


def attribution(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], method: str) -> np.ndarray:
    """The attribution of every output token to every source piece by ``method`` (one of ``ATTRIBUTION_METHODS``).

    ``gradient_x_input``: :func:`saliency` (rows sum to 1); ``integrated_gradients``: :func:`integrated_gradients`
    (signed, in nats); ``occlusion``: :func:`occlusion` (signed, in nats).

    Returns:
        ``(T, S)`` array.
    """
    return attributions(model, [src_ids], [tgt_ids], method)[0]


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """``(T, S)`` -> ``(T, S)``: every row's positive part as shares of its sum (negative values count as 0), so that
    any attribution can be drawn like attention; a row without positive values stays zero."""
    matrix = np.clip(np.asarray(matrix, dtype=float), 0.0, None)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def saliency(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], normalise: bool = True) -> np.ndarray:
    """Gradient x input saliency of every output token with respect to every source piece (teacher-forced).

    For output position ``t`` (which produced ``tgt_ids[t]`` from ``<s> y_1 .. y_{t-1}``) and source piece ``i``:
    ``sal[t, i] = || x_i * d log p(y_t) / d x_i ||_2`` where ``x_i`` is the source embedding of piece ``i``
    (captum's ``InputXGradient`` with the source embeddings as the input, then the L2 norm over the embedding).

    Args:
        model: any model (attention or baseline); it should be in eval mode (dropout off).
        src_ids: ``S`` source ids ending with ``</s>``.
        tgt_ids: ``T`` output ids (a hypothesis).
        normalise: divide every row by its sum (rows sum to 1, comparable with attention rows); an all-zero row
            stays zero.

    Returns:
        ``(T, S)`` array.
    """
    (matrix,) = _gradient_x_input(model, [list(src_ids)], [list(tgt_ids)])
    return row_shares(matrix) if normalise else matrix


def integrated_gradients(
    model: Seq2Seq,
    src_ids: Sequence[int],
    tgt_ids: Sequence[int],
    n_steps: int = IG_STEPS,
    return_completeness: bool = False,
    max_steps: int = IG_MAX_STEPS,
) -> np.ndarray | tuple[np.ndarray, Completeness]:
    """Integrated Gradients (Sundararajan et al. 2017) of every output token on every source piece.

    ``ig[t, i] = sum_e (x_ie - x'_ie) * integral_0^1 d log p(y_t | x' + a (x - x')) / d x_ie da`` on the source
    embeddings ``x`` (captum's ``IntegratedGradients`` with the source embeddings as the input, Gauss-Legendre
    quadrature), summed over the embedding dimensions ``e``. The baseline ``x'`` is the same source with
    every piece, ``</s>`` included, replaced by ``<pad>``, whose embedding is the zero vector (``padding_idx``): the
    zero-embedding baseline, with the source length and mask unchanged. Unlike gradient x input the values are
    signed (negative: the piece speaks against ``y_t``) and complete: row ``t`` sums to
    ``log p(y_t | x) - log p(y_t | x')`` up to the quadrature error. Works for the baseline model too.

    Args:
        model: any model, in eval mode.
        src_ids: ``S`` source ids ending with ``</s>``.
        tgt_ids: ``T`` output ids (a hypothesis).
        n_steps: quadrature points to start with. A row whose completeness error (captum's convergence delta
            relative to the gap) is not under ``COMPLETENESS_TOLERANCE`` is computed again with twice as many
            points, up to ``max_steps`` (``n_steps = max_steps``: exactly ``n_steps`` points for every row).
        return_completeness: also return the :class:`Completeness` of every row.
        max_steps: the most quadrature points a row gets.

    Returns:
        ``(T, S)`` array in nats, and with ``return_completeness`` its :class:`Completeness`.
    """
    (matrix,), (check,) = _integrated_gradients(model, [list(src_ids)], [list(tgt_ids)], n_steps, max_steps)
    return (matrix, check) if return_completeness else matrix


@torch.inference_mode()
def token_logprobs(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int]) -> np.ndarray:
    """``(T,)`` teacher-forced log-probabilities of ``tgt_ids`` given ``src_ids``."""
    device = _device(model)
    src, tgt = _tensor(src_ids, device), _tensor(tgt_ids, device)  # (1, S), (1, T)
    logp = _logprobs(model, src, torch.ones_like(src, dtype=torch.bool), decoder_input(tgt), tgt)
    return logp[0].double().cpu().numpy()


def occlusion(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], mask_id: int = UNK_ID) -> np.ndarray:
    """Leave-one-out occlusion: how much each output token's log-probability drops without each source piece.

    ``occ[t, i] = log p(y_t | x) - log p(y_t | x with piece i replaced by <unk>)``, teacher-forced on ``tgt_ids``
    (the prefix stays the same, so only the effect on word ``t`` itself is measured; captum's ``FeatureAblation``
    with ``mask_id`` as the replacement). Positive: the piece supported that word. Every piece is occluded,
    ``</s>`` included. Works for the baseline too.

    Returns:
        ``(T, S)`` array (not normalised; may be negative).
    """
    return _occlusions(model, [list(src_ids)], [list(tgt_ids)], mask_id)[0]


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


def _completeness_summary(checks: list[Completeness], tolerance: float = COMPLETENESS_TOLERANCE) -> dict:
    """Integrated Gradients' completeness over all output steps: the relative error's distribution, the share of
    steps under ``tolerance``, captum's convergence delta in nats, and how many steps needed how many quadrature
    points."""
    errors = np.concatenate([c.relative_error for c in checks]) if checks else np.zeros(0)
    deltas = np.abs(np.concatenate([c.delta for c in checks])) if checks else np.zeros(0)
    if not errors.size:
        return {"num_steps": 0}
    points, counts = np.unique(np.concatenate([c.steps for c in checks]), return_counts=True)
    return {
        "relative_error": {
            name: round(float(value), 6)
            for name, value in (
                ("mean", errors.mean()),
                ("median", np.median(errors)),
                ("p99", np.percentile(errors, 99)),
                ("max", errors.max()),
            )
        },
        "share_below_tolerance": round(float(np.mean(errors < tolerance)), 5),
        "tolerance": tolerance,
        "mean_abs_delta": round(float(deltas.mean()), 6),
        "max_abs_delta": round(float(deltas.max()), 6),
        "quadrature_points": {str(int(n)): int(c) for n, c in zip(points, counts)},  # points -> output steps
        "num_steps": int(errors.size),
    }


def evaluate_model(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    hypotheses: Sequence,
    max_distance: int = MAX_DISTANCE,
    n_steps: int = IG_STEPS,
    batch_size: int = SENTENCE_BATCH,
    progress: str | None = None,
    position: int = 0,
) -> dict:
    """Evidence numbers for one model over sentences: ``sources`` ids and their greedy ``hypotheses``.

    For every output step: gradient x input ("saliency"), Integrated Gradients and occlusion (all models) and
    attention (attention models); the agreement of every pair of them (``AGREEMENT_PAIRS``); the share of steps
    whose largest value falls on the final ``</s>``; saliency by distance; and Integrated Gradients' completeness.
    Sentences are attributed ``batch_size`` at a time (similar lengths together); ``progress`` names a progress bar
    (None: no bar).
    """
    kept = [(list(s), h) for s, h in zip(sources, hypotheses) if h.tokens]
    names = [n for n in MEASURES if model.has_attention or n != "attention"]
    pairs: dict[str, list[dict[str, float]]] = {f"{a}_vs_{b}": [] for a, b in AGREEMENT_PAIRS if {a, b} <= set(names)}
    on_eos: dict[str, list[float]] = {name: [] for name in names}
    normalised, raw, checks, chance = [], [], [], []
    order = sorted(range(len(kept)), key=lambda k: len(kept[k][0]))
    bar = tqdm(
        total=len(kept), desc=progress, unit="sentence", disable=progress is None, position=position, mininterval=5
    )
    with bar:
        for start in range(0, len(order), batch_size):
            batch = [kept[k] for k in order[start : start + batch_size]]
            srcs, tgts = [s for s, _ in batch], [h.tokens for _, h in batch]
            sal_raw = _gradient_x_input(model, srcs, tgts)
            ig, ig_checks = _integrated_gradients(model, srcs, tgts, n_steps)
            occ = _occlusions(model, srcs, tgts)
            for k, (src, hyp) in enumerate(batch):
                rows = {"saliency": row_shares(sal_raw[k]), "integrated_gradients": ig[k], "occlusion": occ[k]}
                if model.has_attention:
                    rows["attention"] = hyp.attention.numpy()
                for pair in pairs:
                    first, second = pair.split("_vs_")
                    pairs[pair] += per_step_agreement(rows[first], rows[second])
                for name in names:
                    on_eos[name] += (np.argmax(rows[name], axis=1) == len(src) - 1).astype(float).tolist()
                chance += [1.0 / len(src)] * len(hyp.tokens)
                normalised.append(rows["saliency"])
                raw.append(sal_raw[k])
            checks += ig_checks
            bar.update(len(batch))
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
        "integrated_gradients_completeness": _completeness_summary(checks),
        "num_sentences": len(kept),
    }


def _evaluate_named_model(
    folder: str | Path,
    name: str,
    sources: list[list[int]],
    n_steps: int,
    progress: bool,
    position: int,
    model: Seq2Seq | None = None,
) -> tuple[str, dict]:
    """Greedy-translate ``sources`` with model ``name`` of ``folder`` (loaded here unless given) and run
    :func:`evaluate_model` on them; its wall time goes into the result as ``"seconds"``."""
    from attention_demo.decoding import translate_ids
    from attention_demo.model_repo import load_model

    started = time.perf_counter()
    model = load_model(folder, name) if model is None else model
    hypotheses = [h[0] for h in translate_ids(model, sources, beam_size=1)]
    numbers = evaluate_model(
        model, sources, hypotheses, n_steps=n_steps, progress=name if progress else None, position=position
    )
    numbers["seconds"] = round(time.perf_counter() - started, 1)
    return name, numbers


def evaluate_folder(
    folder: str | Path,
    dataset_name: str,
    max_samples: int | None = None,
    split: str = "test",
    names: Sequence[str] | None = None,
    dataset_config_name: str | None = None,
    n_steps: int = IG_STEPS,
    progress: bool = True,
    processes: int = 1,
) -> dict:
    """Run :func:`evaluate_model` for every model of ``folder`` on the first ``max_samples`` sentences of ``split``
    (all of them by default; greedy translations) and merge the result into ``metrics.json`` under ``"evidence"``
    (other keys untouched). ``progress``: a progress bar per model (on stderr); ``processes``: how many models are
    evaluated at once, each in its own worker process.

    Returns the ``"evidence"`` dict; its ``"seconds"`` is the wall time of the whole run, each model's ``"seconds"``
    its own.
    """
    from attention_demo.data import load_parallel_data
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
            "library": f"captum {captum.__version__}",
            "saliency": "gradient x input (captum InputXGradient on the source embeddings), L2 norm "
            "over the embedding, teacher-forced on the greedy output, each output row normalised to sum 1",
            "integrated_gradients": f"captum IntegratedGradients on the source embeddings, {n_steps} "
            f"{IG_QUADRATURE} steps, doubled for an output step until its completeness error is under "
            f"{COMPLETENESS_TOLERANCE:.0%} (at most {IG_MAX_STEPS}), summed over the embedding (signed, nats); "
            "baseline: every source piece, </s> included, replaced by <pad>, whose embedding is the zero vector (same "
            "length and mask)",
            "occlusion": "drop in the output token's teacher-forced log-probability when one source piece is "
            "replaced by <unk> (captum FeatureAblation; every piece, </s> included)",
            "agreement": "per output step: Kendall tau-b, top-1 match, Jensen-Shannon divergence (bits; rows "
            "clipped at 0 and normalised)",
            "completeness": "|sum of a row's Integrated Gradients - (f(x) - f(baseline))| / |f(x) - f(baseline)|, "
            "f = the output token's log-probability; the numerator is captum's convergence delta",
            "distance": "|i - t| between source piece i and output position t, in subword positions",
            "coverage_flags": {"dropped_below": DROPPED_BELOW, "repeated_above": REPEATED_ABOVE},
        },
        "ig_steps": n_steps,
        "models": {},
    }
    jobs = [(folder, name, sources, n_steps, progress, k % processes) for k, name in enumerate(translator.models)]
    if processes > 1 and len(jobs) > 1:
        # One model per worker process (each single-threaded under OMP_NUM_THREADS=1), so that the models use all
        # cores; "spawn", because forking a process that has run torch can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(processes, len(jobs)), mp_context=context) as pool:
            results = list(pool.map(_evaluate_named_model, *zip(*jobs)))
    else:
        results = [_evaluate_named_model(*job, model=translator.models[job[1]]) for job in jobs]
    for name, numbers in results:
        evidence["models"][name] = numbers
        logger.info("evidence for %s: %.1f s", name, numbers["seconds"])
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
        "--max_samples",
        type=samples,
        default=None,
        help=f"the first N sentences of the split (default: all); {samples.describe()}",
    )
    steps = cli.Number(int, minimum=1, maximum=1000)
    parser.add_argument(
        "--ig_steps",
        type=steps,
        default=IG_STEPS,
        help=f"Integrated Gradients' quadrature points (default {IG_STEPS}); {steps.describe()}",
    )
    parser.add_argument("--names", nargs="*", type=cli.nonempty, default=None, help="models to evaluate (default: all)")
    workers = cli.Number(int, minimum=1, maximum=64)
    parser.add_argument(
        "--processes",
        type=workers,
        default=1,
        help=f"models evaluated at once, one worker process each (2 on 2 cores); {workers.describe()}",
    )
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
        folder,
        args.dataset_name,
        args.max_samples,
        args.split,
        args.names,
        args.dataset_config_name,
        args.ig_steps,
        processes=args.processes,
    )
    for name, numbers in evidence["models"].items():
        parts = [f"{pair}: tau {a['kendall_tau']['mean']}, top-1 {a['top1']['mean']}, JSD {a['jsd']['mean']}"
                 for pair, a in numbers["agreement"].items()]  # fmt: skip
        error = numbers["integrated_gradients_completeness"].get("relative_error", {})
        parts.append(f"IG completeness error: median {error.get('median')}, max {error.get('max')}")
        print(f"{name} ({numbers['seconds']} s): " + "; ".join(parts))
    print(f"{evidence['num_sentences']} sentences in {evidence['seconds']} s; written to {folder}/metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
