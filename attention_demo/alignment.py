"""Does attention align words? Attention against an external word aligner, and the ``</s>`` sink.

A heatmap *looks* like a word alignment; this module measures whether it is one. For every output word the attention
row (subwords merged into words as the app merges them, :func:`inspection.merge_attention`) links it to its
largest-weight source word; ``</s>`` is never linked, and with a null slot (``ModelConfig.null_slot``) a word whose
null weight exceeds every source weight is left unlinked, like a word an aligner leaves unaligned. These links ``A``
are compared with the links ``G`` of a statistical word aligner:

- precision ``|A ∩ G| / |A|``, recall ``|A ∩ G| / |G|`` and the alignment error rate
  ``AER = 1 - 2 |A ∩ G| / (|A| + |G|)`` (Och & Ney 2003 with every link "sure": one minus the F1 score), summed over
  the corpus;
- the ``</s>`` sink rate: the share of output words whose largest weight falls on the source's ``</s>``;
- a straight diagonal (target word ``i`` -> source word ``round(i * S / T)``) as the floor any alignment should beat.

``G`` comes from eflomal (Östling & Tiedemann 2016, a Bayesian HMM aligner; GPL-3.0, so an optional evaluation
extra: ``pip install eflomal``, never imported by the app), run in both directions on the training corpus plus the
sentences to align and symmetrised with grow-diag-final-and (Koehn et al. 2005). The test set's reference links are
stored in the model folder (``alignment_links.json``), so the app can draw them on the heatmap and the reference
scores can be recomputed without the aligner.

Links are ``(source word, target word)`` index pairs, written in the Pharaoh format ``"j-i"`` (source first).

Corpus command (writes ``metrics.json["alignment"]`` and ``alignment_links.json``)::

    python -m attention_demo.alignment --model models/multi30k-de-en --dataset_name ../shared/data/multi30k
"""

from __future__ import annotations

import argparse
import bisect
import logging
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from attention_demo.data import decoder_input, pad
from attention_demo.inspection import merge_attention, word_spans
from attention_demo.model import Seq2Seq
from attention_demo.tokenizer import EOS, EOS_ID, pieces

logger = logging.getLogger("attention_demo.alignment")

ALIGNMENT_KEY = "alignment"  # the top-level key in metrics.json
BATCH_SIZE = 64

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
    hits = sum(len(a & g) for a, g in zip(predicted, gold))
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
        for f, r, blank in zip(forward, reverse, empty)
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
        attention = model(src.to(device), mask.to(device), tgt_in.to(device)).attention.float().cpu().numpy()
        for b, (s, t) in enumerate(zip(sources[start : start + BATCH_SIZE], targets[start : start + BATCH_SIZE])):
            out.append(attention[b, : len(t), : len(s)])
    return out


def sentence_links(attention: np.ndarray, source_pieces: Sequence[str], target_pieces: Sequence[str]) -> AttentionLinks:
    """Subword attention ``(target pieces, source pieces)`` -> word links (the source ends with ``</s>``)."""
    if not len(target_pieces):
        return AttentionLinks(set(), 0, 0, 0)
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


# ---------------------------------------------------------------------------------------------------------------------
# The corpus command
# ---------------------------------------------------------------------------------------------------------------------


