"""Command lines that fail well: checked arguments, one-line errors, and a bad input line that never sinks a batch.

The table runs each invocation as a real subprocess (``train.py``, ``python -m attention_demo.translate``, ``python -m
attention_demo.evidence``) and checks the exit status (2: usage error, 1: expected failure), the one ``error:`` line,
that stderr holds no traceback, and that no output folder was created or changed. Each process imports torch (about
2 s of CPU), so the processes run side by side, one per core, and the table holds the invocations of issue 13 and one
of each other kind of check; the range of every training argument is checked in-process, from the same metadata the
parser is built from.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SUBPROCESS_TIMEOUT_S, TINY_MODEL_ARGS, offline_env

from attention_demo import cli
from attention_demo.training import (
    MIN_VOCAB_SIZE,
    NUMBER_BOUNDS,
    TrainingArguments,
    check_output_dir,
    parse_args,
)
from attention_demo.training import main as train_main
from attention_demo.translate import main as translate_main
from attention_demo.translate import read_lines

UNREACHABLE_HUB = {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}  # no Hub, and nothing listens there
COMMANDS = {
    "train": ["train.py"],
    "translate": ["-m", "attention_demo.translate"],
    "evidence": ["-m", "attention_demo.evidence"],
    "alignment": ["-m", "attention_demo.alignment"],
}


def copy_models(models: Path, out: Path) -> None:
    """``out`` becomes a copy of the tiny trained folder (checkpoints and recorded settings included)."""
    shutil.copytree(models, out)


def truncate_dot_checkpoint(models: Path, out: Path) -> None:
    """A copy of the tiny folder whose ``dot`` checkpoint lost its second half."""
    copy_models(models, out)
    checkpoint = out / "checkpoints" / "dot.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])


@dataclass(frozen=True)
class Case:
    """One invocation; ``{data}`` (the tiny dataset), ``{out}`` (an output folder), ``{file}`` (a file) and ``{tmp}``
    (the test's empty folder) in ``args`` are filled in per test."""

    command: str
    args: tuple[str, ...]
    status: int
    message: str  # a regular expression the error line must match
    prepare: Callable[[Path, Path], None] | None = None  # (tiny model folder, out): sets ``out`` up beforehand
    env: dict[str, str] = field(default_factory=dict)
    traceback: bool = False  # --debug: the traceback is wanted


# train.py cases start from the tiny dataset and sizes, so that a check that is missing costs seconds, not minutes.
CASES = {
    # --- the invocations of issue 13 ---
    "train-hub-down": Case(
        "train",
        ("--dataset_name", "bentrevett/multi30k"),
        1,
        r"Hub \(http://127\.0\.0\.1:9\) is not reachable, so dataset 'bentrevett/multi30k' cannot be downloaded; "
        r"pass a local folder to --dataset_name",
        env=UNREACHABLE_HUB,
    ),
    "train-missing-folder": Case(
        "train", ("--dataset_name", "/no/such/folder"), 1, r"The dataset folder '/no/such/folder' does not exist\.$"
    ),
    "train-batch-size-0": Case(
        "train",
        ("--per_device_train_batch_size", "0"),
        2,
        r"argument --per_device_train_batch_size: expected an integer >= 1, got '0'",
    ),
    "train-max-train-samples-0": Case(
        "train", ("--max_train_samples", "0"), 2, r"argument --max_train_samples: expected an integer >= 1, got '0'"
    ),
    "train-vocab-size-3": Case(
        "train", ("--vocab_size", "3"), 2, rf"argument --vocab_size: expected an integer >= {MIN_VOCAB_SIZE}, got '3'"
    ),
    "train-eval-beam-0": Case(
        "train",
        ("--eval_beam_size", "0"),
        2,
        rf"argument --eval_beam_size: expected an integer from 1 to {cli.MAX_BEAM_SIZE}, got '0'",
    ),
    "train-dropout-1.5": Case(
        "train", ("--dropout", "1.5"), 2, r"argument --dropout: expected a number >= 0 and < 1, got '1\.5'"
    ),
    "train-num-layers-0": Case(
        "train", ("--num_layers", "0"), 2, r"argument --num_layers: expected an integer >= 1, got '0'"
    ),
    "train-learning-rate-nan": Case(
        "train", ("--learning_rate", "nan"), 2, r"argument --learning_rate: expected a number > 0 and <= 1, got 'nan'"
    ),
    "train-mixed-precision-fp64": Case(
        "train",
        ("--mixed_precision", "fp64"),
        2,
        r"argument --mixed_precision: invalid choice: 'fp64' \(choose from 'auto', 'no', .*'bf16'",
    ),
    "train-output-dir-is-a-file": Case("train", ("--output_dir", "{file}"), 1, r"\{file\} is a file, not a folder"),
    "translate-beam-0": Case(
        "translate", ("--beam_size", "0"), 2, r"argument --beam_size: expected an integer from 1 to \d+, got '0'"
    ),
    "translate-beam-500": Case(
        "translate", ("--beam_size", "500"), 2, r"argument --beam_size: expected an integer from 1 to \d+, got '500'"
    ),
    "translate-batch-size-0": Case(
        "translate", ("--batch_size", "0"), 2, r"argument --batch_size: expected an integer >= 1, got '0'"
    ),
    "evidence-missing-folder": Case(
        "evidence",
        ("--dataset_name", "/no/such/folder", "--model", "{tmp}"),  # an existing folder (without models)
        1,
        r"The dataset folder '/no/such/folder' does not exist",
    ),
    "alignment-beam-0": Case(
        "alignment", ("--beam_size", "0"), 2, r"argument --beam_size: expected an integer from 1 to \d+, got '0'"
    ),
    "alignment-hub-model": Case(
        "alignment",
        ("--model", "someone/models"),
        1,
        r"--model 'someone/models' is a Hub id, but the alignment .* is written into the model folder",
    ),
    # --- one of each other kind of check ---
    "train-dot-sizes": Case(
        "train",
        ("--attention", "dot", "--decoder_hidden_size", "20"),
        2,
        r"--attention dot needs --decoder_hidden_size equal to 2 \* --encoder_hidden_size \(16\), got 20",
    ),
    "train-missing-language": Case(
        "train", ("--target_lang", "fr"), 1, r"has no language 'fr' in its 'train' split; it has: de, en\."
    ),
    "train-resume-other-settings": Case(
        "train",
        ("--resume_from_checkpoint", "--learning_rate", "0.01", "--seed", "7"),
        1,
        r"--resume_from_checkpoint with other settings than the run that wrote \{out\}: --learning_rate 0\.01 "
        r"\(was 0\.002\), --seed 7 \(was 42\)\. .*delete \{out\}/checkpoints",
        prepare=copy_models,
    ),
    "train-corrupt-checkpoint": Case(
        "train",
        ("--resume_from_checkpoint", "--attention", "dot"),
        1,
        r"Checkpoint \{out\}/checkpoints/dot\.pt cannot be resumed .*Delete it",
        prepare=truncate_dot_checkpoint,
    ),
    "translate-hub-down": Case(
        "translate",
        ("--model", "someone/not-cached"),
        1,
        r"Hub is not reachable and 'someone/not-cached' is not in the local cache; pass a local model folder",
        env=UNREACHABLE_HUB,
    ),
    "train-debug-traceback": Case(
        "train",
        ("--dataset_name", "./no-such-folder", "--debug"),
        1,
        r"The dataset folder './no-such-folder' does not exist",
        traceback=True,
    ),
}
BASE_ARGS = {
    "train": ("--dataset_name", "{data}", "--output_dir", "{out}", *TINY_MODEL_ARGS),
    "translate": ("--model", "{out}"),  # a missing check would end in "does not exist" (status 1), never hang
    "evidence": ("--dataset_name", "{data}", "--model", "{out}"),
    "alignment": ("--dataset_name", "{data}", "--model", "{out}"),
}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, modification time) of every file under ``folder``; empty when it does not exist."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@dataclass
class Run:
    """One case started in its own folder: where it wrote, what was there before, and its process's result."""

    out: Path
    file: Path
    before: dict[str, tuple[int, int]]
    result: Future[subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def table_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path
) -> Iterator[dict[str, Run]]:
    """Every selected case of the table, started at once and run one process per core (each process is single
    threaded and spends most of its time importing torch)."""
    selected = [
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "function", None) is test_command_line_fails_with_one_error_line
    ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = {}
        for name in selected:
            case, folder = CASES[name], tmp_path_factory.mktemp(name)
            out, file = folder / "out", folder / "a-file"
            file.write_text("not a folder\n")
            if case.prepare:
                case.prepare(request.getfixturevalue("tiny_model_folder"), out)
            values = {"data": str(tiny_dataset), "out": str(out), "file": str(file), "tmp": str(folder)}
            argv = [a.format(**values) for a in (*BASE_ARGS[case.command], *case.args)]
            command = [sys.executable, *COMMANDS[case.command], *argv]
            result = pool.submit(
                subprocess.run,
                command,
                cwd=REPO_ROOT,
                env=offline_env(**case.env),
                input="",
                capture_output=True,
                text=True,
                timeout=SUBPROCESS_TIMEOUT_S,
            )
            runs[name] = Run(out, file, snapshot(out), result)
        yield runs


