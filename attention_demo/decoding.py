"""Decoding: greedy search and batched beam search. Every hypothesis keeps its tokens, score and attention matrix.

Beam search keeps ``beam_size`` partial translations per sentence, extends each with every vocabulary word, and keeps
the ``beam_size`` best by total log-probability (all sentences of a batch at once). A beam that has produced
``</s>`` stays in the beam with its score frozen (it can only be extended by padding at zero cost), so finished and
unfinished hypotheses compete fairly. Final ranking divides the score by ``length ** length_penalty``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from attention_demo.cli import DEFAULT_BEAM_SIZE
from attention_demo.data import MAX_TARGET_TOKENS, pad
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID
from attention_demo.tracing import scripted


@dataclass
class Hypothesis:
    """One translation.

    ``tokens`` are the generated ids, ending with ``</s>`` when the model finished the sentence; ``token_logprobs``
    gives each one's log-probability; ``attention`` is ``(len(tokens), src_len)`` (None for the baseline).
    """

    tokens: list[int]
    score: float  # total log-probability
    token_logprobs: list[float]
    attention: torch.Tensor | None

    @property
    def normalized_score(self) -> float:
        """Average log-probability per token (the ranking score with ``length_penalty=1``)."""
        return self.score / max(len(self.tokens), 1)

    @property
    def word_ids(self) -> list[int]:
        """The token ids without the final ``</s>`` (what :func:`attention_demo.tokenizer.decode` turns into text)."""
        return self.tokens[:-1] if self.tokens and self.tokens[-1] == EOS_ID else self.tokens


def output_caps(src_mask: torch.Tensor, max_len: int | None) -> torch.Tensor:
    """Per-sentence output-length caps ``(batch,)``: ``max_len`` if given, else from each sentence's own length.

    Per sentence (not per padded batch), so that a translation never depends on which batch it was decoded in.
    """
    if max_len is not None:
        return torch.full((src_mask.size(0),), max_len, device=src_mask.device)
    # Generous: translations are rarely more than twice as long as their source.
    return (2 * src_mask.sum(dim=1) + 10).clamp(max=MAX_TARGET_TOKENS)


@torch.no_grad()
def greedy_search(
    model: Seq2Seq,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    max_len: int | None = None,
    *,
    prefix: torch.Tensor | None = None,
    override_weights: Callable[[int, torch.Tensor], torch.Tensor | None] | None = None,
) -> list[Hypothesis]:
    """Pick the most probable word at every step. src/src_mask ``(batch, src_len)``; one hypothesis per sentence.

    Args:
        max_len: the output length cap for every sentence (default: from each sentence's length, see
            :func:`output_caps`).
        prefix: ``(batch, P)`` ids fed instead of the argmax at steps ``0 .. P-1`` (teacher forcing; each gets its
            log-probability as usual); greedy from step ``P`` on. A prefix ``</s>`` finishes its sentence.
        override_weights: called at every step with the step and the model's own attention weights
            ``(batch, src_len)``; a tensor it returns (same shape) replaces them before the Combine step, and that
            step is decoded again with it (attention surgery, :func:`attention_demo.evidence.surgery`). Attention
            models only; ``None`` keeps the model's weights.
    """
    batch = src.size(0)
    caps = output_caps(src_mask, max_len)
    memory = model.encode(src, src_mask)
    prev = torch.full((batch, 1), BOS_ID, dtype=torch.long, device=src.device)
    hidden = None
    finished = torch.zeros(batch, dtype=torch.bool, device=src.device)
    forced = 0 if prefix is None else prefix.size(1)
    tokens, logprobs, attentions = [], [], []
    for step in range(int(caps.max())):
        finished |= step >= caps  # a sentence at its length cap stops here
        out = model.decode(prev, memory, hidden)
        if override_weights is not None and out.attention is not None:
            replacement = override_weights(step, out.attention[:, 0])
            if replacement is not None:
                out = model.decode(prev, memory, hidden, weights_override=replacement.unsqueeze(1))
        hidden = out.hidden
        step_logp = torch.log_softmax(out.logits[:, 0].float(), dim=-1)  # (batch, vocab)
        step_logp[:, [PAD_ID, BOS_ID]] = float("-inf")  # never generated: padding marks "finished" below
        if step < forced:
            best = prefix[:, step].to(src.device)
            best_logp = step_logp.gather(1, best.unsqueeze(1)).squeeze(1)
        else:
            best_logp, best = step_logp.max(dim=-1)
        best = best.masked_fill(finished, PAD_ID)
        tokens.append(best)
        logprobs.append(best_logp.masked_fill(finished, 0.0))
        if out.attention is not None:
            attentions.append(out.attention[:, 0])  # (batch, src_len)
        finished |= best == EOS_ID
        prev = best.unsqueeze(1)
        if finished.all():
            break
    token_ids = torch.stack(tokens, dim=1).tolist()  # (batch, steps)
    step_logprobs = torch.stack(logprobs, dim=1).tolist()
    attention = torch.stack(attentions, dim=1) if attentions else None  # (batch, steps, src_len)
    return [
        _hypothesis(token_ids[b], step_logprobs[b], None if attention is None else attention[b], src_mask[b])
        for b in range(batch)
    ]


def beam_step(
    logits: torch.Tensor,
    step_attention: torch.Tensor | None,
    scores: torch.Tensor,
    finished: torch.Tensor,
    tokens: torch.Tensor,
    logprobs: torch.Tensor,
    attention: torch.Tensor | None,
    pad_id: int = PAD_ID,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
) -> tuple[
    torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor
]:  # fmt: skip
    """One step of beam search: extend every beam with every word and keep the ``k`` best per sentence.

    Args:
        logits: ``(batch*k, 1, vocab)`` the decoder's output for the beams' last words.
        step_attention: ``(batch*k, 1, src_len)`` its attention weights (None for the baseline).
        scores: ``(batch, k)`` each beam's total log-probability so far.
        finished: ``(batch*k,)`` beams that have produced ``</s>`` (or reached their length cap).
        tokens, logprobs: ``(batch*k, steps)`` each beam's words and their log-probabilities so far.
        attention: ``(batch*k, steps, src_len)`` each beam's attention so far (None for the baseline).

    Returns:
        The new ``scores``; ``parent`` ``(batch*k,)``, the beam each new beam extends; ``chosen`` ``(batch*k,)``, its
        new word; and ``tokens``, ``logprobs``, ``attention`` and ``finished`` one step longer, in the new beams' order.
    """
    batch, k = scores.shape
    step_logp = torch.log_softmax(logits[:, 0].float(), dim=-1)  # (batch*k, vocab)
    vocab = step_logp.size(-1)
    never = torch.tensor([pad_id, bos_id], device=step_logp.device)
    step_logp[:, never] = float("-inf")  # never generated: padding marks finished beams
    # A finished beam may only continue with padding, at no cost.
    step_logp[finished] = float("-inf")
    step_logp[finished, pad_id] = 0.0
    candidates = (scores.view(-1, 1) + step_logp).view(batch, k * vocab)
    scores, flat_choice = candidates.topk(k, dim=1)  # (batch, k)
    first_beam = torch.arange(batch, device=scores.device).unsqueeze(1) * k
    parent = (torch.div(flat_choice, vocab, rounding_mode="floor") + first_beam).view(-1)
    chosen = (flat_choice % vocab).view(-1)  # (batch*k,)
    tokens = torch.cat([tokens[parent], chosen.unsqueeze(1)], dim=1)
    logprobs = torch.cat([logprobs[parent], step_logp[parent, chosen].unsqueeze(1)], dim=1)
    if attention is not None and step_attention is not None:
        attention = torch.cat([attention[parent], step_attention[parent, :1]], dim=1)
    finished = finished[parent] | (chosen == eos_id)
    return scores, parent, chosen, tokens, logprobs, attention, finished


# The step as a TorchScript function: bit-identical, and it runs without holding Python's GIL, so searches in threads
# side by side do not wait for each other (attention_demo.tracing).
BEAM_STEP = scripted(beam_step)


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    beam_size: int = DEFAULT_BEAM_SIZE,
    max_len: int | None = None,
    length_penalty: float = 1.0,
) -> list[list[Hypothesis]]:
    """Batched beam search.

    Args:
        src, src_mask: ``(batch, src_len)``.
        beam_size: hypotheses kept per sentence.
        length_penalty: final ranking divides total log-probability by ``length ** length_penalty``.

    Returns:
        For each sentence, its ``beam_size`` hypotheses, best first.
    """
    batch, src_len = src.shape
    k = beam_size
    device = src.device
    beam_of_sentence = torch.arange(batch, device=device).repeat_interleave(k)  # (batch*k,)
    caps = output_caps(src_mask, max_len).index_select(0, beam_of_sentence)  # (batch*k,)
    memory = model.encode(src, src_mask).index_select(beam_of_sentence)
    scores = torch.zeros(batch, k, device=device)
    scores[:, 1:] = float("-inf")  # all beams start identical: let only the first one expand at step 1
    tokens = torch.full((batch * k, 0), PAD_ID, dtype=torch.long, device=device)
    logprobs = torch.zeros(batch * k, 0, device=device)
    attention = torch.zeros(batch * k, 0, src_len, device=device) if model.has_attention else None
    finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
    prev = torch.full((batch * k, 1), BOS_ID, dtype=torch.long, device=device)
    hidden = None
    for step in range(int(caps.max())):
        finished |= step >= caps  # beams of a sentence at its length cap stop here
        out = model.decode(prev, memory, hidden)
        scores, parent, chosen, tokens, logprobs, attention, finished = BEAM_STEP(
            out.logits, out.attention, scores, finished, tokens, logprobs, attention
        )
        hidden = out.hidden.index_select(parent)
        prev = chosen.unsqueeze(1)
        if finished.all():
            break

    results = []
    token_rows, logprob_rows = tokens.tolist(), logprobs.tolist()
    for b in range(batch):
        hyps = [
            _hypothesis(token_rows[i], logprob_rows[i], None if attention is None else attention[i], src_mask[b])
            for i in range(b * k, (b + 1) * k)
        ]
        hyps.sort(key=lambda h: h.score / max(len(h.tokens), 1) ** length_penalty, reverse=True)
        results.append(hyps)
    return results


def _hypothesis(
    token_ids: list[int], logprobs: list[float], attention: torch.Tensor | None, src_mask: torch.Tensor
) -> Hypothesis:
    """Trim the padding after ``</s>`` (or after the length cap) and padded source columns from one decoded row."""
    length = len(token_ids)
    if EOS_ID in token_ids:
        length = token_ids.index(EOS_ID) + 1
    elif PAD_ID in token_ids:
        length = token_ids.index(PAD_ID)
    src_len = int(src_mask.sum())
    attn = None if attention is None else attention[:length, :src_len].float().cpu()
    return Hypothesis(token_ids[:length], float(sum(logprobs[:length])), logprobs[:length], attn)


def translate_ids(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    beam_size: int = 1,
    batch_size: int = 64,
    length_penalty: float = 1.0,
) -> list[list[Hypothesis]]:
    """Translate id sequences (each ending with ``</s>``) in length-sorted batches; keeps the input order.

    Returns one list of hypotheses per source (a single one for greedy search), best first.
    """
    device = next(model.parameters()).device
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    results: list[list[Hypothesis]] = [[] for _ in sources]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        src, src_mask = pad([sources[i] for i in chunk])
        src, src_mask = src.to(device), src_mask.to(device)
        if beam_size <= 1:
            hyps = [[h] for h in greedy_search(model, src, src_mask)]
        else:
            hyps = beam_search(model, src, src_mask, beam_size, length_penalty=length_penalty)
        for i, h in zip(chunk, hyps, strict=True):
            results[i] = h
    return results
