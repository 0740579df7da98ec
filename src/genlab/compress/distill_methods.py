"""Distillation of GAN generators and of GPTs into smaller models of the same class.

* GAN generators (``image/dcgan``, ``image/cgan``, ``image/wgan-gp``): the student generator learns to
  reproduce the teacher's ``decode(z, labels)`` for fresh latents (and uniformly drawn labels for conditional
  models) with a pixel L1 loss, plus optionally an L1 loss on the teacher discriminator's features
  (``distill.feature_weight``) — Aguinaldo et al. 2019, "Compressing GANs using Knowledge Distillation"
  (arXiv:1902.00159). No adversarial game: the student only regresses the teacher's images, so it needs no
  real data (the data loader supplies only the batch size).
* GPT (``text/gpt``): soft targets, Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"
  (arXiv:1503.02531): ``loss = α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1-α)·CE(data)`` per token,
  on the teacher run's training data; the validation loss is the student's data cross-entropy alone, comparable
  with the teacher's ``val_loss``.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from genlab.compress.distill import DistillConfig, DistillMethod, StudentMixin, register_method
from genlab.core.errors import ConfigError
from genlab.core.model import GenerativeModel, OptimizerSpec

# --------------------------------------------------------------------------- GAN generators


class GeneratorStudent(StudentMixin):
    """Mixin of a GAN student: one optimizer group, the generator, regressing the teacher's images."""

    def __init__(self, config):
        super().__init__(config)
        with contextlib.suppress(RuntimeError):  # the teacher's discriminator where the sizes agree (for a GAN run)
            self.discriminator.load_state_dict(self.teacher.discriminator.state_dict())

    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [OptimizerSpec("generator", list(self.generator.parameters()), lr=c.lr_g, betas=c.betas)]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """{loss, l1[, feature_l1]} on a batch of fresh latents (as many as the batch has images)."""
        images, _ = batch
        n = images.shape[0]
        z = torch.randn(n, self.config.latent_dim, device=self.device)
        labels = torch.randint(self.config.num_classes, (n,), device=self.device) if self.conditional else None
        with torch.no_grad():
            target = self.teacher.decode(z, labels)  # (B, C, H, W) in [-1, 1]
        out = self.generator(z, labels)
        l1 = (out - target).abs().mean()
        losses = {"loss": l1, "l1": l1}
        weight = self.distill.feature_weight
        if weight > 0:
            features = self.teacher.discriminator.features  # frozen: no gradient reaches its weights
            feature_l1 = (features(out) - features(target)).abs().mean()
            losses |= {"loss": l1 + weight * feature_l1, "feature_l1": feature_l1}
        return losses

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """The same losses with the student's inference-mode BatchNorm (the engine validates in eval mode)."""
        return self.training_losses(batch, "generator")


@register_method
class GANGeneratorDistillation(DistillMethod):
    """A smaller generator regresses the teacher's images for the same latents (Aguinaldo et al. 2019)."""

    name = "gan-generator"
    models = ("image/dcgan", "image/cgan", "image/wgan-gp")
    citation = "Aguinaldo et al. 2019, Compressing GANs using Knowledge Distillation, arXiv:1902.00159"
    mixin = GeneratorStudent
    quality_metric = "fid"

    def check(self, teacher: GenerativeModel, student_values: dict[str, Any], options: DistillConfig) -> None:
        latent = student_values.get("latent_dim", teacher.config.latent_dim)
        if latent != teacher.config.latent_dim:
            raise ConfigError(
                f"the student's latent_dim ({latent}) differs from the teacher's ({teacher.config.latent_dim})",
                "a student reproduces the teacher's image for the same latent: keep latent_dim, shrink g_width",
            )

    def inference_parameters(self, model: GenerativeModel) -> list[torch.nn.Parameter]:
        return list(model.generator.parameters())

    def latency(self, model: GenerativeModel, options: DistillConfig):
        model = model.eval()
        z = model.sample_latent(64, torch.Generator().manual_seed(0))
        labels = model.check_labels(None, 64) if model.conditional else None
        return (lambda: model.decode(z, labels)), "decoder, a batch of 64 latents"

    def quality(self, run, options: DistillConfig) -> dict[str, Any]:
        return image_fid(run, options)


