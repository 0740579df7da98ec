import math

import pytest
import torch
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.registry import MODELS
from genlab.image.vae import CVAE, VAE, ConvVAE, gaussian_kl
from tests.image.model_mixin import ImageModelTesterMixin

VAE_KEYS = {"loss", "recon", "kl"}


class TestVAE(ImageModelTesterMixin):
    model_name = "image/vae"
    config = {"image_size": 16, "latent_dim": 4, "hidden_dims": [32, 16]}
    image_sizes = (8, 20, 28, 30)  # an MLP takes any size
    validation_keys = VAE_KEYS


class TestGaussianVAE(TestVAE):
    config = {**TestVAE.config, "likelihood": "gaussian", "obs_std": 0.2}
    image_sizes = (28,)


class TestConvVAE(ImageModelTesterMixin):
    model_name = "image/conv-vae"
    config = {"image_size": 16, "latent_dim": 4}  # default widths per size: 16 px -> [32, 64]
    validation_keys = VAE_KEYS


class TestCVAE(ImageModelTesterMixin):
    model_name = "image/cvae"
    config = {"image_size": 16, "latent_dim": 4, "hidden_dims": [32], "num_classes": 3}
    image_sizes = (28, 32)
    validation_keys = VAE_KEYS


class TestConvCVAE(TestCVAE):
    config = {"image_size": 16, "latent_dim": 4, "architecture": "conv", "hidden_dims": [8, 8], "num_classes": 3}
    image_sizes = (16,)


def mlp_vae(**overrides) -> VAE:
    torch.manual_seed(0)
    return VAE(VAE.config_class.build({"image_size": 8, "latent_dim": 3, "hidden_dims": [16], **overrides}))


def zero_(layer: nn.Linear) -> None:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


def test_registered_names_and_defaults():
    assert MODELS.get("image/vae") is VAE and MODELS.get("image/conv-vae") is ConvVAE
    assert MODELS.get("image/cvae") is CVAE
    assert VAE.config_class().architecture == "mlp" and ConvVAE.config_class().architecture == "conv"
    assert CVAE.conditional and not VAE.conditional and VAE.can_reconstruct


def test_kl_matches_torch_distributions_and_vanishes_at_the_prior():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert torch.equal(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)), torch.zeros(2))


def test_elbo_known_case_bernoulli():
    # Encoder head zeroed -> q(z|x) = N(0, I) = prior: KL = 0. Decoder head zeroed -> every logit 0:
    # each pixel costs BCE(0, x) = log 2 whatever its value, so recon = 64 · log 2 per 8×8 image.
    model = mlp_vae(beta=3.0)
    zero_(model.encoder.head)
    zero_(model.decoder.head)
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    losses = model.training_losses((images, torch.zeros(4, dtype=torch.long)), "vae")
    assert losses["kl"].item() == 0.0
    assert losses["recon"].item() == pytest.approx(64 * math.log(2), rel=1e-6)
    assert losses["loss"].item() == pytest.approx(64 * math.log(2), rel=1e-6)


def test_elbo_known_case_gaussian_and_beta():
    # Decoder mean sigmoid(0) = 0.5 = the mid-grey image x = 0 on the [0, 1] scale: only the constant remains.
    sigma = 0.2
    model = mlp_vae(likelihood="gaussian", obs_std=sigma, beta=2.0)
    zero_(model.decoder.head)
    losses = model.training_losses((torch.zeros(3, 1, 8, 8), torch.zeros(3, dtype=torch.long)), "vae")
    assert losses["recon"].item() == pytest.approx(64 * (math.log(sigma) + 0.5 * math.log(2 * math.pi)), rel=1e-6)
    assert losses["kl"].item() > 0  # an untrained encoder is not the prior
    assert losses["loss"].item() == pytest.approx((losses["recon"] + 2.0 * losses["kl"]).item(), rel=1e-6)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_decoder_log_prob_matches_torch_distributions(likelihood):
    model = mlp_vae(likelihood=likelihood, obs_std=0.3)
    images = (torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.5).float() * 2 - 1
    z = torch.randn(4, 3)
    logits = model.decode_logits(z)
    x01 = (images + 1) / 2
    if likelihood == "bernoulli":
        ref = torch.distributions.Bernoulli(logits=logits).log_prob(x01)
    else:
        ref = torch.distributions.Normal(torch.sigmoid(logits), 0.3).log_prob(x01)
    log_prob = model.decoder_log_prob(images, z)
    assert log_prob.shape == (4,)
    assert torch.allclose(log_prob, ref.flatten(1).sum(1), atol=1e-4)


def test_reconstruct_decodes_the_posterior_mean():
    model = mlp_vae().eval()
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    out = model.reconstruct(images)
    assert out.shape == images.shape
    assert torch.equal(out, model.decode(model.encode(images)[0]))
    assert torch.equal(out, model.reconstruct(images))  # no sampling


def test_cvae_reconstruct_needs_labels_and_uses_them():
    torch.manual_seed(0)
    model = CVAE(CVAE.config_class.build({"image_size": 8, "latent_dim": 2, "hidden_dims": [16], "num_classes": 4}))
    images = torch.rand(2, 1, 8, 8) * 2 - 1
    with pytest.raises(BadInputError, match="labels"):
        model.reconstruct(images)
    assert not torch.equal(model.reconstruct(images, torch.tensor([0, 0])), model.reconstruct(images, torch.tensor(3)))


def test_conditional_vae_needs_classes():
    with pytest.raises(ConfigError, match="num_classes"):
        CVAE(CVAE.config_class.build({"image_size": 8, "num_classes": 0}))


