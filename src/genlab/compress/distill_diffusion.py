"""Progressive distillation of a DDPM into a sampler of few deterministic steps (``image/ddpm``).

Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models" (arXiv:2202.00512),
algorithm 2, on genlab's discrete time grid: a student that starts from its teacher's weights learns to match
two deterministic DDIM steps (η = 0) of the teacher with one step of its own. For a student of N steps on the
DDIM grid t_0 > t_1 > … > t_N = -1 (:class:`~genlab.nn.diffusion.samplers.DDIMSampler`'s trailing grid, whose
2N-step grid holds the N-step one at its even points), a training example is

    x ~ data, i ~ U{0..N-1}, t = t_i, t' = t_{i+1}, t'' = the 2N-grid point between them, ε ~ N(0, I),
    z_t = α_t x + σ_t ε (α = √ᾱ, σ = √(1 - ᾱ)),
    z_t'' = DDIM_teacher(z_t, t → t''),  z_t' = DDIM_teacher(z_t'', t'' → t'),
    x̃ = (z_t' - (σ_t'/σ_t) z_t) / (α_t' - (σ_t'/σ_t) α_t)   (the clean image one DDIM step must predict),
    loss = max(SNR_t, 1) · ‖x̂_student(z_t, t) - x̃‖²   ("truncated SNR" weighting, section 4).

With ``clip_sample`` (the default) the student's sampler clamps x̂ to [-1, 1] before its step, so the loss
compares the clamped x̂ (a straight-through clamp: the gradient passes as if unclamped). Without it an
ε-predicting student is scored on (z - σ ε̂)/α, whose error at the noisiest step is the ε error times
σ/α (about 150 for the linear schedule): those examples then dominate the loss, the instability Salimans & Ho
report for ε-prediction (section 4).

Each round halves the steps (e.g. a first-round teacher at 32 steps: students of 16, 8, then 4 steps) and the
next round's teacher is the previous round's student. Every round is a normal engine run: the rounds before the
last train in ``<run>/rounds/<task>/<N>-steps`` (a re-run skips the completed ones and resumes the one that was
stopped); the last one is the student run itself. ``--max-minutes`` is shared evenly by the rounds,
``--max-steps`` is per round. The student's config records ``sampler: ddim``, ``eta: 0`` and
``sample_steps: N``, so ``genlab sample`` uses the distilled step count by default.

Class-conditional models are distilled on the labels of the data with the teacher's label dropout, without
guidance: the student keeps both its conditional and its unconditional outputs, so classifier-free guidance
still applies at sampling (guided distillation, Meng et al. 2023, is not implemented).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from genlab.compress.distill import (
    DistillConfig,
    DistillJob,
    DistillMethod,
    StudentMixin,
    register_method,
    student_class,
    train_student,
)
from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import GenerativeModel
from genlab.core.runs import Run

#: the batch of images whose full sampling is timed
LATENCY_BATCH = 16


def ddim_grid(schedule, steps: int) -> list[int]:
    """The time points (steps + 1, noisiest first, -1 last) of genlab's DDIM sampler with ``steps`` steps."""
    from genlab.nn.diffusion.samplers import DDIMSampler

    return DDIMSampler(schedule, steps).time_points()


def predict_clean(model, x: torch.Tensor, t: torch.Tensor, labels, clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂_0, ε̂) of a DDPM's UNet at per-example times ``t`` (B,) for noisy ``x`` (B, C, H, W); with ``clip``
    x̂_0 is clamped to [-1, 1] and ε̂ re-derived from it, as the model's own sampling does."""
    a = model.schedule.alpha_bar(t).to(x).view(-1, *([1] * (x.dim() - 1)))
    sa, sb = a.sqrt(), (1 - a).sqrt()
    out = model.unet(x, t.to(x.device).float(), labels)
    if model.config.prediction_type == "epsilon":
        eps, x0 = out, (x - sb * out) / sa
    else:  # v = α ε - σ x_0
        x0, eps = sa * x - sb * out, sa * out + sb * x
    if clip:
        x0 = x0.clamp(-1, 1)
        eps = (x - sa * x0) / sb
    return x0, eps


