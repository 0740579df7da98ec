"""Audio: reading and writing sound files, spectral features, signal metrics, audio datasets and classifiers."""

from genlab.audio import classifier, data  # noqa: F401  (registers datasets, the classifier task, metric, pipeline)
