"""The studio over a runs folder: building the Blocks, generating through the studio's own functions (no
browser), the empty state, the runs views and mounting into the REST app."""

from __future__ import annotations

from pathlib import Path

import pytest

gr = pytest.importorskip("gradio", reason="the studio extra (gradio) is not installed")

from genlab.serve.store import ModelStore  # noqa: E402
from genlab.studio.app import Studio, build_studio, error_text, mount, token_auth  # noqa: E402


@pytest.fixture(scope="module")
def studio(studio_runs, tmp_path_factory):
    return Studio(ModelStore([studio_runs]), studio_runs, tmp_path_factory.mktemp("work"))


def test_build_blocks_with_tabs(studio_runs, tmp_path):
    blocks = build_studio(ModelStore([studio_runs]), studio_runs, tmp_path)
    assert isinstance(blocks, gr.Blocks)
    labels = [b.label for b in blocks.blocks.values() if isinstance(b, gr.Tab)]
    assert labels == ["Generate", "Characters", "Runs", "Train", "About"]
    assert str(studio_runs.resolve()) in blocks.studio_paths
    assert blocks.studio.model_names() == ["clean", "digits"]


def test_verbs_and_form_follow_the_model(studio):
    verbs, default = studio.verbs("digits")
    assert default == "sample" and "sample" in verbs
    assert [s.name for s in studio.form("digits", "sample")][:2] == ["n", "label"]
    verbs, default = studio.verbs("clean")
    assert default == "denoise" and studio.form("clean", "denoise")[0].widget == "image"


def test_generate_gives_an_image(studio):
    result = studio.generate("digits", "sample", {"n": 4, "label": "3", "seed": 1})
    assert result.ok, result.message
    path = result.first("image")
    assert path and path.endswith(".png")
    from PIL import Image

    assert Image.open(path).size[0] > 16  # a grid of 16x16 samples
    again = studio.generate("digits", "sample", {"n": 4, "label": "3", "seed": 1})
    assert Path(again.first("image")).read_bytes() == Path(path).read_bytes()  # same seed, same grid


def test_generate_from_an_upload(studio, tmp_path):
    from PIL import Image

    upload = tmp_path / "gradio-temp-name"  # uploads arrive under names that say nothing about their type
    Image.new("RGB", (20, 12), "red").save(upload, format="PNG")
    result = studio.generate("clean", "denoise", {"image": str(upload), "seed": 0})
    assert result.ok, result.message
    assert Image.open(result.first("image")).size == (20, 12)


