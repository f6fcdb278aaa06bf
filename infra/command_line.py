"""What the command lines share beyond their argument types (:mod:`infra.arguments`): how a
subcommand reports a usage error, and how a Ctrl-C ends a command.

Both ``python -m infra`` (with ``python -m infra.touched``) and ``python -m model_packaging``
use them:

- :class:`CommandParser` is the class of each subcommand's parser, so that an argument the
  subcommand does not take is reported with that subcommand's usage, not the top level's;
- :func:`run` runs a command's work: a Ctrl-C (SIGINT) ends it with the one line
  ``error: interrupted`` on stderr and exit status 130, never a traceback, and the clean-ups
  the work runs on its way out (``finally``, ``with``) run to their end;
- :func:`uninterrupted` keeps a clean-up from being cut short by a Ctrl-C, and
  :func:`stop_if_interrupted` keeps an error that followed a Ctrl-C from being reported as
  anything but the interruption.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

# The status a shell gives a command that SIGINT ended: 128 + the signal's number (2), as in
# bash's manual, "Exit Status". Documented per command in docs/promotion.md and docs/ci.md.
INTERRUPTED = 130
INTERRUPTED_MESSAGE = "error: interrupted"


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: it refuses the arguments it does not recognise itself.

    argparse hands a subcommand's leftover arguments back to the top-level parser, which then
    reports them with the top level's usage (``usage: prog [-h] COMMAND ...``): nothing says
    which command's arguments were wrong. Every argument after a subcommand's name is the
    subcommand's, so its own parser reports them, with its usage.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


class _Interrupts:
    """SIGINT while a command works: the first raises KeyboardInterrupt where the work is;
    later ones, and any that come during an :func:`uninterrupted` clean-up, are held."""

    def __init__(self) -> None:
        self.seen = False
        self.held = False
        self.deferring = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.seen:
            return  # the command is already on its way out: let its clean-ups finish
        if self.deferring:
            self.held = True
            return
        self.seen = True
        raise KeyboardInterrupt


_current: _Interrupts | None = None


def run(work: Callable[[], int], *, as_program: bool) -> int:
    """``work()``'s exit status, or 130 with one line on stderr when Ctrl-C stopped it.

    ``as_program``: the command runs as the process's program (``main()`` with no arguments, as
    ``python -m`` and the console scripts call it). After the work, Ctrl-C is then ignored
    while the interpreter exits: the result is printed, and Python's own teardown would
    otherwise die of the signal. The objects left are also frozen (:func:`gc.freeze`): the
    interpreter's exit otherwise ends with a full collection over every object the imports
    made (pydantic's schemas, numpy, pyarrow), about 0.1 s after a build, only to free memory
    the process is about to give back whole. Called with arguments (a test, a script), the
    previous handler is restored instead, and nothing is frozen.
    """
    global _current
    if threading.current_thread() is not threading.main_thread():
        return work()  # only the main thread receives signals in Python
    interrupts = _Interrupts()
    previous: Any = signal.signal(signal.SIGINT, interrupts.handle)
    outer, _current = _current, interrupts
    try:
        try:
            return work()
        except KeyboardInterrupt:
            pass
        except Exception:
            # Some libraries catch everything while they import (a bare except), so the
            # KeyboardInterrupt may come back as another error: after a Ctrl-C, it is still one.
            if not interrupts.seen:
                raise
        # CPython marks a KeyboardInterrupt that leaves code run from a string (exec of a str,
        # as dataclasses and namedtuple build their methods) as unhandled, caught or not, and a
        # `python -m` process so marked kills itself with SIGINT once it has finished
        # (Python/pythonrun.c run_eval_code_obj, Modules/main.c Py_RunMain and exit_sigint;
        # bpo-1054041). The next run from a string clears the mark.
        exec("", {})  # noqa: S102
        print(INTERRUPTED_MESSAGE, file=sys.stderr)
        return INTERRUPTED
    finally:
        _current = outer
        signal.signal(signal.SIGINT, signal.SIG_IGN if as_program else previous)
        if as_program:
            # "ignore them in all the future collections" (the gc module's documentation,
            # gc.freeze), the one the interpreter runs as it finalizes included.
            gc.freeze()


def interrupted() -> bool:
    """Whether a Ctrl-C came while the current command worked."""
    return _current is not None and _current.seen


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C came: a command that turns an error into a message
    calls it first, since after a Ctrl-C the error is the Ctrl-C's doing (a child process
    stopped by it, a library that swallowed it)."""
    if interrupted():
        raise KeyboardInterrupt


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Run the block to its end: a Ctrl-C that comes meanwhile is raised once it is done.

    For clean-ups that must not stop half way (removing a git worktree). Outside :func:`run`
    (a test, a script) the process's own handler is held the same way for the block.
    """
    interrupts = _current
    if interrupts is not None:
        interrupts.deferring += 1
        try:
            yield
        finally:
            interrupts.deferring -= 1
        if interrupts.held and not interrupts.deferring:
            interrupts.held = False
            interrupts.seen = True
            raise KeyboardInterrupt
        return
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous: Any = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and callable(previous):
        previous(signal.SIGINT, None)
