"""The corpus evidence: attribution, agreement, the gradient by distance and completeness over a dataset split.

Stored under ``"evidence"`` in ``metrics.json`` and shown by the app (nothing is recomputed at app start-up); by
default on the whole test split, with a progress bar per model and its wall time::

    OMP_NUM_THREADS=1 python -m attention_demo.evidence --model models/multi30k-de-en \\
        --dataset_name ../shared/data/multi30k --processes 2

Every method of ``ATTRIBUTION_METHODS`` is computed and compared, from the registry alone.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import captum
import numpy as np
from tqdm.auto import tqdm

from attention_demo import cli
from attention_demo.evidence.agreement_measures import per_step_agreement
from attention_demo.evidence.attribution_methods import (
    ATTENTION,
    ATTRIBUTION_METHODS,
    COMPLETENESS_TOLERANCE,
    IG_STEPS,
    Completeness,
    agreement_pairs,
    measures,
)
from attention_demo.evidence.coverage_and_distance import (
    DROPPED_BELOW,
    MAX_DISTANCE,
    REPEATED_ABOVE,
    gradient_by_distance,
)
from attention_demo.model import Seq2Seq
from attention_demo.model_repo import EVIDENCE_KEY, write_metrics_section

logger = logging.getLogger(__name__)

SENTENCE_BATCH = 64  # sentences attributed together by the corpus evaluation
TAU_BINS = np.linspace(-1.0, 1.0, 21)
JSD_BINS = np.linspace(0.0, 1.0, 21)
# The methods whose extra corpus numbers are stored: the gradient by distance (gradient x input's rows, normalised and
# raw) and the completeness of Integrated Gradients.
DISTANCE_METHOD = "gradient_x_input"
COMPLETENESS_METHOD = "integrated_gradients"
# How the corpus measures are computed, stored beside the attribution methods' own descriptions.
MEASURE_DESCRIPTIONS = {
    "agreement": "per output step: Kendall tau-b, top-1 match, Jensen-Shannon divergence (bits; rows clipped at 0 "
    "and normalised)",
    "completeness": "|sum of a row's Integrated Gradients - (f(x) - f(baseline))| / |f(x) - f(baseline)|, f = the "
    "output token's log-probability; the numerator is captum's convergence delta",
    "distance": "|i - t| between source piece i and output position t, in subword positions",
}


def _summary(values: list[float], bins: np.ndarray | None) -> dict:
    """Mean (NaNs left out), number of values, and histogram bin edges/counts when ``bins`` is given."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    summary: dict = {"mean": round(float(array.mean()), 4) if array.size else None, "count": int(array.size)}
    if bins is not None:
        counts, _ = np.histogram(np.clip(array, bins[0], bins[-1]), bins=bins)
        summary.update(bins=[round(float(b), 4) for b in bins], counts=counts.tolist())
    return summary


def _agreement_summary(rows: list[dict[str, float]], chance_top1: list[float]) -> dict:
    return {
        "kendall_tau": _summary([r["kendall_tau"] for r in rows], TAU_BINS),
        "top1": _summary([r["top1"] for r in rows], None),
        "jsd": _summary([r["jsd"] for r in rows], JSD_BINS),
        "chance_top1": round(float(np.mean(chance_top1)), 4) if chance_top1 else None,
        "num_steps": len(rows),
    }


def _rounded(values: np.ndarray, digits: int = 5) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), digits) for v in values]


def _completeness_summary(checks: list[Completeness], tolerance: float = COMPLETENESS_TOLERANCE) -> dict:
    """Integrated Gradients' completeness over all output steps: the relative error's distribution, the share of
    steps under ``tolerance``, captum's convergence delta in nats, and how many steps needed how many quadrature
    points."""
    errors = np.concatenate([c.relative_error for c in checks]) if checks else np.zeros(0)
    deltas = np.abs(np.concatenate([c.delta for c in checks])) if checks else np.zeros(0)
    if not errors.size:
        return {"num_steps": 0}
    points, counts = np.unique(np.concatenate([c.steps for c in checks]), return_counts=True)
    return {
        "relative_error": {
            name: round(float(value), 6)
            for name, value in (
                ("mean", errors.mean()),
                ("median", np.median(errors)),
                ("p99", np.percentile(errors, 99)),
                ("max", errors.max()),
            )
        },
        "share_below_tolerance": round(float(np.mean(errors < tolerance)), 5),
        "tolerance": tolerance,
        "mean_abs_delta": round(float(deltas.mean()), 6),
        "max_abs_delta": round(float(deltas.max()), 6),
        "quadrature_points": {
            str(int(n)): int(c) for n, c in zip(points, counts, strict=True)
        },  # points -> output steps
        "num_steps": int(errors.size),
    }


