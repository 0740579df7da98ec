"""Tiny corpora and models shared by the text tests."""

from __future__ import annotations

import torch

from genlab.core.registry import MODELS
from genlab.text.tokenizers import CharTokenizer

ENGLISH = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 4
POEMS = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "秋夏冬风花雪阳长江凉方堂黄苍茫香乡忙霜扬房墙伤王望光场章唐常航芳",
]
POEM_TEXT = "\n" + "\n".join(POEMS) + "\n"

TINY = {
    "text/gpt": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 16},
    "text/char-rnn": {"n_layer": 1, "n_embd": 8, "hidden_size": 16, "block_size": 16},
    "text/ngram": {"order": 3, "block_size": 16},
}


def tiny_model(name: str, text: str = ENGLISH, seed: int = 0, **overrides):
    """An untrained tiny model of registry ``name`` with a character vocabulary of ``text``."""
    tok = CharTokenizer.train([text])
    cls = MODELS.get(name)
    cfg = cls.config_class.build({**TINY[name], "vocab_size": tok.vocab_size, "tokenizer": tok.to_dict(), **overrides})
    torch.manual_seed(seed)
    return cls(cfg).eval()


class Stream:
    """A token stream with the ``tokens`` attribute the n-gram model fits on."""

    def __init__(self, tokens):
        self.tokens = torch.as_tensor(tokens, dtype=torch.long)
