"""Audio generation: WaveGAN and SpecGAN (Donahue, McAuley & Puckette 2019), the ``audio-generation`` task, the
``sample`` pipeline for audio and the judge-based metrics (label accuracy, inception score, Fréchet distance).

* :mod:`~genlab.audio.generation.base` — the shared config, WGAN-GP training, class conditioning, ``generate``;
* :mod:`~genlab.audio.generation.wavegan` — ``audio/wavegan``: 1-D transposed convolutions on raw waveforms;
* :mod:`~genlab.audio.generation.specgan` — ``audio/specgan``: a DCGAN on normalised log spectrograms + Griffin-Lim;
* :mod:`~genlab.audio.generation.pipelines` — ``audio/sample`` and :class:`AudioClipsOutput` (WAVs, sheet, zip);
* :mod:`~genlab.audio.generation.evaluation` — ``audio/label_accuracy``, ``audio/is``, ``audio/fd``;
* :mod:`~genlab.audio.generation.task` — the ``audio-generation`` task.
"""

from genlab.audio.generation import evaluation, pipelines, specgan, task, wavegan, wavenet  # noqa: F401  (registers)
from genlab.audio.generation.pipelines import AudioClipsOutput, AudioGenerationPipeline
from genlab.audio.generation.specgan import SpecGAN, SpecGANConfig
from genlab.audio.generation.wavegan import PhaseShuffle, WaveGAN, WaveGANConfig

__all__ = [
    "AudioClipsOutput",
    "AudioGenerationPipeline",
    "PhaseShuffle",
    "SpecGAN",
    "SpecGANConfig",
    "WaveGAN",
    "WaveGANConfig",
]
