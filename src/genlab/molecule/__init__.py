"""Molecules: RDKit parsing and properties, SMILES/SELFIES language models, a molecular VAE, property-guided
optimisation and the MOSES metrics."""
