"""Chinese classical poems with guaranteed form: 五言/七言 × 绝句/律诗, 藏头诗 (acrostic) and end rhyme.

Form holds by construction: a logits processor masks every token the form does not allow at
the current position, so only the choice *among* allowed characters is left to the model.

* Line ``i`` has exactly 5 or 7 Chinese characters and ends with "，" (odd lines) or "。"
  (even lines); 绝句 have 4 lines, 律诗 8.
* 藏头诗: line ``i`` starts with the ``i``-th character of the acrostic.
* Rhyme: the last characters of the even lines share a rhyme group. Groups are the thirteen
  rhyme classes of Northern Chinese verse (十三辙) over the modern final of each character's
  most common reading (``pypinyin``); the rhyming characters must share a group. (Tang poets
  rhymed by the medieval 平水韵 and also weighed tones (平仄), which this module does not model.)

Poems need a character-level model: the text format is one poem per line, as in
``builtin:tang-poems``, so generation starts after a newline.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from genlab.core.errors import BadInputError
from genlab.text.tokenizers import CharTokenizer, TextTokenizer

COMMA, PERIOD, NEWLINE = "，", "。", "\n"

#: 十三辙: rhyme group → modern finals (pypinyin ``Style.FINALS``, strict spelling: v = ü).
RHYME_GROUPS: dict[str, tuple[str, ...]] = {
    "发花": ("a", "ia", "ua"),
    "梭波": ("o", "e", "uo"),
    "乜斜": ("ie", "ve", "ue"),
    "一七": ("i", "v", "er"),
    "姑苏": ("u",),
    "怀来": ("ai", "uai"),
    "灰堆": ("ei", "uei", "ui"),
    "遥条": ("ao", "iao"),
    "油求": ("ou", "iou", "iu"),
    "言前": ("an", "ian", "uan", "van"),
    "人辰": ("en", "in", "uen", "un", "vn"),
    "江阳": ("ang", "iang", "uang"),
    "中东": ("eng", "ing", "ong", "iong", "ueng"),
}
READINGS = 1  # readings of a polyphonic character that count for rhyme: the most common only
_FINAL_TO_GROUP = {final: group for group, finals in RHYME_GROUPS.items() for final in finals}


@dataclass(frozen=True)
class PoemForm:
    """A regulated-verse form: characters per line and number of lines."""

    name: str
    label: str
    chars_per_line: int
    n_lines: int

    @property
    def length(self) -> int:
        """Characters of a whole poem, punctuation included."""
        return self.n_lines * (self.chars_per_line + 1)

    def rhyme_lines(self) -> list[int]:
        """0-based indices of the lines that must rhyme (the even lines: 2, 4, …)."""
        return list(range(1, self.n_lines, 2))


FORMS: dict[str, PoemForm] = {
    f.name: f
    for f in (
        PoemForm("wuyan-jueju", "五言绝句", 5, 4),
        PoemForm("qiyan-jueju", "七言绝句", 7, 4),
        PoemForm("wuyan-lushi", "五言律诗", 5, 8),
        PoemForm("qiyan-lushi", "七言律诗", 7, 8),
    )
}


def get_form(name: str) -> PoemForm:
    """The form called ``name`` (``wuyan-jueju``, …)."""
    from genlab.core.errors import unknown_name

    if name not in FORMS:
        raise unknown_name("poem form", name, FORMS)
    return FORMS[name]


def is_hanzi(ch: str) -> bool:
    """True for a CJK unified ideograph (basic block or extension A) or a compatibility ideograph."""
    o = ord(ch) if len(ch) == 1 else -1
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def split_lines(text: str, chars_per_line: int) -> list[str]:
    """Cut a poem into lines of ``chars_per_line`` characters plus their punctuation mark."""
    step = chars_per_line + 1
    return [text[i : i + step] for i in range(0, len(text), step)]


def detect_form(text: str) -> PoemForm | None:
    """The form ``text`` follows exactly (characters, lines, "，"/"。" alternating), or None."""
    for form in FORMS.values():
        if len(text) == form.length and not check_poem(text, form):
            return form
    return None


@functools.lru_cache(maxsize=65536)
def rhyme_groups(ch: str) -> frozenset[str]:
    """The 十三辙 group of the most common reading of ``ch`` (empty when it has no known pinyin).

    ``pypinyin`` lists readings most common first. Counting the rarer ones too would let
    false rhymes through (年 has a rare reading in 中东, 还 one in 姑苏); a rhyme by a rarer
    reading (还 huán) is therefore not recognised — generation errs on the safe side.
    """
    from pypinyin import Style, pinyin

    readings = pinyin(ch, style=Style.FINALS, heteronym=True, strict=True, errors=lambda _: [[""]])
    return frozenset(_FINAL_TO_GROUP[f] for f in readings[0][:READINGS] if f in _FINAL_TO_GROUP)


def check_poem(text: str, form: PoemForm, acrostic: str | None = None, rhyme: bool = False) -> list[str]:
    """Every way ``text`` breaks the form (empty list: compliant)."""
    problems = []
    if len(text) != form.length:
        return [f"{len(text)} characters, expected {form.length}"]
    lines = split_lines(text, form.chars_per_line)
    for i, line in enumerate(lines):
        body, mark = line[:-1], line[-1]
        if not all(is_hanzi(ch) for ch in body):
            problems.append(f"line {i + 1} has non-Chinese characters: {body!r}")
        if mark != (COMMA if i % 2 == 0 else PERIOD):
            problems.append(f"line {i + 1} ends with {mark!r}")
        if acrostic and body[:1] != acrostic[i : i + 1]:
            problems.append(f"line {i + 1} starts with {body[:1]!r}, not {acrostic[i : i + 1]!r}")
    if rhyme:
        common = functools.reduce(frozenset.intersection, (rhyme_groups(lines[i][-2]) for i in form.rhyme_lines()))
        if not common:
            ends = "".join(lines[i][-2] for i in form.rhyme_lines())
            problems.append(f"the even lines' last characters {ends} share no rhyme group")
    return problems


def form_compliance(poems: list[str], form: PoemForm, acrostic: str | None = None, rhyme: bool = False) -> float:
    """Share of ``poems`` that follow the form (and acrostic/rhyme when asked)."""
    return sum(not check_poem(p, form, acrostic, rhyme) for p in poems) / max(len(poems), 1)


class PoemConstraint:
    """Logits processor: only tokens the form allows at the next position keep their logits.

    ``prompt_length`` ids precede the poem in every row; positions count from there.
    """

    def __init__(
        self,
        tokenizer: TextTokenizer,
        form: PoemForm,
        prompt_length: int,
        acrostic: str | None = None,
        rhyme: bool = False,
    ):
        if not isinstance(tokenizer, CharTokenizer):
            raise BadInputError("poems need a character-level model", "train with --tokenizer char (the default)")
        self.tokenizer, self.form, self.prompt_length, self.rhyme = tokenizer, form, prompt_length, rhyme
        vocab = tokenizer.vocab
        for mark in (COMMA, PERIOD, NEWLINE):
            if mark not in tokenizer.index:
                raise BadInputError(
                    f"the model's vocabulary lacks {mark!r}", "train it on poems (builtin:tang-poems, chinese-poetry)"
                )
        self.hanzi = torch.tensor([is_hanzi(ch) for ch in vocab])
        self.acrostic = self._check_acrostic(acrostic)
        self.groups = [rhyme_groups(ch) if is_hanzi(ch) else frozenset() for ch in vocab]
        self.group_masks = {g: torch.tensor([g in gs for gs in self.groups]) for g in RHYME_GROUPS}
        need = len(form.rhyme_lines())
        big = {g for g, m in self.group_masks.items() if int(m.sum()) >= need}
        if rhyme and not big:
            raise BadInputError("the model's vocabulary is too small to rhyme", "train on more poems")
        # First rhyming character: every group it belongs to must offer enough distinct characters.
        self.first_rhyme = torch.tensor([bool(gs) and gs <= big for gs in self.groups]) & self.hanzi

    def _check_acrostic(self, acrostic: str | None) -> str | None:
        if not acrostic:
            return None
        if len(acrostic) != self.form.n_lines:
            raise BadInputError(
                f"an acrostic for {self.form.label} needs {self.form.n_lines} characters, got {len(acrostic)}",
                "give one character per line, e.g. --acrostic " + "春夏秋冬风花雪月"[: self.form.n_lines],
            )
        for ch in acrostic:
            if not is_hanzi(ch) or ch not in self.tokenizer.index:
                raise BadInputError(f"acrostic character {ch!r} is not in the model's vocabulary", "pick another")
        return acrostic

    def allowed(self, poem: list[int]) -> torch.Tensor:
        """Boolean mask (V,) of tokens allowed after the poem ids so far."""
        form, width = self.form, self.form.chars_per_line + 1
        line, col = divmod(len(poem), width)
        mask = torch.zeros(len(self.hanzi), dtype=torch.bool)
        if line >= form.n_lines:
            mask[self.tokenizer.index[NEWLINE]] = True
        elif col == form.chars_per_line:
            mask[self.tokenizer.index[COMMA if line % 2 == 0 else PERIOD]] = True
        elif col == 0 and self.acrostic:
            mask[self.tokenizer.index[self.acrostic[line]]] = True
        elif col == form.chars_per_line - 1 and self.rhyme and line % 2 == 1:
            mask = self._rhyme_mask(poem, line)
        else:
            mask = self.hanzi.clone()
        return mask

    def _rhyme_mask(self, poem: list[int], line: int) -> torch.Tensor:
        width, vocab = self.form.chars_per_line + 1, self.tokenizer.vocab
        done = [vocab[poem[i * width + width - 2]] for i in self.form.rhyme_lines() if i < line]
        if not done:
            return self.first_rhyme.clone()
        common = functools.reduce(frozenset.intersection, (rhyme_groups(ch) for ch in done))
        mask = functools.reduce(torch.logical_or, (self.group_masks[g] for g in common)) & self.hanzi
        fresh = mask.clone()
        fresh[[self.tokenizer.index[ch] for ch in done]] = False  # prefer rhymes not used yet
        return fresh if fresh.any() else mask

    def __call__(self, ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        masks = torch.stack([self.allowed(row[self.prompt_length :]) for row in ids.tolist()]).to(logits.device)
        return logits.masked_fill(~masks, float("-inf"))


def generate_poems(
    model,
    form: str = "wuyan-jueju",
    n: int = 1,
    acrostic: str | None = None,
    rhyme: bool = False,
    seed: int | None = None,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.1,
) -> list[str]:
    """Generate ``n`` poems of ``form`` with a character-level language model (form holds on every sample)."""
    from genlab.core.seeding import make_generator
    from genlab.text.decoding import SamplingConfig, sample_tokens

    poem_form = get_form(form)
    tokenizer = model.tokenizer
    constraint = PoemConstraint(tokenizer, poem_form, 1, acrostic, rhyme)  # checks the vocabulary
    prompt = [tokenizer.index[NEWLINE]]  # a poem starts a line
    cfg = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)
    ids = torch.tensor([prompt] * n, dtype=torch.long)
    steps = sample_tokens(
        model, ids, poem_form.length, [constraint, *cfg.processors()], cfg.greedy, make_generator(seed)
    )
    rows: list[list[int]] = [[] for _ in range(n)]
    for tokens in steps:
        for row, t in zip(rows, tokens.tolist(), strict=True):
            row.append(t)
    return [tokenizer.decode(r) for r in rows]
