"""Encoders: one function per NATS operation, each returning the frame's bytes.

Client-side encoders validate what a caller may get wrong (subject syntax,
wildcards where they are not allowed, header names and values, payload size) and
raise :class:`LocalProtocolError` naming the problem. Subjects and other names
accept ``str`` or ``bytes``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, TypeAlias

from .errors import BadSubjectError, LocalProtocolError, MaxPayloadError
from .headers import HEADER_VERSION, HeadersLike, encode_headers

Subject: TypeAlias = "str | bytes"
Sid: TypeAlias = "int | str | bytes"
Payload: TypeAlias = "bytes | bytearray | memoryview"

_CRLF: Final = b"\r\n"
_SUBJECT = re.compile(rb"[^\x00-\x20\x7f.]+(?:\.[^\x00-\x20\x7f.]+)*")
_NAME = re.compile(rb"[^\x00-\x20\x7f]+")
_VALID_CACHE_ENTRIES: Final = 4096
# Subjects repeat; remember the validated encodings so a publish does not redo the work.
_publish_subjects: dict[Subject, bytes] = {}
_subscribe_subjects: dict[Subject, bytes] = {}


def _to_bytes(value: Subject, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def _shown(name: bytes) -> str:
    """A subject or name as text in an error message (``'a b'``, not ``b'a b'``)."""
    return repr(name.decode("utf-8", "backslashreplace"))


def _subject_problem(subject: bytes, what: str) -> str:
    if not subject:
        return f"{what} is empty"
    if _NAME.fullmatch(subject) is None:
        return f"{what} {_shown(subject)} holds whitespace or a control character"
    return f"{what} {_shown(subject)} has an empty token (leading, trailing or double '.')"


def publish_subject(subject: Subject, what: str = "subject") -> bytes:
    """Validate a subject to publish to and return it as bytes.

    A publish subject is one or more non-empty tokens separated by ``.``, without
    whitespace, control characters or the wildcard tokens ``*`` and ``>``. Subjects
    repeat, so the result is remembered.
    """
    cached = _publish_subjects.get(subject)
    if cached is not None:
        return cached
    encoded = reply_subject(subject, what)
    if len(_publish_subjects) >= _VALID_CACHE_ENTRIES:
        _publish_subjects.clear()
    _publish_subjects[subject] = encoded
    return encoded


def reply_subject(subject: Subject, what: str = "reply subject") -> bytes:
    """Validate a subject like :func:`publish_subject`, without remembering it: reply
    subjects are mostly unique inboxes."""
    encoded = _to_bytes(subject, what)
    if _SUBJECT.fullmatch(encoded) is None:
        raise BadSubjectError(_subject_problem(encoded, what))
    if b"*" in encoded or b">" in encoded:
        for token in encoded.split(b"."):
            if token in (b"*", b">"):
                raise BadSubjectError(
                    f"{what} {_shown(encoded)} holds the wildcard {token.decode()!r}, "
                    "which only subscriptions may use"
                )
    return encoded


def subscribe_subject(subject: Subject) -> bytes:
    """Validate a subject to subscribe to and return it as bytes.

    Like a publish subject, but ``*`` may stand for any one token and ``>`` for the
    rest of the subject, as its last token.
    """
    cached = _subscribe_subjects.get(subject)
    if cached is not None:
        return cached
    encoded = _to_bytes(subject, "subject")
    if _SUBJECT.fullmatch(encoded) is None:
        raise BadSubjectError(_subject_problem(encoded, "subject"))
    if b">" in encoded:
        tokens = encoded.split(b".")
        if b">" in tokens[:-1]:
            raise BadSubjectError(
                f"subject {_shown(encoded)}: the wildcard '>' may only be the last token"
            )
    if len(_subscribe_subjects) >= _VALID_CACHE_ENTRIES:
        _subscribe_subjects.clear()
    _subscribe_subjects[subject] = encoded
    return encoded


def _name(value: Subject, what: str, error: type[LocalProtocolError] = LocalProtocolError) -> bytes:
    encoded = _to_bytes(value, what)
    if _NAME.fullmatch(encoded) is None:
        raise error(f"{what} {_shown(encoded)} is empty or holds whitespace or a control character")
    return encoded


def _sid(sid: Sid) -> bytes:
    if isinstance(sid, int) and not isinstance(sid, bool):
        if sid < 0:
            raise LocalProtocolError(f"sid must not be negative, got {sid}")
        return str(sid).encode()
    return _name(sid, "sid")  # type: ignore[arg-type]


def _payload(payload: Payload, max_payload: int | None, extra: int = 0) -> int:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"payload must be bytes, bytearray or memoryview, not {type(payload).__name__}"
            + (" (encode str payloads first)" if isinstance(payload, str) else "")
        )
    size = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
    if max_payload is not None and size + extra > max_payload:
        raise MaxPayloadError.of(size + extra, max_payload)
    return size


def _raw_headers(headers: HeadersLike | bytes) -> bytes:
    if isinstance(headers, bytes):
        if not headers.startswith(HEADER_VERSION) or not headers.endswith(b"\r\n\r\n"):
            raise LocalProtocolError("raw headers must be a NATS/1.0 block ending in CRLF CRLF")
        return headers
    return encode_headers(headers)


def encode_pub(
    subject: Subject,
    payload: Payload,
    reply: Subject | None = None,
    *,
    max_payload: int | None = None,
) -> bytes:
    """``PUB <subject> [<reply>] <#bytes>`` with its payload."""
    subject_bytes = publish_subject(subject)
    size = _payload(payload, max_payload)
    if reply:
        head = b"PUB %b %b %d\r\n" % (subject_bytes, reply_subject(reply), size)
    else:
        head = b"PUB %b %d\r\n" % (subject_bytes, size)
    return b"".join((head, payload, _CRLF))


