"""Generative dialogue: DailyDialog reading, the ``dialogue`` task, replies in chat, eval metrics and baselines."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from genlab.core.errors import BadInputError, DataError
from genlab.text.dialogue import ChatBot, Turn, load_faq
from genlab.text.dialogue import dailydialog as dd
from genlab.text.dialogue.baselines import NearestContext, last_turn, rule_replies
from genlab.text.dialogue.dailydialog import SEPARATOR, Dialogue, dialogue_pairs, join_turns, load_dailydialog
from genlab.text.dialogue.generation import response_scores
from genlab.text.seq2seq.data import Pair, cut_source
from tests.cli_helpers import cli_ok

#: Four short conversations; the training split repeats them so a tiny model learns each reply.
TALKS = [
    ["Hello, how are you?", "I'm fine, thanks.", "Good to hear."],
    ["Do you like tea?", "Yes, I love tea.", "Me too."],
    ["Shall we play chess tonight?", "Yes, after dinner.", "Great."],
    ["What time is it?", "It is ten o'clock.", "Thanks."],
]
TINY_MODEL = [
    "--tokenizer", "char", "--d-model", "32", "--n-head", "2", "--encoder-layers", "1", "--decoder-layers", "1",
    "--max-source-length", "64", "--max-target-length", "24", "--dropout", "0", "--label-smoothing", "0",
    "--lr", "1e-2", "--set", "train.batch_size=16", "--threads", "1", "--no-progress",
]  # fmt: skip


def record(i: int, turns: list[str], split: str | None = None) -> dict:
    """A dialogue as the JSONL files hold it (and, with ``split``, as ConvLab-3's archive does)."""
    out = {
        "dialogue_id": f"dailydialog-{split or 'x'}-{i}",
        "topic": "Ordinary Life",
        "turns": [{"speaker": ("user", "system")[j % 2], "utterance": t} for j, t in enumerate(turns)],
    }
    return out | ({"data_split": split, "domains": ["Ordinary Life"]} if split else {})


def write_dailydialog(root, sizes=(("train", 24), ("validation", 4), ("test", 4)), bad_line=True):
    """``root/dialogue/{split}.jsonl`` in the shared data's format; the training file ends with a malformed line."""
    folder = root / "dialogue"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in sizes:
        lines = [json.dumps(record(i, TALKS[i % len(TALKS)])) for i in range(n)]
        if split == "train" and bad_line:
            lines.append('{"turns": "not a list"}')
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_convlab_zip(path, talks=TALKS):
    """A small archive in ConvLab-3's layout (``data/dialogues.json``: all splits in one list); returns its sha256."""
    records = [record(i, t, split) for split in ("train", "test") for i, t in enumerate(talks)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(dd.ZIP_MEMBER, json.dumps(records))
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- DailyDialog


def test_dialogues_become_context_response_pairs_with_a_window():
    talk = Dialogue(["a  b", "c", "d", "e"])
    pairs = dialogue_pairs([talk], context_turns=2)
    assert [(p.source, p.target) for p in pairs] == [("a b", "c"), (f"a b{SEPARATOR}c", "d"), (f"c{SEPARATOR}d", "e")]
    assert len(dialogue_pairs([talk, Dialogue(["x", "y"])])) == 4  # one pair per turn after the first
    assert join_turns(["one", "two", "three", "four"]) == "two | three | four"  # the default window: 3 turns
    assert join_turns(["  spaced\n out "], 3) == "spaced out"


def test_jsonl_splits_skip_and_count_malformed_lines(tmp_path, caplog):
    write_dailydialog(tmp_path)
    with caplog.at_level("WARNING"):
        train = load_dailydialog("train", tmp_path)
    assert len(train.dialogues) == 24 and train.skipped == [(25, "no 'turns' list of two or more turns")]
    assert "skipped 1 malformed line(s)" in caplog.text
    assert train.dialogues[1].turns == TALKS[1] and train.dialogues[1].topic == "Ordinary Life"
    assert len(load_dailydialog("test", tmp_path).dialogues) == 4
    (tmp_path / "dialogue" / "test.jsonl").write_text('[]\n{"turns": [{"utterance": "hi"}, {"utterance": " "}]}\n')
    with pytest.raises(DataError, match="holds no dialogue"):
        load_dailydialog("test", tmp_path)
    with pytest.raises(DataError, match="no split 'dev'"):
        load_dailydialog("dev", tmp_path)


def test_the_convlab_archive_is_read_after_its_checksum(tmp_path, monkeypatch):
    archive = tmp_path / "dialogue" / dd.DAILYDIALOG_ZIP
    digest = write_convlab_zip(archive)
    with pytest.raises(DataError, match="not the DailyDialog archive genlab expects") as e:
        load_dailydialog("train", tmp_path)  # the real checksum: this small archive is refused before use
    assert digest in str(e.value) and dd.DAILYDIALOG_URL in e.value.hint
    monkeypatch.setattr(dd, "DAILYDIALOG_SHA256", digest)
    test = load_dailydialog("test", tmp_path)
    assert [d.turns for d in test.dialogues] == TALKS and test.path.endswith("(test)")
    with pytest.raises(DataError, match="no validation dialogue"):
        load_dailydialog("validation", tmp_path)
    (tmp_path / "dialogue" / "test.jsonl").write_text(json.dumps(record(0, ["only", "jsonl"])) + "\n")
    assert load_dailydialog("test", tmp_path).dialogues[0].turns == ["only", "jsonl"]  # the JSONL files come first


def test_a_missing_copy_is_downloaded_and_checked(tmp_path, monkeypatch):
    source = tmp_path / "mirror" / "data.zip"
    digest = write_convlab_zip(source)
    data = tmp_path / "data"
    with pytest.raises(DataError, match="no DailyDialog train.jsonl"):
        dd.dailydialog_source("train", data, download=False)
    monkeypatch.setattr(dd, "DAILYDIALOG_URL", source.as_uri())
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dailydialog("train", data)  # the recorded sha256 is the real archive's
    assert not (data / "dialogue" / dd.DAILYDIALOG_ZIP).exists()  # nothing unverified is left behind
    monkeypatch.setattr(dd, "DAILYDIALOG_SHA256", digest)
    assert len(load_dailydialog("train", data).dialogues) == 4
    assert (data / "dialogue" / dd.DAILYDIALOG_ZIP).read_bytes() == source.read_bytes()


def test_the_shared_copy_has_the_official_splits(shared_data):
    test = load_dailydialog("test", shared_data)
    assert len(test.dialogues) == 1000 and not test.skipped
    assert len(dialogue_pairs(test.dialogues)) == 6740
    archive = dd.read_convlab_zip(shared_data / "dialogue" / dd.DAILYDIALOG_ZIP, "test", dd.DAILYDIALOG_SHA256)
    assert [d.turns for d in archive.dialogues] == [d.turns for d in test.dialogues]


# --------------------------------------------------------------------------- data of the task


def test_pairs_files_and_the_test_split(tmp_path):
    from genlab.text.dialogue.task import DialogueDataConfig, dialogue_split, dialogue_splits

    pairs = tmp_path / "chat.tsv"
    pairs.write_text("context\tresponse\n" + "".join(f"hi {i} | how are you?\tfine {i}\n" for i in range(10)))
    cfg = DialogueDataConfig.build({"source": str(pairs), "val_fraction": 0.2})
    train, val, record = dialogue_splits(cfg)
    assert len(train) == 8 and len(val) == 2 and record["format"] == "tsv"
    assert dialogue_split(cfg.to_dict(), "validation")[0] == val
    with pytest.raises(BadInputError, match="has no test split"):
        dialogue_split(cfg.to_dict(), "test")
    write_dailydialog(tmp_path)
    dd_cfg = DialogueDataConfig.build({"source": "dailydialog", "data_dir": str(tmp_path), "context_turns": 1})
    test, about = dialogue_split(dd_cfg.to_dict(), "test")
    assert len(test) == 8 and test[0] == Pair(TALKS[0][0], TALKS[0][1]) and about.startswith("dailydialog test")
    assert dialogue_splits(dd_cfg)[2]["skipped"][0].endswith("line 25: no 'turns' list of two or more turns")


def test_a_long_context_keeps_its_latest_tokens():
    assert cut_source([1, 2, 3, 4, 5], 3) == [1, 2, 3]
    assert cut_source([1, 2, 3, 4, 5], 3, "end") == [3, 4, 5]
    assert cut_source([1, 2], 3, "end") == [1, 2]


# --------------------------------------------------------------------------- metrics and baselines


def test_response_scores_on_hand_made_replies():
    refs = ["i am fine thanks", "see you tomorrow then"]
    same = response_scores(refs, refs)
    assert same["bleu"] == pytest.approx(100.0) and same["length_mean"] == 4.0
    # "ok ok ok" and "ok ok": bigrams (ok ok) ×3 → 1 distinct of 3; unigrams 1 distinct of 5
    dull = response_scores(["ok ok ok", "ok ok"], refs)
    assert dull["distinct_2"] == pytest.approx(1 / 3) and dull["distinct_1"] == pytest.approx(1 / 5)
    assert dull["bleu"] == pytest.approx(0.0) and dull["length_mean"] == 2.5
    assert response_scores(["a b c", "d e"], refs)["distinct_2"] == 1.0  # every bigram new
    with pytest.raises(ValueError, match="2 replies for 1 references"):
        response_scores(refs, refs[:1])


def test_nearest_context_retrieval_and_rule_replies():
    pairs = [Pair("do you like tea", "Yes, I love tea."), Pair("where is the bank", "On Main Street.")]
    nearest = NearestContext(pairs * 3)
    assert nearest("I wonder whether you like green tea") == "Yes, I love tea."
    assert nearest(f"hello {SEPARATOR} where is the nearest bank?") == "On Main Street."
    assert nearest("zzz qqq") == "Yes, I love tea."  # nothing shared: the most frequent response (first of ties)
    assert last_turn(f"a {SEPARATOR} b{SEPARATOR}c ") == "c"
    assert rule_replies([f"hello there {SEPARATOR} hi", "what is the capital of France?"]) == [
        "Hello! How can I help you today?",
        "Sorry, I don't know the answer to that.",
    ]


# --------------------------------------------------------------------------- a tiny trained model end to end


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny encoder-decoder trained by `genlab train dialogue` on a tiny DailyDialog copy (it learns each reply)."""
    import torch

    from genlab.cli.main import main

    root = tmp_path_factory.mktemp("dialogue")
    write_dailydialog(root)
    args = ["train", "dialogue", "--model", "transformer-seq2seq", "--data", "dailydialog", "--data-dir", str(root),
            "--max-steps", "200", "--name", "tiny", "--runs-dir", str(root / "runs"), *TINY_MODEL]  # fmt: skip
    before = torch.get_num_threads()
    try:
        main(args)
    except SystemExit as e:
        assert not e.code, e.code
    finally:
        torch.set_num_threads(before)
    return root / "runs" / "dialogue" / "tiny", root


def test_the_trained_model_replies_through_pipeline_and_router(tiny_run):
    import genlab
    from genlab.text.dialogue import RespondPipeline, chat_model

    run, _ = tiny_run
    pipe = genlab.load(run)
    assert isinstance(pipe, RespondPipeline) and pipe.model.config.keep_source == "end" and pipe.context_turns == 3
    assert pipe(["Hello, how are you?"]) == "I'm fine, thanks."
    assert pipe("Do you like tea?", num_beams=1) == "Yes, I love tea."
    assert pipe.context([Turn("user", "a"), "b", "c", "d"]) == "b | c | d"
    with pytest.raises(BadInputError, match="conversation is empty"):
        pipe([])
    faq = load_faq("builtin:faq-en")
    bot = ChatBot(faq, model=chat_model(run))
    assert bot.reply("hello").layer == "rule"
    assert bot.reply("where is my parcel?").layer == "faq"
    bot.reset()  # the model reads the recent turns: a new conversation is one it was trained on
    reply = bot.reply("Shall we play chess tonight?")  # nothing the shop's FAQ answers
    assert (reply.layer, reply.text) == ("model", "Yes, after dinner.")
    assert ChatBot(faq, model=lambda history: "").reply("Shall we play chess tonight?").layer == "fallback"


def test_chat_respond_and_eval_through_the_cli(tiny_run, capsys):
    run, root = tiny_run
    code, out = cli_ok(["chat", "--model", str(run), "--once", "What time is it?", "--explain"], capsys)
    assert code == 0 and out == "[model] It is ten o'clock.\n", out
    code, out = cli_ok(["chat", "--model", str(run), "--faq", "builtin:faq-en", "--once", "hi", "--explain"], capsys)
    assert code == 0 and out.startswith("[rule] Hello!"), out
    code, out = cli_ok(["respond", str(run), "Do you like tea?"], capsys)
    assert code == 0 and out.strip() == "Yes, I love tea.", out
    args = ["eval", str(run), "--split", "test", "--metrics", "bleu,distinct,length", "--data-dir", str(root)]
    code, out = cli_ok(args, capsys)
    assert code == 0 and "distinct_2" in out and "length_mean" in out and "nearest_context" in out, out
    result = json.loads((run / "eval.json").read_text())
    assert result["protocol"]["split"] == "test" and result["protocol"]["n_pairs"] == 8
    assert result["metrics"]["bleu"] > 50 and result["baselines"]["nearest_context"]["bleu"] > 50


def test_chat_refuses_runs_that_are_not_dialogue_models(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{i}\t{i}{i}\n" for i in range(20)))
    args = ["train", "seq2seq", "--data", str(pairs), "--max-steps", "1", "--name", "s", "--runs-dir",
            str(tmp_path / "runs"), *TINY_MODEL]  # fmt: skip
    assert cli_ok(args, capsys)[0] == 0
    code, out = cli_ok(["chat", "--model", str(tmp_path / "runs" / "seq2seq" / "s"), "--once", "hi"], capsys)
    assert code == 2 and "not a dialogue model" in out and "genlab train dialogue" in out, out
    code, out = cli_ok(["chat", "--once", "hi"], capsys)
    assert code == 2 and "nothing to chat with" in out and "--model RUN" in out, out
