"""Differentially private training: DP-SGD (Abadi et al. 2016, "Deep Learning with Differential Privacy")
through Opacus, for any model whose layers Opacus can compute per-example gradients of.

A run with ``train.dp.epsilon`` set (``--dp-epsilon``) trains each privatised optimizer group like this:

1. **Poisson sampling.** Every training example joins a batch independently with probability
   ``q = B / n`` (``B``: ``train.batch_size``, ``n``: training examples), so batch sizes vary around ``B``
   and an epoch is ``⌊1/q⌋`` batches. This is the sampling the accountants' amplification bounds assume
   (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism").
2. **Per-example clipping.** Opacus's hooks on the layers of the group's modules give each example's
   gradient; it is scaled to L2 norm at most ``C`` (``max_grad_norm``), over all parameters of the group.
3. **Noise.** The clipped gradients are summed, ``N(0, σ²C²)`` is added to every coordinate, the sum is
   divided by ``B`` and handed to the group's optimizer (Adam; any later use is post-processing).
4. **Accounting.** The accountant records each batch's ``(σ, q)``; ε spent for δ comes from Rényi DP
   (``rdp``; Mironov 2017) or privacy random variables (``prv``; Gopi, Lee & Wutschitz 2021).

``σ`` is chosen before training so that the run's planned number of steps spends the target ε
(``opacus.accountants.utils.get_noise_multiplier``); a run that stops earlier (``--max-minutes``, Ctrl-C)
has spent less, and the run records what it spent. Resuming restores the accountant's history from the
checkpoint, so ε keeps adding up; a resumed run given a longer budget gets more noise for its remaining
steps so that the whole run still meets the target.

Several privatised groups stepping on one batch (say a discriminator and a conditional generator that
reads the batch's labels) release one noisy sum each, every sum of sensitivity ``C`` with noise ``σC``:
together one Gaussian mechanism with noise multiplier ``σ/√k`` (Gaussian-DP composition, adaptive
included; Dong, Roth & Su 2019), accounted as one sampled-Gaussian step with that multiplier. With ``K``
privatised groups ``σ`` is set to ``√K`` times the single-group calibration.

Neighbouring datasets differ by adding or removing one training example. The guarantee covers the trained
weights and everything computed from them (samples, an EMA of the weights). It does not cover what the
task computed from the data outside the gradient steps (normalisation statistics, category lists, a
tokenizer), validation losses on the held-out split (logged without noise), nor groups left out of
``private_groups`` that read the batch's examples (see :attr:`GenerativeModel.private_groups`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from genlab.core.config import Config
from genlab.core.console import info
from genlab.core.errors import ConfigError
from genlab.core.optional import require
from genlab.engine.privacy_layers import check_model, group_params, model_name, private_groups, private_modules

#: Accountant name → what it computes (written into the model card).
ACCOUNTANTS = {
    "rdp": "Rényi DP of the sampled Gaussian mechanism (Mironov 2017; Mironov, Talwar & Zhang 2019)",
    "prv": "privacy random variables (Gopi, Lee & Wutschitz 2021)",
}
MAX_NOISE = 1e6  # Opacus's own bound on the noise-multiplier search
EPSILON_TOLERANCE = 0.01  # and its tolerance: σ is chosen to spend between target - 0.01 and target


class PrivacyConfig(Config):
    """Differentially private training (DP-SGD) of a run; off unless ``epsilon`` is set."""

    epsilon: float | None = Field(
        None, gt=0, description="target ε of the (ε, δ)-DP guarantee over the whole run (None: no DP)"
    )
    delta: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="target δ; must be below 1/n for n training examples "
        "(None: 1/(10·n) rounded down to a power of ten, e.g. 1e-4 for 512 examples)",
    )
    max_grad_norm: float = Field(
        1.0, gt=0, description="per-example gradient clipping norm C; the noise has standard deviation σ·C"
    )
    accountant: Literal["rdp", "prv"] = Field(
        "rdp", description="rdp: Rényi DP (fast); prv: privacy random variables (tighter, ~0.1 s per ε evaluation)"
    )
    groups: list[str] | None = Field(
        None,
        description="optimizer groups trained privately (None: the groups the model declares as reading the data, "
        "all by default); may add groups, never leave out one that reads the data",
    )

    @property
    def enabled(self) -> bool:
        return self.epsilon is not None


@dataclass
class PrivacyPlan:
    """What a DP run was set up to do; fixed before training starts."""

    target_epsilon: float
    delta: float
    max_grad_norm: float
    accountant: str
    groups: list[str]  # privatised optimizer groups, in stepping order
    every: list[int]  # each privatised group steps on every ``every``-th batch
    dataset_size: int  # n
    expected_batch_size: int  # B
    sample_rate: float  # q = B / n
    batches: int  # planned training batches of the run
    accounted_steps: int  # planned batches on which a privatised group steps
    noise_multiplier: float  # σ of each group's noise, relative to C


def default_delta(n: int) -> float:
    """δ for ``n`` training examples: ``1/(10·n)`` rounded down to a power of ten (512 → 1e-4, 60 000 → 1e-6)."""
    return 10.0 ** math.floor(-math.log10(10 * n) + 1e-9)


def resolve_delta(cfg: PrivacyConfig, n: int) -> float:
    """The run's δ; :class:`ConfigError` when it is not below ``1/n``."""
    delta = cfg.delta if cfg.delta is not None else default_delta(n)
    if delta >= 1 / n:
        raise ConfigError(
            f"δ = {delta:g} is not below 1/n = {1 / n:.3g} (n = {n} training examples): with δ ≥ 1/n, "
            "publishing a randomly chosen training example verbatim would meet the guarantee",
            f"give --dp-delta {default_delta(n):g} or smaller, or leave it out (the default is 1/(10·n) "
            "rounded down to a power of ten)",
        )
    return delta


