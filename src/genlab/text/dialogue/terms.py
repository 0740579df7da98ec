"""Index terms of a message: what the retrieval layer compares.

English (and any Latin-script word): lowercased, split on everything that is not a letter or a digit
(``don't`` → ``don``, ``t``), each word reduced by the Porter stemmer (Porter 1980, "An algorithm for suffix
stripping"; nltk's implementation, which needs no corpora) so ``returns``, ``returned`` and ``returning`` meet.
Chinese: segmented into words by jieba (its default dictionary, precise mode), each word of several characters
followed by its single characters — words and characters together, as Nie et al. 2000 ("On the Use of Words
and N-grams for Chinese Information Retrieval") found best, so ``快递`` still meets ``快件`` when the segmenter
splits two wordings differently. Stop words — function words
that say how a question is asked, not what it asks (``how``, ``do``, ``I``, ``my``; ``的``, ``吗``, ``怎么``) — are
dropped (the lists below are genlab's own): in an FAQ of a few hundred short questions BM25's inverse document
frequency cannot tell them from content words, and "How do I …" would otherwise outweigh the one word that matters.
"""

from __future__ import annotations

import re

from genlab.text.language import has_cjk, jieba_module, porter_stem

#: English function words (before stemming). Negations and content-bearing adverbs (``not``, ``now``) are kept.
_EN_FUNCTION_WORDS = """
    a an the this that these those there here
    i me my mine myself we us our ours you your yours he him his she her it its they them their
    am is are was were be been being do does did doing done have has had having
    can could will would shall should may might must
    what which who whom whose when where why how
    and or but if then so as of at by for with about into onto from to in on up out off over than too very
    just also any some all each every both either such own same other
    please hi hello hey thanks thank ok okay
    s t d ll m re ve
"""
STOP_WORDS_EN = frozenset(_EN_FUNCTION_WORDS.split())
#: Chinese function words and particles (jieba's segmentation units).
_ZH_FUNCTION_WORDS = """
    的 了 吗 呢 吧 啊 呀 嘛 么 是 在 我 我们 你 你们 您 他 她 它 这 那 这个 那个 就 都 也 还 和 与 或 请 请问 一下
    怎么 怎么样 怎样 如何 什么 哪 哪里 哪儿 多少 几 可以 能 能否 要 想 会 有没有 没有 有
"""
STOP_WORDS_ZH = frozenset(_ZH_FUNCTION_WORDS.split())
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits (any script)


has_han = has_cjk  # whether a text holds a Chinese (Han) character
stem = porter_stem


def _latin_terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS_EN]


def terms(text: str) -> list[str]:
    """Index terms of ``text``, in order, repeats kept (BM25 counts them).

    Text with Han characters goes through jieba first; Latin words inside it (``iPhone``, ``PayPal``) are
    then lowercased and stemmed like English, punctuation and spaces are dropped.
    """
    if not has_han(text):
        return _latin_terms(text)
    out: list[str] = []
    for piece in jieba_module().lcut(text):
        if has_han(piece):
            for word in _WORD.findall(piece):
                if word not in STOP_WORDS_ZH:
                    out.append(word)
                    out.extend(word if len(word) > 1 and has_han(word) else ())  # its characters too
        else:
            out.extend(_latin_terms(piece))
    return out


def keyword_regex(phrase: str) -> re.Pattern[str]:
    """A case-insensitive regex for ``phrase`` as whole words (any run of spaces between them); a phrase with
    Chinese characters matches as a plain substring, since Chinese has no spaces between words."""
    body = r"\s+".join(re.escape(w) for w in phrase.split())
    return re.compile(body if has_han(phrase) else rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
