"""Errors raised by the JetStream layer.

:class:`APIError` carries the server's answer: ``code`` (HTTP-like status), ``err_code``
(JetStream's own error number, stable across versions) and ``description``.
:func:`api_error` picks the most specific subclass for an error object from the server's
JSON (``{"code": 404, "err_code": 10059, "description": "stream not found"}``).
"""

from __future__ import annotations

import json
from typing import Any

from ..client.errors import TimeoutError
from ..protocol.errors import NatsWireError


class JetStreamError(NatsWireError):
    """Root of the JetStream errors."""


class APIError(JetStreamError):
    """The JetStream API answered with an error."""

    def __init__(
        self,
        code: int | None = None,
        err_code: int | None = None,
        description: str = "",
    ) -> None:
        self.code = code
        self.err_code = err_code
        self.description = description
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.description or 'JetStream API error'} "
            f"(code={self.code}, err_code={self.err_code})"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, err_code={self.err_code!r}, "
            f"description={self.description!r})"
        )


class BadRequestError(APIError):
    """The request was rejected (code 400)."""


class NotFoundError(APIError):
    """What the request names does not exist (code 404)."""


class StreamNotFoundError(NotFoundError):
    """No stream by that name (err_code 10059)."""


class ConsumerNotFoundError(NotFoundError):
    """No consumer by that name (err_code 10014)."""


class NoMessageFoundError(NotFoundError):
    """No message with that sequence or subject in the stream (err_code 10037)."""


class StreamNameInUseError(BadRequestError):
    """A stream by that name exists with a different configuration (err_code 10058)."""


class ConsumerExistsError(BadRequestError):
    """A consumer by that name exists with a different configuration (10013, 10148)."""


class WrongLastSequenceError(BadRequestError):
    """``Nats-Expected-Last-Sequence`` or ``-Last-Subject-Sequence`` did not hold (10071)."""


class WrongLastMsgIdError(BadRequestError):
    """``Nats-Expected-Last-Msg-Id`` did not hold (err_code 10070)."""


class WrongExpectedStreamError(BadRequestError):
    """The subject is stored by another stream than ``Nats-Expected-Stream`` (10060)."""


class ServiceUnavailableError(APIError):
    """JetStream did not answer: not enabled, or no leader at the moment (code 503)."""


class NoStreamResponseError(ServiceUnavailableError):
    """A JetStream publish got no answer from any stream (no responders, status 503)."""


class JetStreamServerError(APIError):
    """The server failed while handling the request (code 500)."""


class ConsumerDeletedError(JetStreamError):
    """The consumer was deleted while a pull request was waiting (status 409)."""


class MsgAlreadyAckedError(JetStreamError):
    """The message was already acknowledged (ack, nak or term)."""


class NotJSMessageError(JetStreamError):
    """The message did not come from a JetStream consumer: it has no ack subject."""


class TooManyStalledMsgsError(JetStreamError):
    """``publish_async`` waited ``wait_stall`` seconds for room in the ack window."""


class NoHeartbeatError(TimeoutError, JetStreamError):
    """A pull request asked for idle heartbeats and they stopped coming."""


# ------------------------------------ consumers' errors under nats-py's names


class FetchTimeoutError(TimeoutError, JetStreamError):
    """A pull ``fetch`` got no message within its timeout (nats-py's name; it is a
    :class:`natswire.errors.TimeoutError`)."""


class ConsumerSequenceMismatchError(JetStreamError):
    """An ordered consumer found a gap in its consumer sequence and starts again at
    ``stream_resume_sequence`` (reported to the error callback; nats-py's name)."""

    def __init__(
        self,
        stream_resume_sequence: int | None = None,
        consumer_sequence: int | None = None,
        last_consumer_sequence: int | None = None,
    ) -> None:
        self.stream_resume_sequence = stream_resume_sequence
        self.consumer_sequence = consumer_sequence
        self.last_consumer_sequence = last_consumer_sequence
        super().__init__(
            f"sequence mismatch for consumer at sequence {consumer_sequence} (last "
            f"{last_consumer_sequence}): restarting from stream sequence "
            f"{stream_resume_sequence}"
        )


