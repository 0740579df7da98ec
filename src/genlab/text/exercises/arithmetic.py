"""Whole-number arithmetic: + − × ÷ (exact quotients only), one to three steps.

Levels, by the features measured on every item (:data:`ArithmeticTopic.levels`):

| level | digits (largest operand) | steps | + − operations | × ÷ operations | carries + borrows | brackets |
|---|---|---|---|---|---|---|
| 1 | 1 | 1 | 1 | 0 | 0 | 0 |
| 2 | 2 | 1 | 1 | 0 | 1–2 | 0 |
| 3 | 2 | 1 | 0 | 1 | any | 0 |
| 4 | 3 | 2 | 1 | 1 | ≥ 1 | 0 |
| 5 | 3–4 | 3 | 1–2 | 1–2 | ≥ 1 | 1 |

Carries and borrows are counted column by column in every + and − step on the values that step adds or
subtracts. Every intermediate result is a non-negative whole number (``exact``, ``negative`` bands).
The answer is recomputed from the ASCII expression by a separate evaluator over :class:`fractions.Fraction`.
"""

from __future__ import annotations

import ast
import random
from fractions import Fraction
from typing import Any, ClassVar

from genlab.text.exercises.sheet import Band, Exercise, Topic, register_topic

#: An expression: a whole number or ``(op, left, right)`` with op one of ``+ - * /``.
Expr = Any

SYMBOLS = {"+": "+", "-": "−", "*": "×", "/": "÷"}
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
#: Bands every level shares: each intermediate result is a whole number, none negative.
WHOLE: dict[str, Band] = {"exact": (1, 1), "negative": (0, 0)}


def to_ascii(expr: Expr, parent: str = "", right: bool = False) -> str:
    """``(12 + 7) * 3``: the expression with the brackets it needs and no others."""
    if isinstance(expr, int):
        return str(expr)
    op, a, b = expr
    text = f"{to_ascii(a, op)} {op} {to_ascii(b, op, right=True)}"
    if parent and (
        PRECEDENCE[op] < PRECEDENCE[parent] or (right and PRECEDENCE[op] == PRECEDENCE[parent] and parent in "-/")
    ):
        return f"({text})"
    return text


def display(ascii_text: str) -> str:
    """The expression with school symbols: ``12 × 3 − 4 ÷ 2``."""
    return "".join(SYMBOLS.get(c, c) for c in ascii_text)


def evaluate(expr: Expr, steps: list[tuple[str, Fraction, Fraction, Fraction]]) -> Fraction:
    """The value of ``expr``; appends ``(op, a, b, result)`` for each operation in the order it is done."""
    if isinstance(expr, int):
        return Fraction(expr)
    op, a, b = expr
    x, y = evaluate(a, steps), evaluate(b, steps)
    if op == "+":
        value = x + y
    elif op == "-":
        value = x - y
    elif op == "*":
        value = x * y
    else:
        value = x / y
    steps.append((op, x, y, value))
    return value


def column_carries(a: int, b: int) -> int:
    """Carries of the column addition a + b (a, b ≥ 0)."""
    carries = carry = 0
    while a or b:
        carry = 1 if a % 10 + b % 10 + carry >= 10 else 0
        carries += carry
        a, b = a // 10, b // 10
    return carries


def column_borrows(a: int, b: int) -> int:
    """Borrows of the column subtraction a − b (a ≥ b ≥ 0)."""
    borrows = borrow = 0
    while a or b:
        borrow = 1 if a % 10 - borrow < b % 10 else 0
        borrows += borrow
        a, b = a // 10, b // 10
    return borrows


def leaves(expr: Expr) -> list[int]:
    """The numbers written in ``expr``, left to right."""
    return [expr] if isinstance(expr, int) else leaves(expr[1]) + leaves(expr[2])


def measure(expr: Expr) -> tuple[dict[str, Any], list[tuple[str, Fraction, Fraction, Fraction]], Fraction]:
    """The features of ``expr`` (see the module's table), its operations in order, and its value."""
    steps: list[tuple[str, Fraction, Fraction, Fraction]] = []
    value = evaluate(expr, steps)
    exact = all(r.denominator == 1 for *_, r in steps)
    carries = 0
    for op, x, y, _ in steps:
        if exact and min(x, y) >= 0 and op == "+":
            carries += column_carries(int(x), int(y))
        elif exact and x >= y >= 0 and op == "-":
            carries += column_borrows(int(x), int(y))
    features = {
        "digits": max(len(str(n)) for n in leaves(expr)),
        "steps": len(steps),
        "additive": sum(op in "+-" for op, *_ in steps),
        "multiplicative": sum(op in "*/" for op, *_ in steps),
        "carries": carries,
        "brackets": to_ascii(expr).count("("),
        "exact": int(exact),
        "negative": int(any(r < 0 for *_, r in steps)),
    }
    return features, steps, value


def evaluate_ascii(text: str) -> Fraction:
    """Evaluate an ASCII expression of whole numbers, brackets and ``+ - * /`` exactly (no ``eval``)."""

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            x, y = walk(node.left), walk(node.right)
            ops = {ast.Add: x.__add__, ast.Sub: x.__sub__, ast.Mult: x.__mul__, ast.Div: x.__truediv__}
            if type(node.op) in ops:
                return ops[type(node.op)](y)
        raise ValueError(f"not an arithmetic expression: {ast.dump(node)}")

    return walk(ast.parse(text, mode="eval"))


