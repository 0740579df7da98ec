"""Safety of the dialogue layers: a blocklist checked on every message and every reply, and a reply length cap."""

from __future__ import annotations

import re
from collections.abc import Sequence

from genlab.core.errors import BadInputError
from genlab.text.dialogue.terms import keyword_regex

_PLAIN = re.compile(r"[\w\s'-]+")
ELLIPSIS = "…"


def blocklist_regex(entry: str, where: str = "blocklist") -> re.Pattern[str]:
    """The regex of one blocklist entry: a plain word or phrase (letters, digits, spaces, ``'``, ``-``) matches
    as whole words, case-insensitively; anything else is a case-insensitive regex."""
    if not entry.strip():
        raise BadInputError(f"{where}: an empty entry would block everything", "remove it")
    if _PLAIN.fullmatch(entry):
        return keyword_regex(entry)
    try:
        return re.compile(entry, re.IGNORECASE)
    except re.error as e:
        raise BadInputError(
            f"{where}: {entry!r} is not a valid regex: {e}", "escape special characters with \\"
        ) from None


class Blocklist:
    """Words, phrases and regexes no message or reply may contain."""

    def __init__(self, entries: Sequence[str]):
        self.entries = list(entries)
        self.regexes = [blocklist_regex(e) for e in entries]

    def hit(self, text: str) -> str | None:
        """The entry that ``text`` contains, or None."""
        for entry, regex in zip(self.entries, self.regexes, strict=True):
            if regex.search(text):
                return entry
        return None


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters at a word boundary, ending with '…'.

    The cut falls on the last space before the limit when there is one in the second half of the kept text
    (Chinese has no spaces: it is cut at the limit); trailing punctuation before the '…' is dropped.
    """
    if len(text) <= max_chars:
        return text
    limit = max_chars - len(ELLIPSIS)
    kept = text[:limit]
    if not text[limit].isspace():  # the cut falls inside a word: go back to the space before it
        space = max(kept.rfind(" "), kept.rfind("\n"))
        if space > len(kept) // 2:
            kept = kept[:space]
    return kept.rstrip(" \t\n,;:.!?，。；：！？、") + ELLIPSIS
