"""Unit tests for attention_demo.alignment: AER by hand, symmetrisation, attention -> links, and the aligner."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from attention_demo.alignment import (
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


def test_alignment_scores_by_hand() -> None:
    """A = {0-0, 1-1, 2-2}, G = {0-0, 2-1, 2-2, 3-3}: |A∩G| = 2, P = 2/3, R = 2/4, AER = 1 - 4/7 (summed over the
    corpus, not averaged per sentence)."""
    predicted = [{(0, 0), (1, 1)}, {(2, 2)}]
    gold = [{(0, 0), (2, 1)}, {(2, 2), (3, 3)}]
    scores = alignment_scores(predicted, gold)
    assert scores["precision"] == round(2 / 3, 4)
    assert scores["recall"] == 0.5
    assert scores["aer"] == round(1 - 4 / 7, 4)
    assert (scores["links"], scores["gold_links"]) == (3, 4)
    assert alignment_scores(gold, gold)["aer"] == 0.0
    assert alignment_scores([{(1, 0)}], [{(0, 0)}])["aer"] == 1.0
    with pytest.raises(ValueError):
        alignment_scores([set()], [])


def test_pharaoh_round_trip() -> None:
    links = {(2, 0), (0, 1), (1, 1)}
    assert format_pharaoh(links) == "2-0 0-1 1-1"
    assert parse_pharaoh(format_pharaoh(links)) == links
    assert parse_pharaoh("") == set()


def test_grow_diag_final_and_by_hand() -> None:
    """Intersection {0-0, 2-2}. Growing adds union links next to an existing link (diagonals too) that align a word
    not aligned yet: 1-1, then 3-2 (source 3 unaligned), then 3-3 (target 3 unaligned). 5-0 of the union touches no
    link and its target 0 is aligned, so it is never added."""
    forward = {(0, 0), (1, 1), (2, 2), (3, 2), (5, 0)}
    reverse = {(0, 0), (2, 2), (3, 3)}
    assert grow_diag_final_and(forward, reverse) == {(0, 0), (1, 1), (2, 2), (3, 2), (3, 3)}
    # Far from every intersection link and both words unaligned: added by "final-and", not by growing.
    assert grow_diag_final_and({(0, 0), (5, 5)}, {(0, 0)}) == {(0, 0), (5, 5)}
    # A link whose words are both already aligned is never added.
    assert grow_diag_final_and({(0, 0), (1, 1), (0, 1)}, {(0, 0), (1, 1)}) == {(0, 0), (1, 1)}


def test_grow_diag_final_and_phases_by_hand() -> None:
    """Links are (source j, target i); 7 words each side, each direction one link per word.

    - intersection: {0-0, 2-2}.
    - grow-diag, scanning links by target word: at 0-0 the diagonal 1-1 (forward) aligns source 1: added. At 2-2,
      1-2 (reverse) neighbours it but source 1 and target 2 are both aligned now: left out; 3-2 (reverse, beside it)
      aligns source 3: added, ahead of the scan, so scanned in this pass: its diagonal 4-3 (forward) aligns source 4
      and target 3: added (a chain). A second scan adds nothing.
    - final-and: 6-6 (forward) touches no link and both its words are unaligned: added. 5-1 (reverse) is far from
      every link too, but target 1 is aligned: left out ("final", without "and", would add it).
    """
    forward = {(0, 0), (1, 1), (2, 2), (4, 3), (6, 6)}
    reverse = {(0, 0), (1, 2), (2, 2), (3, 2), (5, 1)}
    expected = {(0, 0), (2, 2)} | {(1, 1), (3, 2), (4, 3)} | {(6, 6)}
    assert grow_diag_final_and(forward, reverse) == expected
    assert grow_diag_final_and(reverse, forward) == expected  # no ties here, so the order of the directions is moot


def test_grow_diag_final_and_breaks_ties_as_moses_symal() -> None:
    """Intersection {2-0, 0-1}; 1-0 (forward) and 1-1 (reverse) both neighbour it and both would align source 1.
    symal scans by target word: at 2-0 (target 0) the side neighbour 1-0 comes first and takes source 1; 1-1 then
    joins two aligned words and is left out. (Scanning by source word, 0-1 first, would have taken 1-1.)"""
    forward = {(0, 1), (1, 0), (2, 0)}
    reverse = {(0, 1), (1, 1), (2, 0)}
    assert grow_diag_final_and(forward, reverse) == {(0, 1), (2, 0), (1, 0)}


def test_two_way_links_by_hand() -> None:
    """The de->en model links (de word, en word); its en->de twin links (en word, de word). The forward model links
    en 0-3 to de 0, 1, 2 and wrongly 0; the twin links de 0-3 to en 0-3. Transposed, the twin's links are
    {(0, 0), (1, 1), (2, 2), (3, 3)}; the intersection is (0, 0), (1, 1), (2, 2); grow-diag adds (3, 3), the diagonal
    neighbour of (2, 2) with both words unaligned; then (0, 3) aligns no unaligned word and final-and skips it: the
    forward model's wrong link is outvoted."""
    forward = {(0, 0), (1, 1), (2, 2), (0, 3)}
    backward = {(0, 0), (1, 1), (2, 2), (3, 3)}  # (en word, de word)
    assert transposed({(0, 1), (2, 3)}) == {(1, 0), (3, 2)}
    assert agreed_links(forward, backward) == {(0, 0), (1, 1), (2, 2)}
    assert two_way_links(forward, backward) == {(0, 0), (1, 1), (2, 2), (3, 3)}
    # A link only one direction makes, whose words stay unaligned, is kept by final-and.
    assert two_way_links({(0, 0), (4, 6)}, {(0, 0)}) == {(0, 0), (4, 6)}
    # The twin's links are read transposed: its (0, 1) is the forward (1, 0), not (0, 1).
    assert agreed_links({(0, 1)}, {(0, 1)}) == set() and agreed_links({(1, 0)}, {(0, 1)}) == {(1, 0)}


