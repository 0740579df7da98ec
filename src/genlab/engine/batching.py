"""Length-bucketed training batches for datasets of sequences that differ in length.

A dataset that exposes ``lengths`` (one int per item: frames, samples, tokens) is batched by
:class:`LengthBucketBatchSampler` when the trainer shuffles it on one device: the items are shuffled, cut into pools
of ``pool`` batches, each pool sorted by length and cut into batches, and the batches shuffled. A batch then holds
items of similar length, so a model that cuts a padded batch to its longest item (speech, text) computes far less
padding, while every epoch still sees every item once in a fresh random order (the usual bucketing of speech
toolkits, e.g. ESPnet's ``NumElementsBatchSampler`` and fairseq's ``batch_by_size``; here the pool is random, not
the whole set, so batches of one epoch still mix lengths).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Shuffled batches of items of similar length (module docstring); the last incomplete batch is dropped, as the
    trainer's shuffled loader does. Each epoch's order is a function of ``seed`` and the epoch number: the sampler
    counts the epochs it is iterated, and :meth:`set_epoch` sets the count (as for a distributed sampler)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, pool: int = 50):
        if batch_size < 1 or pool < 1:
            raise ValueError(f"batch_size ({batch_size}) and pool ({pool}) must be at least 1")
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.batch_size, self.seed, self.pool, self.epoch = batch_size, seed, pool, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        bs = self.batch_size
        order = torch.randperm(len(self.lengths), generator=generator)[: len(self) * bs]
        batches = []
        for start in range(0, len(order), bs * self.pool):
            chunk = order[start : start + bs * self.pool]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches += [chunk[i : i + bs].tolist() for i in range(0, len(chunk), bs)]
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]
