"""Errors of the admin layer (all under :class:`natswire.errors.NatsWireError`)."""

from __future__ import annotations

from ..protocol.errors import NatsWireError


class AdminError(NatsWireError):
    """An admin operation failed."""


class MonitoringError(AdminError):
    """The monitoring endpoint could not be reached, or answered with an error.

    ``url`` is the address asked; ``status`` the HTTP status (``None`` when nothing
    answered); ``body`` the start of the answer's text.
    """

    def __init__(self, message: str, url: str = "", status: int | None = None, body: str = ""):
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body


class SystemAccountRequiredError(AdminError):
    """The operation needs a connection in the server's system account."""


class ConnectionNotFoundError(AdminError):
    """No client connection has that id or name."""
