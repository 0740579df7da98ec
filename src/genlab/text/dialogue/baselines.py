"""Replies made without a trained generator, the baselines a dialogue model is scored beside.

* :class:`NearestContext` (retrieval): the response that followed the training context closest to the query by
  Okapi BM25 (Robertson & Zaragoza 2009; :mod:`genlab.text.dialogue.bm25`, over the index terms of
  :func:`genlab.text.dialogue.terms.terms`) — what a retrieval chat bot over the training conversations says.
* :func:`rule_replies` (rules): the rule layer of an FAQ file (``builtin:faq-en`` by default: greetings, thanks,
  goodbyes, hand-off) answering the last turn, its fallback message where no rule matches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from genlab.core.errors import BadInputError
from genlab.text.dialogue.bm25 import BM25Index
from genlab.text.dialogue.dailydialog import SEPARATOR
from genlab.text.dialogue.terms import terms
from genlab.text.seq2seq.data import Pair


class NearestContext:
    """Retrieval baseline: ``reply(context)`` is the training response whose context scores highest by BM25.

    Ties go to the earlier pair; a context sharing no index term with any training context gets the most
    frequent training response.
    """

    def __init__(self, pairs: Sequence[Pair]):
        if not pairs:
            raise BadInputError("the retrieval baseline needs training pairs", "train on a non-empty dataset")
        self.responses = [p.target for p in pairs]
        self.index = BM25Index([terms(p.source) for p in pairs])
        self.default = Counter(self.responses).most_common(1)[0][0]

    def __call__(self, context: str) -> str:
        """The response of the nearest training context."""
        query = terms(context)
        scores = self.index.scores(query) if query else np.zeros(0)
        if not scores.size or scores.max() <= 0:
            return self.default
        return self.responses[int(np.argmax(scores))]


def last_turn(context: str) -> str:
    """The most recent turn of a context joined by :data:`~genlab.text.dialogue.dailydialog.SEPARATOR`."""
    return context.rsplit(SEPARATOR, 1)[-1].strip()


def rule_replies(contexts: Sequence[str], faq: str = "builtin:faq-en") -> list[str]:
    """The replies of the rule layer of ``faq`` (its FAQ entries left out) to the last turn of each context,
    each answered in a new conversation: a rule's response, or the fallback message."""
    from genlab.text.dialogue.faq import load_faq
    from genlab.text.dialogue.router import ChatBot

    bot = ChatBot(replace(load_faq(faq), entries=[]))
    out = []
    for context in contexts:
        bot.reset()
        out.append(bot.reply(last_turn(context)).text)
    return out
