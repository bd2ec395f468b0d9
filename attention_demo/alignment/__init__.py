"""Does attention align words? Attention against an external word aligner, and the ``</s>`` sink.

A heatmap *looks* like a word alignment; this package measures whether it is one. Two modules:

- :mod:`~attention_demo.alignment.links`: the library. Attention rows as word links (:func:`attention_links`,
  :func:`sentence_links`, :func:`teacher_forced_attention`), a word aligner's links (:func:`word_aligner`: eflomal,
  Östling & Tiedemann 2016, a Bayesian HMM aligner, run both ways and symmetrised with :func:`grow_diag_final_and`,
  Koehn et al. 2005), and their scores: precision, recall, AER = 1 - F1 (:func:`alignment_scores`), the ``</s>``
  sink (:func:`summarise`) and a straight diagonal as the floor (:func:`diagonal_links`); a model's links and its
  other-direction twin's, symmetrised (:func:`two_way_links`) or intersected (:func:`agreed_links`). The app uses it to
  draw and score one sentence.
- :mod:`~attention_demo.alignment.command`: the corpus command (:func:`evaluate_folder`), which writes
  ``metrics.json["alignment"]`` and ``alignment_links.json`` (the test references' links, so that the app can draw
  them and the reference scores can be recomputed without the aligner)::

    python -m attention_demo.alignment --model models/multi30k-de-en --dataset_name ../shared/data/multi30k

eflomal is GPL-3.0, so it is an optional evaluation extra (``pip install eflomal``), never imported by the app.
Links are ``(source word, target word)`` index pairs, written in the Pharaoh format ``"j-i"`` (source first).
"""

from attention_demo.alignment.command import evaluate_folder, main
from attention_demo.alignment.links import (
    BATCH_SIZE,
    AttentionLinks,
    Links,
    agreed_links,
    alignment_scores,
    attention_links,
    diagonal_links,
    format_pharaoh,
    grow_diag_final_and,
    parse_pharaoh,
    sentence_links,
    summarise,
    teacher_forced_attention,
    transposed,
    two_way_links,
    word_aligner,
    words,
)
from attention_demo.model_repo import ALIGNMENT_KEY

__all__ = [
    "ALIGNMENT_KEY",
    "BATCH_SIZE",
    "AttentionLinks",
    "Links",
    "agreed_links",
    "alignment_scores",
    "attention_links",
    "diagonal_links",
    "evaluate_folder",
    "format_pharaoh",
    "grow_diag_final_and",
    "main",
    "parse_pharaoh",
    "sentence_links",
    "summarise",
    "teacher_forced_attention",
    "transposed",
    "two_way_links",
    "word_aligner",
    "words",
]
