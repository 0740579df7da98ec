"""Music-aware metrics on :class:`~genlab.music.notes.Piece` lists: pure functions, no model, no I/O.

**Distributions** (Yang & Lerch 2020, "On the evaluation of generative models in music", Neural Computing and
Applications 32:4773–4784). A *feature* maps a piece to a vector: :func:`pitch_class_histogram` (12 bins),
:func:`interval_histogram` (successive notes within a voice, −12..+12 semitones, wider leaps clipped to the end
bins: 25 bins) and :func:`duration_histogram` (the 12 note-length classes of the paper). For a generated set G and
a reference set R the protocol (:func:`compare_sets`) takes

* the *intra-set* distances of R: Euclidean distance between the features of every pair of distinct reference
  pieces (exhaustive cross-validation);
* the *inter-set* distances: between every generated piece and every reference piece;
* a Gaussian kernel density estimate of each set of distances (Scott's bandwidth);
* the **overlapping area** OA = ∫ min(p, q) and the **KL divergence** KL(p ‖ q) = ∫ p log(p / q) between the
  intra-set density p of the reference and the inter-set density q, integrated on a grid.

:func:`scale_degree_histogram` is the pitch-class histogram counted from each piece's tonic (a key-free view:
absolute pitch classes mostly tell which keys a set of pieces is in).

So ``pitch_class_overlap`` is OA for the pitch-class feature: 1 when generated pieces lie as close to the
reference pieces as those lie to each other, towards 0 when they lie elsewhere; ``pitch_class_kl`` is the KL
divergence in nats (0 is best). ``interval_*`` and ``duration_*`` likewise. The simpler comparison of pooled
histograms (:func:`histogram_overlap`, :func:`histogram_kl`) is here too.

**Key consistency** (:func:`key_consistency`): share of the beats (quarter notes) with sounding notes whose
pitch classes all belong to the piece's key (its ``key`` field, else the Krumhansl–Schmuckler estimate with the
Krumhansl–Kessler profiles, :func:`estimate_key`).

**Groove** (Wu & Yang 2020, "The Jazz Transformer on the front line", ISMIR): the grooving pattern of a bar is
the binary vector of its onsets on the grid (Q positions); similarity of two bars is 1 − Hamming / Q.

**Plagiarism** (:class:`CopyDetector`): the longest run of consecutive notes of a voice whose intervals and
durations all occur, in the same order, in one voice of a training piece.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genlab.core.errors import BadInputError
from genlab.music.notes import Piece, key_name, parse_key, scale_pitch_classes

MAX_INTERVAL = 12  # intervals are clipped to −12..+12 semitones (an octave either way)
#: Yang & Lerch's 12 note-length classes in quarter notes: whole, half, quarter, 8th, 16th; the same dotted;
#: half-, quarter- and 8th-note triplets.
DURATION_CLASSES = (4.0, 2.0, 1.0, 0.5, 0.25, 3.0, 1.5, 0.75, 0.375, 4 / 3, 2 / 3, 1 / 3)
#: Krumhansl & Kessler (1982) probe-tone profiles, tonic first (the values music21's KrumhanslSchmuckler uses).
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
KDE_GRID = 1000  # points of the grid the densities are integrated on
COPY_BARS = 8  # a generated piece with a copied run of this many bars counts as plagiarised


# --------------------------------------------------------------------------- features


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    """Share of the piece's notes in each pitch class C..B, shape (12,); all zeros for a piece without notes."""
    counts = np.bincount([n.pitch % 12 for n in piece.notes], minlength=12).astype(float)
    return counts / max(counts.sum(), 1.0)


def scale_degree_histogram(piece: Piece) -> np.ndarray:
    """The pitch-class histogram counted from the piece's tonic (its key, else the Krumhansl–Schmuckler estimate):
    bin 0 the tonic, 7 the dominant, shape (12,). The same in every key, so it compares how a model uses a scale
    apart from which keys it picks — pieces of a model trained with transposition augmentation come in every key,
    while a corpus's pieces cluster in a few, which dominates the absolute pitch-class histogram."""
    if not piece.notes:
        return np.zeros(12)
    tonic, _ = parse_key(piece_key(piece))
    return np.roll(pitch_class_histogram(piece), -tonic)


def voice_lines(piece: Piece) -> list[list]:
    """The notes of each voice in order of onset (the piece keeps notes sorted by start, voice, pitch)."""
    lines: dict[int, list] = {}
    for n in piece.notes:
        lines.setdefault(n.voice, []).append(n)
    return [lines[v] for v in sorted(lines)]


