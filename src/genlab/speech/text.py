"""The speech text front end: normalisation, sentence splitting, phonemes and the symbol vocabulary.

Text goes through three steps before an acoustic model sees it:

1. :func:`normalize` writes out what is not a word. English: cardinal and ordinal numbers, decimals, years,
   dates (``2026-12-05``, ``5 Dec 2026``, ``Dec 5, 2026``), times, currency (``$3.50``, ``£12``, ``€1,000``),
   percentages and common abbreviations (``Dr.``, ``Mr.``, ``St.``, ``etc.``). Mandarin: Arabic numerals become
   中文数字 (decimals ``3.14`` → 三点一四, years read digit by digit ``2026年`` → 二零二六年, ``50%`` →
   百分之五十), full-width letters and digits become ASCII and ASCII punctuation becomes full-width.
2. :func:`split_sentences` cuts long text into sentences (later streamed one by one); a sentence longer than
   ``max_chars`` is cut again at commas, then at spaces (or anywhere, for Chinese).
3. :func:`phonemize` asks eSpeak NG for the phonemes (its C function ``espeak_TextToPhonemes``, through
   :mod:`genlab.audio.espeak`): IPA with stress marks for English (voice ``en-us``) and IPA with Chao tone
   letters for Mandarin (voice ``cmn``, e.g. 妈 → ``m ˈ ɑ ˥˥``). Mixed text is split into runs by script and each
   run is spoken in its language. The result is a list of symbols: phonemes, stress marks (``ˈ``, ``ˌ``), tones,
   ``" "`` between words and the punctuation ``, . ? ! ; :`` between clauses.

:class:`PhonemeVocabulary` maps symbols to ids (with ``<pad>``, ``<bos>``, ``<eos>``, ``" "`` and ``<unk>``),
is saved with a model as JSON, and has a character mode (normalised characters instead of phonemes) for when
eSpeak NG is not installed. Unknown symbols are counted and reported, never dropped in silence.
"""

from __future__ import annotations

import ctypes
import json
import re
import threading
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from genlab.core.errors import BadInputError

Language = Literal["en", "zh"]
LANGUAGES = ("en", "zh")
VOICES = {"en": "en-us", "zh": "cmn"}  # eSpeak NG voices used for phonemes (cmn: Mandarin, correct in 1.52)

# ----------------------------------------------------------------------------- English numbers

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}  # fmt: skip
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
_MONTH_BY_PREFIX = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}


def cardinal(n: int) -> str:
    """English words for the integer ``n`` (``1234`` → ``one thousand two hundred thirty-four``)."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    for value, name in _SCALES:
        if n >= value:
            high, rest = divmod(n, value)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError(n)  # unreachable: every n >= 100 meets a scale


def ordinal(n: int) -> str:
    """English ordinal words (``21`` → ``twenty-first``, ``12`` → ``twelfth``)."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """A year as it is read (``1905`` → ``nineteen oh five``, ``2000`` → ``two thousand``, ``2026`` → ``twenty
    twenty-six``); other numbers as cardinals."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009 or n % 1000 == 0:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh ' + _ONES[low] if low < 10 else cardinal(low)}"


def _digits_en(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _number_en(text: str) -> str:
    """Words for ``1,234``, ``3.14``, ``-5`` or ``007`` (leading zeros and long numbers: digit by digit)."""
    sign = "minus " if text.startswith(("-", "−")) else ""
    whole, _, frac = text.lstrip("-−").replace(",", "").partition(".")
    if len(whole) > 15 or (len(whole) > 1 and whole.startswith("0")):
        spoken = _digits_en(whole)
    else:
        spoken = cardinal(int(whole or "0"))
    return sign + spoken + (f" point {_digits_en(frac)}" if frac else "")


# ----------------------------------------------------------------------------- English normalisation

_ABBREVIATIONS = {  # "St." is Saint before a name and Street otherwise (handled apart)
    "mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "prof": "professor", "sr": "senior",
    "jr": "junior", "mt": "mount", "ave": "avenue", "rd": "road", "blvd": "boulevard", "co": "company",
    "corp": "corporation", "inc": "incorporated", "ltd": "limited", "vs": "versus", "etc": "et cetera",
    "approx": "approximately", "dept": "department", "gen": "general", "capt": "captain", "lt": "lieutenant",
    "sgt": "sergeant", "col": "colonel", "gov": "governor", "rev": "reverend", "fig": "figure",
}  # fmt: skip
_ABBREVIATION_RE = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.", re.IGNORECASE)
_PHRASES = ((re.compile(r"\be\.g\.", re.I), "for example"), (re.compile(r"\bi\.e\.", re.I), "that is"),
            (re.compile(r"\ba\.m\.", re.I), "a m"), (re.compile(r"\bp\.m\.", re.I), "p m"),
            (re.compile(r"\bNo\.\s?(?=\d)"), "number "))  # fmt: skip
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "", "")}  # fmt: skip
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"  # 1,234,567.89
_MONTH_NAME = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"


