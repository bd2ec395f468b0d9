"""Loading what the app shows: the models (a Hub id or a folder, else the bundled copy) and the example sentences.
No Gradio."""

from __future__ import annotations

import logging
from pathlib import Path

from attention_demo.cli import BUNDLED_MODELS, BUNDLED_REVERSE_MODELS
from attention_demo.model_repo import read_test_examples
from attention_demo.translate import Translator
from attention_demo.ui import text

__all__ = ["BUNDLED_MODELS", "BUNDLED_REVERSE_MODELS", "is_twin", "load_examples", "load_translator", "load_twin"]

logger = logging.getLogger(__name__)


def load_translator(
    model: str | None, bundled: str | Path = BUNDLED_MODELS, fast_search: bool = False
) -> tuple[Translator, str]:
    """Load the requested model repo (Hub id or folder), falling back to ``bundled``; returns a notice for the header.

    With the Hub unreachable the fallback takes at most a few seconds (``hub.hub_reachable`` probes once with a
    short timeout, and ``HF_HUB_OFFLINE=1`` skips the probe). ``fast_search``: see :class:`Translator`.
    """
    bundled = Path(bundled)
    if model and Path(model).resolve() != bundled.resolve():
        try:
            loaded = Translator.from_pretrained(model, fast_search=fast_search)
            return loaded, text.MODELS_LOADED.format(model=model)
        except Exception as error:  # any failure (offline, missing, corrupt) falls back to the bundled copy
            logger.warning("Could not load %s (%s); using the bundled models.", model, error)
            logger.debug("Why %s could not be loaded:", model, exc_info=True)
            fallback = Translator(bundled, fast_search=fast_search)
            return fallback, text.MODELS_FALLBACK.format(model=model, error=type(error).__name__)
    translator = Translator(bundled, fast_search=fast_search)
    return translator, bundled_notice(translator)


def bundled_notice(translator: Translator) -> str:
    """The header line of the bundled models."""
    source, target = text.language(translator.source_lang), text.language(translator.target_lang)
    return text.MODELS_BUNDLED.format(source=source, target=target)


def load_twin(
    model: str | None, translator: Translator, bundled: str | Path = BUNDLED_REVERSE_MODELS,
    fast_search: bool = False,
) -> tuple[Translator | None, str]:  # fmt: skip
    """The models of the other direction for ``translator`` (the app's second page): ``model`` (a Hub id or folder),
    else the ``bundled`` folder; ``(None, "")`` when there is neither, or when they do not translate the other way
    with the same two tokenizers (the app then has one page, and says why in the log)."""
    if model is None and not Path(bundled).is_dir():
        return None, ""
    try:
        twin, notice = load_translator(model, bundled, fast_search)
    except Exception as error:  # the app still serves its first direction
        logger.warning("Could not load the other direction's models (%s); the app has one page.", error)
        return None, ""
    if not is_twin(translator, twin):
        logger.warning(
            "%s translates %s -> %s with other tokenizers than the reverse of %s -> %s; the app has one page.",
            model or bundled, twin.source_lang, twin.target_lang, translator.source_lang, translator.target_lang,
        )  # fmt: skip
        return None, ""
    return twin, notice


def load_examples(folder: str | Path, source_lang: str, target_lang: str) -> list[dict[str, str | None]]:
    """Example sentences ``{"source", "reference"}``: the folder's test examples, else the built-in sentences."""
    examples = read_test_examples(folder, source_lang, target_lang)
    return examples or [{"source": s, "reference": None} for s in text.BUILTIN_EXAMPLES]


def is_twin(translator: Translator, twin: Translator) -> bool:
    """Whether ``twin`` translates the other way with the same two tokenizers (so that one's output ids are the
    other's input ids)."""
    return (
        (twin.source_lang, twin.target_lang) == (translator.target_lang, translator.source_lang)
        and twin.src_tokenizer.to_str() == translator.tgt_tokenizer.to_str()
        and twin.tgt_tokenizer.to_str() == translator.src_tokenizer.to_str()
    )
