"""Unit tests for attention_demo.data: bucketed batching, collation, tokenized pairs and local dataset loading."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from attention_demo.data import (
    MAX_SOURCE_TOKENS,
    MAX_TARGET_TOKENS,
    BucketBatchSampler,
    DatasetError,
    ParallelCorpus,
    TokenizedPairs,
    collate,
    dataset_source,
    decoder_input,
    encode_source,
    load_parallel_data,
    pad,
    source_ids,
    target_ids,
)
from attention_demo.hub import HubUnreachableError
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode, train_tokenizer


def _lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(2, 40) for _ in range(n)]


def _epoch(sampler: BucketBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


# --- BucketBatchSampler ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(301, 8), (2003, 4)])  # one pool; several pools of 100 * batch_size
def test_sampler_covers_every_index_once_per_epoch(n: int, batch_size: int) -> None:
    """Every index appears exactly once per epoch, batches are at most batch_size, and len() counts the batches."""
    sampler = BucketBatchSampler(_lengths(n), batch_size, seed=3)
    for epoch in range(3):
        batches = _epoch(sampler, epoch)
        assert len(batches) == len(sampler)
        assert all(1 <= len(b) <= batch_size for b in batches)
        counts = Counter(i for b in batches for i in b)
        assert sorted(counts) == list(range(n))
        assert set(counts.values()) == {1}


def test_sampler_order_depends_only_on_seed_and_epoch() -> None:
    """Same (seed, epoch) -> same batches, even from a fresh sampler (resumption); other epoch or seed -> different."""
    lengths = _lengths(500)
    first = _epoch(BucketBatchSampler(lengths, 16, seed=7), 2)
    assert _epoch(BucketBatchSampler(lengths, 16, seed=7), 2) == first
    assert _epoch(BucketBatchSampler(lengths, 16, seed=7), 3) != first
    assert _epoch(BucketBatchSampler(lengths, 16, seed=8), 2) != first


@pytest.mark.parametrize(("n", "batch_size"), [(301, 8), (2003, 4)])
def test_sampler_batches_are_length_homogeneous(n: int, batch_size: int) -> None:
    """Batches are cut from length-sorted pools: each batch is sorted by length and spans a much smaller length range
    than random batches do."""
    lengths = _lengths(n)
    batches = _epoch(BucketBatchSampler(lengths, batch_size, seed=1), 0)
    for batch in batches:
        batch_lengths = [lengths[i] for i in batch]
        assert batch_lengths == sorted(batch_lengths)
    spread = sum(lengths[b[-1]] - lengths[b[0]] for b in batches) / len(batches)
    indices = list(range(n))
    random.Random(0).shuffle(indices)
    random_batches = [indices[i : i + batch_size] for i in range(0, n, batch_size)]
    random_spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in random_batches) / len(batches)
    assert spread < 0.25 * random_spread


def test_sampler_without_shuffle_is_sorted_by_length() -> None:
    """With shuffle=False the batches simply walk the length-sorted corpus (within one pool)."""
    lengths = _lengths(100)
    batches = list(BucketBatchSampler(lengths, 10, shuffle=False))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths)


def test_sampler_sorts_within_pools_of_100_batches() -> None:
    """Without shuffling, the corpus is cut into pools of 100 * batch_size pairs in order, each pool sorted by
    length, and the batches walk the pools in order."""
    batch_size = 3
    lengths = _lengths(2 * 100 * batch_size + 50, seed=4)
    flat = [i for batch in BucketBatchSampler(lengths, batch_size, shuffle=False) for i in batch]
    pool = 100 * batch_size
    expected = []
    for start in range(0, len(lengths), pool):
        expected += sorted(range(start, min(start + pool, len(lengths))), key=lambda i: lengths[i])
    assert [lengths[i] for i in flat] == [lengths[i] for i in expected]
    assert [sorted(flat[s : s + pool]) for s in range(0, len(flat), pool)] == [
        list(range(s, min(s + pool, len(lengths)))) for s in range(0, len(lengths), pool)
    ]


def test_a_fresh_sampler_is_at_epoch_zero() -> None:
    """Before any set_epoch the sampler gives epoch 0's batches (the first epoch of a run that never calls it)."""
    lengths = _lengths(300)
    assert list(BucketBatchSampler(lengths, 8, seed=2)) == _epoch(BucketBatchSampler(lengths, 8, seed=2), 0)


# --- pad / collate / TokenizedPairs ---------------------------------------------------------------------------------


def test_pad_right_pads_and_masks() -> None:
    """pad() right-pads with PAD_ID and the mask is True exactly on the real tokens."""
    ids, mask = pad([[5, 6, 3], [7, 3], [3]])
    assert ids.tolist() == [[5, 6, 3], [7, 3, PAD_ID], [3, PAD_ID, PAD_ID]]
    assert mask.tolist() == [[True, True, True], [True, True, False], [True, False, False]]


