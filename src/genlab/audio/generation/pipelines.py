"""``genlab sample`` for audio generators: clips as WAV files and a sheet of their spectrograms.

``genlab sample RUN --label 7 --n 8 --out sevens/`` writes ``sevens/000_7.wav`` … ``sevens/007_7.wav`` and
``sevens/spectrograms.png``; ``--out seven.wav`` with ``--n 1`` writes that one file. In Python,
``genlab.load(RUN)(n=8, label="7", seed=0)`` returns the same :class:`AudioClipsOutput`, whose ``waves``
are (n, clip_samples) float32 in [-1, 1] at ``sample_rate``. ``--backend onnx`` (``backend="onnx"``) runs the
generator's pass in onnxruntime (:mod:`genlab.exporters.runtime`; guide: docs/export.md).

A label is a class name of the training data (``7``, ``low``) or its index; an unconditional model
refuses labels, with a hint.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from genlab.audio.generation.base import TASK, AudioGAN
from genlab.audio.io import WRITE_FORMATS, encode_audio, write_audio
from genlab.core.errors import BadInputError
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.exporters.runtime import backend_model

GRID_NAME = "spectrograms.png"
MAX_CLIPS = 1000


class AudioClipsOutput(Output):
    """Clips (N, samples) in [-1, 1] at ``sample_rate``, each with a title (its label).

    ``save(path)``: an audio suffix (``.wav``, ``.flac``, ``.ogg``) writes one clip (N must be 1); ``.png`` the
    spectrogram sheet; ``.zip`` what :meth:`encode` gives for ``zip``; any other path is a folder that gets one
    WAV per clip (``000_7.wav``: index and label) and ``spectrograms.png``.
    ``encode(format)``: ``wav`` — the WAV file of a single clip; ``zip`` — the folder's files zipped; ``png`` —
    the sheet; ``npy`` — the waves array. With no format: ``wav`` for one clip, ``zip`` for several.
    """

    formats = {"wav": "audio/wav", "zip": "application/zip", "png": "image/png", "npy": "application/x-npy"}
    suffix = ".wav"

    def __init__(self, waves: torch.Tensor, sample_rate: int, titles: list[str] | None = None):
        self.waves = waves.detach().float().cpu()
        self.sample_rate = int(sample_rate)
        self.titles = list(titles) if titles is not None else [f"clip {i}" for i in range(len(self.waves))]
        if len(self.titles) != len(self.waves):
            raise ValueError(f"{len(self.titles)} titles for {len(self.waves)} clips")

    def __len__(self) -> int:
        return len(self.waves)

    def file_names(self) -> list[str]:
        """One WAV name per clip: its index, and its title when that is a label (``003_7.wav``)."""
        names = []
        for i, title in enumerate(self.titles):
            label = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-") if not title.startswith("clip ") else ""
            names.append(f"{i:03d}_{label}.wav" if label else f"{i:03d}.wav")
        return names

    def save_grid(self, path: str | Path) -> Path:
        """The spectrogram sheet (one panel per clip, titled) as a PNG at ``path``."""
        from genlab.audio.plots import save_spectrogram_grid

        n_fft = 512 if self.sample_rate >= 16000 else 256
        return save_spectrogram_grid(
            list(self.waves), self.sample_rate, path, titles=self.titles, n_fft=n_fft, hop_length=n_fft // 4,
            n_mels=min(80, n_fft // 4),
        )  # fmt: skip

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in WRITE_FORMATS:
            if len(self) != 1:
                raise BadInputError(
                    f"{len(self)} clips cannot go into one {suffix} file",
                    f"give a folder (--out {path.with_suffix('')}/) for one WAV per clip, or --n 1",
                )
            return write_audio(path, self.waves[0], self.sample_rate)
        if suffix == ".png":
            return self.save_grid(path)
        if suffix == ".zip":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.encode("zip"))
            return path
        self.save_wavs(path)
        self.save_grid(path / GRID_NAME)
        return path

    def save_wavs(self, folder: str | Path) -> Path:
        """One WAV per clip in ``folder`` (created), named by :meth:`file_names`; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, wave in zip(self.file_names(), self.waves, strict=True):
            write_audio(folder / name, wave, self.sample_rate)
        return folder

    def encode(self, format: str | None = None) -> bytes:
        format = self.check_format(format if format is not None else ("wav" if len(self) == 1 else "zip"))
        if format == "wav":
            if len(self) != 1:
                raise BadInputError(f"{len(self)} clips are not one WAV file", "encode them as zip, or sample n=1")
            return encode_audio(self.waves[0], self.sample_rate, "wav")
        if format == "npy":
            buffer = io.BytesIO()
            np.save(buffer, self.waves.numpy())
            return buffer.getvalue()
        with tempfile.TemporaryDirectory(prefix="genlab-audio-") as tmp:
            grid = self.save_grid(Path(tmp) / GRID_NAME)
            if format == "png":
                return grid.read_bytes()
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, wave in zip(self.file_names(), self.waves, strict=True):
                    archive.writestr(name, encode_audio(wave, self.sample_rate, "wav"))
                archive.write(grid, GRID_NAME)
            return buffer.getvalue()


