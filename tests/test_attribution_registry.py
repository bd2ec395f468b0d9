"""The registry of attribution methods (``attention_demo.evidence.ATTRIBUTION_METHODS``) is the one place a method is
added: a method registered there, and nowhere else, is computed, stored in ``metrics.json``, labelled and offered in the
app's picker.

The method registered here is a stand-in (every source piece gets the same share), so that the test shows what the
registry reaches, not what a real method computes.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from conftest import random_sources

from attention_demo import evidence, plots
from attention_demo.evidence import Attributed, AttributionMethod
from attention_demo.model_repo import read_metrics
from attention_demo.ui import text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.tabs import evidence as evidence_tab
from attention_demo.ui.tabs import why as why_tab


def uniform_rows(model: object, sources: list[list[int]], targets: list[list[int]], n_steps: int) -> Attributed:
    """Every output word owes each source piece the same share."""
    return Attributed([np.full((len(t), len(s)), 1.0 / len(s)) for s, t in zip(sources, targets, strict=True)])


UNIFORM = AttributionMethod(
    name="uniform",
    compute=uniform_rows,
    key="uniform_share",
    label="uniform shares",
    signed=False,
    description="every source piece the same share ({n_steps} steps unused)",
    note="a stand-in",
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> AttributionMethod:
    """UNIFORM as a fourth method, for one test."""
    monkeypatch.setitem(evidence.ATTRIBUTION_METHODS, UNIFORM.name, UNIFORM)
    return UNIFORM


def test_the_registry_holds_the_three_methods_in_picker_order() -> None:
    """Names, metrics.json keys, labels and signs of today's methods, and the six pairs in metrics.json's order."""
    methods = evidence.ATTRIBUTION_METHODS
    assert list(methods) == ["gradient_x_input", "integrated_gradients", "occlusion"]
    assert [m.key for m in methods.values()] == ["saliency", "integrated_gradients", "occlusion"]
    assert all(name == method.name for name, method in methods.items())
    assert [m.signed for m in methods.values()] == [False, True, True]
    assert evidence.method_choices() == [
        ("gradient × input (fast)", "gradient_x_input"),
        ("Integrated Gradients (slow: computed when picked)", "integrated_gradients"),
        ("occlusion", "occlusion"),
    ]
    assert evidence.measures() == ("attention", "saliency", "integrated_gradients", "occlusion")
    assert evidence.agreement_pairs() == [
        ("attention", "saliency"),
        ("attention", "integrated_gradients"),
        ("attention", "occlusion"),
        ("saliency", "integrated_gradients"),
        ("saliency", "occlusion"),
        ("integrated_gradients", "occlusion"),
    ]
    with pytest.raises(AttributeError):
        methods["occlusion"].label = "changed"  # type: ignore[misc]  # frozen: an entry is changed in one place


def test_a_registered_method_is_computed_and_compared(registered: AttributionMethod, tiny_model) -> None:
    """attribution() computes it by name, and the corpus numbers compare it with attention and every other method."""
    model = tiny_model("dot", seed=3)
    sources = random_sources([4, 6], seed=2)
    targets = [[9, 4, 3], [5, 3]]
    np.testing.assert_allclose(evidence.attribution(model, sources[0], targets[0], "uniform"), np.full((3, 5), 0.2))
    hypotheses = [SimpleNamespace(tokens=t, attention=None) for t in targets]
    baseline = tiny_model(None, seed=3)
    numbers = evidence.evaluate_model(baseline, sources, hypotheses, max_distance=2, n_steps=2)
    assert [pair for pair in numbers["agreement"] if "uniform_share" in pair] == [
        "saliency_vs_uniform_share",
        "integrated_gradients_vs_uniform_share",
        "occlusion_vs_uniform_share",
    ]
    assert numbers["agreement"]["saliency_vs_uniform_share"]["num_steps"] == 5
    assert numbers["top1_on_eos"]["uniform_share"] == 0.0  # a constant row's largest value is its first piece
    assert evidence.agreement_pairs()[3] == ("attention", "uniform_share")  # attention against every method first


def test_a_registered_method_is_stored_labelled_and_offered(
    registered: AttributionMethod, random_model_folder: Path, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = random_model_folder
    evidence.evaluate_folder(folder, str(tiny_dataset), max_samples=2, names=["additive"], n_steps=2, progress=False)

    # Stored: its description, its pairs and its </s> share in metrics.json.
    metrics = read_metrics(folder)
    assert metrics.evidence["method"]["uniform_share"] == "every source piece the same share (2 steps unused)"
    numbers = metrics.evidence_models["additive"]
    assert {"attention_vs_uniform_share", "occlusion_vs_uniform_share"} <= set(numbers["agreement"])
    assert len(numbers["agreement"]) == 10  # attention and four methods: every two of five
    assert "uniform_share" in numbers["top1_on_eos"]

    # Labelled: the Why tab's table and histograms name its pairs with its label.
    demo = AttentionDemo.__new__(AttentionDemo)
    demo.metrics = metrics
    assert "attention vs uniform shares" in set(why_tab.evidence_summary(demo)["comparison"])
    assert len(plots.agreement_histograms_figure(metrics.evidence).axes) == 2 * 10
    heatmap = evidence_tab.attribution_heatmap(
        SimpleNamespace(source_pieces=["▁a", "</s>"]), SimpleNamespace(pieces=["▁b", "</s>"]), "additive",
        np.full((2, 2), 0.5), False, "uniform",
    )  # fmt: skip
    assert "uniform shares" in heatmap.title
    assert heatmap.value_label == text.SHARE.format(method="uniform shares")  # unsigned: plain shares

    # Offered: the evidence tab's picker lists it with its label and note.
    with gr.Blocks():
        tab = evidence_tab.build()
    assert [tuple(choice) for choice in tab.method.choices][-1] == ("uniform shares (a stand-in)", "uniform")