@register_topic
class ArithmeticTopic(Topic):
    """Whole-number arithmetic by digits, operations, carries/borrows and steps."""

    name: ClassVar[str] = "arithmetic"
    levels: ClassVar[dict[int, dict[str, Band]]] = {
        1: {"digits": (1, 1), "steps": (1, 1), "additive": (1, 1), "multiplicative": (0, 0), "carries": (0, 0),
            "brackets": (0, 0), **WHOLE},
        2: {"digits": (2, 2), "steps": (1, 1), "additive": (1, 1), "multiplicative": (0, 0), "carries": (1, 2),
            "brackets": (0, 0), **WHOLE},
        3: {"digits": (2, 2), "steps": (1, 1), "additive": (0, 0), "multiplicative": (1, 1), "brackets": (0, 0),
            **WHOLE},
        4: {"digits": (3, 3), "steps": (2, 2), "additive": (1, 1), "multiplicative": (1, 1), "carries": (1, None),
            "brackets": (0, 0), **WHOLE},
        5: {"digits": (3, 4), "steps": (3, 3), "additive": (1, 2), "multiplicative": (1, 2), "carries": (1, None),
            "brackets": (1, 1), **WHOLE},
    }  # fmt: skip
    feature_help: ClassVar[dict[str, str]] = {
        "digits": "digits (largest operand)", "steps": "steps", "additive": "+ − operations",
        "multiplicative": "× ÷ operations", "carries": "carries + borrows", "brackets": "brackets",
        "exact": "whole-number results", "negative": "negative results",
    }  # fmt: skip

    def draw(self, rng: random.Random, level: int) -> Exercise:
        expr = DRAWERS[level](rng)
        features, steps, value = measure(expr)
        text = to_ascii(expr)
        work = [f"{display(_num(x))} {SYMBOLS[op]} {display(_num(y))} = {display(_num(r))}" for op, x, y, r in steps]
        answer: Any = int(value) if value.denominator == 1 else value
        return Exercise(self.name, level, f"{display(text)} =", answer, text, steps=work, features=features)

    def recheck(self, item: Exercise) -> str | None:
        try:
            value = evaluate_ascii(item.expression)
        except (ValueError, ZeroDivisionError, SyntaxError) as e:
            return f"answer: cannot evaluate {item.expression}: {e}"
        return None if value == item.answer else f"answer: {item.expression} is {value}, not {item.answer}"


def _num(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _additive(rng: random.Random, low: int, high: int) -> Expr:
    a, b = rng.randint(low, high), rng.randint(low, high)
    op = rng.choice("+-")
    return (op, max(a, b), min(a, b)) if op == "-" else (op, a, b)


def _product(rng: random.Random, dividend_max: int) -> Expr:
    """``b × c`` (b two-digit, c one-digit) or an exact ``q·c ÷ c`` with a dividend of at most ``dividend_max``."""
    c = rng.randint(2, 9)
    if rng.random() < 0.5:
        return ("*", rng.randint(10, 99), c)
    q = rng.randint(max(2, -(-10 // c)), max(2, dividend_max // c))
    return ("/", q * c, c)


def _level1(rng: random.Random) -> Expr:
    return _additive(rng, 0, 9)


def _level2(rng: random.Random) -> Expr:
    return _additive(rng, 10, 99)


def _level3(rng: random.Random) -> Expr:
    return _product(rng, 99)


def _level4(rng: random.Random) -> Expr:
    """``a ± b × c`` or ``b ÷ c ± a`` (a three-digit; a subtraction is ordered to stay non-negative)."""
    a, term = rng.randint(100, 999), _product(rng, 999)
    op = rng.choice("+-")
    first, second = (a, term) if rng.random() < 0.5 else (term, a)
    if op == "-" and evaluate_ascii(to_ascii(first)) < evaluate_ascii(to_ascii(second)):
        first, second = second, first
    return (op, first, second)


def _level5(rng: random.Random) -> Expr:
    """Three steps with one pair of brackets: ``(a + b) × c − d``, ``(a − b) × c + d``, ``(a + b) ÷ c + d``
    (the sum a multiple of c) or ``a × (b + c) − d``."""
    shape = rng.randrange(4)
    if shape == 0:
        a, b, c = rng.randint(100, 999), rng.randint(100, 999), rng.randint(2, 9)
        return ("-", ("*", ("+", a, b), c), rng.randint(100, min(9999, (a + b) * c)))
    if shape == 1:
        a, b = sorted((rng.randint(100, 999), rng.randint(100, 999)), reverse=True)
        return ("+", ("*", ("-", a, b), rng.randint(2, 9)), rng.randint(100, 9999))
    if shape == 2:
        c = rng.randint(2, 9)
        total = c * rng.randint(-(-200 // c), 1998 // c)
        a = rng.randint(max(100, total - 999), min(999, total - 100))
        return ("+", ("/", ("+", a, total - a), c), rng.randint(100, 9999))
    a, b, c = rng.randint(10, 99), rng.randint(100, 999), rng.randint(100, 999)
    return ("-", ("*", a, ("+", b, c)), rng.randint(100, 9999))


DRAWERS = {1: _level1, 2: _level2, 3: _level3, 4: _level4, 5: _level5}
