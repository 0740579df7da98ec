"""``genlab chat --faq FAQ [--model RUN]``: talk to the rule + FAQ-retrieval bot, with a trained dialogue model
answering below the retrieval threshold (docs/dialogue.md); ``--model RUN`` alone chats with the model.

Interactive: ``you> `` prompts, ``bot> `` replies, ``/reset`` forgets the conversation, ``/quit`` (or end of input)
ends it. ``--once MESSAGE`` answers one message and exits; ``--explain`` puts the layer that answered before each
reply: ``[rule]``, ``[faq 0.82]``, ``[model]``, ``[fallback]``, ``[blocked]``. The bot comes from the ``CHATBOTS``
registry (``text/faq``), which also loads the run: this module imports no modality.
"""

from __future__ import annotations

import click

PROMPT, BOT = "you> ", "bot> "
COMMANDS = "/reset clears the conversation, /quit ends it"


def _render(reply, explain: bool, indent: str = "") -> str:
    """The reply's lines, the first prefixed with its layer tag when ``explain``, the others indented."""
    first, *rest = reply.text.splitlines() or [""]
    head = f"{reply.tag} {first}" if explain else first
    return "\n".join([head, *(indent + line for line in rest)])


def _loop(bot, explain: bool) -> None:
    """Read messages until ``/quit`` or end of input."""
    indent = " " * len(BOT)
    while True:
        try:
            message = input(PROMPT).strip()
        except EOFError:
            click.echo()
            return
        if not message:
            continue
        if message in ("/quit", "/exit"):
            return
        if message == "/reset":
            bot.reset()
            click.echo(f"{BOT}(conversation cleared)")
        elif message.startswith("/") and " " not in message:
            click.echo(f"{BOT}(unknown command {message}: {COMMANDS})")
        else:
            click.echo(BOT + _render(bot.reply(message), explain, indent))


def chat(
    faq: str | None, once: str | None, explain: bool, retriever: str | None, threshold: float | None, model: str | None
):
    """Build the registered ``text/faq`` chat bot over ``faq`` and/or the dialogue model of the run ``model``, and
    answer ``once`` or chat interactively."""
    from genlab.core.registry import CHATBOTS

    bot = CHATBOTS.get("text/faq")(faq, retriever=retriever, threshold=threshold, model=model)
    if once is not None:
        click.echo(_render(bot.reply(once), explain))
        return
    layers = [f"{faq} ({len(bot.faq.entries)} questions, {len(bot.faq.rules)} rules)"] if faq is not None else []
    layers += [f"model {model}"] if model is not None else []
    click.echo(f"genlab chat: {' + '.join(layers)}. {COMMANDS}.")
    _loop(bot, explain)


class ChatCommand(click.Command):
    """``genlab chat``: the rule + FAQ-retrieval bot."""

    def __init__(self):
        options = [
            click.Option(
                ["--faq"],
                default=None,
                help="FAQ + rules YAML file, or builtin:faq-en / builtin:faq-zh (optional with --model)",
            ),
            click.Option(["--once"], default=None, help="answer this one message and exit"),
            click.Option(["--explain"], is_flag=True, help="prefix each reply with the layer that made it"),
            click.Option(
                ["--retriever"],
                type=click.Choice(["bm25", "embedding", "hybrid"]),
                default=None,
                help="how questions are matched (default: the file's settings.retriever, else bm25)",
            ),
            click.Option(
                ["--threshold"],
                type=click.FloatRange(0.0, 1.0),
                default=None,
                help="retrieval confidence needed to answer from the FAQ (default: the file's, else the retriever's)",
            ),
            click.Option(
                ["--model", "-m"],
                default=None,
                help="a run of `genlab train dialogue`: it answers what the rules and the FAQ do not",
            ),
        ]
        super().__init__(
            "chat",
            params=options,
            callback=chat,
            help="Chat with a rule + FAQ-retrieval bot over an FAQ file, a trained dialogue model (--model RUN) "
            "answering below the retrieval threshold, or with the model alone: interactive (`/reset` clears the "
            "conversation, `/quit` ends it), or one answer with --once MESSAGE; --explain shows the layer "
            "that answered each message.",
            short_help="chat with rules + FAQ retrieval + a dialogue model (interactive, or --once MESSAGE)",
        )
