"""Release tool for model artifacts: build, verify, serve and publish.

Run it as ``python -m model_packaging``. Every command is a thin layer over a plain function
in this package, so the same operations can be scripted from Python.
"""
