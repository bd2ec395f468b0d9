"""Subword tokenizers (one per language), trained and stored with the Hugging Face ``tokenizers`` library.

A BPE model over NFKC-normalised text. Words are marked with the metaspace ``▁`` and punctuation is split off, so
decoding is a plain concatenation with ``▁`` turned back into spaces: lossless for ordinary text, which is what
sacreBLEU needs (it scores detokenized strings). Characters never seen in training (emoji, rare scripts) become
``<unk>`` rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3 in every vocabulary
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)
WORD_MARK = "▁"  # the metaspace mark that starts a word in the pieces (U+2581); decoding turns it into a space


def train_tokenizer(texts: Iterable[str], vocab_size: int = 6000, min_frequency: int = 2) -> Tokenizer:
    """Train a BPE tokenizer on an iterable of sentences; the special tokens get ids 0-3."""
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer JSON file, with a clear error if it is missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Tokenizer file {path} is missing; the model folder must contain it.")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception on malformed JSON
        raise ValueError(f"Tokenizer file {path} is corrupt ({error}); re-download or re-train the model.") from error


def encode(tokenizer: Tokenizer, text: str) -> list[int]:
    """Sentence -> subword ids, without special tokens."""
    return tokenizer.encode(text, add_special_tokens=False).ids


def decode(tokenizer: Tokenizer, ids: Iterable[int]) -> str:
    """Subword ids -> detokenized text; special tokens are dropped and runs of spaces (a bare word mark decodes to
    one) collapse to one, so the text matches the words the app shows."""
    return " ".join(tokenizer.decode([int(i) for i in ids], skip_special_tokens=True).split())


def pieces(tokenizer: Tokenizer, ids: Iterable[int]) -> list[str]:
    """Ids -> subword strings for display (``WORD_MARK`` marks the start of a word)."""
    return [tokenizer.id_to_token(int(i)) or UNK for i in ids]


def is_word_start(piece: str) -> bool:
    """True for a piece that starts a word (it carries the word mark)."""
    return piece.startswith(WORD_MARK)


def display_piece(piece: str) -> str:
    """A subword as shown on an axis or in a list: the word mark removed, continuation pieces prefixed with ``·``.

    >>> [display_piece(p) for p in ["▁Fahr", "rad", "▁", "</s>"]]
    ['Fahr', '·rad', '▁', '</s>']
    """
    if is_word_start(piece):
        return piece[len(WORD_MARK) :] or WORD_MARK  # a bare mark (the space before punctuation) stays visible
    return piece if piece.startswith("<") else "·" + piece


def text_from_pieces(piece_strings: Iterable[str]) -> str:
    """Readable text from pieces alone (no tokenizer at hand, e.g. pieces stored in JSON): special tokens dropped,
    word marks turned into spaces. For ids, :func:`decode` is the exact inverse of :func:`encode`.

    >>> text_from_pieces(["▁A", "▁bi", "cycle", "▁", ".", "</s>"])
    'A bicycle .'
    """
    return " ".join("".join(p for p in piece_strings if p not in SPECIAL_TOKENS).replace(WORD_MARK, " ").split())