def test_collate_shifts_target_and_masks_source() -> None:
    """tgt_out is each target then padding, tgt_in starts with <s> and is tgt_out shifted right by one, and src_mask
    marks the non-pad source tokens."""
    pairs = [([5, 6, 7, EOS_ID], [8, EOS_ID]), ([9, EOS_ID], [10, 11, 12, 13, EOS_ID])]
    batch = collate(pairs)
    assert batch["src"].shape == batch["src_mask"].shape == (2, 4)
    assert torch.equal(batch["src_mask"], batch["src"] != PAD_ID)
    assert batch["tgt_out"].tolist() == [[8, EOS_ID, PAD_ID, PAD_ID, PAD_ID], [10, 11, 12, 13, EOS_ID]]
    assert batch["tgt_in"].tolist() == [[BOS_ID, 8, EOS_ID, PAD_ID, PAD_ID], [BOS_ID, 10, 11, 12, 13]]


def test_decoder_input_prepends_bos_and_keeps_the_length() -> None:
    """decoder_input: <s> y_1 .. y_{T-1} for every row, the same width as the targets (also for one or no step)."""
    targets = torch.tensor([[4, 5, 6, EOS_ID], [7, EOS_ID, PAD_ID, PAD_ID]])
    assert decoder_input(targets).tolist() == [[BOS_ID, 4, 5, 6], [BOS_ID, 7, EOS_ID, PAD_ID]]
    assert decoder_input(torch.tensor([[EOS_ID]])).tolist() == [[BOS_ID]]
    assert decoder_input(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    texts = ["a small dog .", "the big cat !", "a cat and a dog ."] * 5
    return train_tokenizer(texts, vocab_size=60, min_frequency=1)


def test_tokenized_pairs_end_with_eos(tokenizer: Tokenizer) -> None:
    """Sources and targets end with </s> and hold no other special token (the <s> is the decoder's input, added by
    collate); lengths() is the longer side, the target counted as <s> y </s>."""
    pairs = TokenizedPairs(
        ParallelCorpus(["a dog .", "the cat and the dog !"], ["a cat .", "dog"]), tokenizer, tokenizer
    )
    assert len(pairs) == 2
    for (source, target), text in zip((pairs[0], pairs[1]), ["a cat .", "dog"], strict=True):
        assert source[-1] == EOS_ID and target[-1] == EOS_ID
        assert not {BOS_ID, EOS_ID, PAD_ID} & set(source[:-1] + target[:-1])
        assert target == encode(tokenizer, text) + [EOS_ID]
    assert pairs.lengths() == [max(len(s), len(t) + 1) for s, t in (pairs[0], pairs[1])]


def test_lengths_refuses_sides_of_different_lengths(tokenizer: Tokenizer) -> None:
    """Sides of different lengths have no pairing: lengths() raises instead of bucketing only the pairs that zip."""
    pairs = TokenizedPairs(ParallelCorpus(["a dog .", "a cat ."], ["a cat ."]), tokenizer, tokenizer)
    with pytest.raises(ValueError, match="zip"):
        pairs.lengths()


def test_sources_and_targets_are_cut_to_their_maximum_length(tokenizer: Tokenizer) -> None:
    """The truncation rule: a source keeps its first MAX_SOURCE_TOKENS - 1 subwords then </s> and reports how many
    were cut; a target keeps MAX_TARGET_TOKENS - 2, so that <s> y </s> fits MAX_TARGET_TOKENS."""
    long_text = " ".join(["a small dog ."] * 100)
    full = encode(tokenizer, long_text)
    assert len(full) > MAX_SOURCE_TOKENS
    ids, dropped = encode_source(tokenizer, long_text)
    assert ids == full[: MAX_SOURCE_TOKENS - 1] + [EOS_ID]
    assert dropped == len(full) - (MAX_SOURCE_TOKENS - 1)
    assert source_ids(tokenizer, long_text) == ids
    assert target_ids(tokenizer, long_text) == full[: MAX_TARGET_TOKENS - 2] + [EOS_ID]
    short = encode(tokenizer, "a dog .")
    assert encode_source(tokenizer, "a dog .") == (short + [EOS_ID], 0)


# --- load_parallel_data from local folders --------------------------------------------------------------------------

ROWS = {
    "train": [("Ein Hund .", "A dog ."), ("Eine Katze schläft .", "A cat sleeps ."), ("Zwei Männer .", "Two men .")],
    "val": [("Ein Kind spielt .", "A child plays .")],
    "test": [("Ein Vogel singt .", "A bird sings ."), ("Das Pferd läuft .", "The horse runs .")],
}
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def _write_jsonl(folder: Path, nested: bool, splits: tuple[str, ...] = ("train", "val", "test")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for de, en in ROWS[split]:
                row = {"translation": {"de": de, "en": en}} if nested else {"de": de, "en": en}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture
def offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hub access, and a private datasets cache so tests do not see each other's (or the user's) cache."""
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")


@pytest.mark.usefixtures("offline_datasets")
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_load_local_jsonl_layouts(tmp_path: Path, nested: bool) -> None:
    """Flat {"de", "en"} and nested {"translation": {...}} rows both load; val.jsonl becomes the validation split."""
    folder = _write_jsonl(tmp_path / "data", nested)
    corpora = load_parallel_data(str(folder), "de", "en")
    assert set(corpora) == {"train", "validation", "test"}
    for file_split, split in SPLIT_NAMES.items():
        assert corpora[split].source == [de for de, _ in ROWS[file_split]]
        assert corpora[split].target == [en for _, en in ROWS[file_split]]
    reverse = load_parallel_data(str(folder), "en", "de", splits=("test",))
    assert reverse["test"].source == [en for _, en in ROWS["test"]]


@pytest.mark.usefixtures("offline_datasets")
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_missing_language_names_available_languages(tmp_path: Path, nested: bool) -> None:
    """Asking for a language the data lacks raises DatasetError listing the languages it has."""
    folder = _write_jsonl(tmp_path / "data", nested)
    with pytest.raises(DatasetError, match=r"no language 'fr'.*it has: de, en"):
        load_parallel_data(str(folder), "de", "fr")


@pytest.mark.usefixtures("offline_datasets")
def test_missing_split_names_available_splits(tmp_path: Path) -> None:
    """Asking for a split the data lacks raises DatasetError listing the splits it has."""
    folder = _write_jsonl(tmp_path / "data", nested=False, splits=("train", "test"))
    with pytest.raises(DatasetError, match=r"no 'validation' split; it has: (train, test|test, train)\."):
        load_parallel_data(str(folder), "de", "en")
    assert isinstance(DatasetError("x"), ValueError)


@pytest.mark.usefixtures("offline_datasets")
def test_an_empty_split_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loader that gives an empty split (datasets itself refuses an empty JSON file, other formats may not)."""
    import datasets

    empty = datasets.DatasetDict({"test": datasets.Dataset.from_dict({"de": [], "en": []})})
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: empty)
    with pytest.raises(DatasetError, match=r"The 'test' split of dataset .* is empty\."):
        load_parallel_data(str(tmp_path), "de", "en", splits=("test",))


