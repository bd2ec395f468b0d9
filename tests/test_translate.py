"""Integration tests of translation with a trained model folder: the batch command line and the Translator class."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODELS, run_subprocess

from attention_demo import translate
from attention_demo.data import MAX_SOURCE_TOKENS
from attention_demo.decoding import beam_search
from attention_demo.model import MODEL_NAMES
from attention_demo.tokenizer import EOS, EOS_ID, PAD_ID, decode, encode, pieces
from attention_demo.translate import Translator


@pytest.fixture(scope="module")
def translator(tiny_model_folder: Path) -> Translator:
    """All models of the shared tiny folder (read-only)."""
    return Translator(tiny_model_folder)


def single_token_word(translator: Translator) -> str:
    """A source word that the tiny tokenizer encodes as exactly one subword."""
    for word in ("hund", "katze", "mann", "die"):
        if [len(encode(translator.src_tokenizer, text)) for text in (word, f"{word} {word}")] == [1, 2]:
            return word
    pytest.fail("no single-subword word in the tiny source vocabulary")


def run_cli(monkeypatch: pytest.MonkeyPatch, argv: list[str], stdin: str = "") -> int:
    """Run ``translate.main`` in-process with ``stdin``; returns its exit code."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return translate.main(argv)


def test_cli_gives_one_output_line_per_input_line(tiny_model_folder: Path, translator: Translator) -> None:
    """`python -m attention_demo.translate` keeps lines aligned through empty, blank, emoji and 2000-word inputs,
    prints exactly what the Translator API returns, warns about truncation, and exits 0."""
    lines = [
        "Die katze sieht die hund im park .",
        "",
        "   \t ",
        "Die 😀 hund mag die ball 🐶 .",
        " ".join(["hund"] * 2000),
        "Die kleine mädchen hört die vogel .",
        "",  # a trailing empty line too
    ]
    command = [sys.executable, "-m", "attention_demo.translate", "--model", str(tiny_model_folder)]
    result = run_subprocess([*command, "--name", "additive", "--beam_size", "2"], stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    outputs = result.stdout.split("\n")[:-1]
    assert len(outputs) == len(lines)
    expected = [t.text for t in translator.translate(lines, "additive", beam_size=2)]
    assert outputs == expected
    assert outputs[1] == outputs[2] == outputs[6] == ""
    assert outputs[0] and outputs[4]  # the trained model says something for real input
    assert "truncated" in result.stderr  # the 2000-word line


def test_cli_unknown_model_name_exits_nonzero_listing_models(
    tiny_model_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--name of a model the folder lacks exits 1 with an error listing the models it has, printing no output."""
    code = run_cli(monkeypatch, ["--model", str(tiny_model_folder), "--name", "nosuch"], "Die hund .\n")
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.startswith("error:")
    available = ", ".join(name for name in MODEL_NAMES if name in TINY_MODELS)  # display order
    assert "'nosuch'" in captured.err and f"available models: {available}." in captured.err


def test_cli_source_language_mismatch_exits_nonzero(
    tiny_model_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--source_lang other than the model's exits 1 with an error naming both languages, translating nothing."""
    argv = ["--model", str(tiny_model_folder), "--name", "additive", "--source_lang", "fr"]
    code = run_cli(monkeypatch, argv, "Le chien .\n")
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "error:" in captured.err and "'de'" in captured.err and "'fr'" in captured.err


def test_cli_matching_source_language_is_accepted(
    tiny_model_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--source_lang equal to the model's is only a check: translation goes ahead."""
    argv = ["--model", str(tiny_model_folder), "--name", "baseline", "--beam_size", "1", "--source_lang", "de"]
    code = run_cli(monkeypatch, argv, "Die hund sieht die katze .\n\n")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(captured.out.split("\n")[:-1]) == 2


def test_cli_missing_model_folder_exits_nonzero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model path that does not exist gives an error message and exit code 1, not a traceback."""
    code = run_cli(monkeypatch, ["--model", str(tmp_path / "missing"), "--name", "additive"], "Die hund .\n")
    captured = capsys.readouterr()
    assert code == 1 and "error:" in captured.err and "does not exist" in captured.err


def test_translator_truncates_over_long_input_with_a_warning(
    translator: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    """Inputs longer than MAX_SOURCE_TOKENS - 1 subwords are cut to MAX_SOURCE_TOKENS (with </s>), flagged and
    logged; an input of exactly MAX_SOURCE_TOKENS - 1 subwords is kept whole, silently."""
    word = single_token_word(translator)
    fits = " ".join([word] * (MAX_SOURCE_TOKENS - 1))
    too_long = " ".join([word] * MAX_SOURCE_TOKENS)
    very_long = " ".join([word] * 1000)
    caplog.set_level(logging.WARNING, logger="attention_demo.translate")
    results = translator.translate([fits, too_long, very_long], "dot", beam_size=1)
    assert [r.truncated for r in results] == [False, True, True]
    for result in results:
        assert len(result.source_pieces) == MAX_SOURCE_TOKENS and result.source_pieces[-1] == EOS
        assert all(len(c.hypothesis.attention[0]) == MAX_SOURCE_TOKENS for c in result.candidates)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"Input of {MAX_SOURCE_TOKENS} subwords truncated to {MAX_SOURCE_TOKENS - 1}.",
        f"Input of 1000 subwords truncated to {MAX_SOURCE_TOKENS - 1}.",
    ]


def test_translator_handles_blank_and_unknown_characters(translator: Translator) -> None:
    """Blank inputs give empty, untranslated results; unseen characters become <unk> instead of failing."""
    blank, emoji = translator.translate(["  ", "😀"], "baseline", beam_size=2)
    assert blank.text == "" and blank.candidates == [] and blank.source_pieces == []
    assert emoji.source_pieces[-1] == EOS and "<unk>" in emoji.source_pieces
    assert len(emoji.candidates) == 2  # beam_size candidates, best first
    assert emoji.candidates[0].hypothesis.normalized_score >= emoji.candidates[1].hypothesis.normalized_score


@pytest.mark.parametrize("name", ["additive", "baseline"])
def test_translate_equals_beam_search_on_each_sentence_alone_and_decode(translator: Translator, name: str) -> None:
    """A batch of blank and non-blank lines: each blank line gives an empty result (no pieces, no candidates, empty
    text); each other line gives what beam search on that sentence alone gives (the same hypotheses, best first),
    its candidates' text being the target tokens without the final </s>, decoded."""
    sentences = [
        "Die katze sieht die hund im park .",
        "",
        "Die kleine mädchen hört die vogel .",
        " \t ",
        "Die frau mag die pferd .",
        "Die junge sucht die alte ball am strand und im garten .",
    ]
    src_tok, tgt_tok = translator.src_tokenizer, translator.tgt_tokenizer
    results = translator.translate(sentences, name, beam_size=3)
    assert [r.source for r in results] == sentences
    for sentence, result in zip(sentences, results, strict=True):
        if not sentence.strip():
            assert (result.source_pieces, result.candidates, result.text, result.truncated) == ([], [], "", False)
            continue
        ids = [*encode(src_tok, sentence), EOS_ID]
        src = torch.tensor([ids])
        alone = beam_search(translator.models[name], src, src != PAD_ID, beam_size=3)[0]
        assert result.source_pieces == pieces(src_tok, ids) and not result.truncated
        assert [c.hypothesis.tokens for c in result.candidates] == [h.tokens for h in alone], sentence
        for candidate, hyp in zip(result.candidates, alone, strict=True):
            words = hyp.tokens[:-1] if hyp.tokens[-1:] == [EOS_ID] else hyp.tokens
            assert candidate.text == decode(tgt_tok, words)
            assert candidate.pieces == pieces(tgt_tok, hyp.tokens)
            assert candidate.hypothesis.score == pytest.approx(hyp.score, abs=1e-5)
            if hyp.attention is None:
                assert candidate.hypothesis.attention is None
            else:
                torch.testing.assert_close(candidate.hypothesis.attention, hyp.attention, atol=1e-6, rtol=0)
        assert result.text == result.candidates[0].text