def evaluate_model(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    hypotheses: Sequence,
    max_distance: int = MAX_DISTANCE,
    n_steps: int = IG_STEPS,
    batch_size: int = SENTENCE_BATCH,
    progress: str | None = None,
    position: int = 0,
) -> dict:
    """Evidence numbers for one model over sentences: ``sources`` ids and their greedy ``hypotheses``.

    For every output step: every method of ``ATTRIBUTION_METHODS`` (all models) and attention (attention models);
    the agreement of every pair of them (:func:`agreement_pairs`); the share of steps whose largest value falls on
    the final ``</s>``; saliency by distance; and Integrated Gradients' completeness. Sentences are attributed
    ``batch_size`` at a time (similar lengths together); ``progress`` names a progress bar (None: no bar).
    """
    kept = [(list(s), h) for s, h in zip(sources, hypotheses, strict=True) if h.tokens]
    names = [n for n in measures() if model.has_attention or n != ATTENTION]
    pairs: dict[tuple[str, str], list[dict[str, float]]] = {
        (a, b): [] for a, b in agreement_pairs() if {a, b} <= set(names)
    }
    on_eos: dict[str, list[float]] = {name: [] for name in names}
    normalised, raw, checks, chance = [], [], [], []
    order = sorted(range(len(kept)), key=lambda k: len(kept[k][0]))
    bar = tqdm(
        total=len(kept), desc=progress, unit="sentence", disable=progress is None, position=position, mininterval=5
    )
    with bar:
        for start in range(0, len(order), batch_size):
            batch = [kept[k] for k in order[start : start + batch_size]]
            srcs, tgts = [s for s, _ in batch], [list(h.tokens) for _, h in batch]
            found = {name: method.compute(model, srcs, tgts, n_steps) for name, method in ATTRIBUTION_METHODS.items()}
            distance = found[DISTANCE_METHOD]
            for k, (src, hyp) in enumerate(batch):
                rows = {ATTRIBUTION_METHODS[name].key: result.matrices[k] for name, result in found.items()}
                if model.has_attention:
                    rows[ATTENTION] = hyp.attention.numpy()
                for (first, second), steps in pairs.items():
                    steps += per_step_agreement(rows[first], rows[second])
                for name in names:
                    on_eos[name] += (np.argmax(rows[name], axis=1) == len(src) - 1).astype(float).tolist()
                chance += [1.0 / len(src)] * len(hyp.tokens)
                normalised.append(distance.matrices[k])
                raw.append(distance.matrices[k] if distance.raw is None else distance.raw[k])
            checks += found[COMPLETENESS_METHOD].completeness or []
            bar.update(len(batch))
    mean_norm, counts = gradient_by_distance(normalised, max_distance)
    mean_raw, _ = gradient_by_distance(raw, max_distance)
    return {
        "gradient_by_distance": {
            "distance": list(range(max_distance + 1)),
            "mean_saliency": _rounded(mean_norm),
            "mean_grad_x_input": _rounded(mean_raw),
            "pairs": counts.tolist(),
        },
        "agreement": {f"{a}_vs_{b}": _agreement_summary(rows, chance) for (a, b), rows in pairs.items()},
        "top1_on_eos": {name: round(float(np.mean(values)), 4) if values else None for name, values in on_eos.items()},
        "integrated_gradients_completeness": _completeness_summary(checks),
        "num_sentences": len(kept),
    }


def _evaluate_named_model(
    folder: str | Path,
    name: str,
    sources: list[list[int]],
    n_steps: int,
    progress: bool,
    position: int,
    model: Seq2Seq | None = None,
) -> tuple[str, dict]:
    """Greedy-translate ``sources`` with model ``name`` of ``folder`` (loaded here unless given) and run
    :func:`evaluate_model` on them; its wall time goes into the result as ``"seconds"``."""
    from attention_demo.decoding import translate_ids
    from attention_demo.model_repo import load_model

    started = time.perf_counter()
    model = load_model(folder, name) if model is None else model
    hypotheses = [h[0] for h in translate_ids(model, sources, beam_size=1)]
    numbers = evaluate_model(
        model, sources, hypotheses, n_steps=n_steps, progress=name if progress else None, position=position
    )
    numbers["seconds"] = round(time.perf_counter() - started, 1)
    return name, numbers


