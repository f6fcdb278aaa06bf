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

Replacing a file that exists swaps the two names in one step (Linux's renameat2 with
RENAME_EXCHANGE, rename(2)), then removes the old file under the temporary name. A plain rename
over an existing file on ext4 would write the new file out first: its ``auto_da_alloc`` default
"will detect the replace-via-rename ... pattern" and force the new file's blocks to disk (the
kernel's ext4 documentation, "Mount options"), which cost a rebuild of a 300 MB artifact in
place about half a second here. The exchange is as atomic for a reader, and that path does not
force it. Where the exchange is not available (another system, an older kernel, a file system
without it, no regular file to replace) it is ``os.replace``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

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
        _move_into_place(temp, path)
    finally:
        # Unless it was renamed into place: what was written, or after an exchange, the old file.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return result


def _move_into_place(temp: str, path: Path) -> None:
    """Put ``temp`` at ``path``: an exchange when ``path`` is a regular file, else a rename."""
    try:
        replaces_a_file = stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        replaces_a_file = False
    if not (replaces_a_file and _exchange(temp, path)):
        os.replace(temp, path)


def _exchange(first: str, second: Path) -> bool:
    """Swap two names atomically; False, with nothing changed, where it cannot be done here
    (``os.replace`` then does the move, and raises what is wrong, if anything)."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in _RENAME_INSTEAD:
        return False
    raise OSError(error, os.strerror(error), str(second))


# renameat2's arguments (linux/fcntl.h AT_FDCWD, linux/fs.h RENAME_EXCHANGE) and the errors
# after which a plain rename is tried (rename(2), ERRORS: EINVAL, a file system without the
# flag; ENOSYS, a kernel before 3.15; EPERM, also what seccomp filters answer for a system call
# they do not know; ENOENT, the file went away meanwhile). A plain rename that fails too raises
# its own error.
_AT_FDCWD = -100
_EXCHANGE = 2
_RENAME_INSTEAD = frozenset(
    {errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP, errno.ENOENT}
)


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """glibc's renameat2 (2.28 and newer), or None off Linux or without it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    )
    function.restype = ctypes.c_int
    return cast(Callable[..., int], function)
