"""Practice sheets (genlab exercises): every answer recomputed here, levels measured, seeds, languages, errors."""

import ast
import json
import math
import operator
import random
import re
import statistics
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from genlab.core.errors import BadInputError, GenlabError
from genlab.text.exercises import TOPICS, ExercisesPipeline, make_sheet
from tests.cli_helpers import cli_ok

LEVELS = (1, 2, 3, 4, 5)
N = 20
SHAKESPEARE = Path(__file__).resolve().parents[2] / "src" / "genlab" / "text" / "data" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def sheets():
    """Every topic at every level, seed 0 (made once: the equations call SymPy)."""
    return {(t, lv): make_sheet(t, lv, N, seed=0) for t in TOPICS for lv in LEVELS}


# ----------------------------------------------------------------------------- recomputing answers here
def exact(text: str) -> Fraction:
    """Evaluate + - * / and brackets over whole numbers with Fraction (this test's own evaluator)."""
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def walk(node):
        if isinstance(node, ast.Constant):
            return Fraction(node.value)
        if isinstance(node, ast.UnaryOp):
            return -walk(node.operand)
        return ops[type(node.op)](walk(node.left), walk(node.right))

    return walk(ast.parse(text, mode="eval").body)


def shown_value(question: str) -> Fraction:
    """The value of a question as the sheet shows it (× ÷ −, mixed numbers ``2 1/3``), read independently."""
    text = question.rstrip(" =").replace("×", "*").replace("÷", "/").replace("−", "-")
    text = re.sub(r"(\d+) (\d+)/(\d+)", r"(\1+\2/\3)", text)  # mixed numbers
    text = re.sub(r"(?<![(\d+])(\d+)/(\d+)", r"(\1/\2)", text)  # a fraction is one number
    return exact(text)


def test_arithmetic_answers_recompute_from_the_question(sheets):
    for level in LEVELS:
        for item in sheets["arithmetic", level].items:
            assert isinstance(item.answer, int) and item.answer >= 0
            assert shown_value(item.question) == item.answer == exact(item.expression), item.question


def test_fraction_answers_recompute_from_the_question_in_lowest_terms(sheets):
    for level in LEVELS:
        for item in sheets["fractions", level].items:
            assert isinstance(item.answer, Fraction) and item.answer >= 0
            assert shown_value(item.question) == item.answer, item.question
            num, _, den = item.answer_text().split(" = ")[0].partition("/")  # "19/12 = 1 7/12" or "3"
            assert Fraction(int(num), int(den or 1)) == item.answer and math.gcd(int(num), int(den or 1)) == 1


def test_equation_solutions_substitute_back_and_are_the_only_ones(sheets):
    import sympy
    from sympy.parsing.sympy_parser import implicit_multiplication, parse_expr, standard_transformations

    transformations = (*standard_transformations, implicit_multiplication)
    for level in LEVELS:
        for item in sheets["equations", level].items:
            # read what the sheet shows (3x − 5 = 2(x + 1)), not the generator's ASCII form
            shown = re.sub(r"\(\d\) ", "", item.question).replace("−", "-").split(";")  # (1) 2x + y = 3;  (2) …
            pairs = [[parse_expr(side, transformations=transformations) for side in eq.split("=")] for eq in shown]
            values = {sympy.Symbol(k): sympy.Rational(v.numerator, v.denominator) for k, v in item.answer.items()}
            for lhs, rhs in pairs:
                assert sympy.simplify(lhs.subs(values) - rhs.subs(values)) == 0, item.question
            unknowns = sorted(set().union(*(s.free_symbols for p in pairs for s in p)), key=str)
            assert sympy.solve([lhs - rhs for lhs, rhs in pairs], unknowns, dict=True) == [values], item.question
            if level < 5:
                assert all(v.denominator == 1 for v in item.answer.values())


@pytest.fixture(scope="module")
def ranks():
    """Frequency ranks of tiny Shakespeare's words, counted here: 1 + the number of words seen more often."""
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", SHAKESPEARE.read_text()))
    more_often = Counter()
    for c in counts.values():
        more_often[c] += 1
    above, rank_of_count = 0, {}
    for c in sorted(more_often, reverse=True):
        rank_of_count[c] = above + 1
        above += more_often[c]
    return {w: rank_of_count[c] for w, c in counts.items()}


