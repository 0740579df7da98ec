"""Symbolic music: notes, MIDI/MusicXML/ABC input, tokenisers, composers, rendering and music-aware metrics."""

# The models, task, pipelines and evaluation modules register themselves when imported here too; they are
# added to this import line by their owners.
from genlab.music import data, tokenizers  # noqa: F401  (registers)
