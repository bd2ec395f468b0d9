"""The corpus alignment command: every attention model of a folder against a word aligner, stored in the folder.

    python -m attention_demo.alignment --model models/multi30k-de-en --dataset_name ../shared/data/multi30k

Writes ``metrics.json["alignment"]`` (AER, precision, recall and the ``</s>`` sink per model, on the test references
and on each model's own translations, and a straight diagonal's scores; with ``--reverse_model``, the folder of the
other direction, also each model's twin there and the two-way links of both), ``alignment_links.json`` (the aligner's
links for the test references: the app draws them on the heatmap) and refreshes the model card. The word aligner
(eflomal, GPL-3.0) is an optional evaluation extra: ``pip install eflomal==2.0.0``; the app never imports it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from attention_demo import cli
from attention_demo.alignment.links import (
    AttentionLinks,
    Links,
    agreed_links,
    alignment_scores,
    diagonal_links,
    format_pharaoh,
    sentence_links,
    summarise,
    teacher_forced_attention,
    transposed,
    two_way_links,
    word_aligner,
    words,
)
from attention_demo.cli import DEFAULT_BEAM_SIZE
from attention_demo.model_repo import ALIGNMENT_KEY, write_alignment_links, write_metrics_section
from attention_demo.tokenizer import pieces

if TYPE_CHECKING:
    from attention_demo.data import ParallelCorpus
    from attention_demo.translate import Translator


def evaluate_folder(
    folder: str | Path,
    dataset_name: str,
    names: Sequence[str] | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
    max_samples: int | None = None,
    dataset_config_name: str | None = None,
    reverse_folder: str | Path | None = None,
) -> dict:
    """Alignment scores of every attention model of ``folder`` on the test split; stored in ``metrics.json``.

    With ``reverse_folder`` (the models of the other direction, same tokenizers), every model that has a twin of the
    same name there also gets ``reverse`` (the twin's links on the same test pairs, read target -> source, against the
    same aligner links) and ``two_way`` (both directions' links symmetrised, :func:`two_way_links`).

    For each model: on the reference (teacher-forced) and on its own beam-search translation. The aligner reads the
    training split, the test references and every model's translations in one run. Writes ``alignment_links.json``
    (the test references' words and links) and ``metrics.json["alignment"]`` (which keeps the ablation rows that
    ``scripts/ablation_table.py`` stored there: ``model_repo.KEPT_ON_REWRITE``), then refreshes the model card;
    returns the section as written.
    """
    from attention_demo.data import load_parallel_data
    from attention_demo.decoding import translate_ids
    from attention_demo.model_card import refresh_model_card
    from attention_demo.tokenizer import encode
    from attention_demo.translate import Translator

    started = time.perf_counter()
    translator = Translator(folder, list(names) if names else None)
    reverse = Translator(reverse_folder) if reverse_folder is not None else None
    if reverse is not None and (reverse.source_lang, reverse.target_lang) != (
        translator.target_lang,
        translator.source_lang,
    ):
        raise cli.CommandLineError(
            f"--reverse_model {reverse_folder} translates {reverse.source_lang}->{reverse.target_lang}, not "
            f"{translator.target_lang}->{translator.source_lang}; give the folder of the other direction."
        )
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
    test_pairs = [(words(s), words(t)) for s, t in zip(source_pieces, reference_pieces, strict=True)]

    translations: dict[str, list] = {}
    for name, model in models.items():
        translations[name] = [h[0] for h in translate_ids(model, sources, beam_size=beam_size)]
    hypothesis_pairs = {
        name: [(pair[0], words(pieces(tgt_tok, h.word_ids))) for pair, h in zip(test_pairs, hyps, strict=True)]
        for name, hyps in translations.items()
    }
    train_pairs = [
        (words(pieces(src_tok, encode(src_tok, s))), words(pieces(tgt_tok, encode(tgt_tok, t))))
        for s, t in zip(data["train"].source, data["train"].target, strict=True)
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
            sentence_links(a, sp, tp)
            for a, sp, tp in zip(reference_attention, source_pieces, reference_pieces, strict=True)
        ]
        on_translation = [
            sentence_links(h.attention[: len(h.word_ids)].float().numpy(), sp, pieces(tgt_tok, h.word_ids))
            for h, sp in zip(translations[name], source_pieces, strict=True)
        ]
        result["models"][name] = {
            "reference": summarise(on_reference, gold_reference),
            "translation": summarise(on_translation, gold_hypotheses[name]),
            "translation_diagonal": alignment_scores(
                [diagonal_links(len(t), len(s)) for s, t in hypothesis_pairs[name]], gold_hypotheses[name]
            ),
        }
        if reverse is not None and name in reverse.models:
            result["models"][name].update(two_way_scores(reverse, name, test, test_pairs, on_reference, gold_reference))
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["aligner_seconds"] = round(aligner_seconds, 1)

    write_alignment_links(
        folder,
        result["aligner"],
        [
            {"source": s, "source_words": sw, "target_words": tw, "links": format_pharaoh(g)}
            for s, (sw, tw), g in zip(test.source, test_pairs, gold_reference, strict=True)
        ],
    )
    written = write_metrics_section(folder, ALIGNMENT_KEY, result)
    refresh_model_card(folder)
    return written


def two_way_scores(
    reverse: Translator,
    name: str,
    test: ParallelCorpus,
    test_pairs: Sequence[tuple[list[str], list[str]]],
    forward_links: Sequence[AttentionLinks],
    gold: Sequence[Links],
) -> dict:
    """The scores of model ``name``'s twin in the other direction (``reverse``) on the same test pairs, read the other
    way (its source: each pair's target), of both directions' links symmetrised (:func:`two_way_links`), and of the
    links both directions make (``agreed``, :func:`agreed_links`: the app's rings).

    A pair whose words the twin's tokenizers split otherwise than the forward folder's (never with the same tokenizer
    files) keeps only its forward links; ``mismatched`` counts them.
    """
    from attention_demo.tokenizer import encode

    model = reverse.models[name]
    sources = [reverse.source_ids(text)[0] for text in test.target]
    references = [encode(reverse.tgt_tokenizer, text) for text in test.source]
    attention = teacher_forced_attention(model, sources, references)
    backward, two_way, agreed, mismatched = [], [], [], 0
    for a, src, ref, (source_words, target_words), forward in zip(
        attention, sources, references, test_pairs, forward_links, strict=True
    ):
        src_pieces, ref_pieces = pieces(reverse.src_tokenizer, src), pieces(reverse.tgt_tokenizer, ref)
        links = sentence_links(a, src_pieces, ref_pieces)
        if (words(src_pieces), words(ref_pieces)) != (target_words, source_words):
            mismatched += 1
            links = AttentionLinks(set(), 0, 0, links.words)
        backward.append(links)
        two_way.append(two_way_links(forward.links, links.links))
        agreed.append(agreed_links(forward.links, links.links))
    return {
        "reverse": summarise(backward, [transposed(g) for g in gold]),
        "two_way": {**alignment_scores(two_way, gold), "mismatched": mismatched},
        "agreed": alignment_scores(agreed, gold),
    }


def main(argv: list[str] | None = None) -> int:
    """The alignment command line; returns its exit status (usage errors exit with 2)."""
    parser = cli.corpus_command_parser(
        "python -m attention_demo.alignment",
        "Measure how well attention aligns words against a word aligner; store it in metrics.json.",
        names_default="all with attention",
        samples="test sentences",
    )
    cli.add_beam_size_argument(parser, "beam of the own translations")
    parser.add_argument(
        "--reverse_model",
        help="the model folder of the other direction (same tokenizers): adds each twin's AER and the two-way "
        "(grow-diag-final-and) AER of both directions",
    )
    args = parser.parse_args(argv)
    written = "the alignment (metrics.json, alignment_links.json)"
    # ImportError: the optional aligner is not installed (the message says what to install).
    return cli.run_corpus_command(args, written, partial(_command, args), expected=(ImportError,))


def _command(args: argparse.Namespace, folder: Path) -> int:
    """``main`` once the folder and the dataset are checked: compute, store and print."""
    result = evaluate_folder(
        folder, args.dataset_name, args.names, args.beam_size, args.max_samples, args.dataset_config_name,
        args.reverse_model,
    )  # fmt: skip
    print(f"diagonal: AER {result['diagonal']['aer']}")
    for name, numbers in result["models"].items():
        ref, own = numbers["reference"], numbers["translation"]
        print(
            f"{name}: reference AER {ref['aer']} (P {ref['precision']}, R {ref['recall']}), "
            f"</s> sink {ref['eos_sink']}, null {ref['null']}; own translation AER {own['aer']}, sink {own['eos_sink']}"
        )
        if "two_way" in numbers:
            agreed = numbers["agreed"]
            print(
                f"  reverse twin AER {numbers['reverse']['aer']}; two-way AER {numbers['two_way']['aer']}; "
                f"links both directions make: precision {agreed['precision']}, recall {agreed['recall']}"
            )
    print(f"{result['num_sentences']} sentences in {result['seconds']} s; written to {folder}/metrics.json")
    return 0
