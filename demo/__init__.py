"""The release flow end to end on a local moto server: ``make demo`` (``python -m demo``)."""
