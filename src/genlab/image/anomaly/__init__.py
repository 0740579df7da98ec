"""Anomaly detection for quality inspection: detectors trained on normal images only.

* :mod:`~genlab.image.anomaly.data` — normal-image folders, the one-class protocol on MNIST and Fashion-MNIST
  (``builtin:mnist-oneclass``, ``builtin:fashion-mnist-oneclass``), :mod:`~genlab.image.anomaly.textures`
  (``builtin:textures-defects``: synthetic defects with masks) and :mod:`~genlab.image.anomaly.mvtec`
  (``mvtec-ad``);
* the detectors, each with ``score(images) -> (scores (N,), heat maps (N, H, W))``: ``anomaly/vae``
  (:mod:`.vae`), ``anomaly/f-anogan`` (:mod:`.fanogan`), ``anomaly/ddpm-recon`` (:mod:`.ddpm`) and the
  non-generative baseline ``anomaly/patch-knn`` (:mod:`.patchknn`);
* :mod:`~genlab.image.anomaly.metrics` (AUROC, AUPR, F1 at a threshold, pixel AUROC, PRO, threshold at a target
  FPR), :mod:`~genlab.image.anomaly.evaluation` (``genlab eval``), :mod:`~genlab.image.anomaly.pipelines`
  (``genlab detect``) and :mod:`~genlab.image.anomaly.task` (the ``anomaly`` task).

Guide: docs/anomaly.md.
"""

from genlab.image.anomaly import ddpm, fanogan, mvtec, patchknn, textures, vae  # noqa: F401  (register)
from genlab.image.anomaly.base import AnomalyDetector, ssim_map
from genlab.image.anomaly.data import AnomalyDataConfig, AnomalySet, load_anomaly_data, load_set
from genlab.image.anomaly.ddpm import DDPMRecon, DDPMReconConfig
from genlab.image.anomaly.fanogan import FAnoGAN, FAnoGANConfig
from genlab.image.anomaly.patchknn import PatchKNN, PatchKNNConfig
from genlab.image.anomaly.pipelines import DetectionOutput, DetectPipeline
from genlab.image.anomaly.task import AnomalyTask
from genlab.image.anomaly.vae import AnomalyVAE, AnomalyVAEConfig

__all__ = [
    "AnomalyDataConfig",
    "AnomalyDetector",
    "AnomalySet",
    "AnomalyTask",
    "AnomalyVAE",
    "AnomalyVAEConfig",
    "DDPMRecon",
    "DDPMReconConfig",
    "DetectPipeline",
    "DetectionOutput",
    "FAnoGAN",
    "FAnoGANConfig",
    "PatchKNN",
    "PatchKNNConfig",
    "load_anomaly_data",
    "load_set",
    "ssim_map",
]
