"""Linear equations and 2×2 systems, solved and checked with SymPy; answers are exact rationals.

Every item is written as ASCII equations (``3*x + 4 = 19``; a system joins two with ``;``). Its features are
measured on that text after SymPy reads it: the unknowns, the brackets, the terms with fractional
coefficients, the sides that hold x, and from those the solving steps (expand the brackets, clear the
fractions when two or more terms have them, collect x on one side, move the numbers, divide by the
coefficient; a system: eliminate, solve, substitute back, solve). Levels (:data:`EquationTopic.levels`):

| level | form | unknowns | steps | brackets | fractional terms | sides with x | whole-number solution |
|---|---|---|---|---|---|---|---|
| 1 | one-step (x + a = b, ax = b, x/a = b) | 1 | 1 | 0 | 0–1 | 1 | 1 |
| 2 | two-step (ax + b = c) | 1 | 2 | 0 | 0 | 1 | 1 |
| 3 | x on both sides (ax + b = cx + d) | 1 | 3 | 0 | 0 | 2 | 1 |
| 4 | brackets (a(x + b) = cx + d) | 1 | 4 | 1–2 | 0 | 2 | 1 |
| 5 | fractional coefficients or a 2×2 system | 1–2 | 4–5 | 0 | any | any | any |

The check: :func:`sympy.solve` must find exactly the item's solution, and substituting it back must make
both sides of every equation equal.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any, ClassVar

from genlab.text.exercises.sheet import Band, Exercise, Topic, format_number, register_topic


def linear(terms: list[tuple[Fraction | int, str]]) -> str:
    """ASCII of a sum of terms ``[(coefficient, "x"), (constant, "")]``: ``3*x - 5``, ``x/3 + 1/2``, ``-y``."""
    out = ""
    for coef, var in terms:
        coef = Fraction(coef)
        if coef == 0 and (var or out):
            continue
        sign = "-" if coef < 0 else "+"
        size = abs(coef)
        if var:
            body = var if size.numerator == 1 else f"{size.numerator}*{var}"
            body += f"/{size.denominator}" if size.denominator != 1 else ""
        else:
            body = format_number(size)
        out += (f"-{body}" if sign == "-" else body) if not out else f" {sign} {body}"
    return out or "0"


def display(ascii_text: str) -> str:
    """The sheet's form: ``3x − 5 = 2(x + 1)``; a system numbers its equations, ``(1) x + y = 3;  (2) …``."""
    shown = [eq.strip().replace("*", "").replace("-", "−") for eq in ascii_text.split(";")]
    return shown[0] if len(shown) == 1 else ";  ".join(f"({i}) {eq}" for i, eq in enumerate(shown, 1))


def _parse(text: str) -> list[tuple[Any, Any]]:
    """SymPy's ``(lhs, rhs)`` of each equation in ``text``."""
    from sympy.parsing.sympy_parser import parse_expr

    sides = []
    for equation in text.split(";"):
        lhs, rhs = equation.split("=")
        sides.append((parse_expr(lhs), parse_expr(rhs)))
    return sides


def _coefficients(side: Any, var: Any) -> tuple[Fraction, Fraction]:
    """``(coefficient of var, constant)`` of a linear side, after expanding it."""
    import sympy

    expanded = sympy.expand(side)
    return Fraction(str(expanded.coeff(var))), Fraction(str(expanded.subs(var, 0)))


def _fraction_terms(side: Any) -> int:
    """Terms of the expanded side whose coefficient is not a whole number."""
    import sympy

    return sum(1 for term in sympy.Add.make_args(sympy.expand(side)) if not term.as_coeff_Mul()[0].is_integer)


