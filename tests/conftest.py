"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# No analytics or telemetry calls from any test (the network is closed anyway; this keeps them from even trying).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# Property-based tests (test_hostile_input.py): the same examples on every CI run, so that a failure is reproducible
# and a landing never depends on luck; HYPOTHESIS_PROFILE=explore draws new random examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# ---------------------------------------------------------------------------------------------------------------------
# Integration fixtures (test_train, test_translate, test_cli, test_accelerate, the app's tests, ...): a tiny generated
# parallel dataset, tiny model arguments, in-process training, and one tiny model folder trained once per session by
# the real `python train.py`, which every module that only reads a trained folder shares.
# ---------------------------------------------------------------------------------------------------------------------

TINY_MODEL_ARGS = [
    "--embedding_size", "16",
    "--encoder_hidden_size", "8",
    "--decoder_hidden_size", "16",
    "--attention_size", "8",
    "--vocab_size", "200",
    "--num_train_epochs", "2",
    "--per_device_train_batch_size", "16",
    "--eval_beam_size", "2",
    "--mixed_precision", "no",
]  # fmt: skip
TINY_MODELS = ["additive", "dot", "general", "baseline"]  # what tiny_model_folder holds (in training order): every kind
TINY_TEST_EXAMPLES = 10  # test pairs in its test_examples.json (the app's examples)
TINY_SPLIT_SIZES = {"train": 200, "val": 20, "test": 20}
SUBPROCESS_TIMEOUT_S = 300

# (German, English) building blocks: word-for-word translatable, so even a tiny model gets a non-zero BLEU.
_NOUNS = [
    ("hund", "dog"), ("katze", "cat"), ("mann", "man"), ("frau", "woman"), ("kind", "child"),
    ("junge", "boy"), ("mädchen", "girl"), ("vogel", "bird"), ("pferd", "horse"), ("ball", "ball"),
]  # fmt: skip
_ADJECTIVES = [("große", "big"), ("kleine", "small"), ("rote", "red"), ("alte", "old"), ("neue", "new")]
_VERBS = [("sieht", "sees"), ("mag", "likes"), ("sucht", "looks for"), ("hört", "hears"), ("trägt", "carries")]
_PLACES = [("im park", "in the park"), ("am strand", "on the beach"), ("im garten", "in the garden")]


def _tiny_pair(rng: random.Random) -> tuple[str, str]:
    """One synthetic (de, en) sentence pair of 5 to 13 German words."""
    (subject_de, subject_en), (object_de, object_en) = rng.sample(_NOUNS, 2)
    verb_de, verb_en = rng.choice(_VERBS)
    de, en = ["die"], ["the"]
    for noun_de, noun_en, verb in ((subject_de, subject_en, (verb_de, verb_en)), (object_de, object_en, None)):
        if rng.random() < 0.5:
            adjective_de, adjective_en = rng.choice(_ADJECTIVES)
            de.append(adjective_de)
            en.append(adjective_en)
        de.append(noun_de)
        en.append(noun_en)
        if verb:
            de += [verb[0], "die"]
            en += [verb[1], "the"]
    for probability, joiner in ((0.6, ""), (0.3, "und ")):
        if rng.random() < probability:
            place_de, place_en = rng.choice(_PLACES)
            de.append(joiner + place_de)
            en.append(("and " if joiner else "") + place_en)
    return " ".join(de).capitalize() + " .", " ".join(en).capitalize() + " ."


