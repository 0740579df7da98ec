"""The FAQ + rules file: a YAML document with three sections (docs/dialogue.md has the full reference).

.. code-block:: yaml

    faq:                       # what the retrieval layer answers
      - question: How do I track my order?
        paraphrases: [Where is my parcel?, Has my order shipped yet?]
        answer: Open "My orders" and choose the order ...
    rules:                     # what the rule layer answers first, in file order
      - intent: introduce
        patterns: ['\\bmy name is (?P<name>\\w+)']     # a regex (case-insensitive), or a list of keywords
        responses: ["Nice to meet you, {name}!"]        # the first whose slots are all known is used
      - intent: human
        patterns: [[talk, human], [speak, agent]]       # keyword lists: every keyword must occur
        responses: ["I'll pass you to a colleague."]
        handoff: true
    settings:                  # all optional
      threshold: 0.3
      blocklist: [password]

:func:`load_faq` reads a file or a shipped example (``builtin:faq-en``, ``builtin:faq-zh``) into an
:class:`FAQ`. Malformed YAML is refused with its line number, a missing field with the entry's number and
line, an unknown key with the closest valid one.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from genlab.core.config import Config
from genlab.core.errors import BadInputError, ConfigError, closest, unknown_name
from genlab.text.dialogue.safety import blocklist_regex
from genlab.text.dialogue.terms import has_han, keyword_regex

SHIPPED = Path(__file__).resolve().parent.parent / "data"
#: Shipped example FAQs by name, and their held-out paraphrase test sets.
BUILTIN = {"builtin:faq-en": SHIPPED / "faq-en.yaml", "builtin:faq-zh": SHIPPED / "faq-zh.yaml"}
BUILTIN_TESTS = {"builtin:faq-en": SHIPPED / "faq-en-test.jsonl", "builtin:faq-zh": SHIPPED / "faq-zh-test.jsonl"}
#: Development paraphrases of the shipped FAQs, written apart from both the FAQ and its test set: for choosing
#: retrieval methods and weights without looking at the test set (benchmarks/dialogue.py).
BUILTIN_DEV = {"builtin:faq-en": SHIPPED / "faq-en-dev.jsonl", "builtin:faq-zh": SHIPPED / "faq-zh-dev.jsonl"}
SECTIONS = ("faq", "rules", "settings")

#: Replies of the don't-know, did-you-mean and refusal paths per language, unless the file sets its own.
MESSAGES = {
    "en": {
        "fallback": "Sorry, I don't know the answer to that.",
        "did_you_mean": "Did you mean:",
        "refusal": "Sorry, I can't help with that.",
    },
    "zh": {
        "fallback": "抱歉，这个问题我还不会回答。",
        "did_you_mean": "您是不是想问：",
        "refusal": "抱歉，这个问题我无法回答。",
    },
}


class Settings(Config):
    """The ``settings:`` section: retrieval threshold, safety and reply texts."""

    threshold: float | None = Field(
        None, ge=0, le=1, description="retrieval confidence below which the FAQ answer is not given "
        "(default: the retriever's own, chosen on the shipped FAQs' paraphrases; see docs/benchmarks/dialogue.md)",
    )  # fmt: skip
    retriever: Literal["bm25", "embedding", "hybrid"] = Field("bm25", description="how questions are matched")
    blocklist: list[str] = Field(
        [], description="words, phrases or regexes: a message or reply containing one gets the refusal"
    )
    max_reply_chars: int = Field(600, ge=20, description="longer replies are cut at a word boundary with '…'")
    language: Literal["auto", "en", "zh"] = Field("auto", description="language of the built-in replies")
    suggestions: int = Field(3, ge=0, le=10, description="questions offered when no answer is confident")
    context_turns: int = Field(6, ge=1, description="turns of history the generative model layer sees")
    fallback: str | None = Field(None, description="reply when nothing matches (default per language)")
    did_you_mean: str | None = Field(None, description="line before the suggestions (default per language)")
    refusal: str | None = Field(None, description="reply to a blocked message or reply (default per language)")


class _EntryFields(BaseModel, extra="forbid"):
    question: str = Field(min_length=1)
    paraphrases: list[str] = []
    answer: str = Field(min_length=1)


class _RuleFields(BaseModel, extra="forbid"):
    intent: str = Field(min_length=1)
    patterns: list[str | list[str]] = Field(min_length=1)
    responses: list[str] = Field(min_length=1)
    handoff: bool = False

    @field_validator("responses", mode="before")
    @classmethod
    def _one_response(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True)
class FAQEntry:
    """One question with its paraphrases and answer; ``line`` is where it starts in the file."""

    question: str
    answer: str
    paraphrases: tuple[str, ...] = ()
    line: int = 0

    @property
    def variants(self) -> tuple[str, ...]:
        """The question and its paraphrases: every wording the retrieval layer indexes."""
        return (self.question, *self.paraphrases)


@dataclass(frozen=True)
class Pattern:
    """A rule pattern: a case-insensitive regex, or a list of keywords that must all occur as whole words."""

    source: str | tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...]

    def match(self, text: str) -> dict[str, str] | None:
        """The named groups it captured (slots) when it matches ``text``, else None."""
        found = [r.search(text) for r in self.regexes]
        if not all(found):
            return None
        return {k: v.strip() for m in found for k, v in m.groupdict().items() if v and v.strip()}


@dataclass(frozen=True)
class Rule:
    """An intent: its patterns, its response templates (``{slot}`` fields) and whether it hands off to a person."""

    intent: str
    patterns: tuple[Pattern, ...]
    responses: tuple[str, ...]
    handoff: bool = False
    line: int = 0

    def match(self, text: str) -> dict[str, str] | None:
        """Slots captured by the first matching pattern, or None when no pattern matches."""
        for pattern in self.patterns:
            slots = pattern.match(text)
            if slots is not None:
                return slots
        return None


@dataclass
class FAQ:
    """A loaded FAQ + rules file."""

    entries: list[FAQEntry]
    rules: list[Rule] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    source: str = "<memory>"

    @property
    def language(self) -> str:
        """``settings.language``, or ``zh`` when most questions contain Chinese characters (``auto``)."""
        if self.settings.language != "auto":
            return self.settings.language
        han = sum(has_han(e.question) for e in self.entries) + sum(has_han(r.responses[0]) for r in self.rules)
        return "zh" if han * 2 > len(self.entries) + len(self.rules) else "en"

    def message(self, key: str) -> str:
        """The reply text ``fallback``, ``did_you_mean`` or ``refusal``: the file's own, else the language's."""
        return getattr(self.settings, key) or MESSAGES[self.language][key]

    def index_of(self, question: str) -> int:
        """Position of the entry whose question is ``question`` (compared case- and space-insensitively)."""
        wanted = " ".join(question.lower().split())
        for i, entry in enumerate(self.entries):
            if " ".join(entry.question.lower().split()) == wanted:
                return i
        guess = closest(question, [e.question for e in self.entries])
        raise BadInputError(
            f"{self.source} has no question {question!r}", f"did you mean {guess!r}?" if guess else None
        )


# --------------------------------------------------------------------------- YAML with line numbers


class _LineDict(dict):
    """A mapping read from YAML that remembers its (1-based) line."""

    line = 0


class _Loader(yaml.SafeLoader):
    """Safe YAML whose mappings know their line and refuse duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or key in out:
            problem = f"duplicate key {key!r}" if key in out else "a key must be a plain value"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``; a syntax error is a :class:`BadInputError` naming its line and column."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown line"
        problem = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        hint = (
            "give each key once per entry"
            if "duplicate key" in problem
            else "check the indentation and quoting there: a value with ': ', ' #' or '?', or starting with a "
            "quote, '{', '[', '*' or '&', must be quoted"
        )
        message = f"{source}: malformed YAML at {where}: {problem}" + (f" ({context})" if context else "")
        raise BadInputError(message, hint) from None


