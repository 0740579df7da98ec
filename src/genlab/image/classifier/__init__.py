"""Small image classifiers used as offline feature extractors for evaluation.

A LeNet-style network (LeCun et al. 1998): two 5×5 conv + max-pool stages, a
128-unit feature layer and a linear classifier. Its feature layer plays the role
Inception-v3's pool features play for FID on natural images, and its class
prediction scores conditional generators (``label_accuracy``).

It is a registered model (``image/lenet-classifier``) of the ``image-classification`` task
(:mod:`~genlab.image.classifier.task`): it trains through the engine like every model
(``genlab train image-classification --data mnist --epochs 6``), labels images through the
``classify`` pipeline (:mod:`~genlab.image.classifier.pipelines`) and is scored by the task's
``accuracy`` metric (:mod:`~genlab.image.classifier.evaluation`). genlab ships two trained by
this package in ``genlab/image/weights/<name>/``: on MNIST and on Fashion-MNIST. Reproduce one
(or train one on your own labelled data) with::

    python -m genlab.image.classifier --dataset mnist --data-dir ../shared/data --out src/genlab/image/weights

which trains through the engine and writes ``<out>/<name>/`` with ``save_pretrained``:
``config.json`` (architecture, sha256 of the weights, test accuracy, recipe, the command),
``model.safetensors`` and a model card ``README.md``. Loading verifies the sha256 and never unpickles.
"""

from genlab.image.classifier.model import (
    TASK,
    WEIGHTS_DIR,
    ClassifierConfig,
    LeNetClassifier,
    evaluate_accuracy,
    load_classifier,
    model_card,
    save_classifier,
)
from genlab.image.classifier.pipelines import ClassificationOutput, ImageClassificationPipeline
from genlab.image.classifier.task import ImageClassificationTask
from genlab.image.classifier.train import main, train_classifier

__all__ = [
    "TASK",
    "WEIGHTS_DIR",
    "ClassificationOutput",
    "ClassifierConfig",
    "ImageClassificationPipeline",
    "ImageClassificationTask",
    "LeNetClassifier",
    "evaluate_accuracy",
    "load_classifier",
    "main",
    "model_card",
    "save_classifier",
    "train_classifier",
]
