"""The link and AER library: attention as word links, scored against a word aligner's links.

For every output word the attention row (subwords merged into words as the app merges them,
:func:`inspection.merge_attention`) links it to its largest-weight source word; ``</s>`` is never linked, and with a
null slot (``ModelConfig.null_slot``) a word whose null weight exceeds every source weight is left unlinked, like a
word an aligner leaves unaligned. These links ``A`` are compared with the links ``G`` of a statistical word aligner:

- precision ``|A ∩ G| / |A|``, recall ``|A ∩ G| / |G|`` and the alignment error rate
  ``AER = 1 - 2 |A ∩ G| / (|A| + |G|)`` (Och & Ney 2003 with every link "sure": one minus the F1 score), summed over
  the corpus (:func:`alignment_scores`);
- the ``</s>`` sink rate: the share of output words whose largest weight falls on the source's ``</s>``
  (:func:`attention_links`, :func:`summarise`);
- a straight diagonal (target word ``i`` -> source word ``round(i * S / T)``) as the floor any alignment should beat
  (:func:`diagonal_links`).

- two-way links (:func:`two_way_links`): a model's links and those of its twin that translates the other way, read on
  the same sentence pair and symmetrised with grow-diag-final-and, as statistical aligners combine their two
  directions; their intersection (:func:`agreed_links`) is where both directions agree.

``G`` comes from eflomal (:func:`word_aligner`), symmetrised with :func:`grow_diag_final_and`. Links are
``(source word, target word)`` index pairs, written in the Pharaoh format ``"j-i"`` (source first).
"""

from __future__ import annotations

import bisect
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attention_demo.data import decoder_input, pad
from attention_demo.inspection import merge_attention, word_spans
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import EOS, EOS_ID

BATCH_SIZE = 64  # sentences per teacher-forced pass

Links = set[tuple[int, int]]  # (source word j, target word i)


# ---------------------------------------------------------------------------------------------------------------------
# Links and scores
# ---------------------------------------------------------------------------------------------------------------------


def parse_pharaoh(line: str) -> Links:
    """``"0-0 2-1"`` -> ``{(0, 0), (2, 1)}`` (source index first)."""
    return {(int(j), int(i)) for j, i in (link.split("-") for link in line.split())}


def format_pharaoh(links: Iterable[tuple[int, int]]) -> str:
    """``{(0, 0), (2, 1)}`` -> ``"0-0 2-1"``, sorted by target then source word."""
    return " ".join(f"{j}-{i}" for j, i in sorted(links, key=lambda link: (link[1], link[0])))


def alignment_scores(predicted: Sequence[Links], gold: Sequence[Links]) -> dict[str, float]:
    """Corpus precision, recall and AER of ``predicted`` against ``gold`` (one link set per sentence).

    >>> alignment_scores([{(0, 0), (1, 1)}], [{(0, 0), (2, 1), (2, 2)}])
    {'precision': 0.5, 'recall': 0.3333, 'aer': 0.6, 'links': 2, 'gold_links': 3}
    """
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted link sets for {len(gold)} gold ones.")
    hits = sum(len(a & g) for a, g in zip(predicted, gold, strict=True))
    n_a, n_g = sum(map(len, predicted)), sum(map(len, gold))
    return {
        "precision": round(hits / n_a, 4) if n_a else 0.0,
        "recall": round(hits / n_g, 4) if n_g else 0.0,
        "aer": round(1.0 - 2.0 * hits / (n_a + n_g), 4) if n_a + n_g else 0.0,
        "links": n_a,
        "gold_links": n_g,
    }


@dataclass
class AttentionLinks:
    """What one sentence's word-level attention says, as links and counts."""

    links: Links
    on_eos: int  # output words whose largest weight is on </s>
    on_null: int  # output words whose null-slot weight exceeds every source weight
    words: int  # output words
    on_last: int = 0  # linked output words whose link is the last source word (usually the final full stop)
    peak: float = 0.0  # the sum over output words of the largest weight in the row


