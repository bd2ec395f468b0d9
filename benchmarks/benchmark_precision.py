"""Faster search by lower precision or compiled steps, and what it costs: every lever tried for the app's translations.

    python benchmarks/benchmark_precision.py --dataset_name ../shared/data/multi30k

For each model of the folder and each variant, the beam-5 time of one 15-word sentence (median of ``--repeats``, one
torch thread) and the beam-5 BLEU of the whole test split, next to float32's. The variants:

- ``bfloat16 output layer``: ``attention_demo.precision`` (what the app uses: BLEU within 0.1 of float32 is the bar);
- ``int8 linear``: ``torch.ao.quantization.quantize_dynamic`` of every ``nn.Linear`` (per-tensor scales);
- ``int8 linear, per channel``: the same with one scale per output row;
- ``int8 linear + GRU``: the linear layers per channel and the GRUs, dynamically quantised;
- ``bfloat16 output layer + GRU``: also the decoder GRU in bfloat16;
- ``bfloat16 output layer, traced step``: ``attention_demo.tracing`` on top of the first (what the app uses; its
  hypotheses must be those of the first, bit for bit).

Then the app's case: the attention model and the baseline searching side by side in two threads, as a ``/translate``
request runs them, with the eager step and with the traced step (and TorchScript's beam step): the pair's median time
next to one search alone. A traced step runs without holding Python's GIL, so the pair should take about as long as
its slower search.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from benchmark_app import timed
from torch import nn

from attention_demo import cli, decoding
from attention_demo.data import load_parallel_data
from attention_demo.evaluation import corpus_scores
from attention_demo.model import BASELINE, Seq2Seq
from attention_demo.precision import BFloat16Linear, bfloat16_output
from attention_demo.tracing import traced_search
from attention_demo.translate import Translator

SENTENCE = "Ein kleines Mädchen in einem rosa Kleid klettert die Treppe zu einem Spielhaus aus Holz hinauf ."
BAR = 0.1  # BLEU a lever may cost (issue 18)


class BFloat16GRU(nn.Module):
    """A GRU whose weights and arithmetic are bfloat16; inputs and outputs float32."""

    def __init__(self, rnn: nn.GRU) -> None:
        super().__init__()
        self.rnn = copy.deepcopy(rnn).to(torch.bfloat16)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, h_n = self.rnn(x.to(torch.bfloat16), h.to(torch.bfloat16))
        return y.float(), h_n.float()


def int8(model: Seq2Seq, spec: dict) -> Seq2Seq:
    with warnings.catch_warnings():  # torch points to torchao for new code; the eager API is what is measured here
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), spec, dtype=torch.qint8)


def bfloat16_output_and_gru(model: Seq2Seq) -> Seq2Seq:
    fast = bfloat16_output(model)
    fast.decoder.rnn = BFloat16GRU(model.decoder.rnn)
    assert isinstance(fast.decoder.output, BFloat16Linear)
    return fast


PER_CHANNEL = torch.ao.quantization.per_channel_dynamic_qconfig
VARIANTS: dict[str, Callable[[Seq2Seq], Seq2Seq]] = {
    "bfloat16 output layer": bfloat16_output,
    "int8 linear": lambda m: int8(m, {nn.Linear}),
    "int8 linear, per channel": lambda m: int8(m, {nn.Linear: PER_CHANNEL}),
    "int8 linear + GRU": lambda m: int8(
        m, {nn.Linear: PER_CHANNEL, nn.GRU: torch.ao.quantization.default_dynamic_qconfig}
    ),
    "bfloat16 output layer + GRU": bfloat16_output_and_gru,
    "bfloat16 output layer, traced step": lambda m: traced_search(bfloat16_output(m)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(cli.BUNDLED_MODELS), help="model folder")
    parser.add_argument("--dataset_name", default="bentrevett/multi30k", help="Hub dataset id or local folder")
    parser.add_argument("--models", nargs="*", default=None, help="which models of the folder (default: all)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    translator = Translator(args.model, names=args.models)
    test = load_parallel_data(args.dataset_name, translator.source_lang, translator.target_lang, splits=["test"])
    corpus = test["test"]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"1 thread; load average {os.getloadavg()[0]:.2f}; {len(corpus)} test sentences")  # fmt: skip

    def measure(name: str, model: Seq2Seq) -> tuple[float, float]:
        translator.search_models[name] = model
        with torch.inference_mode():
            times = timed(lambda: translator.translate([SENTENCE], name, 5), args.repeats)
            bleu = corpus_scores([t.text for t in translator.translate(corpus.source, name, 5)], corpus.target)["bleu"]
        return statistics.median(times), bleu

    print(f"\n| model | variant | beam 5, 15 words (ms) | speed-up | test BLEU | Δ BLEU | within {BAR} |")
    print("|---|---|---|---|---|---|---|")
    for name, model in translator.models.items():
        base_ms, base_bleu = measure(name, model)
        print(f"| {name} | float32 | {base_ms:.1f} | 1.00× | {base_bleu:.2f} | | |", flush=True)
        for variant in args.variants:
            ms, bleu = measure(name, VARIANTS[variant](model))
            delta = bleu - base_bleu
            print(f"| {name} | {variant} | {ms:.1f} | {base_ms / ms:.2f}× | {bleu:.2f} | {delta:+.2f} | "
                  f"{'yes' if abs(delta) <= BAR + 1e-9 else 'no'} |", flush=True)  # fmt: skip
        translator.search_models[name] = model
    side_by_side(translator, args.repeats)


def side_by_side(translator: Translator, repeats: int) -> None:
    """The first attention model and the baseline, each alone and both at once in two threads (as ``/translate``
    runs them), with the eager step (the eager beam step too) and with the traced one; bfloat16 output layer in
    both."""
    attention_models = [n for n in translator.models if n != BASELINE]
    if BASELINE not in translator.models or not attention_models:
        return
    names = [attention_models[0], BASELINE]
    pool = ThreadPoolExecutor(1)

    def search(name: str) -> list:
        with torch.inference_mode():  # thread-local: entered in the thread that searches
            return [c.hypothesis.tokens for c in translator.translate([SENTENCE], name, 5)[0].candidates]

    def median_ms(run: Callable[[], object]) -> float:
        return statistics.median(timed(run, repeats))

    def pair() -> list:
        later = pool.submit(search, names[1])
        return [search(names[0]), later.result()]

    print(f"\n| {names[0]} and {names[1]}, beam 5, 15 words | {names[0]} alone (ms) | {names[1]} alone (ms) "
          "| both side by side in two threads (ms) | pair ÷ slower alone |")  # fmt: skip
    print("|---|---|---|---|---|")
    found = {}
    for label, step, wrap in (
        ("eager step", decoding.beam_step, bfloat16_output),
        ("traced step", decoding.BEAM_STEP, lambda m: traced_search(bfloat16_output(m))),
    ):
        decoding.BEAM_STEP = step
        for name in names:
            translator.search_models[name] = wrap(translator.models[name])
        alone = [median_ms(lambda n=name: search(n)) for name in names]
        both = median_ms(pair)
        found[label] = pair()
        print(f"| {label} | {alone[0]:.1f} | {alone[1]:.1f} | {both:.1f} | {both / max(alone):.2f}× |", flush=True)
    print(f"\n# the same hypotheses with both steps: {found['eager step'] == found['traced step']}")


if __name__ == "__main__":
    main()
