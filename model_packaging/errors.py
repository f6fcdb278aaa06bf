"""The one exception type the CLI turns into a one-line message and exit status 1."""


class PackagingError(Exception):
    """A problem the user can fix: bad input, a failed check, an unreachable bucket.

    The message is shown as it is, on one line, so it must name the problem and the thing
    it is about (a path, a sample, a key).
    """
