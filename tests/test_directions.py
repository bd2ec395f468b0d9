"""Both translation directions in the app: the second page, its endpoints, and the rings where the two directions
agree (``ui.demo.AttentionDemo.twin_attention``, ``ui.tabs.translate.agreed_cells``). The direction picker in a real
browser is in test_app_browser.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from attention_demo.data import decoder_input, pad
from attention_demo.decoding import Hypothesis
from attention_demo.model import BASELINE
from attention_demo.model_repo import METRICS_FILE, read_json, write_json_atomic
from attention_demo.tokenizer import EOS, EOS_ID
from attention_demo.translate import Candidate, Translator
from attention_demo.ui import serving, text
from attention_demo.ui.demo import AttentionDemo
from attention_demo.ui.loading import load_twin
from attention_demo.ui.state import Shown
from attention_demo.ui.tabs import translate as translate_tab

SENTENCE = "Ein Mann fährt auf einem Fahrrad ."


@pytest.fixture(scope="module")
def pages(tiny_model_folder: Path, tiny_reverse_folder: Path) -> tuple[AttentionDemo, AttentionDemo | None]:
    return serving.load_demos(str(tiny_model_folder), str(tiny_reverse_folder))


def test_the_other_direction_gets_its_own_page_and_endpoints(pages: tuple) -> None:
    forward, backward = pages
    assert backward is not None and backward.page == "en-de" and forward.page == ""
    assert forward.twin is backward.translator and backward.twin is forward.translator
    assert (forward.direction, backward.direction) == ("German → English", "English → German")
    assert backward.languages == {"source": "English", "target": "German"}
    blocks, layout = serving.build(forward, backward)
    names = {fn.api_name for fn in blocks.fns.values() if fn.api_name}
    assert {"translate", "compare", "translate_en_de", "compare_en_de"} <= names
    # The second page's /translate_en_de runs the English -> German models.
    run = next(fn.fn for fn in blocks.fns.values() if fn.api_name == "translate_en_de")
    values = run("A man rides a bicycle .", "general", 1, False)
    expected = translate_tab.translate_view(backward, "A man rides a bicycle .", "general", 1)
    assert expected.attention_text == backward.translator.translate(["A man rides a bicycle ."], "general", 1)[0].text
    heatmaps = [value for value in values.values() if isinstance(value, dict) and "matrix" in value]
    assert heatmaps == [expected.view.heatmap.to_json()]
    assert layout.translate.source.label == "German sentence"


def test_a_folder_of_the_same_direction_is_not_a_twin(tiny_model_folder: Path) -> None:
    translator = Translator(tiny_model_folder)
    assert load_twin(str(tiny_model_folder), translator) == (None, "")
    assert AttentionDemo(translator, twin=translator).twin is None


def test_twin_attention_is_the_reverse_models_teacher_forced_attention(pages: tuple) -> None:
    """Recomputed here with the reverse model's own forward pass: it reads the translation (+ </s>) and is fed the
    German input as its decoder input."""
    forward, backward = pages
    view = translate_tab.translate_view(forward, SENTENCE, "general", 3)
    shown = view.shown
    assert list(shown.twin_attention) == [0]  # the best candidate is read at once, the others when picked
    for rank in range(len(shown.candidates)):
        picked = translate_tab.read_back(forward, shown, rank)
        assert picked.twin_attention[0] is shown.twin_attention[0]
        assert set(picked.twin_attention) == set(range(rank + 1))
        shown = picked
    model = backward.translator.models["general"]
    for rank, candidate in enumerate(shown.candidates):
        found = shown.twin_attention[rank]
        read = [*candidate.hypothesis.word_ids, EOS_ID]
        source, mask = pad([read])
        target = shown.source_ids[:-1]
        with torch.inference_mode():
            attention = model(source, mask, decoder_input(pad([[*target, EOS_ID]])[0])).attention[0]
        expected = attention[: len(target), : len(read)].numpy()
        assert found is not None and found.shape == (len(target), len(read))
        np.testing.assert_allclose(found, expected, atol=1e-6)
    # The heatmap rings exactly the agreed cells, in pieces and in words.
    for merge in (False, True):
        picked = translate_tab.hypothesis_view(shown, 0, merge)
        assert picked.heatmap.markers == translate_tab.agreed_cells(shown, 0, merge)
        assert picked.heatmap.marker_label == (text.AGREED_MARKERS if picked.heatmap.markers else "")


def test_picking_another_hypothesis_reads_it_back_and_rings_its_heatmap(pages: tuple) -> None:
    """The hypothesis picker's event: the other direction reads the picked candidate (once), the session's state
    gets the new reading, and the heatmap rings its agreed cells; words instead of subwords read nothing."""
    forward, _ = pages
    blocks, layout = serving.build(forward)
    handlers = {getattr(fn.fn, "__wrapped__", fn.fn).__name__: fn.fn for fn in blocks.fns.values() if fn.fn}
    shown = translate_tab.translate_view(forward, SENTENCE, "general", 3).shown
    rank = len(shown.candidates) - 1
    values = handlers["show_hypothesis"](shown, rank, False)
    picked = values[layout.translate.shown]
    assert set(picked.twin_attention) == {0, rank} and set(shown.twin_attention) == {0}
    expected = translate_tab.hypothesis_view(picked, rank, False)
    assert expected.heatmap.markers == translate_tab.agreed_cells(picked, rank, False)
    assert values[layout.translate.heatmap] == translate_tab.heatmap_value(expected.heatmap)
    again = handlers["show_hypothesis"](picked, rank, True)[layout.translate.shown]
    assert again is picked  # read once
    redrawn = handlers["redraw"](picked, rank, True)
    assert layout.translate.shown not in redrawn
    merged = translate_tab.hypothesis_view(picked, rank, True)
    assert redrawn[layout.translate.heatmap] == translate_tab.heatmap_value(merged.heatmap)


def test_agreed_cells_by_hand() -> None:
    """Source a b </s>, output x y </s>. This direction: x -> a (0.7), y -> b (0.3 beats a's 0.2; </s>'s 0.5 never
    counts). The other direction: a -> x (0.6), b -> x (0.5). Both make only the link (a, x): one ring, row 0 column 0.
    """
    forward = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    candidate = Candidate("x y", ["▁x", "▁y", EOS], Hypothesis([5, 6, EOS_ID], -1.0, [-0.5, -0.5, 0.0], forward))
    twin = np.array([[0.6, 0.3, 0.1], [0.5, 0.1, 0.4]])  # (source a b, output x y </s>)
    shown = Shown("a b", "general", [7, 8, EOS_ID], ["▁a", "▁b", EOS], [candidate], twin_attention={0: twin})
    assert translate_tab.agreed_cells(shown, 0, merge=False) == [(0, 0)]
    assert translate_tab.agreed_cells(shown, 0, merge=True) == [(0, 0)]
    twin[1] = [0.1, 0.5, 0.4]  # now b -> y too: both links agree
    assert translate_tab.agreed_cells(shown, 0, merge=False) == [(0, 0), (1, 1)]
    shown.twin_attention = {0: None}  # no other direction: no rings
    assert translate_tab.agreed_cells(shown, 0, merge=False) == []
    shown.twin_attention = {}  # not read back yet: no rings
    assert translate_tab.agreed_cells(shown, 0, merge=False) == []


def test_model_labels_name_the_agreement_models() -> None:
    assert text.model_label("general-agreement") == "general + agreement"
    assert text.model_label("additive") == "additive" and text.model_label(None) == ""
    assert text.compare_label("general-agreement", "general").startswith("general + agreement")


def test_one_page_without_the_other_direction(tiny_model_folder: Path, tmp_path: Path) -> None:
    forward, backward = serving.load_demos(str(tiny_model_folder), None, bundled_reverse=tmp_path / "missing")
    assert backward is None and forward.twin is None
    view = translate_tab.translate_view(forward, SENTENCE, "general", 2)
    assert view.shown.twin_attention == {0: None}
    assert translate_tab.read_back(forward, view.shown, 1) is view.shown  # nothing to read with
    assert view.view.heatmap.markers == [] and BASELINE not in forward.attention_types


def test_a_model_not_named_after_its_score_function_and_the_opening_model(
    tiny_model_folder: Path, tmp_path: Path
) -> None:
    """A folder may name a model anything ("general-agreement"): its score function comes from its config. The page
    opens on the plain model that aligns best, even when an agreement model aligns better."""
    folder = tmp_path / "models"
    shutil.copytree(tiny_model_folder, folder, ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copytree(folder / "general", folder / "general-agreement")
    metrics = read_json(folder / METRICS_FILE)
    aer = {"general-agreement": 0.1, "dot": 0.2, "additive": 0.3, "general": 0.4}
    metrics["alignment"] = {"models": {name: {"reference": {"aer": value}} for name, value in aer.items()}}
    write_json_atomic(folder / METRICS_FILE, metrics)
    demo = AttentionDemo(Translator(folder))
    assert demo.score_functions["general-agreement"] == "general" and demo.default_type == "dot"
    blocks, layout = serving.build(demo)
    assert ("general + agreement", "general-agreement") in layout.translate.attention_type.choices
    view = translate_tab.translate_view(demo, SENTENCE, "general-agreement", 2)
    assert view.view.heatmap.title.startswith("general + agreement attention")
