"""Unit tests of attention_demo.plots: the heatmap's hand-computed layout, safe labels, and the fast encoding."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import Image

from attention_demo import plots

LABEL_SETS = {
    "short": (["▁Ein", "▁Hund", ".", "</s>"], ["▁A", "▁dog", ".", "</s>"]),
    "long words": (["▁Donaudampfschifffahrt", "sgesellschaft", "</s>"], ["▁steamboat", "▁company", "</s>"]),
    "many columns": ([f"▁wort{i}" for i in range(60)] + ["</s>"], [f"▁word{i}" for i in range(40)] + ["</s>"]),
    "hostile": (["▁$x^2$", "▁\t\x00\u202e", "▁<b>", "</s>"], ["▁$$", "▁\\frac", "</s>"]),
    "long words, narrow columns": (
        ["▁a", "▁Donaudampfschifffahrt"] + [f"▁w{i}" for i in range(40)] + ["</s>"],
        ["▁x", "</s>"],
    ),
}


def rendered_texts(fig) -> tuple[list, object]:  # noqa: ANN001
    """Draw ``fig`` and return the window extents of its visible, non-empty texts, and the figure's extent."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    return [t.get_window_extent(renderer) for t in texts], fig.bbox


@pytest.mark.parametrize("name", LABEL_SETS)
@pytest.mark.parametrize("title", ["", "additive attention, hypothesis #1 (subwords), a long title for a small map"])
def test_heatmap_labels_fit_inside_the_figure(name: str, title: str) -> None:
    """The margins are computed from the label widths (no tight_layout): nothing may be cut off at any edge."""
    source, target = LABEL_SETS[name]
    attention = np.random.default_rng(0).dirichlet(np.ones(len(source)), size=len(target))
    fig = plots.attention_heatmap(attention, source, target, title=title, highlight_row=1)
    extents, figure = rendered_texts(fig)
    for extent in extents:
        assert extent.x0 >= figure.x0 - 1 and extent.x1 <= figure.x1 + 1, (name, extent, figure)
        assert extent.y0 >= figure.y0 - 1 and extent.y1 <= figure.y1 + 1, (name, extent, figure)


def test_heatmap_axis_labels_do_not_overlap_the_tick_labels() -> None:
    source, target = LABEL_SETS["long words"]
    fig = plots.attention_heatmap(np.full((len(target), len(source)), 1 / len(source)), source, target)
    ax = fig.axes[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    xlabel, ylabel = ax.xaxis.label.get_window_extent(renderer), ax.yaxis.label.get_window_extent(renderer)
    assert all(xlabel.y1 <= t.get_window_extent(renderer).y0 + 1 for t in ax.get_xticklabels())  # below them
    assert all(ylabel.x1 <= t.get_window_extent(renderer).x0 + 1 for t in ax.get_yticklabels())  # left of them


def test_plain_label_escapes_mathtext_and_invisible_characters() -> None:
    assert plots.plain_label("$x$") == r"\$x\$"
    assert plots.plain_label("a\tb\x00c\u202ed") == r"a\tb\x00c\u202ed"
    assert plots.plain_label("Donaudampfschifffahrtsgesellschaft") == "Donaudampfschifff…"
    assert len(plots.plain_label("x" * 100)) == plots.MAX_LABEL_CHARS


def test_figure_data_uri_is_a_lossless_copy_of_the_drawing() -> None:
    source, target = LABEL_SETS["short"]
    fig = plots.attention_heatmap(np.eye(len(target), len(source)), source, target, title="t")
    uri = plots.figure_data_uri(fig)
    assert uri.startswith("data:image/webp;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    drawn = np.asarray(canvas.buffer_rgba())
    assert image.size == (drawn.shape[1], drawn.shape[0])
    assert np.array_equal(np.asarray(image.convert("RGBA")), drawn)  # every pixel, exactly
