"""AUROC, AUPR, F1, thresholds at a target FPR and PRO against values worked out by hand."""

import numpy as np
import pytest

from genlab.core.errors import BadInputError
from genlab.image.anomaly import metrics as M

LABELS = np.array([0, 0, 1, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8])


def test_auroc_counts_the_pairs_an_anomaly_wins():
    # pairs (anomaly, normal): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4
    assert M.auroc(LABELS, SCORES) == pytest.approx(0.75)
    assert M.auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts one half
    assert M.auroc([0, 0, 1], [0.2, 0.2, 0.2]) == pytest.approx(0.5)
    assert M.auroc([1, 1, 0], [3, 2, 1]) == 1.0 and M.auroc([1, 1, 0], [0, 0, 1]) == 0.0


def test_auroc_matches_scikit_learn_on_random_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, 300), rng.integers(0, 20, 300).astype(float)
    assert M.auroc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert M.aupr(labels, scores) == pytest.approx(metrics.average_precision_score(labels, scores))


def test_aupr_is_recall_steps_times_precision():
    # descending: 0.8 (anomaly) P=1 R=.5; 0.4 (normal); 0.35 (anomaly) P=2/3 R=1 -> .5·1 + .5·2/3
    assert M.aupr(LABELS, SCORES) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_threshold_at_fpr_flags_at_most_that_share_of_normals():
    normals = np.arange(1, 101, dtype=float)  # 1 … 100
    t = M.threshold_at_fpr(normals, 0.05)
    assert t == 95 and (normals > t).sum() == 5
    assert M.threshold_at_fpr(normals, 0.0) == 100
    assert M.threshold_at_fpr(normals, 0.049) == 96  # 4.9 normals -> at most 4 above
    with pytest.raises(BadInputError, match="no validation scores"):
        M.threshold_at_fpr(np.array([]), 0.05)


def test_f1_at_threshold_by_hand():
    r = M.f1_at_threshold(LABELS, SCORES, 0.3)  # flags 0.4, 0.35, 0.8: tp 2, fp 1, fn 0
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == 1.0
    assert r["f1"] == pytest.approx(0.8) and r["fpr"] == 0.5
    assert M.f1_at_threshold(LABELS, SCORES, 0.8)["f1"] == 0.0  # strictly greater: nothing flagged


def test_pro_of_one_region_by_hand():
    # one image of 4 pixels, one defect region {2, 3}; descending: 0.9 (defect) -> PRO .5 at FPR 0; 0.4
    # (normal) -> FPR .5; the curve is PRO .5 on [0, .3]: area .15, normalised by .3 -> .5
    masks = np.array([[[0, 0, 1, 1]]], dtype=bool)
    maps = np.array([[[0.1, 0.4, 0.3, 0.9]]])
    fpr, overlap = M.pro_curve(masks, maps)
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1] and overlap.tolist() == [0, 0.5, 0.5, 1, 1]
    assert M.pro(masks, maps) == pytest.approx(0.5)
    assert M.pixel_auroc(masks, maps) == pytest.approx(0.75)


def test_pro_averages_regions_not_pixels():
    # two regions in two images: a large one found (4 px), a small one missed (1 px, scored below every normal)
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2, :2] = True
    masks[1, 3, 3] = True
    maps = np.full((2, 4, 4), 0.5)
    maps[0, :2, :2] = 1.0
    maps[1, 3, 3] = 0.0
    # above 0.5: the whole large region, no normal pixel: PRO .5 at FPR 0; then every normal pixel at once
    assert M.pro(masks, maps) == pytest.approx(0.5)
    assert M.pixel_auroc(masks, maps) < 1.0
    perfect = masks.astype(float)
    assert M.pro(masks, perfect) == pytest.approx(1.0)


def test_metrics_need_both_kinds():
    with pytest.raises(BadInputError, match="normal and anomalous"):
        M.auroc([1, 1], [0.1, 0.2])
    with pytest.raises(BadInputError, match="defect region"):
        M.pro(np.zeros((1, 2, 2), dtype=bool), np.zeros((1, 2, 2)))
