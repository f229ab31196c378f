"""nats-py's ``nats.js.errors``: this name is :mod:`natswire.jetstream.errors` itself (the star
import only shows its names to type checkers)."""

import sys

from ..jetstream import errors as _module
from ..jetstream.errors import *  # noqa: F403

sys.modules[__name__] = _module
