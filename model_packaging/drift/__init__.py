"""Drift: a version's data-quality baseline, and samples checked against it."""
