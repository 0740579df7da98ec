"""``audio/vocos``: a Vocos-style vocoder — a ConvNeXt on the mel frames predicts the STFT, an inverse STFT
makes the wave.

Siuzdenko, "Vocos: Closing the gap between time-domain and Fourier-based neural vocoders for high-quality audio
synthesis" (ICLR 2024; arXiv 2306.00814, 2023). Where GAN vocoders such as HiFi-GAN (Kong et al. 2020) upsample
mel frames to the sample rate with transposed convolutions — most of their work then runs at the sample rate —,
Vocos stays at the frame rate (62.5 frames a second at 16 kHz with a 256-sample hop) and lets the inverse STFT do
the upsampling, so it costs a few per cent of HiFi-GAN on a CPU.

Architecture, for log-mels ``m`` (B, n_mels, T):

1. embedding: a 1-D convolution (kernel ``kernel_size``) to ``dim`` channels, then LayerNorm over channels;
2. ``layers`` ConvNeXt blocks (Liu et al., "A ConvNet for the 2020s", CVPR 2022, in one dimension):
   ``x + γ ⊙ W₂ GELU(W₁ LN(dwconv(x)))`` — a depthwise convolution over time (kernel ``kernel_size``), LayerNorm,
   a pointwise MLP ``dim → intermediate_dim → dim`` and a learned per-channel scale γ (initialised to
   ``1 / layers``, so the stack starts close to the identity);
3. a final LayerNorm and a linear head to ``n_fft + 2`` numbers per frame, split in two halves of
   ``F = n_fft / 2 + 1``: the log-magnitude ``a`` and the phase ``p`` of every bin;
4. with ``magnitude_prior`` (genlab's addition, on by default), ``a`` is a correction of the mel spectrum spread
   back over the FFT bins, ``a ← a + ln max(W·exp(m), floor)`` (:func:`mel_spreading`: linear interpolation
   between the filter centres, scaled by each filter's area, so a flat spectrum comes back flat): the network
   starts from the right spectral envelope and spends its first steps on the phase and the fine structure;
   in short CPU trials on LJ Speech it lowered the held-out log-spectral distance by about 2 dB at equal steps;
5. ``S = min(exp(a), 100) · (cos p + i sin p)`` (exp keeps magnitudes positive; the clip at 100 guards against
   overflow early in training; writing the phase through cos and sin makes it 2π-periodic: no wrapping issue);
6. ``x̂ = iSTFT(S)`` with the front end's window, hop and FFT size, frames centred as in the analysis, so frame
   ``t`` of the mel is frame ``t`` of ``S`` and sits at sample ``t · hop``.

Nothing mixes frames except the convolutions, so an output frame depends on the mel frames within
``R = (layers + 1) · (kernel_size − 1) / 2`` on each side (:attr:`Vocos.receptive_frames`, 27 frames with the
defaults) and a sample on the ``⌈n_fft / (2·hop)⌉`` frames whose windows cover it: chunked vocoding with that
much context equals whole-file vocoding (:mod:`genlab.audio.vocoder.streaming`).

Export (:meth:`Vocos.export_graphs`): steps 1–4 — log-mels to each bin's log-magnitude and phase — are one ONNX
graph, the batch and the frames free; steps 5–6 (the inverse STFT does not export) stay in PyTorch, also under
``genlab vocode --backend onnx``.

Default size for a CPU: ``dim`` 128, ``intermediate_dim`` 384, 8 layers (≈ 1.0 M parameters; the paper's model
has 512 / 1536 / 8, 13.5 M), Adam at 2e-3 (betas 0.8, 0.99). Losses and the optional discriminator:
:mod:`genlab.audio.vocoder.base`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from genlab.audio.features import istft
from genlab.audio.vocoder.base import Vocoder, VocoderConfig
from genlab.core.export import Bound, ExportGraph
from genlab.core.model import register_model

MAX_MAGNITUDE = 100.0  # exp(log-magnitude) is clipped here


class VocosConfig(VocoderConfig):
    """Mel front end, ConvNeXt size and losses of ``audio/vocos``."""

    dim: int = Field(128, ge=8, le=2048, description="channels of the ConvNeXt backbone")
    intermediate_dim: int = Field(384, ge=8, le=8192, description="hidden width of each block's pointwise MLP")
    layers: int = Field(8, ge=1, le=64, description="ConvNeXt blocks")
    kernel_size: int = Field(7, ge=1, le=31, description="kernel of the embedding and depthwise convolutions (odd)")
    magnitude_prior: bool = Field(
        True, description="predict the log-magnitude as a correction of the mel spectrum spread back over the FFT "
        "bins (faster training), instead of from scratch as in the paper",
    )  # fmt: skip

    @model_validator(mode="after")
    def _odd_kernel(self) -> VocosConfig:
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centred convolution), got {self.kernel_size}")
        return self


class ConvNeXtBlock(nn.Module):
    """``x + γ ⊙ W₂ GELU(W₁ LN(dwconv(x)))`` on (B, dim, T) (module docstring, step 2)."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)  # (B, dim, T) -> (B, T, dim)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


