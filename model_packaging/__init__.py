"""Release tool for model artifacts, laid out by its flow.

- :mod:`model_packaging.artifact`: ``build`` a model folder into an immutable artifact,
  ``verify`` it the way the serving container loads it, ``serve`` it locally;
- :mod:`model_packaging.store`: ``publish`` it to the artifact store and the Model Registry;
- :mod:`model_packaging.release`: ``approve``/``reject`` a version, ``promote`` and ``rollback``
  it through dev, staging and prod as stack-file edits, and ``status`` (with
  ``--check-deployed``) of what each stage pins and serves;
- :mod:`model_packaging.drift`: a version's data-quality baseline, and ``drift-check`` of a
  sample against it.

Run it as ``python -m model_packaging``, or ``mlserve-release`` once the project is installed
(``make install``). Every command is a thin layer (:mod:`model_packaging.cli`) over a plain
function in these packages, so the same operations can be scripted from Python.
"""


def __getattr__(name: str) -> str:
    """``__version__``, the project's (:mod:`infra`), read when first asked for."""
    if name == "__version__":
        import infra

        return infra.__version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
