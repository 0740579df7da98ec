"""Monotonic alignment search against brute force over every monotonic path, padding and its errors."""

import itertools

import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.speech.tts.alignment import durations, monotonic_alignment_search


def best_by_brute_force(log_p: torch.Tensor) -> float:
    """The best score over all monotonic surjective paths of log_p (L, F): every way to give each symbol ≥ 1 frame."""
    n_symbols, n_frames = log_p.shape
    best = -float("inf")
    for cuts in itertools.combinations(range(1, n_frames), n_symbols - 1):
        bounds = (0, *cuts, n_frames)
        score = sum(float(log_p[s, bounds[s] : bounds[s + 1]].sum()) for s in range(n_symbols))
        best = max(best, score)
    return best


def check_path(alignment: torch.Tensor, n_symbols: int, n_frames: int) -> None:
    """A 0/1 monotonic surjective path over the first n_symbols × n_frames, zero elsewhere."""
    assert set(alignment.unique().tolist()) <= {0.0, 1.0}
    assert alignment[n_symbols:].sum() == 0 and alignment[:, n_frames:].sum() == 0
    part = alignment[:n_symbols, :n_frames]
    assert torch.equal(part.sum(0), torch.ones(n_frames)), "a frame has no symbol or two"
    symbol = part.argmax(0)
    assert symbol[0] == 0 and symbol[-1] == n_symbols - 1
    assert set(symbol.diff().tolist()) <= {0, 1}, "the path skips a symbol or goes back"


@pytest.mark.parametrize(("n_symbols", "n_frames"), [(3, 6), (1, 4), (4, 4), (4, 9), (2, 7)])
def test_matches_brute_force(n_symbols, n_frames):
    g = torch.Generator().manual_seed(n_symbols * 10 + n_frames)
    log_p = torch.randn(5, n_symbols, n_frames, generator=g) * 3
    lengths = torch.full((5,), n_symbols), torch.full((5,), n_frames)
    alignment = monotonic_alignment_search(log_p, *lengths)
    assert alignment.shape == log_p.shape and alignment.dtype == log_p.dtype
    for b in range(5):
        check_path(alignment[b], n_symbols, n_frames)
        score = float((alignment[b] * log_p[b]).sum())
        assert score == pytest.approx(best_by_brute_force(log_p[b]), abs=1e-4)
    d = durations(alignment)
    assert d.shape == (5, n_symbols) and (d >= 1).all() and (d.sum(1) == n_frames).all()


def test_padding_beyond_the_lengths_is_ignored():
    g = torch.Generator().manual_seed(1)
    sizes = [(3, 6), (5, 8), (2, 3)]
    padded = torch.randn(3, 5, 8, generator=g)
    garbage = padded.clone()
    for b, (n_symbols, n_frames) in enumerate(sizes):
        garbage[b, n_symbols:] = 100.0  # padding that would win if it were read
        garbage[b, :, n_frames:] = 100.0
    ids, frames = torch.tensor([s[0] for s in sizes]), torch.tensor([s[1] for s in sizes])
    alignment = monotonic_alignment_search(garbage, ids, frames)
    assert torch.equal(alignment, monotonic_alignment_search(padded, ids, frames))
    for b, (n_symbols, n_frames) in enumerate(sizes):
        check_path(alignment[b], n_symbols, n_frames)
        alone = monotonic_alignment_search(padded[b : b + 1, :n_symbols, :n_frames], ids[b : b + 1], frames[b : b + 1])
        assert torch.equal(alignment[b, :n_symbols, :n_frames], alone[0])
    assert torch.equal(durations(alignment).sum(1), frames)


def test_follows_a_clear_diagonal():
    """Frames that plainly belong to symbols 0,0,1,2,2,2 give durations 2, 1, 3."""
    target = torch.tensor([0, 0, 1, 2, 2, 2])
    log_p = torch.full((1, 3, 6), -10.0)
    log_p[0, target, torch.arange(6)] = 0.0
    alignment = monotonic_alignment_search(log_p, torch.tensor([3]), torch.tensor([6]))
    assert durations(alignment).tolist() == [[2, 1, 3]]


def test_a_mel_shorter_than_its_symbols_raises():
    log_p = torch.zeros(2, 4, 6)
    with pytest.raises(BadInputError, match="utterance 1 has 3 mel frames for 4 symbols"):
        monotonic_alignment_search(log_p, torch.tensor([4, 4]), torch.tensor([6, 3]))
    with pytest.raises(BadInputError, match="lengths out of range"):
        monotonic_alignment_search(log_p, torch.tensor([4, 0]), torch.tensor([6, 6]))
