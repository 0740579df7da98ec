"""Molecule language models: the text modality's char-RNN and GPT, trained on one molecule per sequence.

``molecule/char-rnn`` is the MOSES CharRNN baseline (Segler et al. 2018, "Generating Focused Molecule
Libraries for Drug Discovery with Recurrent Neural Networks"; an LSTM over SMILES characters, as in
Polykovskiy et al. 2020); ``molecule/smiles-gpt`` and ``molecule/selfies-gpt`` are the decoder-only
transformer of :mod:`genlab.text.gpt` over atom-level SMILES tokens or SELFIES symbols.

A batch is a long tensor (B, L) of rows ``[bos] tokens… [eos] pad…`` (see
:class:`genlab.molecule.data.MoleculeSequences`); the loss is the cross-entropy of every next token
up to and including ``<eos>``, padding masked out. Sampling starts every row at ``<bos>``, decodes with
:func:`genlab.text.decoding.generate_until` until ``<eos>`` (``<pad>``/``<bos>`` suppressed), and turns
the tokens back into a SMILES (SELFIES decoded by the ``selfies`` package); rows that reach the length
limit without ``<eos>`` are returned as ``''`` (invalid).

Every model of the ``molecules`` task (these and ``molecule/mol-vae``) offers
``sample_smiles(n, generator, temperature) -> list[str]`` (raw, not canonicalised, perhaps invalid) and
says which notation it reads with the class attribute ``tokenizer_kind``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.model import register_model
from genlab.molecule.tokenizers import BOS_ID, EOS_ID, PAD_ID, MoleculeTokenizer, tokenizer_from_dict
from genlab.text.base import PaddedRowsLanguageModel
from genlab.text.decoding import SuppressTokens, Temperature, generate_until
from genlab.text.gpt import GPT, GPTConfig
from genlab.text.rnn import CharRNN, CharRNNConfig

TASK = "molecules"
SAMPLE_BATCH = 256  # molecules decoded together


class MoleculeLanguageModel(PaddedRowsLanguageModel):
    """Mixin placed before a :class:`genlab.text.base.TextLanguageModel`: the molecule task, the molecule
    tokenizer, the padded per-molecule loss and SMILES sampling."""

    task: ClassVar[str] = TASK
    #: the notation the model reads (``smiles`` or ``selfies``); the task builds that tokenizer from the data
    tokenizer_kind: ClassVar[str] = "smiles"

    @property
    def tokenizer(self) -> MoleculeTokenizer:
        """The molecule tokenizer recorded in the config (built once)."""
        if self._tokenizer is None:
            self._tokenizer = tokenizer_from_dict(self.config.tokenizer)
        return self._tokenizer

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @torch.no_grad()
    def sample_smiles(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0, batch_size: int = SAMPLE_BATCH
    ) -> list[str]:
        """``n`` molecules as SMILES (not canonicalised; '' for a row that never wrote ``<eos>``)."""
        if n < 0:
            raise BadInputError(f"cannot sample {n} molecules", "ask for a number ≥ 0")
        if temperature <= 0:
            raise BadInputError(f"temperature must be > 0, got {temperature}", "1.0 samples the model as trained")
        processors = [SuppressTokens([PAD_ID, BOS_ID])]
        if temperature != 1.0:
            processors.append(Temperature(temperature))
        limit = self.config.block_size - 1  # new tokens after <bos>; the training rows were at most block_size
        was = self.training
        out: list[str] = []
        try:
            for start in range(0, n, batch_size):
                prompt = torch.full((min(batch_size, n - start), 1), BOS_ID, dtype=torch.long)
                rows = generate_until(self, prompt, limit, EOS_ID, processors, generator=generator)
                out += ["" if len(r) >= limit else self.tokenizer.decode_smiles(r) for r in rows]
        finally:
            self.train(was)
        return out


class MoleculeRNNConfig(CharRNNConfig):
    """The char-RNN sized for molecules: MOSES's CharRNN is a 3-layer LSTM with dropout 0.2 (768 units there;
    384 here, so that a 30-minute single-thread CPU budget sees some twenty epochs of the 10k MOSES sample)."""

    n_layer: int = Field(3, ge=1, le=8)
    n_embd: int = Field(64, ge=4, le=4096, description="token embedding size")
    hidden_size: int = Field(384, ge=4, le=8192)
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="between recurrent layers and before the output")
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(100, ge=0, description="steps of linear learning-rate warm-up")


@register_model("molecule/char-rnn")
class MoleculeCharRNN(MoleculeLanguageModel, CharRNN):
    """LSTM over SMILES tokens, one molecule per sequence (the MOSES CharRNN baseline)."""

    config_class = MoleculeRNNConfig
    description = "char-RNN (LSTM) over SMILES, the MOSES CharRNN baseline"
    tokenizer_kind = "smiles"


class MoleculeGPTConfig(GPTConfig):
    """A small GPT for molecule strings (a few hundred thousand to a few million parameters)."""

    n_layer: int = Field(4, ge=1, le=96)
    n_head: int = Field(4, ge=1, le=128)
    n_embd: int = Field(128, ge=8, le=8192, description="width; must be a multiple of n_head")
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    lr: float = Field(1e-3, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="learning rate over the run")
    warmup_steps: int = Field(100, ge=0, description="steps of linear learning-rate warm-up")


@register_model("molecule/smiles-gpt")
class SmilesGPT(MoleculeLanguageModel, GPT):
    """GPT decoder over atom-level SMILES tokens."""

    config_class = MoleculeGPTConfig
    description = "GPT decoder over atom-level SMILES tokens"
    tokenizer_kind = "smiles"


@register_model("molecule/selfies-gpt")
class SelfiesGPT(MoleculeLanguageModel, GPT):
    """GPT decoder over SELFIES symbols: every sampled string decodes to a molecule."""

    config_class = MoleculeGPTConfig
    description = "GPT decoder over SELFIES symbols (Krenn et al. 2020)"
    tokenizer_kind = "selfies"
