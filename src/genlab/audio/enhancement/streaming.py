"""Streaming inference: enhance and resample recordings of any length in bounded memory, exactly.

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

:class:`StreamResampler` does the same for the polyphase resampler of :func:`genlab.audio.io.resample`
(``scipy.signal.resample_poly``, ratio ``up/down`` after dividing the rates by their gcd): cores of input
samples that are multiples of ``down`` (so output samples fall on whole indices), with a context longer than
half the anti-aliasing filter (``10·max(up, down)`` taps at the upsampled rate), keep their output centre.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch

from genlab.audio.features import istft, stft
from genlab.audio.io import resample


class _Buffer:
    """Samples of a stream kept from global index ``start`` on; older ones are dropped as they are used."""

    def __init__(self):
        self.data = torch.zeros(0)
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + self.data.shape[0]

    def append(self, block: torch.Tensor) -> None:
        self.data = torch.cat([self.data, block.detach().float().reshape(-1).cpu()])

    def take(self, begin: int, end: int, length: int | None) -> torch.Tensor:
        """Samples ``[begin, end)`` of the stream, zeros before 0 and from ``length`` (the stream's, when known) on."""
        real_end = end if length is None else min(end, length)
        lo, hi = max(begin, 0), max(real_end, max(begin, 0))
        piece = self.data[lo - self.start : hi - self.start]
        return torch.nn.functional.pad(piece, (lo - begin, end - begin - (lo - begin) - piece.shape[0]))

    def drop_before(self, index: int) -> None:
        if index > self.start:
            self.data = self.data[index - self.start :]
            self.start = index


def context_frames(model) -> int:
    """Frames of context a core needs on each side for exact results, a multiple of the pooling factor."""
    c, m = model.config, model.frame_multiple
    needed = model.receptive_frames + math.ceil(c.n_fft / (2 * c.hop_length))
    return -(-needed // m) * m


@torch.no_grad()
def enhance_stream(model, blocks: Iterable[torch.Tensor], chunk_frames: int = 1250) -> Iterator[torch.Tensor]:
    """Enhanced samples of a stream of mono blocks (samples,) at the model's rate, yielded core by core
    (module docstring); ``chunk_frames`` STFT frames per core (rounded up to the pooling factor). The
    concatenated output has the input's length."""
    c = model.config
    hop, half, m = c.hop_length, c.n_fft // 2, model.frame_multiple
    core = max(m, -(-chunk_frames // m) * m)
    context = context_frames(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    buffer = _Buffer()
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


class StreamResampler:
    """Polyphase resampling of a stream of blocks, equal to :func:`genlab.audio.io.resample` of the whole
    stream (module docstring); ``core`` input samples are resampled at a time (rounded to the ratio)."""

    def __init__(self, orig_rate: int, new_rate: int, core: int = 1 << 16):
        g = math.gcd(int(orig_rate), int(new_rate))
        self.orig_rate, self.new_rate = int(orig_rate), int(new_rate)
        self.up, self.down = self.new_rate // g, self.orig_rate // g
        half_filter = 10 * max(self.up, self.down)  # taps on each side at the upsampled rate (scipy's choice)
        needed = math.ceil(half_filter / self.up) + 2  # input samples
        self.context = -(-needed // self.down) * self.down
        self.core = max(1, core // self.down) * self.down

    def __call__(self, blocks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        if self.up == self.down:
            yield from blocks
            return
        context = self.context
        buffer = _Buffer()
        a = 0  # first input sample of the next core
        for block in blocks:
            buffer.append(block)
            while buffer.end >= a + self.core + context:
                yield self._piece(buffer, a, a + self.core, None)
                a += self.core
                buffer.drop_before(a - context)
        length = buffer.end
        while a < length:
            b = min(a + self.core, length)
            yield self._piece(buffer, a, b, length)
            a = b

    def _piece(self, buffer: _Buffer, a: int, b: int, length: int | None) -> torch.Tensor:
        up, down = self.up, self.down
        p0 = max(a - self.context, 0)
        p1 = b + self.context if length is None else min(b + self.context, length)
        out = resample(buffer.take(p0, p1, length), self.orig_rate, self.new_rate)  # sample 0 = input time p0
        first = (a - p0) * up // down
        last = (b - p0) * up // down if length is None or b < length else -(-(length - p0) * up // down)
        return out[first:last]
