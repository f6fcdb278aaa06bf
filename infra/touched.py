"""``python -m infra.touched --base REV``: the command's entry point (CI runs it by this name).

The logic lives with the other review tools, in :mod:`infra.review.touched`.
"""

import sys

from infra.review.touched import main

if __name__ == "__main__":
    sys.exit(main())