RANK_BANDS = {1: (1, 500), 2: (501, 1500), 3: (1501, 3000), 4: (3001, 6000), 5: (6001, 10**9)}  # docs/exercises.md


def test_cloze_items_fill_back_once_with_a_word_of_the_right_rank(sheets, ranks):
    for level in LEVELS:
        items = sheets["vocabulary", level].items
        assert len({i.answer for i in items}) == N  # distinct target words
        for item in items:
            sentence = item.question.replace("_____", item.answer)
            assert sentence.lower() == item.expression.lower()
            assert [w.lower() for w in re.findall(r"[A-Za-z']+", sentence)].count(item.answer) == 1
            assert sorted(set(item.options)) == sorted(item.options) and len(item.options) == 4
            assert item.answer in item.options and item.answer_text().endswith(item.answer)
            low, high = RANK_BANDS[level]
            assert ranks[item.answer] == item.features["rank"] and low <= ranks[item.answer] <= high
            assert all(low <= ranks[o] <= high for o in item.options)


# ----------------------------------------------------------------------------- difficulty
def test_every_item_is_in_its_level_band_and_items_are_distinct(sheets):
    from genlab.text.exercises.sheet import band_problem

    for (topic, level), sheet in sheets.items():
        assert len(sheet.items) == N and len({i.key for i in sheet.items}) == N
        for item in sheet.items:
            assert item.level == level and band_problem(item.features, TOPICS[topic].levels[level]) is None


def _digits(item):
    return max(len(n) for n in re.findall(r"\d+", item.question))


def _operators(item):
    return len(re.findall(r" [+−×÷] ", item.question))


def _largest_denominator(item):
    return max(int(d) for d in re.findall(r"/(\d+)", item.question))


MEASURES = {  # measured here from the question where that is simple, else the item's features
    "arithmetic": {"digits": _digits, "operations": _operators},
    "fractions": {"denominator": _largest_denominator, "work": lambda i: i.features["work_denominator"],
                  "operations": _operators},
    "equations": {"steps": lambda i: i.features["steps"]},
    "vocabulary": {"rank": lambda i: i.features["rank"], "words": lambda i: len(i.expression.split())},
}  # fmt: skip


@pytest.mark.parametrize("topic", sorted(MEASURES))
def test_difficulty_features_rise_with_level(sheets, topic):
    for name, measure in MEASURES[topic].items():
        means = [statistics.mean(measure(i) for i in sheets[topic, lv].items) for lv in LEVELS]
        if name == "denominator":  # mixed-number products keep small denominators: only the ends are ordered
            assert means[0] < means[-1], (name, means)
            continue
        assert all(a <= b for a, b in zip(means, means[1:], strict=False)) and means[0] < means[-1], (name, means)


# ----------------------------------------------------------------------------- seeds and languages
def test_the_same_seed_gives_the_same_sheet_and_another_seed_another():
    for topic in TOPICS:
        first = [i.to_dict() for i in make_sheet(topic, 3, 8, seed=1).items]
        assert first == [i.to_dict() for i in make_sheet(topic, 3, 8, seed=1).items]
        assert [d["question"] for d in first] != [i.question for i in make_sheet(topic, 3, 8, seed=2).items]


def test_english_and_chinese_sheets_ask_the_same_questions():
    pipe = ExercisesPipeline(None)
    for topic in TOPICS:
        en = pipe.run(pipe.request(topic=topic, level=2, n=4, seed=0, lang="en"))
        zh = pipe.run(pipe.request(topic=topic, level=2, n=4, seed=0, lang="zh"))
        assert [i.question for i in en.sheet.items] == [i.question for i in zh.sheet.items]
        en_md, zh_md = en.encode("md").decode(), zh.encode("md").decode()
        assert "Answer key" in en_md and "## 参考答案" in zh_md and "练习" in zh_md
        assert re.search(r"[\u4e00-\u9fff]", zh.text()) and not re.search(r"[\u4e00-\u9fff]", en.text())


