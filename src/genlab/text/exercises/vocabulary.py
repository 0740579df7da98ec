"""Vocabulary cloze items: a sentence with one word blanked and four choices.

The words and sentences come from the built-in tiny Shakespeare corpus (``builtin:tinyshakespeare``, shipped
with genlab, so this works offline), and optionally from a trained text model's own writing
(``--model RUN``). Difficulty is the target word's frequency rank in that corpus (1 = the commonest word;
words tied in count share a rank; rarer = harder) and the sentence's length in words. Levels
(:data:`VocabularyTopic.levels`):

| level | frequency rank | sentence words | distractors in the same rank band |
|---|---|---|---|
| 1 | 1–500 | 4–10 | 3 |
| 2 | 501–1500 | 5–12 | 3 |
| 3 | 1501–3000 | 6–16 | 3 |
| 4 | 3001–6000 | 6–20 | 3 |
| 5 | ≥ 6001 | 8–30 | 3 |

Target words are content words: at least three letters, not a function word (the summariser's English
stop words and Shakespeare's thee/thou/hath…), and written in lower case at least 60% of the time
(which leaves out names). A sentence is used only when it holds the target word exactly once, as a word of
its own (not inside ``troth-plight``); a model's sentence also needs 90% of its words to be words of the corpus
(a small model misspells). The three
distractors have ranks in the same band, as close to the target's as possible, and the same ending
(-ing, -ed, -ly, -s, …) where the corpus has enough such words; none occurs in the sentence.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from genlab.text.exercises.language import Phrases
from genlab.text.exercises.sheet import Band, Exercise, Topic, register_topic

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
BLANK = "_____"
CORPUS_NAME = "tiny Shakespeare"
ARCHAIC = frozenset(
    [
        "thee", "thou", "thy", "thine", "hath", "doth", "art", "shalt", "wilt", "dost", "hast", "ere", "nay", "yea",
        "tis", "let", "say", "said", "upon", "unto", "would", "could", "shall", "should", "must", "may", "might",
        "come", "came", "go", "went", "make", "made", "take", "took", "give", "gave", "know", "see", "well", "good",
        "lord", "sir", "madam", "like", "yet", "till", "thus", "whose",
    ]
)  # fmt: skip
#: Bands every level shares: the target word once in its sentence, three distractors of the same rank band.
CLOZE: dict[str, Band] = {"occurrences": (1, 1), "distractors_in_band": (3, 3)}
#: A model's sentence is used only when at least this share of its words occur in the corpus.
KNOWN_SHARE = 0.9
SUFFIXES = ("ing", "ed", "ly", "est", "er", "ness", "tion", "s")


def word_form(word: str) -> str:
    """The ending a distractor should share with the target (``ing``, ``ed``, ``ly``, …, or ``base``)."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith("ss"):
            return suffix
    return "base"


def words(sentence: str) -> list[str]:
    """The words of ``sentence`` in order (apostrophe forms such as ``know't`` are one word)."""
    return WORD.findall(sentence)


def occurrences(sentence: str, word: str) -> int:
    """How often ``word`` is a whole word of ``sentence`` (case-insensitive)."""
    return sum(w.lower() == word for w in words(sentence))


def split_sentences(text: str) -> list[str]:
    """Sentences of a play-like text: speeches (blocks after a ``Speaker:`` line) joined and split at . ? !"""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if lines and re.fullmatch(r"[A-Z][A-Za-z ]*:", lines[0]):
            lines = lines[1:]
        for sentence in SENTENCE_END.split(" ".join(lines)):
            sentence = sentence.strip()
            if sentence[:1].isupper() and sentence[-1:] in ".?!":
                out.append(sentence)
    return out


