"""Anomaly-detection scores as numbers: AUROC, AUPR, F1 at a threshold, pixel AUROC, PRO, thresholds at a target FPR.

Plain NumPy on purpose: every function is short enough to check by hand, and the tests compare them with
hand-computed values. Conventions: a higher score means more anomalous; label 1 = anomalous, 0 = normal;
an image is called anomalous when its score is **strictly greater** than the threshold.
"""

from __future__ import annotations

import numpy as np

from genlab.core.anomaly import _check, aupr, auroc, f1_at_threshold, threshold_at_fpr
from genlab.core.errors import BadInputError
from genlab.core.optional import require

__all__ = ["PRO_MAX_FPR", "_check", "aupr", "auroc", "f1_at_threshold", "pixel_auroc", "pro", "pro_curve",
           "threshold_at_fpr"]  # fmt: skip

PRO_MAX_FPR = 0.3  # Bergmann et al. 2020 integrate the PRO curve up to a false-positive rate of 30 %


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
