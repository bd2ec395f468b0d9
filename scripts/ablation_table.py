"""The README's ablation table: scores every finished run of ``scripts/ablations.sh`` and prints a Markdown table.

For each ``runs/ablation/<variant>/`` folder with a trained model, runs the alignment evaluation
(``attention_demo.alignment.evaluate_folder``) unless ``metrics.json`` already has it (or ``--rescore``), then prints
one row per variant: ``</s>`` sink, the share of words linked to the last source word, the mean largest weight, AER on
the reference and on the model's own translation, test BLEU / chrF (beam 5) and training time. ``--write_to`` stores
the rows in a model folder for the app (``metrics.json["alignment"]["ablations"]``, which the alignment command keeps
when it rewrites that section: ``attention_demo.model_repo.KEPT_ON_REWRITE``), keeping the rows of runs scored before.

    python scripts/ablation_table.py --dataset_name ../shared/data/multi30k [--runs runs/ablation] [--write_to FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attention_demo.alignment import evaluate_folder
from attention_demo.model_repo import ABLATIONS_KEY, ALIGNMENT_KEY, read_history, read_metrics, update_metrics

VARIANTS = {  # the order and wording of the README's table
    "today": "first bundled design: Luong placement, z into the GRU, </s> among the keys",
    "no_summary_input": "without z in the decoder GRU's input",
    "no_eos_key": "</s> not among the keys",
    "null_slot": 'a learned "no source word" slot',
    "bahdanau": "Bahdanau placement: attend from s_{t-1}, context into the GRU",
    "input_feeding": "Luong input feeding: s~_{t-1} into the GRU",
    "input_feeding_null_slot": "input feeding + null slot",
    "bahdanau_null_slot": "Bahdanau placement + null slot",
    "no_annotation_dropout": "no dropout on the annotations (attention's keys and values)",
    "no_annotation_dropout_no_summary_input": "no annotation dropout, without z in the GRU input",
    "no_annotation_dropout_no_summary_input_no_eos_key": "no annotation dropout, without z, </s> not among the keys",
    "no_annotation_dropout_no_summary_input_null_slot": "no annotation dropout, without z, a null slot",
    "no_annotation_dropout_no_summary_input_bahdanau_init": "no annotation dropout, without z, Bahdanau's init",
    "no_annotation_dropout_no_summary_input_context_gate": "no annotation dropout, without z, a context gate",
    "no_annotation_dropout_no_summary_input_bahdanau_init_context_gate": (
        "no annotation dropout, without z, Bahdanau's init and a context gate"
    ),
}


def variant_order(run: str) -> int:
    """A run's place in the table: the order of ``VARIANTS``, unknown runs last."""
    return list(VARIANTS).index(run) if run in VARIANTS else len(VARIANTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset_name", required=True, help="Hub dataset id or local folder (as for train.py)")
    parser.add_argument("--runs", default="runs/ablation", help="the folder of scripts/ablations.sh's runs")
    parser.add_argument("--model", default="additive", help="the model name trained in every run")
    parser.add_argument("--rescore", action="store_true", help="recompute the alignment of runs that have it")
    parser.add_argument(
        "--write_to", default=None, help='a model folder whose metrics.json["alignment"]["ablations"] gets the rows'
    )
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    folders = sorted(
        (p.parent.parent for p in runs.glob(f"*/{args.model}/config.json")),
        key=lambda p: variant_order(p.name),
    )
    print(
        "| variant | `</s>` sink | last source word | mean largest weight | AER (reference) | AER (own translation) "
        "| test BLEU | chrF | training |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    diagonal = None
    rows = []
    for folder in folders:
        metrics = read_metrics(folder)
        scores = metrics.models.get(args.model)
        if scores is None:  # still training
            continue
        if ALIGNMENT_KEY not in metrics.content or args.rescore:
            evaluate_folder(folder, args.dataset_name, [args.model])
            metrics = read_metrics(folder)
        diagonal = metrics.alignment["diagonal"]["aer"]
        alignment = metrics.alignment_models[args.model]
        reference, own = alignment["reference"], alignment["translation"]
        rows.append({
            "variant": VARIANTS.get(folder.name, folder.name), "run": folder.name, "eos_sink": reference["eos_sink"],
            "null": reference["null"], "last_word": reference["last_word"],
            "mean_max_weight": reference["mean_max_weight"], "aer": reference["aer"], "aer_translation": own["aer"],
            "bleu": scores["bleu"], "chrf": scores["chrf"], "train_seconds": scores["train_seconds"],
            "epochs": len(read_history(folder).get(args.model, [])),
        })  # fmt: skip
        null = f" (null {reference['null']:.0%})" if reference["null"] else ""
        print(
            f"| {VARIANTS.get(folder.name, folder.name)} | {reference['eos_sink']:.0%}{null} "
            f"| {reference['last_word']:.0%} | {reference['mean_max_weight']:.2f} | {reference['aer']:.2f} "
            f"| {own['aer']:.2f} | {scores['bleu']:.2f} | {scores['chrf']:.2f} "
            f"| {scores['train_seconds'] / 60:.0f} min |"
        )
    if diagonal is not None:
        print(f"| a straight diagonal (no model) | | | | {diagonal:.2f} | | | | |")
    if args.write_to:
        # Rows of runs scored earlier (and since deleted) stay; a run scored again replaces its row.
        stored = read_metrics(args.write_to)
        scored = {row["run"] for row in rows}
        kept = [row for row in stored.ablation_rows if row.get("run") not in scored]
        ablations = {
            "model": args.model,
            "budget": "same seed, data, tokenizers and epochs for every run (scripts/ablations.sh)",
            "diagonal_aer": diagonal if diagonal is not None else stored.ablations.get("diagonal_aer"),
            "rows": sorted(kept + rows, key=lambda row: variant_order(row["run"])),
        }
        update_metrics(args.write_to, ALIGNMENT_KEY, ABLATIONS_KEY, ablations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
