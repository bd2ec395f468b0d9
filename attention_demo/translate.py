"""Translate with the models of a model folder; also the batch command line.

    python -m attention_demo.translate --model PATH_OR_HUB_ID --name additive --beam_size 5 < de.txt > en.txt

One sentence per line in, one translation per line out; an empty line gives an empty line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from attention_demo.data import MAX_SOURCE_TOKENS
from attention_demo.decoding import Hypothesis, translate_ids
from attention_demo.hub import resolve_model_folder
from attention_demo.model import Seq2Seq
from attention_demo.model_repo import ModelLoadError, load_model, model_names
from attention_demo.tokenizer import EOS_ID, decode, encode, load_tokenizer, pieces, tokenizer_filename

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
    """

    def __init__(self, folder: str | Path, names: list[str] | None = None, device: str = "cpu") -> None:
        self.folder = Path(folder)
        available = model_names(self.folder)
        if not available:
            raise ModelLoadError(f"{self.folder} contains no models (no <name>/config.json subfolders).")
        self.models: dict[str, Seq2Seq] = {name: load_model(self.folder, name, device) for name in names or available}
        config = next(iter(self.models.values())).config
        self.source_lang, self.target_lang = config.source_lang, config.target_lang
        self.src_tokenizer: Tokenizer = load_tokenizer(self.folder / tokenizer_filename(self.source_lang))
        self.tgt_tokenizer: Tokenizer = load_tokenizer(self.folder / tokenizer_filename(self.target_lang))

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str, names: list[str] | None = None, device: str = "cpu") -> Translator:
        """Load from a local folder or a Hub model repo id."""
        return cls(resolve_model_folder(path_or_repo_id), names, device)

    def source_ids(self, text: str) -> tuple[list[int], bool]:
        """Source ids ending with ``</s>``, truncated to ``MAX_SOURCE_TOKENS``; also whether it was truncated."""
        ids = encode(self.src_tokenizer, text)
        truncated = len(ids) > MAX_SOURCE_TOKENS - 1
        if truncated:
            logger.warning("Input of %d subwords truncated to %d.", len(ids), MAX_SOURCE_TOKENS - 1)
        return ids[: MAX_SOURCE_TOKENS - 1] + [EOS_ID], truncated

    def translate(self, sentences: list[str], name: str, beam_size: int = 1, batch_size: int = 64) -> list[Translation]:
        """Translate sentences with model ``name``; empty or blank sentences give empty translations."""
        if name not in self.models:
            raise KeyError(f"No model {name!r}; available: {', '.join(self.models)}.")
        model = self.models[name]
        results = [Translation(source=s, source_pieces=[]) for s in sentences]
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        sources = []
        for i in todo:
            ids, results[i].truncated = self.source_ids(sentences[i])
            results[i].source_pieces = pieces(self.src_tokenizer, ids)
            sources.append(ids)
        hypotheses = translate_ids(model, sources, beam_size=beam_size, batch_size=batch_size)
        for i, hyps in zip(todo, hypotheses):
            results[i].candidates = [
                Candidate(decode(self.tgt_tokenizer, h.words), pieces(self.tgt_tokenizer, h.tokens), h) for h in hyps
            ]
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Translate stdin to stdout, one sentence per line.")
    parser.add_argument("--model", default="models/multi30k-de-en", help="model folder or Hub model repo id")
    parser.add_argument("--name", default="additive", help="which model of the folder (e.g. additive, baseline)")
    parser.add_argument("--beam_size", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--source_lang", help="optional check: the language you are translating from")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        translator = Translator.from_pretrained(args.model, names=[args.name])
    except (ModelLoadError, FileNotFoundError, ConnectionError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.source_lang and args.source_lang != translator.source_lang:
        print(
            f"error: the model translates from {translator.source_lang!r}, not {args.source_lang!r}.", file=sys.stderr
        )
        return 1
    lines = [line.rstrip("\n") for line in sys.stdin]
    with torch.inference_mode():
        for translation in translator.translate(lines, args.name, args.beam_size, args.batch_size):
            print(translation.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