@dataclass
class Corpus:
    """Word counts, frequency ranks and sentences of a text; ``candidates``: the target words, by rank."""

    name: str
    sentences: list[str]
    counts: Counter
    rank: dict[str, int] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str, name: str) -> Corpus:
        from genlab.text.summarize.stopwords import ENGLISH

        tokens = words(text)
        counts = Counter(w.lower() for w in tokens)
        lower = Counter(w for w in tokens if w.islower())
        # competition ranking: 1 + the number of word types seen more often
        by_count = sorted(counts.values(), reverse=True)
        first = {}
        for i, c in enumerate(by_count):
            first.setdefault(c, i + 1)
        rank = {w: first[c] for w, c in counts.items()}
        candidates = sorted(
            (w for w, c in counts.items()
             if w.isalpha() and len(w) >= 3 and w not in ENGLISH and w not in ARCHAIC and lower[w] >= 0.6 * c),
            key=lambda w: (rank[w], w),
        )  # fmt: skip
        return cls(name, split_sentences(text), counts, rank, candidates)


@lru_cache(maxsize=1)
def shakespeare() -> Corpus:
    """The built-in tiny Shakespeare corpus, read once."""
    from genlab.text.datasets import SHIPPED

    return Corpus.from_text((Path(SHIPPED) / "tinyshakespeare.txt").read_text(encoding="utf-8"), CORPUS_NAME)


@register_topic
class VocabularyTopic(Topic):
    """Cloze items by the target word's frequency rank and the sentence's length."""

    name: ClassVar[str] = "vocabulary"
    levels: ClassVar[dict[int, dict[str, Band]]] = {
        1: {"rank": (1, 500), "sentence_words": (4, 10), **CLOZE},
        2: {"rank": (501, 1500), "sentence_words": (5, 12), **CLOZE},
        3: {"rank": (1501, 3000), "sentence_words": (6, 16), **CLOZE},
        4: {"rank": (3001, 6000), "sentence_words": (6, 20), **CLOZE},
        5: {"rank": (6001, None), "sentence_words": (8, 30), **CLOZE},
    }
    feature_help: ClassVar[dict[str, str]] = {
        "rank": "frequency rank", "sentence_words": "sentence words",
        "distractors_in_band": "distractors in the same rank band", "occurrences": "target word in the sentence",
    }  # fmt: skip

    def __init__(self, say: Phrases, sentences: list[str] | None = None, corpus: Corpus | None = None):
        super().__init__(say)
        self.corpus = corpus or shakespeare()
        self.model_sentences = list(sentences or [])
        self._index: dict[tuple[int, str], list[tuple[str, list[str]]]] = {}
        self._drawn_from_model: set[str] = set()

    def in_band(self, word: str, level: int) -> bool:
        low, high = self.levels[level]["rank"]
        rank = self.corpus.rank.get(word, 0)
        return rank >= low and (high is None or rank <= high)

    def usable(self, level: int, source: str) -> list[tuple[str, list[str]]]:
        """``[(word, sentences)]`` of ``level`` from the corpus or the model's sentences: each sentence holds
        the word exactly once and has a length in the level's band."""
        key = (level, source)
        if key not in self._index:
            low, high = self.levels[level]["sentence_words"]
            pool = self.corpus.sentences if source == "corpus" else self.model_sentences
            found: dict[str, list[str]] = {}
            wanted = {w for w in self.corpus.candidates if self.in_band(w, level)}
            for sentence in pool:
                ws = [w.lower() for w in words(sentence)]
                if not low <= len(ws) <= high:
                    continue
                if source == "model" and sum(w in self.corpus.counts for w in ws) < KNOWN_SHARE * len(ws):
                    continue  # the model misspells: "winder wind Juligh yondow" makes no question
                for w, c in Counter(ws).items():
                    if c == 1 and w in wanted and standalone(sentence, w):
                        found.setdefault(w, []).append(sentence)
            self._index[key] = sorted(found.items())
        return self._index[key]

    def draw(self, rng: random.Random, level: int) -> Exercise:
        fresh = [(w, s) for w, s in self.usable(level, "model") if w not in self._drawn_from_model]
        source = "model" if fresh else "corpus"
        word, sentences = rng.choice(fresh or self.usable(level, "corpus"))
        if fresh:
            self._drawn_from_model.add(word)
        sentence = rng.choice(sentences)
        distractors = self.distractors(rng, word, level, sentence)
        options = [word, *distractors]
        rng.shuffle(options)
        features = {
            "rank": self.corpus.rank[word], "count": self.corpus.counts[word],
            "sentence_words": len(words(sentence)), "occurrences": occurrences(sentence, word),
            "distractors_in_band": sum(self.in_band(d, level) for d in distractors),
            "same_form_distractors": sum(word_form(d) == word_form(word) for d in distractors),
        }  # fmt: skip
        steps = [self.say.say("step.meaning", sentence=sentence),
                 self.say.say("step.frequency", rank=features["rank"], corpus=self.corpus.name,
                              count=features["count"])]  # fmt: skip
        if source == "model":
            steps.append(self.say.say("source.model"))
        return Exercise(self.name, level, blank(sentence, word), word, sentence, steps=steps, features=features,
                        options=options, source=source, unique=word)  # fmt: skip

    def distractors(self, rng: random.Random, word: str, level: int, sentence: str) -> list[str]:
        """Three other words of the level's rank band, nearest the target's rank, of its form where possible."""
        present = {w.lower() for w in words(sentence)}
        pool = [w for w in self.corpus.candidates if w != word and w not in present and self.in_band(w, level)]
        rank = self.corpus.rank[word]
        same = sorted(
            (w for w in pool if word_form(w) == word_form(word)), key=lambda w: abs(self.corpus.rank[w] - rank)
        )
        near = same[:12] if len(same) >= 3 else sorted(pool, key=lambda w: abs(self.corpus.rank[w] - rank))[:12]
        return rng.sample(near, 3)

    def recheck(self, item: Exercise) -> str | None:
        if occurrences(item.expression, item.answer) != 1 or not standalone(item.expression, item.answer):
            return f"answer: '{item.answer}' is not in the sentence exactly once, as a word of its own"
        if item.question.count(BLANK) != 1 or fill(item.question, item.answer).lower() != item.expression.lower():
            return "answer: filling the blank does not give the sentence back"
        if len(set(item.options)) != 4 or item.answer not in item.options:
            return "answer: the choices are not four different words with the answer among them"
        if any(occurrences(item.expression, o) for o in item.options if o != item.answer):
            return "answer: a distractor also occurs in the sentence"
        return None

    def capacity_hint(self, level: int) -> str:
        words_here = len(self.usable(level, "corpus")) + len(self.usable(level, "model"))
        return f"level {level} has about {words_here} usable words in {self.corpus.name}; ask for fewer (--n)"