def _plural(n_text: str, one: str, many: str) -> str:
    return f"{_number_en(n_text)} {one if n_text.replace(',', '') in ('1', '01') else many}"


def _currency_en(m: re.Match) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[m["symbol"]]
    amount, scale = m["amount"].replace(",", ""), m["scale"]
    if scale:  # $2.5 million -> two point five million dollars
        return f"{_number_en(amount)} {scale.lower()} {many}"
    whole, _, frac = amount.partition(".")
    if not frac or not sub_one or len(frac) != 2:
        return _plural(amount, one, many) if not frac else f"{_number_en(amount)} {many}"
    parts = [_plural(whole, one, many)] if int(whole) else []
    if int(frac):
        parts.append(_plural(str(int(frac)), sub_one, sub_many))
    return " and ".join(parts) or f"zero {many}"


def _date_en(day: int, month: int, year_text: str | None) -> str:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError
    spoken = f"{MONTHS[month - 1]} {ordinal(day)}"
    return spoken + (f", {year(int(year_text))}" if year_text else "")


def _time_en(m: re.Match) -> str:
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 24 or minute > 59:
        return m[0]
    spoken = cardinal(hour) + (" o'clock" if minute == 0 and not m["ampm"] else "")
    if minute:
        spoken += f" oh {_ONES[minute]}" if minute < 10 else f" {cardinal(minute)}"
    if m["ampm"]:
        spoken += " " + " ".join(m["ampm"].lower().replace(".", ""))
    return spoken


def _decade(n: int) -> str:
    """``1990`` (of "the 1990s") → ``nineteen nineties``."""
    words = year(n)
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _safe(fn):
    """A regex replacement that leaves the match as it is when it does not make sense (a 13th month)."""

    def replace(m: re.Match) -> str:
        try:
            return fn(m)
        except (ValueError, KeyError):
            return m[0]

    return replace


_EN_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(?P<symbol>[$£€¥])\s?(?P<amount>" + _NUM + r")(?:\s?(?P<scale>thousand|million|billion|trillion)\b)?",
                re.I), _currency_en),
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), _safe(lambda m: _date_en(int(m[3]), int(m[2]), m[1]))),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_NAME + r",?\s+(\d{4})\b"),
     _safe(lambda m: _date_en(int(m[1]), _MONTH_BY_PREFIX[m[2][:3].lower()], m[3]))),
    (re.compile(r"\b" + _MONTH_NAME + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b"),
     _safe(lambda m: _date_en(int(m[2]), _MONTH_BY_PREFIX[m[1][:3].lower()], m[3]))),
    (re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})(?:\s?(?P<ampm>[ap]\.?m\.?)(?![a-z]))?", re.I), _time_en),
    (re.compile(r"(" + _NUM + r")\s?%"), lambda m: f"{_number_en(m[1])} percent"),
    (re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.I), lambda m: ordinal(int(m[1]))),
    (re.compile(r"\b(1[1-9]\d0|20\d0)s\b"), lambda m: _decade(int(m[1]))),
    (re.compile(r"(?<![\d,.])(1[1-9]\d\d|20\d\d)(?!\d|,\d|\.\d)"), lambda m: year(int(m[1]))),
    (re.compile(r"(?<![\w.])[-−]?" + _NUM), lambda m: _number_en(m[0])),
]  # fmt: skip


