"""Matplotlib figures for the app: one decoder step, coverage, and the evidence plots. Headless (Agg).

The attention and saliency heatmaps are not drawn here: the browser draws them from their numbers
(``attention_demo.ui.heatmap``), so that they answer hover and clicks and no request spends time drawing them.

Every function returns a new :class:`~matplotlib.figure.Figure` made with the object-oriented API, never through
``pyplot``: pyplot keeps global state that is not thread-safe (the app serves several requests at once) and keeps
every figure alive until it is closed. A plain ``Figure`` is garbage-collected once Gradio has rendered it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and Spaces

import unicodedata  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from attention_demo.evidence import agreement_pairs, measure_labels  # noqa: E402
from attention_demo.model import BASELINE, MODEL_NAMES  # noqa: E402
from attention_demo.model_repo import EvidenceSection, ModelScores, get_dict  # noqa: E402
from attention_demo.tokenizer import display_piece  # noqa: E402

# One fixed colour per model (the attention models in MODEL_NAMES order); the baseline is always black.
ATTENTION_COLOURS = ("tab:green", "tab:orange", "tab:blue")
MODEL_COLOURS = {
    **dict(zip([name for name in MODEL_NAMES if name != BASELINE], ATTENTION_COLOURS, strict=True)),
    BASELINE: "black",
}
MAX_LABEL_CHARS = 18  # longer axis labels are shortened with an ellipsis
DPI = 90


def printable(text: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """Arbitrary (user) text as a visible label of at most ``max_chars`` characters (longer text ends with "…").

    Control and format characters (a tab is a piece of the German vocabulary) have no glyph: they are shown as
    escapes (``\\t``). Used for the figures here and for the labels of the heatmap the browser draws.
    """
    text = "".join(repr(ch)[1:-1] if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


def plain_label(text: str) -> str:
    """Make arbitrary (user) text safe as a matplotlib label: no mathtext, no invisible characters, bounded length.

    A ``$`` would switch matplotlib to mathtext, and unbalanced or odd TeX raises at draw time: escape it.
    """
    return printable(text).replace("$", r"\$")


def model_colour(name: str) -> str:
    """A fixed colour per model, so a model looks the same in every plot."""
    return MODEL_COLOURS.get(name, "tab:purple")


def _font_size(count: int) -> float:
    """Tick font size that keeps ``count`` labels readable: 10 pt up to 25 labels, smaller beyond."""
    return 10.0 if count <= 25 else max(5.0, 10.0 * 25 / count)


def _figure(width: float, height: float) -> Figure:
    """A new pyplot-free figure of ``width`` x ``height`` inches."""
    return Figure(figsize=(width, height), dpi=DPI)


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
        for xi, w in zip(x, weights, strict=True):
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


def bleu_by_length_figure(models: dict[str, ModelScores]) -> Figure:
    """Test BLEU per source-length bucket (``metrics.json["models"][name]["by_length"]``, :attr:`Metrics.models`).

    Left: one line per model. Right: each attention model's gain over the baseline per bucket, the direct picture of
    whether attention helps more as sentences get longer.
    """
    rows = {
        name: m["by_length"] for name, m in models.items() if isinstance(m.get("by_length"), list) and m["by_length"]
    }
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
    baseline = bleu.get(BASELINE)
    fig = _figure(12.0 if baseline else 7.5, 4.2)
    axes = fig.subplots(1, 2 if baseline else 1, squeeze=False)[0]
    x = np.arange(len(buckets))
    tick_labels = [f"{b}\n(n={counts.get(b, 0)})" for b in buckets]
    ax = axes[0]
    for name, ys in bleu.items():
        is_baseline = name == BASELINE
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
        others = [name for name in bleu if name != BASELINE]
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
        style = {"color": model_colour(name), "marker": "o", "linestyle": "--" if name == BASELINE else "-"}
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


def gradient_by_distance_figure(evidence: EvidenceSection | None) -> Figure:
    """Mean normalised saliency by the distance |i - t| between source piece and output position, per model."""
    models = get_dict(evidence, "models")
    if not models:
        return message_figure(
            "No evidence in metrics.json; run python -m attention_demo.evidence (see README).", "Gradient by distance"
        )
    fig = _figure(7.5, 4.0)
    ax = fig.subplots()
    for name in models:
        curve = get_dict(models, name, "gradient_by_distance")
        ys = np.array([np.nan if v is None else v for v in curve.get("mean_saliency") or []], dtype=float)
        is_baseline = name == BASELINE
        ax.plot(
            curve.get("distance", [])[: len(ys)], ys, marker="o", markersize=3, color=model_colour(name),
            linestyle="--" if is_baseline else "-", label=f"{name} (no attention)" if is_baseline else name,
        )  # fmt: skip
    ax.set_xlabel("distance |i − t| between source position i and output position t (subwords)")
    ax.set_ylabel("mean share of the output word's saliency")
    ax.set_title(f"Where the gradient reaches ({get_dict(evidence).get('num_sentences', '?')} test sentences, greedy)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def agreement_histograms_figure(evidence: EvidenceSection | None) -> Figure:
    """Histograms of per-step Kendall τ and Jensen–Shannon divergence, one row per comparison, one line per model.

    The comparisons are those of :func:`attention_demo.evidence.agreement_pairs` (in that order) that some model has
    numbers for: an older ``metrics.json`` without a method's pairs shows the others.
    """
    models = get_dict(evidence, "models")
    labels = measure_labels()
    pairs = [
        (f"{a}_vs_{b}", f"{labels[a]} vs {labels[b]}")
        for a, b in agreement_pairs()
        if any(f"{a}_vs_{b}" in get_dict(models, name, "agreement") for name in models)
    ]
    if not pairs:
        return message_figure(
            "No evidence in metrics.json; run python -m attention_demo.evidence (see README).", "Agreement"
        )
    fig = _figure(11.0, 3.0 * len(pairs))
    axes = fig.subplots(len(pairs), 2, squeeze=False)
    for row, (pair, pair_label) in enumerate(pairs):
        for col, measure in enumerate(("kendall_tau", "jsd")):
            ax = axes[row][col]
            for name in models:
                summary = get_dict(models, name, "agreement", pair, measure)
                counts = np.asarray(summary.get("counts") or [], dtype=float)
                bins = np.asarray(summary.get("bins") or [], dtype=float)
                if not counts.size or counts.sum() == 0:
                    continue
                centres = (bins[:-1] + bins[1:]) / 2
                top1 = get_dict(models, name, "agreement", pair, "top1").get("mean")
                label = f"{name}: mean {summary.get('mean')}" + (f", top-1 {top1}" if top1 is not None else "")
                ax.step(centres, counts / counts.sum(), where="mid", color=model_colour(name), label=label,
                        linestyle="--" if name == BASELINE else "-")  # fmt: skip
            ax.set_title(f"{pair_label}: {'Kendall τ' if measure == 'kendall_tau' else 'JS divergence (bits)'}")
            ax.set_ylabel("share of output steps")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
