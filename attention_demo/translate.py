"""Translate with the models of a model folder; also the batch command line.

    python -m attention_demo.translate --model PATH_OR_HUB_ID --name additive --beam_size 5 < de.txt > en.txt

One sentence per line in, one translation per line out, always: an empty line gives an empty line, and bytes that
are not valid text become U+FFFD with a warning that names the line.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch

from attention_demo import cli
from attention_demo.data import encode_source
from attention_demo.decoding import Hypothesis, translate_ids
from attention_demo.hub import resolve_model_folder
from attention_demo.model import Seq2Seq
from attention_demo.model_repo import ModelLoadError, load_model, load_tokenizers, model_names
from attention_demo.precision import bfloat16_output
from attention_demo.text import clean_text
from attention_demo.tokenizer import decode, pieces
from attention_demo.tracing import TracedSearch, traced_search

logger = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One hypothesis, decoded for display."""

    text: str
    pieces: list[str]  # target subwords, ending with "</s>" when the model finished
    hypothesis: Hypothesis


@dataclass
class Translation:
    """A translated sentence: the source as the model saw it and its candidates, best first."""

    source: str
    source_pieces: list[str]  # source subwords, ending with "</s>"
    candidates: list[Candidate] = field(default_factory=list)
    truncated: bool = False

    @property
    def text(self) -> str:
        """The best translation ('' for empty input)."""
        return self.candidates[0].text if self.candidates else ""


class Translator:
    """The models of one model folder plus their tokenizers.

    Args:
        folder: a local model folder (see ``model_repo``).
        names: models to load (all by default).
        device: where to run them.
        fast_search: search (``translate``) with copies whose output layer runs in bfloat16
            (``attention_demo.precision``: faster, test BLEU within 0.1) and whose one-step decode is a TorchScript
            graph that runs without Python's GIL (``attention_demo.tracing``: bit-identical, and searches in threads
            side by side stop waiting for each other); README, Performance. ``models`` stay float32 and eager.
    """

    def __init__(
        self, folder: str | Path, names: list[str] | None = None, device: str = "cpu", fast_search: bool = False
    ) -> None:
        self.folder = Path(folder)
        available = model_names(self.folder)
        if not available:
            raise ModelLoadError(f"{self.folder} contains no models (no <name>/config.json subfolders).")
        self.models: dict[str, Seq2Seq] = {name: load_model(self.folder, name, device) for name in names or available}
        # What translate() searches with: the models themselves, or their fast copies.
        self.search_models: dict[str, Seq2Seq | TracedSearch] = {
            name: traced_search(bfloat16_output(model)) if fast_search else model for name, model in self.models.items()
        }
        config = next(iter(self.models.values())).config
        self.source_lang, self.target_lang = config.source_lang, config.target_lang
        self.src_tokenizer, self.tgt_tokenizer = load_tokenizers(self.folder, self.source_lang, self.target_lang)

    @classmethod
    def from_pretrained(
        cls, path_or_repo_id: str, names: list[str] | None = None, device: str = "cpu", fast_search: bool = False
    ) -> Translator:
        """Load from a local folder or a Hub model repo id."""
        return cls(resolve_model_folder(path_or_repo_id), names, device, fast_search)

    def source_ids(self, text: str) -> tuple[list[int], bool]:
        """Source ids ending with ``</s>``, truncated to ``MAX_SOURCE_TOKENS``; also whether it was truncated."""
        ids, dropped = encode_source(self.src_tokenizer, text)
        if dropped:
            logger.warning("Input of %d subwords truncated to %d.", len(ids) - 1 + dropped, len(ids) - 1)
        return ids, dropped > 0

    def translate(self, sentences: list[str], name: str, beam_size: int = 1, batch_size: int = 64) -> list[Translation]:
        """Translate sentences with model ``name``; empty or blank sentences give empty translations."""
        if name not in self.models:
            raise KeyError(f"No model {name!r}; available: {', '.join(self.models)}.")
        model = self.search_models[name]
        results = [Translation(source=s, source_pieces=[]) for s in sentences]
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        sources = []
        for i in todo:
            ids, results[i].truncated = self.source_ids(sentences[i])
            results[i].source_pieces = pieces(self.src_tokenizer, ids)
            sources.append(ids)
        hypotheses = translate_ids(model, sources, beam_size=beam_size, batch_size=batch_size)
        for i, hyps in zip(todo, hypotheses, strict=True):
            results[i].candidates = [
                Candidate(decode(self.tgt_tokenizer, h.word_ids), pieces(self.tgt_tokenizer, h.tokens), h) for h in hyps
            ]
        return results