_BY_ERR_CODE: dict[int, type[APIError]] = {
    10059: StreamNotFoundError,
    10014: ConsumerNotFoundError,
    10149: ConsumerNotFoundError,
    10037: NoMessageFoundError,
    10058: StreamNameInUseError,
    10013: ConsumerExistsError,
    10148: ConsumerExistsError,
    10071: WrongLastSequenceError,
    10164: WrongLastSequenceError,
    10070: WrongLastMsgIdError,
    10060: WrongExpectedStreamError,
}

_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequestError,
    404: NotFoundError,
    500: JetStreamServerError,
    503: ServiceUnavailableError,
}


def api_error(error: Any) -> APIError:
    """The :class:`APIError` for the ``"error"`` object of a JetStream API response."""
    if not isinstance(error, dict):
        return APIError(description=f"malformed JetStream error: {error!r}")
    code = error.get("code")
    err_code = error.get("err_code")
    description = str(error.get("description") or "")
    cls = _BY_ERR_CODE.get(err_code) if isinstance(err_code, int) else None
    if cls is None:
        cls = _BY_CODE.get(code, APIError) if isinstance(code, int) else APIError
    return cls(
        code if isinstance(code, int) else None,
        err_code if isinstance(err_code, int) else None,
        description,
    )


__all__ = [
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
    "api_error",
]
__all__ += ["ConsumerSequenceMismatchError", "FetchTimeoutError"]