def _saint_or_street(m: re.Match) -> str:
    before, after = m.string[: m.start()].rstrip(), m.string[m.end() :].lstrip()
    if after[:1].isupper() and not (before[-1:].isalnum() and before.split()[-1][:1].isupper()):
        return "Saint"
    return "Street" + _final_period(m)


def _final_period(m: re.Match) -> str:
    """``"."`` when an abbreviation's period also ends the text (``… etc.``), so the sentence still ends."""
    return "." if not m.string[m.end() :].strip() else ""


def normalize_en(text: str) -> str:
    """English text with numbers, dates, times, money, percentages and abbreviations written as words."""
    text = _widen_ascii(text)
    for pattern, words in _PHRASES:
        text = pattern.sub(words, text)
    text = re.sub(r"\bSt\.", _saint_or_street, text)
    text = _ABBREVIATION_RE.sub(lambda m: _match_case(_ABBREVIATIONS[m[1].lower()], m[1]) + _final_period(m), text)
    text = text.replace("&", " and ")
    for pattern, replace in _EN_RULES:
        text = pattern.sub(replace, text)
    return re.sub(r"\s+", " ", text).strip()


def _match_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


# ----------------------------------------------------------------------------- Mandarin normalisation

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ("", "十", "百", "千")
_ZH_GROUPS = ("", "万", "亿", "万亿")
_FULL_PUNCT = {",": "，", "!": "！", "?": "？", ";": "；", ":": "：", "(": "（", ")": "）"}
_ZH_CURRENCY = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑"}


def _group_zh(n: int) -> str:
    """0 < n < 10000 in Chinese (``1005`` → 一千零五), with 零 for inner zeros."""
    digits, out, zero = f"{n:04d}", [], False
    for i, d in enumerate(digits):
        if d == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_ZH_DIGITS[int(d)] + _ZH_UNITS[3 - i])
    return "".join(out)


def cardinal_zh(n: int) -> str:
    """Chinese numerals for the integer ``n`` (``105`` → 一百零五, ``12`` → 十二, ``20000`` → 二万)."""
    if n < 0:
        return "负" + cardinal_zh(-n)
    if n == 0:
        return "零"
    groups, out, need_zero = [], [], False
    while n:
        n, low = divmod(n, 10000)
        groups.append(low)
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_group_zh(g) + _ZH_GROUPS[i])
        need_zero = False
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text  # 十二, not 一十二


def digits_zh(digits: str) -> str:
    """Digit by digit (years, phone numbers): ``2026`` → 二零二六."""
    return "".join(_ZH_DIGITS[int(d)] for d in digits)


def _number_zh(text: str) -> str:
    sign = "负" if text.startswith(("-", "−")) else ""
    whole, _, frac = text.lstrip("-−").replace(",", "").partition(".")
    spoken = digits_zh(whole) if len(whole) > 16 or (len(whole) > 1 and whole[0] == "0") else cardinal_zh(int(whole))
    return sign + spoken + (f"点{digits_zh(frac)}" if frac else "")


def _trim_zeros(amount: str) -> str:
    """``12.50`` → ``12.5``, ``3.00`` → ``3`` (money is read without trailing zeros)."""
    return amount.rstrip("0").rstrip(".") if "." in amount else amount


def _date_zh(m: re.Match) -> str:
    month, day = int(m[2]), int(m[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m[0]
    return f"{digits_zh(m[1])}年{cardinal_zh(month)}月{cardinal_zh(day)}日"


def _time_zh(m: re.Match) -> str:
    hour, minute = int(m[1]), int(m[2])
    if hour > 24 or minute > 59:
        return m[0]
    hour_text = "两" if hour == 2 else cardinal_zh(hour)
    return f"{hour_text}点" + (
        "整" if minute == 0 else (f"零{cardinal_zh(minute)}分" if minute < 10 else f"{cardinal_zh(minute)}分")
    )


_ZH_RULES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\d])"), _date_zh),
    (re.compile(r"(?<![\d.])(\d{4})(?=年)"), lambda m: digits_zh(m[1])),  # a year; 10年 is ten years: 十年
    (re.compile(r"(?<![\d.])2(?=[个只位条本张件次双对种岁]|[天周])"), lambda m: "两"),  # 两个, not 二个
    (re.compile(r"(\d{1,2}):(\d{2})"), _time_zh),
    (re.compile(r"([¥￥$€£])\s?(" + _NUM + ")"), lambda m: _number_zh(_trim_zeros(m[2])) + _ZH_CURRENCY[m[1]]),
    (re.compile(r"(" + _NUM + r")\s?[%％]"), lambda m: "百分之" + _number_zh(m[1])),
    (re.compile(r"(?<![\d.])[-−]?" + _NUM), lambda m: _number_zh(m[0])),
]


