"""Integration tests of train.py: the complete model folder, exact resumption, and the push to the Hub."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODELS, TINY_SPLIT_SIZES, assert_same_training_state
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.utils import filter_repo_objects
from safetensors import safe_open

from attention_demo import hub, training
from attention_demo.evaluation import corpus_scores
from attention_demo.model import BASELINE, MODEL_NAMES
from attention_demo.model_repo import load_model, model_names, read_json
from attention_demo.tokenizer import load_tokenizer
from attention_demo.training import TrainingArguments
from attention_demo.translate import Translator

HISTORY_FIELDS = {"epoch", "train_loss", "val_loss", "val_perplexity", "val_bleu", "tokens_per_second"}
TIMING_FIELDS = {"train_seconds", "tokens_per_second", "epoch_seconds"}  # differ between runs by nature


def files_in(folder: Path) -> set[str]:
    """Every file under ``folder``, as POSIX paths relative to it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def without_timing(value: object) -> object:
    """``value`` with the timing fields removed from every dict inside it."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def trained_epochs(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int]]:
    """(model, epoch) of every epoch-end log line of the training loop captured so far."""
    return [r.args[:2] for r in caplog.records if "| train loss" in r.getMessage()]


# --- the complete folder (real `python train.py`, shared fixture) ----------------------------------------------------


def test_train_py_writes_weights_configs_and_tokenizers(tiny_model_folder: Path) -> None:
    """Every model has a config matching the CLI sizes and fp16 safetensors weights; both tokenizers are there."""
    assert model_names(tiny_model_folder) == [name for name in MODEL_NAMES if name in TINY_MODELS]  # display order
    for name in TINY_MODELS:
        config = json.loads((tiny_model_folder / name / "config.json").read_text())
        assert config["attention_type"] == (None if name == BASELINE else name)
        assert (config["embedding_size"], config["encoder_hidden_size"], config["decoder_hidden_size"]) == (16, 8, 16)
        assert (config["source_lang"], config["target_lang"]) == ("de", "en")
        with safe_open(tiny_model_folder / name / "model.safetensors", framework="pt") as weights:
            dtypes = {weights.get_tensor(key).dtype for key in weights.keys()}
        assert dtypes == {torch.float16}
        model = load_model(tiny_model_folder, name)
        assert next(model.parameters()).dtype == torch.float32
    for lang in ("de", "en"):
        tokenizer = load_tokenizer(tiny_model_folder / f"tokenizer.{lang}.json")
        assert 4 < tokenizer.get_vocab_size() <= 200
    assert {f"checkpoints/{name}.pt" for name in TINY_MODELS} <= files_in(tiny_model_folder)


def test_train_py_writes_metrics_for_every_model(tiny_model_folder: Path) -> None:
    """metrics.json holds BLEU, chrF, lowercased BLEU, signatures and by-length buckets for each model."""
    metrics = read_json(tiny_model_folder / "metrics.json")
    assert list(metrics["models"]) == TINY_MODELS
    assert metrics["beam_size"] == 2 and metrics["split"] == "test"
    assert (metrics["source_lang"], metrics["target_lang"]) == ("de", "en")
    assert metrics["num_train_samples"] == TINY_SPLIT_SIZES["train"]
    assert metrics["num_eval_samples"] == TINY_SPLIT_SIZES["test"]
    for name, m in metrics["models"].items():
        for key in ("bleu", "chrf", "bleu_lc"):
            assert 0.0 <= m[key] <= 100.0, (name, key)
        assert m["chrf"] > 0.0, name  # word-for-word synthetic data: even two tiny epochs get some characters right
        assert set(m["signatures"]) == {"bleu", "bleu_lc", "chrf"}
        assert m["signatures"]["bleu"].startswith("nrefs:1|") and "lc" in m["signatures"]["bleu_lc"]
        assert m["num_sentences"] == TINY_SPLIT_SIZES["test"]
        assert m["by_length"] and sum(b["num_sentences"] for b in m["by_length"]) == TINY_SPLIT_SIZES["test"]
        assert m["best_epoch"] in (1, 2) and m["num_parameters"] > 0


def test_train_py_writes_history_and_attention_evolution(tiny_model_folder: Path) -> None:
    """history.json has one row per epoch per model; attention_evolution.json covers the attention models only."""
    history = read_json(tiny_model_folder / "history.json")
    assert list(history) == TINY_MODELS
    for name, rows in history.items():
        assert [row["epoch"] for row in rows] == [1, 2], name
        for row in rows:
            assert HISTORY_FIELDS <= set(row)
            assert all(math.isfinite(row[key]) for key in HISTORY_FIELDS)
            assert row["val_perplexity"] == pytest.approx(math.exp(row["val_loss"]), rel=1e-3)
            assert row["tokens_per_second"] > 0
    evolution = read_json(tiny_model_folder / "attention_evolution.json")
    assert set(evolution["models"]) == {name for name in TINY_MODELS if name != BASELINE}
    assert evolution["sentences"] and all(8 <= len(s.split()) <= 16 for s in evolution["sentences"])
    for name, snapshots in evolution["models"].items():
        assert [s["epoch"] for s in snapshots] == [1, 2], name
        for snapshot in snapshots:
            assert len(snapshot["translations"]) == len(evolution["sentences"])
            for t in snapshot["translations"]:
                assert len(t["attention"]) == len(t["target_pieces"])
                for row in t["attention"]:
                    assert len(row) == len(t["source_pieces"])
                    assert sum(row) == pytest.approx(1.0, abs=0.01)  # a distribution over source positions


def test_train_py_writes_model_card_with_eval_results(tiny_model_folder: Path) -> None:
    """README.md's YAML has a model-index with test BLEU and chrF of every model, equal to metrics.json."""
    metrics = read_json(tiny_model_folder / "metrics.json")
    card = ModelCard.load(tiny_model_folder / "README.md")
    data = card.data
    assert data.language == ["de", "en"] and data.pipeline_tag == "translation"
    reported = {result.metric_name: result.metric_value for result in data.eval_results}
    expected = {}
    for name, m in metrics["models"].items():
        expected[f"BLEU ({name})"] = m["bleu"]
        expected[f"chrF ({name})"] = m["chrf"]
    assert reported == expected
    assert {result.dataset_split for result in data.eval_results} == {"test"}
    assert "model-index" in card.content


