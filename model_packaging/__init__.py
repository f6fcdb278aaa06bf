"""Release tool for model artifacts: build, verify, serve and publish.

Run it as ``python -m model_packaging``, or ``mlserve-release`` once the project is installed
(``make install``). Every command is a thin layer over a plain function in this package, so the
same operations can be scripted from Python.
"""

from infra import __version__ as __version__