def measure(text: str) -> dict[str, Any]:
    """The features of the equation(s) ``text`` (see the module's table), read through SymPy."""
    sides = _parse(text)
    symbols = sorted({s for pair in sides for side in pair for s in side.free_symbols}, key=str)
    fraction_terms = sum(_fraction_terms(side) for pair in sides for side in pair)
    brackets = text.count("(")
    features: dict[str, Any] = {"unknowns": len(symbols), "brackets": brackets, "fraction_terms": fraction_terms}
    clear = int(fraction_terms >= 2)
    if len(sides) > 1:  # eliminate, solve, substitute back, solve (and clear fractions first when there are any)
        features.update(x_sides=0, steps=4 + clear, form="system")
        return features
    (lhs, rhs), x = sides[0], symbols[0] if symbols else None
    plan = Plan(*_coefficients(lhs, x), *_coefficients(rhs, x), brackets=brackets > 0, clear=bool(clear))
    steps = plan.expand + plan.clear + plan.collect + plan.move + plan.divide
    features.update(x_sides=plan.x_sides, steps=steps, form=_form(brackets, fraction_terms, plan.x_sides, steps))
    return features


class Plan:
    """How ``px + q = rx + s`` is solved: which of the five steps it needs (each 0 or 1), and the numbers
    after clearing fractions (``factor``: what both sides are multiplied by; ``coef``·x = ``const`` at the end)."""

    def __init__(self, p: Fraction, q: Fraction, r: Fraction, s: Fraction, brackets: bool, clear: bool):
        self.p, self.q, self.r, self.s = p, q, r, s
        self.factor = math.lcm(*(v.denominator for v in (p, q, r, s))) if clear else 1
        self.x_sides = int(p != 0) + int(r != 0)
        self.expand, self.clear = int(brackets), int(clear)
        self.collect = int(self.x_sides == 2)
        self.move = int((p != 0 and q != 0) or (r != 0 and s != 0))
        if p != 0:  # x ends on the left
            self.coef, self.const = (p - r) * self.factor, (s - q) * self.factor
        else:
            self.coef, self.const = r * self.factor, (q - s) * self.factor
        self.divide = int(self.coef != 1)


def _form(brackets: int, fraction_terms: int, x_sides: int, steps: int) -> str:
    if fraction_terms >= 2:
        return "fractions"
    if brackets:
        return "brackets"
    if x_sides == 2:
        return "both-sides"
    return "two-step" if steps == 2 else "one-step"


def solve_check(text: str, answer: dict[str, Fraction]) -> str | None:
    """None when :func:`sympy.solve` finds exactly ``answer`` and it satisfies every equation, else why not."""
    import sympy

    sides = _parse(text)
    symbols = sorted({s for pair in sides for side in pair for s in side.free_symbols}, key=str)
    solutions = sympy.solve([lhs - rhs for lhs, rhs in sides], symbols, dict=True)
    expected = {sympy.Symbol(k): sympy.Rational(v.numerator, v.denominator) for k, v in answer.items()}
    if len(solutions) != 1 or solutions[0] != expected:
        return f"answer: sympy solves {text} as {solutions}, not {answer}"
    for lhs, rhs in sides:
        if sympy.simplify(lhs.subs(expected) - rhs.subs(expected)) != 0:
            return f"answer: {answer} does not satisfy {lhs} = {rhs}"
    return None


