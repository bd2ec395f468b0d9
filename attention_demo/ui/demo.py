"""The app's shared state, one object for every visitor: the models of one folder and the files read with them.

:class:`AttentionDemo` holds the translator, the folder's examples and references, metrics.json and the other
evidence files (read once, at start-up), the model the page opens on, and the cache of searches that repeated
requests reuse. It computes no view: each tab's presenter (``attention_demo.ui.tabs``) takes it as its first argument.
No Gradio.
"""

from __future__ import annotations

import functools

import torch

from attention_demo.model import BASELINE
from attention_demo.model_repo import (
    get_dict,
    read_alignment_links,
    read_attention_evolution,
    read_history,
    read_metrics,
)
from attention_demo.translate import Translation, Translator
from attention_demo.ui.concurrency import MODEL_THREADS
from attention_demo.ui.inputs import normalise
from attention_demo.ui.loading import load_examples

DEFAULT_ATTENTION = "additive"  # the app opens on it when metrics.json has no alignment scores (Bahdanau's score)
TRANSLATION_CACHE = 256  # (sentence, model, beam) searches kept for repeated requests


class AttentionDemo:
    """The models of one folder and what was read with them, shared by every tab and every visitor.

    Args:
        translator: the loaded models.
        notice: a line about where the models came from (shown in the header).
    """

    def __init__(self, translator: Translator, notice: str = "") -> None:
        self.translator = translator
        self.notice = notice
        self.attention_types = [name for name in translator.models if name != BASELINE]
        self.has_baseline = BASELINE in translator.models
        self.examples = load_examples(translator.folder, translator.source_lang, translator.target_lang)
        self.references = {normalise(str(e["source"])): e["reference"] for e in self.examples if e["reference"]}
        # The evidence files are read once, here (through model_repo's schema: a missing or damaged file reads as
        # empty); nothing is recomputed from the dataset.
        self.metrics = read_metrics(translator.folder)
        self.default_type = self._default_type()
        self.history = read_history(translator.folder)
        self.evolution = read_attention_evolution(translator.folder)
        self.aligned = [
            row
            for row in read_alignment_links(translator.folder)
            if normalise(str(row.get("source"))) in self.references
        ]  # the test examples that have a word aligner's links
        # Repeated requests (the examples, the opening sentence, a visitor going back) reuse their search. Shared by
        # every request, but only ever holds the result the same call would compute (lru_cache is thread-safe), and
        # nothing downstream changes a Translation.
        self._translate_one = functools.lru_cache(maxsize=TRANSLATION_CACHE)(self._search)

    def translate_with(self, sentence: str, names: list[str], beam: int) -> list[Translation]:
        """``sentence`` translated by each model in ``names``, the models running side by side in threads.

        Torch releases the GIL while it computes, so on two cores the attention model and the baseline together take
        about as long as one of them (README, Performance).
        """
        later = [MODEL_THREADS.submit(self._translate_one, sentence, name, beam) for name in names[1:]]
        return [self._translate_one(sentence, names[0], beam), *(future.result() for future in later)]

    def _search(self, sentence: str, name: str, beam: int) -> Translation:
        with torch.inference_mode():  # thread-local: entered in the thread that runs the model
            return self.translator.translate([sentence], name, beam)[0]

    def _default_type(self) -> str | None:
        """The model the app opens on: the attention model whose attention agrees best with the word aligner (the
        lowest AER in metrics.json), so that a first heatmap shows alignment; without those numbers
        ``DEFAULT_ATTENTION``, else the first attention model."""
        aer = {}
        for name, numbers in self.metrics.alignment_models.items():
            value = get_dict(numbers, "reference").get("aer")
            if name in self.attention_types and isinstance(value, (int, float)):
                aer[name] = value
        if aer:
            return min(aer, key=aer.__getitem__)
        if DEFAULT_ATTENTION in self.attention_types:
            return DEFAULT_ATTENTION
        return self.attention_types[0] if self.attention_types else None