def ddim_step(schedule, x0: torch.Tensor, eps: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
    """Deterministic DDIM (η = 0) to per-example times ``t_next``: √ᾱ' x̂_0 + √(1 - ᾱ') ε̂."""
    a = schedule.alpha_bar(t_next).to(x0).view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


class ProgressiveStudent(StudentMixin):
    """Mixin of a DDPM student of ``student_steps`` steps: starts from the teacher's weights, learns two of its
    DDIM steps in one."""

    student_steps: ClassVar[int]

    def __init__(self, config):
        super().__init__(config)
        self.load_state_dict(self.teacher.state_dict())
        n = type(self).student_steps
        coarse, fine = ddim_grid(self.schedule, n), ddim_grid(self.schedule, 2 * n)
        if fine[::2] != coarse:  # cannot happen with the trailing grid; a changed sampler would break it
            raise ConfigError(f"the {2 * n}-step DDIM grid does not contain the {n}-step grid")
        self.__dict__["grids"] = (torch.tensor(coarse), torch.tensor(fine))

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """{loss, mse}: truncated-SNR-weighted regression of x̂ on the target of two teacher steps."""
        images, labels = batch
        return self.distillation_losses(images, self.training_labels(labels.to(images.device), drop=self.training))

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        images, labels = batch
        return self.distillation_losses(images, self.training_labels(labels.to(images.device), drop=False))

    def distillation_losses(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        coarse, fine = self.grids
        i = torch.randint(len(coarse) - 1, (images.shape[0],))
        t, t_mid, t_next = coarse[i], fine[2 * i + 1], coarse[i + 1]
        z = self.schedule.q_sample(images, t, torch.randn_like(images))
        teacher, clip = self.teacher, self.teacher.config.clip_sample
        with torch.no_grad():
            z_mid = ddim_step(self.schedule, *predict_clean(teacher, z, t, labels, clip), t_mid)
            z_next = ddim_step(self.schedule, *predict_clean(teacher, z_mid, t_mid, labels, clip), t_next)
            a = self.schedule.alpha_bar(t).to(images).view(-1, 1, 1, 1)
            a_next = self.schedule.alpha_bar(t_next).to(images).view(-1, 1, 1, 1)
            ratio = ((1 - a_next) / (1 - a)).sqrt()  # σ_t' / σ_t
            target = (z_next - ratio * z) / (a_next.sqrt() - ratio * a.sqrt())
            weight = (a / (1 - a)).clamp(min=1.0).flatten()  # max(SNR, 1)
        x0, _ = predict_clean(self, z, t, labels, clip=False)
        if self.config.clip_sample:  # sampling clamps x̂: compare the clamped value, pass gradients straight through
            x0 = x0 + (x0.clamp(-1, 1) - x0).detach()
        mse = (x0 - target).pow(2).flatten(1).mean(1)
        return {"loss": (weight * mse).mean(), "mse": mse.mean()}


@register_method
class ProgressiveDistillation(DistillMethod):
    """Halve a DDPM's deterministic sampling steps round by round (Salimans & Ho 2022)."""

    name = "progressive"
    models = ("image/ddpm",)
    citation = "Salimans & Ho 2022, Progressive Distillation for Fast Sampling of Diffusion Models, arXiv:2202.00512"
    mixin = ProgressiveStudent
    quality_metric = "fid"

    def rounds(self, teacher: GenerativeModel, options: DistillConfig) -> list[int]:
        """The step counts of the students, one per round (e.g. [16, 8, 4])."""
        steps, T = options.steps, teacher.config.num_timesteps
        if steps is None:
            hint = "pass --steps, e.g. --steps 4 (progressive distillation halves the steps to it)"
            raise BadInputError("diffusion distillation needs the student's sampling steps", hint)
        start = options.teacher_steps
        if start is None:
            start = 2 * steps
            while start < teacher.config.sample_steps:
                start *= 2
        n, plan = start, []
        while n > steps and n % 2 == 0:
            n //= 2
            plan.append(n)
        if n != steps or not plan:
            halvings = " → ".join(str(start // 2**k) for k in range(4) if start // 2**k >= 1)
            raise BadInputError(
                f"--steps {steps} cannot be reached by halving the first round's {start} teacher steps ({halvings} …)",
                f"choose --steps among {start // 2}, {start // 4 or 1}, … or set distill.teacher_steps to "
                f"{steps} × a power of two (e.g. {steps * 8})",
            )
        if start > T:
            raise BadInputError(f"the first round's {start} teacher steps exceed the model's {T} diffusion timesteps",
                                "choose fewer --steps or a smaller distill.teacher_steps")  # fmt: skip
        return plan

    def check(self, teacher: GenerativeModel, student_values: dict[str, Any], options: DistillConfig) -> None:
        self.rounds(teacher, options)
        student = type(teacher)(type(teacher).config_class.build(self.student_values(teacher, student_values, options)))
        try:
            student.load_state_dict(teacher.state_dict())
        except RuntimeError:
            raise ConfigError(
                "a progressively distilled student starts from its teacher's weights and keeps its network sizes",
                "drop the --student-config / model.* changes to the UNet (sampling fields such as lr may change)",
            ) from None

    def student_values(self, teacher: GenerativeModel, values: dict[str, Any], options: DistillConfig) -> dict:
        # the distilled step count is the student's point: no sampling sweep at the end of its rounds
        fixed = {"sampler": "ddim", "eta": 0.0, "sample_steps": options.steps}
        return {**values, **fixed, "tune_minutes": 0, "sampling_sweep": None}

    def train(self, job: DistillJob) -> Any:
        plan = self.rounds(job.teacher, job.options)
        teacher, train = job.teacher, job.cfg.train
        minutes = train.max_minutes / len(plan) if train.max_minutes else None
        job.details["rounds"] = []
        result = None
        for k, steps in enumerate(plan):
            last = k == len(plan) - 1
            runs_dir = job.runs_dir if last else job.run.path / "rounds"
            cfg = job.cfg.model_copy(update={
                "name": job.cfg.name if last else f"{steps}-steps",
                "model": {**job.cfg.model, "sample_steps": steps},
                "train": train.model_copy(update={"max_minutes": minutes}),
            })  # fmt: skip
            run = Run(runs_dir / cfg.task / cfg.name)
            job.details["rounds"].append({"teacher_steps": 2 * steps, "student_steps": steps, "run": str(run.path)})
            if not last and run.status().get("status") == "completed" and (run.model_dir / "config.json").is_file():
                teacher = GenerativeModel.from_pretrained(run.model_dir)  # done by an earlier call
                continue
            cls = student_class(teacher, self, job.options, job.teacher_run, student_steps=steps)
            result = train_student(cfg, cls, runs_dir)
            job.details["rounds"][-1]["steps"] = result.steps
            if result.status != "completed":
                return result
            teacher = GenerativeModel.from_pretrained(run.model_dir)
        return result

    def extra_record(self, job: DistillJob) -> dict[str, Any]:
        steps = {"teacher": job.teacher.config.sample_steps, "student": job.options.steps}
        return {"rounds": job.details.get("rounds", []), "sampling_steps": steps}

    def inference_parameters(self, model: GenerativeModel) -> list[torch.nn.Parameter]:
        return list(model.unet.parameters())

    def latency(self, model: GenerativeModel, options: DistillConfig):
        model = model.eval()
        steps = model.config.sample_steps
        call = lambda: model.generate(LATENCY_BATCH, generator=torch.Generator().manual_seed(0))  # noqa: E731
        return call, f"full sampling of {LATENCY_BATCH} images at the model's default steps ({steps} for this one)"

    def quality(self, run, options: DistillConfig) -> dict[str, Any]:
        from genlab.compress.distill_methods import image_fid

        return image_fid(run, options)
