"""Search spaces: which config keys a study varies, over which values, read from YAML.

```yaml
train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
train.batch_size: {type: categorical, choices: [32, 64, 128]}
model.latent_dim: {type: int, low: 16, high: 128, step: 16}
model.name: {type: categorical, choices: [dcgan, wgan-gp]}
model.n_critic: {type: int, low: 1, high: 5, when: {model.name: wgan-gp}}    # only when the condition holds
model.dropout: {type: float, low: 0.0, high: 0.3, grid: [0.0, 0.1, 0.3]}      # the values the grid sampler tries
```

Each key is a dotted config key of the run (``train.*``, ``model.*``, ``data.*``), checked against the task's
config classes before any trial runs (a typo fails with the valid keys). ``when`` makes a parameter conditional on
earlier ones (it is sampled only when every named key has the given value; list several values as a list). The
grid sampler needs a finite set of values per parameter: categorical choices, the steps of an ``int`` range, or
``grid`` values given for a ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.core.errors import BadInputError, ConfigError

TYPES = ("float", "int", "categorical")
MAX_GRID = 10_000  # grid points a study may enumerate


@dataclass
class Param:
    """One searched config key."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] = field(default_factory=list)
    grid: list[Any] | None = None
    when: dict[str, list[Any]] = field(default_factory=dict)

    def applies(self, params: dict[str, Any]) -> bool:
        """Whether the conditions hold for the values chosen so far."""
        return all(params.get(k) in values for k, values in self.when.items())

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, self.choices)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def grid_values(self) -> list[Any]:
        """The values the grid sampler tries (:class:`ConfigError` when the parameter is continuous)."""
        if self.grid is not None:
            return list(self.grid)
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step:
            n = round((float(self.high) - float(self.low)) / float(self.step))
            return [float(self.low) + i * float(self.step) for i in range(n + 1)]
        hint = "give it `grid: [values]` or a `step`, or use another sampler (tpe, random, gp, cmaes)"
        raise ConfigError(f"the grid sampler cannot enumerate the continuous parameter '{self.key}'", hint)

    def example(self) -> Any:
        """A valid value, for checking that the key exists."""
        if self.type == "categorical":
            return self.choices[0]
        return int(self.low) if self.type == "int" else float(self.low)


@dataclass
class SearchSpace:
    params: list[Param]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The trial's values for every parameter whose conditions hold, in declaration order."""
        chosen: dict[str, Any] = {}
        for p in self.params:
            if p.applies(chosen):
                chosen[p.key] = p.suggest(trial)
        return chosen

    def grid(self) -> dict[str, list[Any]]:
        """The grid of the grid sampler (unconditional spaces only)."""
        if any(p.when for p in self.params):
            raise ConfigError("the grid sampler cannot search a conditional space", "use tpe or random")
        grid = {p.key: p.grid_values() for p in self.params}
        size = 1
        for values in grid.values():
            size *= len(values)
        if size > MAX_GRID:
            raise ConfigError(f"the grid has {size:,} points", f"narrow it below {MAX_GRID:,} or use another sampler")
        return grid

    def examples(self) -> list[dict[str, Any]]:
        """Assignments that together set every key once, each with its conditions satisfied (for validation)."""
        out = []
        for p in self.params:
            values = {k: v[0] for k, v in p.when.items()}
            values[p.key] = p.example()
            out.append(values)
        return out


def parse_space(raw: Any, where: str = "space") -> SearchSpace:
    """A :class:`SearchSpace` from a mapping (parsed YAML); mistakes raise :class:`ConfigError` naming the key."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where} is empty or not a mapping of config keys to ranges",
                          "e.g. `train.lr: {type: float, low: 1e-4, high: 1e-2, log: true}`")  # fmt: skip
    params = []
    for key, spec in raw.items():
        if not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise ConfigError(f"{where}: '{key}' needs a type", "type: float, int or categorical")
        kind = spec["type"]
        unknown = set(spec) - {"type", "low", "high", "step", "log", "choices", "grid", "when"}
        if unknown:
            raise ConfigError(f"{where}: '{key}' has unknown fields {sorted(unknown)}",
                              "fields: type, low, high, step, log, choices, grid, when")  # fmt: skip
        when = {k: (v if isinstance(v, list) else [v]) for k, v in (spec.get("when") or {}).items()}
        for k in when:
            if k not in [p.key for p in params]:
                raise ConfigError(f"{where}: '{key}' depends on '{k}', which is not declared before it",
                                  "declare the parameters a condition names first")  # fmt: skip
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{where}: categorical '{key}' needs a non-empty `choices` list")
            params.append(Param(str(key), kind, choices=choices, when=when))
            continue
        try:
            low, high = float(spec["low"]), float(spec["high"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{where}: '{key}' needs numeric `low` and `high`") from None
        if low >= high:
            raise ConfigError(f"{where}: '{key}' has low {low:g} ≥ high {high:g}", "low must be below high")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise ConfigError(f"{where}: '{key}' is searched on a log scale but low is {low:g}", "use low > 0")
        step = spec.get("step")
        params.append(Param(str(key), kind, low, high, float(step) if step is not None else None, log,
                            grid=spec.get("grid"), when=when))  # fmt: skip
    return SearchSpace(params)


def load_space(path: str | Path) -> SearchSpace:
    """The search space in the YAML file ``path``."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"search space file {path} not found", "write one: see docs/tuning.md")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    return parse_space(raw, where=str(path))
