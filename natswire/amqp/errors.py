"""Errors of the AMQP-semantics adapter.

They carry AMQP's reply codes (``reply_code``) so code ported from an AMQP client can
branch on them. Channel-level errors (:class:`ChannelError` and its subclasses) close
the channel, as a RabbitMQ broker does, and are reported to ``on_channel_exception``.
"""

from __future__ import annotations

from ..protocol.errors import NatsWireError

#: AMQP 0-9-1 reply codes.
NOT_FOUND = 404
RESOURCE_LOCKED = 405
PRECONDITION_FAILED = 406
NOT_ALLOWED = 530
CHANNEL_ERROR = 504
#: Wire's cannon answers 503 when its channel pool is full.
SERVICE_UNAVAILABLE = 503


class AmqpAdapterError(NatsWireError):
    """Root of the AMQP adapter's errors."""

    reply_code: int = 0


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
    "ResourceLockedError",
    "TooManyChannelsError",
    "UnknownDeliveryTagError",
]
