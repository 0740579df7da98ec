"""Speech: the text front end (normalisation, sentences, phonemes), the built-in eSpeak NG corpora and CTC tools.

* :mod:`genlab.speech.text` — English and Mandarin text normalisation, sentence splitting, grapheme-to-phoneme
  conversion through eSpeak NG and the :class:`~genlab.speech.text.PhonemeVocabulary` that travels with a model.
* :mod:`genlab.speech.corpus` — ``builtin:espeak-en`` and ``builtin:espeak-zh``: sentences spoken offline by
  eSpeak NG, cached as 22,050 Hz WAV files (registered when the module is imported).
* :mod:`genlab.speech.ctc` — CTC loss, greedy and prefix beam search decoding, character/phoneme error rates.
* :mod:`genlab.speech.asr` — the ``asr`` task: the small CTC recogniser ``speech/ctc``, ``genlab transcribe`` and the
  ``cer``/``per`` metrics; the ``speech`` modality's entry point (importing it registers them).

Nothing here is imported by genlab's core; eSpeak NG (GPL-3.0+) is loaded only when phonemes or speech are made.
"""
