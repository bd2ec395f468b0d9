"""attention-demo: translate German to English with and without attention, and see the attention.

python app.py                      # bundled models (models/multi30k-de-en), http://127.0.0.1:7860
python app.py --model user/repo    # a Hub model repo or a local folder (also: MODEL_REPO=...)
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import gradio as gr
import matplotlib.pyplot as plt
import torch

from attention_demo.model import BASELINE
from attention_demo.plots import attention_heatmap
from attention_demo.translate import Translator

BUNDLED_MODELS = Path(__file__).resolve().parent / "models" / "multi30k-de-en"
MAX_INPUT_CHARS = 1000  # longer input is cut before tokenizing, so huge requests stay cheap

logger = logging.getLogger("attention_demo.app")


def load_translator(model: str | None) -> tuple[Translator, str]:
    """Load the requested model repo, falling back to the bundled models; returns a notice for the UI."""
    if model and Path(model).resolve() != BUNDLED_MODELS:
        try:
            return Translator.from_pretrained(model), f"Models: `{model}`."
        except Exception as error:  # any failure (offline, missing, corrupt) falls back to the bundled copy
            logger.warning("Could not load %s (%s); using the bundled models.", model, error)
            return Translator(BUNDLED_MODELS), (
                f"Could not load `{model}` ({type(error).__name__}); showing the bundled models instead."
            )
    return Translator(BUNDLED_MODELS), "Models: the bundled Multi30k German→English models."


def translate(translator: Translator, text: str, attention_type: str, beam_size: int):  # noqa: ANN201
    """Translate with the chosen attention model and the baseline; returns both texts, a heatmap and a notice."""
    text = text or ""
    notices = []
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS]
        notices.append(f"Input cut to its first {MAX_INPUT_CHARS} characters.")
    if not text.strip():
        return "", "", None, "Type a German sentence to translate."
    beam_size = max(1, int(beam_size or 1))
    with torch.inference_mode():
        (ours,) = translator.translate([text], attention_type, beam_size)
        (base,) = translator.translate([text], BASELINE, beam_size) if BASELINE in translator.models else (None,)
    if ours.truncated:
        notices.append("Input truncated to the model's maximum length.")
    best = ours.candidates[0]
    figure = attention_heatmap(
        best.hypothesis.attention.numpy(), ours.source_pieces, best.pieces, title=f"{attention_type} attention"
    )
    plt.close(figure)
    return ours.text, base.text if base else "(no baseline model)", figure, " ".join(notices)


def build_app(translator: Translator, notice: str) -> gr.Blocks:
    attention_models = [n for n in translator.models if n != BASELINE]
    with gr.Blocks(title="attention-demo") as demo:
        gr.Markdown("# attention-demo\nGerman → English with and without attention. " + notice)
        with gr.Row():
            source = gr.Textbox(label="German", value="Ein Mann fährt mit dem Fahrrad durch die Stadt.", lines=2)
        with gr.Row():
            attention_type = gr.Dropdown(attention_models, value=attention_models[0], label="Attention type")
            beam = gr.Slider(1, 10, value=5, step=1, label="Beam size (1 = greedy)")
            button = gr.Button("Translate", variant="primary")
        with gr.Row():
            ours = gr.Textbox(label="With attention", interactive=False)
            base = gr.Textbox(label="Baseline (no attention)", interactive=False)
        heatmap = gr.Plot(label="Attention")
        status = gr.Textbox(label="Notes", interactive=False)
        button.click(
            lambda t, a, b: translate(translator, t, a, b),
            [source, attention_type, beam],
            [ours, base, heatmap, status],
            api_name="translate",
            concurrency_limit=2,
        )
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("MODEL_REPO"), help="Hub model repo id or local folder")
    args = parser.parse_args()
    translator, notice = load_translator(args.model)
    build_app(translator, notice).queue(default_concurrency_limit=2).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        ssr_mode=False,
    )


if __name__ == "__main__":
    main()
