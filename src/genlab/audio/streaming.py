"""Streams of samples in bounded memory: a sliding buffer, exact polyphase resampling, exact lengths.

:class:`StreamResampler` resamples a stream of blocks exactly as :func:`genlab.audio.io.resample` would the
whole recording (``scipy.signal.resample_poly``, ratio ``up/down`` after dividing the rates by their gcd):
cores of input samples that are multiples of ``down`` (so output samples fall on whole indices), with a
context longer than half the anti-aliasing filter (``10·max(up, down)`` taps at the upsampled rate), keep
their output centre. Enhancement and vocoding stream through these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch

from genlab.audio.io import resample


class SampleBuffer:
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
        buffer = SampleBuffer()
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

    def _piece(self, buffer: SampleBuffer, a: int, b: int, length: int | None) -> torch.Tensor:
        up, down = self.up, self.down
        p0 = max(a - self.context, 0)
        p1 = b + self.context if length is None else min(b + self.context, length)
        out = resample(buffer.take(p0, p1, length), self.orig_rate, self.new_rate)  # sample 0 = input time p0
        first = (a - p0) * up // down
        last = (b - p0) * up // down if length is None or b < length else -(-(length - p0) * up // down)
        return out[first:last]


def resampled_length(frames: int, orig_rate: int, new_rate: int) -> int:
    """Samples :func:`genlab.audio.io.resample` gives for ``frames`` samples (``⌈frames·up/down⌉``)."""
    g = math.gcd(orig_rate, new_rate)
    return -(-frames * (new_rate // g) // (orig_rate // g))


def exact_length(blocks: Iterator[torch.Tensor], length: int) -> Iterator[torch.Tensor]:
    """``blocks`` cut or zero-padded to ``length`` samples in total."""
    done = 0
    for block in blocks:
        block = block[: max(0, length - done)]
        done += block.shape[0]
        if block.shape[0]:
            yield block
    if done < length:
        yield torch.zeros(length - done)
