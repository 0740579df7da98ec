"""Spoken test corpora made with eSpeak NG, shared by the speech tests."""

from pathlib import Path

from genlab.audio import espeak
from genlab.audio.io import write_audio


def spoken_folder(folder: Path, sentences: list[str]) -> Path:
    """``folder`` with the sentences spoken by eSpeak NG (en-us) in the LJ Speech layout: ``wavs/sNNN.wav`` and
    ``metadata.csv`` (``id|text|normalised text``)."""
    (folder / "wavs").mkdir()
    lines = []
    for k, sentence in enumerate(sentences):
        wave, rate = espeak.synthesize(sentence, "en-us", 160, 50)
        write_audio(folder / "wavs" / f"s{k:03d}.wav", wave, rate)
        lines.append(f"s{k:03d}|{sentence}|{sentence}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
