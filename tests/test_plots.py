"""Unit tests of attention_demo.plots: safe labels for user text.

(The heatmaps are drawn by the browser; see attention_demo.ui.heatmap and tests/test_app_browser.py.)
"""

from __future__ import annotations

from attention_demo import plots


def test_plain_label_escapes_mathtext_and_invisible_characters() -> None:
    assert plots.plain_label("$x$") == r"\$x\$"
    assert plots.plain_label("a\tb\x00c\u202ed") == r"a\tb\x00c\u202ed"
    assert plots.plain_label("Donaudampfschifffahrtsgesellschaft") == "Donaudampfschifff…"
    assert len(plots.plain_label("x" * 100)) == plots.MAX_LABEL_CHARS


def test_printable_keeps_dollars_and_shortens_to_the_asked_length() -> None:
    assert plots.printable("$x$ \t") == "$x$ \\t"
    assert plots.printable("x" * 30, 24) == "x" * 23 + "…"