# --------------------------------------------------------------------------- building the FAQ


def _where(source: str, node: Any) -> str:
    line = getattr(node, "line", 0)
    return f"{source}, line {line}" if line else source


def _fields(cls: type[BaseModel], node: Any, what: str, source: str) -> BaseModel:
    """Validate one entry or rule (a YAML mapping) with a message naming ``what`` and its line."""
    if not isinstance(node, dict):
        raise BadInputError(f"{_where(source, node)}: {what} must be a mapping of keys, got {node!r}")
    try:
        return cls(**node)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        valid = ", ".join(cls.model_fields)
        if first["type"] == "missing":
            raise BadInputError(f"{_where(source, node)}: {what} has no '{key}'", f"its keys are {valid}") from None
        if first["type"] == "extra_forbidden":
            guess = closest(key, cls.model_fields)
            hint = (f"did you mean '{guess}'? " if guess else "") + f"valid keys: {valid}"
            raise BadInputError(f"{_where(source, node)}: {what} has an unknown key '{key}'", hint) from None
        raise BadInputError(
            f"{_where(source, node)}: {what}: '{key}' {first['msg'].lower()}", f"got {first.get('input')!r}"
        ) from None


def _pattern(raw: str | list[str], where: str) -> Pattern:
    if isinstance(raw, list):
        words = tuple(w.strip() for w in raw if w.strip())
        if not words:
            raise BadInputError(f"{where}: an empty keyword list matches nothing", "give at least one keyword")
        return Pattern(words, tuple(keyword_regex(w) for w in words))
    try:
        return Pattern(raw, (re.compile(raw, re.IGNORECASE),))
    except re.error as e:
        raise BadInputError(f"{where}: the pattern {raw!r} is not a valid regex: {e}", "escape it or fix it") from None


