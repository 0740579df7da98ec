"""Symbolic music: notes, MIDI/MusicXML/ABC input, tokenisers, composers, rendering and music-aware metrics."""

from genlab.music import data, evaluation, markov, models, pipelines, task, tokenizers, vae  # noqa: F401  (registers)
