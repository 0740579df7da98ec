"""Fractions: + − × ÷ of proper fractions and mixed numbers, answers in lowest terms.

Levels, by the features measured on every item (:data:`FractionTopic.levels`):

| level | largest denominator | unlike | common den. ÷ largest | mixed numbers | steps | × ÷ | simplify | work den. |
|---|---|---|---|---|---|---|---|---|
| 1 | 2–9 | 0 | 1 | 0 | 1 | 0 | 0 | 2–9 |
| 2 | 4–12 | 1 | 1 | 0 | 1 | 0 | any | 4–12 |
| 3 | 4–12 | 1 | ≥ 2 | 0 | 1 | 0 | any | 6–60 |
| 4 | 2–12 | 1 | any | 1–2 | 1 | 1 | any | 4–120 |
| 5 | 2–16 | 1 | any | 1–3 | 2 | 1–2 | any | 6–144 |

Level 2's denominators are a number and one of its multiples (1/3 + 5/6); level 3's share no such shortcut
(1/4 + 5/6: the common denominator 12 is neither). "Simplification needed": some step's result, worked the usual way
(over the least common denominator; numerators times numerators; times the reciprocal), is not in lowest
terms. "Work den.": the largest denominator met while working (a common denominator, a product), which keeps
the arithmetic humane. No result is negative. The answer is recomputed from the ASCII expression with exact rationals.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from genlab.text.exercises.arithmetic import PRECEDENCE, SYMBOLS, evaluate_ascii
from genlab.text.exercises.sheet import Band, Exercise, Topic, format_mixed, format_number, register_topic


@dataclass(frozen=True)
class Operand:
    """A fraction as written on the sheet: proper (``3/4``) or mixed (``2 1/3``)."""

    value: Fraction
    mixed: bool = False

    def shown(self) -> str:
        return format_mixed(self.value) if self.mixed else format_number(self.value)

    def ascii(self) -> str:
        whole, part = divmod(self.value, 1)
        return f"({whole} + {format_number(part)})" if self.mixed else f"({format_number(self.value)})"


#: A fraction expression: an :class:`Operand` or ``(op, left, right)``.
Expr = Any


def shown(expr: Expr, parent: str = "", right: bool = False) -> str:
    """The expression as the sheet writes it (``2 1/3 × 3/4 − 1/2``), with the brackets it needs."""
    if isinstance(expr, Operand):
        return expr.shown()
    op, a, b = expr
    text = f"{shown(a, op)} {SYMBOLS[op]} {shown(b, op, right=True)}"
    needs = parent and (PRECEDENCE[op] < PRECEDENCE[parent] or (right and PRECEDENCE[op] == PRECEDENCE[parent]
                                                                 and parent in "-/"))  # fmt: skip
    return f"({text})" if needs else text


def to_ascii(expr: Expr) -> str:
    """Fully bracketed ASCII form, evaluated exactly by :func:`~.arithmetic.evaluate_ascii`."""
    if isinstance(expr, Operand):
        return expr.ascii()
    op, a, b = expr
    return f"({to_ascii(a)} {op} {to_ascii(b)})"


def operands(expr: Expr) -> list[Operand]:
    return [expr] if isinstance(expr, Operand) else operands(expr[1]) + operands(expr[2])


def frac(num: int, den: int) -> str:
    return f"{num}/{den}"


class Worker:
    """Works an expression the way it is taught, writing the steps and noting whether a result needed simplifying."""

    def __init__(self, topic: FractionTopic):
        self.say, self.lines, self.simplify, self.largest = topic.say, [], 0, 1

    def work(self, expr: Expr) -> Fraction:
        if isinstance(expr, Operand):
            return expr.value
        op, a, b = expr
        x, y = self.work(a), self.work(b)
        if isinstance(a, Operand) and a.mixed or isinstance(b, Operand) and b.mixed:
            self.lines.append(self.say.say("step.to_improper", work=f"{_improper(x)} {SYMBOLS[op]} {_improper(y)}"))
        if op in "+-":
            den = math.lcm(x.denominator, y.denominator)
            nx, ny = x.numerator * den // x.denominator, y.numerator * den // y.denominator
            num = nx + ny if op == "+" else nx - ny
            work = f"{frac(nx, den)} {SYMBOLS[op]} {frac(ny, den)} = {frac(num, den)}"
            self.lines.append(self.say.say("step.common_denominator", den=den, work=work))
        elif op == "*":
            num, den = x.numerator * y.numerator, x.denominator * y.denominator
            work = f"{_improper(x)} × {_improper(y)} = {frac(num, den)}"
            self.lines.append(self.say.say("step.multiply", work=work))
        else:
            num, den = x.numerator * y.denominator, x.denominator * y.numerator
            work = f"{_improper(x)} ÷ {_improper(y)} = {_improper(x)} × {frac(y.denominator, y.numerator)} = "
            self.lines.append(self.say.say("step.reciprocal", work=work + frac(num, den)))
        value = Fraction(num, den)
        self.largest = max(self.largest, abs(den))
        if math.gcd(num, den) > 1:
            self.simplify = 1
            self.lines.append(self.say.say("step.simplify", work=f"{frac(num, den)} = {format_number(value)}"))
        return value


def _improper(x: Fraction) -> str:
    return frac(x.numerator, x.denominator)


@register_topic
class FractionTopic(Topic):
    """Fractions by denominators, unlike denominators, mixed numbers, operations and simplification."""

    name: ClassVar[str] = "fractions"
    levels: ClassVar[dict[int, dict[str, Band]]] = {
        1: {"max_denominator": (2, 9), "unlike": (0, 0), "lcm_factor": (1, 1), "mixed": (0, 0), "steps": (1, 1),
            "multiplicative": (0, 0), "simplify": (0, 0), "work_denominator": (2, 9), "negative": (0, 0)},
        2: {"max_denominator": (4, 12), "unlike": (1, 1), "lcm_factor": (1, 1), "mixed": (0, 0), "steps": (1, 1),
            "multiplicative": (0, 0), "work_denominator": (4, 12), "negative": (0, 0)},
        3: {"max_denominator": (4, 12), "unlike": (1, 1), "lcm_factor": (2, None), "mixed": (0, 0),
            "steps": (1, 1), "multiplicative": (0, 0), "work_denominator": (6, 60), "negative": (0, 0)},
        4: {"max_denominator": (2, 12), "unlike": (1, 1), "mixed": (1, 2), "steps": (1, 1),
            "multiplicative": (1, 1), "work_denominator": (4, 120), "negative": (0, 0)},
        5: {"max_denominator": (2, 16), "unlike": (1, 1), "mixed": (1, 3), "steps": (2, 2),
            "multiplicative": (1, 2), "work_denominator": (6, 144), "negative": (0, 0)},
    }  # fmt: skip
    feature_help: ClassVar[dict[str, str]] = {
        "max_denominator": "largest denominator", "unlike": "unlike denominators",
        "lcm_factor": "common denominator ÷ largest", "mixed": "mixed numbers", "steps": "steps",
        "multiplicative": "× ÷ operations", "simplify": "simplification needed",
        "work_denominator": "largest denominator worked with", "negative": "negative results",
    }  # fmt: skip

    def draw(self, rng: random.Random, level: int) -> Exercise:
        expr = DRAWERS[level](rng)
        worker = Worker(self)
        value = worker.work(expr)
        dens = [o.value.denominator for o in operands(expr)]
        steps = _ops(expr)
        features = {
            "max_denominator": max(dens),
            "unlike": int(len(set(dens)) > 1),
            "lcm_factor": math.lcm(*dens) // max(dens),
            "mixed": sum(o.mixed for o in operands(expr)),
            "steps": len(steps),
            "multiplicative": sum(op in "*/" for op in steps),
            "simplify": worker.simplify,
            "work_denominator": worker.largest,
            "negative": int(value < 0),
        }
        if value.denominator != 1 and abs(value) > 1:
            worker.lines.append(self.say.say("step.mixed", work=f"{format_number(value)} = {format_mixed(value)}"))
        return Exercise(self.name, level, f"{shown(expr)} =", value, to_ascii(expr), steps=worker.lines,
                        features=features)  # fmt: skip

    def recheck(self, item: Exercise) -> str | None:
        value = evaluate_ascii(item.expression)
        return None if value == item.answer else f"answer: {item.expression} is {value}, not {item.answer}"


def _ops(expr: Expr) -> list[str]:
    return [] if isinstance(expr, Operand) else [*_ops(expr[1]), *_ops(expr[2]), expr[0]]


def _proper(rng: random.Random, den: int, mixed: bool = False) -> Operand:
    num = rng.choice([k for k in range(1, den) if math.gcd(k, den) == 1])
    return Operand(Fraction(num, den) + (rng.randint(1, 4) if mixed else 0), mixed)


def _ordered(op: str, a: Operand, b: Operand) -> Expr:
    """``a op b``, with a subtraction's larger operand first."""
    return (op, a, b) if op == "+" or a.value >= b.value else (op, b, a)


