"""``genlab explain`` on image models: traversal effect sizes find the dimensions a generator uses, discriminator
and classifier attributions are complete, the page and its JSON are written, and misfits are refused."""

import json

import pytest
import torch

pytest.importorskip("captum", reason="the explain extra (captum) is not installed")

from genlab.core.errors import BadInputError  # noqa: E402
from genlab.core.registry import MODELS  # noqa: E402
from genlab.image.explain import ClassifierExplainPipeline, ImageExplainPipeline  # noqa: E402


def build(name, **config):
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(cls.config_class.build(config)).eval()


def test_traversal_ranks_the_dimensions_the_decoder_reads(tmp_path):
    gan = build("image/dcgan", image_size=8, latent_dim=6, g_width=4, d_width=4)
    with torch.no_grad():  # the decoder reads only dimensions 1 and 4 of z
        gan.generator.project.weight[:, [0, 2, 3, 5]] = 0
        gan.generator.project.weight[:, 4] *= 3
    out = ImageExplainPipeline(gan)(method="traversal", n=3, dims=3, steps=5, seed=0)
    report = out.report
    assert report["ranking"][:2] == [4, 1] and report["dimensions_used"] == 2
    assert all(report["effect_size"][d] == 0 for d in (0, 2, 3, 5))
    page = out.save(tmp_path / "t.html").read_text()
    assert "Traversals of the 3 strongest dimensions" in page and "data:image/png;base64" in page
    assert json.loads(out.save(tmp_path / "t.json").read_text())["ranking"] == report["ranking"]


def test_discriminator_attribution_is_complete_and_labels_follow_a_conditional_model():
    gan = build("image/cgan", image_size=8, latent_dim=4, g_width=4, d_width=4, num_classes=3)
    out = ImageExplainPipeline(gan)(method="attribution", n=2, label=1, seed=0)
    r = out.report
    assert len(r["scores"]) == 2 and max(abs(g) for g in r["completeness_gap"]) < 1e-2
    assert "Discriminator attributions" in out.html


def test_classifier_attribution_explains_the_predicted_class(tmp_path):
    from PIL import Image

    for i in range(2):
        Image.new("L", (28, 28), 40 + 100 * i).save(tmp_path / f"{i}.png")
    lenet = build("image/lenet-classifier", image_size=28, channels=1, num_classes=10)
    out = ClassifierExplainPipeline(lenet)(image=str(tmp_path), attribution="integrated-gradients")
    r = out.report
    assert r["images"] == ["0.png", "1.png"] and len(r["targets"]) == 2
    assert max(abs(g) for g in r["completeness_gap"]) < 1e-2
    occluded = ClassifierExplainPipeline(lenet)(image=str(tmp_path), attribution="occlusion", target=3)
    assert occluded.report["targets"] == ["3", "3"] and "completeness_gap" not in occluded.report
    with pytest.raises(BadInputError, match="not a class"):
        ClassifierExplainPipeline(lenet)(image=str(tmp_path), target=12)


def test_models_without_a_latent_or_discriminator_are_refused():
    vae = build("image/vae", image_size=8, latent_dim=2, hidden_dims=[8])
    with pytest.raises(BadInputError, match="no discriminator"):
        ImageExplainPipeline(vae)(method="attribution")
    ddpm = build("image/ddpm", image_size=8, base_channels=8, channel_mult=[1], attention_levels=[])
    with pytest.raises(BadInputError, match="neither a vector latent"):
        ImageExplainPipeline(ddpm)
