"""Registered metrics and the one evaluation loop behind ``genlab eval`` and ``genlab.evaluate``.

A metric is a function of an :class:`EvalContext` registered with :func:`register_metric`
under ``<modality>/<key>`` (``image/fid``, ``text/perplexity``); it returns the result keys it
declares (``outputs``) and contributes its fragment of the protocol. :func:`evaluate_model`
validates the task's eval request, resolves the metric names the user typed, builds the
task's context (samples are drawn once, lazily, whatever the number of metrics reading
them), runs every metric, then the ``on_baselines`` metrics over each baseline context the
task offers, and returns ``{"metrics", "baselines", "protocol"}``.

Users type snake_case keys (``self_bleu``); hyphenated spellings (``self-bleu``) and full names
(``text/self_bleu``) are accepted too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genlab.core.errors import BadInputError, GenlabError, unknown_name
from genlab.core.registry import METRICS, TASKS

if TYPE_CHECKING:
    from genlab.core.task import Task

_declared = itertools.count()  # declaration order: the order of default sets and result tables


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its function, the result keys it writes and when it applies."""

    name: str  # registry name, "image/fid"
    task: str | tuple[str, ...]  # the task(s) it evaluates, "image-generation"
    outputs: tuple[str, ...]  # result keys written, ("kid", "kid_std")
    fn: Callable[[EvalContext], dict[str, float]] = field(repr=False)
    needs: tuple[str, ...] = ()  # what it reads from the context: "samples", "reference", "model", …
    default: bool = False  # part of the task's default set
    on_baselines: bool = False  # also computed for every baseline context
    applies_fn: Callable[[Any], str | None] | None = field(default=None, repr=False)
    protocol_fn: Callable[[EvalContext], dict[str, Any]] | None = field(default=None, repr=False)
    order: int = field(default_factory=lambda: next(_declared), compare=False)

    @property
    def key(self) -> str:
        """The short snake_case name users type (``fid``)."""
        return self.name.split("/", 1)[-1]

    @property
    def description(self) -> str:
        """First line of the metric function's docstring."""
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""

    def serves(self, task: str) -> bool:
        """True when this metric evaluates models of ``task``."""
        return task == self.task if isinstance(self.task, str) else task in self.task

    def applies(self, model: Any) -> str | None:
        """None when the metric can score ``model``, else the reason it cannot."""
        return self.applies_fn(model) if self.applies_fn else None

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        """The metric's values; a key it did not declare in ``outputs`` is a programming error."""
        values = self.fn(ctx)
        if undeclared := set(values) - set(self.outputs):
            raise GenlabError(f"metric {self.name} wrote undeclared keys {sorted(undeclared)}")
        return values

    def protocol(self, ctx: EvalContext) -> dict[str, Any]:
        """The protocol fragment of this metric (settings, checksums), read after :meth:`compute`."""
        return self.protocol_fn(ctx) if self.protocol_fn else {}


def register_metric(
    name: str,
    *,
    task: str | tuple[str, ...],
    outputs: tuple[str, ...],
    needs: tuple[str, ...] = (),
    default: bool = False,
    on_baselines: bool = False,
    applies: Callable[[Any], str | None] | None = None,
    protocol: Callable[[EvalContext], dict[str, Any]] | None = None,
) -> Callable[[Callable[[EvalContext], dict[str, float]]], Callable[[EvalContext], dict[str, float]]]:
    """Decorator: register ``fn(ctx) -> {output key: value}`` as metric ``name`` (``image/fid``) of ``task``
    (or of each of several tasks that score the same way, e.g. PSNR of super-resolution and denoising).

    ``applies(model)`` returns the reason a model cannot be scored (an unconditional model for
    label accuracy): the metric then leaves the default set, and asking for it raises that reason.
    ``protocol(ctx)`` returns the metric's protocol fragment. The function is returned unchanged.
    """
    if "/" not in name or name != name.lower() or "-" in name.split("/", 1)[1]:
        raise ValueError(f"metric names are '<modality>/<snake_case key>', got '{name}'")

    def deco(fn: Callable[[EvalContext], dict[str, float]]) -> Callable[[EvalContext], dict[str, float]]:
        spec = MetricSpec(name, task, tuple(outputs), fn, tuple(needs), default, on_baselines, applies, protocol)
        METRICS.register(name)(spec)
        return fn

    return deco


def task_metrics(task: str, where: Callable[[MetricSpec], bool] | None = None) -> dict[str, MetricSpec]:
    """``{key: spec}`` of the metrics registered for ``task`` in declaration order, optionally filtered."""
    specs = sorted((s for _, s in METRICS.items() if s.serves(task)), key=lambda s: s.order)
    return {s.key: s for s in specs if where is None or where(s)}


def select_metrics(
    task: str,
    metrics: Iterable[str] | str | None,
    model: Any = None,
    where: Callable[[MetricSpec], bool] | None = None,
) -> list[MetricSpec]:
    """Resolve metric names (a list or comma-separated string; None: the task's default set).

    Names are snake_case keys, hyphenated aliases or full registry names. With ``model``, defaults
    that do not apply to it are left out and an explicitly asked one that does not raises.
    """
    available = task_metrics(task, where)
    if not available:
        raise BadInputError(f"task '{task}' has no metrics to evaluate with", "see `genlab models` for the tasks here")
    if metrics is None:
        return [s for s in available.values() if s.default and (model is None or s.applies(model) is None)]
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else [str(m).strip() for m in metrics]
    names = [m for m in names if m]
    if not names:
        raise BadInputError("no metrics given", f"choose from {', '.join(available)}")
    chosen: dict[str, MetricSpec] = {}
    for name in names:
        spec = _lookup(name, available)
        if spec is None:
            raise unknown_name("metric", name, available)
        if model is not None and (reason := spec.applies(model)):
            usable = [k for k, s in available.items() if s.applies(model) is None]
            raise BadInputError(reason, f"metrics for {_model_name(model)}: {', '.join(usable)}")
        chosen.setdefault(spec.key, spec)
    return list(chosen.values())