@register_topic
class EquationTopic(Topic):
    """Linear equations from one-step to brackets, fractional coefficients and 2×2 systems."""

    name: ClassVar[str] = "equations"
    levels: ClassVar[dict[int, dict[str, Band]]] = {
        1: {"form": frozenset({"one-step"}), "unknowns": (1, 1), "steps": (1, 1), "brackets": (0, 0),
            "fraction_terms": (0, 1), "x_sides": (1, 1), "integer_solution": (1, 1)},
        2: {"form": frozenset({"two-step"}), "unknowns": (1, 1), "steps": (2, 2), "brackets": (0, 0),
            "fraction_terms": (0, 0), "x_sides": (1, 1), "integer_solution": (1, 1)},
        3: {"form": frozenset({"both-sides"}), "unknowns": (1, 1), "steps": (3, 3), "brackets": (0, 0),
            "fraction_terms": (0, 0), "x_sides": (2, 2), "integer_solution": (1, 1)},
        4: {"form": frozenset({"brackets"}), "unknowns": (1, 1), "steps": (4, 4), "brackets": (1, 2),
            "fraction_terms": (0, 0), "x_sides": (2, 2), "integer_solution": (1, 1)},
        5: {"form": frozenset({"fractions", "system"}), "unknowns": (1, 2), "steps": (4, 5), "brackets": (0, 0)},
    }  # fmt: skip
    feature_help: ClassVar[dict[str, str]] = {
        "form": "form", "unknowns": "unknowns", "steps": "steps", "brackets": "brackets",
        "fraction_terms": "fractional terms", "x_sides": "sides with x", "integer_solution": "whole-number solution",
    }  # fmt: skip

    def draw(self, rng: random.Random, level: int) -> Exercise:
        text, answer = DRAWERS[level](rng)
        features = measure(text)
        features["integer_solution"] = int(all(v.denominator == 1 for v in answer.values()))
        system = ";" in text
        steps = self._system_steps(text, answer) if system else self._steps(text, answer)
        prompt = self.say.say("prompt.system") if system else ""
        return Exercise(self.name, level, display(text), answer, text, prompt=prompt, steps=steps, features=features)

    def recheck(self, item: Exercise) -> str | None:
        return solve_check(item.expression, item.answer)

    def _steps(self, text: str, answer: dict[str, Fraction]) -> list[str]:
        """Expand, clear fractions, collect, divide, check: each step that this equation needs."""
        import sympy

        say, lines = self.say.say, []
        (lhs, rhs), = _parse(text)  # fmt: skip
        x = sympy.Symbol("x")
        clear = _fraction_terms(lhs) + _fraction_terms(rhs) >= 2
        plan = Plan(*_coefficients(lhs, x), *_coefficients(rhs, x), brackets="(" in text, clear=clear)
        p, q, r, s = plan.p, plan.q, plan.r, plan.s
        if plan.expand:
            lines.append(say("step.expand", work=_side(p, q) + " = " + _side(r, s)))
        if plan.clear:
            f = plan.factor
            lines.append(say("step.clear", factor=f, work=_side(p * f, q * f) + " = " + _side(r * f, s * f)))
        if plan.collect or plan.move:
            lines.append(say("step.collect", work=f"{_side(plan.coef, 0)} = {_n(plan.const)}"))
        if plan.divide:
            work = f"x = {_n(plan.const / plan.coef)}"
            if plan.coef.numerator == 1 and plan.coef > 0:  # x/3 = 4: multiply by 3
                lines.append(say("step.clear", factor=_n(1 / plan.coef), work=work))
            else:
                lines.append(say("step.divide", factor=_n(plan.coef), work=work))
        v = answer["x"]
        left, right = text.split("=")
        work = (f"x = {_n(v)}: {display(left.strip())} = {_n(p * v + q)}, "
                f"{display(right.strip())} = {_n(r * v + s)}")  # fmt: skip
        lines.append(say("step.check", work=work))
        return lines

    def _system_steps(self, text: str, answer: dict[str, Fraction]) -> list[str]:
        """Eliminate y, solve for x, substitute back, solve for y."""
        import sympy

        x, y = sympy.symbols("x y")
        rows = []
        for lhs, rhs in _parse(text):
            expr = sympy.expand(lhs - rhs)
            constant = expr.subs({x: 0, y: 0})
            rows.append([Fraction(str(expr.coeff(x))), Fraction(str(expr.coeff(y))), -Fraction(str(constant))])
        (a1, b1, c1), (a2, b2, c2) = rows
        say = self.say.say
        coef, const = a1 * b2 - a2 * b1, c1 * b2 - c2 * b1
        lines = [
            say("step.eliminate", first=1, second=2, a=_n(b2), b=_n(b1),
                work=f"{_side(coef, 0)} = {_n(const)}"),
            say("step.divide", factor=_n(coef), work=f"x = {_n(answer['x'])}"),
            say("step.back_substitute", x=_n(answer["x"]), first=1,
                work=f"{_side(b1, 0, 'y')} = {_n(c1 - a1 * answer['x'])}, y = {_n(answer['y'])}"),
        ]  # fmt: skip
        return lines


def _n(value: Fraction | int) -> str:
    """A number as the sheet writes it (``−7/2``)."""
    return display(format_number(value))


