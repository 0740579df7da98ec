"""Peers the speed benchmarks time beside genlab: reference implementations written here from published
recipes, and thin wrappers around other libraries (optional; each says how to install it)."""
