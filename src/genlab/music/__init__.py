"""Symbolic music: notes, MIDI/MusicXML/ABC input, tokenisers, composers, rendering and music-aware metrics."""
