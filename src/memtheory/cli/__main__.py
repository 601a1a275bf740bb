"""``python -m memtheory.cli ...``: the same as the ``memtheory`` command."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
