"""Evidence view benchmark: the app's evidence tab for a maximum-length input, per attribution method.

    python benchmarks/benchmark_evidence.py                 # bundled models, 5 timed views per fast method
    python benchmarks/benchmark_evidence.py --repeats 10

The inputs are made of the folder's test examples joined with ", und " until the source is cut at the longest input
the models read (127 subwords and </s>); of ten such inputs (each starting at another example) the benchmark takes
the one whose translations are longest (the attention model, ``additive`` by default, and the baseline, beam 5, as
the app translates), since the view's work grows with the output length. Then the evidence tab's ``evidence_view`` (the
function behind the evidence tab: coverage, the attribution maps of the attention model and of the baseline side by
side, the agreement table) is timed once per method after a warm-up, with the app's thread settings
(``serving.tune_for_serving``: one torch thread per concurrent request). Integrated Gradients, the heaviest method,
is computed only when picked, so it is timed once.

For comparison it also times each model's attribution alone, and the work the evidence view did before the method
picker (both gradient maps and the occlusion of the attention model, one after another). The machine's load average
is printed before and after: on a shared machine it is the first thing to read next to the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from attention_demo import cli, evidence
from attention_demo.model import BASELINE
from attention_demo.model_repo import read_test_examples
from attention_demo.translate import Translator
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.serving import tune_for_serving
from attention_demo.ui.state import Shown
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import translate as translate_tab

TARGET_SECONDS = 1.5  # the evidence tab of a maximum-length input (the heaviest method may take longer: on request)
JOINER = ", und "


def longest_inputs(translator: Translator, count: int) -> list[str]:
    """``count`` inputs the models read only the first 127 subwords (and </s>) of: the folder's test examples joined
    one after another, each input starting at another example."""
    examples = read_test_examples(translator.folder, translator.source_lang, translator.target_lang)
    texts = [str(e["source"]).rstrip(" .") for e in examples]
    inputs = []
    for start in range(0, len(texts), max(1, len(texts) // count)):
        order = texts[start:] + texts[:start]
        text = order[0]
        for more in order[1:]:
            text += JOINER + more[0].lower() + more[1:]
            if translator.source_ids(text)[1]:
                inputs.append(text)
                break
    if not inputs:
        raise SystemExit("The test examples are too short together to fill the longest input.")
    return inputs[:count]


def heaviest(demo: AttentionDemo, attention: str, count: int) -> Shown:
    """Of ``count`` maximum-length inputs, the one whose translations (attention model and baseline, beam 5) are the
    longest together: the evidence view's work grows with the output length."""

    def output_tokens(shown: Shown) -> int:
        return len(shown.candidates[0].hypothesis.tokens) + len(shown.baseline.hypothesis.tokens)

    shown = [
        translate_tab.translate_view(demo, text, attention, 5).shown for text in longest_inputs(demo.translator, count)
    ]
    return max(shown, key=output_tokens)


def timed(work: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (this process, all its threads) of ``repeats`` calls of ``work``."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, used = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(cli.BUNDLED_MODELS), help="model folder")
    parser.add_argument("--attention", default="additive", help="the attention model (the app opens on additive)")
    parser.add_argument("--repeats", type=int, default=5, help="timed views per method (Integrated Gradients: 1)")
    parser.add_argument("--candidates", type=int, default=10, help="maximum-length inputs to pick the heaviest from")
    args = parser.parse_args()

    demo = AttentionDemo(Translator(args.model))
    tune_for_serving()
    shown = heaviest(demo, args.attention, args.candidates)
    tokens = shown.candidates[0].hypothesis.tokens
    models = demo.translator.models
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s); load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"# input: {len(shown.source_ids) - 1} source subwords + </s>; {args.attention}: {len(tokens)} output "
        f"tokens, baseline: {len(shown.baseline.hypothesis.tokens)} (beam 5)\n"
    )
    print(
        f"| method | evidence view: wall s, median (min-max) | its CPU s | {args.attention} alone: wall / CPU s "
        "| baseline alone: wall / CPU s |"
    )
    print("|---|---|---|---|---|")
    for method in evidence.ATTRIBUTION_METHODS:
        repeats = 1 if method == "integrated_gradients" else args.repeats
        if repeats > 1:
            evidence_tab.evidence_view(demo, shown, 0, False, method)  # warm-up
        views, cpu = timed(lambda m=method: evidence_tab.evidence_view(demo, shown, 0, False, m), repeats)
        alone = [
            timed(lambda m=method, n=name, t=ids: evidence.attribution(models[n], shown.source_ids, t, m), 1)
            for name, ids in ((args.attention, tokens), (BASELINE, shown.baseline.hypothesis.tokens))
        ]
        spread = f" ({min(views):.2f}-{max(views):.2f})" if repeats > 1 else ""
        print(
            f"| {method} | {statistics.median(views):.2f}{spread} | {statistics.median(cpu):.2f} | "
            + " | ".join(f"{wall[0]:.2f} / {used[0]:.2f}" for wall, used in alone)
            + " |"
        )

    def before() -> None:
        """What the evidence view computed before the method picker, one model after the other."""
        evidence.saliency(models[BASELINE], shown.source_ids, shown.baseline.hypothesis.tokens)
        evidence.saliency(models[args.attention], shown.source_ids, tokens)
        evidence.occlusion(models[args.attention], shown.source_ids, tokens)

    previous, used = timed(before, args.repeats)
    print(
        f"\nthe previous view's work (both gradient maps, then occlusion, one after another): median "
        f"{statistics.median(previous):.2f} s, CPU {statistics.median(used):.2f} s"
    )
    print(f"target: the default view ≤ {TARGET_SECONDS} s; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