def stepping_batches(batches: int, every: list[int]) -> int:
    """Of the first ``batches`` batches, how many have at least one group stepping (group g steps on
    batch i when ``i % every[g] == 0``)."""
    period = math.lcm(*every)
    hits = [any(i % e == 0 for e in every) for i in range(period)]
    full, rest = divmod(batches, period)
    return full * sum(hits) + sum(hits[:rest])


def noise_multiplier(target_epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str) -> float:
    """σ with which ``steps`` sampled-Gaussian steps at rate ``sample_rate`` spend ``target_epsilon`` for
    ``delta`` (Opacus's binary search, to 0.01 in ε)."""
    utils = require("opacus.accountants.utils", "privacy", "differentially private training")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "optimal order is the largest alpha": the bound is then loose, not wrong
            return float(
                utils.get_noise_multiplier(
                    target_epsilon=target_epsilon,
                    target_delta=delta,
                    sample_rate=sample_rate,
                    steps=steps,
                    accountant=accountant,
                )
            )
    except ValueError:
        raise ConfigError(
            f"ε = {target_epsilon:g} cannot be met in {steps} steps at sampling rate {sample_rate:.3g}, "
            f"even with noise multiplier {MAX_NOISE:g}",
            "raise --dp-epsilon, train fewer steps, or use a smaller batch size",
        ) from None


def plan_privacy(
    model: Any,
    cfg: PrivacyConfig,
    *,
    n: int,
    batch_size: int,
    max_steps: int | None,
    max_epochs: int | None,
    devices: int = 1,
    precision: str = "32",
) -> PrivacyPlan:
    """Check that ``model`` and the run can be trained privately and choose the noise.

    ``n``: training examples; ``batch_size``: expected batch size (capped at ``n``); the run is
    ``max_steps`` batches or ``max_epochs`` epochs of ``⌊n/B⌋`` batches, whichever is fewer.
    Raises :class:`ConfigError` with what to change when DP training is not possible.
    """
    require("opacus", "privacy", "differentially private training")
    _check_run(model, max_steps, max_epochs, devices, precision)
    delta = resolve_delta(cfg, n)
    groups = private_groups(model, cfg.groups)
    check_model(model, groups)
    expected = min(batch_size, n)
    q = expected / n
    per_epoch = int(1 / q)  # the Poisson sampler's batches per epoch
    batches = min(b for b in (max_steps, max_epochs * per_epoch if max_epochs else None) if b is not None)
    every = {s.name: s.every for s in model.optimizer_groups()}
    group_every = [every[g] for g in groups]
    steps = stepping_batches(batches, group_every)
    sigma = noise_multiplier(cfg.epsilon, delta, q, steps, cfg.accountant) * math.sqrt(len(groups))
    return PrivacyPlan(
        target_epsilon=cfg.epsilon,
        delta=delta,
        max_grad_norm=cfg.max_grad_norm,
        accountant=cfg.accountant,
        groups=groups,
        every=group_every,
        dataset_size=n,
        expected_batch_size=expected,
        sample_rate=q,
        batches=batches,
        accounted_steps=steps,
        noise_multiplier=sigma,
    )


def _check_run(model: Any, max_steps: int | None, max_epochs: int | None, devices: int, precision: str) -> None:
    name = model_name(model)
    if model.fits_in_closed_form:
        raise ConfigError(
            f"{name} is fitted in closed form, not by gradient steps, so DP-SGD does not apply to it",
            "train a gradient-trained model with --dp-epsilon, or drop --dp-epsilon",
        )
    if max_steps is None and max_epochs is None:
        raise ConfigError(
            "differentially private training needs the run's length to choose its noise, "
            "but only a time budget bounds this run",
            "give --epochs or --max-steps as well; --max-minutes may still stop the run earlier, "
            "and then the ε spent (recorded with the run) is below the target",
        )
    if devices > 1:
        raise ConfigError(
            "differentially private training runs on one device (per-example clipping and one noise draw "
            "per step are not split across processes here)",
            "train with --devices 1",
        )
    if precision != "32":
        raise ConfigError(
            f"differentially private training computes per-example gradients in float32, not {precision}",
            "train with --precision 32",
        )


