"""The Pulumi program's packages (``__main__.py`` at the repository root runs them) and its
offline tools, ``python -m infra`` (also installed as ``mlserve-infra``).

``infra.__version__`` is the installed project's version (pyproject.toml, ``make install``),
which holds this package and model_packaging alike. It is read from the installed metadata when
first asked for, not on import: importlib.metadata and the read take about 40 ms, which every
command would otherwise pay before its work, for a ``--version`` few of them are asked.
"""

from __future__ import annotations

import functools


@functools.cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlserve")
    except PackageNotFoundError:
        # Run from a checkout that is not installed, as `pulumi up` does with requirements.txt.
        return "0+unknown"


def __getattr__(name: str) -> str:
    # A module's __getattr__ answers the names it does not define (PEP 562).
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
