"""Artifact bytes: a deterministic tar in fast gzip, or a plain folder, hashed in one pass.

Writing: every source file is read exactly once, straight into a fixed-size staging block;
its sha256 is updated from that block, the block is deflated, and the sha256 of the artifact
is updated from the compressed bytes as they are written. Nothing is read twice.

Reproducibility: entries come sorted by path, tar headers carry no time, owner or umask
(mtime 0, uid/gid 0, empty names, mode 0644 or 0755 from the executable bit), the format is
PAX, and the gzip header is fixed (mtime 0, no file name, OS byte 255). The deflate input is
cut into blocks of exactly ``BLOCK_SIZE`` bytes, whatever the file sizes and read sizes.

Parallel compression, as pigz does it: each block is deflated on its own, primed with the
last 32 KiB of the block before it as the dictionary, and ends with a sync flush, so the
blocks concatenate into one valid deflate stream (closed by an empty final block). A block's
bytes therefore depend only on itself and its predecessor, never on which thread deflated it
or when: the stream is the same for any thread count, and depends only on the tar bytes and
the ISA-L version. (isal's own threaded writer, ``igzip_threaded``, uses the same scheme and
its output does not depend on its thread count either, but it cuts blocks where its buffered
writer hands data on, which depends on the sizes of the caller's writes, and it writes XFL and
OS in swapped order in its header; cutting the blocks here keeps the bytes under our control.)

Compression: ISA-L level 1. On float32 weights (which barely compress) level 0 is both slower
and bigger than level 1 (measured: level 0 373 MB/s at ratio 1.23, level 1 770 MB/s at 0.92,
level 2 737 MB/s at 0.92), and stock zlib at gzip's default level 6 runs at ~30 MB/s. ISA-L
releases the GIL while it deflates, so threads compress in parallel; meanwhile the reading
thread hashes the input and a writer thread the output, which hashlib also does without the
GIL.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import tarfile
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from isal import igzip, isal_zlib

from model_packaging.artifact.paths import relative_path_problem
from model_packaging.errors import PackagingError

BLOCK_SIZE = 4 * 1024 * 1024
# Deflate's window: how far back a block may refer, so what it needs of the block before it.
WINDOW_SIZE = 32 * 1024
GZIP_LEVEL = 1
# magic, deflate, no flags, mtime 0, no extra flags, OS "unknown": the same bytes everywhere.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

Progress = Callable[[int], object]
# What a damaged tar.gz raises while being read (isal's error type is untyped in its stubs).
_CORRUPT_STREAM_ERRORS = (
    OSError,
    EOFError,
    tarfile.TarError,
    cast(type[Exception], isal_zlib.error),
)


def _no_progress(_: int) -> None:
    return None


@dataclass(frozen=True)
class SourceFile:
    """A file to put into an artifact: its path inside it and where its bytes are read from."""

    path: str
    source: Path
    executable: bool
    size: int


@dataclass(frozen=True)
class FileRecord:
    """A file inside an artifact as the manifest lists it."""

    path: str
    size: int
    sha256: str


def listing_digest(records: Iterable[FileRecord]) -> str:
    """sha256 of the canonical listing: ``<sha256>  <path>`` lines sorted by path.

    It is what ``sha256sum`` prints, so anyone can recompute the digest of an uncompressed
    artifact with ``find . -type f | sort | xargs sha256sum``-style tooling.
    """
    lines = "".join(f"{r.sha256}  {r.path}\n" for r in sorted(records, key=lambda r: r.path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _open_source(file: SourceFile) -> tuple[io.FileIO, int]:
    """Open without following a late-swapped symlink or blocking on a FIFO; size from fstat."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(file.source, flags)
    except OSError as exc:
        raise PackagingError(f"{file.source}: cannot be read: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise PackagingError(f"{file.source}: is no longer a regular file")
    return io.FileIO(fd, "rb", closefd=True), info.st_size


def _tar_header(path: str, size: int, executable: bool) -> bytes:
    info = tarfile.TarInfo(path)
    info.size = size
    info.mode = 0o755 if executable else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


# mallopt(3) parameters (glibc's malloc.h): M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BUFFERS_BYTES = 1 << 28


def keep_freed_buffers() -> bool:
    """Let glibc keep the compression's freed buffers for the next block (a short-lived process
    only: memory goes back to the system at exit, not before).

    Each block's deflate output and each read are buffers of a few MB. glibc serves them with
    mmap and gives them back on free (its mmap threshold, mallopt(3), M_MMAP_THRESHOLD), so every
    block faults its pages in again: on a 300 MB model, about 60,000 minor faults and a third of
    a second of system time. With both thresholds raised, freed buffers stay in the heap and are
    reused. The bytes written do not change. Returns False where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _KEEP_BUFFERS_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, _KEEP_BUFFERS_BYTES)
    )


def default_threads() -> int:
    """The CPUs this process may run on: the compression threads a build uses by default."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _deflate(block: memoryview, window: bytes) -> tuple[tuple[bytes, bytes], int]:
    """One block as a self-contained piece of the deflate stream (in two parts, which are
    written one after the other: joining them would copy the block's output once more), and
    its CRC-32."""
    deflate = (
        isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS, zdict=window)
        if window
        else isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
    )
    parts = deflate.compress(block), deflate.flush(isal_zlib.Z_SYNC_FLUSH)
    return parts, isal_zlib.crc32(block)


