"""Errors of the migration tools (``natswire migrate``)."""

from __future__ import annotations

from ..protocol.errors import NatsWireError


class MigrationError(NatsWireError):
    """Root of the migration tools' errors: a message meant for the operator."""


class RabbitSideError(MigrationError):
    """The RabbitMQ side (broker, management API, definitions) cannot be used."""


class NatsSideError(MigrationError):
    """The NATS side cannot be used (unreachable, no such queue, ...)."""


class MissingDependencyError(MigrationError):
    """aio-pika is not installed (``pip install 'natswire[migrate]'``)."""


__all__ = ["MigrationError", "MissingDependencyError", "NatsSideError", "RabbitSideError"]