def evaluate_folder(
    folder: str | Path,
    dataset_name: str,
    max_samples: int | None = None,
    split: str = "test",
    names: Sequence[str] | None = None,
    dataset_config_name: str | None = None,
    n_steps: int = IG_STEPS,
    progress: bool = True,
    processes: int = 1,
) -> dict:
    """Run :func:`evaluate_model` for every model of ``folder`` on the first ``max_samples`` sentences of ``split``
    (all of them by default; greedy translations) and store the result as ``metrics.json["evidence"]`` (other
    sections untouched). ``progress``: a progress bar per model (on stderr); ``processes``: how many models are
    evaluated at once, each in its own worker process.

    Returns the ``"evidence"`` dict; its ``"seconds"`` is the wall time of the whole run, each model's ``"seconds"``
    its own.
    """
    from attention_demo.data import load_parallel_data
    from attention_demo.translate import Translator

    started = time.perf_counter()
    translator = Translator(folder, list(names) if names else None)
    split_key = "validation" if split == "val" else split
    corpus = load_parallel_data(
        dataset_name, translator.source_lang, translator.target_lang, (split_key,), dataset_config_name
    )[split_key].take(max_samples)
    sources = [translator.source_ids(text)[0] for text in corpus.source]
    evidence: dict = {
        "dataset": str(dataset_name),
        "split": split_key,
        "num_sentences": len(sources),
        "decoding": "greedy",
        "method": {
            "library": f"captum {captum.__version__}",
            **{method.key: method.description.format(n_steps=n_steps) for method in ATTRIBUTION_METHODS.values()},
            **MEASURE_DESCRIPTIONS,
            "coverage_flags": {"dropped_below": DROPPED_BELOW, "repeated_above": REPEATED_ABOVE},
        },
        "ig_steps": n_steps,
        "models": {},
    }
    jobs = [(folder, name, sources, n_steps, progress, k % processes) for k, name in enumerate(translator.models)]
    if processes > 1 and len(jobs) > 1:
        # One model per worker process (each single-threaded under OMP_NUM_THREADS=1), so that the models use all
        # cores; "spawn", because forking a process that has run torch can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(processes, len(jobs)), mp_context=context) as pool:
            results = list(pool.map(_evaluate_named_model, *zip(*jobs, strict=True)))
    else:
        results = [_evaluate_named_model(*job, model=translator.models[job[1]]) for job in jobs]
    for name, numbers in results:
        evidence["models"][name] = numbers
        logger.info("evidence for %s: %.1f s", name, numbers["seconds"])
    evidence["seconds"] = round(time.perf_counter() - started, 1)
    return write_metrics_section(folder, EVIDENCE_KEY, evidence)


def main(argv: list[str] | None = None) -> int:
    """The corpus evidence command line; returns its exit status (usage errors exit with 2)."""
    parser = cli.corpus_command_parser(
        "python -m attention_demo.evidence",
        "Compute the corpus evidence numbers and store them in metrics.json.",
        names_default="all",
        samples="sentences of the split",
    )
    parser.add_argument("--split", type=cli.nonempty, default="test", help="train, validation (or val) or test")
    steps = cli.Number(int, minimum=1, maximum=1000)
    parser.add_argument(
        "--ig_steps",
        type=steps,
        default=IG_STEPS,
        help=f"Integrated Gradients' quadrature points (default {IG_STEPS}); {steps.describe()}",
    )
    workers = cli.Number(int, minimum=1, maximum=64)
    parser.add_argument(
        "--processes",
        type=workers,
        default=1,
        help=f"models evaluated at once, one worker process each (2 on 2 cores); {workers.describe()}",
    )
    args = parser.parse_args(argv)
    return cli.run_corpus_command(args, "the evidence (metrics.json)", partial(_corpus_command, args))


def _corpus_command(args: argparse.Namespace, folder: Path) -> int:
    """``main`` once the folder and the dataset are checked: compute, store and print."""
    evidence = evaluate_folder(
        folder,
        args.dataset_name,
        args.max_samples,
        args.split,
        args.names,
        args.dataset_config_name,
        args.ig_steps,
        processes=args.processes,
    )
    for name, numbers in evidence["models"].items():
        parts = [f"{pair}: tau {a['kendall_tau']['mean']}, top-1 {a['top1']['mean']}, JSD {a['jsd']['mean']}"
                 for pair, a in numbers["agreement"].items()]  # fmt: skip
        error = numbers["integrated_gradients_completeness"].get("relative_error", {})
        parts.append(f"IG completeness error: median {error.get('median')}, max {error.get('max')}")
        print(f"{name} ({numbers['seconds']} s): " + "; ".join(parts))
    print(f"{evidence['num_sentences']} sentences in {evidence['seconds']} s; written to {folder}/metrics.json")
    return 0