def standalone(sentence: str, word: str) -> bool:
    """True when ``word``'s first occurrence in ``sentence`` is a word of its own, not part of a hyphenated
    compound (``troth-plight``) or an elision (``'larums``): blanking it leaves a fair question."""
    for m in WORD.finditer(sentence):
        if m.group().lower() == word:
            before, after = sentence[m.start() - 1 : m.start()], sentence[m.end() : m.end() + 1]
            return before not in ("-", "'") and after not in ("-", "'")
    return False


def blank(sentence: str, word: str) -> str:
    """``sentence`` with the one whole-word occurrence of ``word`` replaced by a blank."""
    for m in WORD.finditer(sentence):
        if m.group().lower() == word:
            return sentence[: m.start()] + BLANK + sentence[m.end() :]
    return sentence


def fill(question: str, word: str) -> str:
    """The sentence back from a cloze question and its answer."""
    return question.replace(BLANK, word, 1)


def model_sentences(model, seed: int, max_new_tokens: int = 2000) -> list[str]:
    """Sentences a text model writes (``genlab generate``'s pipeline, from a line break, temperature 0.8)."""
    from genlab.core.pipeline import pipeline_for

    pipe = pipeline_for(model, "generate")(model)
    text = pipe(max_new_tokens=max_new_tokens, temperature=0.8, seed=seed)[0]
    return split_sentences(text)
