"""Audio classifiers: the log-mel CNN (``audio/mel-cnn``) of the ``audio-classification`` task.

It labels short clips (spoken digits, speakers) and is the judge of audio generation: its predicted
class scores conditional generators (label accuracy), its class probabilities give an inception-score-like
number and its feature layer a Fréchet distance, as the WaveGAN paper did on SC09 with its own classifier.
"""

from genlab.audio.classifier import evaluation, pipelines, task  # noqa: F401  (registers metric, pipeline, task)
from genlab.audio.classifier.model import TASK, MelCNN, MelCNNConfig

__all__ = ["TASK", "MelCNN", "MelCNNConfig"]
