"""``python -m benchmarks``: run the side-by-side benchmark (see runner.py)."""

import sys

from .runner import main

sys.exit(main())
