"""Components that several tabs build the same way: the read-only tables."""

from __future__ import annotations

import gradio as gr
import pandas as pd


def table(columns: list[str], label: str, widths: list[int], **kwargs: object) -> gr.Dataframe:
    """A read-only table of text cells with fixed column widths in pixels (it scrolls sideways on a phone)."""
    return gr.Dataframe(
        value=pd.DataFrame(columns=columns), label=label, interactive=False, datatype="str", wrap=True,
        column_widths=[f"{width}px" for width in widths], **kwargs,
    )  # fmt: skip
