"""Spoken test corpora made with eSpeak NG, shared by the speech tests."""

from pathlib import Path
from typing import Any

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


#: A FastSpeech small enough to train a few steps in a test.
TINY_FASTSPEECH = {"hidden": 16, "n_heads": 2, "ffn_hidden": 16, "predictor_channels": 16, "encoder_layers": 1,
                   "decoder_layers": 1}  # fmt: skip


def tiny_voice(folder: Path, runs: Path, name: str, max_steps: int, val_fraction: float, **options: Any) -> Path:
    """The run directory of :data:`TINY_FASTSPEECH` (updated with ``options["model_options"]``) trained
    ``max_steps`` steps of batch 4 on ``folder``; other ``options`` go to :func:`genlab.train`."""
    import genlab

    model_options = TINY_FASTSPEECH | options.pop("model_options", {})
    return genlab.train("tts", "fastspeech", str(folder), name, max_steps=max_steps, batch_size=4, runs_dir=runs,
                        progress=False, data_options={"val_fraction": val_fraction}, model_options=model_options,
                        **options).run.path  # fmt: skip
