"""A :class:`~.sheet.Sheet` as a markdown worksheet, as plain text, or as a JSON record of items and features."""

from __future__ import annotations

import json
import re
from typing import Any

from genlab.text.exercises.language import Phrases
from genlab.text.exercises.sheet import TOPICS, Exercise, Sheet

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    """``text`` with markdown's special characters escaped (a cloze blank stays a row of underscores)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _question(item: Exercise, escape: Any) -> str:
    prompt = f"{item.prompt} " if item.prompt else ""
    return prompt + escape(item.question)


def _choices(item: Exercise, escape: Any) -> str:
    return "    ".join(f"({letter}) {escape(word)}" for letter, word in zip("ABCD", item.options, strict=False))


def markdown(sheet: Sheet, answers: bool = True) -> str:
    """The worksheet: title, name line, instructions, numbered questions, then the answer key with worked steps."""
    say = Phrases(sheet.lang)
    lines = [
        f"# {say.say('title', topic=say.topic(sheet.topic), level=sheet.level)}", "",
        say.say("name_line"), "",
        f"*{say.say('about', n=len(sheet.items), seed=sheet.seed)}*", "",
        say.say(f"instructions.{sheet.topic}"), "",
    ]  # fmt: skip
    for i, item in enumerate(sheet.items, 1):
        lines.append(f"{i}. {_question(item, md_escape)}")
        if item.options:
            lines += ["", f"   {_choices(item, md_escape)}", ""]
    if answers:
        lines += ["", f"## {say.say('answer_key')}", ""]
        for i, item in enumerate(sheet.items, 1):
            lines.append(f"{i}. **{md_escape(item.answer_text())}**")
            lines += [f"   - {md_escape(step)}" for step in item.steps]
    return "\n".join(lines).rstrip() + "\n"


def plain_text(sheet: Sheet, answers: bool = True) -> str:
    """The worksheet as plain text (what a terminal shows)."""
    say = Phrases(sheet.lang)
    title = say.say("title", topic=say.topic(sheet.topic), level=sheet.level)
    about = say.say("about", n=len(sheet.items), seed=sheet.seed)
    lines = [title, "=" * min(len(title) * 2, 60), say.say("name_line"), about, "",
             say.say(f"instructions.{sheet.topic}"), ""]  # fmt: skip
    width = len(str(len(sheet.items)))
    for i, item in enumerate(sheet.items, 1):
        lines.append(f"{i:>{width}}. {_question(item, str)}")
        if item.options:
            lines.append(f"{' ' * (width + 2)}{_choices(item, str)}")
    if answers:
        lines += ["", say.say("answer_key"), "-" * 20]
        for i, item in enumerate(sheet.items, 1):
            lines.append(f"{i:>{width}}. {item.answer_text()}")
            lines += [f"{' ' * (width + 4)}{step}" for step in item.steps]
    return "\n".join(lines).rstrip() + "\n"


def record(sheet: Sheet, answers: bool = True) -> dict[str, Any]:
    """JSON-ready: the sheet's settings, its level's bands, how many candidates were redrawn, and every item
    with its measured features (answers and steps left out when ``answers`` is false)."""
    bands = TOPICS[sheet.topic].levels[sheet.level]
    items = []
    for item in sheet.items:
        d = item.to_dict()
        if not answers:
            for key in ("answer", "answer_text", "steps"):
                d.pop(key, None)
        items.append(d)
    return {
        "topic": sheet.topic, "level": sheet.level, "lang": sheet.lang, "seed": sheet.seed, "n": len(sheet.items),
        "level_bands": {k: sorted(v) if isinstance(v, frozenset) else list(v) for k, v in bands.items()},
        "tries": sheet.tries, "rejected": sheet.rejected, "items": items,
    }  # fmt: skip


def to_json(sheet: Sheet, answers: bool = True) -> str:
    return json.dumps(record(sheet, answers), ensure_ascii=False, indent=2)
