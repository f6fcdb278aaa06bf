"""A file replaced whole: written under a temporary name beside it, then moved into place.

What a build writes (the artifact, the manifest, the baseline documents) and the image URI
cache go through :func:`replace_file`: a reader sees the old file or the new one, never part of
either, and a write that fails or is interrupted leaves the old file and no temporary one.

These files are not fsynced. A power cut soon after a build can leave one of them short or
empty on disk, and no command trusts such a file: publish, verify, serve and drift-check check
every byte against the digests the manifest records (:mod:`model_packaging.artifact.manifest`),
and the manifest and the baseline documents must load and match, so a damaged build output is
refused by name, and building again gives the same bytes (the artifact is reproducible). Waiting
for the disk instead cost a 300 MB build about a quarter of a second of its two (measured with
bench/packaging.py), the time the disk takes to catch up with the compression. Stack files,
which nothing else can rebuild, are written durably (:mod:`model_packaging.release.stackfile`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def replace_file(
    path: Path, write: Callable[[BinaryIO], T], ready: Callable[[], object] = lambda: None
) -> T:
    """Replace ``path`` with what ``write`` writes to the open file; what ``write`` returns.

    ``ready`` runs just before the rename; if it raises, the previous file stays. The file is
    ``rw-r--r--`` whatever the umask.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with open(fd, "wb") as out:
            result = write(out)
        os.chmod(temp, 0o644)
        ready()
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return result