def _widen_ascii(text: str) -> str:
    """Full-width letters, digits and ``％ ＄ ．`` (U+FF01–FF5E) as ASCII; the Chinese punctuation stays."""
    keep = set("，！？；：（）")
    return "".join(
        chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E and c not in keep else (" " if c == "\u3000" else c)
        for c in text
    )


def normalize_zh(text: str) -> str:
    """Mandarin text with Arabic numerals as 中文数字 and ASCII punctuation as full-width punctuation."""
    text = _widen_ascii(text)
    for pattern, replace in _ZH_RULES:
        text = pattern.sub(replace, text)
    text = re.sub(r"[,!?;:()]", lambda m: _FULL_PUNCT[m[0]], text)
    text = re.sub(r"\.(?=\s|$|[\u4e00-\u9fff])", "。", text)
    return re.sub(
        r"\s+",
        " ",
        re.sub(
            r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])\s+|\s+(?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])",
            "",
            text,
        ),
    ).strip()


# ----------------------------------------------------------------------------- scripts and mixed text


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def _is_han(c: str) -> bool:
    return _HAN.match(c) is not None


def _kind(c: str) -> str:
    """``zh`` (Han), ``en`` (Latin letter), ``neutral`` (digit, space, punctuation, currency, …), ``drop``
    (emoji and other pictographs) or ``other`` (a letter of a script that cannot be spoken)."""
    if _is_han(c):
        return "zh"
    category = unicodedata.category(c)
    if category[0] == "L":
        return "en" if "LATIN" in unicodedata.name(c, "") else "other"
    if (category in ("So", "Sk", "Cf", "Co", "Cn") and c not in "°©®™") or "\ufe00" <= c <= "\ufe0f":
        return "drop"
    return "neutral"


def _script_name(c: str) -> str:
    return unicodedata.name(c, "unknown").split(" ")[0].capitalize()


def check_text(text: str) -> str:
    """``text`` without emoji and pictographs; raises :class:`BadInputError` when nothing speakable is left, or
    when it holds letters of a script other than Latin and Han (naming the part that cannot be spoken)."""
    if not isinstance(text, str):
        raise BadInputError(f"text to speak must be a string, got {type(text).__name__}")
    bad = next((i for i, c in enumerate(text) if _kind(c) == "other"), None)
    if bad is not None:
        start, end = text.rfind(" ", 0, bad) + 1, text.find(" ", bad)
        part = text[start : end if end >= 0 else len(text)]
        raise BadInputError(
            f"cannot speak '{part}' ({_script_name(text[bad])} script)",
            "genlab speaks English and Mandarin: write it in Latin letters or Chinese characters, or remove it",
        )
    kept = "".join(c for c in unicodedata.normalize("NFC", text) if _kind(c) != "drop")
    if not any(c.isalnum() for c in kept):
        shown = text.strip()[:40]
        raise BadInputError(
            f"there is nothing to speak in {shown!r}" if shown else "there is no text to speak",
            "pass words or numbers (English or Mandarin); emoji, symbols and punctuation alone are not spoken",
        )
    return kept


