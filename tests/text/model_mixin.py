"""The text hooks and text-only checks of the shared model test suite.

A test class inherits :class:`TextModelTesterMixin` and sets ``model_name`` and a tiny
``config`` (see ``TINY`` in :mod:`tests.text.helpers`); the model gets a character
vocabulary of ``text``. :class:`tests.model_mixin.ModelTesterMixin` supplies save/load,
determinism, learning and validation checks; this mixin adds the starting loss and the
agreement of incremental decoding (with and without a KV cache) with a full forward pass.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch

from genlab.text.base import TextLanguageModel
from genlab.text.decoding import sample_tokens
from genlab.text.tokenizers import CharTokenizer
from tests.model_mixin import ModelTesterMixin

from .helpers import ENGLISH, Stream


class TextModelTesterMixin(ModelTesterMixin):
    """Inherit in a ``Test…`` class; the vocabulary is the characters of ``text``."""

    #: the training text (and the source of the character vocabulary)
    text: ClassVar[str] = ENGLISH
    #: the prompt ``sample`` continues
    prompt: ClassVar[str] = "ROMEO"
    #: continuations ``sample`` draws, and their length in tokens
    num_samples: ClassVar[int] = 2
    max_new_tokens: ClassVar[int] = 20
    validation_keys: ClassVar[set[str] | None] = {"loss"}

    # --- hooks ----------------------------------------------------------------
    def build(self, **overrides: Any) -> TextLanguageModel:
        tok = CharTokenizer.train([self.text])
        return super().build(**{"vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides})

    def batch(self, model: TextLanguageModel, n: int = 4) -> torch.Tensor:
        """``n`` windows (n, block_size + 1) of the text's ids, starting 7 tokens apart."""
        ids = torch.tensor(model.tokenizer.encode(self.text))
        t = model.config.block_size + 1
        return torch.stack([ids[i * 7 : i * 7 + t] for i in range(n)])

    def sample(self, model: TextLanguageModel, seed: int) -> torch.Tensor:
        """New token ids (num_samples, max_new_tokens) continuing ``prompt``, drawn at temperature 1."""
        prompt = torch.tensor([model.tokenizer.encode(self.prompt)] * self.num_samples)
        steps = sample_tokens(model, prompt, self.max_new_tokens, generator=torch.Generator().manual_seed(seed))
        return torch.stack(list(steps), dim=1)

    def check_output(self, model: TextLanguageModel, out: torch.Tensor) -> None:
        assert out.shape == (self.num_samples, self.max_new_tokens) and out.dtype == torch.long, (out.shape, out.dtype)
        assert out.min() >= 0 and out.max() < model.config.vocab_size
        for row in out.tolist():  # a character vocabulary: ids and text map one to one
            assert model.tokenizer.encode(model.tokenizer.decode(row)) == row

    def fit_data(self, model: TextLanguageModel) -> tuple[Stream, Stream]:
        """The text's token stream for training, its first 100 characters for validation."""
        ids = model.tokenizer.encode(self.text)
        return Stream(ids), Stream(ids[:100])

    # --- text-only checks -------------------------------------------------------
    def test_an_untrained_model_predicts_near_uniformly(self):
        model = self.build().eval()
        with torch.no_grad():
            loss = model.validation_losses(self.batch(model))["loss"].item()
        assert loss == pytest.approx(math.log(model.config.vocab_size), rel=0.2)

    @pytest.mark.parametrize("use_cache", [True, False])
    def test_incremental_decoding_matches_the_full_forward_pass(self, use_cache):
        """``step`` on a prompt and then one token at a time gives the logits of ``logits`` on the whole text."""
        model = self.trained_a_little(self.build())
        ids = self.batch(model, 2)[:, : min(model.config.block_size, 12)]
        with torch.no_grad():
            full = model.logits(ids)  # (B, T, V)
            state = model.init_state(2, use_cache=use_cache)
            logits, state = model.step(ids[:, :4], state)
            torch.testing.assert_close(logits, full[:, 3], atol=1e-5, rtol=1e-5)
            for t in range(4, ids.shape[1]):
                logits, state = model.step(ids[:, t : t + 1], state)
                torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5, msg=f"position {t}")