def write_tiny_dataset(folder: Path, sizes: dict[str, int] = TINY_SPLIT_SIZES, seed: int = 0) -> Path:
    """Write train/val/test.jsonl with flat "de"/"en" fields (the bentrevett/multi30k layout) into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, size in sizes.items():
        rows = [dict(zip(("de", "en"), _tiny_pair(rng), strict=True)) for _ in range(size)]
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / f"{split}.jsonl").write_text(text, encoding="utf-8")
    return folder


def offline_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses: one thread, no Hub access, the repo importable."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        CUDA_VISIBLE_DEVICES="",  # CPU only, also on a GPU machine
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def run_subprocess(command: list[str], stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command from the repo root with :func:`offline_env`, capturing text output."""
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=offline_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT_S,
    )


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generated parallel dataset folder (200/20/20 pairs), shared by the whole session (read-only)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture
def tiny_argv(tiny_dataset: Path) -> Callable[..., list[str]]:
    """Build ``train.py`` arguments for the tiny dataset and model; later ``extra`` arguments override earlier."""

    def build(output_dir: Path, *extra: str) -> list[str]:
        return ["--dataset_name", str(tiny_dataset), "--output_dir", str(output_dir), *TINY_MODEL_ARGS, *extra]

    return build


@pytest.fixture
def run_tiny_training(
    tiny_argv: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., dict | None]]:
    """Train in-process (``attention_demo.training.run``) with the Hub switched off; returns the metrics dict."""
    from accelerate.state import AcceleratorState

    from attention_demo.hub import hub_reachable
    from attention_demo.training import parse_args, run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # CPU only (effective unless CUDA is already initialised)
    hub_reachable.cache_clear()

    def train(output_dir: Path, *extra: str) -> dict | None:
        return run(parse_args(tiny_argv(output_dir, *extra)))

    yield train
    AcceleratorState._reset_state(reset_partial_state=True)  # the next Accelerator() may use other settings
    hub_reachable.cache_clear()


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """A model folder with every kind of model (``TINY_MODELS``; 2 epochs, so the attention evolution has a slider),
    written once per session by a real ``python train.py``. Shared by every module: read it, or copy it to change
    it."""
    output = tmp_path_factory.mktemp("tiny-models") / "tiny-de-en"
    argv = ["--dataset_name", str(tiny_dataset), "--output_dir", str(output), *TINY_MODEL_ARGS]
    argv += ["--num_test_examples", str(TINY_TEST_EXAMPLES), "--attention", *TINY_MODELS]
    result = run_subprocess([sys.executable, "train.py", *argv])
    if result.returncode != 0:
        pytest.fail(f"train.py failed with exit code {result.returncode}:\n{result.stderr[-5000:]}")
    return output


TINY_REVERSE_MODELS = ["general", "baseline"]  # what tiny_reverse_folder holds