@pytest.mark.usefixtures("offline_datasets")
def test_dataset_source_says_what_is_missing_and_what_to_do(tmp_path: Path) -> None:
    """A folder is returned as a path; a folder that does not exist is named as a dataset folder; a Hub id while the
    Hub is unreachable says that the dataset cannot be downloaded and to pass a local folder instead."""
    assert dataset_source(str(tmp_path)) == tmp_path
    with pytest.raises(FileNotFoundError, match="The dataset folder .* does not exist"):
        dataset_source(str(tmp_path / "missing"))
    expected = "dataset 'someone/data' cannot be downloaded; pass a local folder to --dataset_name instead"
    with pytest.raises(HubUnreachableError, match=expected):
        dataset_source("someone/data")


@pytest.mark.usefixtures("offline_datasets")
def test_a_config_name_is_passed_on_to_datasets(tmp_path: Path) -> None:
    """A local folder has no configuration of that name: datasets refuses it, and the error names it."""
    folder = _write_jsonl(tmp_path / "data", nested=False)
    with pytest.raises(DatasetError, match="nosuch"):
        load_parallel_data(str(folder), "de", "en", dataset_config_name="nosuch")


def test_parallel_corpus_take_cuts_both_sides() -> None:
    """take(n) keeps the first n aligned pairs on both sides; take(None) keeps everything."""
    corpus = ParallelCorpus(["a", "b", "c"], ["x", "y", "z"])
    assert (corpus.take(2).source, corpus.take(2).target) == (["a", "b"], ["x", "y"])
    assert len(corpus.take(2)) == 2 and len(corpus.take(None)) == 3 and corpus.take(None).target == ["x", "y", "z"]


@pytest.mark.parametrize("kind", ["Translation feature", "nested columns"])
def test_the_languages_of_a_nested_split_come_from_its_features(kind: str) -> None:
    """A nested ("translation") split names its languages in its features: a ``datasets.Translation`` feature by its
    ``languages``, a nested dict of columns by its keys. Checked on empty splits, where no first row could tell."""
    import datasets

    from attention_demo.data import _language_columns

    if kind == "Translation feature":
        features = datasets.Features({"translation": datasets.Translation(languages=["de", "en", "fr"])})
    else:
        features = datasets.Features({"translation": {"de": datasets.Value("string"), "cs": datasets.Value("string")}})
    empty = datasets.Dataset.from_dict({"translation": []}, features=features)
    expected = ["de", "en", "fr"] if kind == "Translation feature" else ["cs", "de"]
    layout, languages = _language_columns(empty)
    assert layout == "nested" and sorted(languages) == expected
    flat = datasets.Dataset.from_dict({"de": ["Ein Hund ."], "en": ["A dog ."]})
    assert _language_columns(flat) == ("flat", ["de", "en"])
