"""Text to speech: the ``tts`` task, its acoustic models ``speech/fastspeech`` and ``speech/tacotron2`` and
``genlab speak`` (importing this package registers them)."""

from genlab.speech.tts import evaluation, fastspeech, pipelines, tacotron2, task  # noqa: F401  (registers them)
from genlab.speech.tts.base import TASK, AcousticConfig, AcousticModel

__all__ = ["TASK", "AcousticConfig", "AcousticModel"]
