"""Objectives of property-guided optimisation: weighted sums of molecular properties, parsed without ``eval``.

An objective is written like ``qed``, ``logp``, ``qed-0.1*sa`` or ``0.5*qed + 0.5*logp/5 - mw/500``: a sum of
terms, each a property name with an optional numeric factor before it (``0.1*sa``, ``0.1 sa``) or after it
(``sa*0.1``, ``mw/500``), or a plain number. The known properties:

* ``qed``: quantitative estimate of drug-likeness in [0, 1] (Bickerton et al. 2012);
* ``logp``: Wildman-Crippen octanol-water partition coefficient (Wildman & Crippen 1999);
* ``sa``: synthetic accessibility score in [1, 10], lower is easier (Ertl & Schuffenhauer 2009);
* ``mw``: molecular weight in daltons.

The properties themselves come from :mod:`genlab.molecule.chem`. An objective scores a SMILES string; an invalid
one scores None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from genlab.core.errors import BadInputError


def _terms() -> dict[str, tuple[str, Callable]]:
    from genlab.molecule import chem

    return {
        "qed": ("quantitative estimate of drug-likeness, 0-1 (higher is more drug-like)", chem.qed),
        "logp": ("Crippen octanol-water logP", chem.logp),
        "sa": ("synthetic accessibility, 1-10 (lower is easier to make)", chem.sa_score),
        "mw": ("molecular weight (Da)", chem.mol_weight),
    }


#: the property names an objective may use
TERMS = ("qed", "logp", "sa", "mw")

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/]))"
)


def known_terms_hint() -> str:
    """The hint of a bad objective: the known terms and examples."""
    return f"known terms: {', '.join(TERMS)}; write a weighted sum such as 'qed', 'logp' or 'qed-0.1*sa'"


@dataclass(frozen=True)
class Objective:
    """A parsed objective: ``constant + Σ weight · property``; call it on a SMILES string or an RDKit Mol."""

    expression: str
    weights: tuple[tuple[str, float], ...]
    constant: float = 0.0

    def __call__(self, molecule) -> float | None:
        """The objective of ``molecule`` (SMILES or RDKit Mol); None when it does not parse."""
        from genlab.molecule import chem

        mol = chem.parse_smiles(molecule) if isinstance(molecule, str) else molecule
        if mol is None:
            return None
        functions = _terms()
        return self.constant + sum(w * float(functions[name][1](mol)) for name, w in self.weights)

    def to_dict(self) -> dict:
        """JSON form: the expression and its terms."""
        return {"expression": self.expression, "weights": dict(self.weights), "constant": self.constant}


def parse_objective(expression: str) -> Objective:
    """Parse a weighted sum of ``qed``, ``logp``, ``sa``, ``mw`` terms (see the module docstring).

    Raises BadInputError naming the known terms for an unknown name or a malformed expression.
    """
    text = (expression or "").strip().lower()
    if not text:
        raise BadInputError("empty objective", known_terms_hint())
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise BadInputError(f"cannot read objective '{expression}' at '{text[pos:].strip()}'", known_terms_hint())
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    weights: dict[str, float] = {}
    constant = 0.0
    i = 0
    while i < len(tokens):
        sign = 1.0
        while i < len(tokens) and tokens[i] in (("op", "+"), ("op", "-")):
            sign = -sign if tokens[i][1] == "-" else sign
            i += 1
        i, factor, name = _term(tokens, i, expression)
        if name is None:
            constant += sign * factor
        else:
            weights[name] = weights.get(name, 0.0) + sign * factor
        if i < len(tokens) and tokens[i] not in (("op", "+"), ("op", "-")):
            raise BadInputError(f"cannot read objective '{expression}' near '{tokens[i][1]}'", known_terms_hint())
    if not weights:
        raise BadInputError(f"objective '{expression}' names no property", known_terms_hint())
    return Objective(expression.strip(), tuple(weights.items()), constant)


def _term(tokens: list[tuple[str, str]], i: int, expression: str) -> tuple[int, float, str | None]:
    """Read one term ``[number [*]] [name] [(*|/) number]*`` from ``tokens[i:]``: (next index, factor, name)."""
    factor, name, read = 1.0, None, False
    if i < len(tokens) and tokens[i][0] == "num":
        factor, read = float(tokens[i][1]), True
        i += 1
        if i < len(tokens) and tokens[i] == ("op", "*"):
            i += 1
            if i >= len(tokens) or tokens[i][0] != "name":
                raise BadInputError(f"objective '{expression}': '*' must be followed by a property", known_terms_hint())
    if i < len(tokens) and tokens[i][0] == "name":
        name = tokens[i][1]
        if name not in TERMS:
            from genlab.core.errors import closest

            guess = closest(name, TERMS)
            raise BadInputError(
                f"unknown objective term '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                known_terms_hint(),
            )
        read = True
        i += 1
    if not read:
        got = tokens[i][1] if i < len(tokens) else "the end"
        raise BadInputError(f"objective '{expression}': expected a number or a property, got {got}", known_terms_hint())
    while i + 1 < len(tokens) and tokens[i] in (("op", "*"), ("op", "/")) and tokens[i + 1][0] == "num":
        value = float(tokens[i + 1][1])
        if tokens[i][1] == "/":
            if value == 0:
                raise BadInputError(f"objective '{expression}' divides by zero", known_terms_hint())
            value = 1.0 / value
        factor *= value
        i += 2
    if i < len(tokens) and tokens[i] in (("op", "*"), ("op", "/")):
        raise BadInputError(
            f"objective '{expression}': only numbers may multiply or divide a property", known_terms_hint()
        )
    return i, factor, name