def test_conv_vae_rejects_unsupported_size_with_hint():
    with pytest.raises(ConfigError) as err:
        ConvVAE(ConvVAE.config_class.build({"image_size": 30}))
    assert "30×30" in err.value.message and "28 or 32" in err.value.hint and "architecture=mlp" in err.value.hint
    assert VAE(VAE.config_class.build({"image_size": 30})).generate(1).shape == (1, 1, 30, 30)


def test_conv_vae_needs_one_width_per_stage():
    with pytest.raises(ConfigError, match="2 stride-2 stages") as err:
        ConvVAE(ConvVAE.config_class.build({"image_size": 28, "hidden_dims": [8, 16, 32]}))
    assert "[32, 64]" in err.value.hint


@pytest.mark.parametrize("values", [{"hidden_dims": []}, {"hidden_dims": [0]}, {"beta": -1}, {"architecture": "rnn"}])
def test_bad_config_values_raise_config_error(values):
    with pytest.raises(ConfigError):
        VAE.config_class.build(values)


class TestStandardPriorVAE(TestVAE):
    config = {**TestVAE.config, "prior": "standard"}
    image_sizes = (16,)


def two_cluster_vae() -> VAE:
    """A VAE whose code of an all -1 image is (-1.5, 0, 0) and of an all +1 image (1.5, 0, 0)."""
    model = mlp_vae(prior="gmm", prior_components=2)
    for layer in (model.encoder.body[0], model.encoder.head):
        zero_(layer)
    model.encoder.body[0].weight.data[0, 0] = 1.0  # hidden 0 = relu(pixel 0 + 1): 0 or 2
    model.encoder.body[0].bias.data[0] = 1.0
    model.encoder.head.weight.data[0, 0] = 1.5  # mu 0 = 1.5 · hidden 0 - 1.5: -1.5 or 1.5
    model.encoder.head.bias.data[0] = -1.5
    return model.eval()


def test_gmm_prior_draws_where_the_codes_are():
    model = two_cluster_vae()
    images = torch.cat([torch.full((60, 1, 8, 8), -1.0), torch.full((40, 1, 8, 8), 1.0)])
    assert not model.prior_fitted
    standard = model.sample_latent(500, torch.Generator().manual_seed(0))
    assert abs(standard.std().item() - 1) < 0.1  # N(0, I) before fitting
    fit = model.fit_prior(images)
    assert fit["components"] == 2 and fit["images"] == 100 and model.prior_fitted
    means = sorted(model.prior_means[:, 0].tolist())
    assert means == pytest.approx([-1.5, 1.5], abs=1e-3)
    assert sorted(model.prior_weights.tolist()) == pytest.approx([0.4, 0.6], abs=1e-3)
    z = model.sample_latent(2000, torch.Generator().manual_seed(0))
    assert z.shape == (2000, 3)
    assert (z[:, 0] > 0).float().mean().item() == pytest.approx(0.4, abs=0.04)  # drawn by the weights
    assert z[:, 1:].abs().max() < 0.1  # the other axes hold no spread in the codes
    again = model.sample_latent(2000, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)  # seeded


def test_gmm_prior_is_saved_with_the_weights(tmp_path):
    model = two_cluster_vae()
    model.fit_prior(torch.cat([torch.full((30, 1, 8, 8), -1.0), torch.full((30, 1, 8, 8), 1.0)]))
    model.save_pretrained(tmp_path / "m")
    loaded = VAE.from_pretrained(tmp_path / "m")
    assert loaded.prior_fitted
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(loaded.generate(5, generator=g()), model.generate(5, generator=g()))


def test_gmm_prior_is_refused_for_conditional_vaes_and_unfitted_calls():
    with pytest.raises(ConfigError, match="unconditional"):
        CVAE(CVAE.config_class.build({"image_size": 8, "latent_dim": 3, "num_classes": 3, "prior": "gmm"}))
    with pytest.raises(ConfigError, match="prior=gmm"):
        mlp_vae(prior="standard").fit_prior(torch.zeros(20, 1, 8, 8))


def test_training_fits_the_prior_and_the_card_says_so(tmp_path):
    import genlab

    args = {"runs_dir": tmp_path, "progress": False, "threads": 1, "max_steps": 20, "batch_size": 16}
    args["overrides"] = ["data.image_size=8", "data.max_images=128", "model.latent_dim=2", "model.hidden_dims=[16]"]
    res = genlab.train("image-generation", model="vae", data="builtin:digits", name="gmm", **args)
    model = VAE.from_pretrained(res.run.model_dir)
    assert model.config.prior == "gmm" and model.prior_fitted
    assert (
        "## Prior" in (res.run.model_dir / "README.md").read_text()
        and "10-component" in (res.run.model_dir / "README.md").read_text()
    )
    args["overrides"] = [*args["overrides"], "model.prior=standard"]
    res = genlab.train("image-generation", model="vae", data="builtin:digits", name="std", **args)
    assert "## Prior" not in (res.run.model_dir / "README.md").read_text()


def test_a_differentially_private_run_keeps_the_standard_prior(tmp_path):
    import genlab

    overrides = ["data.image_size=8", "data.max_images=128", "model.latent_dim=2", "model.hidden_dims=[16]"]
    res = genlab.train("image-generation", model="vae", data="builtin:digits", name="dp", runs_dir=tmp_path,
                       progress=False, threads=1, max_steps=5, batch_size=16,
                       overrides=[*overrides, "train.dp.epsilon=8"])  # fmt: skip
    model = VAE.from_pretrained(res.run.model_dir)
    card = (res.run.model_dir / "README.md").read_text()
    assert not model.prior_fitted and "differential-privacy guarantee does not cover" in card