def decode_response(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object a JetStream API call answered with; raises the server's error."""
    try:
        resp = json.loads(data)
    except ValueError:
        raise JetStreamError(f"{what} answered with non-JSON: {data[:80]!r}") from None
    if not isinstance(resp, dict):
        raise JetStreamError(f"{what} answered with {resp!r}")
    if "error" in resp:
        raise api_error(resp["error"])
    return resp


# ------------------------ Key-Value store and Object Store errors (nats-py's names)


class InvalidBucketNameError(JetStreamError):
    """A bucket name with characters other than letters, digits, ``_`` and ``-``."""


class InvalidKeyError(JetStreamError):
    """A Key-Value key that is empty, starts or ends with a dot, or has other characters
    than letters, digits and ``-/_=.``."""


class BucketNotFoundError(NotFoundError):
    """No Key-Value or Object Store bucket by that name."""


class BadBucketError(APIError):
    """The stream behind the bucket is not a Key-Value or Object Store stream."""


class KeyValueError(APIError):
    """Root of the Key-Value store's errors."""


class KeyDeletedError(KeyValueError, NotFoundError):
    """The key's last revision is a delete or purge marker (``entry``, ``op``)."""

    def __init__(self, entry: Any = None, op: str | None = None) -> None:
        self.entry = entry
        self.op = op
        super().__init__(404, None, "key was deleted")


class KeyNotFoundError(KeyValueError, NotFoundError):
    """The key has no value: never written, deleted or purged."""

    def __init__(
        self, entry: Any = None, op: str | None = None, message: str | None = None
    ) -> None:
        self.entry = entry
        self.op = op
        self.message = message
        super().__init__(404, None, "key not found" + (f": {message}" if message else ""))


class KeyWrongLastSequenceError(KeyValueError, WrongLastSequenceError):
    """``create`` of a key that has a value, or ``update``/``delete`` with a revision that
    is not the key's last."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(400, 10071, description or "wrong last sequence")


class NoKeysError(KeyValueError):
    """``keys()`` or ``history()`` found nothing."""

    def __init__(self, description: str = "no keys found") -> None:
        super().__init__(None, None, description)


class KeyHistoryTooLargeError(KeyValueError):
    """A bucket's ``history`` over 64."""

    def __init__(self, description: str = "history limited to a max of 64") -> None:
        super().__init__(None, None, description)


class KeyValueLimitMarkerTTLNotSupportedError(JetStreamError):
    """``limit_marker_ttl`` on a server older than 2.11."""


class BadObjectMetaError(JetStreamError):
    """An object's stored metadata could not be read."""


class LinkIsABucketError(JetStreamError):
    """``get`` of a link that names a whole bucket."""


class DigestMismatchError(JetStreamError):
    """An object's chunks do not add up to its recorded SHA-256 digest."""


class ObjectNotFoundError(NotFoundError):
    """No object by that name."""

    def __init__(self, description: str = "object not found") -> None:
        super().__init__(404, None, description)


class ObjectDeletedError(NotFoundError):
    """The object was deleted."""

    def __init__(self, description: str = "object was deleted") -> None:
        super().__init__(404, None, description)


class ObjectAlreadyExists(JetStreamError):
    """An object by that name exists already."""


KV_ERRORS = (
    "BadBucketError",
    "BucketNotFoundError",
    "InvalidBucketNameError",
    "InvalidKeyError",
    "KeyDeletedError",
    "KeyHistoryTooLargeError",
    "KeyNotFoundError",
    "KeyValueError",
    "KeyValueLimitMarkerTTLNotSupportedError",
    "KeyWrongLastSequenceError",
    "NoKeysError",
)
OBJECT_STORE_ERRORS = (
    "BadObjectMetaError",
    "DigestMismatchError",
    "LinkIsABucketError",
    "ObjectAlreadyExists",
    "ObjectDeletedError",
    "ObjectNotFoundError",
)
__all__ += [*KV_ERRORS, *OBJECT_STORE_ERRORS]


# ---------------------------------------------------------------- nats-py's names
# What ``nats.js.errors`` offers beyond the above, so that ``from natswire.js.errors
# import ...`` (this module) catches what nats-py code caught.

#: ``nats.js.errors.Error``, the root of the JetStream errors.
Error = JetStreamError
#: ``nats.js.errors.ServerError`` (not the protocol's ``natswire.errors.ServerError``).
ServerError = JetStreamServerError
MsgAlreadyAckdError = MsgAlreadyAckedError


class ConsumerInvalidResetError(BadRequestError):
    """A consumer reset asked for a sequence its deliver policy rules out (10204)."""


_BY_ERR_CODE[10204] = ConsumerInvalidResetError


class InvalidObjectNameError(JetStreamError):
    """Not a valid object name."""


__all__ += [
    "ConsumerInvalidResetError",
    "Error",
    "InvalidObjectNameError",
    "MsgAlreadyAckdError",
    "ServerError",
]


# ------------------------------------------------------- atomic batch publish (ADR-50)


class BatchClosedError(JetStreamError):
    """The batch was committed or discarded: nothing more can be added to it."""


class EmptyBatchError(JetStreamError):
    """A batch with no message cannot be committed."""


class InvalidBatchAckError(JetStreamError):
    """The commit's ack names another batch or another number of messages."""


__all__ += ["BatchClosedError", "EmptyBatchError", "InvalidBatchAckError"]


# ------------------------------------------------------------- counters (ADR-49)


class CounterError(JetStreamError):
    """Root of the message counter errors."""


class CounterNotEnabledError(CounterError):
    """The stream is not a counter stream (``allow_msg_counter`` is off)."""


class DirectAccessRequiredError(CounterError):
    """A counter stream must allow Direct Get (``allow_direct``) to be read."""


class CounterNotFoundError(CounterError):
    """No stream by that name to read counters from."""


class NoCounterForSubjectError(CounterError):
    """Nothing was ever added to the counter on that subject."""


class InvalidCounterValueError(CounterError):
    """A counter message holds no valid value, or a value to add is not an integer."""


__all__ += [
    "CounterError",
    "CounterNotEnabledError",
    "CounterNotFoundError",
    "DirectAccessRequiredError",
    "InvalidCounterValueError",
    "NoCounterForSubjectError",
]
