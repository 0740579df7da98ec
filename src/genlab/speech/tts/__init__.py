"""Text to speech: the ``tts`` task, its acoustic models and ``genlab speak``."""
