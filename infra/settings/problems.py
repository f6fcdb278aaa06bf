"""How problems in a stack config are collected and reported: all at once, by key path."""

from __future__ import annotations


class SettingsError(Exception):
    """A stack config has problems; ``problems`` holds one ``"path: message"`` per problem."""

    def __init__(self, problems: list[str], source: str = "stack config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(
            f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems)
        )


class Problems:
    """Problems found so far, each as ``key.path: message``, in the order they were found."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{path}: {message}")