def interval_histogram(piece: Piece, max_interval: int = MAX_INTERVAL) -> np.ndarray:
    """Share of each melodic interval between successive notes of a voice, −max..+max semitones (wider ones
    clipped to the end bins), shape (2 max + 1,); index ``max_interval`` is the repeated note."""
    steps = [b.pitch - a.pitch for line in voice_lines(piece) for a, b in zip(line, line[1:], strict=False)]
    clipped = np.clip(np.asarray(steps, dtype=int), -max_interval, max_interval) + max_interval
    counts = np.bincount(clipped, minlength=2 * max_interval + 1).astype(float)
    return counts / max(counts.sum(), 1.0)


def duration_class(duration: float) -> int:
    """Index in :data:`DURATION_CLASSES` of the class nearest to ``duration`` (quarter notes) on a log scale."""
    return int(np.argmin([abs(math.log2(max(duration, 1e-6) / c)) for c in DURATION_CLASSES]))


def duration_histogram(piece: Piece) -> np.ndarray:
    """Share of notes in each of Yang & Lerch's 12 note-length classes (:data:`DURATION_CLASSES`), shape (12,)."""
    counts = np.bincount([duration_class(n.duration) for n in piece.notes], minlength=12).astype(float)
    return counts / max(counts.sum(), 1.0)


#: Feature name → (function, the least notes a piece needs for it to be defined).
FEATURES: dict[str, tuple[Callable[[Piece], np.ndarray], int]] = {
    "pitch_class": (pitch_class_histogram, 1),
    "scale_degree": (scale_degree_histogram, 1),
    "interval": (interval_histogram, 2),
    "duration": (duration_histogram, 1),
}


def feature_matrix(pieces: Sequence[Piece], feature: str) -> np.ndarray:
    """(n, d) features of the pieces for which ``feature`` is defined (a melody needs two notes for an interval)."""
    fn, least = FEATURES[feature]
    rows = [fn(p) for p in pieces if _defined(p, least, feature)]
    dim = len(fn(Piece([])))
    return np.asarray(rows, dtype=float).reshape(len(rows), dim)


def _defined(piece: Piece, least: int, feature: str) -> bool:
    if feature == "interval":
        return any(len(line) >= 2 for line in voice_lines(piece))
    return len(piece.notes) >= least


# --------------------------------------------------------------------------- Yang & Lerch protocol


def intra_set_distances(features: np.ndarray) -> np.ndarray:
    """Euclidean distances between the features of every pair i < j of one set, shape (n (n − 1) / 2,)."""
    d = np.linalg.norm(features[:, None, :] - features[None, :, :], axis=-1)
    return d[np.triu_indices(len(features), k=1)]


def inter_set_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between every row of ``a`` and every row of ``b``, shape (len(a) len(b),)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).ravel()


def scott_bandwidth(samples: np.ndarray, floor: float = 1e-3) -> float:
    """Scott's rule for one dimension, σ n^(−1/5), at least ``floor`` (identical samples have σ = 0)."""
    return max(float(np.std(samples, ddof=1)) * len(samples) ** -0.2 if len(samples) > 1 else 0.0, floor)