def test_errors_are_messages_with_hints(studio, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("hello")
    result = studio.generate("clean", "denoise", {"image": str(bad)})
    assert not result.ok and "not a readable image" in result.message and "Traceback" not in result.message
    missing = studio.generate("clean", "denoise", {})
    assert not missing.ok and "image" in missing.message
    wrong = studio.generate("digits", "upscale", {})
    assert not wrong.ok and "**hint:**" in wrong.message
    unknown = studio.generate("nope", "sample", {})
    assert not unknown.ok and "nope" in unknown.message
    assert error_text(ValueError("boom")) == "**error:** internal error: ValueError: boom"


def test_empty_state_says_how_to_train(tmp_path):
    from genlab.serve.app import TRAIN_HINT

    empty = Studio(ModelStore([tmp_path / "runs"]), tmp_path / "runs", tmp_path / "work")
    assert empty.model_names() == []
    assert TRAIN_HINT in empty.empty_message() and str(tmp_path / "runs") in empty.empty_message()
    blocks = build_studio(ModelStore([tmp_path / "runs"]), tmp_path / "runs", tmp_path / "work")
    shown = [b.value for b in blocks.blocks.values() if isinstance(b, gr.Markdown) and b.visible]
    assert any(TRAIN_HINT in (v or "") for v in shown)


def test_about_names_version_and_data_credits(studio):
    from genlab.__about__ import __version__
    from genlab.studio import credits

    credits.register_credits("builtin:", lambda source: f"thanks for {source}")
    try:
        text = studio.about_text()
    finally:
        credits.CREDIT_HOOKS.pop("builtin:")
    assert __version__ in text and "builtin:digits" in text and "thanks for builtin:digits" in text


def test_token_auth():
    assert token_auth(None) is None
    check = token_auth("s3cret-token-0123456789")
    assert check("anyone", "s3cret-token-0123456789") and not check("anyone", "wrong")


def test_mount_into_the_rest_app(studio_runs):
    from fastapi.testclient import TestClient

    from genlab.serve import ServeSettings, create_app

    app = create_app(ServeSettings(paths=[str(studio_runs)]))
    mount(app, app.state.server.store, path="/studio")
    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 200
        page = client.get("/studio/")
        assert page.status_code == 200 and "gradio" in page.text.lower()


def test_every_registered_form_builds_its_widgets():
    from genlab.core.registry import PIPELINES
    from genlab.studio.app import _widget
    from genlab.studio.forms import form_specs

    with gr.Blocks():
        for name, cls in PIPELINES.items():
            for spec in form_specs(cls.request_class):
                made = _widget(gr, spec)
                assert len(made) == (2 if spec.names else 1), (name, spec.name)


def test_result_updates_fill_the_output_widgets(studio):
    from genlab.studio.app import GALLERY_SIZE, _result_updates

    result = studio.generate("digits", "sample", {"n": 2, "seed": 0})
    message, image, audio, text, table, data, files, gallery, history = _result_updates(gr, result, [("old", "")])
    assert image["visible"] and image["value"].endswith(".png") and not audio["visible"] and not files["visible"]
    assert gallery == history and history[0][0] == image["value"] and len(history) == 2
    failed = _result_updates(gr, studio.generate("nope", "sample", {}), [("x", "")] * GALLERY_SIZE)
    assert failed[0].startswith("**error:**") and not failed[1]["visible"] and len(failed[-1]) == GALLERY_SIZE


def test_train_choices_come_from_the_registries(studio):
    choices = studio.train_choices("image-generation")
    assert "image-generation" in choices["tasks"] and "text-generation" in choices["tasks"]
    assert choices["models"][0] == "dcgan" and "vae" in choices["models"]  # the task's default model first
    from genlab.core.registry import DATASETS

    assert "builtin:digits" in choices["data"] and choices["data"] == DATASETS.names(modality="image")
    assert not set(choices["data"]) & set(DATASETS.names(modality="text"))


def test_mounted_studio_asks_for_the_token(studio_runs):
    from fastapi.testclient import TestClient

    from genlab.serve import ServeSettings, create_app

    token = "s3cret-token-0123456789"
    app = create_app(ServeSettings(paths=[str(studio_runs)], token=token))
    mount(app, app.state.server.store, path="/studio", token=token)
    with TestClient(app) as client:
        assert client.get("/studio/config").status_code == 401
        assert client.post("/studio/login", data={"username": "me", "password": "wrong"}).status_code >= 400
        assert client.post("/studio/login", data={"username": "me", "password": token}).status_code == 200
        assert client.get("/studio/config").status_code == 200


def test_old_results_are_removed(studio_runs, tmp_path, monkeypatch):
    import genlab.studio.app as studio_app

    monkeypatch.setattr(studio_app, "KEEP_RESULTS", 2)
    small = Studio(ModelStore([studio_runs]), studio_runs, tmp_path)
    paths = [small.generate("digits", "sample", {"n": 1, "seed": i}).first("image") for i in range(3)]
    assert not Path(paths[0]).exists() and all(Path(p).exists() for p in paths[1:])


def test_generate_stream_grows_the_text_then_gives_the_file(tmp_path):
    import genlab

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 20, encoding="utf-8")
    genlab.train("text-generation", "gpt", str(corpus), "poet", runs_dir=tmp_path / "runs", max_steps=2,
                 progress=False, sample_every=0, overrides=["model.n_layer=1", "model.n_head=2", "model.n_embd=16",
                                                            "data.block_size=16"])  # fmt: skip
    studio = Studio(ModelStore([tmp_path / "runs"]), tmp_path / "runs", tmp_path / "work")
    values = {"prompt": "To be", "max_new_tokens": 20, "seed": 3}
    results = list(studio.generate_stream("poet", "generate", values))
    texts = [r.first("text") for r in results]
    assert len(results) >= 2 and all(r.ok for r in results)
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))  # each one extends the last
    final = results[-1]
    assert texts[-1].startswith("To be") and [v.kind for v in final.views] == ["text", "file"]
    assert Path(final.first("file")).read_text(encoding="utf-8") == texts[-1]
    assert texts[-1] == studio.generate("poet", "generate", values).first("text")  # the same as unstreamed
    one = list(studio.generate_stream("poet", "generate", {"prompt": "", "max_new_tokens": 0}))
    assert len(one) == 1 and not one[0].ok  # a bad request: one error result