def attention_links(word_attention: np.ndarray, has_eos: bool = True) -> AttentionLinks:
    """Links from a word-level attention matrix ``(target words, source words)``.

    Args:
        word_attention: rows are output words (without the final ``</s>``), columns source words; the last column
            is the source's ``</s>`` when ``has_eos``. With a null slot, rows sum to ``1 - alpha_0``.
        has_eos: whether the last column is ``</s>`` (never linked; counted as the sink).
    """
    attention = np.asarray(word_attention, dtype=float)
    real = attention[:, :-1] if has_eos and attention.shape[1] > 1 else attention
    links: Links = set()
    on_eos = on_null = on_last = 0
    for i, row in enumerate(attention):
        null = 1.0 - float(row.sum())
        if has_eos and int(np.argmax(row)) == len(row) - 1 and null < row.max():
            on_eos += 1
        if null > row.max():
            on_null += 1
            continue
        if real.shape[1]:
            links.add((int(np.argmax(real[i])), i))
            on_last += int(np.argmax(real[i])) == real.shape[1] - 1
    peak = float(attention.max(axis=1).sum()) if attention.size else 0.0
    return AttentionLinks(links, on_eos, on_null, len(attention), on_last, peak)


def diagonal_links(target_words: int, source_words: int) -> Links:
    """Target word ``i`` -> source word ``round(i * S / T)``: the alignment of a straight line."""
    if not target_words or not source_words:
        return set()
    return {(min(source_words - 1, round(i * source_words / target_words)), i) for i in range(target_words)}


# Neighbours as (target, source) offsets, in the order of Moses' symal: the four sides, then the diagonals.
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def grow_diag_final_and(forward: Links, reverse: Links) -> Links:
    """Symmetrise two directional alignments with grow-diag-final-and (Koehn et al. 2003 and 2005; Moses' ``symal``).

    Args:
        forward: the ``(source word, target word)`` links of one direction (eflomal's forward links: each target word
            linked to at most one source word).
        reverse: those of the other direction.

    1. **Intersection**: start from the links both directions agree on.
    2. **Grow-diag**: scan the links found so far, target word first; add each link of the union that neighbours the
       scanned link (the four sides and the four diagonals) and aligns a word that is not aligned yet; repeat until a
       scan adds nothing.
    3. **Final-and**: add the links of ``forward``, then of ``reverse``, whose words are *both* still unaligned
       (grow-diag-final adds those with one unaligned word).

    When two candidate links compete for an unaligned word, the order decides; it is symal's: links sorted by target
    then source word, a link added ahead of the scan scanned in the same pass, one added behind it in the next.
    (fast_align's ``atools`` scans the union's candidate links instead, and breaks such ties differently.)
    """
    union = forward | reverse
    alignment = set(forward & reverse)
    aligned_source = {j for j, _ in alignment}
    aligned_target = {i for _, i in alignment}
    added = True
    while added:
        added = False
        scan = sorted((i, j) for j, i in alignment)  # (target, source): symal's std::set order
        k = 0
        while k < len(scan):
            i, j = scan[k]
            for di, dj in _NEIGHBOURS:
                link = (j + dj, i + di)
                if link in union and (link[0] not in aligned_source or link[1] not in aligned_target):
                    alignment.add(link)
                    aligned_source.add(link[0])
                    aligned_target.add(link[1])
                    added = True
                    place = bisect.bisect_left(scan, (link[1], link[0]))
                    scan.insert(place, (link[1], link[0]))
                    k += place <= k  # inserted behind the scan: keep the scan on the same link
            k += 1
    for direction in (forward, reverse):
        for j, i in sorted(direction, key=lambda link: (link[1], link[0])):
            if j not in aligned_source and i not in aligned_target:
                alignment.add((j, i))
                aligned_source.add(j)
                aligned_target.add(i)
    return alignment


def transposed(links: Links) -> Links:
    """The links of the other direction in this direction's coordinates: ``(j, i)`` -> ``(i, j)``."""
    return {(i, j) for j, i in links}


def two_way_links(forward: Links, backward: Links) -> Links:
    """Symmetrise a model's links with its twin's: ``forward`` ``(source word, target word)`` links of the
    source -> target model, ``backward`` ``(target word, source word)`` links of the target -> source model on the
    same pair (as :func:`attention_links` gives each) -> ``(source word, target word)`` links, grow-diag-final-and."""
    return grow_diag_final_and(forward, transposed(backward))


