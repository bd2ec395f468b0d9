"""Agreement between two importance rows: Kendall tau, top-1 match and Jensen-Shannon divergence.

:func:`agreement` compares two rows ``(S,)`` (attention vs an attribution, or two attributions);
:func:`per_step_agreement` does it for every output step of a hypothesis. Agreement is evidence, not proof: both sides
are themselves approximations (Jain & Wallace 2019; Wiegreffe & Pinter 2019). Which rows are compared is
:func:`attention_demo.evidence.agreement_pairs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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
    return [agreement(a, b) for a, b in zip(attention, other, strict=True)]
