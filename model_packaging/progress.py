"""Progress bars: on stderr, and only for work that outlasts a couple of seconds."""

from __future__ import annotations

import sys
from typing import Any, Protocol

# A bar that flashes by on a small model is noise; tqdm shows it only after this delay.
SHOW_AFTER_SECONDS = 2.0


class Bar(Protocol):
    """What the commands use of a bar: a context manager that counts bytes."""

    def update(self, n: int = 1) -> Any: ...

    def __enter__(self) -> Bar: ...

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> Any: ...


class _Silent:
    """The bar of ``--quiet``: even a disabled tqdm bar starts a monitor thread and makes a
    multiprocessing lock, and importing tqdm costs more than a small build's compression."""

    def update(self, n: int = 1) -> None:
        return None

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        return None


def progress_bar(total: int, description: str, enabled: bool = True) -> Bar:
    """A byte-counting bar; call ``.update(n)`` per chunk and use it as a context manager."""
    if not enabled:
        return _Silent()
    from tqdm import tqdm

    bar: Bar = tqdm(
        total=total,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        delay=SHOW_AFTER_SECONDS,
        file=sys.stderr,
    )
    return bar
