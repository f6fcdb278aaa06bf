"""The mlserve drift engine's code package and dependency layer, built reproducibly.

The function's code is the project's own modules that the handler needs, found by reading their
imports (``code_modules``); its third-party dependencies go in a layer, built from PyPI's wheels
for Lambda's platform at the versions and sha256 digests of the release tool's lock
(``layer_requirements``). Both are zips written the same way (``write_zip``): entries sorted, each
with a fixed timestamp and mode, so identical inputs give identical bytes, the same
``source_code_hash``, and ``pulumi up`` redeploys only what changed.

The code zip is cheap and is written whenever the program runs outside the offline plan's mocks.
The layer downloads wheels, which takes a minute: it is built on first use, by ``make
lambda-package`` or by ``pulumi preview``/``up`` when its file is missing, and kept under
``build/lambda/`` by a name that is its inputs' digest, so it is built again only when they
change. The offline plan references both files by their digest names without writing either.

Pure Python (no pulumi import): the tests and the build step use it directly.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import importlib.metadata
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where the packages are kept, relative to the project (Pulumi runs the program there): the
# offline plan's recorded paths are the same on every machine.
BUILD_DIR = Path("build") / "lambda"

# The function: the analysis's entry point (model_packaging/drift/handler.py) and the runtime it
# runs on. python3.12 is a Lambda runtime botocore lambda's Runtime enum lists; the layer's
# wheels are built for it.
HANDLER_MODULE = "model_packaging.drift.handler"
HANDLER = f"{HANDLER_MODULE}.handler"
RUNTIME = "python3.12"
PYTHON_VERSION = "3.12"
# Lambda's python3.12 runtime is Amazon Linux 2023, glibc 2.34, on x86_64 (Lambda developer
# guide, "Lambda runtimes"): manylinux wheels up to glibc 2.34 run on it (PEP 600). pip matches
# only the platform tags it is given, so each is listed, newest first.
ARCHITECTURE = "x86_64"
PLATFORMS = tuple(f"manylinux_2_{minor}_{ARCHITECTURE}" for minor in range(34, 16, -1)) + (
    f"manylinux2014_{ARCHITECTURE}",
)

# The project's own top-level packages: their modules go into the code zip.
PROJECT_PACKAGES = ("infra", "model_packaging")

# The lock that pins the layer's versions and digests: the release tool's, which the analysis's
# dependencies come from.
LOCK = ROOT / "requirements-release.txt"

# Distributions the Python runtimes already hold: "The Python runtimes include the AWS SDK for
# Python (Boto3)" (Lambda developer guide, "Building Lambda functions with Python"), with
# botocore and their dependencies.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)

# Lambda's limit on a function's unzipped deployment package, its layers included (Lambda
# developer guide, "Lambda quotas": 250 MB).
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

# Every entry's timestamp: the earliest a zip can hold (the DOS epoch), as reproducible builds
# usually fix it.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# rw-r--r-- regular files: Lambda runs the code as another user, who must be able to read it
# (Lambda developer guide, "Deploying Python Lambda functions with .zip file archives").
FILE_MODE = 0o100644


class PackagingError(Exception):
    """The code or the layer cannot be built: one line naming what to do."""


# --- reproducible zips ------------------------------------------------------------------------


def write_zip(entries: Mapping[str, bytes]) -> bytes:
    """A zip of ``entries`` (archive name -> content) whose bytes depend on them alone."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = FILE_MODE << 16
            # The system that "made" the entry: Unix, so that the mode above is read as one.
            info.create_system = 3
            archive.writestr(info, entries[name], compresslevel=9)
    return out.getvalue()


def unzipped_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


# --- the code -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closure:
    """What the handler imports: the project's module files and third-party top-level names."""

    files: tuple[Path, ...]
    third_party: frozenset[str]


