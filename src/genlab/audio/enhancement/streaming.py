"""Streaming inference: enhance recordings of any length in bounded memory, exactly.

:func:`enhance_stream` runs a masking enhancer (:class:`~genlab.audio.enhancement.unet.UNetMask`) over a stream
of sample blocks and yields the enhanced samples, equal (up to float rounding) to enhancing the whole
recording at once. It works in the STFT's frame grid (hop ``h``, FFT size ``n``; frame ``t`` is centred on
sample ``t·h``, zeros beyond the recording, as :func:`~genlab.audio.features.stft` pads). The frames are
cut into cores of ``K`` frames; core ``[s, e)`` is computed from the piece of frames ``[s − C, e + C)``
(clipped to the recording) and only the core's samples ``[s·h, e·h)`` are kept, where

* ``C ≥ R + ⌈n / 2h⌉``: the mask of a frame depends on input frames within the model's receptive field
  ``R`` (:attr:`~genlab.audio.enhancement.unet.UNetMask.receptive_frames`), and a sample of the inverse STFT
  on the frames whose windows cover it (``n / 2h`` to each side), so every kept sample sees exactly what it
  would see in the whole recording;
* ``K``, ``C`` and so every piece start are multiples of the network's pooling factor
  (:attr:`~genlab.audio.enhancement.unet.UNetMask.frame_multiple`), so its pooling grid lines up with the
  whole recording's, and a piece that reaches the end is padded to the same frame as the whole recording.

A piece's frames are the STFT (``center=False``) of samples ``[p0·h − n/2, (p1 − 1)·h + n/2)``, zero outside the
recording. Memory holds one piece (``K + 2C`` frames), whatever the recording's length.

**Test-time shifts** (``shifts`` > 1, :meth:`~genlab.audio.enhancement.unet.UNetMask.enhance`): the first
``max(d_k) + 1`` samples are read ahead, then every shifted copy (its reflected start, then the stream) is
enhanced as above by its own stream, advanced back by its delay, and the copies' outputs are averaged as they
come; the streams move together, so memory stays bounded. The result equals ``model.enhance(wave, shifts)``.

Resampling streams exactly is :class:`genlab.audio.streaming.StreamResampler`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import torch

from genlab.audio.enhancement.unet import reflect_delay
from genlab.audio.features import istft, stft
from genlab.audio.streaming import SampleBuffer


def context_frames(model) -> int:
    """Frames of context a core needs on each side for exact results, a multiple of the pooling factor."""
    c, m = model.config, model.frame_multiple
    needed = model.receptive_frames + math.ceil(c.n_fft / (2 * c.hop_length))
    return -(-needed // m) * m


@torch.no_grad()
def enhance_stream(
    model, blocks: Iterable[torch.Tensor], chunk_frames: int = 1250, shifts: int = 1
) -> Iterator[torch.Tensor]:
    """Enhanced samples of a stream of mono blocks (samples,) at the model's rate, yielded core by core
    (module docstring); ``chunk_frames`` STFT frames per core (rounded up to the pooling factor); ``shifts``
    test-time shifts averaged. The concatenated output has the input's length."""
    delays = model.shift_delays(shifts)
    if len(delays) > 1:
        yield from _mean_of_shifts(model, blocks, chunk_frames, delays)
        return
    c = model.config
    hop, half, m = c.hop_length, c.n_fft // 2, model.frame_multiple
    core = max(m, -(-chunk_frames // m) * m)
    context = context_frames(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    buffer = SampleBuffer()
    s = 0  # first frame of the next core

    def piece(s: int, e: int, frames: int | None, length: int | None) -> torch.Tensor:
        p0 = max(s - context, 0)
        p1 = e + context if frames is None else min(e + context, frames)
        samples = buffer.take(p0 * hop - half, (p1 - 1) * hop + half, length)
        spec = stft(samples.to(device), c.n_fft, hop, c.win_length, center=False)  # (F, p1 − p0)
        mask = model.mask(spec.unsqueeze(0))[0]
        wave = istft(mask * spec, c.n_fft, hop, c.win_length, length=(p1 - p0) * hop).cpu()  # sample 0 = p0·hop
        end = e * hop if length is None else min(e * hop, length)
        buffer.drop_before(max(0, (max(e - context, 0)) * hop - half))
        return wave[(s - p0) * hop : end - p0 * hop]

    try:
        for block in blocks:
            buffer.append(block)
            # a core is ready when the samples of its right context are all in: then those frames exist too
            while buffer.end > (s + core + context - 1) * hop + half:
                yield piece(s, s + core, None, None)
                s += core
        length = buffer.end
        frames = 1 + length // hop
        while length and s < frames:
            e = min(s + core, frames)
            yield piece(s, e, frames, length)
            s = e
    finally:
        model.train(was_training)


def _advanced(chunks: Iterator[torch.Tensor], delay: int) -> Iterator[torch.Tensor]:
    """The samples of ``chunks`` after the first ``delay``."""
    for chunk in chunks:
        cut = min(delay, chunk.shape[-1])
        delay -= cut
        if chunk.shape[-1] > cut:
            yield chunk[cut:]


def _mean_of_shifts(model, blocks: Iterable[torch.Tensor], chunk_frames: int, delays: list[int]):
    """The mean of the enhanced shifted copies of the stream (module docstring)."""
    blocks = iter(blocks)
    head: list[torch.Tensor] = []
    read = 0
    while read <= max(delays):  # the reflections read the first max(delays) + 1 samples
        block = next(blocks, None)
        if block is None:
            break
        head.append(block.reshape(-1))
        read += head[-1].shape[0]
    if not head:
        return
    start = torch.cat(head)
    copies = itertools.tee(itertools.chain([start], blocks), len(delays))
    was_training = model.training
    model.eval()  # before the inner streams start: each then restores eval, and this one the caller's mode
    streams = [
        enhance_stream(model, itertools.chain([reflect_delay(start, d)[:d]], copy), chunk_frames)
        for d, copy in zip(delays, copies, strict=True)
    ]
    outputs = [_advanced(stream, d) for stream, d in zip(streams, delays, strict=True)]
    pending = [torch.zeros(0) for _ in delays]
    try:
        while True:
            for i, out in enumerate(outputs):
                if pending[i].numel() == 0:
                    pending[i] = next(out, pending[i])
            n = min(p.numel() for p in pending)
            if n == 0:  # every copy has the input's length: one exhausted means all are
                break
            yield sum(p[:n] for p in pending) / len(pending)
            pending = [p[n:] for p in pending]
    finally:
        for stream in streams:
            stream.close()
        model.train(was_training)