def test_diagonal_links() -> None:
    assert diagonal_links(3, 3) == {(0, 0), (1, 1), (2, 2)}
    assert diagonal_links(4, 2) == {(0, 0), (0, 1), (1, 2), (1, 3)}  # round(i * 2 / 4), clipped to the last word
    assert diagonal_links(0, 5) == set()


def test_attention_links_never_link_eos_and_count_the_sink() -> None:
    """Row 0 peaks on word 1; row 1 peaks on </s> (the sink) and is linked to its best real word instead."""
    attention = np.array([[0.1, 0.7, 0.2], [0.3, 0.1, 0.6]])
    found = attention_links(attention, has_eos=True)
    assert found.links == {(1, 0), (0, 1)}
    assert (found.on_eos, found.on_null, found.words) == (1, 0, 2)
    assert found.on_last == 1  # row 0 is linked to word 1, the last word before </s>
    assert found.peak == pytest.approx(0.7 + 0.6)
    # Without a </s> column the last column is an ordinary word: row 1's link is now the last word.
    without_eos = attention_links(attention, has_eos=False)
    assert without_eos.links == {(1, 0), (2, 1)}
    assert without_eos.on_last == 1


def test_attention_links_null_slot_leaves_words_unlinked() -> None:
    """With a null slot a row sums to 1 - alpha_0: when alpha_0 is the largest weight the word is not linked."""
    attention = np.array([[0.1, 0.6, 0.1], [0.1, 0.1, 0.1]])  # row 1: alpha_0 = 0.7
    found = attention_links(attention)
    assert found.links == {(1, 0)}
    assert (found.on_null, found.on_eos) == (1, 0)


def test_sentence_links_merge_subwords_like_the_app() -> None:
    """Source "Ein Fahr·rad </s>", target "A bi·cycle": columns of a word are summed, rows of a word averaged."""
    source = ["▁Ein", "▁Fahr", "rad", "</s>"]
    target = ["▁A", "▁bi", "cycle"]
    attention = np.array(
        [
            [0.8, 0.1, 0.0, 0.1],
            [0.0, 0.3, 0.3, 0.4],  # "bi": Fahrrad 0.6 > </s> 0.4
            [0.0, 0.1, 0.1, 0.8],  # "cycle": mostly </s>; averaged with "bi" Fahrrad still wins (0.4 vs 0.6)
        ]
    )
    found = sentence_links(attention, source, target)
    assert found.links == {(0, 0), (1, 1)}
    assert found.words == 2 and found.on_eos == 1
    assert words(source) == ["Ein", "Fahrrad"]


class PermutationModel(torch.nn.Module):
    """A constructed model: the attention of target position t is one-hot on source position ``perm[t]``."""

    has_attention = True

    def __init__(self, perm: list[int]) -> None:
        super().__init__()
        self.perm = perm
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # a parameter, so the device can be read

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        return src  # what decode needs to know: the source's shape

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, logits: bool = True) -> SimpleNamespace:
        attention = torch.zeros(memory.size(0), tgt_in.size(1), memory.size(1))
        for t in range(tgt_in.size(1)):
            attention[:, t, self.perm[t] if t < len(self.perm) else memory.size(1) - 1] = 1.0
        return SimpleNamespace(attention=attention, logits=None)


def test_a_model_whose_attention_is_a_permutation_aligns_exactly() -> None:
    """Teacher-forced attention of a constructed model that attends position perm[t] at step t: the links are the
    permutation, so against the permutation as gold the AER is 0 and against the diagonal it is what the overlap
    says."""
    perm = [2, 0, 3, 1]
    model = PermutationModel(perm)
    sources = [[10, 11, 12, 13, 3], [20, 21, 22, 23, 3]]  # four one-piece words + </s>
    targets = [[30, 31, 32, 33], [40, 41, 42, 43]]
    attention = teacher_forced_attention(model, sources, targets)
    assert [a.shape for a in attention] == [(4, 5), (4, 5)]
    source_pieces = ["▁a", "▁b", "▁c", "▁d", "</s>"]
    target_pieces = ["▁w", "▁x", "▁y", "▁z"]
    found = [sentence_links(a, source_pieces, target_pieces) for a in attention]
    gold = [{(j, i) for i, j in enumerate(perm)}] * 2
    assert [f.links for f in found] == gold
    scores = summarise(found, gold)
    assert scores["aer"] == 0.0 and scores["eos_sink"] == 0.0
    diagonal = [diagonal_links(4, 4)] * 2
    assert summarise(found, diagonal)["aer"] == 1.0  # the permutation has no fixed point


def test_word_aligner_recovers_a_known_alignment() -> None:
    """eflomal on a synthetic corpus made from a 1:1 dictionary with a fixed reordering (the adjective moves after
    the noun) finds the true links for nearly every word."""
    rng = random.Random(0)
    dets, adjs, nouns = range(0, 5), range(5, 15), range(15, 35)
    pairs, truth = [], []
    for _ in range(400):
        d, a, n = rng.choice(dets), rng.choice(adjs), rng.choice(nouns)
        pairs.append(([f"s{d}", f"s{a}", f"s{n}"], [f"t{d}", f"t{n}", f"t{a}"]))
        truth.append({(0, 0), (1, 2), (2, 1)})
    scores = alignment_scores(word_aligner(pairs), truth)
    assert scores["aer"] < 0.1, scores
