"""Small image classifiers used as offline feature extractors for evaluation.

A LeNet-style network (LeCun et al. 1998): two 5×5 conv + max-pool stages, a
128-unit feature layer and a linear classifier. Its feature layer plays the role
Inception-v3's pool features play for FID on natural images, and its class
prediction scores conditional generators (``label_accuracy``).

It is a registered model (``image/lenet-classifier``, task ``image-classification``)
that trains through the model contract (``optimizer_groups`` / ``training_losses``) and
saves through the checkpoint contract. genlab ships two trained by this package in
``genlab/image/weights/<name>/``: on MNIST and on Fashion-MNIST. Reproduce one (or train one on your
own labelled data) with::

    python -m genlab.image.classifier --dataset mnist --data-dir ../shared/data --out src/genlab/image/weights

which writes ``<out>/<name>/`` with ``save_pretrained``: ``config.json`` (architecture,
sha256 of the weights, test accuracy, recipe, the command), ``model.safetensors`` and a
model card ``README.md``. Loading verifies the sha256 and never unpickles.
"""

from genlab.image.classifier.model import (
    TASK,
    WEIGHTS_DIR,
    ClassifierConfig,
    LeNetClassifier,
    load_classifier,
    model_card,
    save_classifier,
)
from genlab.image.classifier.train import evaluate_accuracy, main, train_classifier

__all__ = [
    "TASK",
    "WEIGHTS_DIR",
    "ClassifierConfig",
    "LeNetClassifier",
    "evaluate_accuracy",
    "load_classifier",
    "main",
    "model_card",
    "save_classifier",
    "train_classifier",
]
