"""Paths inside a model folder, an artifact or a build output: the layout, and the one rule
for relative paths.

Paths come from three untrusted places: names written in model.yaml (``body_file``), names
given on the command line (``--allow``) and member names read back from a tarball. All three
must stay inside their folder, and all must survive the canonical listing (one path per line)
and S3 keys unchanged, so they share this check.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

# SageMaker's convention: inference code under code/ (SAGEMAKER_SUBMIT_DIRECTORY points there
# in the container), model files at the top of the artifact.
CODE_DIR = "code"

# A build output folder: the artifact, compressed or not, and manifest.json beside it.
MANIFEST_NAME = "manifest.json"
TARBALL = "model.tar.gz"
TREE = "model/"
ARTIFACT_PATHS = {"gzip": TARBALL, "none": TREE}


def relative_path_problem(path: str) -> str | None:
    """Say what is wrong with ``path`` as a relative POSIX path inside a folder, or None.

    Refused: empty paths, absolute paths, ``.`` and ``..`` components, empty components
    (``a//b``, trailing ``/``), backslashes (a Windows separator on one side, a plain
    character on the other) and control characters (they would split a listing line).
    """
    if not path:
        return "is empty"
    if path.startswith("/"):
        return "must be a relative path, not an absolute one"
    if "\\" in path:
        return "must use / as separator, not \\"
    if any(unicodedata.category(char) == "Cc" for char in path):
        return "contains a control character"
    parts = path.split("/")
    if ".." in parts:
        return "must not contain '..'"
    if "." in parts or "" in parts:
        return "must not contain empty or '.' components"
    return None


def output_problem(out_dir: Path, model_dir: Path) -> str | None:
    """Why ``out_dir`` cannot hold a build of ``model_dir``, or None: inside it, the output
    would be packaged by the next build."""
    if Path(out_dir).resolve().is_relative_to(Path(model_dir).resolve()):
        return f"{out_dir}: the output folder must not be inside {model_dir}"
    return None