def test_metrics_test_scores_are_a_fresh_evaluation_of_the_saved_models(
    tiny_model_folder: Path, tiny_dataset: Path
) -> None:
    """Translating the test split again with the saved models (the Translator, beam size as recorded) and scoring
    with sacreBLEU gives exactly metrics.json's BLEU, lowercased BLEU and chrF: the scores are those of the weights
    in the folder."""
    metrics = read_json(tiny_model_folder / "metrics.json")
    rows = [json.loads(line) for line in (tiny_dataset / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    sources, references = [row["de"] for row in rows], [row["en"] for row in rows]
    translator = Translator(tiny_model_folder)
    for name in TINY_MODELS:
        hypotheses = [t.text for t in translator.translate(sources, name, beam_size=metrics["beam_size"])]
        fresh = corpus_scores(hypotheses, references)
        recorded = metrics["models"][name]
        assert (recorded["bleu"], recorded["bleu_lc"], recorded["chrf"]) == (
            fresh["bleu"], fresh["bleu_lc"], fresh["chrf"]
        ), name  # fmt: skip


def test_learning_rate_follows_the_schedule(tiny_model_folder: Path) -> None:
    """200 pairs in batches of 16 are 13 steps an epoch, 26 in all; a warm-up of 3% rounds to one step. After epoch
    1 (13 steps) the rate is 2e-3 * (0.1 + 0.45 * (1 + cos(pi * 12 / 25))), after the last step it is 10% of the
    peak: the schedule by hand, as history.json records it."""
    peak = TrainingArguments().learning_rate
    expected = [peak * (0.1 + 0.45 * (1 + math.cos(math.pi * 12 / 25))), peak * 0.1]
    for name, rows in read_json(tiny_model_folder / "history.json").items():
        assert [row["learning_rate"] for row in rows] == pytest.approx(expected, rel=1e-9), name


def test_the_saved_weights_are_those_of_the_best_validation_epoch(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation BLEU 5, 9, 9 (fed in place of the real validation): the folder holds epoch 2's weights (the first
    best; a tie does not replace it), not epoch 1's or 3's, and metrics.json and history.json say so."""
    bleus = iter([5.0, 9.0, 9.0])
    seen = []  # the weights of every epoch, as validation got them

    def validate(model: torch.nn.Module, *args: object) -> tuple[float, float]:
        seen.append({key: value.detach().clone() for key, value in model.state_dict().items()})
        return 1.0, next(bleus)

    monkeypatch.setattr(training, "validate", validate)
    output = tmp_path / "out"
    metrics = run_tiny_training(output, "--attention", "additive", "--num_train_epochs", "3")

    def as_saved(weights: dict) -> dict:
        return {key: value.half().float() for key, value in weights.items()}  # the folder keeps fp16 weights

    saved = load_model(output, "additive").state_dict()
    assert len(seen) == 3 and saved.keys() == seen[1].keys()
    assert all(torch.equal(saved[key], value) for key, value in as_saved(seen[1]).items())
    for other in (seen[0], seen[2]):
        assert not all(torch.equal(saved[key], value) for key, value in as_saved(other).items())
    assert (metrics["models"]["additive"]["best_epoch"], metrics["models"]["additive"]["best_val_bleu"]) == (2, 9.0)
    assert [row["val_bleu"] for row in read_json(output / "history.json")["additive"]] == [5.0, 9.0, 9.0]


# --- exact resumption (in-process) -------------------------------------------------------------------------------


def test_resumed_run_equals_uninterrupted_run(
    tmp_path: Path,
    run_tiny_training: Callable[..., dict | None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Interrupting after baseline's epoch-1 checkpoint and resuming gives bit-identical weights, optimizer and
    scheduler state, metrics, history and attention maps to an uninterrupted 3-epoch run (the finished model is not
    retrained)."""
    caplog.set_level(logging.INFO, logger="attention_demo.training")
    args = ("--num_train_epochs", "3", "--attention", "additive", "baseline")
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    run_tiny_training(uninterrupted, *args)

    # Interrupt right after the first baseline checkpoint is in place (as Ctrl-C after that epoch would).
    real_replace = os.replace

    def replace_then_interrupt(src: str | Path, dst: str | Path) -> None:
        real_replace(src, dst)
        if Path(dst) == resumed / "checkpoints" / "baseline.pt":
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_tiny_training(resumed, *args)
    monkeypatch.setattr(os, "replace", real_replace)
    assert torch.load(resumed / "checkpoints" / "baseline.pt", weights_only=False)["state"]["epoch"] == 1
    assert list(read_json(resumed / "metrics.json")["models"]) == ["additive"]

    caplog.clear()
    run_tiny_training(resumed, *args, "--resume_from_checkpoint")
    assert trained_epochs(caplog) == [("baseline", 2), ("baseline", 3)]  # only the missing epochs ran

    for name in ("additive", "baseline"):
        expected = load_model(uninterrupted, name).state_dict()
        actual = load_model(resumed, name).state_dict()
        assert expected.keys() == actual.keys()
        assert all(torch.equal(expected[k], actual[k]) for k in expected), name
        expected_ckpt = torch.load(uninterrupted / "checkpoints" / f"{name}.pt", weights_only=False)
        actual_ckpt = torch.load(resumed / "checkpoints" / f"{name}.pt", weights_only=False)
        assert_same_training_state(expected_ckpt, actual_ckpt)
    for filename in ("metrics.json", "history.json", "attention_evolution.json"):
        expected_json = without_timing(read_json(uninterrupted / filename))
        actual_json = without_timing(read_json(resumed / filename))
        assert actual_json == expected_json, filename


# --- push to the Hub (HfApi replaced by recorders) ---------------------------------------------------------------


class HubRecorder:
    """Stands in for ``HfApi.create_repo`` / ``HfApi.upload_folder``; remembers calls and the files present then."""

    def __init__(self, fail_upload: Exception | None = None) -> None:
        self.fail_upload = fail_upload
        self.created: list[dict] = []
        self.uploads: list[dict] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> HubRecorder:
        recorder = self

        def create_repo(api: HfApi, repo_id: str, **kwargs: object) -> str:
            recorder.created.append({"repo_id": repo_id, "token": api.token, **kwargs})
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(api: HfApi, **kwargs: object) -> str:
            folder = Path(str(kwargs["folder_path"]))
            uploaded = set(filter_repo_objects(sorted(files_in(folder)), ignore_patterns=kwargs.get("ignore_patterns")))
            recorder.uploads.append({**kwargs, "files": uploaded, "token": api.token})
            if recorder.fail_upload:
                raise recorder.fail_upload
            return f"https://huggingface.co/{kwargs['repo_id']}/commit/0123abc"

        monkeypatch.setattr(HfApi, "create_repo", create_repo)
        monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
        monkeypatch.setattr(hub, "hub_reachable", lambda *args, **kwargs: True)
        return self


def expected_upload(names: list[str]) -> set[str]:
    """The files a pushed model repo must contain."""
    files = {"README.md", "metrics.json", "history.json", "attention_evolution.json"}
    files |= {"tokenizer.de.json", "tokenizer.en.json"}
    return files | {f"{name}/{f}" for name in names for f in ("config.json", "model.safetensors")}


def test_push_to_hub_uploads_the_complete_folder_without_checkpoints(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--push_to_hub creates the model repo and uploads the finished folder (card included), never checkpoints."""
    recorder = HubRecorder().install(monkeypatch)
    output = tmp_path / "out"
    run_tiny_training(
        output, "--attention", "additive", "baseline", "--push_to_hub", "--hub_model_id", "user/repo",
        "--hub_token", "hf_test_token",
    )  # fmt: skip

    assert [(c["repo_id"], c["repo_type"], c["exist_ok"], c["token"]) for c in recorder.created] == [
        ("user/repo", "model", True, "hf_test_token")
    ]
    (upload,) = recorder.uploads
    assert upload["repo_id"] == "user/repo" and upload["repo_type"] == "model"
    assert Path(upload["folder_path"]) == output and upload["token"] == "hf_test_token"
    assert any(f.startswith("checkpoints/") for f in files_in(output))  # present locally ...
    assert not any(f.startswith("checkpoints/") or f.endswith(".tmp") for f in upload["files"])  # ... never pushed
    assert expected_upload(["additive", "baseline"]) <= upload["files"]
    card = ModelCard.load(output / "README.md")
    assert card.data.model_name == "user/repo" and 'Translator.from_pretrained("user/repo")' in card.content


def test_failed_push_keeps_the_folder_complete_and_a_rerun_pushes_without_retraining(
    tmp_path: Path,
    tiny_model_folder: Path,
    run_tiny_training: Callable[..., dict | None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An upload error is logged with what to do and re-raised; the local folder stays complete; the advised rerun
    (--push_to_hub --resume_from_checkpoint) uploads it without training again."""
    output = tmp_path / "out"
    shutil.copytree(tiny_model_folder, output)
    push = ("--attention", *TINY_MODELS, "--push_to_hub", "--hub_model_id", "user/repo", "--resume_from_checkpoint")
    HubRecorder(fail_upload=RuntimeError("503 Service Unavailable")).install(monkeypatch)
    with pytest.raises(RuntimeError, match="503"):
        run_tiny_training(output, *push)
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "attention_demo.training"]
    message = error.getMessage()
    assert "user/repo" in message and "503" in message and str(output) in message
    assert "--resume_from_checkpoint" in message
    assert expected_upload(TINY_MODELS) <= files_in(output)
    assert list(read_json(output / "metrics.json")["models"]) == TINY_MODELS
    for name in TINY_MODELS:
        load_model(output, name)

    recorder = HubRecorder().install(monkeypatch)
    caplog.clear()
    capsys.readouterr()
    caplog.set_level(logging.INFO, logger="attention_demo.training")
    run_tiny_training(output, *push)
    assert trained_epochs(caplog) == []  # nothing retrained
    assert capsys.readouterr().out.count("after epoch 2") == len(TINY_MODELS)
    (upload,) = recorder.uploads
    assert expected_upload(TINY_MODELS) <= upload["files"]
    assert not any(f.startswith("checkpoints/") for f in upload["files"])


def test_push_to_hub_without_hub_model_id_is_refused(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--push_to_hub without --hub_model_id fails with a message naming the missing option, uploading nothing."""
    recorder = HubRecorder().install(monkeypatch)
    with pytest.raises(ValueError, match="--hub_model_id"):
        run_tiny_training(tmp_path / "out", "--attention", "baseline", "--num_train_epochs", "1", "--push_to_hub")
    assert recorder.created == [] and recorder.uploads == []
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_corrupt_checkpoint_gives_a_clear_error_naming_the_file(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None]
) -> None:
    """A truncated checkpoint is refused with an error that names the file and says what to do; nothing half-loads."""
    output = tmp_path / "run"
    run_tiny_training(output, "--num_train_epochs", "1", "--attention", "dot")
    checkpoint = output / "checkpoints" / "dot.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match="cannot be resumed") as error:
        run_tiny_training(output, "--num_train_epochs", "2", "--attention", "dot", "--resume_from_checkpoint")
    assert str(checkpoint) in str(error.value) and "Delete it" in str(error.value)


def test_retraining_a_model_drops_its_stale_evidence_and_alignment(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None]
) -> None:
    """Entries computed from a model's old weights go when new weights replace them; the other models' stay."""
    output = tmp_path / "out"
    run_tiny_training(output, "--attention", "additive", "dot", "--num_train_epochs", "1")
    path = output / "metrics.json"
    metrics = json.loads(path.read_text())
    for section in ("evidence", "alignment"):
        metrics[section] = {"models": {"additive": {"old": 1}, "dot": {"old": 2}}}
    path.write_text(json.dumps(metrics))
    (output / "checkpoints" / "additive.pt").unlink()  # retrain additive from scratch into the same folder
    run_tiny_training(output, "--attention", "additive", "dot", "--num_train_epochs", "1", "--resume_from_checkpoint")
    after = json.loads(path.read_text())
    for section in ("evidence", "alignment"):
        assert after[section]["models"] == {"dot": {"old": 2}}, section


# --- agreement training: both directions at once ---------------------------------------------------------------------


def test_agreement_training_writes_both_directions(
    tmp_path: Path, run_tiny_training: Callable[..., dict | None], caplog: pytest.LogCaptureFixture
) -> None:
    """``--agreement_weight`` trains ``general`` de->en and en->de jointly: each folder gets its own
    ``general-agreement`` model (its own languages, loadable, translating), scored in its metrics.json with the
    weight, and history rows with the agreement term; a resumed run continues the pair's one checkpoint."""
    caplog.set_level(logging.INFO, logger="attention_demo.training")
    forward, backward = tmp_path / "de-en", tmp_path / "en-de"
    args = ("--attention", "general", "--agreement_weight", "5", "--reverse_output_dir", str(backward))
    metrics = run_tiny_training(forward, *args, "--num_train_epochs", "1")
    assert metrics is not None and set(metrics["models"]) == {"general-agreement"}
    for folder, (source, target) in ((forward, ("de", "en")), (backward, ("en", "de"))):
        written = read_json(folder / "metrics.json")
        assert (written["source_lang"], written["target_lang"]) == (source, target)
        entry = written["models"]["general-agreement"]
        assert entry["agreement_weight"] == 5 and entry["bleu"] >= 0
        model = load_model(folder, "general-agreement")
        assert (model.config.attention_type, model.config.source_lang, model.config.target_lang) == (
            "general",
            source,
            target,
        )
        (row,) = read_json(folder / "history.json")["general-agreement"]
        assert row["agreement"] > 0
        assert (folder / "README.md").is_file() and (folder / "test_examples.json").is_file()
    assert (forward / "checkpoints" / "general-agreement.pt").is_file()
    assert not (backward / "checkpoints" / "general-agreement.pt").exists()

    run_tiny_training(forward, *args, "--num_train_epochs", "2", "--resume_from_checkpoint")
    for folder in (forward, backward):  # epoch 1's row came from the checkpoint: only epoch 2 was trained
        assert [row["epoch"] for row in read_json(folder / "history.json")["general-agreement"]] == [1, 2]
    assert caplog.text.count("[general-agreement] epoch 1/") == 2  # one line per direction, in the first run only


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--agreement_weight", "1"), "needs --reverse_output_dir"),
        (("--agreement_weight", "1", "--reverse_output_dir", "x", "--attention", "baseline"), "leave baseline out"),
        (("--agreement_weight", "1", "--reverse_output_dir", "x", "--attention", "dot", "--null_slot"), "cannot be"),
    ],
)
def test_agreement_arguments_that_do_not_fit_are_refused(
    extra: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        training.parse_args(["--output_dir", "out", *extra])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
