"""Audio: reading and writing sound files, spectral features, signal metrics and audio datasets."""
