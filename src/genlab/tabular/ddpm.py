"""TabDDPM: a diffusion model of mixed-type table rows (Kotelnikov et al. 2023, "TabDDPM: Modelling Tabular
Data with Diffusion Models").

A row is encoded with quantile-normal numerical values (``numerical_encoding = "quantile"``: every alpha
span is an unbounded, roughly standard normal value) and one-hot blocks for everything discrete: the
categories of categorical and boolean columns and the present/missing indicators (any mode blocks, too,
are treated as categorical variables). Two forward processes run on the same time grid and β schedule:

* the alpha columns follow Gaussian diffusion (Ho et al. 2020): x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε; the
  network predicts ε and the loss is its mean squared error over the alpha columns;
* each one-hot block follows multinomial diffusion (Hoogeboom et al. 2021) with its own number of classes
  K: q(x_t | x_{t-1}) = Cat((1 - β_t) x_{t-1} + β_t/K) (:mod:`genlab.nn.diffusion.multinomial`); the network
  predicts logits of x_0 per block, and the loss is the KL between the true and the predicted posterior
  (the decoder NLL at t = 0), as an ELBO estimate T·L_t + KL(q(x_{T-1} | x_0) ‖ uniform) with t uniform.

Total loss (TabDDPM's weighting): MSE + mean over rows of the multinomial loss / number of one-hot blocks.
One MLP denoiser sees the noisy row (alpha values and the noisy one-hot blocks side by side) and t; it is
the paper's: x → Linear(d_in, time_dim) + an MLP of a sinusoidal embedding of t, then blocks
Linear → ReLU → Dropout of widths ``hidden``, then one Linear to the ε of the alphas and the logits of
every block. No normalisation layers, so Opacus' per-sample gradients apply (differentially private
training).

Sampling runs the reverse chain from N(0, I) and uniform categories, over every step by default or over
``sample_steps`` "trailing" grid points (:class:`~genlab.nn.diffusion.samplers.DiffusionSampler`): the
Gaussian part takes respaced DDPM steps (:class:`~genlab.nn.diffusion.samplers.DDPMSampler`, the posterior
between grid points with ᾱ_t/ᾱ_s as α), the multinomial part its posterior between grid points with
β = 1 - ᾱ_t/ᾱ_s recomputed from the cumulative ᾱ (exact for this chain, see the multinomial module).

The predicted clean alphas x̂_0 are clamped to ±``clip_denoised`` (±1 for bounded spans) at every step:
quantile-normal values lie within ±5.2, and the cosine schedule's last step (β = 0.999) would otherwise
multiply the ε̂ error of an imperfect network some 30-fold.

Conditioning on categories (``sex = Female``) is native. The conditioned blocks are the "known part" of
RePaint (Lugmayr et al. 2022): at every step they are replaced by a draw of q(x_t | x_0 = the category),
so the rows hold the category exactly. Replacement alone informs the rest of the row only through the
noisy x_t of the known blocks, nearly uninformative while the other columns take shape, so the denoiser's
own prediction p̂(c_0 | x_t) of the conditioned categories c guides them (``guidance``, 1 = Bayes' rule):
since x_t of the other columns and the noisy c_t are independent given c_0,
∇ log p(x_t | c_0) = ∇ log p(x_t | c_t) + ∇ log p̂(c_0 | x_t, c_t) exactly. The Gaussian mean moves by
σ²·∇ log p̂ (classifier guidance, Dhariwal & Nichol 2021, alg. 1); the other blocks' reverse log-probabilities
get the first-order (Taylor) change of log p̂ along each class's one-hot (Nisonoff et al. 2024, "Unlocking
Guidance for Discrete State-Space Diffusion and Flow Models").

A class-conditional model (``class_column``, as TabDDPM's authors train classification datasets) is told
each row's category of that column: an embedding added to the timestep embedding. It draws every row's
class from the training shares (or takes it from a condition) and the rest of the row given it, without
the guidance above. With ``class_dropout`` the class is hidden on that share of the training rows (a last
"no class" embedding), so the same network also predicts without it, and ``class_guidance`` w > 1 applies
classifier-free guidance (Ho & Salimans 2022): ε̂ = ε̂_u + w (ε̂_c - ε̂_u), and the same line through the
blocks' log-probabilities of x_0, renormalised — rows more typical of their class, which is what a
classifier trained on them needs (docs/benchmarks/tabular.md).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.errors import BadInputError, ConfigError
from genlab.core.model import OptimizerSpec, register_model
from genlab.nn.diffusion.multinomial import MultinomialDiffusion, log_onehot
from genlab.nn.diffusion.samplers import DDPMSampler
from genlab.nn.diffusion.schedules import BetaSchedule, NoiseSchedule
from genlab.nn.unet import timestep_embedding
from genlab.tabular.base import CategoryCondition, TabularModel, TabularModelConfig
from genlab.tabular.spans import check_layout

#: the conditioned block columns and their one-hot values, each (n_block_cols,), or None without conditions
Known = tuple[torch.Tensor, torch.Tensor] | None


class TabDDPMConfig(TabularModelConfig):
    """``tabular/tab-ddpm``: the denoiser's size, the diffusion chain and the optimizer (paper defaults)."""

    hidden: list[int] = Field(
        default_factory=lambda: [256, 256], description="widths of the MLP blocks (Linear → ReLU → Dropout)"
    )
    time_dim: int = Field(128, ge=2, le=4096, description="width of the input projection and timestep embedding")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each MLP block")
    num_timesteps: int = Field(1000, ge=2, le=10000, description="length T of both diffusion chains")
    schedule: BetaSchedule = Field("cosine", description="β_t schedule: cosine (Nichol & Dhariwal 2021) or linear")
    sample_steps: int | None = Field(
        100,
        ge=1,
        description="reverse steps when sampling, a strided subset of the chain (at most num_timesteps; None = all); "
        "100 draw ten times faster than 1,000 (docs/benchmarks/tabular.md)",
    )
    clip_denoised: float | None = Field(
        6.0,
        gt=0,
        description="clamp the predicted clean alphas to ±this when sampling (bounded ones to ±1); None = off",
    )
    guidance: float = Field(
        1.0, ge=0, le=20, description="scale of the guidance towards conditioned categories (1 = Bayes, 0 = none)"
    )
    lr: float = Field(2e-3, gt=0, le=1, description="Adam learning rate (the paper's best on Adult: 1e-3 … 2e-3)")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="Adam weight decay")
    class_column: str | None = Field(
        None,
        description="a categorical column the denoiser is told (TabDDPM's class-conditional model for a "
        "classification target): each row's category is drawn from the training shares, or fixed by a condition, "
        "and the rest of the row given it",
    )
    class_dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of training rows whose class the denoiser is not told (a class-conditional model): "
        "it learns the unconditional rows too, which class_guidance needs",
    )
    class_guidance: float = Field(
        1.0,
        ge=0,
        le=20,
        description="classifier-free guidance of a class-conditional model (Ho & Salimans 2022): 1 = the "
        "conditional rows, above 1 rows more typical of their class (needs class_dropout > 0)",
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate over the run (cosine: to 0 at the end of the steps or of the clock)"
    )

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, hidden: list[int]) -> list[int]:
        if any(h < 1 for h in hidden):
            raise ValueError("hidden widths must be positive, e.g. [256, 256]")
        return hidden

    @property
    def reverse_steps(self) -> int:
        """Steps of the reverse chain: ``sample_steps`` capped at ``num_timesteps``."""
        return min(self.sample_steps or self.num_timesteps, self.num_timesteps)


