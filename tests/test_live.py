"""Unit tests for attention_demo.live: the toy tasks and their true alignments, settings, the run's budget and
cancellation, and that the default setting learns to align (with a fixed seed and step count)."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from attention_demo import live
from attention_demo.tokenizer import EOS_ID, SPECIAL_TOKENS

FIRST = len(SPECIAL_TOKENS)  # the id of the first symbol


@pytest.mark.parametrize(
    ("task", "source", "alignment", "target"),
    [
        ("copy", [7, 5, 9], [0, 1, 2], [7, 5, 9]),
        ("reverse", [7, 5, 9], [2, 1, 0], [9, 5, 7]),
        ("sort", [7, 5, 9], [1, 0, 2], [5, 7, 9]),
    ],
)
def test_tasks_and_their_true_alignment(task: str, source: list[int], alignment: list[int], target: list[int]) -> None:
    assert live.true_alignment(task, source) == alignment
    assert live.target_of(task, source) == target


def test_batches_hold_distinct_symbols_and_the_alignment_reads_the_target_from_the_source() -> None:
    batch = live.make_batch("sort", 6, 20, torch.Generator().manual_seed(3))
    assert batch.src.shape == batch.tgt.shape == (20, 7) and bool(batch.src_mask.all())
    assert (batch.src[:, -1] == EOS_ID).all() and (batch.tgt[:, -1] == EOS_ID).all()
    for src, tgt, links in zip(batch.src.tolist(), batch.tgt.tolist(), batch.alignment.tolist(), strict=True):
        assert len(set(src[:-1])) == 6 and min(src[:-1]) >= FIRST
        assert [src[j] for j in links] == tgt[:-1] == sorted(src[:-1])
    assert live.labels([FIRST, FIRST + 25, EOS_ID]) == ["a", "z", "</s>"]


@pytest.mark.parametrize(
    ("task", "length", "attention", "message"),
    [
        ("shuffle", 10, "dot", "Pick a task"),
        ("copy", 2, "dot", "from 3 to 30"),
        ("copy", 31, "dot", "from 3 to 30"),
        ("copy", "ten", "dot", "from 3 to 30"),
        ("copy", 7.5, "dot", "from 3 to 30"),
        ("copy", None, "dot", "from 3 to 30"),
        ("copy", 10, "multiplicative", "Pick an attention type"),
    ],
)
def test_bad_settings_get_a_clear_sentence(task: object, length: object, attention: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        live.check_settings(task, length, attention)


def test_good_settings_from_widget_values() -> None:
    assert live.check_settings("copy", 12.0, "general", "5") == live.LiveSettings("copy", 12, "general", 5)


def test_the_run_stops_at_its_time_budget() -> None:
    settings = live.LiveSettings("copy", 5, "dot", budget_s=0.5)
    updates = list(live.train_live(settings))
    assert updates[-1].finished == "budget" and updates[-1].seconds < 5.0
    assert all(not u.finished for u in updates[:-1])


def test_stop_ends_the_run_at_the_next_step() -> None:
    stop = threading.Event()
    run = live.train_live(live.LiveSettings("copy", 5, "dot", budget_s=60.0), stop)
    first = next(run)
    assert first.step == 0 and not first.finished
    stop.set()
    assert [u.finished for u in run] == ["stopped"]


def test_a_run_changes_no_global_random_state() -> None:
    before = torch.random.get_rng_state()
    list(live.train_live(live.LiveSettings("reverse", 4, "additive"), max_steps=3))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_the_default_setting_learns_to_align_and_beats_the_baseline() -> None:
    """reverse, 12 symbols, additive, seed 0, 400 steps (about 10 s on one core): the attention model gets at least
    90% of the held-out sequences exactly right with an alignment error of at most 10%; without attention at most
    20% (the README and the tab state the same bound)."""
    settings = live.check_settings(live.DEFAULT_TASK, live.DEFAULT_LENGTH, live.DEFAULT_ATTENTION)
    settings = dataclasses.replace(settings, budget_s=float("inf"))  # steps, not seconds: the same on any machine
    last = list(live.train_live(settings, max_steps=400))[-1]
    assert last.finished == "steps" and last.step == 400
    assert last.curves["attention"].accuracy[-1] >= 0.9
    assert last.curves["baseline"].accuracy[-1] <= 0.2
    assert last.alignment_error[-1] <= 0.1
    assert last.alignment_error[0] > 0.5  # it started far from the alignment
    assert last.probe_attention.shape == (13, 13) and len(last.true_links) == 12
