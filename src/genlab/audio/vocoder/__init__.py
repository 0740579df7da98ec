"""Neural vocoders (the ``vocoder`` task): log-mel spectrograms back to speech.

* :mod:`~genlab.audio.vocoder.frontend` — :class:`MelFrontEnd`, the mel analysis a vocoder inverts (the contract
  a text-to-speech model's mels must follow) and its Griffin-Lim inversion;
* :mod:`~genlab.audio.vocoder.base` — :class:`Vocoder` and :class:`VocoderConfig`: ``mel``, ``vocode``,
  ``resynthesize``, the multi-resolution STFT + mel L1 training loss and the optional discriminator;
* :mod:`~genlab.audio.vocoder.losses` — the losses and the multi-resolution spectrogram discriminator;
* :mod:`~genlab.audio.vocoder.vocos` — ``audio/vocos``: a ConvNeXt at the frame rate predicting STFT magnitude
  and phase, then an inverse STFT (Siuzdenko 2023);
* :mod:`~genlab.audio.vocoder.streaming` — exact chunked analysis and vocoding of any length;
* :mod:`~genlab.audio.vocoder.pipelines` — the ``vocode`` verb (``audio/vocode``) and ``from_mel``;
* :mod:`~genlab.audio.vocoder.evaluation` — ``audio/lsd``, ``audio/mel_l1``, ``audio/vocoder_pesq``,
  ``audio/vocoder_stoi`` and the Griffin-Lim baselines;
* :mod:`~genlab.audio.vocoder.task` — the ``vocoder`` task.
"""

from genlab.audio.vocoder import evaluation, pipelines, task, vocos, wavenet  # noqa: F401  (registers them)
from genlab.audio.vocoder.base import TASK, Vocoder, VocoderConfig
from genlab.audio.vocoder.frontend import MelFrontEnd
from genlab.audio.vocoder.pipelines import VocodePipeline
from genlab.audio.vocoder.streaming import mel_stream, resynthesize_stream, vocode_stream
from genlab.audio.vocoder.vocos import Vocos, VocosConfig

__all__ = [
    "TASK",
    "MelFrontEnd",
    "VocodePipeline",
    "Vocoder",
    "VocoderConfig",
    "Vocos",
    "VocosConfig",
    "mel_stream",
    "resynthesize_stream",
    "vocode_stream",
]
