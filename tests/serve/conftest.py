"""Served runs made for the tests: an untrained conditional GAN, an untrained denoiser and a tiny trained GPT."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")


def _save(build_name: str, folder, **config):
    from genlab.core.registry import MODELS

    cls = MODELS.get(build_name)
    model = cls(cls.config_class.build(config, where=build_name))
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def served_runs(tmp_path_factory):
    """runs/<task>/<name>/model for a cgan (``digits``), a dncnn (``clean``) and a GPT (``poet``)."""
    import genlab

    root = tmp_path_factory.mktemp("served") / "runs"
    _save("image/cgan", root / "image-generation" / "digits" / "model", image_size=16, num_classes=10,
          latent_dim=8, g_width=8, d_width=8)  # fmt: skip
    _save("image/dncnn", root / "denoising" / "clean" / "model", depth=2, width=4)
    corpus = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 40, encoding="utf-8")
    genlab.train("text-generation", "gpt", str(corpus), "poet", runs_dir=root, max_steps=4, progress=False,
                 sample_every=0, overrides=["model.n_layer=1", "model.n_head=2", "model.n_embd=16",
                                            "data.block_size=16", "train.batch_size=8"])  # fmt: skip
    return root


@pytest.fixture
def client_for(served_runs):
    """``client_for(**settings)``: a TestClient over the served runs (the app's lifespan runs)."""
    from fastapi.testclient import TestClient

    from genlab.serve import ServeSettings, create_app

    clients = []

    def make(paths=None, **settings):
        app = create_app(ServeSettings(paths=[str(p) for p in (paths or [served_runs])], **settings))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)