@register_model("audio/vocos")
class Vocos(Vocoder):
    """Vocos-style vocoder: log-mels → ConvNeXt → STFT magnitude and phase → iSTFT (module docstring)."""

    config_class = VocosConfig
    description: ClassVar[str] = "mel vocoder: a ConvNeXt at the frame rate predicting STFT magnitude and phase"
    config: VocosConfig

    def __init__(self, config: VocosConfig):
        super().__init__(config)
        c = config
        self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel_size, padding=c.kernel_size // 2)
        self.embed_norm = nn.LayerNorm(c.dim)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c.dim, c.intermediate_dim, c.kernel_size, 1.0 / c.layers) for _ in range(c.layers)
        )
        self.final_norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, 2 * c.n_freq)
        self.register_buffer("spread", mel_spreading(c.filterbank()), persistent=False)
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)) and not _inside(module, self.discriminator):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    @property
    def receptive_frames(self) -> int:
        """``(layers + 1) · (kernel_size − 1) / 2``: the embedding and every depthwise convolution reach
        ``(kernel_size − 1) / 2`` frames to each side."""
        return (self.config.layers + 1) * (self.config.kernel_size // 2)

    def log_magnitude_phase(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's prediction from log-mels (B, n_mels, frames): the log-magnitude (with the mel prior) and
        the phase in radians (not wrapped) of every bin, each (B, n_fft / 2 + 1, frames). The exported graph."""
        x = self.embed(mel)  # (B, dim, T)
        x = self.embed_norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (B, 2F, T)
        log_magnitude, phase = x.chunk(2, dim=1)  # each (B, F, T)
        if self.config.magnitude_prior:
            prior = torch.matmul(self.spread, mel.exp()).clamp_min(self.config.log_floor).log()  # (B, F, T)
            log_magnitude = log_magnitude + prior
        return log_magnitude, phase

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """The complex STFT (B, n_fft / 2 + 1, frames) predicted from log-mels (B, n_mels, frames)."""
        log_magnitude, phase = self.log_magnitude_phase(mel)
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))

    def export_graphs(self) -> dict[str, ExportGraph]:
        """``spectrum``: log-mels (B, n_mels, frames) -> ``log_magnitude`` and ``phase`` (B, n_fft / 2 + 1,
        frames), the batch and the frames free. The inverse STFT stays outside: ``torch.istft`` exports to a file
        onnxruntime refuses to load (an invalid ScatterND, at opset 18); the wave is
        ``istft(min(exp(log_magnitude), 100) · e^(i·phase))`` with the front end's window, hop and FFT size, as
        :meth:`spectrum` and :meth:`forward` compute it, so an ONNX twin (:func:`genlab.exporters.onnx_twin`) can
        stand in for :meth:`log_magnitude_phase` alone."""
        c = self.config
        g = torch.Generator().manual_seed(0)
        mel = torch.randn((2, c.n_mels, 12), generator=g) - 4.0  # log-mels of moderate level
        axes = {0: "batch", 2: "frames"}
        graph = ExportGraph(Bound(self, "log_magnitude_phase"), (mel,), ["mel"], ["log_magnitude", "phase"],
                            {name: axes for name in ("mel", "log_magnitude", "phase")},
                            "log-mels -> STFT log-magnitude and phase (the inverse STFT runs outside)",
                            attach="log_magnitude_phase")  # fmt: skip
        return {"spectrum": graph}

    def forward(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        c = self.config
        length = c.samples(mel.shape[-1]) if length is None else length
        if length == 0:  # a single frame and no length asked for: no frame centre lies inside a wave
            return mel.new_zeros(mel.shape[0], 0)
        return istft(self.spectrum(mel), c.n_fft, c.hop_length, c.win_length, length=length)


def mel_spreading(filterbank: torch.Tensor) -> torch.Tensor:
    """(F, n_mels) map from mel values back to linear-frequency magnitudes: ``S₀(k) = Σ_m w_mk · M_m / A_m``, with
    ``A_m`` the area of filter m (a flat spectrum of level s gives ``M_m = s · A_m``) and ``w_mk`` the filters'
    shapes at bin k normalised to sum to 1 over m (linear interpolation between the filter centres)."""
    area = filterbank.sum(1, keepdim=True).clamp_min(1e-12)  # (M, 1)
    shape = filterbank / filterbank.amax(1, keepdim=True).clamp_min(1e-12)  # peaks of 1
    weights = shape / shape.sum(0, keepdim=True).clamp_min(1e-12)  # each bin's weights sum to 1 (or 0: no filter)
    return (weights / area).T.contiguous()  # (F, M)


def _inside(module: nn.Module, container: nn.Module | None) -> bool:
    return container is not None and any(module is m for m in container.modules())
