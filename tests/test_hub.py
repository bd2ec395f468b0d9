"""Integration tests of the Hub round trip without a Hub (fail fast, say what to do) and of model folder loading."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from conftest import ALL_ATTENTION_TYPES
from huggingface_hub import HfApi
from safetensors import safe_open

from attention_demo import hub
from attention_demo.data import load_parallel_data
from attention_demo.hub import HubUnreachableError, push_folder, resolve_model_folder
from attention_demo.model import ModelConfig, Seq2Seq
from attention_demo.model_repo import ModelLoadError, load_model, save_model


@pytest.fixture
def hub_offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HF_HUB_OFFLINE=1 with a fresh reachability cache (cleared again afterwards)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.hub_reachable.cache_clear()
    yield
    hub.hub_reachable.cache_clear()


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failing fast, without a clock: any attempt to open a connection or to sleep (a retry's back-off) fails the
    test. How long a failure takes is measured in benchmarks/benchmark_app.py, not asserted here."""

    def forbidden(what: str) -> Callable[..., None]:
        def fail(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"{what} was called although the Hub is known to be unreachable")

        return fail

    monkeypatch.setattr(socket, "create_connection", forbidden("socket.create_connection"))
    monkeypatch.setattr(socket.socket, "connect", forbidden("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden("socket.connect_ex"))
    monkeypatch.setattr(time, "sleep", forbidden("time.sleep"))


# --- no Hub -------------------------------------------------------------------------------------------------------


def test_hub_reachable_honours_offline_without_touching_the_network(
    hub_offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HF_HUB_OFFLINE=1 the probe answers False without opening a socket."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("hub_reachable opened a connection although HF_HUB_OFFLINE=1")

    monkeypatch.setattr(socket, "create_connection", no_network)
    assert hub.hub_reachable() is False


def test_resolve_hub_id_offline_fails_fast_with_advice(hub_offline: None, no_waiting: None) -> None:
    """An uncached Hub id with no Hub raises HubUnreachableError at once (no connection attempt, no retry), advising
    a local folder."""
    with pytest.raises(HubUnreachableError, match="pass a local model folder"):
        resolve_model_folder("someone/some-model-that-is-not-cached")


def test_load_parallel_data_from_hub_offline_fails_fast_with_advice(
    hub_offline: None, no_waiting: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Hub dataset id with no Hub raises HubUnreachableError at once (no connection attempt, no retry), advising
    a local folder."""
    monkeypatch.chdir(tmp_path)  # so "bentrevett/multi30k" cannot be a local folder
    with pytest.raises(HubUnreachableError, match="pass a local folder to --dataset_name"):
        load_parallel_data("bentrevett/multi30k", "de", "en")


def test_push_offline_fails_before_calling_the_hub(
    hub_offline: None, no_waiting: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """push_folder with no Hub raises HubUnreachableError (advising a later push) and calls no Hub API."""

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Hub API was called although the Hub is unreachable")

    monkeypatch.setattr(HfApi, "create_repo", must_not_run)
    monkeypatch.setattr(HfApi, "upload_folder", must_not_run)
    with pytest.raises(HubUnreachableError, match="push later"):
        push_folder(tmp_path, "user/repo")


def test_resolve_existing_local_folder_is_returned_as_is(hub_offline: None, tmp_path: Path) -> None:
    """A local folder is used directly, with no Hub involved."""
    assert resolve_model_folder(str(tmp_path)) == tmp_path


@pytest.mark.parametrize("kind", ["absolute", "relative", "nested", "file"])
def test_resolve_missing_local_path_raises_file_not_found(
    kind: str, hub_offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path that is clearly local but not a folder gives FileNotFoundError, not a Hub error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"x")
    path = {
        "absolute": str(tmp_path / "no-such-folder"),
        "relative": "./no-such-folder",
        "nested": "models/no-such/folder",
        "file": "weights.bin",
    }[kind]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_folder(path)


# --- model_repo.load_model ------------------------------------------------------------------------------------------


def tiny_model(attention_type: str | None = "additive", seed: int = 0) -> Seq2Seq:
    """A small untrained model in eval mode."""
    torch.manual_seed(seed)
    config = ModelConfig(
        src_vocab_size=40,
        tgt_vocab_size=50,
        attention_type=attention_type,
        embedding_size=8,
        encoder_hidden_size=6,
        decoder_hidden_size=12,
        attention_size=5,
    )
    return Seq2Seq(config).eval()


def outputs(model: Seq2Seq) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits and attention of a fixed teacher-forced batch (with padding)."""
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(4, 40, (3, 7), generator=generator)
    src[1, 5:] = 0
    src_mask = src != 0
    tgt_in = torch.randint(4, 50, (3, 6), generator=generator)
    with torch.no_grad():
        out = model(src, src_mask, tgt_in)
    return out.logits, out.attention


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A folder with fp16 'additive' and 'baseline' models, as train.py writes them."""
    save_model(tiny_model("additive"), tmp_path / "additive")
    save_model(tiny_model(None), tmp_path / "baseline")
    return tmp_path


def test_load_unknown_model_name_lists_available_models(model_folder: Path) -> None:
    """Asking for a model the folder lacks names the ones it has."""
    with pytest.raises(ModelLoadError, match=r"'general'.*available models: additive, baseline"):
        load_model(model_folder, "general")


def test_load_missing_weights_file_names_it(model_folder: Path) -> None:
    """A model folder without model.safetensors is reported as incomplete, naming the file."""
    (model_folder / "additive" / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"model\.safetensors is missing"):
        load_model(model_folder, "additive")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_load_corrupt_weights_raises_model_load_error_naming_the_file(damage: str, model_folder: Path) -> None:
    """A truncated, garbage or empty safetensors file gives ModelLoadError with the file's path."""
    weights = model_folder / "additive" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x13garbage!" * 300, "empty": b""}[damage])
    with pytest.raises(ModelLoadError) as error:
        load_model(model_folder, "additive")
    assert str(weights) in str(error.value) and "corrupt" in str(error.value)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("embedding_size", 16, "size mismatch"),  # same keys, other shapes
        ("attention_type", None, "Unexpected key"),  # the file has attention weights the model lacks
        ("num_layers", 2, "Missing key"),  # the model has a second layer the file lacks
    ],
)
def test_load_weights_not_matching_config_raises_model_load_error(
    key: str, value: object, problem: str, model_folder: Path
) -> None:
    """Weights that do not fit config.json are rejected (strict loading), never silently partially loaded."""
    config_path = model_folder / "additive" / "config.json"
    config = json.loads(config_path.read_text())
    config[key] = value
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=problem) as error:
        load_model(model_folder, "additive")
    assert "model.safetensors" in str(error.value)


@pytest.mark.parametrize("attention_type", [*ALL_ATTENTION_TYPES, None])
def test_fp32_save_then_load_gives_identical_outputs(attention_type: str | None, tmp_path: Path) -> None:
    """save_pretrained in fp32 + load_model reproduces weights, logits and attention exactly."""
    model = tiny_model(attention_type)
    model.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path, "m")
    assert loaded.config == model.config and not loaded.training
    original_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert original_state.keys() == loaded_state.keys()
    assert all(torch.equal(original_state[k], loaded_state[k]) for k in original_state)
    (logits, attention), (loaded_logits, loaded_attention) = outputs(model), outputs(loaded)
    assert torch.equal(logits, loaded_logits)
    assert (attention is None and loaded_attention is None) or torch.equal(attention, loaded_attention)


def test_fp16_save_model_then_load_is_close_and_leaves_the_model_untouched(tmp_path: Path) -> None:
    """save_model writes fp16 weights (about half the fp32 size); loading them gives fp32 outputs within fp16
    rounding; the saved model's own fp32 weights are not modified by saving (training continues from them)."""
    model = tiny_model("additive")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    save_model(model, tmp_path / "half")
    model.save_pretrained(tmp_path / "full")
    after = model.state_dict()
    assert all(v.dtype == torch.float32 for v in after.values())
    assert all(torch.equal(before[k], after[k]) for k in before)
    with safe_open(tmp_path / "half" / "model.safetensors", framework="pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.float16}
    half_size = (tmp_path / "half" / "model.safetensors").stat().st_size
    assert half_size < 0.6 * (tmp_path / "full" / "model.safetensors").stat().st_size
    loaded = load_model(tmp_path, "half")
    assert all(v.dtype == torch.float32 for v in loaded.state_dict().values())
    (logits, attention), (loaded_logits, loaded_attention) = outputs(model), outputs(loaded)
    torch.testing.assert_close(loaded_logits, logits, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(loaded_attention, attention, rtol=1e-2, atol=1e-2)
