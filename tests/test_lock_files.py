"""The hash-pinned locks, each against the ranges it is compiled from and the lock below it.

Three layers, each a range file compiled by ``make lock`` (pip-compile --generate-hashes) into
the lock of the same name:

- ``requirements.in`` -> ``requirements.txt``: the Pulumi program's packages, the file that
  ``pulumi install`` installs into ./venv (Pulumi.yaml);
- ``requirements-release.in`` -> ``requirements-release.txt``: adds the release tool's;
- ``requirements-dev.in`` -> ``requirements-dev.txt``: adds tests and tooling; ``make install``
  installs it with ``pip install --require-hashes``.

A lock pins every package with ``==`` and lists at least one sha256 for it: pip's hash-checking
mode, which ``--require-hashes`` forces and any ``--hash`` in the file turns on, refuses a
requirement without both ("Secure installs" in pip's user guide). Each lock's pins satisfy the
ranges of its layer, and a layer's lock holds the pins of the layer below at the same versions,
so that the release tool, the tests and ``pulumi up`` run the same packages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Lowest layer first: each range file includes the one before it (-r) and is constrained by its
# lock (-c).
LAYERS = ("requirements", "requirements-release", "requirements-dev")
DEPENDABOT_MAX_FILE_SIZE = 500_000
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# pip strips a comment that starts a line or follows whitespace (pip's req_file.COMMENT_RE).
COMMENT = re.compile(r"(^|\s+)#.*$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    where: str


def logical_lines(text: str) -> list[tuple[int, str]]:
    """The requirement lines of a requirements file, comments dropped and continuations joined,
    each with the number of the line it starts on."""
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = COMMENT.sub("", raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            lines.append((start, " ".join(pending.split())))
        pending = ""
    if pending.strip():
        lines.append((start, " ".join(pending.split())))
    return lines


def parse_lock(name: str, text: str) -> tuple[dict[str, Pin], list[str]]:
    """A lock's pins by canonical name, and one line per problem: a requirement that is not
    pinned with ``==``, has no sha256, or is not a plain requirement at all."""
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    for number, line in logical_lines(text):
        where = f"{name}:{number}"
        if line.startswith("-"):
            problems.append(f"{where}: option line {line.split()[0]!r}: a lock holds pins only")
            continue
        requirement_text, _, options = line.partition(" --")
        options = f"--{options}" if options else ""
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as error:
            problems.append(f"{where}: not a requirement ({error})")
            continue
        package = canonicalize_name(requirement.name)
        specifiers = list(requirement.specifier)
        if requirement.url or len(specifiers) != 1 or specifiers[0].operator != "==":
            problems.append(f"{where}: {package}: pinned with {requirement_text!r}, not '=='")
            continue
        version = specifiers[0].version
        if "*" in version:
            problems.append(f"{where}: {package}: pinned to a wildcard {version!r}")
            continue
        hashes = HASH.findall(options)
        if not hashes:
            problems.append(f"{where}: {package}: no --hash=sha256")
        other = [o for o in options.split() if not HASH.fullmatch(o)]
        if other:
            problems.append(f"{where}: {package}: options other than sha256 hashes: {other}")
        if package in pins:
            problems.append(f"{where}: {package}: pinned twice (first at {pins[package].where})")
        pins[package] = Pin(package, version, where)
    if not pins:
        problems.append(f"{name}: pins nothing")
    return pins, problems


def parse_ranges(path: Path) -> list[tuple[str, Requirement]]:
    """The requirements of a range file and of the range files it includes (``-r``), each with
    where it is written. Constraint lines (``-c``) name the lock below and add no requirement."""
    found: list[tuple[str, Requirement]] = []
    for number, line in logical_lines(path.read_text()):
        where = f"{path.name}:{number}"
        option, _, argument = line.partition(" ")
        if option in ("-r", "--requirement"):
            found.extend(parse_ranges(path.parent / argument))
        elif option in ("-c", "--constraint"):
            continue
        elif line.startswith("-"):
            raise ValueError(f"{where}: option {option!r} is not used in a range file")
        else:
            try:
                found.append((where, Requirement(line)))
            except InvalidRequirement as error:
                raise ValueError(f"{where}: not a requirement ({error})") from error
    return found


def range_problems(
    lock: str, pins: dict[str, Pin], ranges: list[tuple[str, Requirement]]
) -> list[str]:
    """One line per range the lock does not satisfy: a package it does not pin, or pins at a
    version outside the range (prereleases count as versions: the lock's pin is what installs)."""
    problems = []
    for where, requirement in ranges:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        package = canonicalize_name(requirement.name)
        pin = pins.get(package)
        if pin is None:
            problems.append(f"{lock}: {package} ({where}) is not pinned: run make lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{lock}: {package}=={pin.version} ({pin.where}) is outside"
                f" {str(requirement.specifier)!r} ({where}): run make lock"
            )
    return problems


def layer_problems(
    lower: str, lower_pins: dict[str, Pin], upper: str, upper_pins: dict[str, Pin]
) -> list[str]:
    """One line per pin of the lower lock that the upper lock lacks or pins at another version."""
    problems = []
    for package, pin in lower_pins.items():
        other = upper_pins.get(package)
        if other is None:
            problems.append(f"{upper}: lacks {package}=={pin.version} of {lower} ({pin.where})")
        elif other.version != pin.version:
            problems.append(
                f"{upper}: {package}=={other.version} ({other.where}), but {lower} pins"
                f" {pin.version} ({pin.where})"
            )
    return problems


def lock_pins(layer: str) -> dict[str, Pin]:
    pins, problems = parse_lock(f"{layer}.txt", (ROOT / f"{layer}.txt").read_text())
    assert problems == []
    return pins


@pytest.mark.parametrize("layer", LAYERS)
def test_each_lock_pins_every_package_with_a_hash(layer: str) -> None:
    pins, problems = parse_lock(f"{layer}.txt", (ROOT / f"{layer}.txt").read_text())
    assert problems == []
    assert pins


@pytest.mark.parametrize("layer", LAYERS)
def test_each_lock_says_it_is_generated_and_by_what(layer: str) -> None:
    # pip-compile's own header, which Dependabot reads to compile the lock again the same way
    # (dependabot-core, python/lib/dependabot/python/pip_compile_options_parser.rb): the
    # Python it was compiled with, and the command with the options that shape the lock.
    header = "".join(
        line
        for line in (ROOT / f"{layer}.txt").read_text().splitlines(keepends=True)[:8]
        if line.startswith("#")
    )
    assert "autogenerated by pip-compile with Python 3.11" in header
    command = re.search(r"^#\s+(pip-compile .*)$", header, re.M)
    assert command is not None
    assert command.group(1).split()[1:] == [
        "--allow-unsafe",
        "--generate-hashes",
        f"--output-file={layer}.txt",
        "--strip-extras",
        f"{layer}.in",
    ]


@pytest.mark.parametrize("layer", LAYERS)
def test_each_lock_is_small_enough_for_dependabot_to_read(layer: str) -> None:
    # Dependabot skips a requirements file larger than this when it lists the folder
    # (dependabot-core, python/lib/dependabot/python/shared_file_fetcher.rb, MAX_FILE_SIZE):
    # a lock past it would no longer be updated with its range file. Every hash of a package
    # with many wheels counts (numpy, pyarrow, ...).
    assert (ROOT / f"{layer}.txt").stat().st_size < DEPENDABOT_MAX_FILE_SIZE


@pytest.mark.parametrize("layer", LAYERS)
def test_each_lock_satisfies_its_ranges(layer: str) -> None:
    ranges = parse_ranges(ROOT / f"{layer}.in")
    assert ranges
    assert range_problems(f"{layer}.txt", lock_pins(layer), ranges) == []


@pytest.mark.parametrize(("lower", "upper"), list(zip(LAYERS, LAYERS[1:], strict=False)))
def test_each_lock_holds_the_pins_of_the_layer_below(lower: str, upper: str) -> None:
    assert layer_problems(f"{lower}.txt", lock_pins(lower), f"{upper}.txt", lock_pins(upper)) == []


def test_each_range_file_includes_the_layer_below_and_is_held_to_its_lock() -> None:
    for lower, upper in zip(LAYERS, LAYERS[1:], strict=False):
        lines = [line for _, line in logical_lines((ROOT / f"{upper}.in").read_text())]
        assert f"-r {lower}.in" in lines, upper
        assert f"-c {lower}.txt" in lines, upper


# Controls: the checks fail on a lock that is unpinned, unhashed, off its range or off the layer
# below.

LOCK = """\
#
# This file is autogenerated by pip-compile with Python 3.11
#
pyyaml==6.0.2 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
    # via -r requirements.in
tzdata==2025.2 \\
    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
"""


def test_control_a_well_formed_lock_has_no_problem() -> None:
    pins, problems = parse_lock("x.txt", LOCK)
    assert problems == []
    assert {p.name: p.version for p in pins.values()} == {"pyyaml": "6.0.2", "tzdata": "2025.2"}
    assert pins["pyyaml"].where == "x.txt:4"


def test_control_a_pin_without_a_hash_fails() -> None:
    text = LOCK.replace(
        "tzdata==2025.2 \\\n    --hash=sha256:" + "3" * 64 + "\n", "tzdata==2025.2\n"
    )
    assert parse_lock("x.txt", text)[1] == ["x.txt:8: tzdata: no --hash=sha256"]


def test_control_a_range_instead_of_a_pin_fails() -> None:
    text = LOCK.replace("pyyaml==6.0.2", "PyYAML>=6.0,<7")
    assert parse_lock("x.txt", text)[1] == [
        "x.txt:4: pyyaml: pinned with 'PyYAML>=6.0,<7', not '=='"
    ]


def test_control_an_index_or_editable_line_fails() -> None:
    problems = parse_lock("x.txt", "--extra-index-url file:///opt/pypi/simple\n" + LOCK)[1]
    assert problems == ["x.txt:1: option line '--extra-index-url': a lock holds pins only"]
    assert parse_lock("x.txt", "-e .\n")[1] == [
        "x.txt:1: option line '-e': a lock holds pins only",
        "x.txt: pins nothing",
    ]


def test_control_a_pin_outside_its_range_or_missing_fails(tmp_path: Path) -> None:
    (tmp_path / "base.in").write_text("PyYAML>=6.0.3,<7  # comment\n")
    (tmp_path / "top.in").write_text(
        "-r base.in\n-c base.txt\ntzdata>=2024.1\nboto3>=1.35,<2\n"
        "pywin32>=306; sys_platform == 'win32'\n"
    )
    pins, _ = parse_lock("top.txt", LOCK)
    assert range_problems("top.txt", pins, parse_ranges(tmp_path / "top.in")) == [
        "top.txt: pyyaml==6.0.2 (top.txt:4) is outside '<7,>=6.0.3' (base.in:1): run make lock",
        "top.txt: boto3 (top.in:4) is not pinned: run make lock",
    ]


def test_control_a_range_file_with_an_unknown_option_fails(tmp_path: Path) -> None:
    (tmp_path / "x.in").write_text("--index-url https://example.invalid/simple\n")
    with pytest.raises(ValueError, match=r"^x.in:1: option '--index-url' is not used"):
        parse_ranges(tmp_path / "x.in")


def test_control_a_layer_that_moves_or_drops_a_pin_below_it_fails() -> None:
    lower, _ = parse_lock("lower.txt", LOCK)
    upper, _ = parse_lock("upper.txt", LOCK.replace("pyyaml==6.0.2", "pyyaml==6.0.3"))
    del upper["tzdata"]
    assert layer_problems("lower.txt", lower, "upper.txt", upper) == [
        "upper.txt: pyyaml==6.0.3 (upper.txt:4), but lower.txt pins 6.0.2 (lower.txt:4)",
        "upper.txt: lacks tzdata==2025.2 of lower.txt (lower.txt:8)",
    ]


# `make install` installs the development lock hash-checked, and again whenever a lock changes.


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_install_reinstalls_from_the_dev_lock_when_a_lock_changes(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    stamp = tmp_path / "venv" / ".installed-requirements"
    stamp.parent.mkdir()
    inputs = [tmp_path / f"{layer}.txt" for layer in LAYERS] + [tmp_path / "pyproject.toml"]
    for path in [*inputs, stamp]:
        path.write_text("")
    for path in inputs:
        os.utime(path, (1_000_000, 1_000_000))

    def dry_run() -> str:
        return subprocess.run(
            ["make", "--dry-run", "--no-print-directory", "venv/.installed-requirements"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "pip install" not in dry_run()
    for step, path in enumerate(inputs[:3], start=1):
        changed = 2_000_000_000 + 10 * step
        os.utime(path, (changed, changed))
        assert "pip install --quiet --require-hashes -r requirements-dev.txt" in dry_run(), path
        os.utime(stamp, (changed + 1, changed + 1))
        assert "pip install" not in dry_run(), path
