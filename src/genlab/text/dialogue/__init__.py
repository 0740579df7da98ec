"""Dialogue: a rule + FAQ-retrieval bot, generative dialogue models behind it (``genlab chat``; docs/dialogue.md).

>>> from genlab.text.dialogue import ChatBot, load_faq
>>> bot = ChatBot(load_faq("builtin:faq-en"))
>>> bot.reply("where is my parcel?").layer
'faq'

Modules: :mod:`.faq`, :mod:`.retrieval`, :mod:`.bm25`, :mod:`.router`, :mod:`.safety` (the bot),
:mod:`.dailydialog` (the DailyDialog corpus), :mod:`.task` (``genlab train dialogue``), :mod:`.respond`
(``genlab respond``, the model layer of ``genlab chat --model RUN``), :mod:`.generation` (``genlab eval``),
:mod:`.baselines` (retrieval and rule replies), :mod:`.evaluation` (FAQ retrieval scores).
"""

from __future__ import annotations

from genlab.core.errors import BadInputError
from genlab.core.registry import CHATBOTS
from genlab.text.dialogue import task  # noqa: F401  (registers the dialogue task, its pipeline and metrics)
from genlab.text.dialogue.dailydialog import Dialogue, join_turns, load_dailydialog
from genlab.text.dialogue.evaluation import faq_retrieval_scores, load_test_pairs
from genlab.text.dialogue.faq import BUILTIN, FAQ, FAQEntry, Rule, Settings, load_faq
from genlab.text.dialogue.respond import ModelReplier, RespondPipeline, chat_model
from genlab.text.dialogue.retrieval import RETRIEVERS, Hit, Retriever, build_retriever, embedding_available
from genlab.text.dialogue.router import ChatBot, ConversationState, DialogueModel, Reply, Turn


@CHATBOTS.register("text/faq")
def open_faq_bot(
    faq: str | None = None, retriever: str | None = None, threshold: float | None = None, model: str | None = None
) -> ChatBot:
    """The chat bot of ``genlab chat``: the rules and FAQ of ``faq`` (a file, ``builtin:faq-en`` or
    ``builtin:faq-zh``), then the dialogue model of the run ``model`` below the retrieval threshold. Either may be
    left out (rules and FAQ alone, or the model alone), not both."""
    if faq is None and model is None:
        raise BadInputError("nothing to chat with", "give --faq FILE (or builtin:faq-en), --model RUN, or both")
    replier = chat_model(model) if model is not None else None
    return ChatBot(load_faq(faq) if faq is not None else FAQ([], source="(no FAQ)"), retriever, replier, threshold)


__all__ = [
    "BUILTIN",
    "FAQ",
    "Dialogue",
    "ModelReplier",
    "RespondPipeline",
    "chat_model",
    "join_turns",
    "load_dailydialog",
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
