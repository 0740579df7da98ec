"""Audio: reading and writing sound files, spectral features, signal metrics, audio datasets and classifiers."""

from genlab.audio import classifier, data, generation, voice  # noqa: F401  (registers datasets, tasks, metrics, pipelines)
