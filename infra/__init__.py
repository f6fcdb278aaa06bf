"""The Pulumi program's packages (``__main__.py`` at the repository root runs them) and its
offline tools, ``python -m infra`` (also installed as ``mlserve-infra``)."""

from importlib.metadata import PackageNotFoundError, version

# The version of the installed project (pyproject.toml, `make install`), which holds this package
# and model_packaging alike.
try:
    __version__ = version("mlserve")
except PackageNotFoundError:
    # Run from a checkout that is not installed, as `pulumi up` does with requirements.txt only.
    __version__ = "0+unknown"
