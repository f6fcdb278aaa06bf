"""Progress bars: on stderr, and only for work that outlasts a couple of seconds."""

from __future__ import annotations

import sys

from tqdm import tqdm

# A bar that flashes by on a small model is noise; tqdm shows it only after this delay.
SHOW_AFTER_SECONDS = 2.0


def progress_bar(total: int, description: str, enabled: bool = True) -> tqdm:
    """A byte-counting bar; call ``.update(n)`` per chunk and use it as a context manager."""
    return tqdm(
        total=total,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        delay=SHOW_AFTER_SECONDS,
        disable=not enabled,
        file=sys.stderr,
    )
