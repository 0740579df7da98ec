"""Function words left out of the sentence vectors of the extractive methods.

They carry little of what a sentence is about, so two sentences sharing only "the" and "of" should
not look alike. The lists are short and hand-written: articles, pronouns, auxiliaries, prepositions,
conjunctions and the commonest adverbs (English, lowercase), and the commonest Chinese particles,
pronouns and conjunctions (as jieba segments them).
"""

from __future__ import annotations

ENGLISH = frozenset(
    [
        "a", "an", "the", "this", "that", "these", "those", "it", "its", "itself", "they", "them", "their", "theirs",
        "we", "us", "our", "ours", "you", "your", "yours", "he", "him", "his", "she", "her", "hers", "i", "me", "my",
        "mine", "one", "ones", "who", "whom", "whose", "which", "what", "where", "when", "why", "how", "is", "are",
        "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "done", "have", "has", "had",
        "having", "will", "would", "shall", "should", "can", "could", "may", "might", "must", "ought", "not", "no",
        "nor", "only", "also", "too", "very", "just", "so", "than", "then", "there", "here", "and", "or", "but", "if",
        "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between", "into",
        "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out", "on",
        "off", "over", "under", "again", "further", "once", "all", "any", "both", "each", "few", "more", "most",
        "other", "some", "such", "own", "same", "s", "t", "don", "now", "ever", "yet", "via", "per", "thus", "hence",
        "however", "therefore", "moreover", "furthermore", "within", "without", "upon", "onto", "among",
    ]
)  # fmt: skip

CHINESE = frozenset(
    [
        "的", "了", "是", "在", "和", "与", "及", "或", "也", "就", "都", "而", "又", "并", "且", "但", "对", "于",
        "以", "把", "被", "让", "给", "从", "向", "由", "为", "因", "所", "之", "其", "这", "那", "这些", "那些",
        "这个", "那个", "我", "你", "他", "她", "它", "我们", "你们", "他们", "她们", "它们", "自己", "一个", "一些",
        "一种", "等", "着", "过", "吗", "呢", "吧", "啊", "很", "更", "最", "还", "再", "已", "已经", "不", "没有",
        "没", "会", "能", "可以", "要", "将", "如果", "因为", "所以", "但是", "而且", "以及", "并且", "或者", "其中",
        "通过",
    ]
)  # fmt: skip
