"""``python -m fuzz --seconds N [--target NAME] [--engine atheris|hypothesis]``."""

import sys

from fuzz.runner import main

sys.exit(main())
