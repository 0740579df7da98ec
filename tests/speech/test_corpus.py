"""The built-in eSpeak NG corpora: a tiny build, resuming it, the fixed split, the recipe and registration."""

import json

import pytest

from genlab.audio import espeak, io
from genlab.core.errors import DataError
from genlab.core.registry import DATASETS
from genlab.speech import corpus

pytestmark = pytest.mark.skipif(not espeak.available(), reason="espeakng-loader (the audio extra) is not installed")


@pytest.fixture
def count_synthesis(monkeypatch):
    calls = []
    real = espeak.synthesize

    def counting(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(espeak, "synthesize", counting)
    return calls


def test_tiny_build_is_resumed_without_synthesising_again(tmp_path, count_synthesis):
    folder = corpus.build_corpus("en", tmp_path, n_sentences=5)
    assert folder == tmp_path / "espeak-en"
    assert len(count_synthesis) == 5
    recipe = json.loads((folder / "recipe.json").read_text())
    assert recipe["voice"] == "en-us" and recipe["sample_rate"] == 22050 and recipe["seed"] == 0
    assert recipe["espeak_ng"].startswith("1.52") and "Shakespeare" in recipe["sentence_source"]
    assert recipe["n_sentences"] == 5

    rows = corpus.load_corpus("en", "all", tmp_path, n_sentences=5)
    assert len(rows) == 5 and len(count_synthesis) == 5  # nothing made again
    wav, text, phonemes = rows[0]
    info = io.audio_info(wav)
    assert info.sample_rate == 22050 and info.channels == 1 and info.seconds > 0.3
    assert text and "ˈ" in phonemes

    rows[2].wav.unlink()  # an interrupted build: only the missing file is made
    corpus.load_corpus("en", "all", tmp_path, n_sentences=5)
    assert len(count_synthesis) == 6 and rows[2].wav.is_file()


def test_split_is_fixed_by_the_seed(tmp_path):
    pool = corpus.sentence_pool("en", 0)
    assert len(pool) == corpus.POOL_SIZE and pool == corpus.sentence_pool("en", 0)
    assert {source for source, _ in pool} == {"shakespeare", "generated"}
    assert pool != corpus.sentence_pool("en", 1)
    rows = [json.loads(line) for line in _build(tmp_path, 3).read_text().splitlines()]
    assert [r["split"] for r in rows] == ["test", "train", "train"]
    assert [r["text"] for r in rows] == [sentence for _, sentence in pool[:3]]
    train = corpus.load_corpus("en", "train", tmp_path, n_sentences=3)
    test = corpus.load_corpus("en", "test", tmp_path, n_sentences=3)
    assert [r.text for r in test] == [pool[0][1]] and len(train) == 2


def _build(root, n):
    return corpus.build_corpus("en", root, n_sentences=n) / "metadata.jsonl"


def test_another_recipe_in_the_same_folder_is_refused(tmp_path):
    folder = tmp_path / "espeak-en"
    folder.mkdir()
    (folder / "recipe.json").write_text(json.dumps({"voice": "en-gb", "seed": 0}))
    with pytest.raises(DataError, match="another recipe") as e:
        corpus.build_corpus("en", tmp_path, n_sentences=1)
    assert "delete" in e.value.hint


def test_mandarin_corpus_has_tones(tmp_path):
    rows = corpus.load_corpus("zh", "all", tmp_path, n_sentences=2)
    assert len(rows) == 2 and rows.recipe["voice"] == "cmn"
    assert any(s in ("˥˥", "˧˥", "˨˩˦", "˥˩") for s in rows[0].phonemes)


def test_datasets_are_registered():
    names = dict(DATASETS.loaded())
    for language in ("en", "zh"):
        spec = names[f"builtin:espeak-{language}"]
        assert spec.modality == "speech" and spec.splits == ("train", "test", "all")
        assert spec.extras == {"sample_rate": 22050, "language": language}
        assert "GPL" in spec.license
