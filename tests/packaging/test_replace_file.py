"""replace_file: a reader sees the old file or the new one, and nothing is left behind."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

import model_packaging.replace_file as module
from model_packaging.replace_file import replace_file


def writer(data: bytes) -> Callable[[BinaryIO], int]:
    def write(out: BinaryIO) -> int:
        return out.write(data)

    return write


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_new_file_is_written_whole_and_readable_by_all(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    os.umask(0o077)
    try:
        assert replace_file(path, writer(b"new")) == 3
    finally:
        os.umask(0o022)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_an_existing_file_is_swapped_not_rewritten(tmp_path: Path) -> None:
    """The old file's bytes are never touched: whoever holds it open still reads them."""
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"old")
    with open(path, "rb") as held:
        replace_file(path, writer(b"new"))
        assert held.read() == b"old"
    assert path.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_on_linux_an_existing_file_is_exchanged_without_a_plain_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename over the file would make ext4 write the new one out first (auto_da_alloc)."""
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"old")

    def no_rename(*args: object) -> None:
        raise AssertionError("os.replace called")

    monkeypatch.setattr(os, "replace", no_rename)
    replace_file(path, writer(b"new"))
    assert path.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [errno.EINVAL, errno.ENOSYS, errno.EPERM])
def test_where_the_exchange_is_refused_a_plain_rename_does_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    def refused(*args: object) -> int:
        ctypes.set_errno(error)
        return -1

    monkeypatch.setattr(module, "_renameat2", lambda: refused)
    path = tmp_path / "manifest.json"
    path.write_bytes(b"old")
    replace_file(path, writer(b"new"))
    assert path.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_an_exchange_error_that_is_not_about_support_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(module, "_renameat2", lambda: full)
    path = tmp_path / "manifest.json"
    path.write_bytes(b"old")
    with pytest.raises(OSError, match="Input/output error"):
        replace_file(path, writer(b"new"))
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failed_check_before_the_move_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"old")

    def refuse() -> None:
        raise RuntimeError("image lookup failed")

    with pytest.raises(RuntimeError, match="image lookup failed"):
        replace_file(path, writer(b"new"), refuse)
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_folder_in_the_way_is_not_swapped_out(tmp_path: Path) -> None:
    """Only a regular file is exchanged; anything else gets the plain rename's own error."""
    path = tmp_path / "model.tar.gz"
    path.mkdir()
    (path / "keep").write_text("kept")
    with pytest.raises(IsADirectoryError):
        replace_file(path, writer(b"new"))
    assert (path / "keep").read_text() == "kept"
    assert leftovers(tmp_path) == []
