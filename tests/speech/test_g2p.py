"""Phonemes from eSpeak NG (the bundled 1.52 through ctypes): fixed sentences, stress, tones, mixed scripts."""

import pytest

from genlab.audio import espeak
from genlab.core.errors import BadInputError
from genlab.speech import text as T

pytestmark = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")

FIXED = [
    ("Hello world, this is a test.", "en", "həlˈoʊ wˈɜːld, ðɪs ɪz ɐ tˈɛst."),
    ("Dr. Smith paid $3.50!", "en", "dˈɑːktɚ smˈɪθ pˈeɪd θɹˈiː dˈɑːlɚz ænd fˈɪfti sˈɛnts!"),
    ("妈麻马骂吗。", "zh", "mˈɑ˥˥ mˈɑ˧˥ mˈɑ˨˩˦ mˈɑ˥˩ mˈɑ˩˩."),
    ("你好，世界！", "zh", "ni˨˩˦χˈɑu˨˩˦, s.ˈi.˥˩ tɕˈiɛ˥˩!"),
    ("我有3个苹果 and an apple.", "en", "wˈo˨˩˦ jˈiou˨˩˦ sa˥˥nkˈo-˩˩ phi˧˥ŋkˈuo˨˩˦ ænd ɐn ˈæpəl."),
]


@pytest.fixture(scope="module")
def g2p():
    with T.Phonemizer() as phonemizer:
        yield phonemizer


@pytest.mark.parametrize("text, language, ipa", FIXED)
def test_fixed_sentences(g2p, text, language, ipa):
    assert T.to_ipa(g2p(text, language)) == ipa


def test_output_is_stable_and_matches_the_one_shot_function(g2p):
    text = "Tickets cost $12 on 5 Dec 2026."
    assert g2p(text) == g2p(text) == T.phonemize(text)
    assert g2p.version.startswith("1.52")


def test_stress_marks_and_tones_are_separate_symbols(g2p):
    english = g2p("Remarkable understanding.")
    assert "ˈ" in english and "ˌ" in english
    assert not any(s != "ˈ" and "ˈ" in s for s in english)  # never glued to a phoneme
    mandarin = g2p("妈麻马骂", "zh")
    tones = [s for s in mandarin if set(s) <= set("˥˦˧˨˩")]
    assert tones == ["˥˥", "˧˥", "˨˩˦", "˥˩"]
    assert T.tone_letters("214") == "˨˩˦"


def test_words_and_clauses_are_marked(g2p):
    symbols = g2p("Yes, sir. No?")
    assert symbols.count(T.WORD_BOUNDARY) == 2
    assert [s for s in symbols if s in ",.?"] == [",", ".", "?"]
    assert g2p("好，走吧。", "zh")[-1] == "."


def test_normalisation_happens_first(g2p):
    assert g2p("3 cats") == g2p("three cats")
    assert g2p("3只猫", "zh") == g2p("三只猫", "zh")
    assert g2p("3 cats", normalize=False) == g2p("three cats")  # eSpeak reads plain numbers itself


def test_characters_espeak_cannot_say_are_reported(g2p):
    before = g2p.unknown["穷"]
    with pytest.warns(UserWarning, match="穷"):
        symbols = g2p("欲穷千里目", "zh")
    assert g2p.unknown["穷"] == before + 1
    assert T.to_ipa(symbols) == "jˈy˥˩ tɕhiɛ˥˥nlˈi˨˩˦ mˈu˥˩"


def test_vocabulary_from_phonemes(g2p, tmp_path):
    sentences = [g2p("The cat sat."), g2p("猫坐着。", "zh")]
    vocab = T.PhonemeVocabulary.build(sentences)
    loaded = T.PhonemeVocabulary.load(vocab.save(tmp_path / "phonemes.json"))
    for symbols in sentences:
        assert loaded.decode(loaded.encode(symbols)) == symbols
    with pytest.warns(UserWarning, match="not in the vocabulary"):
        ids = loaded.encode(loaded.symbolize("The dog barked.", g2p=g2p))
    assert loaded.unk_id in ids and sum(loaded.unknown.values()) >= 1


def test_bad_input(g2p):
    with pytest.raises(BadInputError, match="nothing to speak"):
        g2p("🎉🎉")
    with pytest.raises(BadInputError, match="Cyrillic"):
        g2p("Да")
    with pytest.raises(BadInputError, match="language"):
        g2p("hello", "fr")
