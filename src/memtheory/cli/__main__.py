"""``python -m memtheory.cli ...``: the same as the ``memtheory`` command."""

import sys

from .main import main

sys.exit(main())