def script_runs(text: str, language: Language = "en") -> list[tuple[Language, str]]:
    """``text`` cut into runs of one language: Han characters are Mandarin, Latin letters English; digits,
    spaces and punctuation join the run before them (the first run, or ``language`` when the text has no
    letters). ``"我有3个苹果 and an apple"`` → ``[("zh", "我有3个苹果 "), ("en", "and an apple")]``."""
    if language not in LANGUAGES:
        raise BadInputError(f"unknown language '{language}'", f"use one of {', '.join(LANGUAGES)}")
    text = check_text(text)
    kinds = [_kind(c) for c in text]
    first = next((k for k in kinds if k in LANGUAGES), language)
    runs: list[list] = []
    current = first
    for c, kind in zip(text, kinds, strict=True):
        if kind in LANGUAGES:
            current = kind
        if runs and runs[-1][0] == current:
            runs[-1][1] += c
        else:
            runs.append([current, c])
    return [(lang, part) for lang, part in runs if part.strip()]


def normalize(text: str, language: Language = "en") -> str:
    """Text normalised run by run in its own language (:func:`normalize_en`, :func:`normalize_zh`); ``language``
    decides only text without letters (``"2026-12-05"``)."""
    parts = [(normalize_zh if lang == "zh" else normalize_en)(part) for lang, part in script_runs(text, language)]
    return re.sub(r"\s+", " ", " ".join(p for p in parts if p)).strip()


_normalize = normalize  # for functions whose ``normalize`` argument hides it


# ----------------------------------------------------------------------------- sentences

_ABBREVIATION_ENDS = {a + "." for a in _ABBREVIATIONS} | {"st.", "e.g.", "i.e.", "a.m.", "p.m.", "no."}
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|[。！？]+[”’）」』]*")
_CLAUSE_END = re.compile(r"[,;:，、；：]")
DEFAULT_MAX_CHARS = {"en": 200, "zh": 80}  # about 12 s of speech each


def split_sentences(text: str, max_chars: int | None = None) -> list[str]:
    """Sentences of ``text`` (English or Mandarin), each at most ``max_chars`` characters long (default 200,
    or 80 for a sentence that is mostly Chinese): a longer sentence is cut at commas and semicolons, then at
    spaces, then anywhere. Periods of abbreviations (``Dr.``, ``e.g.``) and initials (``J. Smith``) end nothing."""
    sentences, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        word = text[max(start, m.start() - 12) : m.start() + 1].split()[-1:] or [""]  # abbreviations are short
        if m[0] == "." and (word[0].lower() in _ABBREVIATION_ENDS or re.fullmatch(r"[A-Z]\.", word[0])):
            continue
        sentences.append(text[start : m.end()])
        start = m.end()
    sentences.append(text[start:])
    out = []
    for sentence in (s.strip() for s in sentences):
        if sentence:
            han = len(_HAN.findall(sentence)) > len(sentence) / 3
            out.extend(_cut(sentence, max_chars or DEFAULT_MAX_CHARS["zh" if han else "en"]))
    return out


def _pack(pieces: list[str], limit: int, joiner: str) -> list[str]:
    """Greedily join consecutive ``pieces`` while the result stays within ``limit`` characters."""
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + len(joiner) + len(piece) <= limit:
            out[-1] += joiner + piece
        else:
            out.append(piece)
    return out


def _cut(sentence: str, limit: int) -> list[str]:
    if limit < 1:
        raise BadInputError(f"max_chars must be at least 1, got {limit}")
    if len(sentence) <= limit:
        return [sentence]
    joiner = "" if len(_HAN.findall(sentence)) > len(sentence) / 3 else " "  # Chinese needs no spaces
    out = []
    for clause in _pack([p.strip() for p in re.split(r"(?<=[,;:，、；：])", sentence) if p.strip()], limit, joiner):
        if len(clause) <= limit:
            out.append(clause)
        elif " " in clause:
            words = _pack(clause.split(" "), limit, " ")
            out.extend(w for word in words for w in ([word] if len(word) <= limit else _hard_cut(word, limit)))
        else:
            out.extend(_hard_cut(clause, limit))
    return out


def _hard_cut(text: str, limit: int) -> list[str]:
    return [text[i : i + limit] for i in range(0, len(text), limit)]


# ----------------------------------------------------------------------------- phonemes (eSpeak NG)

