"""Music metrics on hand-made note lists, against values computed by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from genlab.core.errors import BadInputError
from genlab.music import metrics
from genlab.music.notes import Note, Piece, parse_key

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def melody(pitches, durations=None, start=0.0, voice=0, **piece_fields) -> Piece:
    """A one-voice piece of consecutive notes (quarter notes unless ``durations`` says otherwise)."""
    durations = durations or [1.0] * len(pitches)
    notes, t = [], start
    for p, d in zip(pitches, durations, strict=True):
        notes.append(Note(p, t, d, voice=voice))
        t += d
    return Piece(notes, **piece_fields)


# --------------------------------------------------------------------------- features


def test_pitch_class_histogram_of_a_c_major_scale():
    h = metrics.pitch_class_histogram(melody(C_MAJOR))
    expected = np.zeros(12)
    expected[[0, 2, 4, 5, 7, 9, 11]] = [2, 1, 1, 1, 1, 1, 1]
    np.testing.assert_allclose(h, expected / 8)


def test_scale_degrees_are_the_same_in_every_key_and_pitch_classes_are_not():
    c = melody(C_MAJOR, key="C major")
    d = c.transpose(2)  # D major: the key field moves with the notes
    assert not np.allclose(metrics.pitch_class_histogram(c), metrics.pitch_class_histogram(d))
    np.testing.assert_allclose(metrics.scale_degree_histogram(d), metrics.scale_degree_histogram(c))
    np.testing.assert_allclose(metrics.scale_degree_histogram(c), metrics.pitch_class_histogram(c))
    unkeyed = melody([p + 7 for p in C_MAJOR])  # G major by the Krumhansl-Schmuckler estimate
    np.testing.assert_allclose(metrics.scale_degree_histogram(unkeyed), metrics.pitch_class_histogram(c))
    assert not metrics.scale_degree_histogram(Piece([])).any()


def test_interval_histogram_of_a_scale_and_of_a_chromatic_line():
    h = metrics.interval_histogram(melody(C_MAJOR))  # +2 +2 +1 +2 +2 +2 +1
    assert h.shape == (25,)
    assert h[12 + 2] == pytest.approx(5 / 7) and h[12 + 1] == pytest.approx(2 / 7) and h.sum() == pytest.approx(1)
    chromatic = metrics.interval_histogram(melody(range(60, 73)))
    assert chromatic[13] == 1.0 and chromatic.sum() == 1.0
    np.testing.assert_allclose(
        metrics.pitch_class_histogram(melody(range(60, 73)))[[0, 1, 11]], [2 / 13, 1 / 13, 1 / 13]
    )


def test_intervals_are_taken_within_each_voice_and_wide_leaps_are_clipped():
    soprano, bass = melody([72, 91], voice=0), melody([48, 33], voice=1)  # +19 and −15
    h = metrics.interval_histogram(Piece(soprano.notes + bass.notes))
    assert h[24] == 0.5 and h[0] == 0.5  # no interval between the voices


def test_duration_histogram_uses_the_twelve_note_length_classes():
    piece = melody([60] * 7, [1, 1, 0.5, 0.5, 2, 1.5, 1 / 3])
    h = metrics.duration_histogram(piece)
    assert h[2] == pytest.approx(2 / 7)  # quarter
    assert h[3] == pytest.approx(2 / 7)  # eighth
    assert h[1] == pytest.approx(1 / 7)  # half
    assert h[6] == pytest.approx(1 / 7)  # dotted quarter
    assert h[11] == pytest.approx(1 / 7)  # eighth-note triplet
    assert metrics.duration_class(16.0) == 0  # longer than a whole note: the whole-note class


# --------------------------------------------------------------------------- Yang & Lerch


def test_intra_and_inter_set_distances():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(metrics.intra_set_distances(a), [5.0])
    np.testing.assert_allclose(metrics.inter_set_distances(a, np.array([[0.0, 0.0]])), [0.0, 5.0])


def test_kde_kl_and_overlap_of_two_unit_gaussians_one_apart():
    # one sample each, bandwidth 1: N(0, 1) against N(1, 1): KL = 1/2, OA = erfc(1 / (2 √2))
    kl, overlap = metrics.kde_kl_overlap(np.array([0.0]), np.array([1.0]), bandwidth=1.0)
    assert kl == pytest.approx(0.5, abs=1e-3)
    assert overlap == pytest.approx(math.erfc(1 / (2 * math.sqrt(2))), abs=1e-3)
    kl, overlap = metrics.kde_kl_overlap(np.array([0.2, 0.5, 0.9]), np.array([0.2, 0.5, 0.9]))
    assert kl == pytest.approx(0.0, abs=1e-9) and overlap == pytest.approx(1.0, abs=1e-4)


def scales(tonics) -> list[Piece]:
    return [melody([t + s for s in (0, 2, 4, 5, 7, 9, 11, 12)]) for t in tonics]


def test_compare_sets_tells_a_similar_set_from_a_different_one():
    reference = scales(range(60, 72))
    same = metrics.compare_sets(scales(range(60, 72)), reference, "pitch_class")
    clusters = [melody([p, p + 1, p, p + 1]) for p in range(60, 72)]  # semitone trills: nothing like a scale
    other = metrics.compare_sets(clusters, reference, "pitch_class")
    assert same.overlap > 0.8 and other.overlap < 0.2
    assert other.kl > same.kl
    assert same.n_reference == 12 and same.n_generated == 12
    assert same.intra_mean == pytest.approx(
        metrics.intra_set_distances(metrics.feature_matrix(reference, "pitch_class")).mean()
    )
    intervals = metrics.compare_sets(clusters, reference, "interval")
    assert intervals.overlap < 0.2


def test_compare_sets_needs_pieces_with_the_feature():
    with pytest.raises(BadInputError, match="two reference pieces"):
        metrics.compare_sets(scales([60]), [melody([60])] * 3, "interval")  # one note: no interval
    with pytest.raises(BadInputError, match="unknown feature"):
        metrics.compare_sets(scales([60]), scales([60, 62]), "loudness")


def test_pooled_histograms_overlap_and_kl():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    assert metrics.histogram_overlap(p, q) == 0.5
    assert metrics.histogram_kl(p, p) == pytest.approx(0.0)
    assert metrics.histogram_kl(p, q) > 1.0
    pooled = metrics.pooled_histogram([melody([60, 62]), melody([60, 62, 64, 65])], "pitch_class")
    np.testing.assert_allclose(pooled[[0, 2, 4, 5]], [2 / 6, 2 / 6, 1 / 6, 1 / 6])


# --------------------------------------------------------------------------- keys


def test_krumhansl_schmuckler_finds_the_key_of_scales_in_every_transposition():
    major = melody(C_MAJOR, [2, 1, 1, 1, 2, 1, 1, 2])
    minor = melody([57, 59, 60, 62, 64, 65, 68, 69, 64, 57], [2, 1, 1, 1, 2, 1, 1, 2, 1, 2])  # A harmonic minor
    assert metrics.estimate_key(major) == "C major"
    assert metrics.estimate_key(minor) == "A minor"
    for t in range(1, 12):
        assert parse_key(metrics.estimate_key(major.transpose(t))) == (t, "major")
        assert parse_key(metrics.estimate_key(minor.transpose(t))) == ((9 + t) % 12, "minor")
    with pytest.raises(BadInputError):
        metrics.estimate_key(Piece([]))


def _music21_key(piece: Piece) -> tuple[int, str]:
    from music21 import analysis, note, stream

    s = stream.Stream()
    for n in piece.notes:
        m = note.Note(n.pitch)
        m.quarterLength = n.duration
        s.insert(n.start, m)
    k = analysis.discrete.KrumhanslSchmuckler().getSolution(s)
    return k.tonic.pitchClass, k.mode


@pytest.mark.slow
def test_our_krumhansl_schmuckler_agrees_with_music21():
    pytest.importorskip("music21")
    rng = random.Random(0)
    pieces = []
    for _ in range(12):
        tonic, steps = rng.randrange(12), rng.choice([(0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11)])
        pitches = [60 + tonic + rng.choice(steps) + 12 * rng.choice([-1, 0]) for _ in range(24)]
        pieces.append(melody(pitches, [rng.choice([0.5, 1, 1, 2]) for _ in pitches]))
    for piece in pieces:
        assert parse_key(metrics.estimate_key(piece)) == _music21_key(piece)


def test_key_consistency_counts_beats_and_uses_the_key_field():
    assert metrics.key_consistency(melody(C_MAJOR, key="C major")) == 1.0
    chromatic = melody(range(60, 72), key="C major")  # 12 beats, 7 of them in C major
    assert metrics.key_consistency(chromatic) == pytest.approx(7 / 12)
    # beat 0 holds C and C# (out of key), beat 1 holds D: half the beats are in key, two notes of three
    piece = Piece([Note(60, 0, 0.5), Note(61, 0.5, 0.5), Note(62, 1, 1)], key="C major")
    assert metrics.key_consistency(piece) == 0.5
    assert metrics.notes_in_key(piece) == pytest.approx(2 / 3)
    # a held note counts in every beat it sounds in; the key comes from the estimate when the field is empty
    held = Piece([Note(60, 0, 3), Note(66, 3, 1)])
    assert metrics.key_consistency(held, key="C major") == 0.75
    assert metrics.key_consistency(melody(C_MAJOR)) == 1.0
    assert math.isnan(metrics.key_consistency(Piece([])))
    assert metrics.key_consistency(melody([57, 59, 60, 62, 64, 66, 68, 69], key="a minor")) == 1.0  # raised 6, 7


# --------------------------------------------------------------------------- groove


def test_grooving_patterns_and_similarity_within_a_piece():
    quarters = [Note(60, b + beat, 1) for b in (0, 4) for beat in range(4)]
    whole = [Note(60, 8, 4)]
    piece = Piece(quarters + whole)
    g = metrics.grooving_patterns(piece)
    assert g.shape == (3, 16)
    assert g[0].nonzero()[0].tolist() == [0, 4, 8, 12] and g[2].nonzero()[0].tolist() == [0]
    # bars 0 and 1 identical (1); each against bar 2 differs in 3 of 16 positions
    assert metrics.groove_consistency(piece) == pytest.approx((1 + 2 * (1 - 3 / 16)) / 3)
    assert metrics.groove_consistency(Piece(quarters)) == 1.0
    assert math.isnan(metrics.groove_consistency(Piece(whole)))
    waltz = Piece([Note(60, 0, 1), Note(60, 1, 2), Note(60, 3, 3)], time_signature=(3, 4))
    assert metrics.grooving_patterns(waltz).shape == (2, 12)


def test_groove_similarity_against_a_reference_set():
    reference = [Piece([Note(60, beat, 1) for beat in range(8)])]
    assert metrics.groove_reference_similarity([Piece([Note(62, beat, 1) for beat in range(4)])], reference) == 1.0
    eighths = Piece([Note(60, 0.5 * i, 0.5) for i in range(8)])  # 8 onsets against the reference's 4
    assert metrics.groove_reference_similarity([eighths], reference) == pytest.approx(1 - 4 / 16)


# --------------------------------------------------------------------------- plagiarism


def tune(seed: int, bars: int, lowest: int = 55) -> tuple[list[int], list[float]]:
    """A seeded random 4/4 melody of ``bars`` bars (pitches and durations)."""
    rng = random.Random(seed)
    pitches, durations = [], []
    for _ in range(bars):
        left = 4.0
        while left > 0:
            d = min(left, rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
            pitches.append(rng.randrange(lowest, lowest + 20))
            durations.append(d)
            left -= d
    return pitches, durations


def test_a_copied_transposed_passage_of_eight_bars_is_found():
    source_p, source_d = tune(1, 12)
    detector = metrics.CopyDetector([melody(source_p, source_d), melody(*tune(2, 12))])
    bar8 = next(i for i in range(len(source_d)) if sum(source_d[:i]) == 32.0)  # notes of the first 8 bars
    before_p, before_d = [90, 88, 91, 87], [0.75, 0.75, 0.5, 2.0]  # 1 bar nothing like the training tunes
    copied = [p + 3 for p in source_p[:bar8]]
    piece = melody(before_p + copied + [30, 100], before_d + source_d[:bar8] + [3.0, 1.0])
    by_notes, by_bars = detector.longest(piece)
    assert by_notes.notes == bar8 and by_bars.bars == pytest.approx(8.0) and by_bars.start == 4.0
    assert metrics.plagiarism([piece], detector)["plagiarism_rate"] == 1.0
    shorter = melody(before_p + copied[:-1], before_d + source_d[: bar8 - 1])  # 7-and-a-bit bars
    assert metrics.plagiarism([shorter], detector)["plagiarism_rate"] == 0.0
    absolute = metrics.CopyDetector([melody(source_p, source_d)], transposition_invariant=False)
    assert absolute.longest(piece)[0].notes < 4  # transposed: not a copy of the same pitches
    assert absolute.longest(melody(source_p, source_d))[0].notes == len(source_p)


def test_identical_pieces_are_copies_and_new_pieces_are_not():
    train = [melody(*tune(s, 8)) for s in range(5)]
    detector = metrics.CopyDetector(train)
    result = metrics.plagiarism(train[:2] + [melody([60, 72, 61, 73], [0.75, 0.25, 3, 0.125])], detector)
    assert result["plagiarism_rate"] == pytest.approx(2 / 3)
    assert result["longest_copy_bars"] == pytest.approx((8 + 8 + 0) / 3, abs=0.5)


def _naive_runs(train: list[Piece], piece: Piece) -> list[int]:
    """The longest copied run at every note by brute force over (interval, duration) tuples."""

    def seq(line):
        return [
            (b.pitch - a.pitch if i else None, b.duration)
            for i, (a, b) in enumerate(zip([line[0], *line], line, strict=False))
        ]

    corpus = [seq(line) for p in train for line in metrics.voice_lines(p)]
    out = []
    for line in metrics.voice_lines(piece):
        s = seq(line)
        for a in range(len(s)):
            best = 0
            for c in corpus:
                for i in range(len(c)):
                    k = 0
                    while (
                        a + k < len(s)
                        and i + k < len(c)
                        and (s[a + k][1] == c[i + k][1] and (k == 0 or s[a + k][0] == c[i + k][0]))
                    ):
                        k += 1
                    best = max(best, k)
            out.append(best)
    return out


@pytest.mark.parametrize("scan", [64, 0])  # 0: every 4-gram found by scanning the corpus
def test_copy_detector_agrees_with_brute_force(monkeypatch, scan):
    monkeypatch.setattr(metrics, "_SCAN", scan)
    rng = random.Random(3)

    def small(n):  # a tiny alphabet makes long accidental matches common
        return melody([60 + rng.choice([0, 2, 4]) for _ in range(n)], [rng.choice([1.0, 2.0]) for _ in range(n)])

    train = [small(40) for _ in range(4)]
    detector = metrics.CopyDetector(train)
    for _ in range(5):
        piece = small(30)
        runs = detector.runs(piece)
        assert [r.notes for r in runs] == [k for k in _naive_runs(train, piece) if k > 0]


# --------------------------------------------------------------------------- likelihood


class _UniformModel(torch.nn.Module):
    """Every token costs log V nats; counts the batches it is given."""

    def __init__(self, vocab: int = 10):
        super().__init__()
        self.vocab, self.batches = vocab, []
        self.tokenizer = type("Tok", (), {"note_count": staticmethod(lambda ids: sum(t >= 5 for t in ids))})()

    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        self.batches.append(tuple(ids.shape))
        assert not self.training
        return torch.full((ids.shape[0],), (ids.shape[1] - 1) * math.log(self.vocab))


def test_nll_per_note_divides_the_summed_nll_by_the_notes():
    model = _UniformModel()
    sequences = [[1, 5, 6, 2], [1, 5, 7, 2], [1, 5, 2]]  # 3 + 3 + 2 predicted tokens, 2 + 2 + 1 notes
    result = metrics.sequence_likelihood(model, sequences)
    assert result.nll == pytest.approx(8 * math.log(10))
    assert result.per_note == pytest.approx(8 * math.log(10) / 5)
    assert result.per_token == pytest.approx(math.log(10))
    assert sorted(model.batches) == [(1, 3), (2, 4)] and model.training  # equal lengths batched, mode restored
    with pytest.raises(BadInputError):
        metrics.sequence_likelihood(model, [[1]])


def test_binned_kde_of_a_large_sample_matches_the_exact_sum():
    samples = np.random.default_rng(0).normal(0.2, 0.05, 5000)  # above 4,096: binned onto the grid
    x = np.linspace(0.0, 0.5, 1000)
    exact = np.exp(-0.5 * ((x[:, None] - samples[None, :]) / 0.01) ** 2).sum(1) / (5000 * 0.01 * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(metrics.gaussian_kde(samples, x, 0.01), exact, atol=1e-3 * exact.max())
