"""Anomaly-detection scores as numbers: AUROC, AUPR, F1 at a threshold, pixel AUROC, PRO, thresholds at a target FPR.

Plain NumPy on purpose: every function is short enough to check by hand, and the tests compare them with
hand-computed values. Conventions: a higher score means more anomalous; label 1 = anomalous, 0 = normal;
an image is called anomalous when its score is **strictly greater** than the threshold.
"""

from __future__ import annotations

import numpy as np

from genlab.core.errors import BadInputError
from genlab.core.optional import require

PRO_MAX_FPR = 0.3  # Bergmann et al. 2020 integrate the PRO curve up to a false-positive rate of 30 %


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


def threshold_at_fpr(normal_scores: np.ndarray, target_fpr: float) -> float:
    """The threshold that calls at most ``target_fpr`` of ``normal_scores`` anomalous (score > threshold):
    the (n − k)-th smallest score with k = ⌊target_fpr · n⌋."""
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).ravel())
    if scores.size == 0:
        raise BadInputError("no validation scores to choose a threshold from", "give normal validation images")
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


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """AUROC over every pixel of every image: ``masks`` (N, H, W) true where defective, ``maps`` the heat maps."""
    return auroc(np.asarray(masks).ravel(), np.asarray(maps).ravel())


def pro_curve(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at every distinct threshold, from the highest score down (Bergmann et al. 2020).

    PRO is the mean over the connected defect regions (8-connected, per image) of the share of the region's
    pixels above the threshold; FPR the share of defect-free pixels above it. Computed exactly by sorting all
    pixels once: a normal pixel adds 1/N_normal to the FPR, a pixel of region k adds 1/(K·|region k|) to PRO.
    """
    ndimage = require("scipy.ndimage", "image", "the PRO metric")
    masks, maps = np.asarray(masks).astype(bool), np.asarray(maps, dtype=np.float64)
    if masks.shape != maps.shape or masks.ndim != 3:
        raise BadInputError(f"PRO needs masks and maps of one shape (N, H, W), got {masks.shape} and {maps.shape}")
    weight = np.zeros(masks.shape)
    regions = []
    for i, mask in enumerate(masks):
        labelled, n = ndimage.label(mask, structure=np.ones((3, 3)))
        for k in range(1, n + 1):
            regions.append((i, labelled == k))
    if not regions:
        raise BadInputError("PRO needs at least one defect region in the masks")
    if masks.all():
        raise BadInputError("PRO needs defect-free pixels too")
    for i, region in regions:
        weight[i][region] = 1.0 / (len(regions) * region.sum())
    order = np.argsort(-maps.ravel(), kind="mergesort")
    s = maps.ravel()[order]
    normal = (~masks).ravel()[order]
    fpr = np.cumsum(normal / normal.sum())
    pro = np.cumsum(weight.ravel()[order])
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # a threshold keeps or drops every tied pixel at once
    return np.r_[0.0, fpr[last]], np.r_[0.0, pro[last]]


def pro(masks: np.ndarray, maps: np.ndarray, max_fpr: float = PRO_MAX_FPR) -> float:
    """Area under the PRO curve for FPR in [0, max_fpr], divided by max_fpr (1 = perfect; the MVTec AD protocol)."""
    fpr, overlap = pro_curve(masks, maps)
    cut = np.searchsorted(fpr, max_fpr, side="right")  # points with fpr <= max_fpr
    x, y = fpr[:cut], overlap[:cut]
    if cut < len(fpr) and x[-1] < max_fpr:  # interpolate the curve at max_fpr
        x0, x1, y0, y1 = fpr[cut - 1], fpr[cut], overlap[cut - 1], overlap[cut]
        y_end = y0 if x1 == x0 else y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
        x, y = np.r_[x, max_fpr], np.r_[y, y_end]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / max_fpr)