def _module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module name an import statement of ``tree`` may load, at any depth (functions'
    imports included: they run when the handler calls them); ``if TYPE_CHECKING`` blocks
    never run and are skipped."""
    package = module if is_package else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            yield base
            # `from package import name` may import the submodule package.name.
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        stack.extend(ast.iter_child_nodes(node))


# code_modules' answers in this process, each with the files' modification stamps it read: a
# plan evaluates every environment's drift function, and the walk over the imports costs more
# than the rest of a plan. A file changed since is walked again.
_CLOSURES: dict[tuple[str, Path], tuple[Closure, tuple[int, ...]]] = {}


def _stamps(files: Iterable[Path]) -> tuple[int, ...]:
    return tuple(path.stat().st_mtime_ns for path in files)


def code_modules(entry: str = HANDLER_MODULE, root: Path = ROOT) -> Closure:
    """The project module files ``entry`` needs, with every package ``__init__`` on the way,
    and the third-party top-level names they import."""
    known = _CLOSURES.get((entry, root))
    if known is not None:
        try:
            if _stamps(known[0].files) == known[1]:
                return known[0]
        except OSError:
            pass
    closure = _code_modules(entry, root)
    _CLOSURES[(entry, root)] = closure, _stamps(closure.files)
    return closure


def _code_modules(entry: str, root: Path) -> Closure:
    if _module_file(entry, root) is None:
        raise PackagingError(
            f"{entry} is not a module of the project under {root}: the drift engine's handler "
            "must exist before its code can be packaged"
        )
    seen: set[str] = set()
    files: set[Path] = set()
    third_party: set[str] = set()
    pending = [entry]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        top = module.split(".")[0]
        if top not in PROJECT_PACKAGES:
            if top and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
            continue
        path = _module_file(module, root)
        if path is None:
            continue  # a name imported from a module, not a module itself
        files.add(path)
        parts = module.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]
        tree = ast.parse(path.read_bytes(), filename=str(path))
        pending += _imports(tree, module, path.name == "__init__.py")
    return Closure(tuple(sorted(files)), frozenset(third_party))


def code_zip(entry: str = HANDLER_MODULE, root: Path = ROOT) -> bytes:
    """The function's code: the project modules the handler needs, at their project paths."""
    closure = code_modules(entry, root)
    return write_zip({p.relative_to(root).as_posix(): p.read_bytes() for p in closure.files})


# --- the layer ----------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _distributions(third_party: Iterable[str]) -> set[str]:
    """The distributions that provide ``third_party`` top-level names, with what they require,
    as this environment has them installed (the lock pins the same versions)."""
    return set(_installed_distributions(frozenset(third_party)))


@functools.cache
def _installed_distributions(third_party: frozenset[str]) -> frozenset[str]:
    """``_distributions``, once per process: what is installed does not change while it runs."""
    providers = importlib.metadata.packages_distributions()
    missing = sorted(name for name in third_party if name not in providers)
    if missing:
        raise PackagingError(
            f"no installed distribution provides {', '.join(missing)}, which the drift handler "
            "imports: add it to requirements-release.in and run make lock"
        )
    found: set[str] = set()
    pending = [dist for name in third_party for dist in providers[name]]
    while pending:
        name = _canonical(pending.pop())
        if name in found:
            continue
        found.add(name)
        for requirement in importlib.metadata.requires(name) or ():
            spec, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue
            if marker.strip() and not _marker_holds(marker):
                continue
            pending.append(re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0])
    return frozenset(found - RUNTIME_PROVIDED)