def gaussian_kde(samples: np.ndarray, x: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Gaussian kernel density estimate of 1-D ``samples`` evaluated at the evenly spaced points ``x`` (bandwidth:
    Scott's rule). Exact for up to 4,096 samples; larger sets are linearly binned onto ``x`` first (Wand 1994),
    which moves a sample by less than one grid step and keeps the cost flat in the number of samples."""
    samples = np.asarray(samples, dtype=float).ravel()
    h = scott_bandwidth(samples) if bandwidth is None else float(bandwidth)
    norm = len(samples) * h * math.sqrt(2 * math.pi)
    if len(samples) <= 4096 or len(x) < 2:
        z = (x[:, None] - samples[None, :]) / h  # (grid, samples)
        return np.exp(-0.5 * z * z).sum(axis=1) / norm
    dx = float(x[1] - x[0])
    pos = np.clip((samples - x[0]) / dx, 0, len(x) - 1 - 1e-9)
    left, frac = pos.astype(int), pos - np.floor(pos)
    weights = np.bincount(left, 1 - frac, len(x)) + np.bincount(left + 1, frac, len(x) + 1)[: len(x)]
    reach = min(len(x) - 1, math.ceil(6 * h / dx))
    offsets = np.arange(-reach, reach + 1) * dx
    kernel = np.exp(-0.5 * (offsets / h) ** 2)
    return np.convolve(weights, kernel, mode="same") / norm


def kde_kl_overlap(
    p_samples: np.ndarray, q_samples: np.ndarray, bandwidth: float | None = None, points: int = KDE_GRID
) -> tuple[float, float]:
    """(KL(p ‖ q) in nats, overlapping area ∫ min(p, q)) of the Gaussian KDEs of two 1-D samples.

    The densities are evaluated on ``points`` grid points covering both samples ± 4 bandwidths and integrated
    with the trapezoidal rule; q is floored at 1e-12 of its peak so that KL stays finite.
    """
    p_samples, q_samples = np.asarray(p_samples, float).ravel(), np.asarray(q_samples, float).ravel()
    if not len(p_samples) or not len(q_samples):
        raise BadInputError("cannot compare empty sets of distances", "give at least two pieces in each set")
    hp = scott_bandwidth(p_samples) if bandwidth is None else bandwidth
    hq = scott_bandwidth(q_samples) if bandwidth is None else bandwidth
    both = np.concatenate([p_samples, q_samples])
    x = np.linspace(both.min() - 4 * max(hp, hq), both.max() + 4 * max(hp, hq), points)
    p, q = gaussian_kde(p_samples, x, hp), gaussian_kde(q_samples, x, hq)
    q_floor = np.maximum(q, 1e-12 * q.max())
    kl = float(np.trapezoid(np.where(p > 0, p * np.log(np.maximum(p, 1e-300) / q_floor), 0.0), x))
    overlap = float(np.trapezoid(np.minimum(p, q), x))
    return max(kl, 0.0), min(overlap, 1.0)


@dataclass(frozen=True)
class SetComparison:
    """Yang & Lerch's comparison of a generated set with a reference set on one feature."""

    feature: str
    kl: float  # KL(intra-set density of the reference ‖ inter-set density), nats
    overlap: float  # overlapping area of the same two densities, 0–1
    intra_mean: float  # mean intra-set distance of the reference
    intra_std: float
    inter_mean: float  # mean generated–reference distance
    inter_std: float
    n_generated: int
    n_reference: int


def compare_sets(generated: Sequence[Piece], reference: Sequence[Piece], feature: str) -> SetComparison:
    """Compare ``generated`` with ``reference`` on ``feature`` (``pitch_class``, ``interval``, ``duration``) by
    Yang & Lerch's protocol: KL and OA between the reference's intra-set and the inter-set distance densities."""
    if feature not in FEATURES:
        raise BadInputError(f"unknown feature {feature!r}", f"choose from {', '.join(FEATURES)}")
    gen, ref = feature_matrix(generated, feature), feature_matrix(reference, feature)
    if len(ref) < 2 or len(gen) < 1:
        raise BadInputError(
            f"the {feature} comparison needs two reference pieces and one generated piece with notes "
            f"(got {len(ref)} and {len(gen)})",
            "generate longer pieces or use a larger reference set",
        )
    intra, inter = intra_set_distances(ref), inter_set_distances(gen, ref)
    kl, overlap = kde_kl_overlap(intra, inter)
    return SetComparison(
        feature, kl, overlap, float(intra.mean()), float(intra.std()), float(inter.mean()), float(inter.std()),
        len(gen), len(ref),
    )  # fmt: skip


def pooled_histogram(pieces: Sequence[Piece], feature: str) -> np.ndarray:
    """The feature's histogram over all notes of a set (pieces weighted by their number of notes or intervals)."""
    fn, _ = FEATURES[feature]
    weights = [len(p.notes) if feature != "interval" else len(p.notes) - len(voice_lines(p)) for p in pieces]
    total = sum(fn(p) * w for p, w in zip(pieces, weights, strict=True) if w > 0)
    return total / total.sum() if isinstance(total, np.ndarray) and total.sum() > 0 else np.zeros(len(fn(Piece([]))))


def histogram_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Σ min(p_i, q_i) of two normalised histograms: 1 for identical ones, 0 for disjoint ones."""
    return float(np.minimum(np.asarray(p, float), np.asarray(q, float)).sum())


def histogram_kl(p: np.ndarray, q: np.ndarray, eps: float = 1e-6) -> float:
    """KL(p ‖ q) in nats of two histograms after adding ``eps`` to every bin and renormalising."""
    p, q = np.asarray(p, float) + eps, np.asarray(q, float) + eps
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


# --------------------------------------------------------------------------- keys


def pitch_class_durations(piece: Piece) -> np.ndarray:
    """Total duration (quarter notes) of the notes of each pitch class, shape (12,)."""
    out = np.zeros(12)
    for n in piece.notes:
        out[n.pitch % 12] += n.duration
    return out


def key_correlations(distribution: np.ndarray) -> np.ndarray:
    """Pearson correlation of a pitch-class distribution with the Krumhansl–Kessler profile of every key,
    shape (2, 12): row 0 major, row 1 minor, column the tonic."""
    out = np.zeros((2, 12))
    d = np.asarray(distribution, float) - np.mean(distribution)
    for row, profile in enumerate((KK_MAJOR, KK_MINOR)):
        for tonic in range(12):
            w = np.roll(profile, tonic) - np.mean(profile)  # w[j]: the weight of pitch class j in this key
            denom = math.sqrt(float(np.sum(w * w) * np.sum(d * d)))
            out[row, tonic] = float(np.sum(w * d)) / denom if denom else 0.0
    return out


def estimate_key(piece: Piece) -> str:
    """The Krumhansl–Schmuckler key of the piece (``"D major"``): the key whose Krumhansl–Kessler profile
    correlates best with the duration-weighted pitch-class distribution (Krumhansl 1990)."""
    dist = pitch_class_durations(piece)
    if not dist.any():
        raise BadInputError("cannot estimate the key of a piece without notes", "give a piece with notes")
    corr = key_correlations(dist)
    mode, tonic = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return key_name(int(tonic), ("major", "minor")[int(mode)])


def piece_key(piece: Piece) -> str:
    """The piece's ``key`` field when set, else its Krumhansl–Schmuckler estimate."""
    if piece.key:
        tonic, mode = parse_key(piece.key)
        return key_name(tonic, mode)
    return estimate_key(piece)


def key_consistency(piece: Piece, key: str | None = None) -> float:
    """Share of the beats with sounding notes whose pitch classes all lie in ``key``'s scale (default: the
    piece's key, see :func:`piece_key`; minor keys admit the raised 6th and 7th). A beat is one quarter note
    [b, b + 1); a note sounds in it when it overlaps it. NaN for a piece without notes."""
    if not piece.notes:
        return float("nan")
    scale = scale_pitch_classes(key or piece_key(piece))
    beats: dict[int, bool] = {}
    for n in piece.notes:
        first, last = math.floor(n.start + 1e-9), math.ceil(n.end - 1e-9) - 1
        fits = n.pitch % 12 in scale
        for b in range(first, max(first, last) + 1):
            beats[b] = beats.get(b, True) and fits
    return sum(beats.values()) / len(beats)


def notes_in_key(piece: Piece, key: str | None = None) -> float:
    """Share of the piece's notes whose pitch class lies in ``key``'s scale (default: the piece's key)."""
    if not piece.notes:
        return float("nan")
    scale = scale_pitch_classes(key or piece_key(piece))
    return sum(n.pitch % 12 in scale for n in piece.notes) / len(piece.notes)


def mean_key_consistency(pieces: Sequence[Piece]) -> float:
    """Mean :func:`key_consistency` over the pieces that have notes (NaN when none has)."""
    values = [key_consistency(p) for p in pieces if p.notes]
    return float(np.mean(values)) if values else float("nan")


# --------------------------------------------------------------------------- groove


def grooving_patterns(piece: Piece, steps_per_beat: int = 4) -> np.ndarray:
    """Wu & Yang's grooving pattern of every bar with an onset: (bars, Q) booleans, Q = steps per bar; position
    q is True when a note (any voice) starts on grid step q of the bar. Bars without onsets are left out."""
    bpb = piece.beats_per_bar
    q = max(1, round(bpb * steps_per_beat))
    if not piece.notes:
        return np.zeros((0, q), dtype=bool)
    grid = np.zeros((piece.n_bars or 1, q), dtype=bool)
    for n in piece.notes:
        bar = min(int(n.start // bpb + 1e-9), len(grid) - 1)
        step = min(round((n.start - bar * bpb) * steps_per_beat), q - 1)
        grid[bar, step] = True
    return grid[grid.any(axis=1)]


def groove_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − Hamming(a_i, b_j) / Q for every bar pattern a_i of ``a`` (n, Q) and b_j of ``b`` (m, Q): (n, m)."""
    a, b = a.astype(np.int32), b.astype(np.int32)
    hamming = a @ (1 - b).T + (1 - a) @ b.T
    return 1.0 - hamming / a.shape[1]


def groove_consistency(piece: Piece, steps_per_beat: int = 4) -> float:
    """Wu & Yang's grooving pattern similarity within a piece: mean similarity over all pairs of distinct bars
    with onsets (NaN with fewer than two such bars)."""
    g = grooving_patterns(piece, steps_per_beat)
    if len(g) < 2:
        return float("nan")
    s = groove_similarity(g, g)
    return float(s[np.triu_indices(len(g), k=1)].mean())


def groove_reference_similarity(
    generated: Sequence[Piece], reference: Sequence[Piece], steps_per_beat: int = 4
) -> float:
    """Mean over the generated bars of the similarity to the nearest reference bar pattern of the same length
    (1: every generated bar uses a rhythm found in the reference set). NaN when nothing can be compared."""
    distinct: dict[int, set[bytes]] = {}  # bar length Q → the distinct patterns (a reference repeats many)
    for p in reference:
        for row in grooving_patterns(p, steps_per_beat):
            distinct.setdefault(len(row), set()).add(row.tobytes())
    unpacked = {q: np.array([np.frombuffer(s, dtype=bool) for s in rows]) for q, rows in distinct.items()}
    best: list[np.ndarray] = []
    for p in generated:
        g = grooving_patterns(p, steps_per_beat)
        if len(g) and g.shape[1] in unpacked:
            best.append(groove_similarity(g, unpacked[g.shape[1]]).max(axis=1))
    return float(np.concatenate(best).mean()) if best else float("nan")


# --------------------------------------------------------------------------- plagiarism

_TICKS = 48  # durations are compared on a grid of 1/48 quarter note (sixteenth-note triplets and 32nds fit)
_GRAM = 4  # notes per indexed n-gram: shorter runs are looked up in a set, longer ones through this index
_SCAN = 64  # an n-gram occurring more often than this is checked by scanning the corpus instead


@dataclass(frozen=True)
class CopiedRun:
    """A run of consecutive notes of one voice found in the training set: ``notes`` long, spanning ``bars``
    bars (first onset to last note end), starting at ``start`` quarter notes."""

    notes: int
    bars: float
    voice: int
    start: float


class CopyDetector:
    """The longest runs of a piece's notes copied from a training set, found in time linear in the piece.

    Each voice becomes a string: with ``transposition_invariant`` (the default) the duration of the first note,
    then for every further note the interval from the previous one and its duration, so a passage copied in
    another key counts as copied (models train on transposed copies, and a tune moved to another key is the
    same tune); otherwise every note's pitch and duration. A run of notes a..b is copied when its string occurs
    in the string of a training voice. Runs of fewer than four notes are looked up in a set of every such
    n-gram; longer ones through a hash index of the training 4-grams (candidate positions verified
    character by character), scanning the whole corpus only for very common 4-grams. Moving along the piece,
    the run starting at note a + 1 is at least the run at a minus one note, so each voice costs O(notes) lookups.
    """

    def __init__(self, training: Sequence[Piece], transposition_invariant: bool = True):
        self.invariant = transposition_invariant
        strings = [self.encode(line) for p in training for line in voice_lines(p)]
        self.corpus = "\x00".join(strings)  # \x00 never occurs in an encoded voice: no run crosses two voices
        self.short: set[str] = set()
        self.index: dict[str, list[int]] = {}
        offset = 0
        for s in strings:
            n = self.notes_in(s)
            for a in range(n):
                for k in range(1, min(_GRAM, n - a + 1)):
                    self.short.add(s[2 * a : 2 * a + self.width(k)])
                if a + _GRAM <= n:
                    self.index.setdefault(s[2 * a : 2 * a + self.width(_GRAM)], []).append(offset + 2 * a)
            offset += len(s) + 1
        self.training_notes = sum(self.notes_in(s) for s in strings)

    def width(self, notes: int) -> int:
        """Characters of a run of ``notes`` notes."""
        return 2 * notes - 1 if self.invariant else 2 * notes

    def notes_in(self, s: str) -> int:
        return (len(s) + 1) // 2 if self.invariant else len(s) // 2

    def encode(self, line: Sequence) -> str:
        """The string of one voice's notes (two characters per note, see the class docstring)."""
        chars = []
        for i, n in enumerate(line):
            pitch = (n.pitch - line[i - 1].pitch if i else None) if self.invariant else n.pitch
            if pitch is not None:
                chars.append(chr(0x1080 + max(-127, min(127, pitch))))
            chars.append(chr(0x2000 + max(1, min(0x1FFF, round(n.duration * _TICKS)))))
        return "".join(chars)

    def _copied(self, s: str, a: int, b: int) -> bool:
        sub = s[2 * a : 2 * b + (1 if self.invariant else 2)]
        if b - a + 1 < _GRAM:
            return sub in self.short
        spots = self.index.get(sub[: self.width(_GRAM)])
        if spots is None:
            return False
        if len(spots) > _SCAN:
            return sub in self.corpus
        return any(self.corpus.startswith(sub, i) for i in spots)

    def runs(self, piece: Piece) -> list[CopiedRun]:
        """The longest copied run starting at each note of each voice (runs of 0 notes left out)."""
        out = []
        for line in voice_lines(piece):
            s, b = self.encode(line), -1
            for a in range(len(line)):
                b = max(b, a - 1)
                while b + 1 < len(line) and self._copied(s, a, b + 1):
                    b += 1
                if b >= a:
                    span = (max(n.end for n in line[a : b + 1]) - line[a].start) / piece.beats_per_bar
                    out.append(CopiedRun(b - a + 1, span, line[a].voice, line[a].start))
        return out

    def longest(self, piece: Piece) -> tuple[CopiedRun | None, CopiedRun | None]:
        """(the copied run with the most notes, the one spanning the most bars); None for a piece without one."""
        runs = self.runs(piece)
        if not runs:
            return None, None
        return max(runs, key=lambda r: (r.notes, r.bars)), max(runs, key=lambda r: (r.bars, r.notes))


def plagiarism(generated: Sequence[Piece], detector: CopyDetector, min_bars: float = COPY_BARS) -> dict[str, float]:
    """``plagiarism_rate``: share of generated pieces with a copied run spanning at least ``min_bars`` bars;
    ``longest_copy_notes`` and ``longest_copy_bars``: the mean over pieces of their longest copied run."""
    if not generated:
        raise BadInputError("no generated pieces to check for copies", "generate at least one piece")
    notes, bars = [], []
    for piece in generated:
        by_notes, by_bars = detector.longest(piece)
        notes.append(by_notes.notes if by_notes else 0)
        bars.append(by_bars.bars if by_bars else 0.0)
    return {
        "plagiarism_rate": float(np.mean([b >= min_bars - 1e-9 for b in bars])),
        "longest_copy_notes": float(np.mean(notes)),
        "longest_copy_bars": float(np.mean(bars)),
    }


# --------------------------------------------------------------------------- likelihood


@dataclass(frozen=True)
class Likelihood:
    """Summed negative log-likelihood (nats) of token sequences and what it is divided by."""

    nll: float
    notes: int
    tokens: int  # predicted tokens: every token after the first of each sequence

    @property
    def per_note(self) -> float:
        return self.nll / self.notes if self.notes else float("nan")

    @property
    def per_token(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")


def sequence_likelihood(model, sequences: Sequence[Sequence[int]], batch_size: int = 16) -> Likelihood:
    """NLL of ``sequences`` (token ids, each ``<bos>`` … ``<eos>``) under ``model``: ``model.token_nll(ids)``
    gives the summed NLL of predicting ``ids[:, 1:]`` per row of a (B, T) batch, and ``model.tokenizer.
    note_count(ids)`` the notes a sequence holds. Sequences of equal length are batched (no padding)."""
    import torch

    sequences = [list(s) for s in sequences if len(s) >= 2]
    if not sequences:
        raise BadInputError("no token sequences to score", "give held-out pieces with at least one note")
    by_length: dict[int, list[list[int]]] = {}
    for s in sequences:
        by_length.setdefault(len(s), []).append(s)
    total = 0.0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for group in by_length.values():
                for lo in range(0, len(group), batch_size):
                    ids = torch.tensor(group[lo : lo + batch_size], dtype=torch.long)
                    total += float(model.token_nll(ids).sum())
    finally:
        model.train(was_training)
    notes = sum(model.tokenizer.note_count(s) for s in sequences)
    return Likelihood(total, notes, sum(len(s) - 1 for s in sequences))
