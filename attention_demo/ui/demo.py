"""The app's shared state, one object per page (translation direction) for every visitor: the models of one folder
and the files read with them.

:class:`AttentionDemo` holds the translator, the folder's examples and references, metrics.json and the other
evidence files (read once, at start-up), the model the page opens on, the cache of searches that repeated requests
reuse, and the models of the other direction (the *twin*) when there are any. It computes no view: each tab's
presenter (``attention_demo.ui.tabs``) takes it as its first argument. No Gradio.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from attention_demo.agreement import AGREEMENT_SUFFIX
from attention_demo.alignment.links import teacher_forced_attention
from attention_demo.model import BASELINE
from attention_demo.model_repo import (
    get_dict,
    read_alignment_links,
    read_attention_evolution,
    read_history,
    read_metrics,
)
from attention_demo.tokenizer import EOS_ID
from attention_demo.translate import Candidate, Translation, Translator
from attention_demo.ui import text
from attention_demo.ui.concurrency import MODEL_THREADS
from attention_demo.ui.inputs import normalise
from attention_demo.ui.loading import is_twin, load_examples

DEFAULT_ATTENTION = "additive"  # the app opens on it when metrics.json has no alignment scores (Bahdanau's score)
TRANSLATION_CACHE = 256  # (sentence, model, beam) searches kept for repeated requests


class AttentionDemo:
    """The models of one folder and what was read with them, shared by every tab and every visitor.

    Args:
        translator: the loaded models.
        notice: a line about where the models came from (shown in the header).
        twin: the models of the other direction (target -> source, the same two tokenizers), if any: the heatmap
            rings the cells where both directions agree (:meth:`twin_attention`).
        page: the page's path when it is not the app's main page (``"en-de"``); its endpoints carry it as a suffix.
    """

    def __init__(
        self, translator: Translator, notice: str = "", twin: Translator | None = None, page: str = ""
    ) -> None:
        self.translator = translator
        self.notice = notice
        self.twin = twin if twin is not None and is_twin(translator, twin) else None
        self.page = page
        self.languages = {
            "source": text.language(translator.source_lang),
            "target": text.language(translator.target_lang),
        }
        self.direction = text.DIRECTION.format(**self.languages)
        self.attention_types = [name for name in translator.models if name != BASELINE]
        # Each model's score function, from its config (a model's name need not be one: "general-agreement").
        self.score_functions = {name: translator.models[name].config.attention_type for name in self.attention_types}
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
        self._read_back = functools.lru_cache(maxsize=TRANSLATION_CACHE)(self._twin_reading)

    def translate_with(self, sentence: str, names: list[str], beam: int) -> list[Translation]:
        """``sentence`` translated by each model in ``names``, the models running side by side in threads.

        Torch releases the GIL while it computes, so on two cores the attention model and the baseline together take
        about as long as one of them (README, Performance).
        """
        later = [MODEL_THREADS.submit(self._translate_one, sentence, name, beam) for name in names[1:]]
        return [self._translate_one(sentence, names[0], beam), *(future.result() for future in later)]

    def translate_and_read_back(
        self, sentence: str, names: list[str], beam: int
    ) -> tuple[list[Translation], np.ndarray | None]:
        """:meth:`translate_with`, and the twin's reading of the first model's best candidate (:meth:`twin_attention`;
        the heatmap opens on it).

        The twin reads it in this thread right after the first model's search, while the other models still search in
        theirs: on free cores its pass adds no time to the request. Both are kept for repeated requests.
        """
        later = [MODEL_THREADS.submit(self._translate_one, sentence, name, beam) for name in names[1:]]
        first = self._translate_one(sentence, names[0], beam)
        read_back = self._read_back(sentence, names[0], beam)
        return [first, *(future.result() for future in later)], read_back

    def endpoint(self, name: str) -> str:
        """The API name of endpoint ``name`` on this page: ``translate`` on the main page, ``translate_en_de`` on
        the ``en-de`` page."""
        return f"{name}_{self.page.replace('-', '_')}" if self.page else name

    def twin_name(self, name: str) -> str | None:
        """The twin's model that pairs with model ``name``: the one of the same name, else the twin's first attention
        model; None without a twin."""
        if self.twin is None:
            return None
        if name in self.twin.models and name != BASELINE:
            return name
        return next((other for other in self.twin.models if other != BASELINE), None)

    def twin_attention(self, name: str, source_ids: list[int], candidates: list[Candidate]) -> list[np.ndarray | None]:
        """What the twin of model ``name`` attends to when it reads each candidate translation and is made to produce
        the input (teacher forcing): ``(source pieces without </s>, output pieces + </s>)`` per candidate; None for an
        empty candidate, and all None without a twin."""
        twin_name = self.twin_name(name)
        if twin_name is None:
            return [None] * len(candidates)
        translations = [[*c.hypothesis.word_ids, EOS_ID] for c in candidates]
        with torch.inference_mode():  # the models are shared: nothing but a forward pass, no hooks, no state
            found = teacher_forced_attention(
                self.twin.models[twin_name], translations, [source_ids[:-1]] * len(candidates)
            )
        return [matrix if len(t) > 1 else None for matrix, t in zip(found, translations, strict=True)]

    def _search(self, sentence: str, name: str, beam: int) -> Translation:
        with torch.inference_mode():  # thread-local: entered in the thread that runs the model
            return self.translator.translate([sentence], name, beam)[0]

    def _twin_reading(self, sentence: str, name: str, beam: int) -> np.ndarray | None:
        best = self._translate_one(sentence, name, beam).candidates[:1]
        return self.twin_attention(name, self.translator.source_ids(sentence)[0], best)[0] if best else None

    def _default_type(self) -> str | None:
        """The model the app opens on: the attention model whose attention agrees best with the word aligner (the
        lowest AER in metrics.json), so that a first heatmap shows alignment; without those numbers
        ``DEFAULT_ATTENTION``, else the first attention model. Models trained with agreement are left to the visitor
        to pick: the page opens on what attention learns from the translation loss alone."""
        aer = {}
        for name, numbers in self.metrics.alignment_models.items():
            value = get_dict(numbers, "reference").get("aer")
            plain = not name.endswith(AGREEMENT_SUFFIX)
            if name in self.attention_types and plain and isinstance(value, (int, float)):
                aer[name] = value
        if aer:
            return min(aer, key=aer.__getitem__)
        if DEFAULT_ATTENTION in self.attention_types:
            return DEFAULT_ATTENTION
        return self.attention_types[0] if self.attention_types else None
