"""Tests of attention_demo.evidence: saliency, occlusion, agreement, surgery, coverage and the corpus command."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ALL_ATTENTION_TYPES, random_sources

from attention_demo import evidence
from attention_demo.decoding import greedy_search
from attention_demo.model_repo import METRICS_FILE, read_json, write_json_atomic

KEY_TOKEN = 7  # the only source token with a non-zero embedding in one_position_model


def one_position_model(tiny_model, attention_type: str | None):  # noqa: ANN001, ANN201
    """A model whose source embeddings are all zero except KEY_TOKEN's: only that position carries input."""
    model = tiny_model(attention_type)
    with torch.no_grad():
        weight = model.encoder.embedding.weight
        key = weight[KEY_TOKEN].clone()
        weight.zero_()
        weight[KEY_TOKEN] = key * 3.0
    return model


def greedy_tokens(model, source: list[int]) -> list[int]:  # noqa: ANN001
    src = torch.tensor([source])
    return greedy_search(model, src, torch.ones_like(src, dtype=torch.bool))[0].tokens


@pytest.mark.parametrize("attention_type", ["additive", None])
def test_saliency_and_occlusion_peak_at_the_only_informative_source_position(tiny_model, attention_type) -> None:
    model = one_position_model(tiny_model, attention_type)
    source = [5, 9, KEY_TOKEN, 11, 12, 3]  # KEY_TOKEN at position 2
    target = [4, 8, 10, 3]
    sal = evidence.saliency(model, source, target)
    assert sal.shape == (len(target), len(source))
    np.testing.assert_allclose(sal.sum(axis=1), 1.0)
    assert (sal.argmax(axis=1) == 2).all()
    np.testing.assert_allclose(sal[:, 2], 1.0)  # grad x input is exactly zero where the input is zero
    occ = evidence.occlusion(model, source, target)
    assert occ.shape == (len(target), len(source))
    assert (np.abs(occ).argmax(axis=1) == 2).all()
    np.testing.assert_allclose(np.delete(occ, 2, axis=1), 0.0, atol=1e-6)  # <unk> is zero too: nothing changes


def test_saliency_works_inside_inference_mode(tiny_model) -> None:
    model = tiny_model("dot")
    with torch.inference_mode():
        sal = evidence.saliency(model, [5, 6, 7, 3], [4, 3])
    assert sal.shape == (2, 4) and np.isfinite(sal).all()


def test_token_logprobs_match_occlusion_baseline(tiny_model) -> None:
    model = tiny_model("general")
    source, target = [5, 6, 7, 3], [4, 9, 3]
    logp = evidence.token_logprobs(model, source, target)
    assert logp.shape == (3,) and (logp <= 0).all()


@pytest.mark.parametrize("attention_type", ALL_ATTENTION_TYPES)
def test_surgery_with_the_models_own_weights_reproduces_greedy_exactly(tiny_model, attention_type) -> None:
    model = tiny_model(attention_type, seed=3)
    for source in random_sources([4, 7], seed=1):
        tokens = greedy_tokens(model, source)
        for step in range(0, len(tokens), max(1, len(tokens) // 4)):
            result = evidence.surgery(model, source, tokens, step, "own")
            assert result.tokens == tokens == result.original_tokens
            np.testing.assert_allclose(result.token_logprobs, result.original_logprobs, atol=1e-6)
            np.testing.assert_array_equal(result.weights, result.original_weights)


def test_uniform_one_word_and_permuted_surgery_weights(tiny_model) -> None:
    model = tiny_model("additive")
    source = random_sources([6])[0]
    tokens = greedy_tokens(model, source)
    uniform = evidence.surgery(model, source, tokens, 1, "uniform")
    np.testing.assert_allclose(uniform.weights, np.full(len(source), 1.0 / len(source)))
    assert uniform.tokens[:1] == tokens[:1]  # the prefix before the step is teacher-forced
    one = evidence.surgery(model, source, tokens, 0, "one_word", source_index=2)
    np.testing.assert_array_equal(one.weights, np.eye(len(source))[2])
    permuted = evidence.surgery(model, source, tokens, 0, "permuted", seed=1)
    np.testing.assert_allclose(np.sort(permuted.weights), np.sort(permuted.original_weights))
    with pytest.raises(ValueError):
        evidence.surgery(model, source, tokens, 0, "one_word")
    with pytest.raises(ValueError):
        evidence.surgery(tiny_model(None), source, tokens, 0, "uniform")


def test_coverage_sums_to_output_length_and_flags() -> None:
    attention = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.9, 0.0, 0.1], [0.0, 0.0, 1.0]])
    result = evidence.coverage(attention)
    assert result.totals.sum() == pytest.approx(attention.shape[0])
    assert result.flags == ["repeated", "dropped", ""]
    assert evidence.coverage(attention, ignore=[0]).flags[0] == ""
    grouped = evidence.coverage(attention, groups=[[0, 1], [2]])
    np.testing.assert_allclose(grouped.totals, [2.8, 1.2])


def test_agreement_of_identical_and_reversed_rows() -> None:
    row = np.array([0.1, 0.6, 0.3])
    same = evidence.agreement(row, row)
    assert same == {"kendall_tau": 1.0, "top1": 1.0, "jsd": 0.0}
    reversed_ = evidence.agreement(row, -row)
    assert reversed_["kendall_tau"] == -1.0 and reversed_["top1"] == 0.0
    disjoint = evidence.agreement([1.0, 0.0], [0.0, 1.0])
    assert disjoint["jsd"] == pytest.approx(1.0)
    assert np.isnan(evidence.kendall_tau([1.0, 1.0], [0.0, 1.0]))
    # tau-b with ties, checked against scipy.stats.kendalltau([1, 2, 2, 3], [1, 3, 2, 2]) = 0.4
    assert evidence.kendall_tau([1, 2, 2, 3], [1, 3, 2, 2]) == pytest.approx(0.4)


def test_gradient_by_distance() -> None:
    means, counts = evidence.gradient_by_distance([np.array([[1.0, 0.0], [0.5, 0.5]])], max_distance=2)
    np.testing.assert_allclose(means[:2], [0.75, 0.25])
    assert np.isnan(means[2]) and counts.tolist() == [2, 2, 0]


def test_corpus_command_writes_evidence_into_metrics(tiny_model_folder: Path, tiny_dataset: Path, tmp_path) -> None:
    folder = tmp_path / "models"
    shutil.copytree(tiny_model_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    metrics = read_json(folder / METRICS_FILE) or {}
    metrics["keep_me"] = 1
    write_json_atomic(folder / METRICS_FILE, metrics)
    code = evidence.main(["--model", str(folder), "--dataset_name", str(tiny_dataset), "--max_samples", "4"])
    assert code == 0
    written = read_json(folder / METRICS_FILE)
    assert written["keep_me"] == 1 and written.get("models") == metrics.get("models")
    found = written["evidence"]
    assert found["num_sentences"] == 4
    assert set(found["models"]) == {"additive", "dot", "baseline"}
    additive = found["models"]["additive"]
    assert set(additive["agreement"]) == {"attention_vs_saliency", "attention_vs_occlusion", "saliency_vs_occlusion"}
    tau = additive["agreement"]["attention_vs_saliency"]["kendall_tau"]
    assert len(tau["counts"]) == len(tau["bins"]) - 1 and sum(tau["counts"]) == tau["count"] > 0
    assert set(found["models"]["baseline"]["agreement"]) == {"saliency_vs_occlusion"}
    assert len(additive["gradient_by_distance"]["mean_saliency"]) == evidence.MAX_DISTANCE + 1
