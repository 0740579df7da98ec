"""Poems: form, acrostic and rhyme hold on every sample of an untrained model; bad requests are refused."""

import pytest

from genlab.core.errors import BadInputError, UnknownNameError
from genlab.text.poems import FORMS, check_poem, detect_form, form_compliance, generate_poems, rhyme_groups

from .helpers import POEM_TEXT, POEMS, tiny_model

ACROSTIC = {4: "春夏秋冬", 8: "春夏秋冬风花雪月"}


@pytest.fixture(scope="module")
def poem_model():
    return tiny_model("text/gpt", text=POEM_TEXT, seed=3, block_size=64)


@pytest.mark.parametrize("form", list(FORMS))
def test_every_sample_keeps_form_acrostic_and_rhyme(poem_model, form):
    f = FORMS[form]
    acrostic = ACROSTIC[f.n_lines]
    poems = generate_poems(poem_model, form, n=6, acrostic=acrostic, rhyme=True, seed=0, temperature=1.5)
    for p in poems:
        assert check_poem(p, f, acrostic, rhyme=True) == [], p
        assert detect_form(p) == f
    assert len(set(poems)) > 1  # samples differ: the model chooses among allowed characters
    assert form_compliance(poems, f, acrostic, rhyme=True) == 1.0


def test_plain_poems_and_ngram_models_comply_too():
    from .helpers import Stream

    ngram = tiny_model("text/ngram", text=POEM_TEXT)
    ngram.fit(Stream(ngram.tokenizer.encode(POEM_TEXT)))
    for p in generate_poems(ngram, "qiyan-jueju", n=4, seed=1, rhyme=True):
        assert check_poem(p, FORMS["qiyan-jueju"], rhyme=True) == [], p


def test_check_poem_finds_each_kind_of_break():
    jueju = FORMS["wuyan-jueju"]
    good = POEMS[0]
    assert check_poem(good, jueju) == [] and check_poem(good, jueju, rhyme=True) == []  # 霜 / 乡 rhyme
    assert "ends with" in check_poem(good.replace("，", "。", 1), jueju)[0]
    assert "non-Chinese" in check_poem("床前明月A，" + good[6:], jueju)[0]
    assert "starts with" in check_poem(good, jueju, acrostic="春夏秋冬")[0]
    assert "rhyme" in check_poem("床前明月光，疑是地上霜。举头望明月，低头思故人。", jueju, rhyme=True)[0]
    assert detect_form(good) == jueju and detect_form(POEMS[5]).name == "qiyan-jueju" and detect_form("你好") is None


def test_rhyme_groups_follow_modern_finals():
    assert rhyme_groups("霜") & rhyme_groups("乡") & rhyme_groups("光")
    assert not rhyme_groups("霜") & rhyme_groups("人")
    assert rhyme_groups("A") == frozenset()
    assert rhyme_groups("还") == {"怀来"} and rhyme_groups("年") == {"言前"}  # the most common reading only
    assert check_poem(POEMS[1], FORMS["wuyan-jueju"], rhyme=True) == []  # 流 / 楼
    assert check_poem(POEMS[2], FORMS["wuyan-jueju"], rhyme=True) == []  # 鸟 / 少


def test_bad_requests_raise_clear_errors(poem_model):
    with pytest.raises(BadInputError, match="needs 4 characters"):
        generate_poems(poem_model, "wuyan-jueju", acrostic="春夏")
    with pytest.raises(BadInputError, match="vocabulary"):
        generate_poems(poem_model, "wuyan-jueju", acrostic="春夏秋龘")
    with pytest.raises(UnknownNameError, match="wuyan-jueju"):
        generate_poems(poem_model, "wuyan-juju")
    with pytest.raises(BadInputError, match="poems"):
        generate_poems(tiny_model("text/gpt"), "wuyan-jueju")  # English vocabulary: no 「，」
