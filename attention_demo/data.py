"""Parallel data: loading with ``datasets``, tokenizing, and length-bucketed padded batches.

Two dataset layouts are accepted, per row:

- flat fields, ``{"de": "...", "en": "..."}`` (``bentrevett/multi30k``);
- nested, ``{"translation": {"de": "...", "en": "..."}}`` (``wmt*``, ``opus*``).

``--dataset_name`` may be a Hub id or a local folder (for example one with ``train.jsonl``, ``val.jsonl`` and
``test.jsonl``, which ``datasets`` maps to the splits train / validation / test).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from attention_demo.hub import require_hub
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode

MAX_SOURCE_TOKENS = 128  # longer inputs are truncated (with a warning at translation time)
MAX_TARGET_TOKENS = 128


class DatasetError(ValueError):
    """A dataset lacks a split or a language the user asked for."""


@dataclass
class ParallelCorpus:
    """One split as two aligned lists of sentences."""

    source: list[str]
    target: list[str]

    def __len__(self) -> int:
        return len(self.source)

    def take(self, n: int | None) -> ParallelCorpus:
        """The first ``n`` pairs (all when ``n`` is None)."""
        return self if n is None else ParallelCorpus(self.source[:n], self.target[:n])


def _language_columns(split) -> tuple[str, list[str]]:  # noqa: ANN001 (a datasets.Dataset)
    """Return the layout ('flat' or 'nested') and the language codes a split offers."""
    features = split.features
    if "translation" in features:
        inner = features["translation"]
        languages = list(getattr(inner, "languages", None) or getattr(inner, "keys", lambda: [])())
        if not languages and len(split):
            languages = list(split[0]["translation"].keys())
        return "nested", languages
    return "flat", [name for name in features if name != "translation"]


def load_parallel_data(
    dataset_name: str,
    source_lang: str,
    target_lang: str,
    splits: Sequence[str] = ("train", "validation", "test"),
    dataset_config_name: str | None = None,
) -> dict[str, ParallelCorpus]:
    """Load ``splits`` of a translation dataset as :class:`ParallelCorpus` objects.

    Raises:
        DatasetError: a split or a language is missing (the message lists what the dataset has).
        ConnectionError: ``dataset_name`` is not a local folder and the Hub is unreachable.
    """
    import datasets  # imported lazily: it is slow to import and the app does not need it

    if not os.path.isdir(dataset_name):
        require_hub(f"dataset {dataset_name!r}", "pass a local folder to --dataset_name instead")
    dataset = datasets.load_dataset(dataset_name, dataset_config_name)
    corpora = {}
    for split_name in splits:
        if split_name not in dataset:
            raise DatasetError(
                f"Dataset {dataset_name!r} has no {split_name!r} split; it has: {', '.join(dataset.keys())}."
            )
        split = dataset[split_name]
        layout, languages = _language_columns(split)
        for lang in (source_lang, target_lang):
            if lang not in languages:
                raise DatasetError(
                    f"Dataset {dataset_name!r} has no language {lang!r} in its {split_name!r} split; "
                    f"it has: {', '.join(languages)}. Pass --source_lang/--target_lang accordingly."
                )
        if layout == "nested":
            pairs = split["translation"]
            corpora[split_name] = ParallelCorpus([p[source_lang] for p in pairs], [p[target_lang] for p in pairs])
        else:
            corpora[split_name] = ParallelCorpus(list(split[source_lang]), list(split[target_lang]))
    return corpora


def source_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """A source sentence as the encoder reads it: subword ids, cut to ``MAX_SOURCE_TOKENS`` with ``</s>`` last."""
    return encode(tokenizer, text)[: MAX_SOURCE_TOKENS - 1] + [EOS_ID]


class TokenizedPairs(torch.utils.data.Dataset):
    """Token ids of a corpus: source ends with ``</s>``; target is wrapped as ``<s> y </s>``."""

    def __init__(self, corpus: ParallelCorpus, src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer) -> None:
        self.source = [source_ids(src_tokenizer, s) for s in corpus.source]
        self.target = [[BOS_ID] + encode(tgt_tokenizer, t)[: MAX_TARGET_TOKENS - 2] + [EOS_ID] for t in corpus.target]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.source[index], self.target[index]

    def lengths(self) -> list[int]:
        """The longer side of each pair, for bucketing."""
        return [max(len(s), len(t)) for s, t in zip(self.source, self.target)]


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar-length pairs, so little compute goes to padding.

    Each epoch: shuffle the indices, sort them by length inside pools of ``100 * batch_size``, cut batches, shuffle
    the batches. The order depends only on ``seed`` and the epoch (:meth:`set_epoch`), so a resumed run sees exactly
    the batches an uninterrupted run would have seen.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(indices)
        pool = 100 * self.batch_size
        batches = []
        for start in range(0, len(indices), pool):
            chunk = sorted(indices[start : start + pool], key=lambda i: self.lengths[i])
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        return iter(batches)


def pad(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists: ``(batch, max_len)`` ids and a ``(batch, max_len)`` bool mask (True = real token)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, ids != PAD_ID


def collate(batch: Sequence[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """Pairs -> ``src``/``src_mask`` ``(batch, src_len)``, ``tgt_in``/``tgt_out`` ``(batch, tgt_len)``.

    ``tgt_in`` is the target shifted right (starts with ``<s>``), ``tgt_out`` what must be predicted (ends with
    ``</s>``); padding in ``tgt_out`` is ``PAD_ID``, which the loss ignores.
    """
    src, src_mask = pad([s for s, _ in batch])
    tgt, _ = pad([t for _, t in batch])
    return {"src": src, "src_mask": src_mask, "tgt_in": tgt[:, :-1], "tgt_out": tgt[:, 1:]}
