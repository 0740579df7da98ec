"""Sentence splitting for English and Chinese documents.

Both splitters first cut the text into paragraphs at blank lines; a single line break inside a
paragraph is a space (English) or nothing (Chinese), since text files are often wrapped.

English: a sentence ends at ``.``, ``!``, ``?`` or ``…`` (repeated, and followed by closing quotes or
brackets) when whitespace follows and the next word does not start with a lowercase letter. A period
does not end a sentence after a known abbreviation (``Dr.``, ``e.g.``, ``et al.``, …; see
:data:`ABBREVIATIONS`), before a number after one that numbers things (``Fig. 2``, ``No. 7``; see
:data:`NUMBERED`), after a single-letter initial (``J. Smith``) or after a dotted acronym
(``U.S.``, ``i.e.``, ``a.m.``) — so ``the U.S. Army`` stays whole, at the price of also keeping
``… in the U.S. The …`` together. Decimals (``3.14``) never split, as no whitespace follows the point.

Chinese: a sentence ends after ``。！？；`` (or ``!?``), repeated, together with the closing quotes or
brackets that follow (``”’」』）》``).
"""

from __future__ import annotations

import re

from genlab.text.language import Language

#: Words (lowercase, without the final period) after which a period never ends an English sentence.
ABBREVIATIONS = frozenset(
    [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "rev", "lt", "sgt", "capt", "gov", "e.g", "i.e",
        "cf", "vs", "al", "approx", "dept", "esp",
    ]
)  # fmt: skip
#: Abbreviations that end no sentence when a number follows (``Fig. 2``, ``Eq. (3)``, ``Jan. 5``, ``No. 7``).
NUMBERED = frozenset(
    [
        "no", "nos", "vol", "pp", "ch", "sec", "fig", "figs", "eq", "eqs", "ref", "refs", "ca", "jan", "feb",
        "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    ]
)  # fmt: skip
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_EN_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*(?=\s)")
_ZH_END = re.compile(r"[\u3002\uff01\uff1f\uff1b!?]+[\u201d\u2019\u300d\u300f\uff09)\u300b\"']*")
_INITIAL = re.compile(r"^[A-Za-z]\.$")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.){2,}$")
_HAS_ALNUM = re.compile(r"[^\W_]")
_LEADING_OPENERS = "\"'\u201c\u2018([\u00ab"


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (separated by blank lines), stripped, empty ones left out."""
    return [p.strip() for p in _PARAGRAPH.split(text.replace("\r\n", "\n")) if p.strip()]


def _is_abbreviation(word: str, next_char: str) -> bool:
    """True when ``word`` (the text before a period, the period included) is an abbreviation or an initial;
    ``next_char`` starts the text after it."""
    word = word.lstrip(_LEADING_OPENERS)
    if _INITIAL.match(word) or _DOTTED.match(word):
        return True
    stem = word[:-1].lower()
    return stem in ABBREVIATIONS or (stem in NUMBERED and (next_char.isdigit() or next_char == "("))


def _split_english_paragraph(paragraph: str) -> list[str]:
    text = re.sub(r"\s+", " ", paragraph)
    sentences, start = [], 0
    for match in _EN_END.finditer(text):
        end = match.end()
        rest = text[end:].lstrip()
        if not rest or rest[0].islower():
            continue
        if match.group().rstrip("\"'\u201d\u2019)]\u00bb") == ".":
            word = text[start:end].rsplit(" ", 1)[-1].rstrip("\"'\u201d\u2019)]\u00bb")
            if _is_abbreviation(word, rest[0]):
                continue
        sentences.append(text[start:end].strip())
        start = end
    sentences.append(text[start:].strip())
    return sentences


def _split_chinese_paragraph(paragraph: str) -> list[str]:
    text = re.sub(r"\s*\n\s*", "", paragraph)
    sentences, start = [], 0
    for match in _ZH_END.finditer(text):
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return sentences


def split_sentences(text: str, language: Language) -> list[str]:
    """The sentences of ``text`` in order; pieces without a letter or digit (``***``) are left out."""
    split = _split_chinese_paragraph if language == "zh" else _split_english_paragraph
    return [s for p in paragraphs(text) for s in split(p) if _HAS_ALNUM.search(s)]
