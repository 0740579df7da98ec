"""The words of a worksheet in English and Chinese: titles, instructions, question prompts and worked-step phrases.

Generators never write prose themselves: they call :meth:`Phrases.say` with a key, so the same seed gives
the same questions in both languages and only the words around them change.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh")

TOPIC_NAMES = {
    "en": {"arithmetic": "arithmetic", "fractions": "fractions", "equations": "linear equations",
           "vocabulary": "vocabulary"},
    "zh": {"arithmetic": "算术", "fractions": "分数", "equations": "一元一次方程与方程组", "vocabulary": "英语词汇"},
}  # fmt: skip

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Practice sheet: {topic}, level {level}",
        "name_line": "Name: ______________    Date: ______________",
        "about": "{n} questions · seed {seed}",
        "answer_key": "Answer key",
        "instructions.arithmetic": "Work out each answer.",
        "instructions.fractions": (
            "Work out each answer. Give fractions in lowest terms and write improper fractions as mixed numbers."
        ),
        "instructions.equations": "Solve each equation. Give exact answers (fractions, not decimals).",
        "instructions.vocabulary": "Choose the word that fills the blank.",
        "prompt.system": "Solve the system:",
        "step.common_denominator": "common denominator {den}: {work}",
        "step.to_improper": "as improper fractions: {work}",
        "step.multiply": "multiply numerators and denominators: {work}",
        "step.reciprocal": "multiply by the reciprocal: {work}",
        "step.simplify": "simplify: {work}",
        "step.mixed": "as a mixed number: {work}",
        "step.expand": "expand the brackets: {work}",
        "step.clear": "multiply both sides by {factor}: {work}",
        "step.collect": "collect the x terms on one side and the numbers on the other: {work}",
        "step.divide": "divide both sides by {factor}: {work}",
        "step.eliminate": "eliminate y: ({first}) × {a} − ({second}) × {b}: {work}",
        "step.back_substitute": "put x = {x} into ({first}): {work}",
        "step.check": "check: {work}",
        "step.meaning": "the word fits: “{sentence}”",
        "step.frequency": "frequency rank {rank} in {corpus} (seen {count}×)",
        "source.model": "sentence written by the model",
    },
    "zh": {
        "title": "练习：{topic}（第 {level} 级）",
        "name_line": "姓名：______________    日期：______________",
        "about": "共 {n} 题 · 随机种子 {seed}",
        "answer_key": "参考答案",
        "instructions.arithmetic": "计算下列各题。",
        "instructions.fractions": "计算下列各题。结果化为最简分数，假分数写成带分数。",
        "instructions.equations": "解下列方程（组），答案写精确值（用分数，不用小数）。",
        "instructions.vocabulary": "选择恰当的英语单词填空。",
        "prompt.system": "解方程组：",
        "step.common_denominator": "通分（公分母 {den}）：{work}",
        "step.to_improper": "化为假分数：{work}",
        "step.multiply": "分子乘分子，分母乘分母：{work}",
        "step.reciprocal": "除以一个数等于乘它的倒数：{work}",
        "step.simplify": "约分：{work}",
        "step.mixed": "化为带分数：{work}",
        "step.expand": "去括号：{work}",
        "step.clear": "两边同乘 {factor}，去分母：{work}",
        "step.collect": "移项，合并同类项：{work}",
        "step.divide": "两边同除以 {factor}：{work}",
        "step.eliminate": "消去 y：({first}) × {a} − ({second}) × {b}：{work}",
        "step.back_substitute": "把 x = {x} 代入 ({first})：{work}",
        "step.check": "检验：{work}",
        "step.meaning": "填入后：“{sentence}”",
        "step.frequency": "该词在 {corpus} 中的词频排名 {rank}（出现 {count} 次）",
        "source.model": "句子由模型生成",
    },
}


class Phrases:
    """The phrases of one language: ``Phrases("zh").say("step.simplify", work="6/8 = 3/4")``."""

    def __init__(self, lang: str = "en"):
        if lang not in PHRASES:
            from genlab.core.errors import BadInputError

            raise BadInputError(f"no worksheet language '{lang}'", f"choose one of: {', '.join(LANGUAGES)}")
        self.lang = lang
        self.table = PHRASES[lang]

    def say(self, key: str, **values: Any) -> str:
        """The phrase ``key`` with ``values`` filled in."""
        return self.table[key].format(**values)

    def topic(self, topic: str) -> str:
        """The topic's name in this language."""
        return TOPIC_NAMES[self.lang][topic]