def _marker_holds(marker: str) -> bool:
    """An environment marker evaluated for Lambda's Python on Linux."""
    from packaging.markers import Marker

    environment = {
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": ARCHITECTURE,
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    return bool(Marker(marker).evaluate(environment))


def _lock_entries(lock: Path) -> dict[str, str]:
    """Distribution -> its pinned requirement with every hash, from a pip-compile lock: a
    requirement starts a line, its ``--hash`` options follow on indented lines."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        stripped = line.strip().removesuffix("\\").strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line[0].isspace():
            name = re.split(r"[=\[;\s]", stripped, maxsplit=1)[0]
            current = entries.setdefault(_canonical(name), [])
        if current is not None:
            current.append(stripped)
    return {name: " ".join(parts) for name, parts in entries.items()}


def layer_requirements(entry: str = HANDLER_MODULE, lock: Path = LOCK) -> list[str]:
    """The layer's requirement lines: each distribution the handler needs, pinned with its
    hashes as the lock has it, sorted."""
    closure = code_modules(entry)
    names = _distributions(closure.third_party)
    pinned = _lock_entries(lock)
    unpinned = sorted(n for n in names if n not in pinned)
    if unpinned:
        raise PackagingError(
            f"{lock.name} pins no version of {', '.join(unpinned)}, which the drift handler "
            "needs: add it to requirements-release.in and run make lock"
        )
    return [pinned[name] for name in sorted(names)]


def _digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else part.encode())
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def layer_key(requirements: list[str]) -> str:
    """What names a layer: its requirements and the platform its wheels are for."""
    return _digest(RUNTIME, *PLATFORMS, *requirements)


# What a wheel ships that nothing imports at run time: test suites, C headers and sources, and
# Cython declarations (pyarrow's include/, src/ and includes/, numpy's headers and tests).
_UNUSED = re.compile(r"(^|/)(tests|include|includes|src)/|\.(pxd|pyx|h|hpp)$")


def build_layer(requirements: list[str]) -> bytes:
    """The layer's zip: every wheel of ``requirements`` for Lambda's platform and Python, from
    PyPI, checked against the lock's hashes, unpacked under ``python/`` (Lambda developer guide,
    "Packaging your layer content": a Python layer's modules are found under python/)."""
    if not requirements:
        return write_zip({})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--require-hashes", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", PYTHON_VERSION,
            *(option for tag in PLATFORMS for option in ("--platform", tag)),
            "--dest", str(folder / "wheels"), "--requirement", str(folder / "requirements.txt"),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise PackagingError(f"the drift engine's layer could not be downloaded: {last}")
        entries: dict[str, bytes] = {}
        for wheel in sorted((folder / "wheels").glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for info in archive.infolist():
                    if not info.is_dir() and not _UNUSED.search(info.filename):
                        entries[f"python/{info.filename}"] = archive.read(info)
    return write_zip(entries)


# --- the files the program deploys ------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """The two files a function is created from, relative to the project."""

    code: Path
    layer: Path
    code_sha256: str


def package(root: Path = ROOT, *, write: bool, build_layer_now: bool = False) -> Package:
    """The code and layer files, named by their content's digest. With ``write`` the code zip is
    written (and, with ``build_layer_now`` or when missing, the layer is built); without it,
    nothing is written, as under the offline plan."""
    code = code_zip(root=root)
    code_sha = hashlib.sha256(code).hexdigest()
    requirements = layer_requirements()
    paths = Package(
        code=BUILD_DIR / f"code-{code_sha[:16]}.zip",
        layer=BUILD_DIR / f"layer-{layer_key(requirements)}.zip",
        code_sha256=code_sha,
    )
    if write:
        target = root / paths.code
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(code)
        layer = root / paths.layer
        if build_layer_now or not layer.exists():
            layer.parent.mkdir(parents=True, exist_ok=True)
            layer.write_bytes(build_layer(requirements))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.lambda_package",
        description="Build the mlserve drift engine's code zip and dependency layer under "
        "build/lambda/ and print their sizes against Lambda's 250 MB limit.",
    )
    parser.parse_args(argv)
    try:
        paths = package(write=True)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = 0
    mib = 1024 * 1024
    for path in (paths.code, paths.layer):
        data = (ROOT / path).read_bytes()
        size = unzipped_size(data)
        total += size
        print(f"{path}: {len(data) / mib:.1f} MB zipped, {size / mib:.1f} MB unzipped")
    print(f"unzipped together: {total / mib:.1f} MB of Lambda's {UNZIPPED_LIMIT_BYTES // mib} MB")
    return 0 if total <= UNZIPPED_LIMIT_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
