"""``python -m infra.touched --base REV``: the command's entry point (CI runs it by this name).

The logic lives with the other review tools, in :mod:`infra.review.touched`.
"""

import sys

try:
    from infra.review.touched import main
except KeyboardInterrupt:
    # Ctrl-C before the command could start: the end infra.command_line gives every command.
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
