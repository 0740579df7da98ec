"""Molecules: RDKit parsing and properties, SMILES/SELFIES language models, a molecular VAE, property-guided
optimisation and the MOSES metrics."""

from genlab.molecule import chem, data, evaluation, models, optimize_pipeline, pipelines, task, tokenizers, vae  # noqa: F401  (registers)
