"""Artifacts: a model folder built into immutable, reproducible bytes, verified and served."""
