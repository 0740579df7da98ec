"""Replies of a trained dialogue model: ``genlab respond RUN "message"``, ``genlab.load(RUN)``, the chat's model layer.

    pipe = genlab.load("runs/dialogue/dd")       # a run of `genlab train dialogue`
    pipe(["Hi, how are you?"])                   # the reply (a string)

A conversation (its turns, oldest first) becomes the model's source the way the training contexts were made: the
last ``context_turns`` turns recorded with the model, joined by ``" | "``
(:func:`~genlab.text.dialogue.dailydialog.join_turns`); a context longer than the model's ``max_source_length``
keeps its latest tokens. Replies are decoded as :data:`CHAT_DECODING` says unless told otherwise: beam search of
width 4, no trigram repeated (which keeps beam search from looping on "I'm not sure. I'm not sure."), at most 40
tokens. :class:`ModelReplier` is the :data:`~genlab.text.dialogue.router.DialogueModel` the chat bot calls below
its retrieval threshold (``genlab chat --model RUN``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.pipeline import Pipeline, register_pipeline
from genlab.text.dialogue.dailydialog import CONTEXT_TURNS, join_turns
from genlab.text.dialogue.router import Turn
from genlab.text.pipelines import TextOutput
from genlab.text.seq2seq.pipelines import DecodingOptions

TASK = "dialogue"
#: How the chat and ``genlab eval`` decode replies (the options of :meth:`TransformerSeq2Seq.generate_ids`).
CHAT_DECODING: dict[str, Any] = {"num_beams": 4, "no_repeat_ngram": 3, "length_penalty": 1.0, "max_new_tokens": 40}
TRAIN_HINT = "train one: genlab train dialogue --model transformer-seq2seq --data dailydialog --data-dir DIR"


class RespondRequest(DecodingOptions):
    """Options of ``genlab respond``."""

    message: str = Field(
        "", description="the message to reply to (the latest turn)", json_schema_extra={"positional": True}
    )
    input: Path | None = Field(
        None,
        description="a text file of the conversation so far, one turn a line, oldest first (MESSAGE follows)",
        json_schema_extra={"file": "text"},
    )
    no_repeat_ngram: int = Field(
        CHAT_DECODING["no_repeat_ngram"], ge=0, description="forbid repeating any n-gram of this size (0: allowed)"
    )
    max_new_tokens: int | None = Field(
        CHAT_DECODING["max_new_tokens"], ge=1, description="generate at most this many tokens"
    )


@register_pipeline("text/respond")
class RespondPipeline(Pipeline):
    """``pipe(turns)`` → the model's reply to a conversation, with a model trained by ``genlab train dialogue``."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "respond"
    description: ClassVar[str] = "reply to a conversation with a trained dialogue model"
    request_class = RespondRequest
    output_class = TextOutput

    @classmethod
    def model_problem(cls, model) -> str | None:
        from genlab.text.seq2seq.base import encoder_decoder_problem

        return encoder_decoder_problem(model)

    @property
    def context_turns(self) -> int:
        """Turns of a conversation the model reads: as many as its training contexts held."""
        return int(self.model.provenance.data.get("data_config", {}).get("context_turns", CONTEXT_TURNS))

    def context(self, conversation: str | Sequence[str | Turn]) -> str:
        """The model's source for a conversation (a message, or turns oldest first: texts or :class:`Turn` s)."""
        turns = [conversation] if isinstance(conversation, str) else list(conversation)
        texts = [t.text if isinstance(t, Turn) else str(t) for t in turns]
        context = join_turns(texts, self.context_turns)
        if not context:
            raise BadInputError("nothing to reply to: the conversation is empty", "give the message to reply to")
        return context

    def __call__(self, conversation: str | Sequence[str | Turn], **options: Any) -> str:
        """The reply to ``conversation``; ``options``: :meth:`EncoderDecoderModel.generate_ids`'s (default
        :data:`CHAT_DECODING`)."""
        return self.model.generate([self.context(conversation)], **(CHAT_DECODING | options))[0].strip()

    def run(self, request: RespondRequest) -> TextOutput:
        turns = []
        if request.input is not None:
            from genlab.text.data import read_text_file

            turns = [line.strip() for line in read_text_file(Path(request.input)).splitlines() if line.strip()]
        if request.message.strip():
            turns.append(request.message.strip())
        if not turns:
            raise BadInputError("no message", 'give it: genlab respond RUN "hello, how are you?" (or --input FILE)')
        return TextOutput([self(turns, **request.decoding())], headers=False)

    def default_filename(self, request: RespondRequest) -> str:
        return "reply.txt"


class ModelReplier:
    """The chat bot's model layer over a :class:`RespondPipeline`: ``replier(history) -> reply``, decoded with
    :data:`CHAT_DECODING` updated by ``decoding``."""

    def __init__(self, pipe: RespondPipeline, **decoding: Any):
        self.pipe, self.decoding = pipe, decoding  # the pipeline puts them over CHAT_DECODING

    def __call__(self, history: list[Turn]) -> str:
        """The model's reply to the conversation so far (the user's message last)."""
        return self.pipe(history, **self.decoding)


def chat_model(run: str | Path, **decoding: Any) -> ModelReplier:
    """The model layer of ``genlab chat --model RUN``: the dialogue model of a run (or model directory).

    A run of another task is refused with a :class:`BadInputError` that says how to train a dialogue model.
    """
    from genlab.core.model import GenerativeModel
    from genlab.core.runs import resolve_model_dir

    model = GenerativeModel.from_pretrained(resolve_model_dir(run))
    if model.task != TASK:
        raise BadInputError(
            f"{run} holds a {model.task} model ({model.registry_name}), not a dialogue model", TRAIN_HINT
        )
    return ModelReplier(RespondPipeline(model), **decoding)
