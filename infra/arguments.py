"""Argument types for the command lines, ``python -m infra`` and ``python -m model_packaging``.

Each is an argparse ``type=``: it checks one value while the command line is parsed, before any
work starts, so a bad value is a usage error (exit status 2) whose message names the flag, the
value and what is wrong with it. Defaults given as strings go through the same check. Paths are
checked and kept as given (strings), as the commands read them.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

# Ports a server can bind to and a client can name: port 0 asks the OS for any free port, which
# a command that prints its own URL cannot promise (IANA, RFC 6335 section 6).
PORT_MIN = 1
PORT_MAX = 65535

# General purpose bucket naming rules (Amazon S3 user guide, "General purpose bucket naming
# rules", https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3 to 63
# characters, lowercase letters, digits, dots and hyphens, beginning and ending with a letter or
# a digit, and no two adjacent dots.
BUCKET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class VersionAction(argparse.Action):
    """``--version``: prints ``mlserve <version>`` and exits, as argparse's ``version`` action
    does, but reads the version only then (:mod:`infra` says why)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        import infra

        print(f"mlserve {infra.__version__}")  # on stdout, as argparse's action prints it
        parser.exit()


def _fail(message: str, value: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{message}, got {value!r}")


def _path(value: str) -> str:
    """A path, which may hold spaces but must not be empty or blank."""
    if not value.strip():
        raise _fail("must not be empty or blank", value)
    return value


def word(value: str) -> str:
    """A name or an identifier: not empty, and no spaces anywhere."""
    if not value:
        raise _fail("must not be empty", value)
    if any(c.isspace() for c in value):
        raise _fail("must not contain spaces", value)
    return value


def port(value: str) -> int:
    # ASCII digits only: str.isdigit also takes digits int() cannot read, such as "²".
    if not (value.isascii() and value.isdigit()) or not PORT_MIN <= int(value) <= PORT_MAX:
        raise _fail(f"must be a port number from {PORT_MIN} to {PORT_MAX}", value)
    return int(value)


def non_negative(value: str) -> float:
    """A finite number, 0 or more."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise _fail("must be a number, 0 or more", value)
    return number


def existing_path(value: str) -> str:
    """A file or a folder that exists."""
    path = Path(_path(value))
    if not path.exists():
        raise _fail("no such file or folder", value)
    return value


def existing_file(value: str) -> str:
    path = Path(_path(value))
    if path.is_dir():
        raise _fail("is a folder, not a file", value)
    if not path.is_file():
        raise _fail("no such file", value)
    return value


def existing_folder(value: str) -> str:
    path = Path(_path(value))
    if path.is_file():
        raise _fail("is a file, not a folder", value)
    if not path.is_dir():
        raise _fail("no such folder", value)
    return value


def output_folder(value: str) -> str:
    """A folder to write into: it may not exist yet, but must not be a file."""
    path = Path(_path(value))
    if path.exists() and not path.is_dir():
        raise _fail("is a file, not a folder", value)
    return value


def bucket_name(value: str) -> str:
    if not BUCKET_NAME_RE.match(value) or ".." in value:
        raise _fail(
            "must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens,"
            " beginning and ending with a letter or a digit",
            value,
        )
    return value


def stack_name(value: str) -> str:
    """A stack's name, which names its file ``stacks/Pulumi.<name>.yaml``."""
    word(value)
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise _fail("must be a stack name such as dev, not a path", value)
    return value


def git_revision(value: str) -> str:
    """A revision for git: a word that git cannot take for an option."""
    word(value)
    if value.startswith("-"):
        raise _fail("must be a git revision such as main, not an option", value)
    return value