def image_fid(run, options: DistillConfig, **eval_options: Any) -> dict[str, Any]:
    """FID of a run's model by ``genlab.evaluate`` (n = ``eval_n``, no baselines, nothing saved)."""
    if not options.eval_n:
        return {}
    import genlab

    result = genlab.evaluate(run, ["fid"], save=False, n=options.eval_n, baselines=False, **eval_options)
    return {"value": float(result["metrics"]["fid"]), "protocol": result.get("protocol", {})}


# --------------------------------------------------------------------------- GPT


class SoftTargetStudent(StudentMixin):
    """Mixin of a GPT student: Hinton et al.'s soft-target loss mixed with the data's cross-entropy."""

    def __init__(self, config):
        super().__init__(config)
        t = self.teacher.config
        if (config.vocab_size, config.tokenizer) != (t.vocab_size, t.tokenizer):
            raise ConfigError(
                f"the student's tokenizer (vocabulary {config.vocab_size}) differs from the teacher's "
                f"({t.vocab_size}): soft targets need the same token ids",
                "distil on the teacher run's own data and tokenizer (drop data.* overrides)",
            )

    def training_losses(self, batch: torch.Tensor, group: str) -> dict[str, torch.Tensor]:
        """{loss, kd, ce}: kd is KL(teacher_T ‖ student_T) in nats per token, ce the data cross-entropy."""
        batch = batch.to(self.device)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = self.logits(inputs).flatten(0, 1)  # (B, T, V) -> (B·T, V)
        with torch.no_grad():
            teacher_logits = self.teacher.logits(inputs).flatten(0, 1)
        T, alpha = self.distill.temperature, self.distill.alpha
        kd = F.kl_div(F.log_softmax(logits / T, -1), F.log_softmax(teacher_logits / T, -1), log_target=True,
                      reduction="batchmean")  # fmt: skip
        ce = F.cross_entropy(logits, targets.flatten())
        # T² keeps the soft targets' gradients on the scale of the hard ones' (Hinton et al. 2015, section 2)
        return {"loss": alpha * T * T * kd + (1 - alpha) * ce, "kd": kd, "ce": ce}

    def validation_losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """{loss: the data cross-entropy (the teacher run's val_loss measure), kd}."""
        losses = self.training_losses(batch, "model")
        return {"loss": losses["ce"], "kd": losses["kd"]}


@register_method
class GPTDistillation(DistillMethod):
    """A smaller GPT learns the teacher's softened next-token distributions (Hinton et al. 2015)."""

    name = "soft-targets"
    models = ("text/gpt",)
    citation = "Hinton et al. 2015, Distilling the Knowledge in a Neural Network, arXiv:1503.02531"
    mixin = SoftTargetStudent
    quality_metric = "val_loss"
    prompt_tokens: ClassVar[int] = 64

    def latency(self, model: GenerativeModel, options: DistillConfig):
        model = model.eval()
        c = model.config
        prompt = min(self.prompt_tokens, c.block_size - 1)
        state = model.init_state(1)
        with torch.no_grad():
            model.step(torch.zeros(1, prompt, dtype=torch.long), state)
        token = torch.zeros(1, 1, dtype=torch.long)

        def one_step():
            state.length = prompt  # back to the same position: every call is the step after the prompt
            return model.step(token, state)

        return one_step, f"one-token decoding step (KV cache) after {prompt} tokens, batch 1"

    def quality(self, run, options: DistillConfig) -> dict[str, Any]:
        import genlab

        result = genlab.evaluate(run, ["val_loss", "perplexity"], save=False)
        m = result["metrics"]
        return {"value": float(m["val_loss"]), "others": {"perplexity": float(m["perplexity"])},
                "protocol": result.get("protocol", {})}  # fmt: skip
