"""Speech enhancement (the ``audio-denoising`` task): masking denoisers (a U-Net, ``audio/unet-mask``, and a
causal GRU, ``audio/gru-mask``), noisy mixtures made on the fly, classical baselines (spectral subtraction,
Wiener filter), SI-SDR / PESQ / STOI / SNR evaluation and the streaming ``denoise-audio`` pipeline."""

from genlab.audio.enhancement import (  # noqa: F401  (registers the model, metrics, pipeline and task)
    evaluation,
    pipelines,
    recurrent,
    task,
    unet,
)
from genlab.audio.enhancement.baselines import spectral_subtraction, wiener_filter
from genlab.audio.enhancement.masking import MaskingEnhancer
from genlab.audio.enhancement.recurrent import GRUMask, GRUMaskConfig
from genlab.audio.enhancement.unet import TASK, UNetMask, UNetMaskConfig

__all__ = ["TASK", "GRUMask", "GRUMaskConfig", "MaskingEnhancer", "UNetMask", "UNetMaskConfig", "spectral_subtraction",
           "wiener_filter"]  # fmt: skip