def _side(coef: Fraction, const: Fraction, var: str = "x") -> str:
    return display(linear([(coef, var), (const, "")]))


def _nonzero(rng: random.Random, low: int, high: int) -> int:
    return rng.choice([k for k in range(low, high + 1) if k != 0])


def _level1(rng: random.Random) -> tuple[str, dict[str, Fraction]]:
    x, a = rng.randint(1, 20), rng.randint(2, 12)
    shape = rng.randrange(4)
    if shape == 0:
        return f"x + {a} = {x + a}", {"x": Fraction(x)}
    if shape == 1:
        return f"x - {a} = {x - a}", {"x": Fraction(x)}
    if shape == 2:
        return f"{a}*x = {a * x}", {"x": Fraction(x)}
    return f"x/{a} = {x}", {"x": Fraction(x * a)}


def _level2(rng: random.Random) -> tuple[str, dict[str, Fraction]]:
    x, a, b = _nonzero(rng, -10, 10), rng.randint(2, 9), _nonzero(rng, -20, 20)
    if rng.random() < 0.8:
        return f"{linear([(a, 'x'), (b, '')])} = {a * x + b}", {"x": Fraction(x)}
    return f"{linear([(b, ''), (-a, 'x')])} = {b - a * x}", {"x": Fraction(x)}


def _level3(rng: random.Random) -> tuple[str, dict[str, Fraction]]:
    x, a = _nonzero(rng, -10, 10), rng.randint(1, 9)
    c, b = rng.choice([k for k in range(1, 10) if k != a]), _nonzero(rng, -20, 20)
    d = (a - c) * x + b
    return f"{linear([(a, 'x'), (b, '')])} = {linear([(c, 'x'), (d, '')])}", {"x": Fraction(x)}


def _level4(rng: random.Random) -> tuple[str, dict[str, Fraction]]:
    """``a(x + b) = cx + d``, its mirror, or ``a(x + b) = c(x + e)`` when the numbers allow."""
    x, a, b = _nonzero(rng, -10, 10), rng.randint(2, 9), _nonzero(rng, -9, 9)
    c = rng.choice([k for k in range(1, 10) if k != a])  # a = c: every x (or none) solves it
    left = f"{a}*({linear([(1, 'x'), (b, '')])})"
    d = a * (x + b) - c * x
    if rng.random() < 0.3 and c > 1 and d % c == 0 and d != 0:
        right = f"{c}*({linear([(1, 'x'), (d // c, '')])})"
    else:
        right = linear([(c, "x"), (d, "")])
    pair = (left, right) if rng.random() < 0.6 else (right, left)
    return f"{pair[0]} = {pair[1]}", {"x": Fraction(x)}


def _level5(rng: random.Random) -> tuple[str, dict[str, Fraction]]:
    """``x/a + b/c = x/d + e`` (a rational solution) or a 2×2 system with a whole-number solution."""
    if rng.random() < 0.5:
        a, d = rng.sample(range(2, 7), 2)
        c = rng.randint(2, 6)
        b = Fraction(_nonzero(rng, -c + 1, c - 1), c)
        x = Fraction(_nonzero(rng, -12, 12), rng.choice([1, 1, 2, 3]))
        e = x / a + b - x / d
        return f"{linear([(Fraction(1, a), 'x'), (b, '')])} = {linear([(Fraction(1, d), 'x'), (e, '')])}", {"x": x}
    x, y = _nonzero(rng, -9, 9), _nonzero(rng, -9, 9)
    rows = []
    while len(rows) < 2:
        a, b = _nonzero(rng, -6, 6), _nonzero(rng, -6, 6)
        if rows and a * rows[0][1] == b * rows[0][0]:
            continue  # parallel: no unique solution
        rows.append((a, b))
    text = "; ".join(f"{linear([(a, 'x'), (b, 'y')])} = {a * x + b * y}" for a, b in rows)
    return text, {"x": Fraction(x), "y": Fraction(y)}


DRAWERS = {1: _level1, 2: _level2, 3: _level3, 4: _level4, 5: _level5}
