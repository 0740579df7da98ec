"""``genlab optimize RUN --objective "qed-0.1*sa" --budget 2000 --out best.smi``: property-guided optimisation.

A ``molecule/mol-vae`` run is optimised by latent Bayesian optimisation, a molecule language model (char-RNN,
SMILES/SELFIES GPT) by policy-gradient fine-tuning; both are described in :mod:`genlab.molecule.optimize`, with
the counting rule of oracle calls. The output holds the best molecules with their scores, the seed, the settings
and the full trace (every oracle call's SMILES and score); ``.smi`` writes the top molecules and, beside them, the
whole record as ``<name>.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.molecule.objectives import parse_objective
from genlab.molecule.optimize import (
    COUNTING_RULE,
    BOSettings,
    Oracle,
    RLSettings,
    curve,
    latent_bo,
    policy_gradient,
)


class OptimizeRequest(Request):
    """Options of ``genlab optimize``."""

    objective: str = Field(
        "qed", description="what to maximise: a weighted sum of qed, logp, sa, mw terms, e.g. 'qed-0.1*sa'"
    )
    budget: int = Field(2000, ge=1, le=1_000_000, description="oracle calls: distinct valid molecules scored")
    batch_size: int | None = Field(
        None, ge=1, le=4096, description="molecules proposed per round (default: 20 for latent BO, 64 for RL)"
    )
    n_init: int = Field(200, ge=1, description="latent BO: training molecules in the initial design (they count)")
    init_data: str | None = Field(
        None,
        description="latent BO: molecules of the initial design (dataset or SMILES file; default: the run's data)",
        json_schema_extra={"flag": "--init", "file": "text", "names": True},
    )
    data_dir: str | None = Field(
        None, description="folder of standard datasets (for --init moses)", json_schema_extra={"server": False}
    )
    lr: float = Field(5e-4, gt=0, description="policy fine-tuning: Adam learning rate")
    kl_coef: float = Field(0.05, ge=0, description="policy fine-tuning: weight of the KL anchor to the prior model")
    top: int = Field(100, ge=1, description="molecules written to the output, best first")
    quiet: bool = Field(False, description="do not print progress")


class OptimizationOutput(Output):
    """The best molecules with scores and the run's record (seed, settings, trace, curve)."""

    formats = {"smi": "chemical/x-daylight-smiles", "json": "application/json"}
    suffix = ".smi"

    def __init__(self, record: dict[str, Any], top: int):
        self.record, self.n_top = record, top

    @property
    def best(self) -> list[tuple[str, float]]:
        """(SMILES, score) of the best molecules, best first."""
        calls = sorted(self.record["trace"], key=lambda c: -c["score"])[: self.n_top]
        return [(c["smiles"], c["score"]) for c in calls]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix == ".json":
            atomic_write_text(path, self.encode("json").decode("utf-8"))
            return path
        atomic_write_text(path, self.encode("smi").decode("utf-8"))
        atomic_write_text(path.with_suffix(".json"), self.encode("json").decode("utf-8"))
        return path

    def encode(self, format: str | None = None) -> bytes:
        if self.check_format(format) == "json":
            return json.dumps(self.record, indent=1).encode("utf-8")
        head = f"# objective {self.record['objective']['expression']}; seed {self.record['seed']}\n"
        return (head + "".join(f"{s}\t{score:.6g}\n" for s, score in self.best)).encode("utf-8")


def optimization_method(model) -> Literal["latent-bo", "policy-gradient"] | None:
    """The optimisation a model supports: latent BO for an encoder-decoder with a latent, policy gradient for an
    autoregressive language model over molecule tokens; None otherwise."""
    if hasattr(model, "encode_smiles") and hasattr(model, "decode_smiles"):
        return "latent-bo"
    if all(hasattr(model, a) for a in ("step", "init_state", "logits")) and hasattr(model, "tokenizer"):
        return "policy-gradient"
    return None


@register_pipeline("molecule/optimize")
class OptimizePipeline(Pipeline):
    """Maximise an objective of molecules with a trained model under a budget of oracle calls."""

    task = "molecules"
    verb = "optimize"
    description = (
        "find molecules that maximise an objective (e.g. qed-0.1*sa) within a budget of oracle calls: latent "
        "Bayesian optimisation with a mol-vae, policy-gradient fine-tuning with a language model"
    )
    request_class = OptimizeRequest
    output_class = OptimizationOutput
    model_hint = "train a mol-vae, char-rnn, smiles-gpt or selfies-gpt model"

    @classmethod
    def model_problem(cls, model) -> str | None:
        if optimization_method(model) is None:
            return f"{model.registry_name} can neither be optimised in its latent space nor fine-tuned as a policy"
        return None

    def default_filename(self, request: OptimizeRequest) -> str:
        return f"optimize-seed{request.seed or 0}.smi"

    def run(self, request: OptimizeRequest) -> OptimizationOutput:
        objective = parse_objective(request.objective)
        seed = 0 if request.seed is None else request.seed
        method = optimization_method(self.model)
        oracle = Oracle(objective, request.budget)
        log = None if request.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        start = time.perf_counter()
        if method == "latent-bo":
            settings = BOSettings(n_init=request.n_init, batch_size=request.batch_size or 20)
            init = self.initial_molecules(request)
            summary = latent_bo(self.model, oracle, init, settings, seed, log)
        else:
            settings = RLSettings(batch_size=request.batch_size or 64, lr=request.lr, kl_coef=request.kl_coef)
            summary = policy_gradient(self.model, oracle, settings, seed, log)
        seconds = time.perf_counter() - start
        record = {
            "model": self.model.registry_name,
            "method": method,
            "objective": objective.to_dict(),
            "seed": seed,
            "budget": request.budget,
            "oracle_calls": len(oracle.trace),
            "counting_rule": COUNTING_RULE,
            "invalid": oracle.invalid,
            "repeats": oracle.repeats,
            "best": oracle.best if oracle.trace else None,
            "top10_mean": _mean([s for _, s in oracle.top(10)]),
            "seconds": round(seconds, 2),
            "settings": {**vars(settings), **({"init_data": request.init_data} if method == "latent-bo" else {})},
            "summary": summary,
            "weights_sha256": self.model.provenance.weights_sha256,
            "curve": curve(oracle.trace),
            "trace": [vars(c) for c in oracle.trace],
        }
        if not oracle.trace:
            raise BadInputError("the optimisation scored no molecule", "check the model samples valid molecules")
        return OptimizationOutput(record, request.top)

    def initial_molecules(self, request: OptimizeRequest) -> list[str]:
        """Molecules of the initial design: ``--init`` or the run's training molecules; [] when neither can be read
        (the design is then decoded from prior samples)."""
        from genlab.molecule.data import load_source, training_smiles

        if request.init_data:
            return list(dict.fromkeys(load_source(request.init_data, "train", request.data_dir).smiles))
        data = self.model.provenance.data
        if not data.get("source"):
            return []
        try:
            return training_smiles({**data, "data_dir": request.data_dir or data.get("data_dir")})
        except BadInputError:
            return []


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
