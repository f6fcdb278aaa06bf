"""The window of an analysis: the requests whose ``inferenceTime`` falls between two moments.

Standard library only: the command line parses ``--since`` and ``--until`` with it before any
heavy module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from model_packaging.errors import PackagingError

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """Requests with ``since <= inferenceTime < until``; an open side takes everything."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("a window's bounds carry a time zone")
        if self.since and self.until and self.since >= self.until:
            raise PackagingError(
                f"the window is empty: --since {iso(self.since)} is not before"
                f" --until {iso(self.until)}"
            )

    def holds_hour(self, start: datetime) -> bool:
        """Whether the hour from ``start`` overlaps the window."""
        return (self.until is None or start < self.until) and (
            self.since is None or start + HOUR > self.since
        )

    def hours(self) -> list[datetime]:
        """The hours the window overlaps, oldest first (a window bounded on both sides)."""
        if self.since is None or self.until is None:
            raise ValueError("an open window has no list of hours")
        hour = self.since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        found = []
        while hour < self.until:
            found.append(hour)
            hour += HOUR
        return found

    def describe(self) -> str:
        if self.since and self.until:
            return f"from {iso(self.since)} to {iso(self.until)}"
        if self.since:
            return f"from {iso(self.since)} on"
        if self.until:
            return f"before {iso(self.until)}"
        return "at any time"


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is UTC. ValueError if it is neither."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``2024-05-01T10:00:00Z``: ISO 8601 in UTC, as capture records spell it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
