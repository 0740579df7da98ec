"""Audio: reading and writing sound files, spectral features, signal metrics, audio datasets and classifiers."""

from genlab.audio import (  # noqa: F401  (registers datasets, tasks, metrics, pipelines)
    classifier,
    data,
    enhancement,
    generation,
    vocoder,
    voice,
)
