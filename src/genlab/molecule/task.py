"""The ``molecules`` task: SMILES in, molecule generators out, scored with the MOSES metrics.

``genlab train molecules --model char-rnn|smiles-gpt|selfies-gpt|mol-vae --data moses`` reads the
molecules (:mod:`genlab.molecule.data`), builds the tokenizer the model reads (``tokenizer_kind``
of the model class: SMILES unless it says otherwise; ``--tokenizer`` overrides) on the training
molecules and trains on one padded molecule per row. A model of this task fills ``vocab_size`` and
``tokenizer`` in its config, and ``block_size`` or ``max_length`` when it has such a field (the
longest training molecule in tokens, ``<bos>``/``<eos>`` included), and samples with
``sample_smiles(n, generator, temperature)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.core.errors import ConfigError
from genlab.core.evaluation import EvalContext
from genlab.core.io import atomic_write_text
from genlab.core.model import GenerativeModel
from genlab.core.registry import TASKS
from genlab.core.seeding import make_generator
from genlab.core.task import Task
from genlab.molecule import chem, evaluation
from genlab.molecule.data import MoleculeDataConfig, MoleculeDataInfo, load_molecule_data
from genlab.molecule.evaluation import MoleculeEvalRequest
from genlab.molecule.models import TASK
from genlab.molecule.pipelines import GRID_MOLECULES, MoleculeSamplePipeline


class MoleculesTask(Task):
    name = TASK
    modality = "molecule"
    description = "train molecule generators (char-RNN, SMILES/SELFIES GPT, VAE) on MOSES or SMILES files"
    data_config_class = MoleculeDataConfig
    default_model = "char-rnn"
    pipeline_class = MoleculeSamplePipeline
    cli_options = {
        "--tokenizer": "data.tokenizer",
        "--max-length": "data.max_length",
        "--val-fraction": "data.val_fraction",
        "--max-molecules": "data.max_molecules",
        "--n-layer": "model.n_layer",
        "--n-head": "model.n_head",
        "--n-embd": "model.n_embd",
        "--hidden-size": "model.hidden_size",
        "--dropout": "model.dropout",
        "--lr": "model.lr",
    }

    def load_data(self, data_cfg: MoleculeDataConfig):
        return load_molecule_data(data_cfg)

    def check_model_fits_data(self, model_cls: type[GenerativeModel], info: MoleculeDataInfo) -> None:
        """Build the tokenizer the model reads and tokenize the molecules with it."""
        own = getattr(model_cls, "tokenizer_kind", "smiles")
        asked = (info.data_config or {}).get("tokenizer", "auto")
        if asked not in ("auto", own) and f"{own}-" in model_cls.registry_name:
            raise ConfigError(
                f"{model_cls.registry_name} reads {own.upper()}, not {asked.upper()}",
                f"drop --tokenizer {asked}, or train a model for {asked.upper()}",
            )
        kind = own if asked == "auto" else asked
        info.tokenize(kind, int((info.data_config or {}).get("max_length", 128)))
        info.model_fields = set(model_cls.config_class.model_fields)

    def fill_model_config(self, values: dict[str, Any], info: MoleculeDataInfo) -> dict[str, Any]:
        filled = {**values, "vocab_size": info.vocab_size, "tokenizer": info.tokenizer_obj.to_dict()}
        for key in ("block_size", "max_length"):
            if key in info.model_fields:
                if key in values and values[key] != info.max_length:
                    raise ConfigError(
                        f"model.{key}={values[key]} does not match the data ({info.max_length} tokens)",
                        "set --max-length on the data instead, or drop the override",
                    )
                filled[key] = info.max_length
        return filled

    def write_samples(self, model: GenerativeModel, stem: Path, seed: int) -> Path:
        """30 sampled molecules: their SMILES (``.smi``, invalid ones marked) and a PNG grid of the valid ones."""
        was_training = model.training
        try:
            raw = model.sample_smiles(GRID_MOLECULES, generator=make_generator(seed), temperature=1.0)
        finally:
            model.train(was_training)
        lines = [chem.canonical(s) or f"# invalid: {s}" for s in raw]
        smi = stem.with_suffix(".smi")
        atomic_write_text(smi, "\n".join(lines) + "\n")
        valid = [line for line in lines if not line.startswith("#")]
        return chem.draw_grid(valid, stem.with_suffix(".png"), max_mols=GRID_MOLECULES) if valid else smi

    def describe_data(self, info: MoleculeDataInfo) -> str:
        line = f"data {info.source}: {info.n_train:,} train / {info.n_val:,} validation molecules"
        if info.n_invalid:
            line += f"\n[yellow]skipped {info.n_invalid:,} line(s) that are not valid SMILES[/]"
        return line

    eval_request_class = MoleculeEvalRequest

    def eval_context(self, model: GenerativeModel, request: MoleculeEvalRequest) -> EvalContext:
        return evaluation.model_context(self, model, request)

    def eval_protocol(self, ctx: EvalContext) -> dict[str, Any]:
        return evaluation.protocol(ctx)


TASKS.register(MoleculesTask.name)(MoleculesTask())