def _lookup(name: str, available: dict[str, MetricSpec]) -> MetricSpec | None:
    key = name.replace("-", "_")  # self-bleu → self_bleu
    if "/" in key:
        return next((s for s in available.values() if s.name == key), None)
    return available.get(key)


def _model_name(model: Any) -> str:
    return getattr(model, "registry_name", type(model).__name__)


def weights_field(model: Any) -> dict[str, str]:
    """``{"model_sha256": …}`` for a model loaded from saved weights (its protocol names the exact weights
    scored), ``{}`` for one never saved."""
    weights = model.provenance.weights_sha256
    return {"model_sha256": weights} if weights else {}


class EvalContext:
    """What metrics read: the model, its task, the validated eval request, samples, reference data.

    ``samples`` and ``reference`` are computed on first use by the functions the task gives
    (``draw_samples(ctx)``, ``load_reference(ctx)``) and kept, so metrics sharing them draw once;
    :meth:`cached` keeps anything else metrics share (features of the reference set, a likelihood).
    A baseline is a :meth:`derive`-d context with its model or samples swapped; ``name`` says which
    (``"model"`` for the evaluated model) and ``protocol`` describes it for the result's protocol.
    """

    def __init__(
        self,
        model: Any,
        task: Task,
        request: Any,
        *,
        draw_samples: Callable[[EvalContext], Any] | None = None,
        load_reference: Callable[[EvalContext], Any] | None = None,
        name: str = "model",
        protocol: dict[str, Any] | None = None,
    ):
        self.model, self.task, self.request = model, task, request
        self.name = name
        self.protocol = dict(protocol or {})
        self.cache: dict[str, Any] = {}
        self._draw_samples, self._load_reference = draw_samples, load_reference

    @property
    def is_baseline(self) -> bool:
        return self.name != "model"

    def cached(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` computed once per context under ``key``."""
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    @property
    def samples(self) -> Any:
        """The generated samples, drawn once on first use."""
        if self._draw_samples is None and "samples" not in self.cache:
            raise GenlabError(f"task '{self.task.name}' gave its evaluation context no way to draw samples")
        return self.cached("samples", lambda: self._draw_samples(self))

    @property
    def reference(self) -> Any:
        """The task's reference data (real images, validation text), loaded once on first use."""
        if self._load_reference is None and "reference" not in self.cache:
            raise GenlabError(f"task '{self.task.name}' gave its evaluation context no reference data")
        return self.cached("reference", lambda: self._load_reference(self))

    def derive(
        self,
        name: str,
        *,
        model: Any = None,
        samples: Any = None,
        keep: Iterable[str] = (),
        protocol: dict[str, Any] | None = None,
    ) -> EvalContext:
        """A baseline's context: the same task, request and reference; ``model`` and/or ``samples`` swapped.

        ``keep`` names cache entries that stay valid (what was computed from the reference only);
        samples not given are drawn from the (swapped) model by the task's ``draw_samples``.
        """
        ctx = EvalContext(
            self.model if model is None else model,
            self.task,
            self.request,
            draw_samples=self._draw_samples,
            load_reference=self._load_reference,
            name=name,
            protocol=protocol,
        )
        ctx.cache = {k: self.cache[k] for k in ("reference", *keep) if k in self.cache}
        if samples is not None:
            ctx.cache["samples"] = samples
        return ctx


def run_metrics(specs: Iterable[MetricSpec], ctx: EvalContext) -> tuple[dict[str, float], dict[str, Any]]:
    """(values, protocol fragments) of ``specs`` on one context."""
    values: dict[str, float] = {}
    protocol: dict[str, Any] = {}
    for spec in specs:
        values |= spec.compute(ctx)
        protocol |= spec.protocol(ctx)
    return values, protocol


def evaluate_model(model: Any, metrics: Iterable[str] | str | None, options: dict[str, Any] | None) -> dict[str, Any]:
    """Evaluate a loaded model with its task's metrics: ``{"metrics", "baselines", "protocol"}``.

    ``metrics``: names (None: the task's default set for this model); ``options``: the task's eval
    request values (``n``, ``seed``, ``ref``, …; absent or None means the default).
    """
    task = TASKS.get(model.task)
    request = task.eval_request_class.build({k: v for k, v in (options or {}).items() if v is not None}, "eval")
    specs = select_metrics(task.name, metrics, model)
    ctx = task.eval_context(model, request)
    values, protocol = run_metrics(specs, ctx)
    baselines: dict[str, dict[str, float]] = {}
    if on_baselines := [s for s in specs if s.on_baselines]:
        for name, baseline in task.eval_baselines(ctx, on_baselines).items():
            baselines[name], _ = run_metrics(on_baselines, baseline)
            protocol |= baseline.protocol
    return {"metrics": values, "baselines": baselines, "protocol": task.eval_protocol(ctx) | protocol}