def agreed_links(forward: Links, backward: Links) -> Links:
    """The ``(source word, target word)`` links both directions make (``backward`` as in :func:`two_way_links`)."""
    return forward & transposed(backward)


def word_aligner(pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[Links]:
    """Word alignments of ``(source words, target words)`` pairs by eflomal, both directions, grow-diag-final-and.

    Pass the sentences to align together with a large parallel corpus (the aligner learns from all of them).
    Words are lowercased for the aligner. eflomal seeds its sampler from ``/dev/urandom``, so two runs give slightly
    different links. Raises ``ImportError`` with what to install when eflomal is missing.
    """
    try:
        import eflomal
    except ImportError as error:
        raise ImportError(
            "The word aligner is an optional extra: pip install eflomal==2.0.0 "
            "(GPL-3.0; only this evaluation needs it)."
        ) from error
    source_lines = [" ".join(w.lower() for w in s) or "_" for s, _ in pairs]
    target_lines = [" ".join(w.lower() for w in t) or "_" for _, t in pairs]
    with tempfile.TemporaryDirectory() as folder:
        forward_file, reverse_file = Path(folder) / "forward", Path(folder) / "reverse"
        eflomal.Aligner().align(
            source_lines, target_lines, links_filename_fwd=str(forward_file), links_filename_rev=str(reverse_file)
        )
        forward = forward_file.read_text(encoding="utf-8").splitlines()
        reverse = reverse_file.read_text(encoding="utf-8").splitlines()
    empty = [not s or not t for s, t in pairs]
    return [
        set() if blank else grow_diag_final_and(parse_pharaoh(f), parse_pharaoh(r))
        for f, r, blank in zip(forward, reverse, empty, strict=True)
    ]


# ---------------------------------------------------------------------------------------------------------------------
# A model's attention at the word level
# ---------------------------------------------------------------------------------------------------------------------


def words(piece_strings: Sequence[str]) -> list[str]:
    """The words of a piece sequence as the app shows them, without a final ``</s>``."""
    return [w for w, _ in word_spans(piece_strings) if w != EOS]


@torch.no_grad()
def teacher_forced_attention(
    model: Seq2Seq, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """Attention ``(len(target), len(source))`` of ``model`` reading each target (ids without ``</s>``)."""
    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    for start in range(0, len(sources), BATCH_SIZE):
        src, mask = pad(sources[start : start + BATCH_SIZE])
        tgt_in = decoder_input(pad([[*t, EOS_ID] for t in targets[start : start + BATCH_SIZE]])[0])
        memory = model.encode(src.to(device), mask.to(device))
        attention = model.decode(tgt_in.to(device), memory, logits=False).attention.float().cpu().numpy()
        for b, (s, t) in enumerate(
            zip(sources[start : start + BATCH_SIZE], targets[start : start + BATCH_SIZE], strict=True)
        ):
            out.append(attention[b, : len(t), : len(s)])
    return out


def sentence_links(
    attention: np.ndarray, source_pieces: Sequence[str], target_pieces: Sequence[str], merge: bool = True
) -> AttentionLinks:
    """Subword attention ``(target pieces, source pieces)`` -> word links (subword links without ``merge``); the
    source may end with ``</s>`` (never linked)."""
    if not len(target_pieces):
        return AttentionLinks(set(), 0, 0, 0)
    if not merge:
        return attention_links(attention, has_eos=bool(source_pieces) and source_pieces[-1] == EOS)
    merged, source_words, _ = merge_attention(attention, source_pieces, target_pieces)
    return attention_links(merged, has_eos=bool(source_words) and source_words[-1] == EOS)


def summarise(found: Sequence[AttentionLinks], gold: Sequence[Links]) -> dict[str, float]:
    """Scores of a corpus of attention links against gold links, with the sink and null rates."""
    total = max(1, sum(f.words for f in found))
    return {
        **alignment_scores([f.links for f in found], gold),
        "eos_sink": round(sum(f.on_eos for f in found) / total, 4),
        "null": round(sum(f.on_null for f in found) / total, 4),
        # Where the mass goes when </s> is not a key, and how peaked the rows are (1.0: all weight on one position).
        "last_word": round(sum(f.on_last for f in found) / total, 4),
        "mean_max_weight": round(sum(f.peak for f in found) / total, 4),
        "words": sum(f.words for f in found),
    }