class _GzipSink:
    """Collects tar bytes in fixed blocks, deflates them on ``threads`` threads, and hashes and
    writes the output in order.

    With more than one thread, the reading thread only reads and hashes the input: the blocks
    go to the deflate threads, and one more thread hashes and writes their output. It runs its
    tasks in the order they were submitted (a one-thread executor), so blocks reach the file in
    order. At most two blocks per thread are in flight, so memory stays at a few
    ``BLOCK_SIZE``s. With one thread, everything happens in the calling thread.
    """

    def __init__(self, out: BinaryIO, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._out = out
        self._pool = ThreadPoolExecutor(threads, "deflate") if threads > 1 else None
        self._writer = ThreadPoolExecutor(1, "deflate-write") if threads > 1 else None
        self._in_flight = 2 * threads
        self._pending: deque[tuple[Future[None], memoryview]] = deque()
        self._spare: list[memoryview] = []
        self._block = memoryview(bytearray(BLOCK_SIZE))
        self._fill = 0
        self._window = b""
        self._crc = 0
        self.tar_size = 0
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._emit(GZIP_HEADER)

    def space(self, limit: int) -> memoryview:
        """Free room in the current block (at most ``limit`` bytes) to read into directly."""
        return self._block[self._fill : self._fill + limit]

    def commit(self, count: int) -> None:
        self._fill += count
        self.tar_size += count
        if self._fill == BLOCK_SIZE:
            self._deflate_block()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = self.space(len(view))
            room[:] = view[: len(room)]
            view = view[len(room) :]
            self.commit(len(room))

    def finish(self) -> None:
        if self._fill:
            self._deflate_block()
        while self._pending:
            self._retire()
        # An empty final block ends the stream that the sync-flushed blocks leave open.
        self._emit(
            isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS).flush()
        )
        self._emit(struct.pack("<II", self._crc, self.tar_size & 0xFFFFFFFF))

    def close(self) -> None:
        """Stop the threads; blocks not yet deflated or written are dropped (after an error)."""
        for pool in (self._pool, self._writer):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _deflate_block(self) -> None:
        block, length = self._block[: self._fill], self._fill
        window, self._window = self._window, bytes(block[-WINDOW_SIZE:])
        self._fill = 0
        if self._pool is None or self._writer is None:
            self._write_block(_deflate(block, window), length)
            return  # the block's bytes are deflated already: its buffer is free again
        job = self._pool.submit(_deflate, block, window)
        self._pending.append((self._writer.submit(self._write_deflated, job, length), self._block))
        self._block = self._spare.pop() if self._spare else memoryview(bytearray(BLOCK_SIZE))
        while len(self._pending) >= self._in_flight:
            self._retire()

    def _retire(self) -> None:
        """Wait until the oldest block is written (raising its deflate or write error here, in
        the reading thread); its buffer can then be reused."""
        written, buffer = self._pending.popleft()
        written.result()
        self._spare.append(buffer)

    def _write_deflated(self, job: Future[tuple[tuple[bytes, bytes], int]], length: int) -> None:
        self._write_block(job.result(), length)

    def _write_block(self, deflated: tuple[tuple[bytes, bytes], int], length: int) -> None:
        parts, crc = deflated
        self._crc = isal_zlib.crc32_combine(self._crc, crc, length)
        for data in parts:
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        if data:
            self.sha256.update(data)
            self._out.write(data)
            self.size += len(data)


@dataclass(frozen=True)
class WrittenArtifact:
    files: list[FileRecord]
    sha256: str
    size: int


def write_tar_gz(
    files: Sequence[SourceFile],
    out: BinaryIO,
    progress: Progress = _no_progress,
    *,
    threads: int | None = None,
) -> WrittenArtifact:
    """Write ``files`` (sorted by path) as a deterministic model.tar.gz to ``out``.

    ``threads`` deflate in parallel (default: one per CPU); the bytes are the same for any
    number of them.
    """
    sink = _GzipSink(out, default_threads() if threads is None else threads)
    try:
        records = _write_entries(files, sink, progress)
        sink.finish()
    finally:
        sink.close()
    return WrittenArtifact(records, sink.sha256.hexdigest(), sink.size)


def _write_entries(
    files: Sequence[SourceFile], sink: _GzipSink, progress: Progress
) -> list[FileRecord]:
    records = []
    for file in files:
        reader, size = _open_source(file)
        with reader:
            sink.write(_tar_header(file.path, size, file.executable))
            digest = hashlib.sha256()
            remaining = size
            while remaining:
                room = sink.space(remaining)
                count = reader.readinto(room) or 0
                if not count:
                    raise PackagingError(f"{file.source}: shrank while being read; build again")
                digest.update(room[:count])
                sink.commit(count)
                remaining -= count
                progress(count)
        sink.write(b"\0" * (-size % tarfile.BLOCKSIZE))
        records.append(FileRecord(file.path, size, digest.hexdigest()))
    sink.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    sink.write(b"\0" * (-sink.tar_size % tarfile.RECORDSIZE))
    return records


