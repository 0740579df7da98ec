"""``tabular/ctgan``: the conditional tabular GAN CTGAN (Xu et al. 2019, Modeling Tabular data using
Conditional GAN).

* **Conditional vector** over the category spans (role ``"category"``, the categorical and boolean
  columns): one-hot of one category of one column, fed to the generator with the noise and to the
  critic beside each row.
* **Training-by-sampling**: a column is picked uniformly for each row, then a category of it with
  probability ∝ log(1 + count), counts from the training data (:meth:`CTGAN.set_category_frequencies`,
  stored in a buffer so it is saved). The paper then draws a real row of the whole table with that
  category for the critic's real side; a batch model only sees its batch, so here the real row is drawn
  uniformly among the batch's rows with that category. When no row of the batch has it, the condition
  falls back to the category of the row itself (so the condition always matches its real row). While
  the counts are unset (all zero for a column) the batch's own counts stand in for them.
* **Generator**: residual blocks ``concat(ReLU(BatchNorm(Linear(h))), h)``, then a linear layer to the
  encoded row: tanh for bounded alphas, identity for unbounded ones, Gumbel-softmax (τ = 0.2, Jang et al.
  2017) for softmax spans while training; a one-hot row sampled from the softmax at generation.
* **Critic** on packs of ``pac`` rows (PacGAN, Lin et al. 2018): ``(Linear → LeakyReLU(0.2) → Dropout(0.5))``
  per hidden width, then a linear score, trained with the Wasserstein loss and a gradient penalty of weight
  10 on interpolated packs (WGAN-GP, Gulrajani et al. 2017). A batch whose size is not a multiple of
  ``pac`` loses its last ``B mod pac`` rows; one with fewer than ``pac`` rows (or a single row) is padded
  by repeating its rows (:meth:`CTGAN.packable_rows`).
* **Generator loss**: ``-critic`` plus the cross-entropy between the generated logits of the conditioned
  column and the condition (the paper's conditional loss).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from genlab.core.errors import BadInputError
from genlab.core.model import OptimizerSpec, register_model
from genlab.nn.adversarial import d_wasserstein, frozen, g_linear, gradient_penalty
from genlab.tabular.base import CategoryCondition, TabularModel, TabularModelConfig
from genlab.tabular.spans import Span, check_layout

Width = Annotated[int, Field(ge=1, le=65536)]


class CTGANConfig(TabularModelConfig):
    """CTGAN hyper-parameters (defaults of Xu et al. 2019 and their code)."""

    embedding_dim: int = Field(128, ge=1, le=4096, description="size of the noise vector z")
    generator_dim: list[Width] = Field(
        default_factory=lambda: [256, 256], description="widths of the generator's residual blocks"
    )
    discriminator_dim: list[Width] = Field(
        default_factory=lambda: [256, 256], description="widths of the critic's hidden layers"
    )
    lr_g: float = Field(2e-4, gt=0, le=1, description="generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, le=1, description="critic Adam learning rate")
    betas: tuple[float, float] = Field((0.5, 0.9), description="Adam betas of both optimizers")
    weight_decay: float = Field(1e-6, ge=0, le=1, description="Adam weight decay of both optimizers")
    pac: int = Field(10, ge=1, le=1024, description="rows per pack the critic scores together (PacGAN)")
    n_critic: int = Field(1, ge=1, le=100, description="critic steps per generator step")
    gp_weight: float = Field(10.0, gt=0, description="weight of the gradient penalty on interpolated packs")
    gumbel_tau: float = Field(0.2, gt=0, le=10, description="Gumbel-softmax temperature of softmax spans (training)")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, betas: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in betas):
            raise ValueError("Adam betas must lie in [0, 1), e.g. [0.5, 0.9]")
        return betas


# --------------------------------------------------------------------------- networks


class Residual(nn.Module):
    """(B, i) -> (B, i + o): ``concat(ReLU(BatchNorm(Linear(x))), x)``, the generator block of CTGAN."""

    def __init__(self, i: int, o: int):
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """[z, cond] (B, embedding_dim + cond_dim) -> raw outputs (B, data_dim) laid out as the spans."""

    def __init__(self, in_dim: int, widths: list[int], data_dim: int):
        super().__init__()
        blocks, dim = [], in_dim
        for w in widths:
            blocks.append(Residual(dim, w))
            dim += w
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(dim, data_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(x))


class PackedCritic(nn.Module):
    """Packs (P, pac · row_dim) -> scores (P,): ``(Linear → LeakyReLU(0.2) → Dropout(0.5))`` per width, Linear."""

    def __init__(self, packed_dim: int, widths: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        dim = packed_dim
        for w in widths:
            layers += [nn.Linear(dim, w), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            dim = w
        layers.append(nn.Linear(dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, packs: torch.Tensor) -> torch.Tensor:
        return self.net(packs).squeeze(1)


# --------------------------------------------------------------------------- model


@register_model("tabular/ctgan")
class CTGAN(TabularModel):
    """Conditional tabular GAN (Xu et al. 2019). Optimizer groups: ``critic`` (every batch), then ``generator``
    (every ``n_critic`` batches). The training table's category counts come with the config (``category_counts``,
    filled by the task) or through :meth:`set_category_frequencies`."""

    config_class: ClassVar[type[CTGANConfig]] = CTGANConfig
    description: ClassVar[str] = "conditional tabular GAN CTGAN with PacGAN critic and WGAN-GP loss (Xu et al. 2019)"
    conditions_natively: ClassVar[bool] = True
    config: CTGANConfig

    def __init__(self, config: CTGANConfig):
        super().__init__(config)
        check_layout(self.spans, config.data_dim, self.registry_name or type(self).__name__)
        self.category_spans: list[Span] = [s for s in self.spans if s.kind == "softmax" and s.role == "category"]
        self.cond_offsets: list[int] = []
        cond_columns, cond_span = [], []
        for j, s in enumerate(self.category_spans):
            self.cond_offsets.append(len(cond_columns))
            cond_columns += range(s.start, s.stop)
            cond_span += [j] * s.width
        self.cond_dim = len(cond_columns)
        # the training data's count of each category, in conditional-vector order (saved with the weights)
        self.register_buffer("category_counts", torch.zeros(self.cond_dim))
        # layout buffers, derived from the spans (not saved): encoded column and span of each cond position,
        # and span_mask[j, p] = 1 where position p belongs to category span j
        self.register_buffer("cond_columns", torch.tensor(cond_columns, dtype=torch.long), persistent=False)
        self.register_buffer("cond_span", torch.tensor(cond_span, dtype=torch.long), persistent=False)
        span_mask = torch.zeros(len(self.category_spans), self.cond_dim)
        span_mask[self.cond_span, torch.arange(self.cond_dim)] = 1.0
        self.register_buffer("span_mask", span_mask, persistent=False)
        row_dim = config.data_dim + self.cond_dim
        self.generator = Generator(config.embedding_dim + self.cond_dim, list(config.generator_dim), config.data_dim)
        self.critic = PackedCritic(config.pac * row_dim, list(config.discriminator_dim))
        if config.category_counts:
            self.set_category_frequencies(config.category_counts)

    # --- category frequencies -----------------------------------------------------
    @torch.no_grad()
    def set_category_frequencies(self, counts: dict[str, list[int]]) -> None:
        """Record the training table's count of every category, ``{column: [count per category]}`` in span
        order; columns left out keep their counts (zeros: the batch's own counts stand in)."""
        by_column = {s.column: (j, s) for j, s in enumerate(self.category_spans)}
        for column, values in counts.items():
            if column not in by_column:
                raise BadInputError(
                    f"{column!r} is not a categorical column of this model",
                    "columns with categories: " + (", ".join(by_column) or "none"),
                )
            j, span = by_column[column]
            if len(values) != span.width or any(v < 0 for v in values):
                raise BadInputError(
                    f"column {column!r} has {span.width} categories, got counts {list(values)}",
                    "give one count ≥ 0 per category, in the order of the column's encoding",
                )
            start = self.cond_offsets[j]
            self.category_counts[start : start + span.width] = torch.tensor(values, dtype=torch.float32)

    # --- training-by-sampling -------------------------------------------------------
    def sample_training_conditions(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Conditions for a batch of real rows (B, data_dim): the conditional vectors (B, cond_dim), the index
        of each one's hot position (B,), and for each the index of a real row of the batch that matches it (B,).

        A column per row uniformly, a category ∝ log(1 + count), then a batch row with that category
        (module docstring). Requires at least one category span.
        """
        n, dev = rows.shape[0], rows.device
        in_batch = rows[:, self.cond_columns].clamp(min=0)  # (B, cond_dim): the rows' category indicators
        span = torch.randint(len(self.category_spans), (n,), device=dev)  # (B,): the column of each condition
        counts = self.category_counts
        unset = (self.span_mask @ counts == 0)[self.cond_span]  # (cond_dim,): counts of that column unset
        counts = torch.where(unset, in_batch.sum(0), counts)
        mask = self.span_mask[span]  # (B, cond_dim): positions of each row's column
        weights = mask * torch.log1p(counts) + mask * 1e-12  # the tiny term keeps a row's weights from all-zero
        position = torch.multinomial(weights, 1).squeeze(1)  # (B,)
        has = in_batch[:, position].T  # (B conditions, B rows): row r has condition i's category
        found = has.sum(1) > 0
        pick = torch.arange(n, device=dev)
        if found.any():
            pick[found] = torch.multinomial(has[found], 1).squeeze(1)
        own = (in_batch * mask + mask * 1e-6).argmax(1)  # each row's own category in its condition's column
        position = torch.where(found, position, own)
        return F.one_hot(position, self.cond_dim).float(), position, pick

    # --- networks with activations ------------------------------------------------
    def activate(self, raw: torch.Tensor, hard: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """Span activations of raw generator outputs (B, data_dim): tanh (bounded alphas), identity (unbounded),
        Gumbel-softmax (``hard=False``, training) or a one-hot sample of the softmax drawn with ``generator``."""
        pieces = []
        for s in self.spans:
            block = raw[:, s.start : s.stop]
            if s.kind == "alpha":
                pieces.append(torch.tanh(block) if s.bounded else block)
            elif hard:
                index = torch.multinomial(block.float().softmax(1).cpu(), 1, generator=generator).squeeze(1)
                pieces.append(F.one_hot(index, s.width).to(raw))
            else:
                pieces.append(F.gumbel_softmax(block, tau=self.config.gumbel_tau, hard=False))
        return torch.cat(pieces, dim=1)

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.embedding_dim, device=self.device)

    def pack(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B / pac, pac · D): consecutive rows form a pack."""
        return rows.reshape(-1, self.config.pac * rows.shape[1])

    def packable_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """The batch cut to a multiple of ``pac`` rows (the last ``B mod pac`` dropped), or, with fewer than
        ``pac`` rows (or one row, which BatchNorm cannot normalise), padded by repeating its rows."""
        n, pac = rows.shape[0], self.config.pac
        minimum = max(pac, 2)
        if n < minimum:
            target = -(-minimum // pac) * pac  # the smallest multiple of pac that is ≥ max(pac, 2)
            return rows[torch.arange(target, device=rows.device) % n]
        return rows[: n - n % pac]

    # --- training -----------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimizerSpec]:
        c = self.config
        return [
            OptimizerSpec(
                "critic", list(self.critic.parameters()), lr=c.lr_d, betas=c.betas, weight_decay=c.weight_decay
            ),
            OptimizerSpec(
                "generator",
                list(self.generator.parameters()),
                lr=c.lr_g,
                betas=c.betas,
                weight_decay=c.weight_decay,
                every=c.n_critic,
            ),
        ]

    def training_losses(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        """``critic``: {loss, wasserstein, gradient_penalty}; ``generator``: {loss, adversarial, conditional}."""
        rows = self.packable_rows(self.rows_of(batch))
        if group == "critic":
            return self.critic_losses(rows)
        if group == "generator":
            return self.generator_losses(rows)
        raise BadInputError(f"unknown optimizer group '{group}'", "CTGAN's groups are 'critic' and 'generator'")

    def _conditions(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Training-by-sampling, or empty conditions (and the rows as they are) for a table without categories."""
        if self.cond_dim == 0:
            n = rows.shape[0]
            return rows.new_zeros(n, 0), None, torch.arange(n, device=rows.device)
        return self.sample_training_conditions(rows)

    def critic_losses(self, rows: torch.Tensor, penalty: bool = True) -> dict[str, torch.Tensor]:
        """The critic's loss on real rows (matched to their conditions) and fresh detached fakes, packed.

        ``wasserstein`` is the critic's estimate E[D(real)] - E[D(fake)]; ``loss`` = -wasserstein + λ·penalty.
        """
        cond, _, pick = self._conditions(rows)
        with torch.no_grad():  # the generator is not trained here: skip its graph
            fake = self.activate(self.generator(torch.cat([self._noise(rows.shape[0]), cond], 1)), hard=False)
        real_packs = self.pack(torch.cat([rows[pick], cond], 1))
        fake_packs = self.pack(torch.cat([fake, cond], 1))
        real_scores, fake_scores = self.critic(real_packs), self.critic(fake_packs)
        loss = d_wasserstein(real_scores, fake_scores)
        out = {"loss": loss, "wasserstein": -loss.detach()}
        if penalty:
            gp = gradient_penalty(self.critic, real_packs, fake_packs)  # one ε and one gradient norm per pack
            out.update(loss=loss + self.config.gp_weight * gp, gradient_penalty=gp)
        return out

    def generator_losses(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generator's loss: -critic score of its packed fakes plus the conditional cross-entropy."""
        cond, position, _ = self._conditions(rows)
        raw = self.generator(torch.cat([self._noise(rows.shape[0]), cond], 1))
        fake = self.activate(raw, hard=False)
        with frozen(self.critic):
            adversarial = g_linear(self.critic(self.pack(torch.cat([fake, cond], 1))))
        conditional = self.conditional_loss(raw, position) if position is not None else raw.new_zeros(())
        return {"loss": adversarial + conditional, "adversarial": adversarial, "conditional": conditional}

    def conditional_loss(self, raw: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between the generated logits of each row's conditioned column and its condition."""
        logits = raw[:, self.cond_columns]  # (B, cond_dim): the category logits in conditional-vector order
        in_column = self.span_mask[self.cond_span[position]] > 0  # (B, cond_dim): the conditioned column
        return F.cross_entropy(logits.masked_fill(~in_column, float("-inf")), position)

    def validation_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        """``wasserstein`` (no penalty: it needs autograd), ``adversarial`` and ``conditional`` on a held-out batch."""
        rows = self.packable_rows(self.rows_of(batch))
        g = self.generator_losses(rows)
        return {
            "wasserstein": self.critic_losses(rows, penalty=False)["wasserstein"],
            "adversarial": g["adversarial"].detach(),
            "conditional": g["conditional"].detach(),
        }

    # --- generation ---------------------------------------------------------------
    @torch.no_grad()
    def generate_encoded(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: list[CategoryCondition] | None = None,
    ) -> torch.Tensor:
        """``n`` encoded rows (n, data_dim), float32 on the CPU, drawn with ``generator``.

        Without conditions each row's conditional vector is drawn as at the paper's sampling time: a column
        uniformly, a category ∝ its training count (uniformly while counts are unset). With conditions
        ``[(column, category index), …]`` every row is conditioned on the first one, and its column's block is
        set to that category (the generator learnt to emit it through the conditional loss; setting it makes
        the condition exact); further conditions are left to the caller's rejection.
        """
        if n < 0:
            raise BadInputError(f"cannot generate {n} rows", "ask for a number of rows ≥ 0")
        z = torch.randn(n, self.config.embedding_dim, generator=generator)  # drawn on the CPU: same rows anywhere
        forced = self._condition_span(*conditions[0]) if conditions else None
        if forced is not None:
            position = torch.full((n,), self.cond_offsets[self.category_spans.index(forced[0])] + forced[1])
            cond = F.one_hot(position, self.cond_dim).float()
        elif self.cond_dim:
            cond = F.one_hot(self.sampling_positions(n, generator), self.cond_dim).float()
        else:
            cond = torch.zeros(n, 0)
        raw = self.generator(torch.cat([z, cond], 1).to(self.device)).float().cpu()
        rows = self.activate(raw, hard=True, generator=generator)
        if forced is not None:
            span, index = forced
            rows[:, span.start : span.stop] = F.one_hot(torch.full((n,), index), span.width).float()
        return rows

    def sampling_positions(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Conditional-vector positions (n,) for unconditioned sampling: a column uniformly, then a category ∝
        its training count (uniform over the column's categories while its counts are unset)."""
        counts = self.category_counts.cpu()
        mask = self.span_mask.cpu()
        unset = (mask @ counts == 0)[self.cond_span.cpu()]
        weights = torch.where(unset, torch.ones_like(counts), counts)
        span = torch.randint(len(self.category_spans), (n,), generator=generator)
        return torch.multinomial(mask[span] * weights + mask[span] * 1e-12, 1, generator=generator).squeeze(1)

    def _condition_span(self, column: str, index: int) -> tuple[Span, int]:
        """The category span of ``column`` and a checked category ``index`` within it."""
        for span in self.category_spans:
            if span.column == column:
                if not 0 <= index < span.width:
                    raise BadInputError(
                        f"column {column!r} has {span.width} categories, got category index {index}",
                        f"give an index in 0..{span.width - 1}",
                    )
                return span, int(index)
        names = ", ".join(s.column for s in self.category_spans) or "none"
        raise BadInputError(
            f"CTGAN conditions on categorical columns only, not {column!r}",
            f"categorical columns: {names}; other conditions are met by rejection sampling",
        )
