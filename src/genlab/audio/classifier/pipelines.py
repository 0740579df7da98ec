"""The ``classify`` pipeline for audio: labels and class probabilities of clips from a trained classifier.

``genlab classify RUN clip.wav`` (or a folder of audio files) prints a table and writes a CSV;
``genlab.load(RUN)("clip.wav")`` returns the same :class:`~genlab.core.classification.ClassificationOutput`.
Each file is read as mono at the model's rate (other rates and stereo are converted), its silence
trimmed, and its central ``clip_samples`` classified (shorter clips are zero-padded). A file is a clip: of
a longer recording only the first :data:`MAX_READ_SECONDS` are read (with a warning), so a 3-hour file costs
no more memory than a minute.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from pydantic import Field

from genlab.audio.classifier.model import TASK, MelCNN
from genlab.core.classification import ClassificationOutput
from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, Request, register_pipeline

MAX_READ_SECONDS = 60.0  # a clip classifier reads at most this much of a file


class AudioClassification(Request):
    """Options of ``genlab classify`` for audio classifiers."""

    audio: str = Field(
        description="an audio file (WAV, FLAC, OGG) or a folder of them (searched recursively)",
        json_schema_extra={"file": "audio", "positional": True},
    )
    seed: int | None = Field(
        None, description="unused: classifying draws nothing at random", json_schema_extra={"cli": False}
    )


def read_clips(source: str | Path, sample_rate: int, clip_samples: int) -> tuple[torch.Tensor, list[str]]:
    """Clips (N, clip_samples) and names of an audio file or of every audio file in a folder."""
    from genlab.audio.io import AUDIO_SUFFIXES, audio_info, fit_length, read_audio, trim_silence

    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise BadInputError(f"no audio files in {source}", f"put {', '.join(AUDIO_SUFFIXES)} files there")
    else:
        files = [source]
    clips, longer = [], []
    limit = max(MAX_READ_SECONDS, 4 * clip_samples / sample_rate)
    for f in files:
        if audio_info(f).seconds > limit:
            longer.append(f.name)
        wave, _ = read_audio(f, sample_rate, max_seconds=limit)
        clips.append(fit_length(trim_silence(wave, sample_rate), clip_samples))
    if longer:
        warnings.warn(
            f"{len(longer)} file(s) longer than {limit:g} s ({', '.join(longer[:3])}): only their first {limit:g} s "
            "were read and classified as one clip; cut long recordings into clips to classify each",
            stacklevel=2,
        )
    names = [str(f.relative_to(source)) if source.is_dir() else f.name for f in files]
    return torch.stack(clips), names


@register_pipeline("audio/classify")
class AudioClassificationPipeline(Pipeline):
    """``pipe("clip.wav")`` / ``pipe("folder/")`` / ``pipe(clips)`` → :class:`ClassificationOutput`."""

    task = TASK
    verb = "classify"
    description = "classify an audio clip, or every clip of a folder, with a trained audio classifier"
    request_class = AudioClassification
    output_class = ClassificationOutput
    model: MelCNN

    def run(self, request: AudioClassification) -> ClassificationOutput:
        cfg = self.model.config
        clips, names = read_clips(request.audio, cfg.sample_rate, cfg.clip_samples)
        return ClassificationOutput(names, self.model.probabilities(clips), self.model.class_names, column="file")

    def default_filename(self, request: AudioClassification) -> str:
        return f"classify-{Path(request.audio).stem or 'clips'}.csv"

    def __call__(self, audio: str | Path | torch.Tensor) -> ClassificationOutput:
        """Classify an audio file, a folder of them, or clips (N, clip_samples) at the model's rate."""
        if isinstance(audio, torch.Tensor):
            names = [str(i) for i in range(len(audio))]
            return ClassificationOutput(names, self.model.probabilities(audio), self.model.class_names, "file")
        return self.run(self.request(audio=str(audio)))
