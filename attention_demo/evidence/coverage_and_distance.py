"""Coverage (total attention per source piece over the whole output) and the gradient by source-output distance.

- :func:`coverage`: how much attention every source piece received over the output; a piece translated once gets
  about 1, so a much smaller total hints at a dropped word and a much larger one at a repeated word (Tu et al.
  2016's coverage idea).
- :func:`gradient_by_distance`: mean saliency by the distance ``|i - t|`` between source piece ``i`` and output
  position ``t`` (how far the gradient reaches, with attention and without).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Coverage flags, for a source piece's total attention over the whole output (a piece translated once gets ~1).
DROPPED_BELOW = 0.3  # less than this: probably dropped (never really attended)
REPEATED_ABOVE = 2.0  # more than this: probably translated more than once (or a "parking" position)
MAX_DISTANCE = 30  # gradient_by_distance keeps distances 0..MAX_DISTANCE


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