STRESS = ("ˈ", "ˌ")
WORD_BOUNDARY = " "
PUNCTUATION = {",": ",", "，": ",", "、": ",", ";": ";", "；": ";", ":": ":", "：": ":", ".": ".", "。": ".",
               "…": ".", "!": "!", "！": "!", "?": "?", "？": "?"}  # fmt: skip
_CLAUSES = re.compile("([" + re.escape("".join(PUNCTUATION)) + "]+)")
_TONE = re.compile(r"(55|35|214|51|11)$")  # eSpeak NG's Mandarin tone phonemes (Chao numbers)
_TONE_LETTERS = dict(zip("12345", "˩˨˧˦˥", strict=True))
_SWITCH = re.compile(r"\([a-z-]+\)(.*?)(\([a-z-]+\)|$)")  # eSpeak's "(en)…(cmn)": words it read in another language
IPA_MODE, SEPARATOR = 0x02, ord("_") << 8  # phonememode bits of espeak_TextToPhonemes
_open = threading.local()  # the Phonemizer open in this thread, if any


def tone_letters(chao: str) -> str:
    """Chao tone numbers as IPA tone letters: ``"214"`` → ``"˨˩˦"``."""
    return "".join(_TONE_LETTERS[d] for d in chao)


class Phonemizer:
    """eSpeak NG's grapheme-to-phoneme conversion for many texts in one loaded library::

        with Phonemizer() as g2p:
            symbols = g2p("Dr. Smith paid $3.50.")

    Texts are normalised (unless ``normalize=False``), cut into script runs and clauses; each clause is
    phonemised in its language; the result is a list of symbols (see the module notes). Words that eSpeak NG
    cannot pronounce in Mandarin (it switches to English for them) are left out and reported in ``unknown`` with
    a warning, never dropped in silence. Needs the ``audio`` extra (``espeakng-loader``).

    While the block is open this thread holds eSpeak NG: phonemizers opened inside it share the library, but
    :func:`genlab.audio.espeak.synthesize` must be called after the block (other threads wait for it).
    """

    def __init__(self) -> None:
        from genlab.audio import espeak

        self._espeak = espeak
        self._context = None
        self._lib = None
        self._voice = ""
        self.unknown: Counter[str] = Counter()  # Chinese characters eSpeak NG has no pronunciation for

    def __enter__(self) -> Phonemizer:
        shared = getattr(_open, "phonemizer", None)
        if shared is not None:  # nested in this thread: share the loaded library (a second load would wait forever)
            self._lib, self._voice = shared._lib, ""
            return self
        if not self._espeak.available():
            self._espeak._loader()  # raises the "install the audio extra" error when the package is missing
            raise BadInputError("eSpeak NG is not usable here", "reinstall it: pip install 'genlab[audio]'")
        self._context = self._espeak._engine()
        lib = self._context.__enter__()
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        self._lib, self._voice = lib, ""
        _open.phonemizer = self
        return self

    def __exit__(self, *exc) -> None:
        context, self._context, self._lib = self._context, None, None
        if context is not None:
            _open.phonemizer = None
            context.__exit__(*exc)

    @property
    def version(self) -> str:
        """eSpeak NG's version (``1.52.0``)."""
        return self._lib.espeak_Info(None).decode()

    def _raw(self, text: str, language: str, mode: int) -> str:
        voice = VOICES[language]
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != self._espeak.EE_OK:
                raise BadInputError(f"eSpeak NG could not load the voice '{voice}'", "reinstall espeakng-loader")
            self._voice = voice
        buffer = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        pointer, out = ctypes.c_void_p(ctypes.addressof(buffer)), []
        while pointer.value:  # one call per clause; eSpeak moves the pointer on, NULL at the end
            out.append((self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, mode) or b"").decode())
        return " ".join(out)

    def _words(self, text: str, language: str, mode: int) -> list[list[str]]:
        """Words of eSpeak's output as lists of phoneme names (foreign-language stretches removed)."""
        raw = _SWITCH.sub(" ", self._raw(text, language, mode))
        words = ([p for p in word.split("_") if p and p != "|"] for word in raw.split())
        return [w for w in words if w]

    def _clause(self, text: str, language: str) -> list[str]:
        if language == "zh" and _SWITCH.search(self._raw(text, "zh", IPA_MODE)):
            self._report(text)
        ipa = self._words(text, language, IPA_MODE | SEPARATOR)
        names = self._words(text, language, SEPARATOR) if language == "zh" else ipa
        if len(names) != len(ipa):  # never seen; keep the IPA, lose tones rather than misplace them
            names = ipa
        symbols: list[str] = []
        for ipa_word, name_word in zip(ipa, names, strict=True):
            if len(ipa_word) != len(name_word):
                name_word = ipa_word
            word = []
            for phone, name in zip(ipa_word, name_word, strict=True):
                stress = phone[: len(phone) - len(phone.lstrip("".join(STRESS)))]
                word.extend(stress)
                phone = phone[len(stress) :]
                tone = _TONE.search(name) if language == "zh" else None
                word.extend([phone[:-1], tone_letters(tone[1])] if tone and len(phone) > 1 else [phone])
            symbols.extend([*word, WORD_BOUNDARY])
        return symbols[:-1]

    def _report(self, clause: str) -> None:
        """Find the characters of ``clause`` that eSpeak NG reads in another language, and count them."""
        missing = [c for c in dict.fromkeys(clause) if _is_han(c) and _SWITCH.search(self._raw(c, "zh", IPA_MODE))]
        self.unknown.update(missing)
        if missing:
            warnings.warn(
                f"eSpeak NG has no Mandarin pronunciation for {''.join(missing)} (in {clause!r}); they are not spoken",
                stacklevel=4,
            )

    def __call__(self, text: str, language: Language = "en", normalize: bool = True) -> list[str]:
        """Phoneme symbols of ``text``; ``language`` decides text without letters (see :func:`script_runs`)."""
        if self._lib is None:
            raise RuntimeError("use Phonemizer inside a with block")
        symbols: list[str] = []
        for lang, part in script_runs(text, language):
            if normalize:
                part = (normalize_zh if lang == "zh" else normalize_en)(part)
            for piece in _CLAUSES.split(part):
                if not piece.strip():
                    continue
                if _CLAUSES.fullmatch(piece):
                    mark = PUNCTUATION[piece[-1]] if piece[-1] in PUNCTUATION else PUNCTUATION[piece[0]]
                    symbols = [*_strip_boundary(symbols), mark] if symbols else symbols
                    continue
                words = self._clause(piece.strip(), lang)
                if words:
                    symbols.extend([WORD_BOUNDARY, *words] if symbols else words)
        if not symbols:
            raise BadInputError(f"eSpeak NG found nothing to say in {text[:40]!r}", "pass words or numbers")
        return symbols


