"""Looking inside a translation: subword -> word merging, and one decoder step's Align -> Weight -> Combine.

Two pieces of computation the app shows, kept here, apart from the UI (``attention_demo/ui``), so that they are
testable without Gradio and shared with the corpus alignment command (``attention_demo.alignment``):

- :func:`word_spans` / :func:`merge_attention` group BPE subwords into words for display. A source word's columns are
  **summed** (so every row is still a distribution over the source: "how much of this step's attention went to this
  word"), a target word's rows are **averaged** (so a row is "the attention of this word, on average over its pieces").
- :func:`inspect_steps` teacher-forces one hypothesis through the decoder and returns, for every output position,
  the raw alignment scores ``e``, the weights ``alpha = softmax(e)``, the encoder annotations ``h_j`` (the values)
  and the context ``c = sum_j alpha_j h_j``, exactly as the model computed them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from attention_demo.attention import combine
from attention_demo.data import decoder_input
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import WORD_MARK, is_word_start


def _is_punctuation(piece: str) -> bool:
    """True for pieces made only of punctuation/symbols ("." "," "!"), which the tokenizer always splits off."""
    return bool(piece) and all(unicodedata.category(ch)[0] in "PS" for ch in piece)


def word_spans(pieces: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Group subword pieces into words: ``[(word, [piece indices])]`` covering every piece once, in order.

    A new word starts at a piece with the word mark ``WORD_MARK``, at a special token (``</s>``, ``<unk>`` after a
    complete word is joined to it), and at punctuation that follows a word (``Stadt .`` -> ``Stadt``, ``.``). A bare
    mark (the tokenizer's space before punctuation) is joined to the piece after it.

    >>> word_spans(["▁Ein", "▁Fahr", "rad", "▁", ".", "</s>"])
    [('Ein', [0]), ('Fahrrad', [1, 2]), ('.', [3, 4]), ('</s>', [5])]
    """
    spans: list[tuple[str, list[int]]] = []
    for i, piece in enumerate(pieces):
        previous = pieces[i - 1] if i else None
        starts_word = (
            not spans
            or is_word_start(piece)
            or (piece.startswith("<") and piece.endswith(">") and piece != "<unk>")  # </s>, <s>, <pad>
            or (previous is not None and previous.startswith("<") and previous != "<unk>")
            # punctuation stands alone, except after the bare mark (" .") or after more punctuation ("...")
            or (_is_punctuation(piece) and previous != WORD_MARK and not _is_punctuation(previous or ""))
        )
        if starts_word:
            spans.append((piece, [i]))
        else:
            text, indices = spans[-1]
            spans[-1] = (text + piece, indices + [i])
    return [(_word_text(text), indices) for text, indices in spans]


def _word_text(joined: str) -> str:
    """A word's display text: its pieces joined, the word marks removed (a lone mark stays visible)."""
    text = joined.replace(WORD_MARK, "")
    return text or WORD_MARK


