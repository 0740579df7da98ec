"""Molecule tokenizers saved with the model: SMILES atom-level (regex) and SELFIES.

Both map one molecule to ``[bos] tokens… [eos]`` ids and back, with ``pad`` filling batches;
ids 0, 1, 2 are always ``<pad>``, ``<bos>``, ``<eos>``. Like :mod:`genlab.text.tokenizers` they
serialise to a plain JSON dict (``to_dict``) kept in the model's ``config.json``
(``config.tokenizer``) and rebuilt by :func:`tokenizer_from_dict`; they register as
``molecule/smiles`` and ``molecule/selfies``.

* SMILES: one token per atom (bracket atoms such as ``[nH]`` or ``[C@@H]`` whole, ``Cl`` and
  ``Br`` as one), bond, branch, ring-closure digit or ``%nn`` label — the tokenisation regex of
  Schwaller et al. 2019 ("Molecular Transformer", ACS Cent. Sci.).
* SELFIES (Krenn et al. 2020): a molecule is converted to SELFIES by the ``selfies`` package and
  split into its bracketed symbols; decoding converts the symbols back to SMILES. Every symbol
  string decodes to some molecule, which is why SELFIES models have near-perfect validity.

The text-tokenizer interface (``encode``/``decode`` of token ids without specials,
``vocab_size``, ``token_text``) is kept, so the text decoders can drive molecule models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.optional import require
from genlab.core.preprocessing import register_preprocessor
from genlab.core.registry import PREPROCESSORS
from genlab.text.tokenizers import TextTokenizer

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2

# Schwaller et al. 2019: bracket atoms, two-letter halogens, organic-subset and aromatic atoms, bonds,
# branches, ring closures (one digit or %nn), dots and the reaction/wildcard characters.
SMILES_REGEX = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
)


class MoleculeTokenizer(TextTokenizer):
    """Tokens of one molecule string ↔ ids; subclasses say how a string splits (:meth:`split`)
    and how a SMILES becomes that string and back (:meth:`from_smiles`, :meth:`to_smiles`)."""

    kind: ClassVar[str] = ""
    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID

    def __init__(self, vocab: Sequence[str]):
        vocab = list(vocab)
        if tuple(vocab[:3]) != SPECIALS or len(set(vocab)) != len(vocab):
            raise ConfigError(
                "a molecule vocabulary must start with <pad>, <bos>, <eos> and list distinct tokens",
                "re-train the model (its tokenizer is built from the data)",
            )
        self.vocab = vocab
        self.index = {tok: i for i, tok in enumerate(vocab)}

    # --- how a molecule string is written --------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Tokens of one molecule string (SMILES or SELFIES)."""
        raise NotImplementedError

    def from_smiles(self, smiles: str) -> str:
        """The string this tokenizer splits, for a SMILES (identity for SMILES)."""
        return smiles

    def to_smiles(self, text: str) -> str:
        """SMILES of a string of this tokenizer's tokens ('' when it cannot be converted)."""
        return text

    # --- vocabulary ------------------------------------------------------------------------------
    @classmethod
    def train(cls, smiles: Iterable[str]) -> tuple[MoleculeTokenizer, int]:
        """A tokenizer over the tokens of ``smiles``; returns it and the number of molecules that did not split."""
        probe = cls(list(SPECIALS))
        tokens: set[str] = set()
        failed = 0
        for s in smiles:
            try:
                tokens.update(probe.split(probe.from_smiles(s)))
            except BadInputError:
                failed += 1
        if not tokens:
            raise BadInputError("cannot build a molecule vocabulary: no molecule could be tokenised")
        return cls([*SPECIALS, *sorted(tokens)]), failed

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # --- ids ---------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids of the tokens of ``text`` (a string in this tokenizer's notation), no specials."""
        tokens = self.split(text)
        try:
            return [self.index[t] for t in tokens]
        except KeyError:
            unknown = sorted({t for t in tokens if t not in self.index})
            raise BadInputError(
                f"the molecule has {len(unknown)} token(s) this model never saw: {', '.join(unknown[:10])}",
                "molecule models only write tokens from their training molecules",
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The string of ``ids``, stopping at ``<eos>`` and leaving out ``<bos>``/``<pad>``."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.vocab[i])
        return "".join(out)

    def token_text(self, index: int) -> str:
        return "" if index < len(SPECIALS) else self.vocab[index]

    def encode_smiles(self, smiles: str) -> list[int]:
        """``[bos] + ids + [eos]`` of a SMILES (converted to SELFIES first by the SELFIES tokenizer)."""
        return [BOS_ID, *self.encode(self.from_smiles(smiles)), EOS_ID]

    def decode_smiles(self, ids: Iterable[int]) -> str:
        """The SMILES written by ``ids`` (up to ``<eos>``); not canonicalised, perhaps invalid."""
        return self.to_smiles(self.decode(ids))

    # --- serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "vocab": self.vocab}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoleculeTokenizer:
        return cls(list(data["vocab"]))


@register_preprocessor("molecule")
class SmilesTokenizer(MoleculeTokenizer):
    """Atom-level SMILES tokens (Schwaller et al. 2019 regex)."""

    kind = "smiles"

    def split(self, text: str) -> list[str]:
        tokens = SMILES_REGEX.findall(text)
        if "".join(tokens) != text:
            raise BadInputError(f"'{text}' has characters that are not SMILES", "give SMILES strings such as CCO")
        return tokens


@register_preprocessor("molecule")
class SelfiesTokenizer(MoleculeTokenizer):
    """SELFIES symbols (Krenn et al. 2020) through the ``selfies`` package."""

    kind = "selfies"

    @staticmethod
    def _sf() -> Any:
        return require("selfies", "molecule", "the SELFIES tokenizer")

    def split(self, text: str) -> list[str]:
        tokens = list(self._sf().split_selfies(text))
        if "".join(tokens) != text:
            raise BadInputError(f"'{text}' is not a SELFIES string", "give SELFIES symbols such as [C][C][O]")
        return tokens

    def from_smiles(self, smiles: str) -> str:
        sf = self._sf()
        try:
            return sf.encoder(smiles)
        except sf.EncoderError as e:
            raise BadInputError(f"cannot write '{smiles}' as SELFIES: {e}") from None

    def to_smiles(self, text: str) -> str:
        sf = self._sf()
        try:
            return sf.decoder(text) or ""
        except sf.DecoderError:
            return ""


def tokenizer_from_dict(data: dict[str, Any]) -> MoleculeTokenizer:
    """Rebuild a molecule tokenizer from :meth:`MoleculeTokenizer.to_dict` output."""
    kind = data.get("type") if isinstance(data, dict) else None
    if isinstance(kind, str) and f"molecule/{kind}" in PREPROCESSORS:
        return PREPROCESSORS.get(f"molecule/{kind}").from_dict(data)
    raise ConfigError(
        "the model config holds no molecule tokenizer",
        "molecule models get their tokenizer from the training molecules; train through genlab",
    )


def train_tokenizer(kind: str, smiles: Iterable[str]) -> tuple[MoleculeTokenizer, int]:
    """Build a ``smiles`` or ``selfies`` tokenizer from training SMILES; returns it and the molecules it could not
    tokenise."""
    name = f"molecule/{kind}"
    if name not in PREPROCESSORS:
        raise ConfigError(f"unknown molecule tokenizer '{kind}'", "use smiles or selfies")
    return PREPROCESSORS.get(name).train(smiles)
