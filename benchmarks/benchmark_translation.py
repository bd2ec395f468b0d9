"""Batch translation benchmark: sentences per second over a whole test set, greedy and beam 5, for every model.

    python benchmarks/benchmark_translation.py --dataset_name ../shared/data/multi30k     # the offline copy
    python benchmarks/benchmark_translation.py                                            # bentrevett/multi30k
    python benchmarks/benchmark_translation.py --dataset_name ... --batch_sizes 1 64      # batching's effect

Each run translates the whole split with ``Translator.translate`` (length-sorted batches, the code path of
evaluation and of ``python -m attention_demo.translate``) and is timed from the first sentence to the last,
tokenization and detokenization included. BLEU of each run is printed next to it, and for beam 5 with the default
batch size it is compared with the test BLEU stored in the folder's ``metrics.json``: the same number means the
benchmark timed the real evaluation, not a shortcut.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from attention_demo import cli
from attention_demo.data import load_parallel_data
from attention_demo.evaluation import corpus_scores
from attention_demo.model_repo import read_metrics
from attention_demo.translate import Translator

DEFAULT_BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(cli.BUNDLED_MODELS), help="model folder")
    parser.add_argument("--dataset_name", default="bentrevett/multi30k", help="Hub dataset id or local folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--models", nargs="*", default=None, help="which models of the folder (default: all)")
    parser.add_argument("--beam_sizes", nargs="*", type=int, default=[1, 5])
    parser.add_argument("--batch_sizes", nargs="*", type=int, default=[DEFAULT_BATCH])
    args = parser.parse_args()

    translator = Translator(args.model, names=args.models)
    corpus = load_parallel_data(args.dataset_name, translator.source_lang, translator.target_lang, splits=[args.split])[
        args.split
    ]
    stored = read_metrics(args.model).models  # the test scores training stored (none for a Hub id)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {len(corpus)} sentences ({args.dataset_name}, {args.split})"
    )
    print("\n| model | search | batch | seconds | sentences/s | BLEU | stored test BLEU |")
    print("|---|---|---|---|---|---|---|")
    for name in translator.models:
        for beam in args.beam_sizes:
            for batch in args.batch_sizes:
                started = time.perf_counter()
                with torch.inference_mode():
                    outputs = translator.translate(corpus.source, name, beam, batch_size=batch)
                seconds = time.perf_counter() - started
                bleu = corpus_scores([o.text for o in outputs], corpus.target)["bleu"]
                reference = ""
                if beam == 5 and batch == DEFAULT_BATCH and args.split == "test":
                    value = stored.get(name, {}).get("bleu")
                    reference = f"{value:.2f}" if isinstance(value, (int, float)) else "(none stored)"
                search = "greedy" if beam == 1 else f"beam {beam}"
                print(f"| {name} | {search} | {batch} | {seconds:.1f} | {len(corpus) / seconds:.1f} | {bleu:.2f} "
                      f"| {reference} |")  # fmt: skip


if __name__ == "__main__":
    main()
