"""Normalisation, sentence splitting, script runs, input errors and the phoneme vocabulary (no eSpeak NG needed)."""

import json

import pytest

from genlab.core.errors import BadInputError
from genlab.speech import text as T

EN_CASES = [
    ("I have 3 apples.", "I have three apples."),
    ("1,234,567 people", "one million two hundred thirty-four thousand five hundred sixty-seven people"),
    ("-3 and 0.25", "minus three and zero point two five"),
    ("the 21st, 2nd, 3rd and 12th", "the twenty-first, second, third and twelfth"),
    ("in 1999, 1905 and 2000.", "in nineteen ninety-nine, nineteen oh five and two thousand."),
    ("2005 or 2026", "two thousand five or twenty twenty-six"),
    ("the 1990s", "the nineteen nineties"),
    ("on 2026-12-05", "on December fifth, twenty twenty-six"),
    ("on 5 Dec 2026", "on December fifth, twenty twenty-six"),
    ("Dec 5, 2026", "December fifth, twenty twenty-six"),
    ("at 7:30 pm", "at seven thirty p m"),
    ("at 7:05", "at seven oh five"),
    ("at 10:00", "at ten o'clock"),
    ("$3.50", "three dollars and fifty cents"),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("£12", "twelve pounds"),
    ("€1,000", "one thousand euros"),
    ("$2.5 million", "two point five million dollars"),
    ("4.5%", "four point five percent"),
    ("Dr. Smith", "Doctor Smith"),
    ("Mr. Brown and Mrs. Brown", "Mister Brown and Missus Brown"),
    ("St. Peter lives on Baker St.", "Saint Peter lives on Baker Street."),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("Dr. Who, etc. and more", "Doctor Who, et cetera and more"),
    ("No. 5", "number five"),
    ("007", "zero zero seven"),
]  # fmt: skip

ZH_CASES = [
    ("我有3个苹果", "我有三个苹果"),
    ("10", "十"),
    ("12", "十二"),
    ("105", "一百零五"),
    ("1005", "一千零五"),
    ("10010", "一万零一十"),
    ("20000", "二万"),
    ("100200", "十万零二百"),
    ("1400000000", "十四亿"),
    ("3.14", "三点一四"),
    ("-5度", "负五度"),
    ("2026年", "二零二六年"),
    ("2026年12月5日", "二零二六年十二月五日"),
    ("过了10年", "过了十年"),
    ("2个人, 12个人", "两个人，十二个人"),
    ("2026-12-05", "二零二六年十二月五日"),
    ("涨幅50%", "涨幅百分之五十"),
    ("4.5%", "百分之四点五"),
    ("7:30", "七点三十分"),
    ("7:05", "七点零五分"),
    ("2:00", "两点整"),
    ("￥12.50", "十二点五元"),
    ("$3", "三美元"),
    ("编号007", "编号零零七"),
    ("１２３", "一百二十三"),
    ("你好,世界!真的?", "你好，世界！真的？"),
    ("好的. 走吧.", "好的。走吧。"),
]


@pytest.mark.parametrize("raw, expected", EN_CASES)
def test_normalize_en(raw, expected):
    assert T.normalize_en(raw) == expected


@pytest.mark.parametrize("raw, expected", ZH_CASES)
def test_normalize_zh(raw, expected):
    assert T.normalize_zh(raw) == expected


def test_number_words():
    assert T.cardinal(0) == "zero"
    assert T.cardinal(101) == "one hundred one"
    assert T.ordinal(100) == "one hundredth"
    assert T.ordinal(40) == "fortieth"
    assert T.year(1800) == "eighteen hundred"
    assert T.cardinal_zh(0) == "零"
    assert T.cardinal_zh(110) == "一百一十"
    assert T.digits_zh("1949") == "一九四九"


def test_normalize_mixed_text_runs_each_language():
    assert T.normalize("我有3个苹果 and 2 pears") == "我有三个苹果 and two pears"
    assert T.normalize("2026-12-05", "zh") == "二零二六年十二月五日"
    assert T.normalize("2026-12-05", "en") == "December fifth, twenty twenty-six"


