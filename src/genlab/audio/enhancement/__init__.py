"""Speech enhancement (the ``audio-denoising`` task): a U-Net magnitude-mask denoiser (``audio/unet-mask``),
noisy mixtures made on the fly, classical baselines (spectral subtraction, Wiener filter), SI-SDR / PESQ /
STOI / SNR evaluation and the streaming ``denoise-audio`` pipeline."""

from genlab.audio.enhancement import (  # noqa: F401  (registers the model, metrics, pipeline and task)
    evaluation,
    pipelines,
    task,
    unet,
)
from genlab.audio.enhancement.baselines import spectral_subtraction, wiener_filter
from genlab.audio.enhancement.unet import TASK, UNetMask, UNetMaskConfig

__all__ = ["TASK", "UNetMask", "UNetMaskConfig", "spectral_subtraction", "wiener_filter"]
