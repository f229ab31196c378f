"""nats-py's ``nats.aio`` module path: ``from natswire.aio.client import Client as NATS``
works as ``from nats.aio.client import Client as NATS`` did."""

from . import client

__all__ = ["client"]