class AudioSampling(Request):
    """Options of ``genlab sample`` on an audio generator."""

    n: int = Field(8, ge=1, le=MAX_CLIPS, description="number of clips")
    label: str | int | None = Field(
        None, description="label of every clip, conditional models only: a class name or index (e.g. 7)"
    )
    backend: Literal["torch", "onnx"] = Field(
        "torch",
        description="onnx: the generator runs in onnxruntime (exported once per model, checked against PyTorch, "
        "cached; SpecGAN's Griffin-Lim stays in PyTorch); needs the export extra",
    )


def label_index(model: AudioGAN, label: str | int | None) -> int | None:
    """The class index of ``label`` (a class name, or an index); None for no label. An unconditional model or
    an unknown label raises :class:`BadInputError` with the labels there are."""
    if label is None:
        return None
    if not model.conditional:
        raise BadInputError(f"{model.registry_name} is unconditional and takes no label", model.conditional_hint)
    names, text = model.class_names, str(label).strip()
    if text in names:
        return names.index(text)
    if re.fullmatch(r"\d+", text) and int(text) < len(names):
        return int(text)
    raise BadInputError(f"label '{label}' is not one of this model's classes", f"its labels are {', '.join(names)}")


@torch.no_grad()
def draw(model: AudioGAN, labels: torch.Tensor | None, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` clips (n, clip_samples) on the CPU, ``sample_batch_size`` at a time (memory stays bounded); ``labels``
    (n,) or None. One generator draws them all, so a seed fixes the whole set."""
    chunks, step = [], model.sample_batch_size
    for i in range(0, n, step):
        m = min(step, n - i)
        chunk_labels = None if labels is None else labels[i : i + m]
        chunks.append(model.generate(m, labels=chunk_labels, generator=generator).cpu())
    return torch.cat(chunks) if chunks else torch.empty(0, model.config.clip_samples)


def titles_for(model: AudioGAN, labels: torch.Tensor | None, n: int) -> list[str]:
    """Titles of ``n`` clips: their label names, or ``clip i`` for an unconditional model."""
    if labels is None:
        return [f"clip {i}" for i in range(n)]
    names = model.class_names
    return [names[int(y)] for y in labels]


@register_pipeline("audio/sample")
class AudioGenerationPipeline(Pipeline):
    """``pipe(n=8, label="7", seed=0)`` → :class:`AudioClipsOutput` (WAVs and a spectrogram sheet)."""

    task = TASK
    verb = "sample"
    description = "sample clips from a trained audio generator: WAV files and a sheet of their spectrograms"
    request_class = AudioSampling
    output_class = AudioClipsOutput
    model: AudioGAN

    def run(self, request: AudioSampling) -> AudioClipsOutput:
        index = label_index(self.model, request.label)
        labels = self.model.check_labels(None if index is None else torch.tensor(index), request.n)
        labels = None if labels is None else labels.cpu()
        model = backend_model(self.model, request.backend)  # onnx: the generator's pass runs in onnxruntime
        waves = draw(model, labels, request.n, make_generator(request.seed))
        return AudioClipsOutput(waves, self.model.config.sample_rate, titles_for(self.model, labels, request.n))

    def default_filename(self, request: AudioSampling) -> str:
        label = "" if request.label is None else f"-{re.sub(r'[^A-Za-z0-9._-]+', '-', str(request.label))}"
        stem = f"sample{label}-seed{request.seed}"
        return f"{stem}.wav" if request.n == 1 else stem  # several clips: a folder

    def __call__(
        self, n: int = 8, label: str | int | None = None, seed: int | None = None, backend: str = "torch"
    ) -> AudioClipsOutput:
        """Generate ``n`` clips (of ``label``, for conditional models); the same seed gives the same clips;
        ``backend="onnx"`` runs the generator in onnxruntime."""
        return self.run(self.request(n=n, label=label, seed=seed, backend=backend))
