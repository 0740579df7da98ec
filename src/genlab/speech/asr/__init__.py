"""Speech recognition: the ``asr`` task and its small CTC recogniser ``speech/ctc``.

The recogniser is the yardstick of genlab's text-to-speech: its error rates on held-out real or reference speech
are the floor every synthesised-speech number is read against. It is also ``genlab transcribe`` for the same
domain (the eSpeak voices, one speaker's read speech) — not a general-purpose speech recogniser.

Importing this package registers the task, the model, the ``transcribe`` pipeline, the ``cer``/``per`` metrics
and the speech datasets (``builtin:espeak-en``, ``builtin:espeak-zh``, ``ljspeech``); it is the ``speech``
modality's entry point.
"""

from genlab.speech.asr import data, evaluation, pipelines, task  # noqa: F401  (registers datasets, metrics, …)
from genlab.speech.asr.model import TASK, CTCConfig, CTCRecognizer

__all__ = ["TASK", "CTCConfig", "CTCRecognizer"]