@pytest.mark.parametrize("name", list(CASES))
def test_command_line_fails_with_one_error_line(name: str, table_runs: dict[str, Run]) -> None:
    """Each invocation exits with its status and one ``error:`` line (the last on stderr) that matches the table; no
    traceback unless --debug; no output folder created, and a folder that existed is left unchanged."""
    case, run = CASES[name], table_runs[name]
    result = run.result.result()
    assert result.returncode == case.status, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr[-3000:]
    expected = case.message.replace(r"\{out\}", re.escape(str(run.out))).replace(r"\{file\}", re.escape(str(run.file)))
    assert re.search(expected, errors[0]), errors[0]
    assert ("Traceback" in result.stderr) == case.traceback
    if case.status == 2:
        assert result.stdout == ""
    assert snapshot(run.out) == run.before  # nothing half-written: no new folder, no file added or rewritten


def test_translate_cli_translates_every_other_line_around_a_bad_one(tiny_model_folder: Path) -> None:
    """Undecodable bytes in the middle of stdin become U+FFFD with a warning naming the line; every line still gives
    exactly one output line, and each equals the Translator's output for the same text cleaned independently (with
    Python's "replace" decoding)."""
    from attention_demo.translate import Translator

    raw_lines = [
        b"Die katze sieht die hund im park .",
        b"Die kleine m\xe4dchen \xff h\xf6rt die vogel .",  # Latin-1 umlauts and a byte that is never UTF-8
        b"",
        b"Die hund \xed\xa0\x80 mag die ball .",  # a UTF-16 surrogate encoded as if it were a character
        "Die alte frau trägt die ball am strand .".encode(),
    ]
    stdin = b"\n".join(raw_lines) + b"\n"
    command = [sys.executable, *COMMANDS["translate"], "--model", str(tiny_model_folder), "--beam_size", "2"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=offline_env(), input=stdin, capture_output=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    outputs = result.stdout.decode().split("\n")
    assert outputs[-1] == "" and len(outputs) - 1 == len(raw_lines)
    cleaned = [line.decode("utf-8", errors="replace") for line in raw_lines]
    expected = [t.text for t in Translator(tiny_model_folder).translate(cleaned, "additive", beam_size=2)]
    assert outputs[:-1] == expected
    assert all(outputs[i] for i in (0, 1, 3, 4)) and outputs[2] == ""
    warnings = [line for line in stderr.splitlines() if "U+FFFD" in line]
    assert len(warnings) == 2
    assert "line 2: 3 undecodable" in warnings[0] and "line 4: 3 undecodable" in warnings[1]
    assert "Traceback" not in stderr


def test_translate_cli_replaces_unpaired_surrogates_in_text_input(
    tiny_model_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Text that already holds lone surrogates (stdin replaced by a text stream) is cleaned the same way."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("Die katze .\nDie hund \ud800\udfff .\n"))
    assert translate_main(["--model", str(tiny_model_folder), "--beam_size", "1"]) == 0
    assert len(capsys.readouterr().out.split("\n")) == 3
    assert [r.getMessage() for r in caplog.records if "U+FFFD" in r.getMessage()] == [
        "line 2: 2 undecodable byte(s) or unpaired surrogate(s) replaced by U+FFFD"
    ]


# --- in-process: every argument's check, from the metadata the parser is built from ----------------------------------


def bad_values(f: object) -> list[str]:
    """Values just outside what the field allows, derived from its type and metadata."""
    kind, metadata = f.type.removesuffix(" | None"), f.metadata
    if kind == "bool":
        return ["maybe"]
    if "choices" in metadata:
        return ["no-such-choice"]
    if kind in ("int", "float"):
        step = 1 if kind == "int" else 0.001
        values = ["nan", "inf"] if kind == "float" else ["1.5", "ten"]
        for key, value in (("minimum", -step), ("maximum", step), ("above", 0), ("below", 0)):
            if key in metadata:
                values.append(str(metadata[key] + value))
        return values
    if metadata.get("type") is cli.language_code:
        return ["d e", "de/x"]
    if metadata.get("type") is cli.hub_id:
        return ["a/b/c", "no spaces"]
    return ["", "  "]


TRAINING_FIELDS = {f.name: f for f in fields(TrainingArguments)}


@pytest.mark.parametrize("name", list(TRAINING_FIELDS))
def test_every_training_argument_is_checked(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every field of TrainingArguments has a check: a number has a lower bound, a text its format or choices; each
    value just outside is refused with exit status 2 and one line naming the flag and the value."""
    f = TRAINING_FIELDS[name]
    kind = f.type.removesuffix(" | None")
    if kind in ("int", "float"):
        assert {"minimum", "above"} & set(f.metadata), f"--{name} needs a lower bound (metadata minimum or above)"
    assert set(f.metadata) <= {"help", "choices", "type", "resume_may_change", *NUMBER_BOUNDS}, f.metadata
    for value in bad_values(f):
        with pytest.raises(SystemExit) as exit_info:
            parse_args([f"--{name}", value])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2
        assert err.count("\n") == 1 and err.startswith(f"error: argument --{name}: ") and repr(value) in err, err


def test_defaults_and_boundary_values_are_accepted() -> None:
    """The defaults parse, and so do the bounds themselves where they are inclusive."""
    assert parse_args([]) == TrainingArguments()
    args = parse_args(["--vocab_size", str(MIN_VOCAB_SIZE), "--dropout", "0", "--eval_beam_size", "1"])
    assert (args.vocab_size, args.dropout, args.eval_beam_size) == (MIN_VOCAB_SIZE, 0.0, 1)
    args = parse_args(["--eval_beam_size", str(cli.MAX_BEAM_SIZE), "--warmup_ratio", "1", "--learning_rate", "1"])
    assert (args.eval_beam_size, args.warmup_ratio, args.learning_rate) == (cli.MAX_BEAM_SIZE, 1.0, 1.0)
    assert parse_args(["--tie_embeddings", "no", "--push_to_hub"]).tie_embeddings is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--source_lang", "en"], "--source_lang and --target_lang are both 'en'"),
        (["--attention", "dot", "baseline", "dot"], "--attention names dot more than once"),
        (["--attention", "nope"], "argument --attention: invalid choice: 'nope'"),
        (["--encoder_hidden_size", "100"], "--attention dot needs --decoder_hidden_size equal to 2 * "),
        (["--push_to_hub"], "--push_to_hub needs --hub_model_id"),
        (["--hub_model_id", "a/b/c", "--push_to_hub"], "argument --hub_model_id: expected a Hub repo id"),
    ],
)
def test_arguments_that_do_not_fit_together_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checks of several arguments together stop train.py's main with status 2 before anything is loaded."""
    with pytest.raises(SystemExit) as exit_info:
        train_main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_translate_negative_beam_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--beam_size -2 is a value, not an option, and it is refused like 0 and 500."""
    with pytest.raises(SystemExit) as exit_info:
        translate_main(["--beam_size", "-2"])
    assert exit_info.value.code == 2
    assert "argument --beam_size: expected an integer from 1 to" in capsys.readouterr().err


# --- in-process: the shared pieces -----------------------------------------------------------------------------------


def test_folder_or_hub_id_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local folders win; paths that look local but do not exist say so; only name and owner/name go to the Hub."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "owner" / "name").mkdir(parents=True)
    (tmp_path / "a-file").write_text("x")
    assert cli.folder_or_hub_id("owner/name", "model") == Path("owner/name")  # exists locally: a folder
    assert cli.folder_or_hub_id("~/owner", "model") == tmp_path / "owner"
    assert cli.folder_or_hub_id("someone/model", "model") == "someone/model"
    assert cli.folder_or_hub_id("wmt16", "dataset") == "wmt16"
    for missing in ("/no/such", "./no-such", "../no-such", "~/no-such", "a/b/c", "no such name", "a-file", " "):
        with pytest.raises(FileNotFoundError, match="does not exist|empty"):
            cli.folder_or_hub_id(missing, "dataset")


@pytest.mark.parametrize("depth", [0, 2])
def test_output_dir_inside_a_file_is_refused_before_anything_is_written(depth: int, tmp_path: Path) -> None:
    """An output folder that is a file, or lies below one, is an expected failure naming the file."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    output = blocker.joinpath(*["sub"] * depth)
    with pytest.raises(cli.CommandLineError, match=re.escape(f"{blocker} is a file, not a folder")):
        check_output_dir(TrainingArguments(output_dir=str(output)))


def test_unreadable_dataset_rows_are_a_dataset_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data file that is not JSON Lines is an expected failure (DatasetError) that says what is wrong with it."""
    import datasets

    from attention_demo.data import DatasetError, load_parallel_data

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "val", "test"):
        (folder / f"{split}.jsonl").write_text('{"de": "ein hund", "en": "a dog"}\n{"de": broken\n')
    with pytest.raises(DatasetError, match=r"Could not read dataset '.*data': .*JSON parse error"):
        load_parallel_data(str(folder), "de", "en")


def test_read_lines_splits_at_newlines_only() -> None:
    """Only "\\n" ends a line (a CRLF's "\\r" is dropped); a stray "\\r" or U+2028 stays inside its line; a missing
    final newline still ends the last line; undecodable bytes become lone surrogates."""
    raw = "a\r\nb\rc\u2028d\n\nlast".encode() + b" \xff"
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    assert read_lines(stream) == ["a", "b\rc\u2028d", "", "last \udcff"]
    assert read_lines(io.StringIO("")) == [] and read_lines(io.StringIO("\n")) == [""]


def test_report_failures(capsys: pytest.CaptureFixture[str]) -> None:
    """An expected failure is one line and status 1 (with the traceback under --debug); anything else propagates."""

    def fail(error: Exception) -> Callable[[], int]:
        def work() -> int:
            raise error

        return work

    assert cli.report_failures(fail(FileNotFoundError("no\n  folder"))) == 1
    assert capsys.readouterr().err == "error: no folder\n"
    assert cli.report_failures(fail(KeyError("x")), expected=(KeyError,), debug=True) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("error: 'x'\n")
    with pytest.raises(ZeroDivisionError):
        cli.report_failures(fail(ZeroDivisionError("a bug")))
    assert cli.report_failures(lambda: None) == 0


def test_number_type_describes_what_is_allowed() -> None:
    """The message of a refused value says what is allowed; accepted values keep their type."""
    beam = cli.Number(int, minimum=1, maximum=50)
    assert beam("7") == 7 and isinstance(beam("7"), int)
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected an integer from 1 to 50, got '5\.0'"):
        beam("5.0")
    rate = cli.Number(float, above=0, maximum=1)
    assert rate("1e-3") == 0.001
    for value in ("0", "-1", "1.01", "inf", "nan", "fast"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"a number > 0 and <= 1"):
            rate(value)


# --- in-process: the arguments and set-up the commands share ---------------------------------------------------------


def test_corpus_command_parser_gives_every_corpus_command_the_same_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--model (the bundled folder by default), --dataset_name (required), --dataset_config_name, --max_samples (an
    integer >= 1) and --names, plus --debug; a command adds its own arguments."""
    parser = cli.corpus_command_parser("prog", "what it does", names_default="all of them", samples="test lines")
    cli.add_beam_size_argument(parser, "beam")
    args = parser.parse_args(["--dataset_name", "data"])
    assert vars(args) == {
        "debug": False,
        "model": cli.DEFAULT_MODEL_FOLDER,
        "dataset_name": "data",
        "dataset_config_name": None,
        "max_samples": None,
        "names": None,
        "beam_size": cli.DEFAULT_BEAM_SIZE,
    }
    args = parser.parse_args(["--dataset_name", "d", "--max_samples", "3", "--names", "a", "b", "--beam_size", "50"])
    assert (args.max_samples, args.names, args.beam_size) == (3, ["a", "b"], 50)
    help_text = " ".join(parser.format_help().split())
    assert "the first N test lines (default: all); an integer >= 1" in help_text
    assert "models (default: all of them)" in help_text and "beam; an integer from 1 to 50" in help_text
    for bad, message in (
        ([], "the following arguments are required: --dataset_name"),
        (["--dataset_name", " "], "argument --dataset_name: expected a non-empty value"),
        (["--dataset_name", "d", "--max_samples", "0"], "argument --max_samples: expected an integer >= 1, got '0'"),
        (["--dataset_name", "d", "--beam_size", "51"], "argument --beam_size: expected an integer from 1 to 50"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(bad)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err, err


def test_run_corpus_command_checks_the_folder_and_the_dataset_before_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The work runs only with a local folder and a dataset that exists; every failure is one line and status 1,
    and an expected exception of the work is reported the same way."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    parser = cli.corpus_command_parser("prog", "what it does", "all", "sentences")
    (tmp_path / "data").mkdir()
    done = []

    def work(folder: Path) -> int:
        done.append(folder)
        return 0

    ok = parser.parse_args(["--model", str(tmp_path), "--dataset_name", str(tmp_path / "data")])
    assert cli.run_corpus_command(ok, "the numbers", work) == 0 and done == [tmp_path]
    assert isinstance(done[0], Path)
    for argv, message in (
        (["--model", "someone/models", "--dataset_name", "d"], "is a Hub id, but the numbers is written into"),
        (["--model", str(tmp_path / "none"), "--dataset_name", "d"], "The model folder '.*none' does not exist"),
        (["--model", str(tmp_path), "--dataset_name", str(tmp_path / "none")], "The dataset folder .* does not exist"),
    ):
        assert cli.run_corpus_command(parser.parse_args(argv), "the numbers", work) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err), err
    assert done == [tmp_path]  # none of them reached the work

    def missing_extra(folder: Path) -> int:
        raise ImportError("pip install the-extra")

    assert cli.run_corpus_command(ok, "the numbers", missing_extra, expected=(ImportError,)) == 1
    assert capsys.readouterr().err == "error: pip install the-extra\n"
    with pytest.raises(ImportError):
        cli.run_corpus_command(ok, "the numbers", missing_extra)  # not expected: a bug, with its traceback
