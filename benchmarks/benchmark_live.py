"""What "Watch attention learn" reaches with its time budget: runs of the app's own live training, over seeds.

    python benchmarks/benchmark_live.py                       # reverse at 6/12/20/30 symbols, copy and sort at 12
    python benchmarks/benchmark_live.py --seeds 0 1 2 3 4     # more seeds

Every run is :func:`attention_demo.live.train_live` exactly as the tab runs it (the same budget, one torch thread),
with the additive score unless ``--attention`` says otherwise. Per setting, over the seeds: the final share of held-out
sequences each model gets exactly right, the attention model's final alignment error, and how long the attention
model took to get 90% of them right (the first update at or above 90%; "never" if it did not within the budget).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch

from attention_demo import live

SETTINGS = [("reverse", 6), ("reverse", 12), ("reverse", 20), ("reverse", 30), ("copy", 12), ("sort", 12)]


def mean_and_range(values: list[float], percent: bool = True) -> str:
    scale, unit = (100, "%") if percent else (1, " s")
    low, high, mean = min(values) * scale, max(values) * scale, statistics.mean(values) * scale
    return f"{mean:.0f}{unit} ({low:.0f}–{high:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--attention", default=live.DEFAULT_ATTENTION, choices=live.ATTENTION_TYPES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 torch thread, load average "
          f"{os.getloadavg()[0]:.2f}; budget {live.BUDGET_S:.0f} s per run; seeds {args.seeds}")  # fmt: skip
    print(f"\n| task, length ({args.attention}) | right with attention | right without | alignment error "
          "| time to 90% with attention | steps |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for task, length in SETTINGS:
        finals: dict[str, list[float]] = {"attention": [], "baseline": [], "error": [], "steps": []}
        reached = []
        for seed in args.seeds:
            settings = live.check_settings(task, length, args.attention, seed)
            last = list(live.train_live(settings))[-1]
            curve = last.curves["attention"]
            finals["attention"].append(curve.accuracy[-1])
            finals["baseline"].append(last.curves["baseline"].accuracy[-1])
            finals["error"].append(last.alignment_error[-1])
            finals["steps"].append(last.step)
            reached.append(next((s for s, a in zip(curve.seconds, curve.accuracy, strict=True) if a >= 0.9), None))
        times = [t for t in reached if t is not None]
        when = mean_and_range(times, percent=False) if times else "never"
        if times and len(times) < len(reached):
            when += f", {len(reached) - len(times)} of {len(reached)} runs never"
        print(f"| {task}, {length} | {mean_and_range(finals['attention'])} | {mean_and_range(finals['baseline'])} | "
              f"{mean_and_range(finals['error'])} | {when} | {statistics.mean(finals['steps']):.0f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
