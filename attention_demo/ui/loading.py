"""Loading what the app shows: the models (a Hub id or a folder, else the bundled copy) and the example sentences.
No Gradio."""

from __future__ import annotations

import logging
from pathlib import Path

from attention_demo.model_repo import read_test_examples
from attention_demo.translate import Translator
from attention_demo.ui import text

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models" / "multi30k-de-en"

logger = logging.getLogger(__name__)


def load_translator(
    model: str | None, bundled: str | Path = BUNDLED_MODELS, bfloat16_search: bool = False
) -> tuple[Translator, str]:
    """Load the requested model repo (Hub id or folder), falling back to ``bundled``; returns a notice for the header.

    With the Hub unreachable the fallback takes at most a few seconds (``hub.hub_reachable`` probes once with a
    short timeout, and ``HF_HUB_OFFLINE=1`` skips the probe). ``bfloat16_search``: see :class:`Translator`.
    """
    bundled = Path(bundled)
    if model and Path(model).resolve() != bundled.resolve():
        try:
            loaded = Translator.from_pretrained(model, bfloat16_search=bfloat16_search)
            return loaded, text.MODELS_LOADED.format(model=model)
        except Exception as error:  # any failure (offline, missing, corrupt) falls back to the bundled copy
            logger.warning("Could not load %s (%s); using the bundled models.", model, error)
            logger.debug("Why %s could not be loaded:", model, exc_info=True)
            fallback = Translator(bundled, bfloat16_search=bfloat16_search)
            return fallback, text.MODELS_FALLBACK.format(model=model, error=type(error).__name__)
    return Translator(bundled, bfloat16_search=bfloat16_search), text.MODELS_BUNDLED


def load_examples(folder: str | Path, source_lang: str, target_lang: str) -> list[dict[str, str | None]]:
    """Example sentences ``{"source", "reference"}``: the folder's test examples, else the built-in sentences."""
    examples = read_test_examples(folder, source_lang, target_lang)
    return examples or [{"source": s, "reference": None} for s in text.BUILTIN_EXAMPLES]
