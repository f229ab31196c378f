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
        ResourceLimitError,
        ResourceLockedError,
        ServerRefusedError,
        ServerUnavailableError,
        TooManyChannelsError,
        UnknownDeliveryTagError,
    )
    from .client.errors import (
        BadSubscriptionError,
        BadTimeoutError,
        ClientError,
        ConnectionClosedError,
        ConnectionDrainingError,
        ConnectionReconnectingError,
        ConnectTimeoutError,
        DrainTimeoutError,
        ErrBadSubscription,
        ErrBadTimeout,
        ErrConnectionClosed,
        ErrConnectionDraining,
        ErrConnectionReconnecting,
        ErrDrainTimeout,
        ErrInvalidCallbackType,
        ErrInvalidUserCredentials,
        ErrNoServers,
        ErrSecureConnFailed,
        ErrSlowConsumer,
        ErrTimeout,
        FlushTimeoutError,
        InvalidCallbackTypeError,
        InvalidUserCredentialsError,
        NoRespondersError,
        NoServersError,
        OutboundBufferFullError,
        OutboundBufferLimitError,
        SecureConnectionFailedError,
        SecureConnFailedError,
        ServerNotInPoolError,
        SlowConsumerError,
        TimeoutError,
    )
    from .jetstream.errors import (
        APIError,
        BadBucketError,
        BadObjectMetaError,
        BadRequestError,
        BatchClosedError,
        BucketNotFoundError,
        ConsumerDeletedError,
        ConsumerExistsError,
        ConsumerInvalidResetError,
        ConsumerNotFoundError,
        CounterError,
        CounterNotEnabledError,
        CounterNotFoundError,
        DigestMismatchError,
        DirectAccessRequiredError,
        EmptyBatchError,
        InvalidBatchAckError,
        InvalidBucketNameError,
        InvalidCounterValueError,
        InvalidKeyError,
        InvalidObjectNameError,
        JetStreamError,
        JetStreamServerError,
        KeyDeletedError,
        KeyHistoryTooLargeError,
        KeyNotFoundError,
        KeyValueError,
        KeyValueLimitMarkerTTLNotSupportedError,
        KeyWrongLastSequenceError,
        LinkIsABucketError,
        MsgAlreadyAckdError,
        MsgAlreadyAckedError,
        NoCounterForSubjectError,
        NoHeartbeatError,
        NoKeysError,
        NoMessageFoundError,
        NoStreamResponseError,
        NotFoundError,
        NotJSMessageError,
        ObjectAlreadyExists,
        ObjectDeletedError,
        ObjectNotFoundError,
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
        "BatchClosedError",
        "ConsumerDeletedError",
        "ConsumerExistsError",
        "ConsumerNotFoundError",
        "CounterError",
        "CounterNotEnabledError",
        "CounterNotFoundError",
        "DirectAccessRequiredError",
        "EmptyBatchError",
        "InvalidBatchAckError",
        "InvalidCounterValueError",
        "JetStreamError",
        "JetStreamServerError",
        "MsgAlreadyAckedError",
        "NoCounterForSubjectError",
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
        "ResourceLimitError",
        "ResourceLockedError",
        "ServerRefusedError",
        "ServerUnavailableError",
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
# ------------------------------------------------------------------ nats-py's names
# Every exception name of nats.errors, nats.js.errors and the old nats.aio.errors, so
# that what a nats-py program catches catches natswire's errors. Where natswire's name
# differs the name is an alias of natswire's class (``MsgAlreadyAckdError`` is
# ``MsgAlreadyAckedError``); docs/nats-py-differences.md lists the mapping.

_NATS_PY_LAZY: dict[str, tuple[str, ...]] = {
    ".client.errors": (
        "BadSubscriptionError",
        "ConnectTimeoutError",
        "ConnectionReconnectingError",
        "DrainTimeoutError",
        "ErrBadSubscription",
        "ErrBadTimeout",
        "ErrConnectionClosed",
        "ErrConnectionDraining",
        "ErrConnectionReconnecting",
        "ErrDrainTimeout",
        "ErrInvalidCallbackType",
        "ErrInvalidUserCredentials",
        "ErrNoServers",
        "ErrSecureConnFailed",
        "ErrSlowConsumer",
        "ErrTimeout",
        "InvalidCallbackTypeError",
        "InvalidUserCredentialsError",
        "OutboundBufferLimitError",
        "SecureConnFailedError",
        "SecureConnectionFailedError",
        "ServerNotInPoolError",
    ),
    ".jetstream.errors": (
        "BadBucketError",
        "BadObjectMetaError",
        "BucketNotFoundError",
        "ConsumerInvalidResetError",
        "DigestMismatchError",
        "InvalidBucketNameError",
        "InvalidKeyError",
        "InvalidObjectNameError",
        "KeyDeletedError",
        "KeyHistoryTooLargeError",
        "KeyNotFoundError",
        "KeyValueError",
        "KeyValueLimitMarkerTTLNotSupportedError",
        "KeyWrongLastSequenceError",
        "LinkIsABucketError",
        "MsgAlreadyAckdError",
        "NoKeysError",
        "ObjectAlreadyExists",
        "ObjectDeletedError",
        "ObjectNotFoundError",
    ),
}
for _module, _names in _NATS_PY_LAZY.items():
    _LAZY_MODULES[_module] = (*_LAZY_MODULES[_module], *_names)

_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}

