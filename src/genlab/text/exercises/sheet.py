"""Exercises, difficulty bands and the loop that fills a sheet with verified, distinct items.

Every topic (:mod:`.arithmetic`, :mod:`.fraction`, :mod:`.equations`, :mod:`.vocabulary`) is a
:class:`Topic` registered in :data:`TOPICS`. It draws a candidate item, *measures* the item's difficulty
features from what was drawn (digits, carries, denominators, frequency rank, …) and recomputes its
answer a second, independent way. :func:`make_sheet` keeps an item only when the answer checks and every
measured feature lies in the band its level allows (:attr:`Topic.levels`); anything else is redrawn, a
bounded number of times, and a level that cannot give ``n`` distinct items raises a clear error.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from genlab.core.errors import BadInputError
from genlab.text.exercises.language import Phrases

LEVELS = (1, 2, 3, 4, 5)

#: A feature's band: ``(low, high)`` inclusive (``high`` None: no upper bound) for a number, or the set of
#: allowed values for a label.
Band = tuple[float, float | None] | frozenset


@dataclass
class Exercise:
    """One question with its exact answer.

    ``expression``: the machine-readable form the answer is checked against (an ASCII arithmetic
    expression with ``*`` and ``/``, equations joined by ``;``, or the full cloze sentence);
    ``question``: what the sheet shows; ``answer``: an ``int``, a :class:`fractions.Fraction`, a
    ``{"x": Fraction, …}`` solution or a word; ``steps``: the worked solution; ``features``: the
    difficulty measured on this item; ``options``: the choices of a cloze item; ``source``: where a cloze
    sentence came from (``corpus`` or ``model``)."""

    topic: str
    level: int
    question: str
    answer: Any
    expression: str
    prompt: str = ""
    steps: list[str] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    source: str = ""
    unique: str = ""

    @property
    def key(self) -> str:
        """What makes two items the same question (distinct items on a sheet differ here): ``unique`` when
        set (a cloze item's target word), else the expression."""
        return self.unique or self.expression

    def answer_text(self) -> str:
        """The answer as the answer key writes it (``19/12 = 1 7/12``, ``x = −3/2``, ``(B) harvest``)."""
        a = self.answer
        if isinstance(a, dict):
            return ", ".join(f"{k} = {format_number(v)}" for k, v in a.items()).replace("-", "−")
        if isinstance(a, Fraction):
            text, mixed = format_number(a), format_mixed(a)
            return (text if mixed == text else f"{text} = {mixed}").replace("-", "−")
        if self.options:
            return f"({'ABCD'[self.options.index(a)]}) {a}"
        return str(a)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: answers as strings (``"7/3"``), features as measured."""
        answer = self.answer
        if isinstance(answer, dict):
            answer = {k: format_number(v) for k, v in answer.items()}
        elif isinstance(answer, Fraction):
            answer = format_number(answer)
        record = {
            "topic": self.topic, "level": self.level, "prompt": self.prompt, "question": self.question,
            "expression": self.expression, "answer": answer, "answer_text": self.answer_text(),
            "steps": self.steps, "features": self.features,
        }  # fmt: skip
        if self.options:
            record["options"] = self.options
        if self.source:
            record["source"] = self.source
        return record


def format_number(value: int | Fraction) -> str:
    """``3``, ``-7/2``: an integer or a fraction in lowest terms (what :class:`Fraction` reads back)."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def format_mixed(value: int | Fraction) -> str:
    """``1 7/12`` for 19/12, ``3`` for 3, ``5/6`` for 5/6 (negative values keep their sign in front)."""
    value = Fraction(value)
    sign, value = ("-" if value < 0 else ""), abs(value)
    whole, part = divmod(value.numerator, value.denominator)
    if part == 0:
        return f"{sign}{whole}"
    frac = f"{part}/{value.denominator}"
    return f"{sign}{whole} {frac}" if whole else f"{sign}{frac}"


class Topic:
    """A kind of exercise: draws items of a level, measures them and re-checks their answers.

    Subclasses set ``name`` and ``levels`` (level → {feature: band}), and implement :meth:`draw` and
    :meth:`recheck`. ``levels`` is the documented definition of difficulty: the docs' tables print it."""

    name: ClassVar[str] = ""
    levels: ClassVar[dict[int, dict[str, Band]]] = {}
    #: Short descriptions of the features, for the level tables.
    feature_help: ClassVar[dict[str, str]] = {}

    def __init__(self, say: Phrases):
        self.say = say

    def draw(self, rng: random.Random, level: int) -> Exercise:
        """A candidate item for ``level`` with its measured ``features`` (it may still miss the band)."""
        raise NotImplementedError

    def recheck(self, item: Exercise) -> str | None:
        """Recompute the answer independently of :meth:`draw`; the reason it fails, or None."""
        raise NotImplementedError

    def verify(self, item: Exercise) -> str | None:
        """None when every feature is in the level's band and the answer checks, else why not (the band is
        looked at first: it is cheap, and most rejected candidates miss it)."""
        return band_problem(item.features, self.levels[item.level]) or self.recheck(item)

    def capacity_hint(self, level: int) -> str:
        """What to try when ``level`` runs out of distinct items."""
        return "ask for fewer questions (--n) or another level"


def band_problem(features: dict[str, Any], bands: dict[str, Band]) -> str | None:
    """The first feature outside its band, said as ``"carries=3 not in 1–2"``; None when all fit."""
    for name, band in bands.items():
        value = features.get(name)
        if isinstance(band, frozenset):
            if value not in band:
                return f"{name}={value} not in {sorted(band)}"
            continue
        low, high = band
        if value is None or value < low or (high is not None and value > high):
            return f"{name}={value} not in {format_band(band)}"
    return None


def format_band(band: Band) -> str:
    """``2``, ``1–2``, ``≥ 3``, ``one-step, two-step``: a band as the level tables show it."""
    if isinstance(band, frozenset):
        return ", ".join(sorted(str(v) for v in band))
    low, high = band
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def level_table(topic: type[Topic]) -> str:
    """The topic's level definition as a markdown table (level × feature band)."""
    names = list(dict.fromkeys(name for bands in topic.levels.values() for name in bands))
    head = ["level", *[topic.feature_help.get(n, n) for n in names]]
    rows = [head, ["---"] * len(head)]
    for level in LEVELS:
        bands = topic.levels[level]
        rows.append([str(level), *[format_band(bands[n]) if n in bands else "any" for n in names]])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


TOPICS: dict[str, type[Topic]] = {}


def register_topic(cls: type[Topic]) -> type[Topic]:
    """Class decorator: make a :class:`Topic` available to :func:`make_sheet` under its ``name``."""
    TOPICS[cls.name] = cls
    return cls


@dataclass
class Sheet:
    """A worksheet: the verified items and how they were drawn (``rejected``: redrawn candidates by reason)."""

    topic: str
    level: int
    lang: str
    seed: int
    items: list[Exercise]
    tries: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


#: Candidates drawn per requested item before a level is declared unable to fill the sheet.
TRIES_PER_ITEM = 60


def make_sheet(topic: str, level: int, n: int, seed: int, lang: str = "en", **options: Any) -> Sheet:
    """``n`` distinct items of ``topic`` at ``level``, each verified (answer and band); the same seed gives
    the same sheet. ``options`` go to the topic (the vocabulary's sentences). Raises BadInputError for an
    unknown topic, a level outside 1–5, or a level that cannot produce ``n`` distinct items."""
    if topic not in TOPICS:
        from genlab.core.errors import unknown_name

        raise unknown_name("exercise topic", topic, TOPICS)
    if level not in LEVELS:
        raise BadInputError(f"there is no level {level}", "levels run from 1 (easiest) to 5 (hardest)")
    if n < 1:
        raise BadInputError(f"a sheet needs at least one question, asked for {n}", "give --n 1 or more")
    generator = TOPICS[topic](Phrases(lang), **options)
    rng = random.Random(seed)
    items: list[Exercise] = []
    seen: set[str] = set()
    rejected: Counter[str] = Counter()
    tries = 0
    while len(items) < n and tries < TRIES_PER_ITEM * n + 200:
        tries += 1
        item = generator.draw(rng, level)
        if item.key in seen:
            rejected["duplicate"] += 1
            continue
        problem = generator.verify(item)
        if problem is not None:
            rejected[problem.split("=")[0].split(":")[0]] += 1
            continue
        seen.add(item.key)
        items.append(item)
    if len(items) < n:
        raise BadInputError(
            f"level {level} {topic} gave only {len(items)} distinct checked questions of the {n} asked for "
            f"({tries} tries)",
            generator.capacity_hint(level),
        )
    return Sheet(topic, level, lang, seed, items, tries, dict(rejected))
