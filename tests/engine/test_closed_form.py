"""Closed-form models: the trainer calls ``fit`` once and exports like any other run."""

import torch
from torch import nn

import genlab
from genlab.core.metrics_log import read_rows
from genlab.core.model import register_model
from genlab.image.base import ImageGenerativeModel, ImageModelConfig


class MeanImageConfig(ImageModelConfig):
    latent_dim: int = 1


@register_model("image/test-mean-image")
class MeanImage(ImageGenerativeModel):
    """Test model: the per-pixel mean of the training images, plus Gaussian noise of the pixel std."""

    config_class = MeanImageConfig
    fits_in_closed_form = True

    def __init__(self, config: MeanImageConfig):
        super().__init__(config)
        shape = (config.channels, config.image_size, config.image_size)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)  # gives the model a device

    def fit(self, train_dataset, val_dataset=None):
        x = torch.stack([train_dataset[i][0] for i in range(len(train_dataset))])
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0))
        return {"train_pixel_var": float(x.var(0).mean())}

    def decode(self, z, labels=None):
        return self.mean + self.std * z.view(-1, 1, 1, 1)


def test_closed_form_model_is_fitted_and_exported(runs_dir):
    res = genlab.train(
        "image-generation",
        model="test-mean-image",
        data="builtin:digits",
        name="mean",
        runs_dir=runs_dir,
        overrides=["data.image_size=8", "data.max_images=64"],
        progress=False,
    )
    assert res.status == "completed" and res.steps == 0
    run = res.run
    assert (run.model_dir / "model.safetensors").is_file() and (run.samples_dir / "final.png").is_file()
    rows = read_rows(run.metrics_path)
    assert float(rows[0]["train_pixel_var"]) > 0
    pipe = genlab.load(run.path)
    z0 = pipe(n=2, seed=0, output_type="pt")
    assert z0.shape == (2, 1, 8, 8)
    assert not torch.allclose(pipe.model.mean, torch.zeros_like(pipe.model.mean))