def _level1(rng: random.Random) -> Expr:
    den = rng.randint(2, 9)
    return _ordered(rng.choice("+-"), _proper(rng, den), _proper(rng, den))


def _level2(rng: random.Random) -> Expr:
    den = rng.randint(2, 6)
    dens = [den, den * rng.randint(2, 12 // den)]
    rng.shuffle(dens)
    return _ordered(rng.choice("+-"), _proper(rng, dens[0]), _proper(rng, dens[1]))


def _level3(rng: random.Random) -> Expr:
    return _ordered(rng.choice("+-"), _proper(rng, rng.randint(3, 12)), _proper(rng, rng.randint(3, 12)))


def _level4(rng: random.Random) -> Expr:
    first = _proper(rng, rng.randint(2, 12), mixed=True)
    second = _proper(rng, rng.randint(2, 12), mixed=rng.random() < 0.5)
    return (rng.choice("*/"), first, second) if rng.random() < 0.5 else (rng.choice("*/"), second, first)


def _level5(rng: random.Random) -> Expr:
    """``a ± b × c``, ``a × b ± c`` and the like: one + or −, one × or ÷, at least one mixed number."""
    a, b, c = (_proper(rng, rng.randint(2, 16), mixed=rng.random() < 0.4) for _ in range(3))
    additive, multiplicative = rng.choice("+-"), rng.choice("*/")
    if rng.random() < 0.5:
        return (additive, a, (multiplicative, b, c))
    return (additive, (multiplicative, a, b), c)


DRAWERS = {1: _level1, 2: _level2, 3: _level3, 4: _level4, 5: _level5}