class PrivateTraining:
    """The DP state of one run: Opacus's per-example gradient hooks and optimizers, the accountant and its
    history (saved in training checkpoints as plain lists)."""

    def __init__(self, plan: PrivacyPlan, log_every: int = 10):
        from opacus.accountants import create_accountant

        self.plan = plan
        self.log_every = log_every
        self.noise_multiplier = plan.noise_multiplier  # per group; a resume may raise it for the rest of the run
        self.accountant = create_accountant(mechanism=plan.accountant)
        self.optimizers: dict[int, Any] = {}  # optimizer index → its DPOptimizer
        self._hooks: list[Any] = []  # one GradSampleModule per top-most privatised module
        self._names: dict[int, str] = {}
        self._cached: tuple[int, float] = (0, 0.0)  # (accounted steps, ε) of the last evaluation

    # --- data ---------------------------------------------------------------
    def loader(self, dataset: Any, num_workers: int = 0) -> torch.utils.data.DataLoader:
        """The training loader: Poisson sampling at rate ``q``, empty batches allowed (Opacus's DPDataLoader)."""
        from opacus.data_loader import DPDataLoader

        return DPDataLoader(dataset, sample_rate=self.plan.sample_rate, num_workers=num_workers)

    # --- model and optimizers -----------------------------------------------
    def attach(self, model: nn.Module, specs: list[Any], optimizers: list[Any], iteration: int = 0) -> list[Any]:
        """Hook the privatised modules and wrap their optimizers in ``DPOptimizer``; returns the optimizers.

        Each top-most privatised module gets a ``GradSampleModule``, kept outside the training module: the
        hooks sit on its layers, which the model's own ``training_losses`` calls, and the model's state dict
        (checkpoints, export) keeps its keys. ``iteration`` is where a resumed run starts."""
        from opacus.grad_sample import GradSampleModule
        from opacus.optimizers import DPOptimizer

        self.calibrate(iteration)
        if not self._hooks:
            self._names = {id(p): n for n, p in model.named_parameters()}
            scope = private_modules(model, group_params(model, self.plan.groups))
            self._hooks = [GradSampleModule(m, batch_first=True, loss_reduction="mean") for _, m in scope]
        wrapped = []
        for i, (spec, opt) in enumerate(zip(specs, optimizers, strict=True)):
            if spec.name in self.plan.groups:
                opt = DPOptimizer(
                    opt,
                    noise_multiplier=self.noise_multiplier,
                    max_grad_norm=self.plan.max_grad_norm,
                    expected_batch_size=self.plan.expected_batch_size,
                    loss_reduction="mean",
                )
                self.optimizers[i] = opt
            wrapped.append(opt)
        return wrapped

    def hooks_on(self, enabled: bool) -> None:
        """Per-example gradients are computed only while a privatised group's losses run."""
        for h in self._hooks:
            h.enable_hooks() if enabled else h.disable_hooks()

    def prepare_step(self, index: int, batch_size: int) -> None:
        """Before optimizer ``index`` steps on a batch of ``batch_size`` examples: check that every parameter
        got one per-example gradient per example; zeros for parameters the losses did not use (an empty
        batch makes it a noise-only step, as the accounting assumes)."""
        for p in self.optimizers[index].params:
            name = self._names.get(id(p), "?")
            sample = p.grad_sample
            if sample is None and p.grad is not None:
                raise ConfigError(
                    f"parameter {name} got a gradient but no per-example gradient: it is used outside the "
                    "forward call of the layer that holds it",
                    "hold it in a layer that is called (nn.Linear, nn.Embedding, or an nn.Module with a forward)",
                )
            if sample is None:
                p.grad_sample = torch.zeros((batch_size, *p.shape), dtype=p.dtype, device=p.device)
            elif not isinstance(sample, torch.Tensor) or sample.shape[0] != batch_size:
                rows = sum(s.shape[0] for s in sample) if isinstance(sample, list) else sample.shape[0]
                raise ConfigError(
                    f"the layer of parameter {name} saw {rows} rows for a batch of {batch_size} examples; "
                    "per-example clipping needs exactly one row per example (batch first)",
                    "call the privatised layers once per example (no repeated or concatenated batches), "
                    "or train without --dp-epsilon",
                )

    def after_step(self) -> None:
        """Drop what a forward call left behind without a backward pass (it would pair with the next one)."""
        for h in self._hooks:
            for layer in h._module.modules():
                if hasattr(layer, "activations"):
                    layer.activations.clear()
                for p in layer.parameters(recurse=False):
                    if hasattr(p, "_forward_counter"):
                        p._forward_counter = 0
                    if hasattr(p, "_current_grad_sample"):
                        del p._current_grad_sample

    def detach(self) -> None:
        """Remove the hooks and the attributes Opacus put on the parameters (the model is plain again)."""
        for h in self._hooks:
            params = list(h._module.parameters())
            h.cleanup()
            for p in params:
                if hasattr(p, "summed_grad"):
                    del p.summed_grad
        self._hooks = []

    # --- accounting ---------------------------------------------------------
    def account(self, groups_stepping: int) -> None:
        """Record one batch on which ``groups_stepping`` privatised groups step (noise multiplier σ/√k)."""
        if groups_stepping:
            sigma = self.noise_multiplier / math.sqrt(groups_stepping)
            self.accountant.step(noise_multiplier=sigma, sample_rate=self.plan.sample_rate)

    @property
    def steps(self) -> int:
        """Batches accounted so far (resumes included)."""
        return sum(int(n) for _, _, n in self.accountant.history)

    def epsilon(self) -> float:
        """ε spent so far for the run's δ (0 before the first step)."""
        if self._cached[0] != self.steps:
            self._cached = (self.steps, _epsilon(self.accountant, self.plan.delta))
        return self._cached[1]

    def calibrate(self, iteration: int) -> None:
        """On resume (the history is not empty): keep σ when the remaining planned steps at σ still meet the
        target; otherwise (a longer budget) raise σ for them so that the whole run does."""
        if not self.accountant.history:
            return
        rest = stepping_batches(self.plan.batches, self.plan.every) - stepping_batches(iteration, self.plan.every)
        if rest > 0 and self._spent_with(self.noise_multiplier, rest) > self.plan.target_epsilon:
            self._raise_noise(rest)
        info(
            f"differential privacy: ε = {self.epsilon():.4g} spent of {self.plan.target_epsilon:g} so far; "
            f"noise multiplier {self.noise_multiplier:.4g} for the remaining {max(rest, 0)} steps"
        )

    def _raise_noise(self, rest: int) -> None:
        target = self.plan.target_epsilon
        low, high = self.noise_multiplier, 2 * self.noise_multiplier
        while (spent := self._spent_with(high, rest)) > target:
            low, high = high, 2 * high
            if high > MAX_NOISE:
                raise ConfigError(
                    f"this run has already spent ε = {self.epsilon():.3g} of its target {target:g}; "
                    f"no noise keeps {rest} more steps within it",
                    "resume with the budget it was started with, or raise --dp-epsilon",
                )
        while target - spent > EPSILON_TOLERANCE:  # bisect σ like Opacus's search: ε within 0.01 below the target
            mid = (low + high) / 2
            if (eps := self._spent_with(mid, rest)) > target:
                low = mid
            else:
                high, spent = mid, eps
        self.noise_multiplier = high

    def _spent_with(self, sigma: float, rest: int) -> float:
        from opacus.accountants import create_accountant

        trial = create_accountant(mechanism=self.plan.accountant)
        k = len(self.plan.groups)
        trial.history = [*self.accountant.history, (sigma / math.sqrt(k), self.plan.sample_rate, rest)]
        return _epsilon(trial, self.plan.delta)

    # --- records ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (checkpoints are loaded with ``weights_only=True``)."""
        history = [[float(s), float(q), int(n)] for s, q, n in self.accountant.history]
        return {
            "history": history,
            "noise_multiplier": float(self.noise_multiplier),
            "accountant": self.plan.accountant,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.accountant.history = [(float(s), float(q), int(n)) for s, q, n in state.get("history", [])]
        self.noise_multiplier = float(state.get("noise_multiplier", self.noise_multiplier))

    def summary(self) -> dict[str, Any]:
        """What the run spent and how: written to ``status.json``, the model's ``config.json`` and its card."""
        p = self.plan
        return {
            "epsilon": self.epsilon(),
            "delta": p.delta,
            "target_epsilon": p.target_epsilon,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": p.max_grad_norm,
            "sample_rate": p.sample_rate,
            "expected_batch_size": p.expected_batch_size,
            "dataset_size": p.dataset_size,
            "steps": self.steps,
            "planned_steps": p.accounted_steps,
            "accountant": p.accountant,
            "groups": list(p.groups),
            "sampling": "poisson",
            "history": self.state_dict()["history"],
        }


def _epsilon(accountant: Any, delta: float) -> float:
    if not accountant.history:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha": a loose bound, still a bound
        return float(accountant.get_epsilon(delta=delta))
