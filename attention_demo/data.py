"""Parallel data: loading with ``datasets``, tokenizing, and length-bucketed padded batches.

Two dataset layouts are accepted, per row:

- flat fields, ``{"de": "...", "en": "..."}`` (``bentrevett/multi30k``);
- nested, ``{"translation": {"de": "...", "en": "..."}}`` (``wmt*``, ``opus*``).

``--dataset_name`` may be a Hub id or a local folder (for example one with ``train.jsonl``, ``val.jsonl`` and
``test.jsonl``, which ``datasets`` maps to the splits train / validation / test); :func:`dataset_source` tells the
two apart.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer

from attention_demo.cli import folder_or_hub_id
from attention_demo.hub import require_hub
from attention_demo.tokenizer import BOS_ID, EOS_ID, PAD_ID, encode

if TYPE_CHECKING:
    import datasets

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
        return ParallelCorpus(self.source[:n], self.target[:n])


def _language_columns(split: datasets.Dataset) -> tuple[str, list[str]]:
    """Return the layout ('flat' or 'nested') and the language codes a split offers."""
    features = split.features
    if "translation" in features:
        inner = features["translation"]  # a datasets.Translation feature, or a dict of columns (from JSON)
        return "nested", list(inner.languages if hasattr(inner, "languages") else inner)
    return "flat", list(features)


def dataset_source(dataset_name: str) -> Path | str:
    """Where ``dataset_name`` is: a local folder, or a Hub id while the Hub is reachable (the folder-vs-Hub-id rule
    of :func:`attention_demo.cli.folder_or_hub_id`). Cheap: command lines call it before loading anything.

    Raises:
        FileNotFoundError: a local folder that does not exist.
        HubUnreachableError: a Hub id while the Hub is unreachable (the message says to pass a local folder).
    """
    source = folder_or_hub_id(dataset_name, "dataset")
    if isinstance(source, str):
        require_hub(f"dataset {dataset_name!r}", "pass a local folder to --dataset_name instead")
    return source


def load_parallel_data(
    dataset_name: str,
    source_lang: str,
    target_lang: str,
    splits: Sequence[str] = ("train", "validation", "test"),
    dataset_config_name: str | None = None,
) -> dict[str, ParallelCorpus]:
    """Load ``splits`` of a translation dataset as :class:`ParallelCorpus` objects.

    Raises:
        DatasetError: a split or a language is missing or empty (the message lists what the dataset has), or the
            files cannot be read.
        FileNotFoundError: ``dataset_name`` is a local folder that does not exist (see :func:`dataset_source`).
        HubUnreachableError: ``dataset_name`` is a Hub id and the Hub is unreachable.
    """
    source = dataset_source(dataset_name)
    import datasets  # imported lazily: it is slow to import and the app does not need it

    try:
        dataset = datasets.load_dataset(str(source), dataset_config_name)
    except (datasets.exceptions.DatasetGenerationError, ValueError) as error:  # unreadable rows, unknown config
        raise DatasetError(f"Could not read dataset {dataset_name!r}: {error.__cause__ or error}") from error
    corpora = {}
    for split_name in splits:
        if split_name not in dataset:
            raise DatasetError(
                f"Dataset {dataset_name!r} has no {split_name!r} split; it has: {', '.join(dataset.keys())}."
            )
        split = dataset[split_name]
        if len(split) == 0:
            raise DatasetError(f"The {split_name!r} split of dataset {dataset_name!r} is empty.")
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


def encode_source(tokenizer: Tokenizer, text: str) -> tuple[list[int], int]:
    """A source sentence as the encoder reads it: subword ids, cut to ``MAX_SOURCE_TOKENS`` with ``</s>`` last; and
    how many subwords were cut off (0 when it fits)."""
    ids = encode(tokenizer, text)
    kept = ids[: MAX_SOURCE_TOKENS - 1]
    return kept + [EOS_ID], len(ids) - len(kept)


def source_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """The ids of :func:`encode_source` alone."""
    return encode_source(tokenizer, text)[0]


def target_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """A target sentence as the decoder must output it: subword ids ending with ``</s>`` (no ``<s>``: that is the
    decoder's input, see :func:`decoder_input`), at most ``MAX_TARGET_TOKENS - 1`` ids."""
    return encode(tokenizer, text)[: MAX_TARGET_TOKENS - 2] + [EOS_ID]


def decoder_input(targets: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: output ids ``(batch, T)`` -> the decoder's input ``(batch, T)``, ``<s> y_1 .. y_{T-1}``.

    Position ``t`` of the result is what the decoder reads at the step that must produce ``targets[:, t]``. In a
    padded batch a shorter row's ``</s>`` and padding move one place right; the loss ignores those positions.
    """
    bos = targets.new_full((targets.size(0), 1), BOS_ID)
    return torch.cat([bos, targets], dim=1)[:, : targets.size(1)]


class TokenizedPairs(torch.utils.data.Dataset):
    """Token ids of a corpus: source ids as :func:`source_ids`, target ids as :func:`target_ids` (both end with
    ``</s>``)."""

    def __init__(self, corpus: ParallelCorpus, src_tokenizer: Tokenizer, tgt_tokenizer: Tokenizer) -> None:
        self.source = [source_ids(src_tokenizer, s) for s in corpus.source]
        self.target = [target_ids(tgt_tokenizer, t) for t in corpus.target]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.source[index], self.target[index]

    def lengths(self) -> list[int]:
        """The longer side of each pair, for bucketing; the target side counted as ``<s> y </s>``."""
        return [max(len(s), len(t) + 1) for s, t in zip(self.source, self.target, strict=True)]


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
    """Pairs of (source ids, target ids), both ending with ``</s>`` -> ``src``/``src_mask`` ``(batch, src_len)``,
    ``tgt_in``/``tgt_out`` ``(batch, tgt_len)``.

    ``tgt_out`` is what must be predicted (padding is ``PAD_ID``, which the loss ignores), ``tgt_in`` the decoder's
    input (:func:`decoder_input`: ``tgt_out`` shifted right, starting with ``<s>``).
    """
    src, src_mask = pad([s for s, _ in batch])
    tgt_out, _ = pad([t for _, t in batch])
    return {"src": src, "src_mask": src_mask, "tgt_in": decoder_input(tgt_out), "tgt_out": tgt_out}
