"""Neural style transfer: Gatys et al.'s optimisation and Johnson et al.'s fast feed-forward networks.

* :mod:`~genlab.image.style.features` — the feature networks: VGG-19 (Simonyan & Zisserman 2015) from
  torchvision's weights file supplied by the user, or seeded random multi-scale filters (Ustyuzhaninov
  et al. 2017), the offline stand-in;
* :mod:`~genlab.image.style.loss` — content, style (Gram matrices) and total-variation losses;
* :mod:`~genlab.image.style.gatys` — optimisation per image (Gatys et al. 2016) and ``image/gatys``, the
  model with nothing to train that holds the settings in a run;
* :mod:`~genlab.image.style.fast` — ``image/fast-style``, Johnson et al.'s (2016) transformation network;
* :mod:`~genlab.image.style.task` — the ``style-transfer`` task; :mod:`~genlab.image.style.pipelines` —
  ``genlab stylize``.

Reading order: features, loss, model, gatys, fast, task, pipelines. Guide: docs/style-transfer.md.
"""

from genlab.image.style import fast, gatys, pipelines, task  # noqa: F401  (registers the models, pipeline, task)
from genlab.image.style.fast import FastStyle, FastStyleConfig
from genlab.image.style.features import RandomFeatures, VGG19Features, feature_network, resolve_features
from genlab.image.style.gatys import Gatys, GatysConfig, gatys_stylize
from genlab.image.style.model import TASK, StyleConfig, StyleModel
from genlab.image.style.pipelines import StylizePipeline
from genlab.image.style.task import StyleTransferTask

__all__ = [
    "TASK",
    "FastStyle",
    "FastStyleConfig",
    "Gatys",
    "GatysConfig",
    "RandomFeatures",
    "StyleConfig",
    "StyleModel",
    "StyleTransferTask",
    "StylizePipeline",
    "VGG19Features",
    "feature_network",
    "gatys_stylize",
    "resolve_features",
]
