"""``genlab sample RUN --n 1000 --out mols.smi``: valid, canonical molecules from a molecule model.

Molecules are drawn in rounds until ``n`` valid ones (that also pass ``--min-qed``/``--max-sa`` and, with
``--unique``, are new) are found or ``max_draws`` strings have been sampled; the output says how many
were drawn. A ``.smi`` output is written with a PNG grid of the first molecules beside it
(``mols.png``); ``.csv`` adds the properties (QED, logP, SA, MW); ``.png`` is the grid alone.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from genlab.core.console import info
from genlab.core.errors import BadInputError
from genlab.core.io import atomic_write_text
from genlab.core.pipeline import Output, Pipeline, Request, register_pipeline
from genlab.core.seeding import make_generator
from genlab.molecule import chem
from genlab.molecule.models import TASK

GRID_MOLECULES = 30


class MoleculeOutput(Output):
    """Canonical SMILES of generated molecules and how they were drawn (``drawn``: strings sampled,
    ``valid``: of those, valid molecules)."""

    formats = {"smi": "chemical/x-daylight-smiles", "csv": "text/csv", "png": "image/png", "json": "application/json"}
    suffix = ".smi"

    def __init__(self, smiles: list[str], drawn: int, valid: int, filters: dict[str, Any] | None = None):
        self.smiles, self.drawn, self.valid = list(smiles), drawn, valid
        self.filters = dict(filters or {})

    def save(self, path: str | Path) -> Path:
        """``.smi``/``.txt`` (plus a ``.png`` grid beside it), ``.csv`` with properties, ``.png``, or ``.json``."""
        path = Path(path)
        fmt = {".csv": "csv", ".png": "png", ".json": "json"}.get(path.suffix.lower(), "smi")
        if fmt == "png":
            return chem.draw_grid(self.smiles, path, max_mols=GRID_MOLECULES)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.encode(fmt).decode("utf-8"))
        if fmt == "smi" and self.smiles:
            chem.draw_grid(self.smiles, path.with_suffix(".png"), max_mols=GRID_MOLECULES)
        return path

    def encode(self, format: str | None = None) -> bytes:
        fmt = self.check_format(format)
        if fmt == "png":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                return chem.draw_grid(self.smiles, Path(tmp) / "grid.png", max_mols=GRID_MOLECULES).read_bytes()
        if fmt == "json":
            record = {"smiles": self.smiles, "drawn": self.drawn, "valid": self.valid, "filters": self.filters}
            return json.dumps(record).encode("utf-8")
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(["smiles", "qed", "logp", "sa", "mol_weight"])
            for s in self.smiles:
                p = chem.properties(s)
                writer.writerow([s, *(f"{p[k]:.4f}" for k in ("qed", "logp", "sa", "mol_weight"))])
            return buf.getvalue().encode("utf-8")
        return "".join(f"{s}\n" for s in self.smiles).encode("utf-8")


class MoleculeSampleRequest(Request):
    """Options of ``genlab sample`` for molecule models."""

    n: int = Field(1000, ge=1, le=1_000_000, description="valid molecules to write")
    temperature: float = Field(1.0, gt=0, description="sampling temperature (< 1: more typical molecules)")
    min_qed: float | None = Field(None, ge=0, le=1, description="keep molecules with QED at least this")
    max_sa: float | None = Field(None, ge=1, le=10, description="keep molecules with SA score at most this")
    unique: bool = Field(False, description="write each molecule once")
    max_draws: int | None = Field(
        None, ge=1, description="most strings to sample (default 20 × n); stop there even if n are not found"
    )


@register_pipeline("molecule/sample")
class MoleculeSamplePipeline(Pipeline):
    """``pipe(n=100, seed=0)`` → canonical SMILES of valid sampled molecules."""

    task: ClassVar[str] = TASK
    verb: ClassVar[str] = "sample"
    description: ClassVar[str] = "sample valid molecules as canonical SMILES (.smi with a PNG grid, or .csv)"
    request_class = MoleculeSampleRequest
    output_class = MoleculeOutput

    def default_filename(self, request: MoleculeSampleRequest) -> str:
        return f"molecules-n{request.n}-seed{request.seed}.smi"

    def run(self, request: MoleculeSampleRequest) -> MoleculeOutput:
        out = self.draw(**request.model_dump())
        message = f"drew {out.drawn:,} strings: {out.valid:,} valid, {len(out.smiles):,} kept"
        if out.filters:
            message += " after " + ", ".join(f"{k} {v}" for k, v in out.filters.items())
        info(message)
        if len(out.smiles) < request.n:
            info(f"[yellow]only {len(out.smiles):,} of the {request.n:,} molecules asked for were found[/]")
        return out

    def __call__(self, n: int = 1000, seed: int | None = None, **options: Any) -> list[str]:
        """``n`` canonical SMILES of valid molecules (fewer when ``max_draws`` runs out)."""
        return self.draw(n=n, seed=seed, **options).smiles

    def draw(
        self,
        n: int = 1000,
        seed: int | None = None,
        temperature: float = 1.0,
        min_qed: float | None = None,
        max_sa: float | None = None,
        unique: bool = False,
        max_draws: int | None = None,
    ) -> MoleculeOutput:
        """Sample rounds of molecules until ``n`` are kept or ``max_draws`` strings were sampled."""
        if n < 1:
            raise BadInputError(f"cannot sample {n} molecules", "ask for --n 1 or more")
        limit = max_draws or 20 * n
        generator = make_generator(seed)
        kept: list[str] = []
        seen: set[str] = set()
        drawn = valid = 0
        while len(kept) < n and drawn < limit:
            batch = min(limit - drawn, max(2 * (n - len(kept)), 64))
            raw = self.model.sample_smiles(batch, generator=generator, temperature=temperature)
            drawn += len(raw)
            for s in raw:
                mol = chem.parse_smiles(s) if s else None
                if mol is None:
                    continue
                valid += 1
                smiles = chem.mol_to_smiles(mol)
                if unique and smiles in seen:
                    continue
                if min_qed is not None and chem.qed(mol) < min_qed:
                    continue
                if max_sa is not None and chem.sa_score(mol) > max_sa:
                    continue
                if len(kept) < n:
                    seen.add(smiles)
                    kept.append(smiles)
        filters = {k: v for k, v in (("min_qed", min_qed), ("max_sa", max_sa)) if v is not None}
        if unique:
            filters["unique"] = True
        return MoleculeOutput(kept, drawn, valid, filters)