def evaluate_folder(
    folder: str | Path,
    dataset_name: str,
    names: Sequence[str] | None = None,
    beam_size: int = 5,
    max_samples: int | None = None,
    dataset_config_name: str | None = None,
) -> dict:
    """Alignment scores of every attention model of ``folder`` on the test split; merged into ``metrics.json``.

    For each model: on the reference (teacher-forced) and on its own beam-search translation. The aligner reads the
    training split, the test references and every model's translations in one run. Writes ``alignment_links.json``
    (the test references' words and links) and ``metrics.json["alignment"]``; returns the latter.
    """
    from attention_demo.data import load_parallel_data
    from attention_demo.decoding import translate_ids
    from attention_demo.model_card import refresh_model_card
    from attention_demo.model_repo import ALIGNMENT_LINKS_FILE, METRICS_FILE, read_json, write_json_atomic
    from attention_demo.tokenizer import encode
    from attention_demo.translate import Translator

    started = time.perf_counter()
    translator = Translator(folder, list(names) if names else None)
    models = {name: model for name, model in translator.models.items() if model.has_attention}
    src_tok, tgt_tok = translator.src_tokenizer, translator.tgt_tokenizer
    data = load_parallel_data(
        dataset_name, translator.source_lang, translator.target_lang, ("train", "test"), dataset_config_name
    )
    test = data["test"].take(max_samples)
    sources = [translator.source_ids(text)[0] for text in test.source]
    references = [encode(tgt_tok, text) for text in test.target]
    source_pieces = [pieces(src_tok, ids) for ids in sources]
    reference_pieces = [pieces(tgt_tok, ids) for ids in references]
    test_pairs = [(words(s), words(t)) for s, t in zip(source_pieces, reference_pieces)]

    translations: dict[str, list] = {}
    for name, model in models.items():
        translations[name] = [h[0] for h in translate_ids(model, sources, beam_size=beam_size)]
    hypothesis_pairs = {
        name: [(pair[0], words(pieces(tgt_tok, h.words))) for pair, h in zip(test_pairs, hyps)]
        for name, hyps in translations.items()
    }
    train_pairs = [
        (words(pieces(src_tok, encode(src_tok, s))), words(pieces(tgt_tok, encode(tgt_tok, t))))
        for s, t in zip(data["train"].source, data["train"].target)
    ]
    to_align = test_pairs + [p for pairs in hypothesis_pairs.values() for p in pairs]
    aligner_started = time.perf_counter()
    gold_all = word_aligner(train_pairs + to_align)[len(train_pairs) :]
    aligner_seconds = time.perf_counter() - aligner_started
    gold_reference = gold_all[: len(test_pairs)]
    gold_hypotheses = {
        name: gold_all[len(test_pairs) * (k + 1) : len(test_pairs) * (k + 2)] for k, name in enumerate(hypothesis_pairs)
    }

    result: dict = {
        "dataset": str(dataset_name),
        "split": "test",
        "num_sentences": len(sources),
        "aligner": "eflomal 2.0.0 (forward and reverse, grow-diag-final-and), trained on train + the aligned sentences",
        "method": "each output word linked to its largest-weight source word (subwords merged into words as the app "
        "does; </s> never linked; a null-slot word unlinked when the null weight is largest); AER = 1 - F1",
        "beam_size": beam_size,
        "diagonal": alignment_scores([diagonal_links(len(t), len(s)) for s, t in test_pairs], gold_reference),
        "models": {},
    }
    for name, model in models.items():
        reference_attention = teacher_forced_attention(model, sources, references)
        on_reference = [
            sentence_links(a, sp, tp) for a, sp, tp in zip(reference_attention, source_pieces, reference_pieces)
        ]
        on_translation = [
            sentence_links(h.attention[: len(h.words)].float().numpy(), sp, pieces(tgt_tok, h.words))
            for h, sp in zip(translations[name], source_pieces)
        ]
        result["models"][name] = {
            "reference": summarise(on_reference, gold_reference),
            "translation": summarise(on_translation, gold_hypotheses[name]),
            "translation_diagonal": alignment_scores(
                [diagonal_links(len(t), len(s)) for s, t in hypothesis_pairs[name]], gold_hypotheses[name]
            ),
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["aligner_seconds"] = round(aligner_seconds, 1)

    write_json_atomic(
        Path(folder) / ALIGNMENT_LINKS_FILE,
        {
            "aligner": result["aligner"],
            "split": "test",
            "format": "links are 'j-i': source word j (0-based, </s> not counted) with target word i",
            "sentences": [
                {"source": s, "source_words": sw, "target_words": tw, "links": format_pharaoh(g)}
                for s, (sw, tw), g in zip(test.source, test_pairs, gold_reference)
            ],
        },
    )
    path = Path(folder) / METRICS_FILE
    metrics = read_json(path, default={}) or {}
    if "ablations" in (metrics.get(ALIGNMENT_KEY) or {}):  # written by scripts/ablation_table.py; not recomputed here
        result["ablations"] = metrics[ALIGNMENT_KEY]["ablations"]
    metrics[ALIGNMENT_KEY] = result
    write_json_atomic(path, metrics)
    refresh_model_card(folder)
    return result


def main(argv: list[str] | None = None) -> int:
    """The alignment command line; returns its exit status (usage errors exit with 2)."""
    from attention_demo import cli
    from attention_demo.data import DatasetError
    from attention_demo.model_repo import ModelLoadError

    parser = cli.ArgumentParser(
        prog="python -m attention_demo.alignment",
        description="Measure how well attention aligns words against a word aligner; store it in metrics.json.",
    )
    parser.add_argument(
        "--model", type=cli.nonempty, default="models/multi30k-de-en", help="a local model folder (written to)"
    )
    parser.add_argument(
        "--dataset_name", type=cli.nonempty, required=True, help="Hub dataset id or local folder (as for train.py)"
    )
    parser.add_argument("--dataset_config_name", type=cli.nonempty, default=None)
    beam = cli.Number(int, minimum=1, maximum=cli.MAX_BEAM_SIZE)
    parser.add_argument("--beam_size", type=beam, default=5, help=f"beam of the own translations; {beam.describe()}")
    samples = cli.Number(int, minimum=1)
    parser.add_argument("--max_samples", type=samples, default=None, help="the first N test sentences (default: all)")
    parser.add_argument(
        "--names", nargs="*", type=cli.nonempty, default=None, help="models (default: all with attention)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    expected = (ModelLoadError, DatasetError, ImportError)  # ImportError: the optional aligner is not installed
    return cli.report_failures(lambda: _command(args), debug=args.debug, expected=expected)


def _command(args: argparse.Namespace) -> int:
    """``main`` after parsing: check the folder and the dataset first (cheap), then compute and print."""
    from attention_demo import cli
    from attention_demo.data import dataset_source

    folder = cli.local_model_folder(args.model, "the alignment (metrics.json, alignment_links.json)")
    dataset_source(args.dataset_name)  # a missing folder or an unreachable Hub fails before any model is loaded
    result = evaluate_folder(
        folder, args.dataset_name, args.names, args.beam_size, args.max_samples, args.dataset_config_name
    )
    print(f"diagonal: AER {result['diagonal']['aer']}")
    for name, numbers in result["models"].items():
        ref, own = numbers["reference"], numbers["translation"]
        print(
            f"{name}: reference AER {ref['aer']} (P {ref['precision']}, R {ref['recall']}), "
            f"</s> sink {ref['eos_sink']}, null {ref['null']}; own translation AER {own['aer']}, sink {own['eos_sink']}"
        )
    print(f"{result['num_sentences']} sentences in {result['seconds']} s; written to {folder}/metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
