"""nats-py's ``nats.js`` module paths, so that ``from nats.js.api import ...`` and
``from nats.js.errors import ...`` change only in their first word:
``natswire.js.api`` is :mod:`natswire.jetstream.api` and ``natswire.js.errors`` is
:mod:`natswire.jetstream.errors`, the very same module objects."""

from . import api, errors

__all__ = ["api", "errors"]