def _strip_boundary(symbols: list[str]) -> list[str]:
    return symbols[:-1] if symbols and symbols[-1] == WORD_BOUNDARY else symbols


def phonemize(text: str, language: Language = "en", normalize: bool = True) -> list[str]:
    """Phoneme symbols of one text (loads eSpeak NG once; use :class:`Phonemizer` for many texts)."""
    with Phonemizer() as g2p:
        return g2p(text, language, normalize)


def to_ipa(symbols: Iterable[str]) -> str:
    """Symbols joined into an IPA string (``həlˈoʊ wˈɜːld``)."""
    return "".join(symbols)


def characters(text: str, language: Language = "en", normalize: bool = True) -> list[str]:
    """The character fallback of :func:`phonemize`: the normalised text's characters (English lower-cased)."""
    text = _normalize(text, language) if normalize else check_text(text)
    return [c.lower() if c.isascii() else c for c in re.sub(r"\s+", WORD_BOUNDARY, text)]


# ----------------------------------------------------------------------------- vocabulary

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, WORD_BOUNDARY, UNK)  # ids 0–4 in every vocabulary
VOCABULARY_FORMAT = "genlab-phoneme-vocabulary"
SymbolMode = Literal["phoneme", "character"]


class PhonemeVocabulary:
    """Symbols ↔ ids for a speech model: ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``" "`` 3, ``<unk>`` 4, then
    ``symbols`` in the order given.

    ``mode`` says what the symbols are: ``"phoneme"`` (from :func:`phonemize`) or ``"character"`` (the fallback:
    characters of the normalised text, :func:`characters`). Encoding a symbol the vocabulary lacks gives
    ``<unk>``, counts it in ``unknown`` and warns with the list; with ``strict=True`` it raises
    :class:`BadInputError` instead. Saved with a model as JSON (:meth:`save`, :meth:`load`).
    """

    def __init__(self, symbols: Iterable[str] = (), mode: SymbolMode = "phoneme", strict: bool = False):
        if mode not in ("phoneme", "character"):
            raise BadInputError(f"unknown symbol mode '{mode}'", "use 'phoneme' or 'character'")
        self.mode, self.strict = mode, strict
        self.symbols: list[str] = list(dict.fromkeys([*SPECIALS, *symbols]))
        self._ids = {s: i for i, s in enumerate(self.symbols)}
        self.unknown: Counter[str] = Counter()  # symbols met by encode() that are not in the vocabulary

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], mode: SymbolMode = "phoneme", strict: bool = False):
        """A vocabulary of every symbol in ``sequences`` (sorted, so the same data always gives the same ids)."""
        return cls(sorted({s for seq in sequences for s in seq} - set(SPECIALS)), mode, strict)

    pad_id, bos_id, eos_id, space_id, unk_id = range(5)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhonemeVocabulary) and (self.symbols, self.mode) == (other.symbols, other.mode)

    def __repr__(self) -> str:
        return f"PhonemeVocabulary({len(self)} symbols, mode={self.mode!r})"

    def encode(self, symbols: Sequence[str], add_bos_eos: bool = False) -> list[int]:
        """Ids of ``symbols`` (with ``<bos>``/``<eos>`` around them when asked); unknown symbols → ``<unk>``,
        reported (see the class notes)."""
        missing = Counter(s for s in symbols if s not in self._ids)
        if missing:
            listed = ", ".join(f"{s!r}×{n}" for s, n in missing.most_common())
            if self.strict:
                raise BadInputError(
                    f"{sum(missing.values())} symbol(s) are not in the vocabulary: {listed}",
                    "build the vocabulary from data that has them, or use strict=False to map them to <unk>",
                )
            self.unknown.update(missing)
            warnings.warn(f"symbols not in the vocabulary, encoded as {UNK}: {listed}", stacklevel=2)
        ids = [self._ids.get(s, self.unk_id) for s in symbols]
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def decode(self, ids: Iterable[int], keep_specials: bool = False) -> list[str]:
        """Symbols of ``ids``; ``<pad>``, ``<bos>`` and ``<eos>`` are left out unless ``keep_specials``."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.symbols):
                raise BadInputError(f"id {i} is outside the vocabulary (0..{len(self.symbols) - 1})")
            if keep_specials or i not in (self.pad_id, self.bos_id, self.eos_id):
                out.append(self.symbols[i])
        return out

    def symbolize(self, text: str, language: Language = "en", g2p: Phonemizer | None = None) -> list[str]:
        """``text`` as this vocabulary's kind of symbols (phonemes through ``g2p`` or a fresh eSpeak NG;
        or characters)."""
        if self.mode == "character":
            return characters(text, language)
        return g2p(text, language) if g2p is not None else phonemize(text, language)

    def to_dict(self) -> dict:
        return {"format": VOCABULARY_FORMAT, "version": 1, "mode": self.mode, "specials": list(SPECIALS),
                "symbols": self.symbols[len(SPECIALS) :]}  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON (``phonemes.json`` beside a model's weights); returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, strict: bool = False) -> PhonemeVocabulary:
        """Read a vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise BadInputError(f"cannot read the phoneme vocabulary {path}: {e}") from None
        if not isinstance(data, dict) or data.get("format") != VOCABULARY_FORMAT:
            raise BadInputError(f"{path} is not a genlab phoneme vocabulary", "write it with PhonemeVocabulary.save")
        if data.get("specials") != list(SPECIALS):
            raise BadInputError(f"{path} has other special symbols ({data.get('specials')})")
        return cls(data["symbols"], data.get("mode", "phoneme"), strict)
