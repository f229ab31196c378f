"""Every error natswire raises, from every layer, under one import.

Names follow nats-py where nats-py has one (``TimeoutError``, ``NoRespondersError``,
``MaxPayloadError``, ``ConnectionClosedError``, ``NoServersError``,
``SlowConsumerError``, ``BadSubjectError``, ``AuthorizationError``, ...).

The protocol's errors load with this module; the other layers' errors load on first use
(PEP 562), so ``from natswire.errors import NatsWireError`` loads no client, JetStream,
adapter or admin module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .protocol.errors import (
    AuthenticationExpiredError,
    AuthenticationRevokedError,
    AuthenticationTimeoutError,
    AuthorizationError,
    BadClientProtocolError,
    BadSubjectError,
    ConnectionThrottledError,
    ControlLineExceededError,
    ControlLineTooLongError,
    InvalidSubjectError,
    LocalProtocolError,
    MaxConnectionsExceededError,
    MaxPayloadError,
    MaxPayloadViolationError,
    MaxSubscriptionsExceededError,
    NatsWireError,
    NoRespondersRequiresHeadersError,
    PayloadTooLargeError,
    PermissionsViolationError,
    ProtocolError,
    RemoteProtocolError,
    SecureConnectionRequiredError,
    ServerError,
    StaleConnectionError,
    UnknownOperationError,
    WrongPortError,
)

if TYPE_CHECKING:
    from .admin.errors import (
        AdminError,
        ConnectionNotFoundError,
        MonitoringError,
        SystemAccountRequiredError,
    )
    from .amqp.errors import (
        AmqpAdapterError,
        AmqpConnectionClosedError,
        AmqpNotFoundError,
        ChannelClosedError,
        ChannelError,
        ExchangeNotFoundError,
        NotAllowedError,
        PreconditionFailedError,
        QueueNotFoundError,
        ResourceLockedError,
        TooManyChannelsError,
        UnknownDeliveryTagError,
    )
    from .client.errors import (
        BadTimeoutError,
        ClientError,
        ConnectionClosedError,
        ConnectionDrainingError,
        FlushTimeoutError,
        NoRespondersError,
        NoServersError,
        OutboundBufferFullError,
        SlowConsumerError,
        TimeoutError,
    )
    from .jetstream.errors import (
        APIError,
        BadRequestError,
        ConsumerDeletedError,
        ConsumerExistsError,
        ConsumerNotFoundError,
        JetStreamError,
        JetStreamServerError,
        MsgAlreadyAckedError,
        NoHeartbeatError,
        NoMessageFoundError,
        NoStreamResponseError,
        NotFoundError,
        NotJSMessageError,
        ServiceUnavailableError,
        StreamNameInUseError,
        StreamNotFoundError,
        TooManyStalledMsgsError,
        WrongExpectedStreamError,
        WrongLastMsgIdError,
        WrongLastSequenceError,
    )
    from .micro.errors import (
        ConfigValidationError,
        MicroError,
        ServiceError,
        ServiceStoppedError,
    )

#: The layers whose errors load on first use: ``module -> names``.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    ".client.errors": (
        "BadTimeoutError",
        "ClientError",
        "ConnectionClosedError",
        "ConnectionDrainingError",
        "FlushTimeoutError",
        "NoRespondersError",
        "NoServersError",
        "OutboundBufferFullError",
        "SlowConsumerError",
        "TimeoutError",
    ),
    ".jetstream.errors": (
        "APIError",
        "BadRequestError",
        "ConsumerDeletedError",
        "ConsumerExistsError",
        "ConsumerNotFoundError",
        "JetStreamError",
        "JetStreamServerError",
        "MsgAlreadyAckedError",
        "NoHeartbeatError",
        "NoMessageFoundError",
        "NoStreamResponseError",
        "NotFoundError",
        "NotJSMessageError",
        "ServiceUnavailableError",
        "StreamNameInUseError",
        "StreamNotFoundError",
        "TooManyStalledMsgsError",
        "WrongExpectedStreamError",
        "WrongLastMsgIdError",
        "WrongLastSequenceError",
    ),
    ".micro.errors": (
        "ConfigValidationError",
        "MicroError",
        "ServiceError",
        "ServiceStoppedError",
    ),
    ".amqp.errors": (
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
    ),
    ".admin.errors": (
        "AdminError",
        "ConnectionNotFoundError",
        "MonitoringError",
        "SystemAccountRequiredError",
    ),
}
_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}

# JetStream consumers' errors under nats-py's names (push, ordered and pull consumers).
if TYPE_CHECKING:
    from .jetstream.errors import ConsumerSequenceMismatchError, FetchTimeoutError
_LAZY.update(
    dict.fromkeys(("ConsumerSequenceMismatchError", "FetchTimeoutError"), ".jetstream.errors")
)


# The Key-Value store's and Object Store's errors under nats-py's names.
if TYPE_CHECKING:
    from .jetstream.errors import (
        BadBucketError,
        BadObjectMetaError,
        BucketNotFoundError,
        DigestMismatchError,
        InvalidBucketNameError,
        InvalidKeyError,
        KeyDeletedError,
        KeyHistoryTooLargeError,
        KeyNotFoundError,
        KeyValueError,
        KeyValueLimitMarkerTTLNotSupportedError,
        KeyWrongLastSequenceError,
        LinkIsABucketError,
        NoKeysError,
        ObjectAlreadyExists,
        ObjectDeletedError,
        ObjectNotFoundError,
    )
_KV_AND_OBJECT_ERRORS = (
    "BadBucketError",
    "BadObjectMetaError",
    "BucketNotFoundError",
    "DigestMismatchError",
    "InvalidBucketNameError",
    "InvalidKeyError",
    "KeyDeletedError",
    "KeyHistoryTooLargeError",
    "KeyNotFoundError",
    "KeyValueError",
    "KeyValueLimitMarkerTTLNotSupportedError",
    "KeyWrongLastSequenceError",
    "LinkIsABucketError",
    "NoKeysError",
    "ObjectAlreadyExists",
    "ObjectDeletedError",
    "ObjectNotFoundError",
)
_LAZY.update(dict.fromkeys(_KV_AND_OBJECT_ERRORS, ".jetstream.errors"))


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name, __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


#: nats-py's name for a connection that went quiet.
StaleConnection = StaleConnectionError

__all__ = [
    "APIError",
    "AdminError",
    "AmqpAdapterError",
    "AmqpConnectionClosedError",
    "AmqpNotFoundError",
    "AuthenticationExpiredError",
    "AuthenticationRevokedError",
    "AuthenticationTimeoutError",
    "AuthorizationError",
    "BadClientProtocolError",
    "BadRequestError",
    "BadSubjectError",
    "BadTimeoutError",
    "ChannelClosedError",
    "ChannelError",
    "ClientError",
    "ConfigValidationError",
    "ConnectionClosedError",
    "ConnectionDrainingError",
    "ConnectionNotFoundError",
    "ConnectionThrottledError",
    "ConsumerDeletedError",
    "ConsumerExistsError",
    "ConsumerNotFoundError",
    "ControlLineExceededError",
    "ControlLineTooLongError",
    "ExchangeNotFoundError",
    "FlushTimeoutError",
    "InvalidSubjectError",
    "JetStreamError",
    "JetStreamServerError",
    "LocalProtocolError",
    "MaxConnectionsExceededError",
    "MaxPayloadError",
    "MaxPayloadViolationError",
    "MaxSubscriptionsExceededError",
    "MicroError",
    "MonitoringError",
    "MsgAlreadyAckedError",
    "NatsWireError",
    "NoHeartbeatError",
    "NoMessageFoundError",
    "NoRespondersError",
    "NoRespondersRequiresHeadersError",
    "NoServersError",
    "NoStreamResponseError",
    "NotAllowedError",
    "NotFoundError",
    "NotJSMessageError",
    "OutboundBufferFullError",
    "PayloadTooLargeError",
    "PermissionsViolationError",
    "PreconditionFailedError",
    "ProtocolError",
    "QueueNotFoundError",
    "RemoteProtocolError",
    "ResourceLockedError",
    "SecureConnectionRequiredError",
    "ServerError",
    "ServiceError",
    "ServiceStoppedError",
    "ServiceUnavailableError",
    "SlowConsumerError",
    "StaleConnection",
    "StaleConnectionError",
    "StreamNameInUseError",
    "StreamNotFoundError",
    "SystemAccountRequiredError",
    "TimeoutError",
    "TooManyChannelsError",
    "TooManyStalledMsgsError",
    "UnknownDeliveryTagError",
    "UnknownOperationError",
    "WrongExpectedStreamError",
    "WrongLastMsgIdError",
    "WrongLastSequenceError",
    "WrongPortError",
]
__all__ += ["ConsumerSequenceMismatchError", "FetchTimeoutError"]
__all__ += [
    "BadBucketError",
    "BadObjectMetaError",
    "BucketNotFoundError",
    "DigestMismatchError",
    "InvalidBucketNameError",
    "InvalidKeyError",
    "KeyDeletedError",
    "KeyHistoryTooLargeError",
    "KeyNotFoundError",
    "KeyValueError",
    "KeyValueLimitMarkerTTLNotSupportedError",
    "KeyWrongLastSequenceError",
    "LinkIsABucketError",
    "NoKeysError",
    "ObjectAlreadyExists",
    "ObjectDeletedError",
    "ObjectNotFoundError",
]
