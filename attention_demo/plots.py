"""Matplotlib figures for the app: attention heatmaps, one decoder step, and the evidence plots. Headless (Agg).

Every function returns a new :class:`~matplotlib.figure.Figure` made with the object-oriented API, never through
``pyplot``: pyplot keeps global state that is not thread-safe (the app serves several requests at once) and keeps
every figure alive until it is closed. A plain ``Figure`` is garbage-collected once Gradio has rendered it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and Spaces

import base64  # noqa: E402
import io  # noqa: E402
import unicodedata  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties, findfont, get_font  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.transforms import ScaledTranslation, Transform  # noqa: E402

MODEL_COLOURS = {"additive": "tab:blue", "general": "tab:orange", "dot": "tab:green", "baseline": "black"}
MAX_LABEL_CHARS = 18  # longer axis labels are shortened with an ellipsis
DPI = 90


def display_piece(piece: str) -> str:
    """A subword as shown on an axis: the word-start mark ``▁`` removed, continuation pieces prefixed with ``·``."""
    if piece.startswith("▁"):
        return piece[1:] or "▁"
    return piece if piece.startswith("<") else "·" + piece


def plain_label(text: str) -> str:
    """Make arbitrary (user) text safe as a matplotlib label: no mathtext, no invisible characters, bounded length.

    A ``$`` would switch matplotlib to mathtext, and unbalanced or odd TeX raises at draw time: escape it. Control
    and format characters (a tab is a piece of the German vocabulary) have no glyph: show them as escapes (``\\t``).
    """
    text = "".join(repr(ch)[1:-1] if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1] + "…"
    return text.replace("$", r"\$")


def model_colour(name: str) -> str:
    """A fixed colour per model, so a model looks the same in every plot."""
    return MODEL_COLOURS.get(name, "tab:purple")


def _font_size(count: int) -> float:
    """Tick font size that keeps ``count`` labels readable: 10 pt up to 25 labels, smaller beyond."""
    return 10.0 if count <= 25 else max(5.0, 10.0 * 25 / count)


def _figure(width: float, height: float) -> Figure:
    """A new pyplot-free figure of ``width`` x ``height`` inches."""
    return Figure(figsize=(width, height), dpi=DPI)


_TICK = 0.12  # inches: tick length and padding next to tick labels
_AXIS_LABEL = 0.3  # inches: an axis label at 10 pt and its padding
_SIN60 = 0.866


def _text_widths(texts: Sequence[str], fontsize: float) -> list[float]:
    """Widths in inches of ``texts`` in the default font, measured without drawing anything."""
    font = get_font(findfont(FontProperties()))  # matplotlib caches fonts per thread, so this is cheap and safe
    font.set_size(fontsize, DPI)  # at the figure's resolution, where hinting makes glyphs a little wider
    widths = []
    for text in texts:
        font.set_text(text, 0.0)
        widths.append(font.get_width_height()[0] / 64 / DPI)  # 26.6 fixed-point pixels -> inches
    return widths


def _text_width(texts: Sequence[str], fontsize: float) -> float:
    """Width in inches of the widest of ``texts`` (0 for none)."""
    return max(_text_widths(texts, fontsize), default=0.0)


def figure_data_uri(fig: Figure) -> str:
    """``fig`` as a ``data:image/webp`` URI, encoded losslessly at libwebp's fastest setting.

    Gradio's default (lossy WebP at its default effort) took about 30 ms for a heatmap, a large part of the app's
    main request; lossless method 0 takes about 6 ms, keeps every colour exact and is still smaller than PNG.
    """
    with io.BytesIO() as buffer:
        fig.savefig(buffer, format="webp", pil_kwargs={"lossless": True, "method": 0})
        return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shifted(transform: Transform, dx: float, dy: float, fig: Figure) -> Transform:
    """``transform`` followed by a shift of (``dx``, ``dy``) inches."""
    return transform + ScaledTranslation(dx, dy, fig.dpi_scale_trans)


def plain_label_multiline(text: str) -> str:
    """Like :func:`plain_label` but without shortening (for messages we wrote ourselves)."""
    return text.replace("$", r"\$")


def message_figure(message: str, title: str = "") -> Figure:
    """A small figure that only says ``message`` (used when data is missing)."""
    fig = _figure(6.0, 1.8)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, plain_label_multiline(message), ha="center", va="center", wrap=True, fontsize=11)
    if title:
        ax.set_title(title)
    return fig


def attention_heatmap(
    attention: np.ndarray,
    source_labels: Sequence[str],
    target_labels: Sequence[str],
    title: str = "",
    pieces: bool = True,
    highlight_row: int | None = None,
    colorbar_label: str = "attention weight α",
) -> Figure:
    """Heatmap of ``attention`` ``(tgt_len, src_len)``: target tokens as rows, source tokens as columns.

    Args:
        attention: weights in [0, 1]; each row is a distribution over the source.
        source_labels, target_labels: one label per column / row.
        title: figure title.
        pieces: the labels are BPE pieces (shown via :func:`display_piece`); False for merged words.
        highlight_row: a row to outline (the target word picked in the app).
        colorbar_label: what the values are (the same heatmap shows gradient saliency).
    """
    attention = np.asarray(attention, dtype=float)
    rows, cols = attention.shape
    shown = display_piece if pieces else (lambda label: label)
    x_labels = [plain_label(shown(p)) for p in source_labels[:cols]]
    y_labels = [plain_label(shown(p)) for p in target_labels[:rows]]
    x_size, y_size = _font_size(cols), _font_size(rows)
    # Margins and label positions from the measured label widths instead of fig.tight_layout() and matplotlib's
    # automatic label placement: both measure every tick label by laying it out again, which made drawing the
    # heatmap the slowest part of the app's main request (see benchmarks/benchmark_app.py).
    axes_width, axes_height = min(11.0, max(2.3, 0.42 * cols)), min(10.0, max(1.4, 0.32 * rows))
    x_widths = _text_widths(x_labels, x_size)
    x_extent = max(x_widths, default=0.0) * _SIN60 + 0.5 * x_size / 72 + _TICK  # labels rotated 60 degrees
    y_extent = _text_width(y_labels, y_size) + _TICK
    # A rotated x label leans left of its column by about half its width (cos 60) plus its height.
    cell = axes_width / max(cols, 1)
    lean = max((0.5 * w + x_size / 72 - (j + 0.5) * cell for j, w in enumerate(x_widths)), default=0.0)
    left = max(y_extent + _AXIS_LABEL, lean + 0.05)
    bottom = x_extent + _AXIS_LABEL
    top = 0.45 if title else 0.15
    right = 1.1  # the colorbar (0.15 in from the map, 0.15 in wide), its ticks and its label
    axes_width = max(axes_width, _text_width([title], 11) - 2 * min(left, right) + 0.2)  # room for the title
    width, height = axes_width + left + right, axes_height + bottom + top
    fig = _figure(width, height)
    ax = fig.add_axes((left / width, bottom / height, axes_width / width, axes_height / height))
    colorbar_axes = fig.add_axes(
        ((left + axes_width + 0.15) / width, bottom / height, 0.15 / width, axes_height / height)
    )
    # One quadrilateral per cell (pcolormesh), not an image: imshow resamples the matrix to screen pixels, which took
    # 14 ms of a 57 ms draw; the mesh takes under 2 ms. Cell (t, j) spans [j, j+1] x [t, t+1], row 0 at the top.
    image = ax.pcolormesh(attention, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.tick_params(length=0)  # the labels name the cells; tick marks would only add clutter
    ax.set_xticks(np.arange(cols) + 0.5, x_labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=x_size)
    ax.set_yticks(np.arange(rows) + 0.5, y_labels, fontsize=y_size)
    ax.set_xlabel("source (German)")
    ax.xaxis.set_label_coords(0.5, 0.0, transform=_shifted(ax.transAxes, 0.0, -x_extent, fig))
    ax.set_ylabel("output (English)")
    ax.yaxis.set_label_coords(0.0, 0.5, transform=_shifted(ax.transAxes, -y_extent, 0.0, fig))
    if highlight_row is not None and 0 <= highlight_row < rows:
        ax.add_patch(Rectangle((0, highlight_row), cols, 1, fill=False, edgecolor="tab:red", linewidth=2.0))
    if title:
        ax.set_title(plain_label_multiline(title), fontsize=11, y=1.0, pad=6)  # a fixed y: no automatic placement
    colorbar = fig.colorbar(image, cax=colorbar_axes, label=colorbar_label)
    colorbar.ax.yaxis.set_label_coords(1.0, 0.5, transform=_shifted(colorbar.ax.transAxes, 0.45, 0.0, fig))
    return fig


@dataclass(frozen=True)
class Heatmap:
    """The arguments of :func:`attention_heatmap`, kept as data: cheap to make and to send to another process.

    The app's views return these instead of figures so that the drawing (most of a request's work, and all of it
    holding Python's GIL) can happen in a worker process; :meth:`figure` draws it.
    """

    matrix: np.ndarray  # (rows, columns)
    source_labels: tuple[str, ...]
    target_labels: tuple[str, ...]
    title: str = ""
    pieces: bool = True
    highlight_row: int | None = None
    colorbar_label: str = "attention weight α"

    def figure(self) -> Figure:
        return attention_heatmap(
            self.matrix, self.source_labels, self.target_labels, title=self.title, pieces=self.pieces,
            highlight_row=self.highlight_row, colorbar_label=self.colorbar_label,
        )  # fmt: skip


def render(plot: Heatmap | Figure) -> str:
    """A heatmap (drawn here) or a figure as a data URI (:func:`figure_data_uri`); the app's worker processes run it."""
    return figure_data_uri(plot.figure() if isinstance(plot, Heatmap) else plot)