def test_script_runs():
    assert T.script_runs("我有3个苹果 and an apple, 2 of them") == [
        ("zh", "我有3个苹果 "),
        ("en", "and an apple, 2 of them"),
    ]
    assert T.script_runs("Hello 世界") == [("en", "Hello "), ("zh", "世界")]
    assert T.script_runs("hello 👋 world") == [("en", "hello  world")]  # emoji are not spoken
    assert T.script_runs("ok 👍🏽❤️ cafe\u0301") == [("en", "ok  café")]  # modifiers and selectors too; NFC


@pytest.mark.parametrize("bad", ["", "   ", "👍🎉", "🙂 !!", "…"])
def test_empty_or_emoji_text_is_refused_with_a_hint(bad):
    with pytest.raises(BadInputError) as e:
        T.normalize(bad)
    assert e.value.hint and "emoji" in e.value.hint


def test_unspeakable_script_is_named():
    with pytest.raises(BadInputError, match="'Привет'.*Cyrillic"):
        T.normalize("Hello Привет world")


def test_split_sentences():
    text = "Dr. Smith arrived. He said hello! Did J. R. R. Tolkien write it? 你好。今天天气很好！我们走吧"
    assert T.split_sentences(text) == [
        "Dr. Smith arrived.",
        "He said hello!",
        "Did J. R. R. Tolkien write it?",
        "你好。",
        "今天天气很好！",
        "我们走吧",
    ]


def test_long_sentences_are_cut_at_commas_then_spaces():
    text = "one, two, three, four, five six seven eight nine ten"
    parts = T.split_sentences(text, max_chars=12)
    assert parts == ["one, two,", "three, four,", "five six", "seven eight", "nine ten"]
    assert all(len(p) <= 12 for p in parts)
    poem = "白日依山尽，黄河入海流，欲穷千里目，更上一层楼。"
    assert T.split_sentences(poem, max_chars=12) == ["白日依山尽，黄河入海流，", "欲穷千里目，更上一层楼。"]
    assert T.split_sentences("一二三四五六七八九十", max_chars=4) == ["一二三四", "五六七八", "九十"]


def test_vocabulary_round_trip_through_json(tmp_path):
    vocab = T.PhonemeVocabulary.build([["h", "ˈ", "ɛ", "l", "oʊ"], ["m", "ɑ", "˧˥"]])
    assert vocab.symbols[:5] == ["<pad>", "<bos>", "<eos>", " ", "<unk>"]
    ids = vocab.encode(["h", "ˈ", "ɛ", " ", "m", "ɑ", "˧˥"], add_bos_eos=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id and ids[4] == vocab.space_id
    path = vocab.save(tmp_path / "phonemes.json")
    assert json.loads(path.read_text(encoding="utf-8"))["symbols"] == vocab.symbols[5:]
    loaded = T.PhonemeVocabulary.load(path)
    assert loaded == vocab
    assert loaded.decode(ids) == ["h", "ˈ", "ɛ", " ", "m", "ɑ", "˧˥"]


def test_unknown_symbols_are_counted_and_reported():
    vocab = T.PhonemeVocabulary(["a", "b"])
    with pytest.warns(UserWarning, match="'x'×2"):
        ids = vocab.encode(["a", "x", "b", "x", "y"])
    assert ids == [5, vocab.unk_id, 6, vocab.unk_id, vocab.unk_id]
    assert vocab.unknown == {"x": 2, "y": 1}
    strict = T.PhonemeVocabulary(["a"], strict=True)
    with pytest.raises(BadInputError, match="'z'"):
        strict.encode(["a", "z"])


def test_vocabulary_load_refuses_other_files(tmp_path):
    (tmp_path / "v.json").write_text('{"symbols": ["a"]}')
    with pytest.raises(BadInputError, match="not a genlab phoneme vocabulary"):
        T.PhonemeVocabulary.load(tmp_path / "v.json")
    with pytest.raises(BadInputError, match="symbol mode"):
        T.PhonemeVocabulary(mode="letters")


def test_character_fallback():
    chars = T.characters("Dr. Who paid $3!")
    assert "".join(chars) == "doctor who paid three dollars!"
    vocab = T.PhonemeVocabulary.build([chars], mode="character")
    assert vocab.mode == "character"
    assert vocab.decode(vocab.encode(vocab.symbolize("Who paid $3!"))) == list("who paid three dollars!")
    assert T.characters("你好,3个") == list("你好，三个")