def merge_attention(
    attention: np.ndarray, source_pieces: Sequence[str], target_pieces: Sequence[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Subword attention -> word attention, for display.

    Args:
        attention: ``(tgt_pieces, src_pieces)`` weights; each row sums to 1.
        source_pieces, target_pieces: the pieces labelling columns and rows.

    Returns:
        ``(tgt_words, src_words)`` matrix in which a source word's columns are **summed** (rows still sum to 1) and
        a target word's rows are **averaged** (an average of distributions is a distribution), plus the source and
        target word labels.
    """
    attention = np.asarray(attention, dtype=float)
    source = word_spans(source_pieces[: attention.shape[1]])
    target = word_spans(target_pieces[: attention.shape[0]])
    columns = np.stack([attention[:, idx].sum(axis=1) for _, idx in source], axis=1)  # (tgt_pieces, src_words)
    merged = np.stack([columns[idx].mean(axis=0) for _, idx in target], axis=0)  # (tgt_words, src_words)
    return merged, [w for w, _ in source], [w for w, _ in target]


def source_highlight(pieces: Sequence[str], weights: Sequence[float], merged: bool) -> list[tuple[str, float]]:
    """``(text, weight)`` spans that spell out the source sentence, one per subword (or per word when ``merged``).

    ``weights`` must have one entry per piece (or per word of :func:`word_spans` when ``merged``). Pieces keep the
    space before them, so the spans concatenate back to readable text; the weights are rounded to 4 decimals.
    """
    if merged:
        labels = [w for w, _ in word_spans(pieces)]
        texts = [(" " if i else "") + w for i, w in enumerate(labels)]
    else:
        texts = []
        for i, piece in enumerate(pieces):
            if piece == WORD_MARK:  # the bare mark is a real token with its own weight: keep it visible
                text = " " + WORD_MARK
            elif piece.startswith("<"):  # </s>, <unk> stand apart from the word before them
                text = " " + piece
            else:
                text = piece.replace(WORD_MARK, " ")
            texts.append(text.lstrip() if i == 0 else text)
    return [(text, round(float(w), 4)) for text, w in zip(texts, weights, strict=True)]


@dataclass
class StepInspection:
    """Align -> Weight -> Combine for every output position of one hypothesis (one sentence, no batch dimension).

    Shapes: ``T`` output positions, ``S`` source pieces, ``d`` annotation size (``2 * encoder_hidden_size``).
    """

    scores: np.ndarray  # (T, S) raw alignment scores e_tj = score(s_t, h_j)           -- Align
    weights: np.ndarray  # (T, S) alpha_tj = softmax_j(e_tj)                            -- Weight
    values: np.ndarray  # (S, d) encoder annotations h_j (the values that are averaged)
    contexts: np.ndarray  # (T, d) c_t = sum_j alpha_tj h_j, computed by attention.combine -- Combine

    def contributions(self, position: int) -> dict[str, np.ndarray]:
        """Each source piece's part in the context of output ``position``.

        Returns ``(S,)`` arrays: ``weight`` alpha_j, ``norm`` ``||alpha_j h_j||``, and ``share``
        ``(alpha_j h_j . c) / ||c||^2``, the fraction of the context vector each term supplies along the context's
        own direction; the shares sum to exactly 1 (a negative share pulls against the others).
        """
        weights, context = self.weights[position], self.contexts[position]
        terms = weights[:, None] * self.values  # (S, d) alpha_j h_j
        denominator = float(context @ context) or 1.0
        return {
            "weight": weights,
            "norm": np.linalg.norm(terms, axis=1),
            "share": terms @ context / denominator,
        }


@torch.inference_mode()
def inspect_steps(model: Seq2Seq, source_ids: Sequence[int], target_ids: Sequence[int]) -> StepInspection:
    """Teacher-force ``target_ids`` (a hypothesis, usually ending in ``</s>``) and capture every attention step.

    Args:
        model: an attention model (``model.has_attention``).
        source_ids: the source ids as decoded, ending with ``</s>`` (``S`` of them).
        target_ids: the ``T`` output ids whose steps are inspected; the decoder is fed ``<s> y_1 .. y_{T-1}``,
            so position ``t`` is the step that produced ``target_ids[t]``. These are the same computations beam
            search made (the GRU is deterministic in eval mode), so the weights equal the hypothesis's attention.

    Returns:
        A :class:`StepInspection` with ``(T, S)`` scores/weights, ``(S, d)`` values, ``(T, d)`` contexts.
    """
    if not model.has_attention:
        raise ValueError("The baseline has no attention to inspect; choose an attention model.")
    device = next(model.parameters()).device
    src = torch.tensor([list(source_ids)], dtype=torch.long, device=device)  # (1, S)
    src_mask = torch.ones_like(src, dtype=torch.bool)  # (1, S): one sentence, no padding
    tgt_in = decoder_input(torch.tensor([list(target_ids)], dtype=torch.long, device=device))  # (1, T)
    memory = model.encode(src, src_mask)
    out = model.decode(tgt_in, memory)  # the model's own pass: raw scores e and weights alpha, (1, T, S)
    values = memory.attention.values  # (1, S, d) the encoder annotations h_j
    contexts = combine(out.attention, values)  # (1, T, d) c_t = sum_j alpha_tj h_j, the model's Combine step
    return StepInspection(
        scores=out.scores[0].float().cpu().numpy(),
        weights=out.attention[0].float().cpu().numpy(),
        values=values[0].float().cpu().numpy(),
        contexts=contexts[0].float().cpu().numpy(),
    )


SCORE_FORMULAS: dict[str, str] = {
    "dot": r"e_{tj} = \mathbf{s}_t^{\top}\,\mathbf{h}_j",
    "general": r"e_{tj} = \mathbf{s}_t^{\top}\,W_a\,\mathbf{h}_j",
    "additive": r"e_{tj} = \mathbf{v}_a^{\top}\tanh\!\left(W_q\,\mathbf{s}_t + W_k\,\mathbf{h}_j\right)",
}
SCORE_FORMULAS_PLAIN: dict[str, str] = {
    "dot": "e = qᵀk",
    "general": "e = qᵀ W_a k",
    "additive": "e = v_aᵀ tanh(W_q q + W_k k)",
}
SCORE_EXPLANATIONS: dict[str, str] = {
    "dot": "no parameters: the decoder must learn to put its state in the same space as the encoder annotations "
    "(Luong et al. 2015).",
    "general": "a learned matrix W_a lets query and keys live in different spaces (bilinear; Luong et al. 2015).",
    "additive": "a one-layer network with learned W_q, W_k and v_a scores every pair (Bahdanau et al. 2015).",
}
