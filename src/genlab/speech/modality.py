"""The ``speech`` modality's entry point: importing it registers the ``asr`` and ``tts`` tasks, their models,
pipelines (``genlab transcribe``, ``genlab speak``), metrics and the speech datasets."""

from genlab.speech import asr, tts  # noqa: F401  (registers)