# ----------------------------------------------------------------------------- the pipeline and the CLI
def test_output_saves_markdown_text_and_json(tmp_path):
    pipe = ExercisesPipeline(None)
    out = pipe.run(pipe.request(topic="equations", level=5, n=6, seed=3))
    md = out.save(tmp_path / "sheet.md").read_text()
    assert md.startswith("# Practice sheet: linear equations, level 5") and "## Answer key" in md
    assert re.search(r"^6\. ", md, re.M) and "check:" in md
    record = json.loads(out.encode("json"))
    assert record["n"] == 6 and record["level_bands"]["steps"] == [4, 5]
    assert all("steps" in item["features"] and item["answer"] for item in record["items"])
    assert json.loads((out.save(tmp_path / "sheet.json")).read_text()) == record
    assert out.save(tmp_path / "sheet.txt").read_text() == out.text()
    bare = pipe.run(pipe.request(topic="equations", level=5, n=6, seed=3, answers=False))
    assert "Answer key" not in bare.encode().decode() and "answer" not in json.loads(bare.encode("json"))["items"][0]
    with pytest.raises(BadInputError, match="formats: md, txt, json"):
        out.encode("pdf")


def test_markdown_escapes_the_cloze_blank():
    pipe = ExercisesPipeline(None)
    md = pipe.run(pipe.request(topic="vocabulary", level=1, n=3, seed=0)).encode("md").decode()
    assert r"\_\_\_\_\_" in md and "(A) " in md


def test_model_sentences_are_used_only_when_they_hold_the_word_once():
    from genlab.text.exercises.language import Phrases
    from genlab.text.exercises.vocabulary import VocabularyTopic

    written = ["The king is dead and the king is gone.", "Now the king rides through the town."]
    topic = VocabularyTopic(Phrases("en"), sentences=written)
    rng = random.Random(0)
    items = [topic.draw(rng, 1) for _ in range(8)]
    from_model = [i for i in items if i.source == "model"]
    assert from_model and items[-1].source == "corpus"  # the model's words are used up first, then the corpus
    for item in from_model:
        assert item.expression in written and topic.verify(item) is None
        assert [w.strip(".").lower() for w in item.expression.split()].count(item.answer) == 1
    assert ("king", written[0]) not in {(i.answer, i.expression) for i in from_model}


def test_bad_level_topic_and_count_are_clear_errors():
    pipe = ExercisesPipeline(None)
    with pytest.raises(GenlabError, match=r"no level 7.*1 \(easiest\) to 5 \(hardest\)") as e:
        pipe.request(level=7)
    assert "--level 1" in e.value.hint
    with pytest.raises(GenlabError, match="arithmetic"):
        pipe.request(topic="geometry")
    with pytest.raises(GenlabError, match="exercises.n") as e:
        pipe.request(n=500)
    assert e.value.hint
    with pytest.raises(GenlabError, match="exercise topic 'fraction'") as e:
        make_sheet("fraction", 1, 5, seed=0)
    assert "did you mean 'fractions'" in e.value.hint
    with pytest.raises(BadInputError, match="gave only 110 distinct") as e:  # one-digit sums without carrying
        make_sheet("arithmetic", 1, 150, seed=0)
    assert "--n" in e.value.hint


def test_the_cli_verb_writes_a_sheet_and_refuses_an_impossible_level(tmp_path, capsys):
    out = tmp_path / "sheet.md"
    code, text = cli_ok(["exercises", "--topic", "fractions", "--level", "3", "--n", "5", "--seed", "0",
                         "--out", str(out)], capsys)  # fmt: skip
    assert code == 0 and out.read_text().count("\n1. ") == 2  # the question and its answer
    code, text = cli_ok(["exercises", "--topic", "arithmetic", "--level", "2", "--n", "3", "--seed", "0",
                         "--lang", "zh"], capsys)  # fmt: skip
    assert code == 0 and "参考答案" in text
    code, text = cli_ok(["exercises", "--level", "9"], capsys)
    assert code == 2 and "levels run from 1 (easiest) to 5 (hardest)" in text and "hint: give --level 1" in text
    code, text = cli_ok(["exercises", "--topic", "geometry"], capsys)
    assert code == 2 and "arithmetic" in text and "internal error" not in text