def step_figure(
    scores: np.ndarray,
    weights: np.ndarray,
    values: np.ndarray,
    context: np.ndarray,
    source_labels: Sequence[str],
    target_label: str,
    top: int = 3,
    max_dims: int = 48,
) -> Figure:
    """One decoder step in three panels: **Align** (raw scores ``e``), **Weight** (``α``), **Combine** (``c``).

    Args:
        scores: ``(S,)`` raw alignment scores e_j.
        weights: ``(S,)`` softmax weights α_j.
        values: ``(S, d)`` encoder annotations h_j.
        context: ``(d,)`` the context c = Σ α_j h_j.
        source_labels: ``S`` source piece labels (already display text).
        target_label: the output token this step produced.
        top: how many largest terms α_j h_j the Combine panel shows next to c.
        max_dims: the Combine panel shows the first ``max_dims`` dimensions only (d may be several hundred).
    """
    scores, weights = np.asarray(scores, dtype=float), np.asarray(weights, dtype=float)
    values, context = np.asarray(values, dtype=float), np.asarray(context, dtype=float)
    count = len(scores)
    labels = [plain_label(label) for label in source_labels[:count]]
    x = np.arange(count)
    fig = _figure(min(14.0, max(6.5, 0.42 * count + 2.5)), 8.2)
    ax_e, ax_a, ax_c = fig.subplots(3, 1, height_ratios=[1.0, 1.0, 0.9])
    target = plain_label(target_label)

    ax_e.bar(x, scores, color=np.where(scores >= 0, "tab:blue", "tab:red"))
    ax_e.axhline(0.0, color="grey", linewidth=0.8)
    ax_e.set_title(f"1  Align: raw scores e_j = score(s_t, h_j) for output “{target}”", fontsize=11, loc="left")
    ax_e.set_ylabel("e_j")

    ax_a.bar(x, weights, color="tab:purple")
    ax_a.set_ylim(0.0, max(1e-6, float(weights.max())) * 1.18)
    ax_a.set_title("2  Weight: α_j = exp(e_j) / Σ_i exp(e_i)   (sums to 1)", fontsize=11, loc="left")
    ax_a.set_ylabel("α_j")
    if count <= 30:
        for xi, w in zip(x, weights):
            ax_a.text(xi, w, f"{w:.2f}", ha="center", va="bottom", fontsize=8)
    for ax in (ax_e, ax_a):
        ax.set_xticks(x, labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=_font_size(count))
        ax.set_xlim(-0.6, count - 0.4)

    # Combine: the largest terms alpha_j h_j, the rest summed, and their sum c, over the first dimensions.
    dims = min(max_dims, context.shape[0])
    terms = weights[:, None] * values  # (S, d)
    order = np.argsort(-np.linalg.norm(terms, axis=1))[:top]
    rest = np.delete(terms, order, axis=0).sum(axis=0) if count > len(order) else np.zeros_like(context)
    strip = np.stack([*(terms[j] for j in order), rest, context])[:, :dims]
    strip_labels = [f"α·h({labels[j]})" for j in order] + ["all other terms", "c = sum"]
    limit = float(np.abs(strip).max()) or 1.0
    image = ax_c.imshow(strip, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax_c.set_yticks(range(len(strip_labels)), strip_labels, fontsize=9)
    ax_c.axhline(len(strip_labels) - 1.5, color="black", linewidth=1.5)
    ax_c.set_xlabel(f"dimension of the context vector (first {dims} of {context.shape[0]})")
    ax_c.set_title(
        "3  Combine: c = Σ_j α_j h_j   (the rows above the line add up to the bottom row)", fontsize=11, loc="left"
    )
    fig.colorbar(image, ax=ax_c, fraction=0.03, pad=0.01)
    fig.tight_layout()
    return fig


def bleu_by_length_figure(metrics: dict | None) -> Figure:
    """Test BLEU per source-length bucket (``metrics["models"][name]["by_length"]``).

    Left: one line per model. Right: each attention model's gain over the baseline per bucket, the direct picture of
    whether attention helps more as sentences get longer.
    """
    models = (metrics or {}).get("models") or {}
    rows = {name: m.get("by_length") or [] for name, m in models.items() if isinstance(m, dict) and m.get("by_length")}
    if not rows:
        return message_figure("No metrics.json (or no by-length scores) in this model folder.", "BLEU by length")
    buckets: list[str] = []
    counts: dict[str, int] = {}
    for bucket_rows in rows.values():
        for row in bucket_rows:
            if row["bucket"] not in buckets:
                buckets.append(row["bucket"])
            counts[row["bucket"]] = row.get("num_sentences", 0)
    bleu = {name: [{r["bucket"]: r["bleu"] for r in rs}.get(b, np.nan) for b in buckets] for name, rs in rows.items()}
    baseline = bleu.get("baseline")
    fig = _figure(12.0 if baseline else 7.5, 4.2)
    axes = fig.subplots(1, 2 if baseline else 1, squeeze=False)[0]
    x = np.arange(len(buckets))
    tick_labels = [f"{b}\n(n={counts.get(b, 0)})" for b in buckets]
    ax = axes[0]
    for name, ys in bleu.items():
        is_baseline = name == "baseline"
        ax.plot(
            x,
            ys,
            marker="o",
            linestyle="--" if is_baseline else "-",
            linewidth=2.5 if is_baseline else 2.0,
            color=model_colour(name),
            label=f"{name} (no attention)" if is_baseline else name,
        )
    ax.set_ylabel("test BLEU")
    ax.set_title("Test BLEU by source length")
    ax.legend()
    if baseline:
        gain_ax = axes[1]
        others = [name for name in bleu if name != "baseline"]
        width = 0.8 / max(len(others), 1)
        for k, name in enumerate(others):
            gains = np.asarray(bleu[name], dtype=float) - np.asarray(baseline, dtype=float)
            gain_ax.bar(x + (k - (len(others) - 1) / 2) * width, gains, width, color=model_colour(name), label=name)
        gain_ax.axhline(0.0, color="black", linewidth=0.8)
        gain_ax.set_ylabel("BLEU gain over the baseline")
        gain_ax.set_title("What attention adds, by source length")
        gain_ax.legend()
    for ax in axes:
        ax.set_xticks(x, tick_labels)
        ax.set_xlabel("source length in words (test sentences per bucket)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def training_curves_figure(history: dict | None) -> Figure:
    """Validation BLEU and validation loss per epoch for every model (``history.json``)."""
    curves = {name: rows for name, rows in (history or {}).items() if isinstance(rows, list) and rows}
    if not curves:
        return message_figure("No history.json in this model folder.", "Training curves")
    fig = _figure(11.0, 4.0)
    ax_bleu, ax_loss = fig.subplots(1, 2)
    for name, rows in curves.items():
        epochs = [r["epoch"] for r in rows]
        style = {"color": model_colour(name), "marker": "o", "linestyle": "--" if name == "baseline" else "-"}
        ax_bleu.plot(epochs, [r.get("val_bleu", np.nan) for r in rows], label=name, **style)
        ax_loss.plot(epochs, [r.get("val_loss", np.nan) for r in rows], label=name, **style)
    ax_bleu.set_title("validation BLEU (greedy)")
    ax_loss.set_title("validation loss (cross-entropy per token)")
    for ax in (ax_bleu, ax_loss):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_bleu.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# Evidence beyond heatmaps (attention_demo.evidence)
# ---------------------------------------------------------------------------------------------------------------------

FLAG_COLOURS = {"dropped": "tab:red", "repeated": "tab:orange", "": "tab:blue"}


def coverage_figure(
    totals: Sequence[float], flags: Sequence[str], labels: Sequence[str], pieces: bool = True, title: str = ""
) -> Figure:
    """Bars of the total attention each source piece (or word) received over the output, coloured by flag."""
    totals = np.asarray(totals, dtype=float)
    shown = display_piece if pieces else (lambda label: label)
    fig = _figure(min(14.0, max(4.5, 0.42 * len(totals) + 2.2)), 2.8)
    ax = fig.subplots()
    x = np.arange(len(totals))
    ax.bar(x, totals, color=[FLAG_COLOURS.get(f, "tab:blue") for f in flags])
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(
        x, [plain_label(shown(p)) for p in labels[: len(totals)]], rotation=60, ha="right", rotation_mode="anchor",
        fontsize=_font_size(len(totals)),
    )  # fmt: skip
    ax.set_ylabel("total attention Σ_t α_tj")
    ax.set_title(plain_label_multiline(title or "Coverage (red: probably dropped, orange: probably repeated)"))
    fig.tight_layout()
    return fig


def gradient_by_distance_figure(evidence: dict | None) -> Figure:
    """Mean normalised saliency by the distance |i - t| between source piece and output position, per model."""
    models = (evidence or {}).get("models") or {}
    if not models:
        return message_figure(
            "No evidence in metrics.json; run python -m attention_demo.evidence (see README).", "Gradient by distance"
        )
    fig = _figure(7.5, 4.0)
    ax = fig.subplots()
    for name, numbers in models.items():
        curve = numbers.get("gradient_by_distance") or {}
        ys = np.array([np.nan if v is None else v for v in curve.get("mean_saliency") or []], dtype=float)
        is_baseline = name == "baseline"
        ax.plot(
            curve.get("distance", [])[: len(ys)], ys, marker="o", markersize=3, color=model_colour(name),
            linestyle="--" if is_baseline else "-", label=f"{name} (no attention)" if is_baseline else name,
        )  # fmt: skip
    ax.set_xlabel("distance |i − t| between source position i and output position t (subwords)")
    ax.set_ylabel("mean share of the output word's saliency")
    ax.set_title(f"Where the gradient reaches ({evidence.get('num_sentences', '?')} test sentences, greedy)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


AGREEMENT_PAIRS = {
    "attention_vs_saliency": "attention vs saliency",
    "attention_vs_occlusion": "attention vs occlusion",
    "saliency_vs_occlusion": "saliency vs occlusion",
}


def agreement_histograms_figure(evidence: dict | None) -> Figure:
    """Histograms of per-step Kendall τ and Jensen–Shannon divergence, one row per comparison, one line per model."""
    models = (evidence or {}).get("models") or {}
    if not models:
        return message_figure(
            "No evidence in metrics.json; run python -m attention_demo.evidence (see README).", "Agreement"
        )
    fig = _figure(11.0, 3.0 * len(AGREEMENT_PAIRS))
    axes = fig.subplots(len(AGREEMENT_PAIRS), 2, squeeze=False)
    for row, (pair, pair_label) in enumerate(AGREEMENT_PAIRS.items()):
        for col, measure in enumerate(("kendall_tau", "jsd")):
            ax = axes[row][col]
            for name, numbers in models.items():
                summary = ((numbers.get("agreement") or {}).get(pair) or {}).get(measure) or {}
                counts = np.asarray(summary.get("counts") or [], dtype=float)
                bins = np.asarray(summary.get("bins") or [], dtype=float)
                if not counts.size or counts.sum() == 0:
                    continue
                centres = (bins[:-1] + bins[1:]) / 2
                top1 = (numbers["agreement"][pair].get("top1") or {}).get("mean")
                label = f"{name}: mean {summary.get('mean')}" + (f", top-1 {top1}" if top1 is not None else "")
                ax.step(centres, counts / counts.sum(), where="mid", color=model_colour(name), label=label,
                        linestyle="--" if name == "baseline" else "-")  # fmt: skip
            ax.set_title(f"{pair_label}: {'Kendall τ' if measure == 'kendall_tau' else 'JS divergence (bits)'}")
            ax.set_ylabel("share of output steps")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
