"""Every detector passes the shared model suite, and scores anomalies above normal images on a toy case."""

import numpy as np
import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.image.anomaly.metrics import auroc, pixel_auroc
from genlab.image.anomaly.patchknn import greedy_coreset
from tests.image.anomaly.model_mixin import (
    AnomalyModelTesterMixin,
    anomalous_images,
    as_dataset,
    normal_images,
    seeded,
)


def trained(model, steps: int, lr: float = 2e-3):
    """``model`` after ``steps`` Adam steps of every group on toy normal images (threads: the test's)."""
    torch.manual_seed(0)
    specs = model.optimizer_groups()
    opts = [torch.optim.Adam(s.params, lr=lr, betas=s.betas) for s in specs]
    s, c = model.config.image_size, model.config.channels
    model.train()
    for step in range(steps):
        batch = (normal_images(16, s, c, seed=step), torch.zeros(16, dtype=torch.long))
        for spec, opt in zip(specs, opts, strict=True):
            if step % spec.every == 0:
                opt.zero_grad()
                model.training_losses(batch, spec.name)["loss"].backward()
                opt.step()
    return model.eval()


def toy_auroc(model) -> float:
    s, c = model.config.image_size, model.config.channels
    normal = normal_images(20, s, c, seed=77)
    anomalous, _ = anomalous_images(20, s, c, seed=78)
    scores, _ = model.score(torch.cat([normal, anomalous]), generator=seeded(0))
    return auroc(np.r_[np.zeros(20), np.ones(20)], scores.numpy())


class TestAnomalyVAE(AnomalyModelTesterMixin):
    model_name = "anomaly/vae"
    config = {"latent_dim": 4, "hidden_dims": [8, 8], "image_size": 16, "channels": 1}
    validation_keys = {"loss", "recon", "kl"}

    def test_anomalies_score_higher_after_a_short_training(self):
        assert toy_auroc(trained(self.build(), 60)) > 0.9

    def test_ssim_variant_maps_agreement_to_zero(self):
        model = self.build(score="ssim").eval()
        scores, maps = model.score(normal_images(2, 16))
        assert maps.shape == (2, 16, 16) and (maps <= 2).all() and torch.allclose(scores, maps.flatten(1).mean(1))


class TestPatchKNN(AnomalyModelTesterMixin):
    model_name = "anomaly/patch-knn"
    config = {"memory_size": 64, "image_size": 16, "channels": 1, "max_fit_images": 20}
    validation_keys = None  # closed form: no losses

    def test_anomalies_score_higher_and_the_map_finds_them(self):
        model = self.build()
        model.fit(as_dataset(normal_images(40, 16)))
        assert toy_auroc(model) > 0.95
        images, masks = anomalous_images(10, 16, seed=5)
        _, maps = model.score(images)
        assert pixel_auroc(masks.numpy(), maps.numpy()) > 0.8

    def test_extractor_auto_avoids_the_labels_of_the_test_classes(self):
        model = self.build()
        data = as_dataset(normal_images(10, 16))
        data.source = "builtin:mnist-oneclass"
        model.fit(data)
        assert model.config.extractor == "fashion-mnist-lenet"
        data.source = "builtin:fashion-mnist-oneclass"
        other = self.build()
        other.fit(data)
        assert other.config.extractor == "mnist-lenet" and other.extractor_name == "mnist-lenet"

    def test_random_sampling_and_a_small_set_fill_the_bank(self):
        model = self.build(sampling="random", memory_size=10_000)
        metrics = model.fit(as_dataset(normal_images(2, 16)))  # 2 images x 64 patches < 10,000: rows repeat
        assert metrics["bank_size"] == 128 and model.bank.abs().sum() > 0

    def test_even_neighbourhood_is_refused(self):
        with pytest.raises(ConfigError, match="odd"):
            self.build(neighbourhood=2)


def test_greedy_coreset_picks_the_far_points():
    points = torch.tensor([[0.0, 0], [0.1, 0], [10, 0], [0, 10], [0.05, 0.05]])
    chosen = greedy_coreset(points, 3, torch.Generator().manual_seed(0)).tolist()
    assert {2, 3} <= set(chosen) and len(set(chosen)) == 3


class TestFAnoGAN(AnomalyModelTesterMixin):
    model_name = "anomaly/f-anogan"
    config = {"latent_dim": 8, "g_width": 8, "d_width": 8, "e_width": 8, "image_size": 16, "channels": 1}
    validation_keys = {"d_loss", "g_loss", "izif"}

    def test_encoder_group_trains_only_the_encoder(self):
        model = self.build()
        assert [s.name for s in model.optimizer_groups()] == ["discriminator", "generator", "encoder"]
        losses = model.training_losses(self.batch(model), "encoder")
        assert {"izif", "residual", "feature_residual"} <= set(losses)

    def test_score_is_residual_plus_kappa_features(self):
        images = normal_images(4, 16)
        plain = self.build(kappa=0.0).eval()
        weighted = self.build(kappa=5.0).eval()
        s0, m0 = plain.score(images)
        s5, m5 = weighted.score(images)
        assert torch.allclose(m0, m5) and torch.allclose(s0, m0.flatten(1).mean(1)) and (s5 > s0).all()


class TestDDPMRecon(AnomalyModelTesterMixin):
    model_name = "anomaly/ddpm-recon"
    config = {
        "image_size": 16, "channels": 1, "base_channels": 8, "channel_mult": [1, 2], "attention_levels": [],
        "num_timesteps": 50, "recon_steps": 10, "attention_head_dim": 8,
    }  # fmt: skip
    validation_keys = {"loss", "mse"}
    seeded_outputs = True  # the starting noise comes from the generator

    def test_more_noise_changes_the_image_more(self):
        model = self.build().eval()
        images = normal_images(4, 16)
        low = self.build(noise_level=0.1).eval().score(images, generator=seeded(0))[0]
        high = model.score(images, generator=seeded(0))[0]
        assert high.mean() > low.mean()
