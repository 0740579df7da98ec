"""Vocoding of any length in bounded memory, equal to vocoding the whole input at once.

Both steps work in the front end's frame grid (hop ``h``, FFT size ``n``; frame ``t`` is centred on sample ``t·h``,
zeros outside the recording, as :func:`~genlab.audio.features.stft` pads):

* :func:`mel_stream` — log-mels of a stream of sample blocks, a chunk of frames at a time: frames ``[t₀, t₁)`` are
  the STFT (``center=False``) of samples ``[t₀·h − ⌊n/2⌋, (t₁ − 1)·h − ⌊n/2⌋ + n)``, so they are exactly the frames
  of the whole recording's analysis (:meth:`~genlab.audio.vocoder.base.Vocoder.mel`). A chunk is computed as soon
  as its last sample has arrived.
* :func:`vocode_stream` — samples of a stream of log-mel frames. The frames are cut into cores of ``K`` frames;
  core ``[s, e)`` is vocoded from the piece of frames ``[s − C, e + C)`` (clipped to the input) and only its
  samples ``[s·h, e·h)`` are kept, with ``C = R + ⌈n / 2h⌉``: a spectrum frame depends on the mel frames within
  the model's receptive field ``R`` (:attr:`~genlab.audio.vocoder.base.Vocoder.receptive_frames`) and a sample of
  the inverse STFT on the frames whose windows cover it (``n / 2h`` to each side; the overlap-add normalisation
  of those samples is then the whole recording's too). The piece's inverse STFT starts at frame ``s − C``, whose
  centre is its sample 0.

Memory holds one chunk of samples and one piece of frames (``K + 2C``), whatever the length; the concatenated
output has ``length`` samples (default ``(frames − 1)·h``), as :meth:`~genlab.audio.vocoder.base.Vocoder.vocode`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch

from genlab.audio.features import stft
from genlab.audio.streaming import SampleBuffer  # samples of a stream from an index on
from genlab.core.errors import BadInputError

DEFAULT_CHUNK_FRAMES = 1024  # frames vocoded at a time (16 s at 16 kHz with a 256-sample hop)


def context_frames(model) -> int:
    """Frames of context a core needs on each side for exact results: ``R + ⌈n_fft / 2·hop⌉``."""
    c = model.config
    return model.receptive_frames + math.ceil(c.n_fft / (2 * c.hop_length))


@torch.no_grad()
def mel_stream(
    model, blocks: Iterable[torch.Tensor], chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> Iterator[torch.Tensor]:
    """Log-mels (n_mels, k) of a stream of mono blocks (samples,) at the model's rate, ``chunk_frames`` frames at a
    time (module docstring); together ``1 + samples // hop`` frames, those of ``model.mel`` on the whole."""
    c, analysis = model.config, model.analysis
    hop, n, lead = c.hop_length, c.n_fft, c.n_fft // 2
    chunk = max(1, int(chunk_frames))
    buffer = SampleBuffer()
    device = analysis.filterbank.device
    t = 0  # first frame of the next chunk

    def frames(t0: int, t1: int, length: int | None) -> torch.Tensor:
        samples = buffer.take(t0 * hop - lead, (t1 - 1) * hop - lead + n, length)
        magnitude = stft(samples.to(device), n, hop, c.win_length, center=False).abs()  # (F, t1 − t0)
        mel = torch.matmul(analysis.filterbank, magnitude).clamp_min(c.log_floor).log()
        buffer.drop_before(max(0, t1 * hop - lead))
        return mel

    for block in blocks:
        buffer.append(block)
        while buffer.end >= (t + chunk - 1) * hop - lead + n:  # every sample of frames [t, t + chunk) is in
            yield frames(t, t + chunk, None)
            t += chunk
    length = buffer.end
    if length == 0:
        raise BadInputError("the audio stream held no samples", "pass audio")
    total = c.frames(length)
    while t < total:
        e = min(t + chunk, total)
        yield frames(t, e, length)
        t = e


class _FrameBuffer:
    """Mel frames of a stream (n_mels, ·) kept from frame index ``start`` on."""

    def __init__(self, n_mels: int):
        self.data = torch.zeros(n_mels, 0)
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + self.data.shape[-1]

    def append(self, mel: torch.Tensor) -> None:
        self.data = torch.cat([self.data, mel.detach().float().cpu()], dim=-1)

    def take(self, begin: int, end: int) -> torch.Tensor:
        return self.data[:, begin - self.start : end - self.start]

    def drop_before(self, index: int) -> None:
        if index > self.start:
            self.data = self.data[:, index - self.start :]
            self.start = index


@torch.no_grad()
def vocode_stream(
    model,
    mels: Iterable[torch.Tensor],
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    length: int | Callable[[], int] | None = None,
) -> Iterator[torch.Tensor]:
    """Samples of a stream of log-mel chunks (n_mels, k), yielded core by core (module docstring); equal to
    ``model.vocode`` of all the frames at once. ``length``: samples of the whole output, or a function giving it
    once the stream is exhausted (it must give as many frames as the stream held; default ``(frames − 1) · hop``)."""
    c = model.config
    hop, core = c.hop_length, max(1, int(chunk_frames))
    context = context_frames(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    held = _FrameBuffer(c.n_mels)
    s = 0  # first frame of the next core

    def piece(s: int, e: int, frames: int | None, total: int | None) -> torch.Tensor:
        """Samples [s·hop, e·hop) — up to ``total`` in the last core — of the piece of frames around [s, e)."""
        p0 = max(s - context, 0)
        if frames is None:  # the stream goes on: the piece has its whole right context
            p1, end = e + context, e * hop
        else:
            p1, end = min(e + context, frames), (total if e == frames else min(e * hop, total))
        held.drop_before(p0)
        if end <= s * hop:
            return torch.zeros(0)
        wave = model(held.take(p0, p1)[None].to(device), length=end - p0 * hop)[0].cpu()  # sample 0 = p0·hop
        return wave[(s - p0) * hop :]

    try:
        for mel in mels:
            c.check_mel(mel)
            held.append(mel if mel.dim() == 2 else mel.reshape(c.n_mels, -1))
            while held.end >= s + core + context:  # the core's right context has arrived
                yield piece(s, s + core, None, None)
                s += core
        frames = held.end
        if frames == 0:
            raise BadInputError("the mel stream held no frames", "pass at least one frame")
        length = length() if callable(length) else length
        if length is not None and c.frames(length) != frames:
            raise BadInputError(f"{length} samples give {c.frames(length)} frames, but the stream held {frames}",
                                "pass the length of the analysed audio, or none")  # fmt: skip
        total = c.samples(frames) if length is None else length
        while s < frames:
            e = min(s + core, frames)
            yield piece(s, e, frames, total)
            s = e
    finally:
        model.train(was_training)


class _Counted:
    """The blocks of a stream, passed on while their samples are counted."""

    def __init__(self, blocks: Iterable[torch.Tensor]):
        self.blocks, self.samples = blocks, 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        for block in self.blocks:
            self.samples += block.shape[-1]
            yield block


def resynthesize_stream(
    model, blocks: Iterable[torch.Tensor], chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> Iterator[torch.Tensor]:
    """``vocode(mel(wave), len(wave))`` of a stream of mono blocks at the model's rate, chunk by chunk: the output
    has as many samples as the stream."""
    counted = _Counted(blocks)
    return vocode_stream(model, mel_stream(model, counted, chunk_frames), chunk_frames, lambda: counted.samples)
