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


def tokenizer_filename(lang: str) -> str:
    """Tokenizers sit in the model folder as ``tokenizer.<lang>.json``."""
    return f"tokenizer.{lang}.json"


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
    """Subword ids -> detokenized text; special tokens are dropped."""
    return tokenizer.decode([int(i) for i in ids], skip_special_tokens=True).strip()


def pieces(tokenizer: Tokenizer, ids: Iterable[int]) -> list[str]:
    """Ids -> subword strings for display (``▁`` marks the start of a word)."""
    return [tokenizer.id_to_token(int(i)) or UNK for i in ids]
