"""Matplotlib figures for the app: attention heatmaps and evidence plots. Headless (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and Spaces

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def display_piece(piece: str) -> str:
    """A subword as shown on an axis: the word-start mark ``▁`` removed, continuation pieces prefixed with ``·``."""
    if piece.startswith("▁"):
        return piece[1:] or "▁"
    return piece if piece.startswith("<") else "·" + piece


def attention_heatmap(
    attention: np.ndarray, source_pieces: list[str], target_pieces: list[str], title: str = ""
) -> Figure:
    """Heatmap of ``attention`` ``(tgt_len, src_len)``: target tokens as rows, source tokens as columns."""
    attention = np.asarray(attention, dtype=float)
    rows, cols = attention.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * cols + 2.0), max(3.0, 0.35 * rows + 1.5)), dpi=90)
    image = ax.imshow(attention, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(cols), [display_piece(p) for p in source_pieces[:cols]], rotation=60, ha="right")
    ax.set_yticks(range(rows), [display_piece(p) for p in target_pieces[:rows]])
    ax.set_xlabel("source (German)")
    ax.set_ylabel("output (English)")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="attention weight α")
    fig.tight_layout()
    return fig
