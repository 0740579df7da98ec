"""Anomaly scores as numbers, shared by every modality that scores anomalies (images, table rows).

AUROC, AUPR, F1 at a threshold and the threshold at a target false-positive rate, in plain NumPy on purpose:
every function is short enough to check by hand, and the tests compare them with hand-computed values (and
with scikit-learn where it is installed). Conventions: a higher score means more anomalous; label 1 =
anomalous, 0 = normal; an example is called anomalous when its score is **strictly greater** than the
threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from genlab.core.errors import BadInputError


def _check(labels: np.ndarray, scores: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = np.asarray(labels).ravel().astype(bool), np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise BadInputError(f"{what}: {labels.size} labels for {scores.size} scores")
    if labels.all() or not labels.any():
        raise BadInputError(f"{what} needs normal and anomalous examples, got only one kind", "add the other kind")
    if not np.isfinite(scores).all():
        raise BadInputError(f"{what}: the scores hold NaN or infinite values")
    return labels, scores


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random anomaly scores above a random normal example,
    ties counting one half (the Mann–Whitney U statistic over n_anomalous · n_normal)."""
    labels, scores = _check(labels, scores, "AUROC")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks (1-based) over groups of tied scores
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2
    n_pos, n_neg = labels.sum(), (~labels).sum()
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def aupr(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision–recall curve, anomalies as positives):
    Σ_k (R_k − R_{k−1}) · P_k over the distinct score thresholds, highest first (scikit-learn's definition)."""
    labels, scores = _check(labels, scores, "AUPR")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each group of equal scores
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision, recall = tp / (tp + fp), tp / labels.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def auto_or_number(value: str, example: str) -> str:
    """A request's ``threshold`` field: ``auto`` or a number (``example`` shows one in the error); for pydantic
    validators, hence ValueError."""
    if value != "auto":
        try:
            float(value)
        except ValueError:
            raise ValueError(f"threshold is 'auto' or a number, e.g. {example}") from None
    return value


def threshold_at_fpr(normal_scores: np.ndarray, target_fpr: float) -> float:
    """The threshold that calls at most ``target_fpr`` of ``normal_scores`` anomalous (score > threshold):
    the (n − k)-th smallest score with k = ⌊target_fpr · n⌋."""
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).ravel())
    if scores.size == 0:
        raise BadInputError("no validation scores to choose a threshold from", "give normal validation examples")
    if not 0 <= target_fpr < 1:
        raise BadInputError(f"target FPR must be in [0, 1), got {target_fpr}", "e.g. --target-fpr 0.05")
    k = int(np.floor(target_fpr * scores.size + 1e-9))
    return float(scores[scores.size - k - 1])


def f1_at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """F1, precision, recall and FPR of calling ``score > threshold`` anomalous (anomalies as positives)."""
    labels, scores = _check(labels, scores, "F1")
    predicted = scores > threshold
    tp, fp = float((predicted & labels).sum()), float((predicted & ~labels).sum())
    fn = float((~predicted & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "fpr": fp / float((~labels).sum())}


class ValidationScores:
    """Mixin of the scoring pipelines with ``threshold="auto"``: the scores of the run's validation examples are
    computed once per ``key`` (the options they depend on: seed, samples) and kept with the loaded pipeline, so a
    server answering many requests reads and scores the validation data once, not on every request."""

    def validation_scores(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        cache = self.__dict__.setdefault("_validation_scores", {})
        if key not in cache:
            cache[key] = np.asarray(compute(), dtype=np.float64)
        return cache[key]