def template_slots(template: str, where: str = "") -> set[str]:
    """The ``{slot}`` names of a response template; a malformed template is a :class:`BadInputError`."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise BadInputError(
            f"{where}: bad response template {template!r}: {e}", "write a literal brace as {{ or }}"
        ) from None
    bad = [f for f in fields if not f.isidentifier()]
    if bad:
        raise BadInputError(f"{where}: slot {{{bad[0]}}} in {template!r} is not a name", "use slots like {name}")
    return set(fields)


def _rule(node: Any, number: int, source: str) -> Rule:
    what = f"rule {number}"
    fields = _fields(_RuleFields, node, what, source)
    where = f"{_where(source, node)}: {what} ({fields.intent})"
    patterns = tuple(_pattern(p, where) for p in fields.patterns)
    captured = set.intersection(*(set(r.groupindex) for p in patterns for r in p.regexes))
    if all(template_slots(t, where) - captured for t in fields.responses):
        raise BadInputError(
            f"{where}: every response needs a slot that not every pattern captures",
            "add a response without slots (the first fillable response is used), or a named group (?P<slot>...)",
        )
    return Rule(fields.intent, patterns, tuple(fields.responses), fields.handoff, getattr(node, "line", 0))


def _entry(node: Any, number: int, source: str) -> FAQEntry:
    fields = _fields(_EntryFields, node, f"faq entry {number}", source)
    if not fields.answer.strip() or not fields.question.strip():
        raise BadInputError(f"{_where(source, node)}: faq entry {number} has an empty question or answer")
    paraphrases = tuple(p.strip() for p in fields.paraphrases if p.strip())
    return FAQEntry(fields.question.strip(), fields.answer.strip(), paraphrases, getattr(node, "line", 0))


def _section(doc: dict, name: str, source: str) -> list:
    value = doc.get(name) or []
    if not isinstance(value, list):
        raise BadInputError(
            f"{_where(source, doc)}: '{name}' must be a list", f"write each item as '- ...' under {name}:"
        )
    return value


def faq_from_dict(doc: Any, source: str = "<memory>") -> FAQ:
    """Build an :class:`FAQ` from the parsed YAML document ``doc`` (a mapping with faq/rules/settings)."""
    if doc is None:
        raise BadInputError(f"{source} is empty", "write a 'faq:' list of question/answer entries")
    if not isinstance(doc, dict):
        raise BadInputError(
            f"{source}: the top level must be a mapping", "start with 'faq:' (and 'rules:', 'settings:')"
        )
    for key in doc:
        if key not in SECTIONS:
            guess = closest(str(key), SECTIONS)
            hint = (f"did you mean '{guess}'? " if guess else "") + "sections: " + ", ".join(SECTIONS)
            raise BadInputError(f"{_where(source, doc)}: unknown section '{key}'", hint)
    entries = [_entry(node, i, source) for i, node in enumerate(_section(doc, "faq", source), 1)]
    rules = [_rule(node, i, source) for i, node in enumerate(_section(doc, "rules", source), 1)]
    if not entries and not rules:
        raise BadInputError(f"{source} has no FAQ entries and no rules", "add a 'faq:' list of question/answer pairs")
    settings_node = doc.get("settings") or {}
    try:
        settings = Settings.build(dict(settings_node) if isinstance(settings_node, dict) else settings_node, "settings")
    except ConfigError as e:
        raise ConfigError(f"{_where(source, settings_node)}: {e.message}", e.hint) from None
    except TypeError:
        raise BadInputError(
            f"{source}: 'settings' must be a mapping", "write key: value pairs under settings:"
        ) from None
    for entry in settings.blocklist:
        blocklist_regex(entry, f"{source}: settings.blocklist")
    return FAQ(entries, rules, settings, source)


def load_faq(path: str | Path) -> FAQ:
    """Read an FAQ + rules YAML file, or a shipped example by name (``builtin:faq-en``, ``builtin:faq-zh``)."""
    name = str(path)
    if name.startswith("builtin:"):
        if name not in BUILTIN:
            raise unknown_name("built-in FAQ", name, BUILTIN)
        path = BUILTIN[name]
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"FAQ file not found: {path}", "give a YAML file, or builtin:faq-en / builtin:faq-zh")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text", "save the FAQ as UTF-8 YAML") from None
    return faq_from_dict(parse_yaml(text, str(path)), name if name.startswith("builtin:") else str(path))
