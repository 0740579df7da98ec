"""Dialogue: a rule + FAQ-retrieval bot with a slot for a generative model (``genlab chat``; docs/dialogue.md).

>>> from genlab.text.dialogue import ChatBot, load_faq
>>> bot = ChatBot(load_faq("builtin:faq-en"))
>>> bot.reply("where is my parcel?").layer
'faq'
"""

from __future__ import annotations

from genlab.core.registry import CHATBOTS
from genlab.text.dialogue.evaluation import faq_retrieval_scores, load_test_pairs
from genlab.text.dialogue.faq import BUILTIN, FAQ, FAQEntry, Rule, Settings, load_faq
from genlab.text.dialogue.retrieval import RETRIEVERS, Hit, Retriever, build_retriever, embedding_available
from genlab.text.dialogue.router import ChatBot, ConversationState, DialogueModel, Reply, Turn


@CHATBOTS.register("text/faq")
def open_faq_bot(faq: str, retriever: str | None = None, threshold: float | None = None) -> ChatBot:
    """The rule + FAQ-retrieval bot over the FAQ file (or ``builtin:faq-en`` / ``builtin:faq-zh``)."""
    return ChatBot(load_faq(faq), retriever=retriever, threshold=threshold)


__all__ = [
    "BUILTIN",
    "FAQ",
    "RETRIEVERS",
    "ChatBot",
    "ConversationState",
    "DialogueModel",
    "FAQEntry",
    "Hit",
    "Reply",
    "Retriever",
    "Rule",
    "Settings",
    "Turn",
    "build_retriever",
    "open_faq_bot",
    "embedding_available",
    "faq_retrieval_scores",
    "load_faq",
    "load_test_pairs",
]
