"""Length-bucketed batches: every item once per epoch, similar lengths together, seeded order."""

import torch
from torch.utils.data import Dataset

from genlab.engine.batching import LengthBucketBatchSampler
from genlab.engine.config import RunConfig
from genlab.engine.trainer import _loader


def _lengths(n=103, seed=1):
    return torch.randint(1, 1000, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def test_each_epoch_sees_every_full_batch_item_once():
    lengths = _lengths()
    sampler = LengthBucketBatchSampler(lengths, batch_size=8, seed=3, pool=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 103 // 8
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat)) == 12 * 8 and all(len(b) == 8 for b in batches)


def test_batches_hold_similar_lengths():
    lengths = _lengths(400)
    spread = lambda batches: sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)  # noqa: E731
    bucketed = list(LengthBucketBatchSampler(lengths, batch_size=8, seed=0, pool=10))
    random = torch.randperm(400, generator=torch.Generator().manual_seed(0))[:400].view(-1, 8).tolist()
    assert spread(bucketed) < 0.25 * spread(random)
    padded = sum(8 * max(lengths[i] for i in b) for b in bucketed)
    assert padded < 1.1 * sum(lengths)  # little padding left


def test_order_is_seeded_and_changes_per_epoch():
    lengths = _lengths()
    a, b = LengthBucketBatchSampler(lengths, 8, seed=5), LengthBucketBatchSampler(lengths, 8, seed=5)
    first = list(a)
    assert first == list(b)
    second = list(a)  # the next epoch
    assert second != first
    b.set_epoch(1)
    assert list(b) == second
    assert list(LengthBucketBatchSampler(lengths, 8, seed=6)) != first


class _Seqs(Dataset):
    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        return torch.tensor(self.lengths[i])


def test_trainer_buckets_datasets_with_lengths_on_one_device():
    cfg = RunConfig.model_validate({"task": "tts", "name": "t", "train": {"batch_size": 4, "seed": 2}})
    loader = _loader(_Seqs(_lengths(40)), cfg, shuffle=True)
    assert isinstance(loader.batch_sampler, LengthBucketBatchSampler)
    assert sum(len(b) for b in loader) == 40
    assert not isinstance(_loader(_Seqs(_lengths(40)), cfg, shuffle=False).batch_sampler, LengthBucketBatchSampler)