class MLPDenoiser(nn.Module):
    """TabDDPM's denoiser: (x_t, t) -> ε̂ of the alphas and x_0 logits of the blocks, (B, d_out)."""

    def __init__(self, d_in: int, d_out: int, hidden: list[int], time_dim: int, dropout: float, n_classes: int = 0):
        super().__init__()
        self.time_dim = time_dim
        self.proj = nn.Linear(d_in, time_dim)
        self.time_embed = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        # one row more than the classes: "no class", for rows trained without theirs (classifier-free guidance)
        self.class_embed = nn.Embedding(n_classes + 1, time_dim) if n_classes else None
        layers: list[nn.Module] = []
        width = time_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(width, d_out)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, d_in) noisy rows, t (B,) integer times, y (B,) classes of a class-conditional model -> (B, d_out)."""
        h = self.proj(x) + self.time_embed(timestep_embedding(t, self.time_dim))
        if self.class_embed is not None:
            h = h + self.class_embed(y)
        return self.head(self.blocks(h))


@register_model("tabular/tab-ddpm")
class TabDDPM(TabularModel):
    """Gaussian diffusion of the numbers and multinomial diffusion of the categories, one MLP denoiser."""

    config_class: ClassVar[type[TabDDPMConfig]] = TabDDPMConfig
    config: TabDDPMConfig
    description: ClassVar[str] = "TabDDPM: Gaussian + multinomial diffusion with an MLP denoiser (Kotelnikov 2023)"
    numerical_encoding: ClassVar[Literal["mode", "quantile"]] = "quantile"
    #: a column's dominant value (Adult's zero capital gains) is a category of its own: the multinomial chain
    #: learns its share, where the Gaussian chain drew too few of the other values (docs/benchmarks/tabular.md)
    numerical_spikes: ClassVar[bool] = True
    conditions_natively: ClassVar[bool] = True
    #: trains with an EMA of the weights (decay 0.995) and exports it: on Adult it lifts the quality score from
    #: 0.930–0.946 (the last weights of two runs) to 0.977 at the same budget
    default_ema_decay: ClassVar[float] = 0.995
    #: rows denoised together when sampling (bounds the activations of large requests)
    sample_batch_size: ClassVar[int] = 4096

    def __init__(self, config: TabDDPMConfig):
        super().__init__(config)
        who = self.registry_name or type(self).__name__
        check_layout(self.spans, config.data_dim, who)
        self.schedule = NoiseSchedule(config.num_timesteps, config.schedule)  # every β < 1 (both are capped)
        self.alpha_spans = [s for s in self.spans if s.kind == "alpha"]
        self.block_spans = [s for s in self.spans if s.kind == "softmax"]
        alpha_cols = [s.start for s in self.alpha_spans]
        block_cols = [i for s in self.block_spans for i in range(s.start, s.stop)]
        # model order: [alphas | blocks]; data columns gathered into it and scattered back
        self.register_buffer("order", torch.tensor(alpha_cols + block_cols, dtype=torch.long), persistent=False)
        self.n_alpha, self.n_block_cols = len(alpha_cols), len(block_cols)
        self.multinomial = (
            MultinomialDiffusion(self.schedule, [s.width for s in self.block_spans]) if self.block_spans else None
        )
        #: (offset, width) of the class column's block among the block columns, or None (unconditional model)
        self.class_block = self.find_class_block(config.class_column)
        if config.class_guidance != 1 and not (config.class_column and config.class_dropout > 0):
            raise ConfigError(
                "class_guidance needs a class-conditional model trained without the class on some rows",
                "set model.class_column and model.class_dropout (e.g. 0.1), or keep class_guidance at 1",
            )
        width = self.n_alpha + self.n_block_cols
        n_classes = self.class_block[1] if self.class_block else 0
        self.denoiser = MLPDenoiser(width, width, config.hidden, config.time_dim, config.dropout, n_classes)

    def category_block(self, column: str, subject: str) -> tuple[int, int]:
        """(offset, width) of categorical ``column``'s block among the block columns; else a BadInputError
        "``subject`` is not a categorical column" listing the categorical columns."""
        by_column = {s.column: (j, s) for j, s in enumerate(self.block_spans) if s.role == "category"}
        if column not in by_column:
            raise BadInputError(
                f"{subject} is not a categorical column of this model",
                "categorical columns: " + (", ".join(by_column) or "none"),
            )
        j, span = by_column[column]
        return int(self.multinomial.offsets[j]), span.width

    def find_class_block(self, column: str | None) -> tuple[int, int] | None:
        """(offset, width) of ``column``'s category block among the block columns; None without a column."""
        if column is None or not self.config.data_dim:
            return None
        return self.category_block(column, f"class_column '{column}'")

    def classes_of(self, x_cat: torch.Tensor) -> torch.Tensor | None:
        """(B,) class indices of one-hot rows' class block, or None for an unconditional model."""
        if self.class_block is None:
            return None
        offset, width = self.class_block
        return x_cat[:, offset : offset + width].argmax(1)

    # --- training -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        params = list(self.parameters())
        return [OptimizerSpec("denoiser", params, lr=c.lr, weight_decay=c.weight_decay, schedule=c.lr_schedule)]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """{loss, gaussian, multinomial} at a uniformly drawn time per row of ``batch`` (B, data_dim)."""
        if group != "denoiser":
            raise BadInputError(f"unknown optimizer group '{group}'", "tabular/tab-ddpm has one group, 'denoiser'")
        x = self.rows_of(batch).to(self.device)[:, self.order]  # (B, data_dim) -> (B, alphas + blocks)
        x_num, x_cat = x[:, : self.n_alpha], x[:, self.n_alpha :]
        t = torch.randint(0, self.config.num_timesteps, (x.shape[0],), device=x.device)
        noise = torch.randn_like(x_num)
        x_num_t = self.schedule.q_sample(x_num, t, noise)
        if self.multinomial is not None:
            log_x0 = log_onehot(x_cat)
            x_cat_t = self.multinomial.sample(self.multinomial.q_log_probs(log_x0, t))
        else:
            x_cat_t = x_cat
        classes = self.classes_of(x_cat)
        if classes is not None and self.config.class_dropout > 0:  # the "no class" index for a share of the rows
            hidden = torch.rand(classes.shape, device=classes.device) < self.config.class_dropout
            classes = torch.where(hidden, self.class_block[1], classes)
        out = self.denoiser(torch.cat([x_num_t, x_cat_t], 1), t, classes)
        zero = x.new_zeros(())
        gaussian = F.mse_loss(out[:, : self.n_alpha], noise) if self.n_alpha else zero
        multinomial = zero
        if self.multinomial is not None:
            log_x0_hat = self.multinomial.log_softmax(out[:, self.n_alpha :])
            terms = self.multinomial.loss_terms(log_x0, log_x0_hat, log_onehot(x_cat_t), t)
            elbo = self.config.num_timesteps * terms + self.multinomial.kl_prior(log_x0)  # uniform t: L_t / p(t)
            multinomial = elbo.mean() / len(self.block_spans)
        return {"loss": gaussian + multinomial, "gaussian": gaussian, "multinomial": multinomial}

    # --- sampling -----------------------------------------------------------------
    @torch.no_grad()
    def generate_encoded(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: list[CategoryCondition] | None = None,
    ) -> torch.Tensor:
        """``n`` encoded rows (n, data_dim) float32 on the CPU: sampled alphas (the last step returns the clamped
        x̂_0, so bounded spans lie in [-1, 1]) and one-hot blocks; the blocks named in ``conditions`` hold their
        category in every row."""
        conditions = conditions or []
        if self.class_block is not None and all(column != self.config.class_column for column, _ in conditions):
            # a class-conditional model: each row's class from the training shares, the rest of the row given it
            classes, column = self.draw_classes(n, generator), self.config.class_column
            parts = [
                self.generate_encoded(int((classes == k).sum()), generator, [*conditions, (column, k)])
                for k in classes.unique().tolist()
            ]
            rows = torch.cat(parts) if parts else torch.zeros(0, self.config.data_dim)
            return rows[torch.randperm(len(rows), generator=generator)]
        known = self.known_blocks(conditions)
        chunks = []
        for start in range(0, n, self.sample_batch_size):
            chunks.append(self.reverse_chain(min(self.sample_batch_size, n - start), generator, known))
        x = torch.cat(chunks) if chunks else torch.zeros(0, self.n_alpha + self.n_block_cols, device=self.device)
        rows = torch.zeros(x.shape[0], self.config.data_dim, device=x.device)
        rows[:, self.order] = x  # (n, alphas + blocks) -> (n, data_dim)
        return rows.float().cpu()

    def draw_classes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """(n,) classes drawn from the class column's training shares (``category_counts``)."""
        counts = self.config.category_counts.get(self.config.class_column)
        if not counts or len(counts) != self.class_block[1] or sum(counts) <= 0:
            raise BadInputError(
                f"this model has no training counts of its class column '{self.config.class_column}'",
                "fit it with `genlab synth fit`, which records them, or condition on the column",
            )
        shares = torch.tensor(counts, dtype=torch.float64)
        return torch.multinomial(shares, n, replacement=True, generator=generator) if n else torch.zeros(0).long()

    def known_blocks(self, conditions: list[CategoryCondition]) -> Known:
        """(mask, x_0) over the block columns (each (n_block_cols,)) of the conditioned categories, or None."""
        if not conditions:
            return None
        mask, x0 = torch.zeros(self.n_block_cols, dtype=torch.bool), torch.zeros(self.n_block_cols)
        chosen: dict[str, int] = {}
        for column, index in conditions:
            offset, width = self.category_block(column, f"cannot condition on column '{column}': it")
            if not 0 <= index < width:
                raise BadInputError(
                    f"category index {index} of column '{column}' is out of range", f"use 0 … {width - 1}"
                )
            if chosen.setdefault(column, index) != index:
                raise BadInputError(f"column '{column}' is conditioned on two categories", "give one value a column")
            mask[offset : offset + width] = True
            x0[offset : offset + width] = F.one_hot(torch.tensor(index), width).float()
        return mask.to(self.device), x0.to(self.device)

    def impose(self, x_cat: torch.Tensor, known: Known, t: int, generator: torch.Generator | None) -> torch.Tensor:
        """Replace the known blocks of ``x_cat`` (B, n_block_cols) by a draw of q(x_t | x_0 = the condition)."""
        if known is None:
            return x_cat
        mask, x0 = known
        x0 = x0.expand_as(x_cat)
        noisy = x0 if t < 0 else self.multinomial.q_sample(x0, t, generator)
        return torch.where(mask, noisy, x_cat)

    def reverse_chain(self, n: int, generator: torch.Generator | None, known: Known) -> torch.Tensor:
        """(n, alphas + blocks): the reverse chain on the trailing grid of ``sample_steps`` points."""
        dev, mult = self.device, self.multinomial
        sampler = DDPMSampler(self.schedule, self.config.reverse_steps)
        grid = sampler.time_points()  # T-1, …, -1
        x_num = torch.randn(n, self.n_alpha, generator=generator).to(dev)  # on the CPU, as DDPMSampler's noise
        x_cat = torch.zeros(n, 0, device=dev)
        if mult is not None:
            x_cat = self.impose(mult.sample(mult.uniform_log_probs(n, dev), generator), known, grid[0], generator)
        clip = self.config.clip_denoised or float("inf")
        limits = torch.tensor([1.0 if s.bounded else clip for s in self.alpha_spans], device=dev)  # (n_alpha,)
        for t, t_next in zip(grid[:-1], grid[1:], strict=True):
            x_num, x_cat = self.reverse_step(x_num, x_cat, t, t_next, sampler, generator, known, limits)
        return torch.cat([x_num, x_cat], 1)

    def denoise(self, x_num: torch.Tensor, x_cat: torch.Tensor, t: int, known: Known):
        """(ε̂, block logits, ∇_x_num, ∇_x_cat) at time ``t``; the gradients of ``guidance``·log p̂(known categories
        | x_t) are None without conditions."""
        t_rows = torch.full((x_num.shape[0],), t, device=x_num.device)
        classes, guided = None, known
        if self.class_block is not None:  # the denoiser is told the class: no guidance towards it
            offset, width = self.class_block
            mask, x0 = known
            classes = self.classes_of(x0[None]).expand(x_num.shape[0])
            mask = mask.clone()
            mask[offset : offset + width] = False
            guided = (mask, x0) if mask.any() else None
        guidance = self.config.guidance if guided is not None else 0.0
        with torch.set_grad_enabled(guidance > 0):  # sampling runs under no_grad; guidance needs a graph
            inputs = [x_num.detach().requires_grad_(guidance > 0), x_cat.detach().requires_grad_(guidance > 0)]
            out = self.denoiser(torch.cat(inputs, 1), t_rows, classes)
            if classes is not None and self.config.class_guidance != 1:  # classifier-free guidance
                unconditional = self.denoiser(torch.cat(inputs, 1), t_rows, torch.full_like(classes, width))
                out = self.guided_by_class(out, unconditional)
            grads = [None, None]
            if guidance > 0:
                mask, x0 = guided
                log_known = (self.multinomial.log_softmax(out[:, self.n_alpha :]) * (x0 * mask)).sum()
                grads = [guidance * g for g in torch.autograd.grad(log_known, inputs)]
        out = out.detach()
        return out[:, : self.n_alpha], out[:, self.n_alpha :], *grads

    def guided_by_class(self, conditional: torch.Tensor, unconditional: torch.Tensor) -> torch.Tensor:
        """Classifier-free guidance with scale w = ``class_guidance``: ε̂ = ε̂_u + w (ε̂_c - ε̂_u) for the alphas;
        for the blocks the same line through the log-probabilities of x_0 (normalised again by the caller)."""
        w, n = self.config.class_guidance, self.n_alpha
        eps = unconditional[:, :n] + w * (conditional[:, :n] - unconditional[:, :n])
        log_u, log_c = (self.multinomial.log_softmax(o[:, n:]) for o in (unconditional, conditional))
        return torch.cat([eps, log_u + w * (log_c - log_u)], 1)

    def reverse_step(
        self,
        x_num: torch.Tensor,
        x_cat: torch.Tensor,
        t: int,
        t_next: int,
        sampler: DDPMSampler,
        generator: torch.Generator | None,
        known: Known,
        limits: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse step t -> t_next < t of both chains, x̂_0 of the alphas clamped to ±``limits``; returns the
        new (x_num, x_cat)."""
        mult = self.multinomial
        eps, logits, grad_num, grad_cat = self.denoise(x_num, x_cat, t, known)
        x0, _ = self.schedule.split_prediction(eps, x_num, t, "epsilon", clip=False)
        x0 = torch.minimum(torch.maximum(x0, -limits), limits)
        x_num = sampler.step(lambda x, _t: (x0, eps), x_num, t, t_next, generator)
        if grad_num is not None:  # classifier guidance: the mean moves by σ²·∇ log p̂
            a_t, a_next = float(self.schedule.alpha_bar(t)), float(self.schedule.alpha_bar(t_next))
            x_num = x_num + (1 - a_next) / (1 - a_t) * (1 - a_t / a_next) * grad_num
        if mult is not None:
            log_p = mult.posterior_log_probs(mult.log_softmax(logits), log_onehot(x_cat), t, t_next)
            if grad_cat is not None:  # Taylor guidance: log p̂ changes by ∇·(e_k - x_t) for class k; the rest cancels
                log_p = mult.log_softmax(log_p + grad_cat)
            x_cat = self.impose(mult.sample(log_p, generator), known, t_next, generator)
        return x_num, x_cat