def read_lines(stream: TextIO) -> list[str]:
    """The lines of ``stream``, split at ``"\\n"`` only, with the ``"\\r"`` of a CRLF line end removed.

    Bytes that are not valid in the stream's encoding become lone surrogates (``surrogateescape``) instead of failing
    the whole read; :func:`~attention_demo.text.clean_text` then turns them into U+FFFD. The other line boundaries
    that Python knows (a lone ``"\\r"``, U+2028, ...) stay inside their line, so that the output has one line per
    input line as ``wc -l`` counts them.
    """
    buffer = getattr(stream, "buffer", None)  # absent when stdin is replaced by a StringIO
    text = stream.read() if buffer is None else buffer.read().decode(stream.encoding or "utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # what follows the last line end (and the one "" of an empty input) is no line
    return [line.removesuffix("\r") for line in lines]


def translate_stdin(model: str, name: str, beam_size: int, batch_size: int, source_lang: str | None = None) -> int:
    """Translate stdin to stdout, exactly one output line per input line; returns the exit status (0).

    Raises:
        cli.CommandLineError, ModelLoadError, OSError: the model cannot be loaded or is not from ``source_lang``.
    """
    try:
        translator = Translator.from_pretrained(model, names=[name])
    except ValueError as error:  # a corrupt tokenizer file
        raise cli.CommandLineError(str(error)) from error
    if source_lang and source_lang != translator.source_lang:
        raise cli.CommandLineError(f"the model translates from {translator.source_lang!r}, not {source_lang!r}.")
    lines = []
    for number, line in enumerate(read_lines(sys.stdin), start=1):
        cleaned, replaced = clean_text(line)
        if replaced:
            logger.warning(
                "line %d: %d undecodable byte(s) or unpaired surrogate(s) replaced by U+FFFD", number, replaced
            )
        lines.append(cleaned)
    with torch.inference_mode():
        translations = translator.translate(lines, name, beam_size, batch_size)
    # A translation never spans lines: the output stays aligned with the input.
    sys.stdout.writelines(" ".join(t.text.splitlines()) + "\n" for t in translations)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The batch command line; returns its exit status (usage errors exit with 2)."""
    parser = cli.ArgumentParser(
        prog="python -m attention_demo.translate",
        description="Translate stdin to stdout, one sentence per line.",
    )
    cli.add_model_argument(parser, "model folder or Hub model repo id")
    parser.add_argument(
        "--name", type=cli.nonempty, default="additive", help="which model of the folder (e.g. additive, baseline)"
    )
    cli.add_beam_size_argument(parser, "1 for greedy search")
    batch = cli.Number(int, minimum=1)
    parser.add_argument("--batch_size", type=batch, default=64, help=f"sentences per batch; {batch.describe()}")
    parser.add_argument(
        "--source_lang", type=cli.language_code, help="optional check: the language you are translating from"
    )
    args = parser.parse_args(argv)
    cli.set_up_logging(logging.WARNING, cli.WARNING_FORMAT)
    return cli.report_failures(
        lambda: translate_stdin(args.model, args.name, args.beam_size, args.batch_size, args.source_lang),
        debug=args.debug,
        expected=(ModelLoadError,),
    )


if __name__ == "__main__":
    sys.exit(main())
