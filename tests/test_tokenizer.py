"""Unit tests for attention_demo.tokenizer: lossless round trip, unknown characters, special ids, loading errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from attention_demo.model_repo import tokenizer_filename
from attention_demo.tokenizer import (
    BOS_ID,
    EOS_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    WORD_MARK,
    decode,
    display_piece,
    encode,
    is_word_start,
    load_tokenizer,
    pieces,
    text_from_pieces,
    train_tokenizer,
)

SUBJECTS = ["The dog", "A small cat", "My old friend", "Two children", "The woman", "Her brother"]
VERBS = ["sees", "likes", "is looking for", "hears", "doesn't know"]
OBJECTS = ["the ball", "a red bird", "our house", "the man's hat", "three apples", "the garden"]
ENDINGS = [".", "!", "?", ", again.", " (twice)."]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}" for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """A small BPE tokenizer trained on 50 generated sentences."""
    return train_tokenizer(_sentences(50, seed=0), vocab_size=120, min_frequency=2)


def test_special_tokens_have_fixed_ids(tokenizer: Tokenizer) -> None:
    """<pad>, <unk>, <s>, </s> are ids 0, 1, 2, 3 (the model relies on them)."""
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert SPECIAL_TOKENS == ["<pad>", "<unk>", "<s>", "</s>"]


def test_round_trip_is_lossless(tokenizer: Tokenizer) -> None:
    """decode(encode(s)) == s for ordinary sentences with punctuation, including ones not seen in training."""
    sentences = [
        *_sentences(20, seed=1),
        "Two children hear the dog, the cat and a bird!",
        "Her friend likes 'the' hat?",
    ]
    for sentence in sentences:
        ids = encode(tokenizer, sentence)
        assert UNK_ID not in ids
        assert decode(tokenizer, ids) == sentence


def test_text_from_pieces_agrees_with_decode(tokenizer: Tokenizer) -> None:
    """Pieces alone (as stored in JSON) give the same text as decoding their ids; special tokens are dropped."""
    for sentence in [*_sentences(10, seed=2), "Two children hear the dog, the cat and a bird!"]:
        ids = [BOS_ID, *encode(tokenizer, sentence), EOS_ID]
        assert text_from_pieces(pieces(tokenizer, ids)) == decode(tokenizer, ids) == sentence


def test_a_bare_word_mark_never_doubles_a_space(tokenizer: Tokenizer) -> None:
    """An undertrained model may emit a bare word mark between words; decode and text_from_pieces then give one
    space, as the app's word view does, not two."""
    ids = [*encode(tokenizer, "the dog"), tokenizer.token_to_id(WORD_MARK), *encode(tokenizer, "the cat")]
    assert decode(tokenizer, ids) == text_from_pieces(pieces(tokenizer, ids)) == "the dog the cat"


def test_word_mark_helpers() -> None:
    """A piece with the mark starts a word and is shown without it (a bare mark stays visible); a continuation piece
    is shown with a leading dot; special tokens as they are."""
    assert WORD_MARK == "\u2581"
    assert is_word_start(WORD_MARK + "Fahr") and not is_word_start("rad") and not is_word_start("</s>")
    assert [display_piece(p) for p in [WORD_MARK + "Fahr", "rad", WORD_MARK, "</s>", "<unk>"]] == [
        "Fahr",
        "·rad",
        WORD_MARK,
        "</s>",
        "<unk>",
    ]


def test_encode_adds_no_special_tokens_and_decode_drops_them(tokenizer: Tokenizer) -> None:
    """encode() returns only subword ids; decode() ignores <s>/</s>/<pad> around them."""
    ids = encode(tokenizer, "The dog sees the ball.")
    assert not set(ids) & {0, 1, 2, 3}
    assert decode(tokenizer, [2, *ids, 3, 0, 0]) == "The dog sees the ball."
    assert "".join(pieces(tokenizer, ids)).replace("▁", " ").strip() == "The dog sees the ball."


def test_unknown_characters_become_unk(tokenizer: Tokenizer) -> None:
    """Emoji and unseen scripts do not crash: they become <unk> and the known words survive decoding."""
    ids = encode(tokenizer, "The dog 🐶 sees 漢字 the ball.")
    assert UNK_ID in ids
    text = decode(tokenizer, ids)
    assert "The dog" in text and "the ball." in text
    assert "🐶" not in text


def test_save_and_load_round_trip(tokenizer: Tokenizer, tmp_path: Path) -> None:
    """A saved tokenizer loads back with the same vocabulary and encoding."""
    path = tmp_path / tokenizer_filename("en")
    assert path.name == "tokenizer.en.json"
    tokenizer.save(str(path))
    loaded = load_tokenizer(path)
    sentence = "My old friend likes three apples!"
    assert encode(loaded, sentence) == encode(tokenizer, sentence)
    assert loaded.get_vocab() == tokenizer.get_vocab()


def test_load_missing_file_is_file_not_found(tmp_path: Path) -> None:
    """A missing tokenizer file raises FileNotFoundError naming the path."""
    path = tmp_path / "tokenizer.de.json"
    with pytest.raises(FileNotFoundError, match="tokenizer.de.json"):
        load_tokenizer(path)


@pytest.mark.parametrize("content", ["{not json", '{"model": 1}', ""])
def test_load_corrupt_file_is_value_error_with_path(tmp_path: Path, content: str) -> None:
    """A broken tokenizer file raises ValueError whose message contains the file's path."""
    path = tmp_path / "tokenizer.en.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="corrupt") as error:
        load_tokenizer(path)
    assert str(path) in str(error.value)