@pytest.fixture(scope="session")
def tiny_reverse_folder(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """The other direction of ``tiny_model_folder``: en->de models (``TINY_REVERSE_MODELS``) with the same tokenizers
    (the same data and vocabulary size), written once per session by a real ``python train.py``."""
    output = tmp_path_factory.mktemp("tiny-models") / "tiny-en-de"
    argv = ["--dataset_name", str(tiny_dataset), "--output_dir", str(output), *TINY_MODEL_ARGS]
    argv += ["--num_test_examples", str(TINY_TEST_EXAMPLES), "--source_lang", "en", "--target_lang", "de"]
    result = run_subprocess([sys.executable, "train.py", *argv, "--attention", *TINY_REVERSE_MODELS])
    if result.returncode != 0:
        pytest.fail(f"train.py failed with exit code {result.returncode}:\n{result.stderr[-5000:]}")
    return output


# ---------------------------------------------------------------------------------------------------------------------
# Unit-test fixtures (test_attention, test_encoder, test_decoder, test_model, test_decoding, test_learning): tiny
# seeded models built directly from a ModelConfig, and random id sequences in the model's input format.
# ---------------------------------------------------------------------------------------------------------------------

UNIT_VOCAB_SIZE = 24  # ids 0..3 are <pad>, <unk>, <s>, </s>; 4..23 are "words"
UNIT_MODEL_SIZES = {
    "embedding_size": 16,
    "encoder_hidden_size": 8,
    "decoder_hidden_size": 16,  # = 2 * encoder_hidden_size, so that dot attention works
    "attention_size": 8,
    "dropout": 0.0,
}
# Imported here, not at the top: huggingface_hub reads HF_HUB_DISABLE_TELEMETRY (set above) when it is imported.
from attention_demo.model import BASELINE, MODEL_NAMES  # noqa: E402

ALL_ATTENTION_TYPES = [name for name in MODEL_NAMES if name != BASELINE]


if TYPE_CHECKING:
    import torch

    from attention_demo.model import ModelConfig, Seq2Seq


@pytest.fixture
def tiny_config() -> Callable[..., ModelConfig]:
    """Factory: ``tiny_config(attention_type, **overrides)`` -> a small :class:`ModelConfig` (None = baseline)."""
    from attention_demo.model import ModelConfig

    def build(attention_type: str | None = "additive", **overrides: object) -> ModelConfig:
        fields = {"src_vocab_size": UNIT_VOCAB_SIZE, "tgt_vocab_size": UNIT_VOCAB_SIZE, **UNIT_MODEL_SIZES}
        fields.update(overrides)
        return ModelConfig(attention_type=attention_type, **fields)

    return build


@pytest.fixture
def tiny_model(tiny_config: Callable[..., ModelConfig]) -> Callable[..., Seq2Seq]:
    """Factory: ``tiny_model(attention_type, seed=0, **overrides)`` -> a seeded, randomly initialised Seq2Seq in eval
    mode."""
    import torch

    from attention_demo.model import Seq2Seq

    def build(attention_type: str | None = "additive", seed: int = 0, **overrides: object) -> Seq2Seq:
        torch.manual_seed(seed)
        return Seq2Seq(tiny_config(attention_type, **overrides)).eval()

    return build


def random_sources(lengths: list[int], seed: int = 0, vocab_size: int = UNIT_VOCAB_SIZE) -> list[list[int]]:
    """Random source id lists with ``lengths`` words each, every one ending with ``</s>`` (id 3)."""
    rng = random.Random(seed)
    return [[rng.randrange(4, vocab_size) for _ in range(n)] + [3] for n in lengths]


# ---------------------------------------------------------------------------------------------------------------------
# Independent references: what a model predicts, computed by one plain teacher-forced forward pass (no carried hidden
# state, no batching tricks). Decoding and evidence tests compare the library's step-by-step code with these.
# ---------------------------------------------------------------------------------------------------------------------


def teacher_forced(model: Seq2Seq, src_ids: list[int], tgt_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One sentence teacher-forced through ``model(src, mask, <s> y_1 .. y_{T-1})``.

    Returns ``(T, V)`` float64 log-probabilities (row ``t`` is the distribution that produced ``tgt_ids[t]``) and the
    ``(T, S)`` attention weights (None for the baseline).
    """
    import torch

    from attention_demo.tokenizer import BOS_ID

    src = torch.tensor([list(src_ids)])
    tgt_in = torch.tensor([[BOS_ID, *list(tgt_ids)[:-1]]])
    with torch.no_grad():
        out = model(src, torch.ones_like(src, dtype=torch.bool), tgt_in)
    attention = None if out.attention is None else out.attention[0]
    return torch.log_softmax(out.logits[0].double(), dim=-1), attention


def next_logprobs(model: Seq2Seq, src_ids: list[int], prefix: list[int]) -> torch.Tensor:
    """``(V,)`` float64 log-probabilities of the word after ``prefix``, with <pad> and <s> (never generated) at -inf."""
    from attention_demo.tokenizer import BOS_ID, PAD_ID

    logp, _ = teacher_forced(model, src_ids, [*prefix, PAD_ID])  # the last input is never read
    logp = logp[-1].clone()
    logp[[PAD_ID, BOS_ID]] = float("-inf")
    return logp


def reference_greedy(model: Seq2Seq, src_ids: list[int], max_len: int, prefix: list[int] = ()) -> list[int]:
    """Greedy decoding by brute force: after ``prefix``, the argmax of :func:`next_logprobs` until </s> or
    ``max_len`` tokens."""
    from attention_demo.tokenizer import EOS_ID

    tokens = list(prefix)
    while len(tokens) < max_len and (not tokens or tokens[-1] != EOS_ID):
        tokens.append(int(next_logprobs(model, src_ids, tokens).argmax()))
    return tokens


def reference_beam(model: Seq2Seq, src_ids: list[int], beam_size: int, max_len: int) -> list[tuple[list[int], float]]:
    """Beam search by brute force for one sentence: ``(tokens, total log-probability)`` of the final beam, best total
    first. Every step extends each unfinished hypothesis by every word and keeps the ``beam_size`` best by total
    log-probability; finished ones (ending in </s>) compete unchanged."""
    from attention_demo.tokenizer import EOS_ID

    beam: list[tuple[list[int], float]] = [([], 0.0)]
    for _ in range(max_len):
        if all(tokens and tokens[-1] == EOS_ID for tokens, _ in beam):
            break
        candidates = []
        for tokens, score in beam:
            if tokens and tokens[-1] == EOS_ID:
                candidates.append((tokens, score))
                continue
            logp = next_logprobs(model, src_ids, tokens)
            candidates += [(tokens + [w], score + float(lp)) for w, lp in enumerate(logp.tolist()) if lp > -1e30]
        beam = sorted(candidates, key=lambda c: c[1], reverse=True)[:beam_size]
    return beam


def assert_same_training_state(expected: dict, actual: dict) -> None:
    """Two training checkpoints hold identical weights, optimizer state (every parameter's, none missing) and
    scheduler state."""
    import torch

    assert expected["model"].keys() == actual["model"].keys()
    for key, value in expected["model"].items():
        assert torch.equal(value, actual["model"][key]), key
    expected_states, actual_states = expected["optimizer"]["state"], actual["optimizer"]["state"]
    assert len(expected_states) > 0
    assert expected_states.keys() == actual_states.keys()  # same count: nothing is skipped silently
    for index, state in expected_states.items():
        assert state.keys() == actual_states[index].keys(), index
        for name, value in state.items():
            assert torch.equal(value, actual_states[index][name]), (index, name)
    assert expected["optimizer"]["param_groups"] == actual["optimizer"]["param_groups"]
    assert expected["scheduler"] == actual["scheduler"]


@pytest.fixture
def random_model_folder(tmp_path: Path, tiny_dataset: Path) -> Path:
    """A model folder as train.py writes it (tokenizers, additive and baseline models), with untrained weights: the
    corpus commands need the layout, not a trained model (and it takes a second, where training takes many)."""
    import torch

    from attention_demo.data import load_parallel_data
    from attention_demo.model import ModelConfig, Seq2Seq
    from attention_demo.model_repo import save_model, tokenizer_filename
    from attention_demo.tokenizer import train_tokenizer

    folder = tmp_path / "models"
    corpus = load_parallel_data(str(tiny_dataset), "de", "en", ("train",))["train"]
    sizes = {}
    for lang, texts in (("de", corpus.source), ("en", corpus.target)):
        tokenizer = train_tokenizer(texts, vocab_size=120)
        folder.mkdir(parents=True, exist_ok=True)
        tokenizer.save(str(folder / tokenizer_filename(lang)))
        sizes[lang] = tokenizer.get_vocab_size()
    for name, attention_type in (("additive", "additive"), ("baseline", None)):
        torch.manual_seed(0)
        config = ModelConfig(
            src_vocab_size=sizes["de"], tgt_vocab_size=sizes["en"], attention_type=attention_type, embedding_size=8,
            encoder_hidden_size=4, decoder_hidden_size=8, attention_size=4,
        )  # fmt: skip
        save_model(Seq2Seq(config), folder / name)
    return folder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (``CI`` set, as .ci/run has it) a skipped test fails the run: a browser test that quietly skips because
    Chromium is missing would otherwise pass CI without testing anything."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if os.environ.get("CI") and skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