def copy_tree(
    files: Sequence[SourceFile], dest: Path | None, progress: Progress = _no_progress
) -> list[FileRecord]:
    """Copy ``files`` under ``dest`` (or only hash them when ``dest`` is None), one read each."""
    block = memoryview(bytearray(BLOCK_SIZE))
    records = []
    for file in files:
        reader, size = _open_source(file)
        target = None if dest is None else dest / file.path
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with reader, open(target, "xb") if target is not None else nullcontext() as writer:
            remaining = size
            while remaining:
                count = reader.readinto(block[: min(remaining, BLOCK_SIZE)]) or 0
                if not count:
                    raise PackagingError(f"{file.source}: shrank while being read")
                digest.update(block[:count])
                if writer is not None:
                    writer.write(block[:count])
                remaining -= count
                progress(count)
        if target is not None:
            target.chmod(0o755 if file.executable else 0o644)
        records.append(FileRecord(file.path, size, digest.hexdigest()))
    return records


def list_tree(root: Path) -> list[SourceFile]:
    """The regular files under an uncompressed artifact, sorted by path.

    Built artifacts hold nothing else, so anything else (a symlink, a FIFO) means the folder
    was changed after the build and is refused.
    """
    found = []
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            full = Path(folder, name)
            info = full.lstat()
            if stat.S_ISDIR(info.st_mode):
                continue
            rel = full.relative_to(root).as_posix()
            if not stat.S_ISREG(info.st_mode):
                raise PackagingError(f"{full}: not a regular file; artifacts hold only files")
            found.append(SourceFile(rel, full, bool(info.st_mode & 0o111), info.st_size))
    return sorted(found, key=lambda f: f.path)


def hash_file(path: Path, progress: Progress = _no_progress) -> tuple[str, int]:
    """sha256 and size of one file, read in large blocks."""
    digest = hashlib.sha256()
    block = memoryview(bytearray(BLOCK_SIZE))
    size = 0
    with open(path, "rb", buffering=0) as reader:
        while count := reader.readinto(block):
            digest.update(block[:count])
            size += count
            progress(count)
    return digest.hexdigest(), size


class _HashingReader(io.RawIOBase):
    """Hashes the compressed bytes as the decompressor pulls them, so they are read once."""

    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        count = self._raw.readinto(view) or 0  # type: ignore[attr-defined]
        self.sha256.update(view[:count])
        self.size += count
        self._progress(count)
        return count

    def drain(self) -> None:
        block = bytearray(BLOCK_SIZE)
        while self.readinto(block):
            pass


@dataclass(frozen=True)
class ExtractedArtifact:
    """What was read back: per-file records and the digest of the compressed bytes.

    ``error`` is set when the stream could not be unpacked; the digest still covers every
    byte of the file, so the caller can tell a tampered artifact from a bug.
    """

    files: list[FileRecord]
    sha256: str
    size: int
    error: str | None


def extract_tar_gz(path: Path, dest: Path, progress: Progress = _no_progress) -> ExtractedArtifact:
    """Unpack a model.tar.gz into ``dest``, hashing the compressed bytes and every member.

    Only regular files with safe relative names are accepted: a built artifact holds nothing
    else, and this keeps a crafted tarball from writing outside ``dest``.
    """
    records: list[FileRecord] = []
    seen: set[str] = set()
    block = memoryview(bytearray(BLOCK_SIZE))
    with open(path, "rb", buffering=0) as raw:
        hashing = _HashingReader(raw, progress)
        error = None
        try:
            # isal's IGzipFile.__init__ carries no annotations.
            with (
                igzip.IGzipFile(fileobj=hashing, mode="rb") as unzipped,  # type: ignore[no-untyped-call]
                tarfile.open(fileobj=unzipped, mode="r|", bufsize=BLOCK_SIZE) as tar,
            ):
                for member in tar:
                    problem = relative_path_problem(member.name)
                    if problem or not member.isreg() or member.name in seen:
                        why = problem or ("a duplicate" if member.isreg() else "not a file")
                        raise PackagingError(f"{path}: entry {member.name!r} {why}")
                    seen.add(member.name)
                    records.append(_extract_member(tar, member, dest, block))
                while unzipped.readinto(block):
                    pass
        except PackagingError:
            raise
        except _CORRUPT_STREAM_ERRORS as exc:
            error = str(exc) or type(exc).__name__
        hashing.drain()
    return ExtractedArtifact(records, hashing.sha256.hexdigest(), hashing.size, error)


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, block: memoryview
) -> FileRecord:
    target = dest / member.name
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    assert source is not None  # regular members always have data
    with source, open(target, "xb") as writer:
        while count := source.readinto(block):  # type: ignore[attr-defined]
            digest.update(block[:count])
            writer.write(block[:count])
    target.chmod(0o755 if member.mode & 0o111 else 0o644)
    return FileRecord(member.name, member.size, digest.hexdigest())
