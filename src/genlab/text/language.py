"""Telling Chinese from English text, and counting its length in the units each language is measured in.

A text counts as Chinese (``zh``) when CJK ideographs make up at least :data:`CJK_THRESHOLD` of its
letters (ideographs + alphabetic characters); otherwise it is English (``en``). Lengths are words for
English (whitespace-separated pieces holding a letter or a digit) and characters for Chinese (each CJK
ideograph counts one, and each run of Latin letters or digits inside it one more).
"""

from __future__ import annotations

import functools
import re
from typing import Literal

Language = Literal["en", "zh"]
#: CJK Unified Ideographs, Extension A and the compatibility block.
_CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{_CJK_RANGES}]")
CJK_THRESHOLD = 0.3
_LATIN_RUN = re.compile(rf"[^\W_{_CJK_RANGES}]+")  # a run of letters or digits that are not ideographs
_ZH_PIECES = re.compile(rf"[{_CJK_RANGES}]|[^\W_{_CJK_RANGES}]+|[\W_]")
_HAS_ALNUM = re.compile(r"[^\W_]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph."""
    return CJK.search(text) is not None


def cjk_share(text: str) -> float:
    """Share of CJK ideographs among the text's letters (0 for a text without letters)."""
    cjk = len(CJK.findall(text))
    letters = sum(1 for ch in text if ch.isalpha())
    return cjk / letters if letters else 0.0


def detect_language(text: str) -> Language:
    """``"zh"`` when CJK ideographs are at least :data:`CJK_THRESHOLD` of the letters, else ``"en"``."""
    return "zh" if cjk_share(text) >= CJK_THRESHOLD else "en"


def resolve_language(language: str, text: str) -> Language:
    """``language`` itself (``en``/``zh``), or the detected one for ``auto``."""
    if language == "auto":
        return detect_language(text)
    if language not in ("en", "zh"):
        from genlab.core.errors import BadInputError

        raise BadInputError(f"unknown language '{language}'", "use auto, en or zh")
    return language  # type: ignore[return-value]


def length_units(text: str, language: Language) -> int:
    """Length of ``text``: words (English) or characters (Chinese; a Latin word inside counts one)."""
    if language == "zh":
        return len(CJK.findall(text)) + len(_LATIN_RUN.findall(text))
    return sum(1 for word in text.split() if _HAS_ALNUM.search(word))


def cut_to_units(text: str, limit: int, language: Language) -> str:
    """The start of ``text`` holding at most ``limit`` length units (see :func:`length_units`)."""
    if language == "zh":
        out, used = [], 0
        for piece in _ZH_PIECES.findall(text):
            cost = 1 if _HAS_ALNUM.search(piece) or CJK.match(piece) else 0
            if used + cost > limit:
                break
            out.append(piece)
            used += cost
        return "".join(out).rstrip()
    words, kept, used = text.split(), [], 0
    for word in words:
        cost = 1 if _HAS_ALNUM.search(word) else 0
        if used + cost > limit:
            break
        kept.append(word)
        used += cost
    return " ".join(kept)


def jieba_module():
    """The jieba word segmenter, imported quietly (its import warns about pkg_resources and logs its
    dictionary loading, neither of which a user can act on)."""
    import logging
    import warnings

    from genlab.core.optional import require

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        jieba = require("jieba", "text", "Chinese word segmentation")
    jieba.setLogLevel(logging.WARNING)
    return jieba


@functools.lru_cache(maxsize=1)
def _porter():
    from genlab.core.optional import require

    return require("nltk.stem.porter", "text", "English stemming").PorterStemmer()


@functools.lru_cache(maxsize=200_000)
def porter_stem(word: str) -> str:
    """The Porter stem (Porter 1980; NLTK's default mode) of one lowercased English word, cached."""
    return _porter().stem(word)