# JetStream consumers' errors under nats-py's names (push, ordered and pull consumers).
if TYPE_CHECKING:
    from .jetstream.errors import ConsumerSequenceMismatchError, FetchTimeoutError
_LAZY.update(
    dict.fromkeys(("ConsumerSequenceMismatchError", "FetchTimeoutError"), ".jetstream.errors")
)


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


#: nats-py's names for protocol-level errors (the lazily loaded ones are above).
StaleConnection = StaleConnectionError
#: ``nats.errors.Error`` (and the old ``nats.aio.errors.NatsError``): the root.
Error = NatsWireError
NatsError = NatsWireError
#: nats-py raises it for a malformed header; natswire's header checks raise this.
BadHeaderError = LocalProtocolError
#: nats-py raises it for INFO or JSON it cannot parse.
JsonParseError = ProtocolError
#: A connection that ended without a goodbye: natswire reports a stale connection.
UnexpectedEOF = StaleConnectionError
SecureConnRequiredError = SecureConnectionRequiredError
#: nats-py raises it when the client wants TLS and the server offers none; so does
#: natswire, as a server that requires a secure connection.
SecureConnWantedError = SecureConnectionRequiredError
ErrBadSubject = BadSubjectError
ErrMaxPayload = MaxPayloadError
ErrStaleConnection = StaleConnectionError
ErrJsonParse = JsonParseError
ErrSecureConnRequired = SecureConnRequiredError
ErrSecureConnWanted = SecureConnWantedError
ErrAuthorization = AuthorizationError

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
    "BatchClosedError",
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
    "CounterError",
    "CounterNotEnabledError",
    "CounterNotFoundError",
    "DirectAccessRequiredError",
    "EmptyBatchError",
    "ExchangeNotFoundError",
    "FlushTimeoutError",
    "InvalidBatchAckError",
    "InvalidCounterValueError",
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
    "NoCounterForSubjectError",
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
    "ResourceLimitError",
    "ResourceLockedError",
    "SecureConnectionRequiredError",
    "ServerError",
    "ServerRefusedError",
    "ServerUnavailableError",
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

# nats-py's names (above).
__all__ += [
    "BadBucketError",
    "BadHeaderError",
    "BadObjectMetaError",
    "BadSubscriptionError",
    "BucketNotFoundError",
    "ConnectTimeoutError",
    "ConnectionReconnectingError",
    "ConsumerInvalidResetError",
    "DigestMismatchError",
    "DrainTimeoutError",
    "ErrAuthorization",
    "ErrBadSubject",
    "ErrBadSubscription",
    "ErrBadTimeout",
    "ErrConnectionClosed",
    "ErrConnectionDraining",
    "ErrConnectionReconnecting",
    "ErrDrainTimeout",
    "ErrInvalidCallbackType",
    "ErrInvalidUserCredentials",
    "ErrJsonParse",
    "ErrMaxPayload",
    "ErrNoServers",
    "ErrSecureConnFailed",
    "ErrSecureConnRequired",
    "ErrSecureConnWanted",
    "ErrSlowConsumer",
    "ErrStaleConnection",
    "ErrTimeout",
    "Error",
    "InvalidBucketNameError",
    "InvalidCallbackTypeError",
    "InvalidKeyError",
    "InvalidObjectNameError",
    "InvalidUserCredentialsError",
    "JsonParseError",
    "KeyDeletedError",
    "KeyHistoryTooLargeError",
    "KeyNotFoundError",
    "KeyValueError",
    "KeyValueLimitMarkerTTLNotSupportedError",
    "KeyWrongLastSequenceError",
    "LinkIsABucketError",
    "MsgAlreadyAckdError",
    "NatsError",
    "NoKeysError",
    "ObjectAlreadyExists",
    "ObjectDeletedError",
    "ObjectNotFoundError",
    "OutboundBufferLimitError",
    "SecureConnFailedError",
    "SecureConnRequiredError",
    "SecureConnWantedError",
    "SecureConnectionFailedError",
    "ServerNotInPoolError",
    "UnexpectedEOF",
]
