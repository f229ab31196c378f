"""nats-py's ``nats.js.api``: this name is :mod:`natswire.jetstream.api` itself (the star
import only shows its names to type checkers)."""

import sys

from ..jetstream import api as _module
from ..jetstream.api import *  # noqa: F403

sys.modules[__name__] = _module