#: Payload size -> ``b"<size>\r\n"``, the end of a PUB line: the publish fast paths' cache
#: (see :func:`size_line`).
SIZE_LINES: dict[int, bytes] = {}


def size_line(size: int) -> bytes:
    """``b"<size>\r\n"``, remembered in :data:`SIZE_LINES` (up to 4096 sizes) for the
    next publish of that size."""
    line = b"%d\r\n" % size
    if len(SIZE_LINES) < _VALID_CACHE_ENTRIES:
        SIZE_LINES[size] = line
    return line


def pub_tail(payload: bytes) -> bytes:
    """What follows the subject in a ``PUB`` frame without a reply subject:
    `` <#bytes>\r\n<payload>\r\n``. Built once for a payload sent many times (a
    JetStream ack), so that framing such a message is one join."""
    return b" %d\r\n%b\r\n" % (len(payload), payload)


def encode_pub_parts(
    subject: Subject,
    payload: Payload,
    reply: Subject | None = None,
    *,
    max_payload: int | None = None,
) -> tuple[bytes, Payload, bytes]:
    """Like :func:`encode_pub`, as buffers to write in turn, so a large payload is
    not copied just to frame it."""
    subject_bytes = publish_subject(subject)
    size = _payload(payload, max_payload)
    if reply:
        head = b"PUB %b %b %d\r\n" % (
            subject_bytes,
            reply_subject(reply),
            size,
        )
    else:
        head = b"PUB %b %d\r\n" % (subject_bytes, size)
    return head, payload, _CRLF


def encode_hpub(
    subject: Subject,
    headers: HeadersLike | bytes,
    payload: Payload,
    reply: Subject | None = None,
    *,
    max_payload: int | None = None,
) -> bytes:
    """``HPUB <subject> [<reply>] <#header bytes> <#total bytes>`` with headers and payload.

    ``headers`` is a :class:`Headers`, a mapping, pairs, or an encoded ``NATS/1.0`` block.
    """
    subject_bytes = publish_subject(subject)
    raw = _raw_headers(headers)
    size = _payload(payload, max_payload, len(raw))
    if reply:
        head = b"HPUB %b %b %d %d\r\n" % (
            subject_bytes,
            reply_subject(reply),
            len(raw),
            len(raw) + size,
        )
    else:
        head = b"HPUB %b %d %d\r\n" % (subject_bytes, len(raw), len(raw) + size)
    return b"".join((head, raw, payload, _CRLF))


