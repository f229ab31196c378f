"""Errors of the AMQP-semantics adapter.

They carry AMQP's reply codes (``reply_code``) so code ported from an AMQP client can
branch on them. Channel-level errors (:class:`ChannelError` and its subclasses) close
the channel, as a RabbitMQ broker does, and are reported to ``on_channel_exception``.
"""

from __future__ import annotations

from ..jetstream.errors import APIError
from ..protocol.errors import NatsWireError

#: AMQP 0-9-1 reply codes.
NOT_FOUND = 404
RESOURCE_LOCKED = 405
PRECONDITION_FAILED = 406
NOT_ALLOWED = 530
CHANNEL_ERROR = 504
RESOURCE_ERROR = 506
INTERNAL_ERROR = 541
#: Wire's cannon answers 503 when its channel pool is full (and the adapter when
#: JetStream is not available).
SERVICE_UNAVAILABLE = 503
#: JetStream error codes (``err_code``) of refusals for lack of room: too many consumers
#: or streams, storage or memory exhausted, insufficient resources.
RESOURCE_ERR_CODES = frozenset({10023, 10026, 10027, 10028, 10047})
#: JetStream error codes of refusals while the cluster cannot answer: no leader,
#: system unavailable, JetStream not enabled.
UNAVAILABLE_ERR_CODES = frozenset({10008, 10009, 10039, 10076})


class AmqpAdapterError(NatsWireError):
    """Root of the AMQP adapter's errors."""

    reply_code: int = 0

    @property
    def reply_text(self) -> str:
        """The AMQP reply text: the error's message."""
        return str(self)


class ChannelError(AmqpAdapterError):
    """An error that closes the channel (AMQP channel exception)."""


class PreconditionFailedError(ChannelError):
    """PRECONDITION_FAILED (406): redeclared with other arguments, unknown delivery tag, ..."""

    reply_code = PRECONDITION_FAILED


class UnknownDeliveryTagError(PreconditionFailedError):
    """A delivery tag that is not outstanding on this channel (406)."""


class AmqpNotFoundError(ChannelError):
    """NOT_FOUND (404): the exchange or queue does not exist."""

    reply_code = NOT_FOUND


class ExchangeNotFoundError(AmqpNotFoundError):
    """No exchange by that name (404)."""


class QueueNotFoundError(AmqpNotFoundError):
    """No queue by that name (404)."""


class ResourceLockedError(ChannelError):
    """RESOURCE_LOCKED (405): an exclusive queue owned by another channel."""

    reply_code = RESOURCE_LOCKED


class NotAllowedError(ChannelError):
    """NOT_ALLOWED (530): an operation the adapter cannot do (e.g. a bad name)."""

    reply_code = NOT_ALLOWED


class ChannelClosedError(AmqpAdapterError):
    """The channel (or its connection) is closed; open a new one."""

    reply_code = CHANNEL_ERROR


class TooManyChannelsError(AmqpAdapterError):
    """The connection's channel pool is full (``max_channels``); Wire answers 503."""

    reply_code = SERVICE_UNAVAILABLE


class AmqpConnectionClosedError(ChannelClosedError):
    """The adapter connection is closed."""


class ServerRefusedError(ChannelError):
    """The NATS server refused an operation (INTERNAL_ERROR, 541, unless a subclass says
    more). ``code`` and ``err_code`` are the JetStream error's; the original error is the
    ``__cause__``."""

    reply_code = INTERNAL_ERROR

    def __init__(self, text: str, code: int | None = None, err_code: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.err_code = err_code


class ResourceLimitError(ServerRefusedError):
    """RESOURCE_ERROR (506): a server limit was reached (consumers per stream, storage,
    memory, ...)."""

    reply_code = RESOURCE_ERROR


class ServerUnavailableError(ServerRefusedError):
    """JetStream cannot answer now (no leader, not enabled, no responders): 503, as Wire
    answers when it cannot serve."""

    reply_code = SERVICE_UNAVAILABLE


_RESOURCE_WORDS = ("limit", "maximum", "insufficient", "exceeded", "resources")
_NAMES = {RESOURCE_ERROR: "RESOURCE_ERROR", SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE"}


def server_refusal(exc: APIError) -> ServerRefusedError:
    """The adapter error for a JetStream refusal ``exc`` (raise it ``from exc``)."""
    description = exc.description or str(exc)
    lowered = description.lower()
    kind: type[ServerRefusedError] = ServerRefusedError
    if exc.err_code in RESOURCE_ERR_CODES or any(w in lowered for w in _RESOURCE_WORDS):
        kind = ResourceLimitError
    elif exc.err_code in UNAVAILABLE_ERR_CODES or exc.code == SERVICE_UNAVAILABLE:
        kind = ServerUnavailableError
    name = _NAMES.get(kind.reply_code, "INTERNAL_ERROR")
    detail = f" ({exc.err_code})" if exc.err_code is not None else ""
    return kind(f"{name} - {description}{detail}", exc.code, exc.err_code)


__all__ = [
    "AmqpAdapterError",
    "AmqpConnectionClosedError",
    "AmqpNotFoundError",
    "ChannelClosedError",
    "ChannelError",
    "ExchangeNotFoundError",
    "NotAllowedError",
    "PreconditionFailedError",
    "QueueNotFoundError",
    "ResourceLimitError",
    "ResourceLockedError",
    "ServerRefusedError",
    "ServerUnavailableError",
    "TooManyChannelsError",
    "UnknownDeliveryTagError",
]
