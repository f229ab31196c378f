"""The exception hierarchy of the protocol layer.

``NatsWireError`` is the root of every error natswire raises.  ``ProtocolError`` covers
bytes that break the NATS grammar: ``LocalProtocolError`` when we were asked to send
them, ``RemoteProtocolError`` when the peer sent them.  ``ServerError`` and its
subclasses are built from a server's ``-ERR`` text by :func:`server_error_from_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class NatsWireError(Exception):
    """Root of every error raised by natswire."""


class ProtocolError(NatsWireError):
    """Bytes that do not follow the NATS protocol grammar."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""


class BadSubjectError(LocalProtocolError):
    """A subject, reply subject or queue name is not valid where it is used."""


class MaxPayloadError(LocalProtocolError):
    """A message (headers and payload) is larger than the server's ``max_payload``."""

    @classmethod
    def of(cls, size: int, max_payload: int) -> MaxPayloadError:
        """The error for a message of ``size`` bytes where ``max_payload`` is the limit."""
        return cls(f"message of {size} bytes exceeds the server's max_payload of {max_payload}")


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that cannot be parsed.

    ``frames`` holds the frames that the same ``receive_data`` call completed before
    the bad bytes, in order: they arrived intact and may still be handled.
    """

    frames: Sequence[Any] = ()


class ControlLineTooLongError(RemoteProtocolError):
    """A control line grew past the configured maximum without a line end."""


class PayloadTooLargeError(RemoteProtocolError):
    """A frame announced a payload larger than the configured maximum."""


class ServerError(NatsWireError):
    """An ``-ERR`` sent by the server.

    ``fatal`` says whether the server closes the connection after sending it.
    """

    fatal: ClassVar[bool] = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownOperationError(ServerError):
    """The server did not recognise a protocol operation we sent."""


class ControlLineExceededError(ServerError):
    """A control line we sent exceeded the server's ``max_control_line``."""


class MaxPayloadViolationError(ServerError):
    """A message we sent exceeded the server's ``max_payload``."""


class AuthorizationError(ServerError):
    """The server rejected our credentials (``Authorization Violation`` and kin)."""


class AuthenticationTimeoutError(AuthorizationError):
    """We did not authenticate within the server's auth timeout."""


class AuthenticationExpiredError(AuthorizationError):
    """The user or account credentials expired."""


class AuthenticationRevokedError(AuthorizationError):
    """The user credentials were revoked."""


class BadClientProtocolError(ServerError):
    """The server refused the ``protocol`` field of CONNECT."""


class NoRespondersRequiresHeadersError(ServerError):
    """``no_responders`` was requested without ``headers`` support."""


class MaxConnectionsExceededError(ServerError):
    """The server, or the account, has reached its connection limit."""


class SecureConnectionRequiredError(ServerError):
    """The server requires TLS and the handshake did not happen in time."""


class ConnectionThrottledError(ServerError):
    """The server is throttling new connections."""


class StaleConnectionError(ServerError):
    """The server saw no answer to its PINGs and closed the connection."""


class WrongPortError(ServerError):
    """We connected to a route, leaf node or gateway port instead of a client port."""


class InvalidSubjectError(ServerError):
    """The server refused a subscription subject. The connection stays open."""

    fatal = False


class PermissionsViolationError(ServerError):
    """A publish or subscribe was not permitted. The connection stays open."""

    fatal = False


class MaxSubscriptionsExceededError(ServerError):
    """The connection has reached its subscription limit. The connection stays open."""

    fatal = False


_SERVER_ERRORS_BY_PREFIX: tuple[tuple[str, type[ServerError]], ...] = (
    ("unknown protocol operation", UnknownOperationError),
    ("maximum control line exceeded", ControlLineExceededError),
    ("maximum payload violation", MaxPayloadViolationError),
    ("authorization violation", AuthorizationError),
    ("authentication timeout", AuthenticationTimeoutError),
    ("authorization timeout", AuthenticationTimeoutError),
    ("user authentication expired", AuthenticationExpiredError),
    ("account authentication expired", AuthenticationExpiredError),
    ("user authentication revoked", AuthenticationRevokedError),
    ("failed account registration", AuthorizationError),
    ("invalid client protocol", BadClientProtocolError),
    ("no responders requires headers support", NoRespondersRequiresHeadersError),
    ("maximum connections exceeded", MaxConnectionsExceededError),
    ("maximum account active connections exceeded", MaxConnectionsExceededError),
    ("secure connection - tls required", SecureConnectionRequiredError),
    ("connection throttling is active", ConnectionThrottledError),
    ("stale connection", StaleConnectionError),
    ("attempted to connect to", WrongPortError),
    ("invalid subject", InvalidSubjectError),
    ("invalid publish subject", InvalidSubjectError),
    ("permissions violation", PermissionsViolationError),
    ("maximum subscriptions exceeded", MaxSubscriptionsExceededError),
)


def server_error_from_text(message: str) -> ServerError:
    """Build the ``ServerError`` subclass that matches an ``-ERR`` text.

    Matching is by case-insensitive prefix, as nats.go does; unknown texts give a
    plain (fatal) ``ServerError``.
    """
    normalized = message.strip().strip("'\"").strip().lower()
    for prefix, error_class in _SERVER_ERRORS_BY_PREFIX:
        if normalized.startswith(prefix):
            return error_class(message)
    return ServerError(message)
