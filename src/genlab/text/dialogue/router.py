"""The dialogue router: rules first, then FAQ retrieval above a confidence threshold, then a generative model,
then "did you mean" suggestions — with the conversation's state and the safety checks around every turn.

A message goes through, in order:

1. the **blocklist** (``settings.blocklist``): a message containing a blocked word gets the refusal and is not
   kept in the history;
2. the **rule layer**: the first rule (file order) with a matching pattern answers with its first response
   template whose ``{slots}`` are all known — from the pattern's named groups or remembered from earlier
   messages (slots last until :meth:`ChatBot.reset`); a rule with ``handoff: true`` marks the reply as a
   hand-off to a person;
3. the **retrieval layer**: the best FAQ entry, if its confidence reaches the threshold;
4. the **model layer**, if a model is given: any callable ``model(history) -> str`` that receives the last
   ``settings.context_turns`` turns (the current message last) — a trained seq2seq dialogue model plugs in here;
5. otherwise the **fallback**: the don't-know reply followed by up to ``settings.suggestions`` questions the
   message is closest to ("did you mean").

Every reply is checked against the blocklist (a blocked reply becomes the refusal) and cut to
``settings.max_reply_chars`` at a word boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from genlab.text.dialogue.faq import FAQ, Rule, template_slots
from genlab.text.dialogue.retrieval import Hit, Retriever, build_retriever
from genlab.text.dialogue.safety import Blocklist, truncate

Layer = Literal["rule", "faq", "model", "fallback", "blocked"]


@dataclass(frozen=True)
class Turn:
    """One message of the conversation: who said it (``user`` or ``bot``) and what."""

    role: Literal["user", "bot"]
    text: str


#: The generative layer: a callable that reads the recent turns (the user's message last) and returns a reply.
DialogueModel = Callable[[list[Turn]], str]


@dataclass(frozen=True)
class Reply:
    """A bot reply and how it was made: the ``layer``, the retrieval ``confidence`` (FAQ and below-threshold
    replies), the rule's ``intent``, the FAQ ``entry`` index, the ``suggestions`` offered and ``handoff``."""

    text: str
    layer: Layer
    confidence: float | None = None
    intent: str | None = None
    entry: int | None = None
    suggestions: tuple[str, ...] = ()
    handoff: bool = False

    @property
    def tag(self) -> str:
        """``[rule]``, ``[faq 0.82]``, ``[model]``, ``[fallback]`` or ``[blocked]``."""
        return f"[faq {self.confidence:.2f}]" if self.layer == "faq" else f"[{self.layer}]"


@dataclass
class ConversationState:
    """What the bot remembers: the turns so far and the slots (``name``, …) users have given."""

    history: list[Turn] = field(default_factory=list)
    slots: dict[str, str] = field(default_factory=dict)

    def window(self, n_turns: int) -> list[Turn]:
        """The last ``n_turns`` turns (user and bot turns both count)."""
        return self.history[-n_turns:]

    def clear(self) -> None:
        """Forget every turn and slot."""
        self.history.clear()
        self.slots.clear()


class ChatBot:
    """A rule + retrieval (+ optional model) bot over one :class:`FAQ`.

    ``retriever``: a name (``bm25``, ``embedding``, ``hybrid``; default the file's ``settings.retriever``) or a
    built :class:`Retriever`; ``threshold``: the retrieval confidence needed to answer (default the file's,
    else the retriever's own); ``model``: the generative layer, called below the threshold.
    """

    def __init__(
        self,
        faq: FAQ,
        retriever: str | Retriever | None = None,
        model: DialogueModel | None = None,
        threshold: float | None = None,
    ):
        self.faq, self.model = faq, model
        self.settings = faq.settings
        if isinstance(retriever, Retriever):
            self.retriever: Retriever | None = retriever
        elif faq.entries:
            self.retriever = build_retriever(retriever or self.settings.retriever, faq.entries)
        else:  # rules (and a model) only: nothing to retrieve from
            self.retriever = None
        default = self.retriever.default_threshold if self.retriever else 1.0
        self.threshold = next(t for t in (threshold, self.settings.threshold, default) if t is not None)
        self.blocklist = Blocklist(self.settings.blocklist)
        self.state = ConversationState()

    def reset(self) -> None:
        """Start a new conversation: history and slots are forgotten."""
        self.state.clear()

    def reply(self, message: str) -> Reply:
        """Answer one user message and record the exchange in the conversation's state."""
        message = message.strip()
        if self.blocklist.hit(message):
            return Reply(self.faq.message("refusal"), "blocked")
        self.state.history.append(Turn("user", message))
        reply = self._safe(self._answer(message))
        self.state.history.append(Turn("bot", reply.text))
        return reply

    def _answer(self, message: str) -> Reply:
        for rule in self.faq.rules:
            slots = rule.match(message)
            if slots is not None:
                self.state.slots.update(slots)
                return Reply(self._fill(rule), "rule", intent=rule.intent, handoff=rule.handoff)
        hits = self.retriever.search(message, max(1, self.settings.suggestions)) if self.retriever and message else []
        best = hits[0].score if hits else 0.0
        if hits and best >= self.threshold:
            return Reply(self.faq.entries[hits[0].index].answer, "faq", best, entry=hits[0].index)
        if self.model is not None:
            text = self.model(self.state.window(self.settings.context_turns)).strip()
            if text:
                return Reply(text, "model", best if self.retriever else None)
        return self._fallback(hits, best)

    def _fill(self, rule: Rule) -> str:
        """The rule's first response whose slots are all known, filled in (else the one missing fewest)."""
        known = self.state.slots

        def missing(template: str) -> int:
            return len(template_slots(template) - known.keys())

        template = min(rule.responses, key=missing)  # min keeps the first of equals: file order decides
        return template.format_map({s: known.get(s, "") for s in template_slots(template)})

    def _fallback(self, hits: list[Hit], best: float) -> Reply:
        suggestions = tuple(h.question for h in hits[: self.settings.suggestions])
        lines = [self.faq.message("fallback")]
        if suggestions:
            lines += [self.faq.message("did_you_mean"), *(f"- {q}" for q in suggestions)]
        return Reply("\n".join(lines), "fallback", best if self.retriever else None, suggestions=suggestions)

    def _safe(self, reply: Reply) -> Reply:
        """The refusal when the reply contains a blocked word, else the reply cut to the length limit."""
        if self.blocklist.hit(reply.text):
            return Reply(self.faq.message("refusal"), "blocked")
        text = truncate(reply.text, self.settings.max_reply_chars)
        return reply if text == reply.text else replace(reply, text=text)