def encode_sub(subject: Subject, sid: Sid, queue: Subject | None = None) -> bytes:
    """``SUB <subject> [<queue>] <sid>``."""
    subject_bytes = subscribe_subject(subject)
    if queue:
        return b"SUB %b %b %b\r\n" % (
            subject_bytes,
            _name(queue, "queue group", BadSubjectError),
            _sid(sid),
        )
    return b"SUB %b %b\r\n" % (subject_bytes, _sid(sid))


def encode_unsub(sid: Sid, max_msgs: int | None = None) -> bytes:
    """``UNSUB <sid> [<max_msgs>]``."""
    if max_msgs is None:
        return b"UNSUB %b\r\n" % _sid(sid)
    if not isinstance(max_msgs, int) or isinstance(max_msgs, bool) or max_msgs < 0:
        raise LocalProtocolError(f"max_msgs must be a non-negative int, got {max_msgs!r}")
    return b"UNSUB %b %d\r\n" % (_sid(sid), max_msgs)


def _json_line(op: bytes, fields: dict[str, Any]) -> bytes:
    if not isinstance(fields, dict):
        raise TypeError(f"{op.decode()} fields must be a dict, not {type(fields).__name__}")
    return op + b" " + json.dumps(fields, separators=(",", ":")).encode() + _CRLF


def encode_connect(fields: dict[str, Any]) -> bytes:
    """``CONNECT {json}``."""
    return _json_line(b"CONNECT", fields)


PING_BYTES: Final = b"PING\r\n"
PONG_BYTES: Final = b"PONG\r\n"
OK_BYTES: Final = b"+OK\r\n"


def encode_ping() -> bytes:
    """``PING``."""
    return PING_BYTES


def encode_pong() -> bytes:
    """``PONG``."""
    return PONG_BYTES


# Server side, for the in-memory fake server used in tests.


def encode_info(fields: dict[str, Any]) -> bytes:
    """``INFO {json}``."""
    return _json_line(b"INFO", fields)


def encode_msg(subject: Subject, sid: Sid, payload: Payload, reply: Subject | None = None) -> bytes:
    """``MSG <subject> <sid> [<reply>] <#bytes>`` with its payload."""
    subject_bytes = publish_subject(subject)
    size = _payload(payload, None)
    if reply:
        head = b"MSG %b %b %b %d\r\n" % (
            subject_bytes,
            _sid(sid),
            reply_subject(reply),
            size,
        )
    else:
        head = b"MSG %b %b %d\r\n" % (subject_bytes, _sid(sid), size)
    return b"".join((head, payload, _CRLF))


def encode_hmsg(
    subject: Subject,
    sid: Sid,
    headers: HeadersLike | bytes,
    payload: Payload,
    reply: Subject | None = None,
) -> bytes:
    """``HMSG <subject> <sid> [<reply>] <#header bytes> <#total bytes>`` with the rest."""
    subject_bytes = publish_subject(subject)
    raw = _raw_headers(headers)
    size = _payload(payload, None)
    if reply:
        head = b"HMSG %b %b %b %d %d\r\n" % (
            subject_bytes,
            _sid(sid),
            reply_subject(reply),
            len(raw),
            len(raw) + size,
        )
    else:
        head = b"HMSG %b %b %d %d\r\n" % (subject_bytes, _sid(sid), len(raw), len(raw) + size)
    return b"".join((head, raw, payload, _CRLF))


def encode_ok() -> bytes:
    """``+OK``."""
    return OK_BYTES


def encode_err(message: str) -> bytes:
    """``-ERR '<message>'``."""
    if "\r" in message or "\n" in message:
        raise LocalProtocolError(f"error message {message!r} holds CR or LF")
    return b"-ERR '%b'\r\n" % message.encode()
